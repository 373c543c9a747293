package recstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/recstore/s3fake"
)

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// conformance runs the behaviour every Store must have.
func conformance(t *testing.T, s recstore.Store) {
	ctx := t.Context()
	data := payload(100_000)
	key := "ACone/re01.mp3"

	if _, err := s.Open(ctx, key); !errors.Is(err, recstore.ErrNotFound) {
		t.Fatalf("open of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, recstore.ErrNotFound) {
		t.Fatalf("stat of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "audio/mpeg"); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, key)
	if err != nil || info.Size != int64(len(data)) || info.ModTime.IsZero() {
		t.Fatalf("stat = %+v, %v", info, err)
	}
	o, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data) || o.Info().Size != int64(len(data)) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(data))
	}
	// Seek anywhere, read from there.
	for _, at := range []int64{0, 1, 65_536, int64(len(data)) - 10} {
		if n, err := o.Seek(at, io.SeekStart); err != nil || n != at {
			t.Fatalf("seek %d = %d, %v", at, n, err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(o, buf); err != nil || !bytes.Equal(buf, data[at:at+10]) {
			t.Fatalf("read at %d: %v", at, err)
		}
	}
	if end, err := o.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Fatalf("seek end = %d, %v", end, err)
	}
	if n, err := o.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read at the end = %d, %v; want EOF", n, err)
	}
	_ = o.Close()

	// Ranges and HEAD through http.ServeContent, as downloads serve them.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := s.Open(r.Context(), key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer o.Close()
		http.ServeContent(w, r, "", o.Info().ModTime, o)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, err = http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}

	// Replace, with a size the store is not told.
	short := []byte("a shorter object")
	if err := s.Put(ctx, key, io.MultiReader(bytes.NewReader(short)), -1, "audio/mpeg"); err != nil {
		t.Fatal(err)
	}
	o, err = s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(o)
	_ = o.Close()
	if !bytes.Equal(got, short) {
		t.Fatalf("after replace: %q", got)
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, recstore.ErrNotFound) {
		t.Fatalf("open after delete: %v", err)
	}
	for _, bad := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a\\b", "dir/", "a/./b", "x\x00y"} {
		if err := s.Put(ctx, bad, strings.NewReader("x"), 1, ""); err == nil {
			t.Errorf("put %q: no error", bad)
		}
	}
}

func TestDisk(t *testing.T) {
	dir := t.TempDir()
	s, err := recstore.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s)
	if s.Remote() || s.Location() != "disk:"+dir {
		t.Fatalf("location %q remote %v", s.Location(), s.Remote())
	}
	// A put that fails part-way leaves nothing behind.
	err = s.Put(t.Context(), "a/b.wav", io.LimitReader(strings.NewReader("abc"), 2), 3, "")
	if err == nil {
		t.Fatal("short put succeeded")
	}
	if _, err := s.Stat(t.Context(), "a/b.wav"); !errors.Is(err, recstore.ErrNotFound) {
		t.Fatalf("after a failed put: %v", err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "a"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// Symbolic links never open.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(dir, "link.wav")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(t.Context(), "link.wav"); err == nil {
		t.Fatal("opened a symbolic link")
	}
}

func TestS3(t *testing.T) {
	fake := s3fake.New()
	defer fake.Close()
	s, err := recstore.NewS3(recstore.S3Config{Endpoint: fake.Endpoint(), Bucket: "calls", Prefix: "/rec/",
		AccessKey: "AKIDEXAMPLE", SecretKey: "secret", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Remote() || s.Location() != "s3://calls/rec" {
		t.Fatalf("location %q remote %v", s.Location(), s.Remote())
	}
	conformance(t, s)
	// The prefix is where objects went.
	if err := s.Put(t.Context(), "AC1/re1.mp3", strings.NewReader("mp3"), 3, "audio/mpeg"); err != nil {
		t.Fatal(err)
	}
	o, ok := fake.Get("calls", "rec/AC1/re1.mp3")
	if !ok || string(o.Data) != "mp3" || o.ContentType != "audio/mpeg" {
		t.Fatalf("object %+v %v; have %v", o, ok, fake.Keys())
	}
}

// A range read costs one HEAD and one ranged GET.
func TestS3RangeIsOneRequest(t *testing.T) {
	fake := s3fake.New()
	defer fake.Close()
	s, err := recstore.NewS3(recstore.S3Config{Endpoint: "http://" + fake.Endpoint(), Bucket: "bkt"})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(50_000)
	if err := s.Put(t.Context(), "k.wav", bytes.NewReader(data), int64(len(data)), "audio/wav"); err != nil {
		t.Fatal(err)
	}
	gets, heads := fake.Requests(http.MethodGet), fake.Requests(http.MethodHead)
	o, err := s.Open(t.Context(), "k.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Seek(40_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data[40_000:]) {
		t.Fatalf("ranged read: %d bytes, %v", len(got), err)
	}
	if g, h := fake.Requests(http.MethodGet)-gets, fake.Requests(http.MethodHead)-heads; g != 1 || h != 1 {
		t.Fatalf("%d GETs and %d HEADs, want 1 and 1", g, h)
	}
}

func TestOpenConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec, loc string
	}{
		{"", "disk:" + dir},
		{"disk", "disk:" + dir},
		{"disk:" + dir + "/other", "disk:" + dir + "/other"},
		{"s3://bucket", "s3://bucket"},
		{"s3://bucket/a/b/", "s3://bucket/a/b"},
	} {
		s, err := recstore.Open(recstore.Config{Spec: tc.spec, DiskRoot: dir, S3: recstore.S3Config{Endpoint: "127.0.0.1:9", Insecure: true}})
		if err != nil || s.Location() != tc.loc {
			t.Errorf("%q: %v, %v; want %s", tc.spec, s, err, tc.loc)
		}
	}
	for _, bad := range []string{"s3://", "gs://bucket", "ftp://x"} {
		if _, err := recstore.Open(recstore.Config{Spec: bad, DiskRoot: dir}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := recstore.NewS3(recstore.S3Config{Bucket: "b", Endpoint: "ftp://host"}); err == nil {
		t.Error("ftp endpoint: no error")
	}
}

var _ = context.Background

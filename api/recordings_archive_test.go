package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/recstore/s3fake"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// archive marks rec archived at key of blobs, as the archiver does.
func (e *mgEnv) archive(rec *store.Recording, blobs recstore.Store, key, format string, size int64) {
	e.t.Helper()
	ctx := context.Background()
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	// The call is over; the recording is claimed and archived.
	_, err := e.db.Calls().Finish(ctx, rec.CallSID, store.CallFinal{Status: store.Completed, Released: true})
	must(err)
	must(e.db.Gorm().Model(&store.Recording{}).Where("id = ?", rec.ID).Update("archive_status", store.ArchivePending).Error)
	claimed, err := e.db.Recordings().ClaimArchive(ctx, store.ArchiveClaim{Claimer: "t", Now: time.Now(), Lease: time.Minute, Limit: 100})
	must(err)
	if len(claimed) == 0 {
		e.t.Fatal("nothing claimed")
	}
	must(e.db.Recordings().FinishArchive(ctx, rec.ID, "t", store.Archived{Format: format, Storage: blobs.Location(), StorageKey: key, Size: size}))
}

func TestRecordingDownloadArchived(t *testing.T) {
	fake := s3fake.New()
	defer fake.Close()
	blobs, err := recstore.NewS3(recstore.S3Config{Endpoint: fake.Endpoint(), Bucket: "recs", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newMgEnv(t, func(o *api.Options) { o.Recordings = blobs })
	wav := filepath.Join(t.TempDir(), "call.wav")
	if err := os.WriteFile(wav, []byte("RIFF....WAVE"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := e.seedRecording("acme", e.seedCall("acme"), wav, "wav")
	path := "/v1/Accounts/acme/Recordings/" + rec.ID

	// Not archived yet: the WAV.
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: path})
	if res.Header.Get("Content-Type") != "audio/wav" || string(res.Raw) != "RIFF....WAVE" {
		t.Fatalf("before archiving: %q %q", res.Header.Get("Content-Type"), res.Raw)
	}

	mp3 := bytes.Repeat([]byte("\xff\xf3\x14\xc4mp3 frame data "), 100)
	key := "acme/" + rec.ID + ".mp3"
	if err := blobs.Put(context.Background(), key, bytes.NewReader(mp3), int64(len(mp3)), "audio/mpeg"); err != nil {
		t.Fatal(err)
	}
	e.archive(rec, blobs, key, "mp3", int64(len(mp3)))
	if err := os.Remove(wav); err != nil {
		t.Fatal(err)
	}

	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: path})
	if res.Header.Get("Content-Type") != "audio/mpeg" || !bytes.Equal(res.Raw, mp3) {
		t.Fatalf("archived: %q, %d bytes", res.Header.Get("Content-Type"), len(res.Raw))
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `inline; filename="`+rec.ID+`.mp3"` {
		t.Fatalf("Content-Disposition %q", cd)
	}
	res = e.must(http.StatusPartialContent, mgReq{Method: "GET", Path: path, Header: http.Header{"Range": {"bytes=10-29"}}})
	if !bytes.Equal(res.Raw, mp3[10:30]) || res.Header.Get("Content-Range") != "bytes 10-29/1900" {
		t.Fatalf("range: %q %q", res.Header.Get("Content-Range"), res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "HEAD", Path: path})
	if res.Header.Get("Content-Length") != "1900" || len(res.Raw) != 0 {
		t.Fatalf("HEAD: %v %d", res.Header, len(res.Raw))
	}
	// A pre-signed URL opens the archived object too.
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: mgPresign(path, time.Now().Add(time.Hour)), NoAuth: true})
	if !bytes.Equal(res.Raw, mp3) {
		t.Fatalf("pre-signed: %d bytes", len(res.Raw))
	}

	// The object gone from the store: 404, not 500.
	if err := blobs.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusNotFound, mgReq{Method: "GET", Path: path})
}

// A download that read the row just before the archiver moved the file
// finds it in the store.
func TestRecordingDownloadRacesTheArchiver(t *testing.T) {
	dir := t.TempDir()
	blobs, err := recstore.NewDisk(filepath.Join(dir, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	e := newMgEnv(t, func(o *api.Options) { o.Recordings = blobs })
	// The row names a WAV that is already gone, but is archived.
	rec := e.seedRecording("acme", e.seedCall("acme"), filepath.Join(dir, "gone.wav"), "wav")
	if err := blobs.Put(context.Background(), "acme/x.mp3", bytes.NewReader([]byte("mp3!")), 4, ""); err != nil {
		t.Fatal(err)
	}
	e.archive(rec, blobs, "acme/x.mp3", "mp3", 4)
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + rec.ID})
	if string(res.Raw) != "mp3!" || res.Header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("%q %q", res.Header.Get("Content-Type"), res.Raw)
	}
}

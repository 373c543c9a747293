package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/recarchive"
	"github.com/switchyard/switchyard/orchestrator/recstore/s3fake"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// archived collects the recordings a server archived, by CallSid.
type archived chan store.Recording

func (a archived) wait(t *testing.T, callSID string) store.Recording {
	t.Helper()
	for {
		select {
		case r := <-a:
			if r.CallSID == callSID {
				return r
			}
		case <-time.After(30 * time.Second): // a bound on a hang
			t.Fatalf("call %s: no recording archived in 30s", callSID)
		}
	}
}

// recordedCall places a recorded click-to-call with RecordingFormat
// format, and returns it once its recording is archived.
func recordedCall(t *testing.T, s *server, done archived, format string) (v1Call, store.Recording) {
	t.Helper()
	form := url.Values{"From": {"+15550100001"}, "To": {"+15550100403"}, "CallerId": {demoPhone}, "Record": {"true"}}
	if format != "" {
		form.Set("RecordingFormat", format)
	}
	c := s.connect(form)
	rec := done.wait(t, c.Sid)
	s.waitEnded(c.Sid)
	return s.details(c.Sid), rec
}

// checkMP3 downloads a call's recording and checks it is an MP3 of about
// the call's length, with working ranges and HEAD.
func checkMP3(t *testing.T, s *server, c v1Call, rec store.Recording, kbps int) {
	t.Helper()
	if c.RecordingUrl == nil || !strings.HasSuffix(*c.RecordingUrl, "/Recordings/"+rec.ID) {
		t.Fatalf("RecordingUrl %v, archived %s", c.RecordingUrl, rec.ID)
	}
	path := strings.TrimPrefix(*c.RecordingUrl, s.base)
	code, body, h := s.do(http.MethodGet, path, nil)
	if code != http.StatusOK || h.Get("Content-Type") != "audio/mpeg" || !strings.Contains(h.Get("Content-Disposition"), rec.ID+".mp3") {
		t.Fatalf("download: %d %v", code, h)
	}
	if int64(len(body)) != rec.Size {
		t.Fatalf("downloaded %d bytes, archived %d", len(body), rec.Size)
	}
	info, err := recarchive.ScanMP3(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not a valid MP3: %v", err)
	}
	callSecs, _ := strconv.Atoi(*c.Duration)
	// The recording runs from the bridge's start to the hang-up: at least
	// the conversation, at most the whole call (plus a frame).
	if info.Rate != 8000 || info.Bitrate != kbps || info.Duration < time.Duration(c.Details.ConversationDuration-1)*time.Second ||
		info.Duration > time.Duration(callSecs+2)*time.Second || info.Duration < time.Second {
		t.Fatalf("mp3 %+v for a call of %ss talking %ds", info, *c.Duration, c.Details.ConversationDuration)
	}
	if code, _, _ := s.doAs("", "", http.MethodGet, path, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous download: %d", code)
	}
	code, part, h := s.doAs(demo.APIKey, demo.APIToken, http.MethodGet, path, nil, http.Header{"Range": {"bytes=100-199"}})
	if code != http.StatusPartialContent || !bytes.Equal(part, body[100:200]) || h.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("range: %d %d bytes %v", code, len(part), h)
	}
	code, part, h = s.do(http.MethodHead, path, nil)
	if code != http.StatusOK || len(part) != 0 || h.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("HEAD: %d %v", code, h)
	}
}

func TestServeRecordingMP3(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		done := make(archived, 16)
		s := startServe(t, dsn(t), func(c *Config) { c.recordingArchived = func(r store.Recording) { done <- r } })

		c, rec := recordedCall(t, s, done, "mp3")
		if rec.Format != "mp3" || rec.StorageKey != "demo/"+rec.ID+".mp3" || !strings.HasPrefix(rec.Storage, "disk:") {
			t.Fatalf("archived %+v", rec)
		}
		checkMP3(t, s, c, rec, 16)
		if _, err := os.Stat(rec.Path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the WAV %s is still there once archived as MP3: %v", rec.Path, err)
		}

		hq, hqRec := recordedCall(t, s, done, "mp3-hq")
		checkMP3(t, s, hq, hqRec, 32)

		// Without RecordingFormat the server's default (wav) stays where
		// the media node wrote it.
		w, wRec := recordedCall(t, s, done, "")
		if wRec.Format != "wav" || wRec.StorageKey != "" {
			t.Fatalf("archived %+v", wRec)
		}
		code, body, h := s.do(http.MethodGet, strings.TrimPrefix(*w.RecordingUrl, s.base), nil)
		if code != http.StatusOK || h.Get("Content-Type") != "audio/wav" || !bytes.HasPrefix(body, []byte("RIFF")) {
			t.Fatalf("wav download: %d %v", code, h)
		}
	})
}

func TestServeRecordingS3(t *testing.T) {
	t.Parallel()
	fake := s3fake.New()
	defer fake.Close()
	done := make(archived, 16)
	s := startServe(t, storetest.SQLiteDSN(t), func(c *Config) {
		c.recordingArchived = func(r store.Recording) { done <- r }
		c.RecordingStore = "s3://calls/switchyard"
		c.S3Endpoint, c.S3AccessKey, c.S3SecretKey, c.S3Insecure = fake.Endpoint(), "minio", "minio-secret", true
		c.RecordingFormat = "mp3" // Exotel's default
	})
	c, rec := recordedCall(t, s, done, "")
	if rec.Format != "mp3" || rec.Storage != "s3://calls/switchyard" || rec.StorageKey != "demo/"+rec.ID+".mp3" {
		t.Fatalf("archived %+v", rec)
	}
	if _, ok := fake.Get("calls", "switchyard/demo/"+rec.ID+".mp3"); !ok {
		t.Fatalf("not in the bucket: %v", fake.Keys())
	}
	checkMP3(t, s, c, rec, 16)
}

func TestRecordingConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		store, format string
		ok            bool
	}{
		{"disk", "wav", true},
		{"disk:/var/archive", "mp3", true},
		{"s3://bucket/prefix", "mp3-hq", true},
		{"s3://", "mp3", false},
		{"gs://bucket", "mp3", false},
		{"disk", "ogg", false},
	} {
		c := defaultConfig()
		c.RecordingStore, c.RecordingFormat = tc.store, tc.format
		if err := c.validate(); (err == nil) != tc.ok {
			t.Errorf("%s %s: %v", tc.store, tc.format, err)
		}
	}
}

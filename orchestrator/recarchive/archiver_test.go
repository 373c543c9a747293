package recarchive_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/recarchive"
	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/recstore/s3fake"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

type env struct {
	t    *testing.T
	db   *store.DB
	dir  string
	done chan store.Recording
}

func newEnv(t *testing.T) *env {
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(t.Context(), "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, dir: t.TempDir(), done: make(chan store.Recording, 16)}
}

// wav writes an 8 kHz mono WAV of secs seconds of tone.
func (e *env) wav(name string, secs int) string {
	n := 8000 * secs
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(8000))
	le(uint32(16000))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := range n {
		le(int16(3000 * math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// recording makes an ended call with one pending recording of path.
func (e *env) recording(path, format string) *store.Recording {
	ctx := e.t.Context()
	c := &store.Call{AccountSID: "acme1", Direction: store.DirectionInbound, From: "+15550100001", To: "+918047000001",
		PhoneNumber: "+918047000001", Status: store.Ringing}
	if err := e.db.Calls().Create(ctx, c); err != nil {
		e.t.Fatal(err)
	}
	rec := &store.Recording{AccountSID: "acme1", CallSID: c.SID, URL: "/r", Path: path, Format: "wav", Duration: 3,
		ArchiveStatus: store.ArchivePending, ArchiveFormat: format}
	if err := e.db.Recordings().Create(ctx, rec); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, Released: true}); err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// run starts an archiver on blobs, stopped and joined at cleanup.
func (e *env) run(blobs recstore.Store, cfg recarchive.Config) *recarchive.Archiver {
	cfg.Instance = "test"
	cfg.TempDir = e.t.TempDir()
	cfg.OnArchived = func(r store.Recording) { e.done <- r }
	a := recarchive.New(e.db, blobs, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return a
}

func (e *env) wait() store.Recording {
	e.t.Helper()
	select {
	case r := <-e.done:
		return r
	case <-time.After(20 * time.Second): // a bound on a hang, not a timing
		e.t.Fatal("no recording archived")
		return store.Recording{}
	}
}

func (e *env) row(id string) *store.Recording {
	e.t.Helper()
	r, err := e.db.Recordings().Get(e.t.Context(), "acme1", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func s3Store(t *testing.T, fake *s3fake.Server) *recstore.S3 {
	s, err := recstore.NewS3(recstore.S3Config{Endpoint: fake.Endpoint(), Bucket: "recs", Prefix: "sw", Insecure: true,
		AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestArchiveMP3ToS3(t *testing.T) {
	e := newEnv(t)
	fake := s3fake.New()
	defer fake.Close()
	mp3Rec := e.recording(e.wav("a.wav", 3), "mp3")
	hqRec := e.recording(e.wav("b.wav", 3), "mp3-hq")
	wavRec := e.recording(e.wav("c.wav", 1), "wav")
	a := e.run(s3Store(t, fake), recarchive.Config{})
	a.Notify()
	got := map[string]store.Recording{}
	for range 3 {
		r := e.wait()
		got[r.ID] = r
	}
	for _, tc := range []struct {
		rec    *store.Recording
		format string
		kbps   int
	}{{mp3Rec, "mp3", 16}, {hqRec, "mp3", 32}, {wavRec, "wav", 0}} {
		r := e.row(tc.rec.ID)
		key := "acme1/" + r.ID + "." + tc.format
		if r.ArchiveStatus != store.ArchiveDone || r.Format != tc.format || r.StorageKey != key || r.Storage != "s3://recs/sw" {
			t.Fatalf("row %+v", r)
		}
		o, ok := fake.Get("recs", "sw/"+key)
		if !ok || int64(len(o.Data)) != r.Size {
			t.Fatalf("object %s: %v, %d bytes, row says %d", key, ok, len(o.Data), r.Size)
		}
		if tc.format == "mp3" {
			info, err := recarchive.ScanMP3(bytes.NewReader(o.Data))
			if err != nil || info.Bitrate != tc.kbps || info.Duration < 3*time.Second || info.Duration > 3100*time.Millisecond {
				t.Fatalf("%s: %+v, %v", key, info, err)
			}
			if o.ContentType != "audio/mpeg" {
				t.Fatalf("content type %q", o.ContentType)
			}
		}
		if _, err := os.Stat(tc.rec.Path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the WAV of %s is still there: %v", r.ID, err)
		}
	}
}

func TestArchiveWAVOnDiskStaysInPlace(t *testing.T) {
	e := newEnv(t)
	disk, err := recstore.NewDisk(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	wav := e.recording(e.wav("a.wav", 1), "wav")
	mp3 := e.recording(e.wav("b.wav", 2), "mp3")
	e.run(disk, recarchive.Config{}).Notify()
	e.wait()
	e.wait()
	r := e.row(wav.ID)
	if r.ArchiveStatus != store.ArchiveDone || r.StorageKey != "" || r.Format != "wav" || r.Size != 44+16000 {
		t.Fatalf("wav row %+v", r)
	}
	if _, err := os.Stat(wav.Path); err != nil {
		t.Fatalf("the WAV moved: %v", err)
	}
	r = e.row(mp3.ID)
	if r.StorageKey != "acme1/"+mp3.ID+".mp3" || r.Storage != "disk:"+e.dir {
		t.Fatalf("mp3 row %+v", r)
	}
	f, err := os.Open(filepath.Join(e.dir, "acme1", mp3.ID+".mp3"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, err := recarchive.ScanMP3(f); err != nil || info.Duration < 2*time.Second {
		t.Fatalf("%+v %v", info, err)
	}
}

// A call whose end an instance of an earlier version wrote, without
// marking its recordings, still has them archived: the archiver's sweep
// marks them.
func TestArchiveSweepsRecordingsOfCallsEndedElsewhere(t *testing.T) {
	e := newEnv(t)
	disk, err := recstore.NewDisk(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.run(disk, recarchive.Config{Tick: 20 * time.Millisecond})
	ctx := t.Context()
	c := &store.Call{AccountSID: "acme1", Direction: store.DirectionInbound, From: "+15550100001", To: "+918047000001",
		PhoneNumber: "+918047000001", Status: store.InProgress}
	if err := e.db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	rec := &store.Recording{AccountSID: "acme1", CallSID: c.SID, URL: "/r", Path: e.wav("a.wav", 1), Format: "wav",
		Duration: 1, ArchiveStatus: store.ArchivePending, ArchiveFormat: "wav"}
	if err := e.db.Recordings().Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Gorm().Exec(`UPDATE calls SET end_time = ?, status = 'completed' WHERE sid = ?`, time.Now().UTC(), c.SID).Error; err != nil {
		t.Fatal(err)
	}
	if got := e.wait(); got.ID != rec.ID || got.ArchiveStatus != store.ArchiveDone {
		t.Fatalf("archived %+v, want %s", got, rec.ID)
	}
}

func TestAPassRecordsItsOutcomesInOneTransaction(t *testing.T) {
	e := newEnv(t)
	disk, err := recstore.NewDisk(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := []*store.Recording{
		e.recording(e.wav("a.wav", 1), "wav"),
		e.recording(e.wav("b.wav", 1), "mp3"),
		e.recording(e.wav("c.wav", 1), "mp3"),
	}
	recorded := make(chan int, 4)
	e.run(disk, recarchive.Config{OnRecorded: func(n int) { recorded <- n }}).Notify()
	for range recs {
		e.wait()
	}
	if n := <-recorded; n != len(recs) {
		t.Fatalf("one transaction recorded %d outcomes, want all %d of the pass", n, len(recs))
	}
	for _, r := range recs {
		if row := e.row(r.ID); row.ArchiveStatus != store.ArchiveDone {
			t.Errorf("recording %s: %+v", r.ID, row)
		}
	}
}

// An instance that died mid-way (its claim lapses) leaves the work to the
// next; one that died after the upload but before the row's update
// leaves only the row to fix.
func TestArchiveFinishesWhatACrashLeft(t *testing.T) {
	e := newEnv(t)
	fake := s3fake.New()
	defer fake.Close()
	blobs := s3Store(t, fake)
	ctx := t.Context()

	midway := e.recording(e.wav("a.wav", 1), "mp3")
	uploaded := e.recording(e.wav("b.wav", 1), "mp3")
	// The dead instance claimed both; its lease has lapsed.
	claimed, err := e.db.Recordings().ClaimArchive(ctx, store.ArchiveClaim{Claimer: "dead", Now: time.Now().Add(-time.Hour), Lease: time.Minute})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	// It had uploaded one and removed its WAV.
	if err := blobs.Put(ctx, "acme1/"+uploaded.ID+".mp3", bytes.NewReader([]byte("\xff\xf3")), 2, "audio/mpeg"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(uploaded.Path); err != nil {
		t.Fatal(err)
	}
	e.run(blobs, recarchive.Config{}).Notify()
	e.wait()
	e.wait()
	for _, rec := range []*store.Recording{midway, uploaded} {
		r := e.row(rec.ID)
		if r.ArchiveStatus != store.ArchiveDone || r.StorageKey != "acme1/"+rec.ID+".mp3" || r.ArchiveAttempts != 2 {
			t.Fatalf("row %+v", r)
		}
	}
	if r := e.row(uploaded.ID); r.Size != 2 {
		t.Fatalf("the earlier upload was not taken as it is: %+v", r)
	}
}

// A store that fails is retried; a recording that keeps failing is
// marked failed with its WAV kept.
func TestArchiveRetries(t *testing.T) {
	e := newEnv(t)
	fake := s3fake.New()
	defer fake.Close()
	var puts atomic.Int32
	fake.Fail = func(r *http.Request) int {
		if r.Method == http.MethodPut && puts.Add(1) <= 2 {
			return http.StatusForbidden // not retried by the client
		}
		return 0
	}
	rec := e.recording(e.wav("a.wav", 1), "mp3")
	blobs, err := recstore.NewS3(recstore.S3Config{Endpoint: fake.Endpoint(), Bucket: "recs", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	// Retries are due at once and the ticker finds them.
	e.run(blobs, recarchive.Config{Backoff: func(int) time.Duration { return 0 }, Tick: 5 * time.Millisecond}).Notify()
	r := e.wait()
	if r.ID != rec.ID {
		t.Fatal(r)
	}
	if row := e.row(rec.ID); row.ArchiveStatus != store.ArchiveDone || row.ArchiveAttempts != 3 {
		t.Fatalf("row %+v", row)
	}

	// A missing file is retried MaxAttempts times, then failed for good.
	gone := e.recording(filepath.Join(e.dir, "never-written.wav"), "mp3")
	var failed *store.Recording
	for failed == nil {
		r := e.row(gone.ID)
		if r.ArchiveStatus == store.ArchiveFailed {
			failed = r
			break
		}
		if r.ArchiveAttempts > 8 {
			t.Fatalf("still retrying: %+v", r)
		}
		select {
		case <-time.After(5 * time.Millisecond): // polling the row, not timing
		case <-t.Context().Done():
		}
	}
	if failed.ArchiveAttempts != 8 || failed.ArchiveError == "" || failed.StorageKey != "" {
		t.Fatalf("failed row %+v", failed)
	}
}

// gatedStore holds the first Put until released.
type gatedStore struct {
	recstore.Store
	once     sync.Once
	entered  chan struct{}
	released chan struct{}
}

func (g *gatedStore) Put(ctx context.Context, key string, r io.Reader, size int64, ctype string) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		select {
		case <-g.released:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Store.Put(ctx, key, r, size, ctype)
}

// One claim takes a batch; while its one worker is held on the first
// recording, the claims of those still waiting are kept alive, and every
// recording of the batch is archived once the worker goes on.
func TestArchiveBatchKeepsItsClaims(t *testing.T) {
	e := newEnv(t)
	fake := s3fake.New()
	defer fake.Close()
	var recs []*store.Recording
	for i := range 3 {
		recs = append(recs, e.recording(e.wav(fmt.Sprintf("%d.wav", i), 1), "wav"))
	}
	g := &gatedStore{Store: s3Store(t, fake), entered: make(chan struct{}), released: make(chan struct{})}
	kept := make(chan string, 16)
	a := e.run(g, recarchive.Config{Workers: 1, Batch: 3, Lease: 300 * time.Millisecond,
		OnKept: func(id string) {
			select {
			case kept <- id:
			default:
			}
		}})
	a.Notify()
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second): // a bound on a hang, not a timing
		t.Fatal("the archive never started")
	}
	// The last of the batch waits its turn: its claim is extended twice,
	// and stays this worker's.
	last := recs[2].ID
	first := e.row(last)
	if first.ClaimedBy == "" || first.ClaimUntil == nil {
		t.Fatalf("the batch's last recording is not claimed: %+v", first)
	}
	for extensions := 0; extensions < 2; {
		select {
		case id := <-kept:
			if id == last {
				extensions++
			}
		case <-time.After(20 * time.Second): // a bound on a hang, not a timing
			t.Fatalf("the waiting recording's claim was extended %d times", extensions)
		}
	}
	if r := e.row(last); r.ClaimedBy != first.ClaimedBy || r.ClaimUntil == nil || !r.ClaimUntil.After(*first.ClaimUntil) {
		t.Fatalf("claim after two extensions: %+v, first %+v", r, first)
	}
	close(g.released)
	for range 3 {
		e.wait()
	}
	for _, rec := range recs {
		if r := e.row(rec.ID); r.ArchiveStatus != store.ArchiveDone || r.ArchiveAttempts != 1 || r.ClaimedBy != "" {
			t.Errorf("recording %s: status %q, attempts %d, claimed by %q", r.ID, r.ArchiveStatus, r.ArchiveAttempts, r.ClaimedBy)
		}
	}
}

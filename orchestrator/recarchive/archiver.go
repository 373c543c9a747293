// Package recarchive archives recordings once their call is over: it
// transcodes the WAV the media node wrote to the format the call asked
// for (FreeSWITCH here writes WAV only: mod_sndfile, no mod_shout) and
// puts the result in the configured blob store (recstore), then points
// the recording's row at it.
//
// The work is durable and shared: rows wait in the database
// (archive_status pending); any instance's Archiver claims them with a
// lease it extends while it works, so a crashed instance's recordings are
// finished by another once the lease lapses, and no two instances work
// on the same recording at once.
package recarchive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Config tunes an Archiver.
type Config struct {
	// Instance names this process in claims.
	Instance string
	// Lease is how long a claim holds without being extended (default
	// 2m); the worker extends it every third of that while it works.
	Lease time.Duration
	// Tick is how often the worker looks for work nobody woke it for
	// (other instances' calls, retries, lapsed claims); default 30s.
	Tick time.Duration
	// Gather is how long the worker waits after a wake before it claims
	// (default 250ms): calls end in bursts, and the wakes of one window
	// make one claim instead of one each.
	Gather time.Duration
	// Workers archive that many recordings at once (default 2).
	Workers int
	// Batch is how many recordings one claim takes (default 16 per
	// worker): a claim is a write, and under a backlog one per recording
	// cost more than most archives do. The batch's claims are kept alive
	// together while its workers go through it.
	Batch int
	// MaxAttempts before a recording is marked failed (default 8);
	// attempt n waits Backoff(n) (default 10s doubling, at most 1h).
	MaxAttempts int
	Backoff     func(attempt int) time.Duration
	// TempDir holds MP3s being made (default os.TempDir()).
	TempDir string
	// OnArchived, if set, is told each recording this worker archived
	// (tests wait on it).
	OnArchived func(store.Recording)
	// OnKept, if set, is told each claim this worker extended (tests wait
	// on it).
	OnKept func(id string)
	// OnRecorded, if set, is told how many outcomes a pass recorded in
	// one transaction (tests).
	OnRecorded func(n int)
	// Now is the claims' clock (default time.Now).
	Now func() time.Time
}

// Archiver is the worker: Run it, Notify it when calls end.
type Archiver struct {
	db    *store.DB
	blobs recstore.Store
	cfg   Config
	log   *slog.Logger
	wake  chan struct{}
}

// New makes an archiver putting recordings in blobs.
func New(db *store.DB, blobs recstore.Store, cfg Config, log *slog.Logger) *Archiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 30 * time.Second
	}
	if cfg.Gather <= 0 {
		cfg.Gather = 250 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16 * cfg.Workers
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(n int) time.Duration {
			return min(10*time.Second<<min(max(n-1, 0), 20), time.Hour)
		}
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Archiver{db: db, blobs: blobs, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Notify wakes the worker (a call ended: its recordings may be ready).
// It never blocks; wakes coalesce.
func (a *Archiver) Notify() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run archives until ctx ends, and returns once the recordings it was
// working on are done or released (an interrupted one is retried, here or
// elsewhere, when its claim lapses).
func (a *Archiver) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Tick)
	defer t.Stop()
	a.log.Info("recordings: archiver started", "store", a.blobs.Location(), "workers", a.cfg.Workers)
	a.sweep(ctx)
	for {
		for ctx.Err() == nil && a.pass(ctx) == a.cfg.Batch {
			// A full batch: there may be more.
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
			if !a.gather(ctx) {
				return
			}
		case <-t.C:
			a.sweep(ctx)
		}
	}
}

// sweep marks ready the recordings whose call ended without its final
// record marking them (store.Recordings.MarkEnded); at the start and on
// every tick, since it reads every recording of a live call.
func (a *Archiver) sweep(ctx context.Context) {
	n, err := a.db.Recordings().MarkEnded(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Error("recordings: mark those of ended calls", "err", err)
	case n > 0:
		a.log.Info("recordings: marked ready; their calls were finished without marking them", "recordings", n)
	}
}

// gather waits Gather after a wake, so that the calls ending meanwhile
// are claimed in the same pass; false when ctx ended first.
func (a *Archiver) gather(ctx context.Context) bool {
	w := time.NewTimer(a.cfg.Gather)
	defer w.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.C:
		return true
	}
}

// pass claims up to Batch recordings and archives them, Workers at a
// time, keeping every claim of the batch alive until its recording is
// done; it returns how many it claimed.
func (a *Archiver) pass(ctx context.Context) int {
	claimer := a.cfg.Instance + "/" + nonce()
	recs, err := a.db.Recordings().ClaimArchive(ctx, store.ArchiveClaim{Claimer: claimer, Now: a.cfg.Now(),
		Lease: a.cfg.Lease, Limit: a.cfg.Batch})
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("recordings: claim to archive", "err", err)
		}
		return 0
	}
	if len(recs) == 0 {
		return 0
	}
	b := newBatch(ctx, recs)
	kctx, stopKeeping := context.WithCancel(ctx)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		a.keepClaims(kctx, claimer, b)
	}()
	next := make(chan int)
	var wg sync.WaitGroup
	outs := make([]*outcome, len(recs))
	for range min(a.cfg.Workers, len(recs)) {
		wg.Go(func() {
			for i := range next {
				// Its claim is kept until its outcome is recorded.
				outs[i] = a.archive(b.ctx[i], recs[i])
			}
		})
	}
	// On shutdown the recordings not started yet stay claimed until
	// their lease lapses, then any instance takes them.
dispatch:
	for i := range recs {
		select {
		case next <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	stopKeeping()
	<-kept
	a.record(ctx, claimer, outs)
	for i := range recs {
		b.finish(i)
	}
	return len(recs)
}

// batch is one claim's recordings: each has its own context, ended when
// it is done or its claim is lost.
type batch struct {
	ids    []string
	ctx    []context.Context
	cancel []context.CancelCauseFunc
	mu     sync.Mutex
	done   []bool
}

func newBatch(ctx context.Context, recs []store.Recording) *batch {
	n := len(recs)
	b := &batch{ids: make([]string, n), ctx: make([]context.Context, n), cancel: make([]context.CancelCauseFunc, n), done: make([]bool, n)}
	for i, r := range recs {
		b.ids[i] = r.ID
		b.ctx[i], b.cancel[i] = context.WithCancelCause(ctx)
	}
	return b
}

func (b *batch) finish(i int) {
	b.mu.Lock()
	b.done[i] = true
	b.mu.Unlock()
	b.cancel[i](nil)
}

// open lists the recordings not done yet.
func (b *batch) open() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for i, d := range b.done {
		if !d {
			out = append(out, i)
		}
	}
	return out
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errPermanent marks failures no retry can fix.
var errPermanent = errors.New("permanent")

// outcome is what archiving one recording came to: the archived copy,
// or the failure and when to retry. The outcomes of a pass are written
// together (record).
type outcome struct {
	rec   store.Recording
	res   store.Archived
	err   error
	final bool // err: no more attempts
	retry time.Time
	// stopped: the work was interrupted (shutdown, a lost claim), and
	// the recording is due again at once.
	stopped bool
	log     *slog.Logger
}

// archive does one claimed recording; ctx ends if its claim is lost (the
// batch's keeper extends it meanwhile). Nil: the claim was lost before
// its turn, and the new holder does it.
func (a *Archiver) archive(ctx context.Context, rec store.Recording) *outcome {
	o := &outcome{rec: rec, log: a.log.With("recording", rec.ID, "call_sid", rec.CallSID,
		"account", rec.AccountSID, "attempt", rec.ArchiveAttempts)}
	if errors.Is(context.Cause(ctx), errClaimLost) {
		return nil
	}
	o.res, o.err = a.archiveFile(ctx, rec, o.log)
	if o.err != nil {
		o.final = errors.Is(o.err, errPermanent) || rec.ArchiveAttempts >= a.cfg.MaxAttempts
		o.retry = a.cfg.Now().Add(a.cfg.Backoff(rec.ArchiveAttempts))
		if ctx.Err() != nil {
			o.final, o.retry, o.stopped = false, a.cfg.Now(), true
		}
	}
	return o
}

// write records the outcome in the recording's row, if claimer still
// holds it (ErrConflict otherwise).
func (o *outcome) write(ctx context.Context, db *store.DB, claimer string) error {
	if o.err != nil {
		return db.Recordings().FailArchive(ctx, o.rec.ID, claimer, o.err.Error(), o.retry, o.final)
	}
	return db.Recordings().FinishArchive(ctx, o.rec.ID, claimer, o.res)
}

// record writes a pass's outcomes in one transaction (one commit for the
// pass, not one per recording), then does what follows each. Should the
// transaction fail as a whole, each is written on its own. The outcomes
// are written even while shutting down: it is short, and saves the next
// instance a redo.
func (a *Archiver) record(ctx context.Context, claimer string, outs []*outcome) {
	outs = slices.DeleteFunc(outs, func(o *outcome) bool { return o == nil })
	if len(outs) == 0 {
		return
	}
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	errs := make([]error, len(outs))
	err := a.db.InTx(octx, func(tx *store.DB) error {
		for i, o := range outs {
			// A lost claim is that recording's business alone.
			if errs[i] = o.write(octx, tx, claimer); errs[i] != nil && !errors.Is(errs[i], store.ErrConflict) {
				return errs[i]
			}
		}
		return nil
	})
	if err != nil {
		a.log.Warn("recordings: record a pass's outcomes together; recording each alone", "err", err)
		for i, o := range outs {
			errs[i] = o.write(octx, a.db, claimer)
		}
	} else if a.cfg.OnRecorded != nil {
		a.cfg.OnRecorded(len(outs))
	}
	for i, o := range outs {
		a.after(o, errs[i])
	}
}

// after logs a recorded outcome and, for an archived recording whose
// row now points at its copy, removes the WAV.
func (a *Archiver) after(o *outcome, werr error) {
	rec, res, log := o.rec, o.res, o.log
	if o.err != nil {
		if werr != nil {
			log.Warn("recordings: record failed archive", "err", werr)
		}
		if o.final {
			log.Error("recordings: archive failed for good; the recording stays where it was", "err", o.err)
		} else if !o.stopped {
			log.Warn("recordings: archive failed; will retry", "retry_at", o.retry, "err", o.err)
		}
		return
	}
	if werr != nil {
		// Lost the claim (another instance redid it) or the database:
		// either way the local file stays, for whoever finishes.
		log.Warn("recordings: archived, but the row was not updated", "err", werr)
		return
	}
	// The row now points at the archived copy: the WAV can go.
	if res.StorageKey != "" && rec.Path != "" {
		if err := os.Remove(rec.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("recordings: remove the archived WAV", "path", rec.Path, "err", err)
		}
	}
	log.Info("recordings: archived", "format", res.Format, "store", res.Storage, "key", res.StorageKey, "bytes", res.Size)
	rec.ArchiveStatus, rec.Format, rec.Storage, rec.StorageKey, rec.Size = store.ArchiveDone, res.Format, res.Storage, res.StorageKey, res.Size
	rec.ClaimedBy, rec.ClaimUntil = "", nil
	if a.cfg.OnArchived != nil {
		a.cfg.OnArchived(rec)
	}
}

// errClaimLost ends the work on a recording whose claim another took.
var errClaimLost = errors.New("claim lost")

// keepClaims extends the claims of b's open recordings every third of
// the lease until ctx ends; a lost claim stops that recording's work.
func (a *Archiver) keepClaims(ctx context.Context, claimer string, b *batch) {
	t := time.NewTicker(a.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, i := range b.open() {
			id := b.ids[i]
			err := a.db.Recordings().ExtendArchive(ctx, id, claimer, a.cfg.Now().Add(a.cfg.Lease))
			if errors.Is(err, store.ErrConflict) {
				a.log.Warn("recordings: claim lost; stopping", "recording", id, "err", err)
				b.cancel[i](errClaimLost)
				continue
			}
			if err != nil && ctx.Err() == nil {
				a.log.Warn("recordings: extend claim", "recording", id, "err", err)
			}
			if err == nil && a.cfg.OnKept != nil {
				a.cfg.OnKept(id)
			}
		}
	}
}

// targetFormat normalises a requested format.
func targetFormat(f string) string {
	switch strings.ToLower(f) {
	case "mp3", "mp3-hq":
		return strings.ToLower(f)
	}
	return "wav"
}

// archiveFile makes the archived copy of rec and says where it is.
func (a *Archiver) archiveFile(ctx context.Context, rec store.Recording, log *slog.Logger) (store.Archived, error) {
	format := targetFormat(rec.ArchiveFormat)
	ext, ctype := "wav", "audio/wav"
	if format != "wav" {
		ext, ctype = "mp3", "audio/mpeg"
	}
	_, local := a.blobs.(*recstore.Disk)
	src, info, err := recstore.OpenFile(rec.Path)
	if errors.Is(err, recstore.ErrNotFound) {
		// Gone: an earlier attempt may have stored it and crashed before
		// the row said so.
		for _, e := range []string{ext, "wav"} {
			key := objectKey(rec, e)
			if st, serr := a.blobs.Stat(ctx, key); serr == nil {
				log.Info("recordings: file already archived by an earlier attempt", "key", key)
				return store.Archived{Format: e, Storage: a.blobs.Location(), StorageKey: key, Size: st.Size}, nil
			}
		}
		return store.Archived{}, fmt.Errorf("archive %s: the file the media node wrote is missing: %w", rec.ID, err)
	}
	if err != nil {
		return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
	}
	defer src.Close()
	if format == "wav" && local {
		// A WAV on this machine stays where the media node wrote it.
		return store.Archived{Format: "wav", Size: info.Size()}, nil
	}
	if format == "wav" {
		key := objectKey(rec, "wav")
		if err := a.blobs.Put(ctx, key, src, info.Size(), ctype); err != nil {
			return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
		}
		return store.Archived{Format: "wav", Storage: a.blobs.Location(), StorageKey: key, Size: info.Size()}, nil
	}
	q := Standard
	if format == "mp3-hq" {
		q = High
	}
	tmp, err := os.CreateTemp(a.cfg.TempDir, "switchyard-"+rec.ID+"-*.mp3")
	if err != nil {
		return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	enc, err := Transcode(tmp, readerCtx{ctx, src}, q)
	if errors.Is(err, errNotWAV) || errors.Is(err, ErrRate) {
		// Not something MP3 can be made of: keep the original as it is.
		log.Warn("recordings: cannot make an MP3 of this file; archiving it as it is", "err", err)
		if _, serr := src.Seek(0, 0); serr != nil {
			return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, serr)
		}
		if local {
			return store.Archived{Format: "wav", Size: info.Size()}, nil
		}
		key := objectKey(rec, "wav")
		if perr := a.blobs.Put(ctx, key, src, info.Size(), "audio/wav"); perr != nil {
			return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, perr)
		}
		return store.Archived{Format: "wav", Storage: a.blobs.Location(), StorageKey: key, Size: info.Size()}, nil
	}
	if err != nil {
		return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
	}
	key := objectKey(rec, "mp3")
	if err := a.blobs.Put(ctx, key, tmp, enc.Bytes, ctype); err != nil {
		return store.Archived{}, fmt.Errorf("archive %s: %w", rec.ID, err)
	}
	return store.Archived{Format: "mp3", Storage: a.blobs.Location(), StorageKey: key, Size: enc.Bytes}, nil
}

// objectKey is where a recording goes in the blob store: under its
// account, named by its id.
func objectKey(rec store.Recording, ext string) string {
	return rec.AccountSID + "/" + rec.ID + "." + ext
}

// readerCtx stops a transcode once ctx ends (a lost claim, shutdown).
type readerCtx struct {
	ctx context.Context
	r   interface{ Read([]byte) (int, error) }
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

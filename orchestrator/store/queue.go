package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// Queue applies writes in the order they were queued, many to a
// transaction: whatever queued up while the previous transaction ran goes
// into the next one (group commit). Live calls write through it, so their
// steps never wait on the database, and a thousand calls writing at once
// cost a few transactions instead of a thousand.
//
// A write the store rejects for good (an unknown row, an invalid value, a
// conflict) is reported, and the rest of its batch still commits. A
// transient failure (a timeout, a lost connection, a database that is
// down) is retried with backoff until the write commits, in the same
// order. Writes still queued when the process dies are lost; the
// reconciler closes their calls.
type Queue struct {
	db      *DB
	log     *slog.Logger
	max     int
	linger  time.Duration
	metrics *metrics.Set

	mu      sync.Mutex
	pending []queued
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	idle    *sync.Cond // signalled when a batch finishes
	applied uint64     // writes finished (committed or rejected)
	queued  uint64     // writes queued so far
	oldest  time.Time  // when the oldest pending write was queued
	// urgent: someone waits on a pending write and is in a hurry (Do,
	// Flush, Close), so the next batch starts without lingering.
	urgent bool
	began  atomic.Uint64 // transactions begun
}

// QueueStats counts what a Queue has done.
type QueueStats struct {
	Writes       uint64 // writes committed or rejected
	Transactions uint64 // transactions begun, retries included
}

type queued struct {
	what string
	fn   func(ctx context.Context, tx *DB) error
	done chan error // nil: nobody waits
	// then, when set, hears the write's outcome once its batch is done.
	then func(error)
	// hurry: the batch starts at once (Do), not after the linger.
	hurry bool
}

// QueueConfig tunes a Queue.
type QueueConfig struct {
	// MaxBatch caps the writes in one transaction (default 512). Under
	// load on SQLite, 64 completed far fewer calls than 512: each commit
	// costs more than the writes it carries.
	MaxBatch int
	// Linger is how long a batch of writes nobody waits for may wait for
	// more before it commits (default DefaultLinger; negative: never).
	// A commit costs about as much as a few writes, and nobody looks at
	// a call's status writes within milliseconds; a write someone waits
	// for starts the batch at once.
	Linger time.Duration
	Logger *slog.Logger
	// Metrics records the queue's transactions, its writes and its depth
	// (nil: nowhere).
	Metrics *metrics.Set
}

// DefaultLinger is QueueConfig.Linger's default. On a real node at 10
// calls/s a 5 ms linger gave 6.3 transactions per call, 50 ms 2.9 (the two
// left are the writes a call waits for), and cut the queue's CPU by a
// third; a call's status in the database is at most that much behind.
const DefaultLinger = 50 * time.Millisecond

// NewQueue starts a queue writing to db. Close it to flush and stop.
func NewQueue(db *DB, cfg QueueConfig) *Queue {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = 0
	}
	q := &Queue{db: db, log: cfg.Logger, max: cfg.MaxBatch, linger: cfg.Linger, metrics: cfg.Metrics,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.idle = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// Errors of a Queue.
var (
	// ErrQueueClosed: the queue no longer takes writes.
	ErrQueueClosed = errors.New("store: write queue closed")
	// ErrQueued: Do stopped waiting (its context ended) but the write is
	// still queued, and lands when the database takes it.
	ErrQueued = errors.New("store: write still queued")
)

// Go queues a write and returns at once; a write the store rejects is
// logged.
func (q *Queue) Go(what string, fn func(ctx context.Context, tx *DB) error) {
	q.push(queued{what: what, fn: fn})
}

// Then queues a write nobody waits for but something follows once it has
// landed: its batch starts at once, and then is called with its outcome
// (nil: committed) when the batch is done, on the queue's goroutine, so
// it must return at once. A call's answered callback is written so: the
// relay is woken when the row is there to find, and the call goes on
// meanwhile instead of waiting behind every write queued before it.
func (q *Queue) Then(what string, fn func(ctx context.Context, tx *DB) error, then func(error)) {
	if !q.push(queued{what: what, fn: fn, hurry: true, then: then}) {
		then(fmt.Errorf("%s: %w", what, ErrQueueClosed))
	}
}

// Do queues a write and waits until it is committed (nil) or rejected;
// the batch starts at once. When ctx ends first, the write stays queued
// and still lands.
func (q *Queue) Do(ctx context.Context, what string, fn func(ctx context.Context, tx *DB) error) error {
	return q.wait(ctx, queued{what: what, fn: fn, hurry: true})
}

// DoBatched is Do for a waiter in no hurry: the write commits with the
// next batch, within the linger, instead of starting one. A call's final
// record waits this way: nothing acts on it within milliseconds, and a
// transaction of its own for every call costs more than the wait.
func (q *Queue) DoBatched(ctx context.Context, what string, fn func(ctx context.Context, tx *DB) error) error {
	return q.wait(ctx, queued{what: what, fn: fn})
}

func (q *Queue) wait(ctx context.Context, w queued) error {
	what := w.what
	done := make(chan error, 1)
	w.done = done
	if !q.push(w) {
		return fmt.Errorf("%s: %w", what, ErrQueueClosed)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: %w: %w", what, ErrQueued, ctx.Err())
	}
}

func (q *Queue) push(w queued) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.log.Error("store: write after the queue closed; dropped", "what", w.what)
		return false
	}
	if len(q.pending) == 0 {
		q.oldest = time.Now()
	}
	q.pending = append(q.pending, w)
	q.metrics.StoreQueueDepth(len(q.pending))
	q.queued++
	q.urgent = q.urgent || w.hurry
	q.mu.Unlock()
	q.poke()
	return true
}

func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Stats returns the queue's counters.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueueStats{Writes: q.applied, Transactions: q.began.Load()}
}

// Len is the number of writes waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Flush waits until every write queued before it has finished.
func (q *Queue) Flush(ctx context.Context) error {
	q.mu.Lock()
	target := q.queued
	q.urgent = q.urgent || len(q.pending) > 0
	q.mu.Unlock()
	q.poke()
	return q.waitApplied(ctx, target)
}

func (q *Queue) waitApplied(ctx context.Context, target uint64) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.applied < target {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: flush: %d writes still queued: %w", target-q.applied, err)
		}
		q.idle.Wait()
	}
	return nil
}

// Close stops taking writes and waits, up to ctx's deadline, for the
// queued ones to land.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.poke()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: close: %d writes not written: %w", q.Len(), ctx.Err())
	}
}

func (q *Queue) run() {
	defer close(q.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		q.mu.Lock()
		for {
			if len(q.pending) == 0 {
				if q.closed {
					q.mu.Unlock()
					return
				}
				q.mu.Unlock()
				<-q.wake
				q.mu.Lock()
				continue
			}
			wait := q.linger - time.Since(q.oldest)
			if wait <= 0 || q.urgent || q.closed || len(q.pending) >= q.max {
				break
			}
			q.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-q.wake:
				timer.Stop()
			case <-timer.C:
			}
			q.mu.Lock()
		}
		n := min(len(q.pending), q.max)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil // let the backing array go
		} else {
			q.oldest = time.Now()
		}
		q.urgent = false
		for _, w := range q.pending {
			q.urgent = q.urgent || w.hurry
		}
		q.metrics.StoreQueueDepth(len(q.pending))
		q.mu.Unlock()

		errs := q.commit(batch)
		rejected := 0
		for _, err := range errs {
			if err != nil {
				rejected++
			}
		}
		q.metrics.StoreWrites(len(batch), rejected)
		// Counted before anyone waiting on a write hears of it, so that
		// Stats, once Do returns, includes that write.
		q.mu.Lock()
		q.applied += uint64(len(batch))
		q.idle.Broadcast()
		q.mu.Unlock()
		for i, w := range batch {
			if errs[i] != nil && w.done == nil {
				q.log.Error("store: write rejected", "what", w.what, "err", errs[i])
			}
			if w.done != nil {
				w.done <- errs[i]
			}
			if w.then != nil {
				w.then(errs[i])
			}
		}
	}
}

// writeTimeout bounds one batch's transaction.
const writeTimeout = 10 * time.Second

// commit writes a batch in one transaction and returns each write's own
// rejection, if any. When a batch fails, its writes are committed one at
// a time, in order, so one bad write costs only itself. A lone write the
// store rejects for good is reported at once; one that fails otherwise is
// retried with backoff for as long as the database is down (until it
// commits), and rejected after a few attempts if the database answers,
// so a single bad write never holds the queue up for good.
func (q *Queue) commit(batch []queued) []error {
	errs := make([]error, len(batch))
	err := q.try(batch)
	if err == nil {
		return errs
	}
	if len(batch) > 1 {
		for i := range batch {
			errs[i] = q.commit(batch[i : i+1])[0]
		}
		return errs
	}
	wait := 20 * time.Millisecond
	strikes := 0
	for attempt := 1; ; attempt++ {
		if permanent(err) {
			errs[0] = err
			return errs
		}
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		up := q.db.Ping(pctx) == nil
		cancel()
		if up {
			if strikes++; strikes >= maxStrikes {
				errs[0] = err
				return errs
			}
		}
		q.log.Warn("store: write failed; retrying", "what", batch[0].what, "attempt", attempt,
			"database_up", up, "retry_in", wait, "err", err)
		time.Sleep(wait) // the database is failing: nothing else to do meanwhile
		wait = min(2*wait, 2*time.Second)
		if err = q.try(batch); err == nil {
			return errs
		}
	}
}

// maxStrikes: attempts of a lone write that fails while the database
// answers, before it is rejected.
const maxStrikes = 5

// try runs the batch in one transaction; any error rolls it all back.
// (No savepoint per write: they cost as much as the writes themselves.)
func (q *Queue) try(batch []queued) error {
	q.began.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	start := time.Now()
	err := q.db.InTx(ctx, func(tx *DB) error {
		for _, w := range batch {
			if err := w.fn(ctx, tx); err != nil {
				return fmt.Errorf("%s: %w", w.what, err)
			}
		}
		return nil
	})
	q.metrics.StoreTransaction(time.Since(start))
	return err
}

// permanent reports a rejection no retry would change.
func permanent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrBusy) || errors.Is(err, ErrIdempotencyMismatch)
}

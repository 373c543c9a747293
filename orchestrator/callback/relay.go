package callback

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// relayBatch is how many outbox rows one relay step moves.
const relayBatch = 100

// relayLinger is how long the relay waits, once woken, for more callbacks
// to move in the same pass. A pass costs about the same for one row as
// for a hundred (a read, River's insert transaction, a mark); woken by
// every call's end, the relay moved one or two rows a pass, and at 100
// Calls/connect a second relaying was the sixth of serve's CPU. River
// fetches the new jobs at most every 100 ms anyway (FetchCooldown).
const relayLinger = 25 * time.Millisecond

// deliverArgs is the job of delivering one callback. It carries the ID
// and the route (the gate's keys, so that a callback turned away costs no
// read): the callback itself is read from the outbox when the job runs.
// Jobs are unique by CallbackID alone.
type deliverArgs struct {
	CallbackID string `json:"callback_id" river:"unique"`
	// AccountSID and Dest (see destination) are empty in jobs queued
	// before they existed, and Dest for a URL nothing can be sent to.
	AccountSID string `json:"account_sid,omitempty"`
	Dest       string `json:"dest,omitempty"`
}

// Kind implements river.JobArgs.
func (deliverArgs) Kind() string { return "switchyard.status_callback" }

// insertOpts makes the job unique by callback ID in every state, so a
// callback relayed twice (the relay died between inserting its job and
// marking it relayed) is queued once. River forgets finished jobs after
// its retention periods; by then the outbox row has long been marked.
func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{
		Queue:       queueName,
		MaxAttempts: s.cfg.MaxAttempts,
		UniqueOpts: river.UniqueOpts{
			ByArgs:  true,
			ByState: rivertype.JobStates(),
		},
	}
}

// relay moves the outbox into the queue whenever Notify wakes it, every
// PollInterval, and once at the start, until ctx ends.
func (s *Service) relay(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	var counted time.Time // when the backlog was last counted
	for {
		if err := s.relayPending(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "callback: relay failed; will retry", "err", err)
		}
		if s.cfg.Metrics != nil && time.Since(counted) >= PendingEvery {
			counted = time.Now()
			if err := s.countPending(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "callback: cannot count the backlog", "err", err)
			}
		}
		if s.onRelayPass != nil {
			s.onRelayPass()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			if !s.lingerWait(ctx) {
				return
			}
		case <-tick.C:
		}
	}
}

// lingerFor is a wait of d that ends early, with false, when ctx ends.
func lingerFor(d time.Duration) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
}

// countPending sets the backlog of Config.Metrics: the delivery jobs not
// finished, in every instance's queue (due, running, snoozed or waiting
// to retry). River's fetching index begins with the state and the queue,
// so this reads no finished job.
func (s *Service) countPending(ctx context.Context) error {
	var n int64
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT count(*) FROM river_job WHERE queue = ? `+
		`AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, queueName).Scan(&n).Error
	if err != nil {
		return fmt.Errorf("count pending callbacks: %w", err)
	}
	s.cfg.Metrics.CallbacksPending(int(n))
	return nil
}

// relayPending queues every callback not yet relayed, a batch at a time,
// and marks each batch relayed once its jobs are in.
func (s *Service) relayPending(ctx context.Context) error {
	cbs := s.db.Callbacks()
	for {
		batch, err := cbs.Unrelayed(ctx, relayBatch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		params := make([]river.InsertManyParams, len(batch))
		ids := make([]string, len(batch))
		for i, cb := range batch {
			ids[i] = cb.ID
			args := deliverArgs{CallbackID: cb.ID, AccountSID: cb.AccountSID, Dest: destination(cb.URL)}
			params[i] = river.InsertManyParams{Args: args, InsertOpts: s.insertOpts()}
		}
		res, err := s.queue.InsertMany(ctx, params)
		if err != nil {
			return fmt.Errorf("queue %d callbacks: %w", len(batch), err)
		}
		if err := cbs.MarkRelayed(ctx, ids); err != nil {
			return err
		}
		dupes := 0
		for _, r := range res {
			if r.UniqueSkippedAsDuplicate {
				dupes++
			}
		}
		s.log.DebugContext(ctx, "callback: relayed", "callbacks", len(batch), "already_queued", dupes)
		if len(batch) < relayBatch {
			return nil
		}
	}
}

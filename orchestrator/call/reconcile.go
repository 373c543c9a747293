package call

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Exists asks the media nodes whether a channel is still up: true if any
// node has it, false if every node answered that none does, an error if a
// node could not be asked.
type Exists func(ctx context.Context, uuid string) (bool, error)

// Reconciler closes the records of calls that no runtime is running any
// more: a Switchyard instance that died mid-call leaves its calls without
// a final record, and their channels are gone from the nodes (FreeSWITCH's
// dialplan hangs them up when the socket drops). Calls whose caller's
// channel still exists on some node are left alone: another instance may
// be running them.
type Reconciler struct {
	DB     *store.DB
	Exists Exists
	// Live reports calls this instance is running (skipped).
	Live func(callSID string) bool
	// MinAge: calls younger than this are left alone (default 1 minute),
	// so a call being set up right now is never touched.
	MinAge time.Duration
	// Page is how many calls a pass reads at a time (default 500).
	Page int
	// Self is the instance this reconciler runs in. Stale is how long an
	// instance may go without beating before its calls are orphans
	// (default 6s): RunOrphans closes those, and RunOnce never asks the
	// nodes about calls of instances that beat within it.
	Self  store.Instance
	Stale time.Duration
	// OrphanAge: orphans younger than this are left for a later pass
	// (default 5s), so a call whose legs are being written is never
	// taken for lost.
	OrphanAge time.Duration
	// Terminal builds the terminal status callback written with the
	// closed record (nil: none); Notify, if set, is called after such a
	// write. A call closed here still tells the customer it ended.
	Terminal store.OutboxFunc
	Notify   func()
	Log      *slog.Logger
	// Metrics counts the calls closed here as ended (nil: nowhere).
	Metrics *metrics.Set
}

// RunOnce reconciles every call old enough and returns how many it
// closed. It reads them a page at a time: calls still running (here or on
// another instance) are passed over, so however many there are, the lost
// ones behind them are reached. Calls of other instances that beat within
// Stale are passed over without asking the nodes.
func (r *Reconciler) RunOnce(ctx context.Context, now time.Time) (int, error) {
	minAge := r.MinAge
	if minAge == 0 {
		minAge = time.Minute
	}
	live, err := r.DB.Instances().LiveInstances(ctx, now.Add(-r.stale()))
	if err != nil {
		return 0, err
	}
	return r.pass(ctx, now, func(after *store.Call, page int) ([]store.Call, error) {
		return r.DB.Calls().Unfinished(ctx, now.Add(-minAge), after, page)
	}, func(c store.Call) bool {
		return (r.Live != nil && r.Live(c.SID)) || (c.InstanceID != r.Self.ID && live[c.InstanceID])
	})
}

// RunOrphans reconciles the calls of dead instances: one that has not
// beaten for Stale, or that a process of the same name replaced. Run it
// every few seconds: it reads only unfinished calls of instances that are
// gone, so a killed instance's calls are closed, with their terminal
// callbacks, seconds after it died.
func (r *Reconciler) RunOrphans(ctx context.Context, now time.Time) (int, error) {
	age := r.OrphanAge
	if age == 0 {
		age = 5 * time.Second
	}
	return r.pass(ctx, now, func(after *store.Call, page int) ([]store.Call, error) {
		return r.DB.Calls().Orphaned(ctx, r.Self, now.Add(-r.stale()), now.Add(-age), after, page)
	}, func(store.Call) bool { return false })
}

// RunNode reconciles the calls of a media node that restarted: every
// channel it had is gone. Calls this instance still runs are left to
// their own runtime, which learns of the end from its socket (or, for a
// detached call, from the node's connection coming back restarted).
func (r *Reconciler) RunNode(ctx context.Context, node string, now time.Time) (int, error) {
	return r.pass(ctx, now, func(after *store.Call, page int) ([]store.Call, error) {
		return r.DB.Calls().OnNode(ctx, node, after, page)
	}, func(c store.Call) bool { return r.Live != nil && r.Live(c.SID) })
}

func (r *Reconciler) stale() time.Duration {
	if r.Stale > 0 {
		return r.Stale
	}
	return 6 * time.Second
}

// pass reads calls a page at a time with read, skipping those skip says
// are running, and closes those no node has.
func (r *Reconciler) pass(ctx context.Context, now time.Time, read func(after *store.Call, page int) ([]store.Call, error), skip func(store.Call) bool) (int, error) {
	page := cmp.Or(r.Page, 500)
	closed := 0
	var after *store.Call
	for {
		calls, err := read(after, page)
		if err != nil {
			return closed, err
		}
		for _, c := range calls {
			if skip(c) {
				continue
			}
			done, err := r.reconcile(ctx, c, now)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return closed, err
				}
				r.Log.Warn("reconcile: call left for later", "call_sid", c.SID, "err", err)
				continue
			}
			if done {
				closed++
			}
		}
		if len(calls) < page {
			return closed, nil
		}
		after = &calls[len(calls)-1]
	}
}

// CauseLost marks records closed by reconciliation: how the call really
// ended was never reported.
const CauseLost = "SWITCHYARD_LOST_CALL"

func (r *Reconciler) reconcile(ctx context.Context, c store.Call, now time.Time) (bool, error) {
	legs, err := r.DB.Legs().ByCall(ctx, c.AccountSID, c.SID)
	if err != nil {
		return false, err
	}
	for _, l := range legs {
		if l.EndTime != nil || l.UUID == "" {
			continue
		}
		up, err := r.Exists(ctx, l.UUID)
		if err != nil {
			return false, fmt.Errorf("leg %s: %w", l.UUID, err)
		}
		if up {
			return false, nil // still running somewhere
		}
	}
	// The last thing known of the call is when it ended, as far as
	// anyone can tell.
	end := c.UpdatedAt
	for _, l := range legs {
		if l.UpdatedAt.After(end) {
			end = l.UpdatedAt
		}
	}
	if end.Before(c.StartTime) || end.After(now) {
		end = now
	}
	for _, l := range legs {
		if l.EndTime != nil {
			continue
		}
		f := store.LegFinal{Status: LegStatus(l.AnswerTime != nil, CauseLost, "", 0), AnswerTime: l.AnswerTime,
			EndTime: end, HangupCause: CauseLost}
		f.Duration = max(0, int(end.Sub(l.StartTime)/time.Second))
		if _, err := r.DB.Legs().Finish(ctx, l.UUID, f); err != nil {
			return false, err
		}
	}
	final := store.CallFinal{Status: store.Failed, AnswerTime: c.AnswerTime, EndTime: end, HangupCause: CauseLost,
		Duration: max(0, int(end.Sub(c.StartTime)/time.Second)), Outbox: r.Terminal}
	if c.AnswerTime != nil {
		final.Status = store.Completed
	}
	applied, err := r.DB.Calls().Finish(ctx, c.SID, final)
	if err != nil {
		return false, err
	}
	if applied { // else a runtime wrote it first, and counted it
		r.Metrics.CallEnded(c.Direction, string(final.Status), final.HangupCause)
	}
	if r.Terminal != nil && r.Notify != nil {
		r.Notify()
	}
	r.Log.Warn("reconcile: closed a call no runtime was running", "call_sid", c.SID, "status", final.Status)
	return true, nil
}

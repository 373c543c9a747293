package call

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// Terminal builds the terminal status callback written with the
	// closed record (nil: none); Notify, if set, is called after such a
	// write. A call closed here still tells the customer it ended.
	Terminal store.OutboxFunc
	Notify   func()
	Log      *slog.Logger
}

// RunOnce reconciles every call old enough and returns how many it
// closed. It reads them a page at a time: calls still running (here or on
// another instance) are passed over, so however many there are, the lost
// ones behind them are reached.
func (r *Reconciler) RunOnce(ctx context.Context, now time.Time) (int, error) {
	minAge := r.MinAge
	if minAge == 0 {
		minAge = time.Minute
	}
	page := cmp.Or(r.Page, 500)
	closed := 0
	var after *store.Call
	for {
		calls, err := r.DB.Calls().Unfinished(ctx, now.Add(-minAge), after, page)
		if err != nil {
			return closed, err
		}
		for _, c := range calls {
			if r.Live != nil && r.Live(c.SID) {
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
	if _, err := r.DB.Calls().Finish(ctx, c.SID, final); err != nil {
		return false, err
	}
	if r.Terminal != nil && r.Notify != nil {
		r.Notify()
	}
	r.Log.Warn("reconcile: closed a call no runtime was running", "call_sid", c.SID, "status", final.Status)
	return true, nil
}

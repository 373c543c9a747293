package loadgen

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Records reads Switchyard's call records: (*store.DB).Calls() is one.
type Records interface {
	BySID(ctx context.Context, sid string) (*store.Call, error)
}

// findLost waits up to grace, reading the records every interval, for each
// of sids to have a final record, and returns those that never got one or
// whose record the reconciler closed (call.CauseLost), sorted. Read errors
// are retried until grace ends.
func findLost(ctx context.Context, recs Records, sids []string, grace, interval time.Duration, log *slog.Logger) ([]string, error) {
	pending := map[string]bool{}
	for _, s := range sids {
		pending[s] = true
	}
	var lost []string
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
poll:
	for {
		for sid := range pending {
			c, err := recs.BySID(ctx, sid)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue // not written yet, or never
			case err != nil:
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				log.WarnContext(ctx, "loadgen: reading a call record; retrying", "call_sid", sid, "err", err)
				continue
			case c.EndTime == nil:
				continue
			}
			delete(pending, sid)
			if c.HangupCause == call.CauseLost {
				lost = append(lost, sid)
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			break poll
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for sid := range pending {
		lost = append(lost, sid)
	}
	slices.Sort(lost)
	return lost, nil
}

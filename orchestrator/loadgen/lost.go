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

// Records reads Switchyard's call records; DBRecords reads them from its
// database.
type Records interface {
	BySID(ctx context.Context, sid string) (*store.Call, error)
	// ChannelCall is the CallSid of the call one of whose legs is the
	// channel uuid (store.ErrNotFound: none).
	ChannelCall(ctx context.Context, uuid string) (string, error)
}

// DBRecords reads the records from Switchyard's database.
func DBRecords(db *store.DB) Records { return dbRecords{db} }

type dbRecords struct{ db *store.DB }

func (r dbRecords) BySID(ctx context.Context, sid string) (*store.Call, error) {
	return r.db.Calls().BySID(ctx, sid)
}

func (r dbRecords) ChannelCall(ctx context.Context, uuid string) (string, error) {
	l, err := r.db.Legs().ByUUID(ctx, uuid)
	if err != nil {
		return "", err
	}
	return l.CallSID, nil
}

// channelCalls finds the CallSids of the calls Switchyard took whose
// CallSid the tool never saw (its own connection to the node died, or
// the events were late), by the channel Switchyard controlled; the
// channels with no call are returned as unknown.
func channelCalls(ctx context.Context, recs Records, channels []string, log *slog.Logger) (sids []string, unknown int, err error) {
	for _, ch := range channels {
		sid, err := recs.ChannelCall(ctx, ch)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown++
		case err != nil:
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			log.WarnContext(ctx, "loadgen: finding a call by its channel", "channel", ch, "err", err)
			unknown++
		default:
			sids = append(sids, sid)
		}
	}
	return sids, unknown, nil
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

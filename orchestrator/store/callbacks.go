package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// OutboxFunc builds the status callbacks a change of a call produces. It
// runs inside the transaction that makes the change, after it, with the
// call and its legs as they now are, so the change and its callbacks
// commit together or not at all. The store assigns ID, Seq, Status and the
// timestamps; the function fills Event, URL, ContentType and Payload.
type OutboxFunc func(c *Call, legs []Leg) ([]Callback, error)

// Callbacks reads and updates the status-callback outbox. Rows are written
// by Calls.Finish and Calls.Answer; the delivery side (relay and workers)
// is runtime code, keyed by callback ID; the account-scoped reads are for
// the API.
type Callbacks struct{ db *DB }

// Callbacks returns the status-callback repository.
func (db *DB) Callbacks() *Callbacks { return &Callbacks{db: db} }

// writeOutbox runs out for the call sid inside tx and inserts what it
// returns, numbering them after the call's existing callbacks.
func writeOutbox(tx *gorm.DB, sid string, out OutboxFunc) error {
	if out == nil {
		return nil
	}
	var c Call
	if err := tx.Where("sid = ?", sid).Take(&c).Error; err != nil {
		return dbErr("outbox: read call "+sid, err)
	}
	var legs []Leg
	if err := tx.Where("call_sid = ?", sid).Order("seq").Find(&legs).Error; err != nil {
		return dbErr("outbox: read legs of "+sid, err)
	}
	cbs, err := out(&c, legs)
	if err != nil {
		return fmt.Errorf("outbox for call %s: %w", sid, err)
	}
	if len(cbs) == 0 {
		return nil
	}
	var last int
	if err := tx.Model(&Callback{}).Where("call_sid = ?", sid).
		Select("COALESCE(MAX(seq), 0)").Scan(&last).Error; err != nil {
		return dbErr("outbox: last seq of "+sid, err)
	}
	t := now()
	for i := range cbs {
		cb := &cbs[i]
		cb.ID = newID("cb")
		cb.AccountSID, cb.CallSID = c.AccountSID, sid
		last++
		cb.Seq = last
		cb.Status = CallbackPending
		cb.Attempts = 0
		cb.RelayedAt, cb.DeliveredAt = nil, nil
		cb.CreatedAt, cb.UpdatedAt = t, t
		if cb.URL == "" || cb.Event == "" {
			return fmt.Errorf("outbox for call %s: callback without URL or event: %w", sid, ErrInvalid)
		}
		if err := tx.Create(cb).Error; err != nil {
			return insertErr("outbox: insert callback for "+sid, err)
		}
	}
	return nil
}

// Get returns a callback whatever its account (for the delivery worker).
func (r *Callbacks) Get(ctx context.Context, id string) (*Callback, error) {
	var cb Callback
	if err := r.db.conn(ctx).Where("id = ?", id).Take(&cb).Error; err != nil {
		return nil, dbErr("get callback "+id, err)
	}
	return &cb, nil
}

// Unrelayed returns up to limit callbacks not yet handed to the delivery
// queue, oldest first.
func (r *Callbacks) Unrelayed(ctx context.Context, limit int) ([]Callback, error) {
	var out []Callback
	err := r.db.conn(ctx).Where("relayed_at IS NULL").Order("created_at, id").
		Limit(max(limit, 1)).Find(&out).Error
	if err != nil {
		return nil, dbErr("unrelayed callbacks", err)
	}
	return out, nil
}

// MarkRelayed records that the callbacks are in the delivery queue.
func (r *Callbacks) MarkRelayed(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	t := now()
	err := r.db.conn(ctx).Model(&Callback{}).Where("id IN ? AND relayed_at IS NULL", ids).
		Updates(map[string]any{"relayed_at": t, "updated_at": t}).Error
	return dbErr("mark callbacks relayed", err)
}

// RecordAttempt logs one delivery attempt and moves the callback to state
// (CallbackPending while retries remain, CallbackDelivered, or
// CallbackFailed when the queue gave up). A delivered callback stays
// delivered.
func (r *Callbacks) RecordAttempt(ctx context.Context, a *CallbackAttempt, state string) error {
	switch state {
	case CallbackPending, CallbackDelivered, CallbackFailed:
	default:
		return fmt.Errorf("record callback attempt: state %q: %w", state, ErrInvalid)
	}
	return r.db.tx(ctx, func(tx *gorm.DB) error {
		var cb Callback
		if err := tx.Where("id = ?", a.CallbackID).Take(&cb).Error; err != nil {
			return dbErr("record attempt of callback "+a.CallbackID, err)
		}
		a.ID = newID("ca")
		a.Error = storable(a.Error)
		a.AccountSID, a.CallSID = cb.AccountSID, cb.CallSID
		a.CreatedAt = cmpTime(utc(a.CreatedAt), now())
		if err := tx.Create(a).Error; err != nil {
			return insertErr("record attempt of callback "+a.CallbackID, err)
		}
		set := map[string]any{"attempts": gorm.Expr("attempts + 1"), "updated_at": now()}
		if cb.Status != CallbackDelivered {
			set["status"] = state
			if state == CallbackDelivered {
				set["delivered_at"] = a.CreatedAt
			}
		}
		return dbErr("update callback "+a.CallbackID, tx.Model(&Callback{}).Where("id = ?", cb.ID).Updates(set).Error)
	})
}

// ByCall returns the callbacks of one of the account's calls in Seq order.
func (r *Callbacks) ByCall(ctx context.Context, accountSID, callSID string) ([]Callback, error) {
	var out []Callback
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).Order("seq").Find(&out).Error
	if err != nil {
		return nil, dbErr("callbacks of call "+callSID, err)
	}
	return out, nil
}

// Attempts returns the delivery attempts for one of the account's calls,
// oldest first.
func (r *Callbacks) Attempts(ctx context.Context, accountSID, callSID string) ([]CallbackAttempt, error) {
	var out []CallbackAttempt
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).
		Order("created_at, attempt").Find(&out).Error
	if err != nil {
		return nil, dbErr("callback attempts of call "+callSID, err)
	}
	return out, nil
}

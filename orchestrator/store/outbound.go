package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// ErrBusy: a contact to hold for a new call is held by another live call.
var ErrBusy = errors.New("contact is on another call")

// ErrIdempotencyMismatch: an Idempotency-Key was reused with a different
// request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// CreateOptions are the extras of CreateWith.
type CreateOptions struct {
	// IdempotencyKey, if set, makes the creation happen once per key and
	// account: a repeat with the same RequestHash returns the call the
	// first request created (and reports replay); a different RequestHash
	// is ErrIdempotencyMismatch.
	IdempotencyKey string
	RequestHash    string
	// Hold lists contacts (numbers, SIP URIs) the call holds until it
	// finishes; one held by another live call is ErrBusy. A hold whose
	// call has finished, or whose lease ran out (HoldFor after it was
	// taken: the instance that took it died), is taken over.
	Hold    []string
	HoldFor time.Duration
}

// CreateWith inserts a call as Create does, with an idempotency key and
// contact holds in the same transaction. It returns the call that the
// request stands for (c itself, or on a replay the original) and whether
// it is a replay.
func (r *Calls) CreateWith(ctx context.Context, c *Call, o CreateOptions) (*Call, bool, error) {
	for attempt := 0; ; attempt++ {
		got, replay, err := r.createWith(ctx, c, o)
		// Two requests with one new key raced: the loser's insert of the
		// key conflicted; read the winner's call.
		if errors.Is(err, errKeyRace) && attempt == 0 {
			continue
		}
		return got, replay, err
	}
}

var errKeyRace = errors.New("idempotency key taken concurrently")

func (r *Calls) createWith(ctx context.Context, c *Call, o CreateOptions) (*Call, bool, error) {
	var (
		out    = c
		replay bool
	)
	err := r.db.InTx(ctx, func(tx *DB) error {
		g := tx.conn(ctx)
		if o.IdempotencyKey != "" {
			var k IdempotencyKey
			err := g.Where("account_sid = ? AND idem_key = ?", c.AccountSID, o.IdempotencyKey).Take(&k).Error
			switch {
			case err == nil:
				if k.RequestHash != o.RequestHash {
					return fmt.Errorf("create call: key %q: %w", o.IdempotencyKey, ErrIdempotencyMismatch)
				}
				var orig Call
				if err := g.Where("sid = ? AND account_sid = ?", k.CallSID, c.AccountSID).Take(&orig).Error; err != nil {
					return dbErr("create call: replay "+k.CallSID, err)
				}
				out, replay = &orig, true
				return nil
			case !errNoRows(err):
				return dbErr("create call: idempotency key", err)
			}
		}
		if err := tx.Calls().Create(ctx, c); err != nil {
			return err
		}
		if o.IdempotencyKey != "" {
			k := IdempotencyKey{AccountSID: c.AccountSID, Key: o.IdempotencyKey, RequestHash: o.RequestHash, CallSID: c.SID, CreatedAt: now()}
			res := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&k)
			if res.Error != nil {
				return dbErr("create call: idempotency key", res.Error)
			}
			if res.RowsAffected == 0 {
				return errKeyRace
			}
		}
		for _, contact := range o.Hold {
			key, err := holdKey(g, c.AccountSID, contact)
			if err != nil {
				return err
			}
			if err := hold(g, c.AccountSID, key, c.SID, "", o.HoldFor); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, replay, nil
}

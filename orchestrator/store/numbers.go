package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Numbers stores ExoPhones and routes inbound calls.
type Numbers struct{ db *DB }

// Route is what an inbound call needs to start: whose number was dialed
// and the published flow version to run.
type Route struct {
	AccountSID   string
	Number       string
	FriendlyName string
	FlowID       string
	Version      int    // the live version, pinned for the whole call
	Document     []byte // that version's flow document
}

// Create adds a number to an account. number must be E.164; a number that
// already exists (in any account) is ErrConflict, an unknown account
// ErrNotFound.
func (r *Numbers) Create(ctx context.Context, accountSID, number, friendlyName string) (*ExoPhone, error) {
	if !ValidE164(number) {
		return nil, fmt.Errorf("create number %q: not E.164: %w", number, ErrInvalid)
	}
	t := now()
	p := &ExoPhone{Number: number, AccountSID: accountSID, FriendlyName: strings.TrimSpace(friendlyName), CreatedAt: t, UpdatedAt: t}
	if err := r.db.conn(ctx).Create(p).Error; err != nil {
		return nil, insertErr("create number "+number, err)
	}
	return p, nil
}

// Get returns one of the account's numbers.
func (r *Numbers) Get(ctx context.Context, accountSID, number string) (*ExoPhone, error) {
	var p ExoPhone
	if err := r.db.read(ctx).Where("number = ? AND account_sid = ?", number, accountSID).Take(&p).Error; err != nil {
		return nil, dbErr("get number "+number, err)
	}
	return &p, nil
}

// Match finds the account's ExoPhone a number names as people write it:
// E.164 (+918047000000), without the + (918047000000), with the 00
// international prefix (00918047000000), or in national form
// (08047000000): the ExoPhone whose digits are a 1-3 digit country
// code followed by the national digits without their trunk zeros. No
// match, or more than one national one, is ErrNotFound.
func (r *Numbers) Match(ctx context.Context, accountSID, number string) (*ExoPhone, error) {
	n := strings.TrimSpace(number)
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("match number %q: %w", number, ErrNotFound)
	}
	if rest, ok := strings.CutPrefix(digits, "00"); ok && !strings.HasPrefix(n, "+") {
		if p, err := r.Get(ctx, accountSID, "+"+rest); err == nil || !errors.Is(err, ErrNotFound) {
			return p, err
		}
	}
	if strings.HasPrefix(n, "+") || digits[0] != '0' {
		p, err := r.Get(ctx, accountSID, "+"+digits)
		if err == nil || !errors.Is(err, ErrNotFound) || strings.HasPrefix(n, "+") {
			return p, err
		}
	}
	national := strings.TrimLeft(digits, "0")
	if len(national) < 6 {
		return nil, fmt.Errorf("match number %q: %w", number, ErrNotFound)
	}
	all, err := r.List(ctx, accountSID)
	if err != nil {
		return nil, err
	}
	var found *ExoPhone
	for i := range all {
		d := strings.TrimPrefix(all[i].Number, "+")
		if cc := len(d) - len(national); cc >= 1 && cc <= 3 && strings.HasSuffix(d, national) {
			if found != nil {
				return nil, fmt.Errorf("match number %q: ambiguous: %w", number, ErrNotFound)
			}
			found = &all[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("match number %q: %w", number, ErrNotFound)
	}
	return found, nil
}

// List returns the account's numbers ordered by number.
func (r *Numbers) List(ctx context.Context, accountSID string) ([]ExoPhone, error) {
	var out []ExoPhone
	if err := r.db.read(ctx).Where("account_sid = ?", accountSID).Order("number").Find(&out).Error; err != nil {
		return nil, dbErr("list numbers", err)
	}
	return out, nil
}

// AssignFlow points the number at a flow, or detaches it when flowID is
// nil. The flow must belong to the same account (another account's flow is
// ErrNotFound) and be published (ErrNotPublished).
func (r *Numbers) AssignFlow(ctx context.Context, accountSID, number string, flowID *string) error {
	op := "assign flow to " + number
	return r.db.tx(ctx, func(tx *gorm.DB) error {
		if flowID != nil {
			var f Flow
			// FOR SHARE: the flow cannot be deleted or unpublished
			// between this check and the update (the FK would catch a
			// delete anyway).
			err := tx.Clauses(clause.Locking{Strength: "SHARE"}).
				Where("id = ? AND account_sid = ?", *flowID, accountSID).Take(&f).Error
			if err != nil {
				return dbErr(op+": flow "+*flowID, err)
			}
			if f.LiveVersion == 0 {
				return fmt.Errorf("%s: flow %s: %w", op, f.ID, ErrNotPublished)
			}
		}
		res := tx.Model(&ExoPhone{}).Where("number = ? AND account_sid = ?", number, accountSID).
			Updates(map[string]any{"flow_id": flowID, "updated_at": now()})
		if res.Error != nil {
			return insertErr(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
		return nil
	})
}

// Rename sets the friendly name of one of the account's numbers.
func (r *Numbers) Rename(ctx context.Context, accountSID, number, friendlyName string) error {
	res := r.db.conn(ctx).Model(&ExoPhone{}).Where("number = ? AND account_sid = ?", number, accountSID).
		Updates(map[string]any{"friendly_name": storable(friendlyName), "updated_at": now()})
	if res.Error != nil {
		return insertErr("rename number "+number, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("rename number %s: %w", number, ErrNotFound)
	}
	return nil
}

// Delete removes one of the account's numbers. Calls made through it keep
// their records.
func (r *Numbers) Delete(ctx context.Context, accountSID, number string) error {
	res := r.db.conn(ctx).Where("number = ? AND account_sid = ?", number, accountSID).Delete(&ExoPhone{})
	if res.Error != nil {
		return dbErr("delete number "+number, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete number %s: %w", number, ErrNotFound)
	}
	return nil
}

// Route resolves a dialed number for an inbound call, in one query. It is
// not account-scoped: the number is what identifies the account. Errors:
// ErrNotFound for a number nobody owns, ErrNoFlow when no flow is
// assigned, ErrNotPublished when the flow has no live version.
func (r *Numbers) Route(ctx context.Context, dialed string) (*Route, error) {
	// Scanned through GORM, not Row(): with prepared statements, Row()
	// hands back an empty sql.Row when the statement cannot be prepared,
	// and scanning that panics.
	var res struct {
		Number       string         `gorm:"column:number"`
		AccountSID   string         `gorm:"column:account_sid"`
		FriendlyName string         `gorm:"column:friendly_name"`
		FlowID       sql.NullString `gorm:"column:flow_id"`
		LiveVersion  sql.NullInt64  `gorm:"column:live_version"`
		Document     sql.NullString `gorm:"column:document"`
	}
	q := r.db.read(ctx).Raw(`
		SELECT e.number, e.account_sid, e.friendly_name, e.flow_id, f.live_version, v.document
		FROM exophones e
		LEFT JOIN flows f ON f.id = e.flow_id AND f.account_sid = e.account_sid
		LEFT JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.live_version
		WHERE e.number = ?`, dialed).Scan(&res)
	if q.Error != nil {
		return nil, dbErr("route "+dialed, q.Error)
	}
	if q.RowsAffected == 0 {
		return nil, fmt.Errorf("route %s: %w", dialed, ErrNotFound)
	}
	rt := Route{Number: res.Number, AccountSID: res.AccountSID, FriendlyName: res.FriendlyName}
	flowID, live, doc := res.FlowID, res.LiveVersion, res.Document
	if !flowID.Valid {
		return nil, fmt.Errorf("route %s: %w", dialed, ErrNoFlow)
	}
	rt.FlowID = flowID.String
	if !live.Valid || live.Int64 == 0 || !doc.Valid {
		return nil, fmt.Errorf("route %s: flow %s: %w", dialed, rt.FlowID, ErrNotPublished)
	}
	rt.Version = int(live.Int64)
	rt.Document = []byte(doc.String)
	return &rt, nil
}

package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MaxFlowName bounds a flow's name (characters): the management API and
// the console refuse longer ones.
const MaxFlowName = 200

// Flows stores flows: a mutable draft per flow and its immutable published
// versions. Documents are stored as given; validating them is the caller's
// job.
type Flows struct{ db *DB }

// Page selects a slice of a list: Limit rows (default 50, at most 1000)
// after skipping Offset.
type Page struct {
	Limit  int
	Offset int
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 1000:
		return 1000
	}
	return p.Limit
}

// Create makes an unpublished flow with draft as its document.
func (r *Flows) Create(ctx context.Context, accountSID, name string, draft []byte) (*Flow, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("create flow: empty name: %w", ErrInvalid)
	}
	t := now()
	f := &Flow{ID: newID("fl"), AccountSID: accountSID, Name: name, Draft: string(draft), CreatedAt: t, UpdatedAt: t}
	if err := r.db.conn(ctx).Create(f).Error; err != nil {
		return nil, insertErr("create flow", err)
	}
	return f, nil
}

// Get returns one of the account's flows.
func (r *Flows) Get(ctx context.Context, accountSID, flowID string) (*Flow, error) {
	var f Flow
	if err := r.db.read(ctx).Where("id = ? AND account_sid = ?", flowID, accountSID).Take(&f).Error; err != nil {
		return nil, dbErr("get flow "+flowID, err)
	}
	return &f, nil
}

// List returns a page of the account's flows, oldest first, and how many
// flows the account has in all.
func (r *Flows) List(ctx context.Context, accountSID string, page Page) ([]Flow, int64, error) {
	var (
		out   []Flow
		total int64
	)
	if err := r.db.read(ctx).Model(&Flow{}).Where("account_sid = ?", accountSID).Count(&total).Error; err != nil {
		return nil, 0, dbErr("count flows", err)
	}
	err := r.db.read(ctx).Where("account_sid = ?", accountSID).Order("created_at, id").
		Limit(page.limit()).Offset(max(page.Offset, 0)).Find(&out).Error
	if err != nil {
		return nil, 0, dbErr("list flows", err)
	}
	return out, total, nil
}

// UpdateDraft replaces the flow's draft and returns the flow.
func (r *Flows) UpdateDraft(ctx context.Context, accountSID, flowID string, draft []byte) (*Flow, error) {
	return r.Update(ctx, accountSID, flowID, FlowUpdate{Draft: draft})
}

// FlowUpdate is what Update changes: the fields that are set.
type FlowUpdate struct {
	Name  string // "" keeps the name
	Draft []byte // nil keeps the draft
}

// Update changes the flow's name and/or draft in one statement and returns
// the flow. Published versions are untouched.
func (r *Flows) Update(ctx context.Context, accountSID, flowID string, u FlowUpdate) (*Flow, error) {
	set := map[string]any{"updated_at": now()}
	if u.Name != "" {
		set["name"] = u.Name
	}
	if u.Draft != nil {
		set["draft"] = string(u.Draft)
	}
	var f *Flow
	err := r.db.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Flow{}).Where("id = ? AND account_sid = ?", flowID, accountSID).Updates(set)
		if res.Error != nil {
			return dbErr("update flow "+flowID, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("update flow %s: %w", flowID, ErrNotFound)
		}
		var got Flow
		if err := tx.Where("id = ?", flowID).Take(&got).Error; err != nil {
			return dbErr("update flow "+flowID, err)
		}
		f = &got
		return nil
	})
	return f, err
}

// Publish freezes the current draft as a new version (the highest so far
// plus one) and makes it live, in one transaction. The flow row is locked
// first, so concurrent publishes of one flow get distinct, consecutive
// versions.
func (r *Flows) Publish(ctx context.Context, accountSID, flowID string) (*FlowVersion, error) {
	op := "publish flow " + flowID
	var v *FlowVersion
	err := r.db.tx(ctx, func(tx *gorm.DB) error {
		var f Flow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("id = ? AND account_sid = ?", flowID, accountSID).Take(&f).Error
		if err != nil {
			return dbErr(op, err)
		}
		var latest int
		if err := tx.Model(&FlowVersion{}).Where("flow_id = ?", f.ID).
			Select("COALESCE(MAX(version), 0)").Scan(&latest).Error; err != nil {
			return dbErr(op, err)
		}
		t := now()
		v = &FlowVersion{FlowID: f.ID, Version: latest + 1, AccountSID: f.AccountSID, Document: f.Draft, PublishedAt: t}
		if err := tx.Create(v).Error; err != nil {
			return dbErr(op, err)
		}
		return dbErr(op, tx.Model(&Flow{}).Where("id = ?", f.ID).
			Updates(map[string]any{"live_version": v.Version, "updated_at": t}).Error)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Versions lists the flow's published versions, oldest first. An unknown
// flow (or another account's) is ErrNotFound.
func (r *Flows) Versions(ctx context.Context, accountSID, flowID string) ([]FlowVersion, error) {
	if err := notFoundUnlessExists(ctx, r.db, "flow versions "+flowID, Flow{}.TableName(), "id = ? AND account_sid = ?", flowID, accountSID); err != nil {
		return nil, err
	}
	var out []FlowVersion
	err := r.db.read(ctx).Where("flow_id = ? AND account_sid = ?", flowID, accountSID).Order("version").Find(&out).Error
	if err != nil {
		return nil, dbErr("flow versions "+flowID, err)
	}
	return out, nil
}

// Version returns one published version of the flow.
func (r *Flows) Version(ctx context.Context, accountSID, flowID string, version int) (*FlowVersion, error) {
	var v FlowVersion
	err := r.db.read(ctx).Where("flow_id = ? AND account_sid = ? AND version = ?", flowID, accountSID, version).Take(&v).Error
	if err != nil {
		return nil, dbErr(fmt.Sprintf("flow %s version %d", flowID, version), err)
	}
	return &v, nil
}

// Duplicate copies the flow's draft into a new, unpublished flow.
func (r *Flows) Duplicate(ctx context.Context, accountSID, flowID, newName string) (*Flow, error) {
	newName = strings.TrimSpace(newName)
	if newName == "" {
		return nil, fmt.Errorf("duplicate flow: empty name: %w", ErrInvalid)
	}
	var out *Flow
	err := r.db.tx(ctx, func(tx *gorm.DB) error {
		var src Flow
		if err := tx.Where("id = ? AND account_sid = ?", flowID, accountSID).Take(&src).Error; err != nil {
			return dbErr("duplicate flow "+flowID, err)
		}
		t := now()
		out = &Flow{ID: newID("fl"), AccountSID: accountSID, Name: newName, Draft: src.Draft, CreatedAt: t, UpdatedAt: t}
		return dbErr("duplicate flow "+flowID, tx.Create(out).Error)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the flow and its versions. It is refused with
// ErrFlowAssigned while any number points at the flow.
func (r *Flows) Delete(ctx context.Context, accountSID, flowID string) error {
	op := "delete flow " + flowID
	return r.db.tx(ctx, func(tx *gorm.DB) error {
		var f Flow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("id = ? AND account_sid = ?", flowID, accountSID).Take(&f).Error
		if err != nil {
			return dbErr(op, err)
		}
		var n int64
		if err := tx.Model(&ExoPhone{}).Where("flow_id = ?", f.ID).Count(&n).Error; err != nil {
			return dbErr(op, err)
		}
		if n > 0 {
			return fmt.Errorf("%s: %d number(s): %w", op, n, ErrFlowAssigned)
		}
		if err := tx.Where("flow_id = ?", f.ID).Delete(&FlowVersion{}).Error; err != nil {
			return dbErr(op, err)
		}
		if err := tx.Where("id = ?", f.ID).Delete(&Flow{}).Error; err != nil {
			if isForeignKeyViolation(err) {
				return fmt.Errorf("%s: %w", op, ErrFlowAssigned)
			}
			return dbErr(op, err)
		}
		return nil
	})
}

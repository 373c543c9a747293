package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Agents keeps agent state shared by every Switchyard instance on the
// database: which contacts are on a call (holds), the agent a caller last
// spoke to (sticky agents) and the callers waiting for one (queues). Every
// decision is a conditional write; nothing is kept in memory.
type Agents struct{ db *DB }

// Agents returns the agent state.
func (db *DB) Agents() *Agents { return &Agents{db: db} }

// Target is a destination resolved for state management.
type Target struct {
	// Dest is the destination as given.
	Dest string
	// Key is what is held while Dest is on a call: the user's key for a
	// user's device (a user is busy as a whole), else the contact's
	// canonical form.
	Key string
	// UserSID is set for a user's device.
	UserSID string
	// Available is false for a user who switched themselves off, or whose
	// device it is switched off.
	Available bool
}

// IsUser reports whether the destination is a user's device; users are
// always state-managed.
func (t Target) IsUser() bool { return t.UserSID != "" }

// Resolve maps destinations to their hold keys and users, in one query.
// A destination that is not a valid contact keeps its text as its key.
func (a *Agents) Resolve(ctx context.Context, accountSID string, dests []string) ([]Target, error) {
	out := make([]Target, len(dests))
	keys := make([]string, 0, len(dests))
	for i, d := range dests {
		k, ok := ContactKey(d)
		if !ok {
			k = d
		}
		out[i] = Target{Dest: d, Key: k, Available: true}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return out, nil
	}
	type row struct {
		Contact, UserSID string
		Available        bool
	}
	var rows []row
	args := make([]any, 0, 1+len(keys))
	args = append(args, accountSID)
	for _, k := range keys {
		args = append(args, k)
	}
	// Every call that connects asks this: plain SQL, as the call writes.
	err := a.db.query(ctx, `SELECT d.contact, d.user_sid, u.available AND d.available FROM user_devices d
		JOIN users u ON u.sid = d.user_sid AND u.account_sid = d.account_sid
		WHERE d.account_sid = ? AND d.contact IN (`+placeholders(len(keys))+`)`, args, func(scan func(...any) error) error {
		var r row
		if err := scan(&r.Contact, &r.UserSID, &r.Available); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, dbErr("resolve destinations", err)
	}
	users := make(map[string]int, len(rows))
	for i, r := range rows {
		users[r.Contact] = i
	}
	for i := range out {
		if j, ok := users[out[i].Key]; ok {
			out[i].UserSID = rows[j].UserSID
			out[i].Available = rows[j].Available
			out[i].Key = UserLockKey(rows[j].UserSID)
		}
	}
	return out, nil
}

// Hold takes key for a leg of call sid until the leg ends (Release), the
// call ends, or the lease runs out without a Refresh (its instance died).
// A key held by another live call is ErrBusy; the call itself may take its
// own key again.
func (a *Agents) Hold(ctx context.Context, accountSID, key, callSID, legUUID string, lease time.Duration) error {
	return hold(a.db.conn(ctx), accountSID, key, callSID, legUUID, lease)
}

// Release frees what a leg held.
func (a *Agents) Release(ctx context.Context, legUUID string) error {
	if legUUID == "" {
		return nil
	}
	if err := a.db.conn(ctx).Where("leg_uuid = ?", legUUID).Delete(&ContactLock{}).Error; err != nil {
		return dbErr("release leg "+legUUID, err)
	}
	return nil
}

// Refresh extends the holds and queue places of live calls to lease from
// now (never shortening one): the instance running them is alive.
func (a *Agents) Refresh(ctx context.Context, callSIDs []string, lease time.Duration) error {
	if len(callSIDs) == 0 {
		return nil
	}
	until := now().Add(lease)
	return a.db.tx(ctx, func(g *gorm.DB) error {
		if err := g.Model(&ContactLock{}).Where("call_sid IN ? AND expires_at < ?", callSIDs, until).
			Update("expires_at", until).Error; err != nil {
			return dbErr("refresh holds", err)
		}
		if err := g.Model(&QueueEntry{}).Where("call_sid IN ? AND expires_at < ?", callSIDs, until).
			Update("expires_at", until).Error; err != nil {
			return dbErr("refresh queue places", err)
		}
		return nil
	})
}

// Holder returns the call holding key now, or "" when it is free.
func (a *Agents) Holder(ctx context.Context, accountSID, key string) (string, error) {
	held, err := a.Holders(ctx, accountSID, []string{key})
	return held[key], err
}

// Holders returns, for each of keys held now, the call holding it (a
// hold counts while its lease runs and its call is live), in one query.
func (a *Agents) Holders(ctx context.Context, accountSID string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	var rows []ContactLock
	err := a.db.conn(ctx).Raw(`
		SELECT l.contact, l.call_sid
		FROM contact_locks l
		JOIN calls c ON c.sid = l.call_sid AND c.account_sid = l.account_sid
		WHERE l.account_sid = ? AND l.contact IN ? AND l.expires_at > ? AND c.end_time IS NULL`,
		accountSID, keys, now()).Scan(&rows).Error
	if err != nil {
		return nil, dbErr("holders", err)
	}
	for _, l := range rows {
		out[l.Contact] = l.CallSID
	}
	return out, nil
}

// Sticky returns the contact a caller last spoke to through scope, if the
// period has not run out at t.
func (a *Agents) Sticky(ctx context.Context, accountSID, scope, caller string, t time.Time) (string, error) {
	var s StickyAgent
	err := a.db.read(ctx).Where("account_sid = ? AND scope = ? AND caller = ? AND expires_at > ?",
		accountSID, scope, callerKey(caller), utc(t)).Take(&s).Error
	switch {
	case errNoRows(err):
		return "", nil
	case err != nil:
		return "", dbErr("sticky agent", err)
	}
	return s.Contact, nil
}

// Stick remembers that caller spoke to contact through scope, until until.
func (a *Agents) Stick(ctx context.Context, accountSID, scope, caller, contact string, until time.Time) error {
	s := StickyAgent{AccountSID: accountSID, Scope: scope, Caller: callerKey(caller), Contact: contact,
		ExpiresAt: utc(until), UpdatedAt: now()}
	err := a.db.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_sid"}, {Name: "scope"}, {Name: "caller"}},
		DoUpdates: clause.AssignmentColumns([]string{"contact", "expires_at", "updated_at"}),
	}).Create(&s).Error
	if err != nil {
		return dbErr("stick agent", err)
	}
	return nil
}

// callerKey is the form a caller is remembered under.
func callerKey(caller string) string {
	if k, ok := ContactKey(caller); ok {
		return k
	}
	return caller
}

// Enqueue puts a call at the back of queue key (once; a second Enqueue
// keeps its place).
func (a *Agents) Enqueue(ctx context.Context, accountSID, key, callSID string, lease time.Duration) error {
	t := now()
	e := QueueEntry{CallSID: callSID, AccountSID: accountSID, QueueKey: key, EnqueuedAt: t, ExpiresAt: t.Add(lease)}
	if err := a.db.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&e).Error; err != nil {
		return dbErr("enqueue "+callSID, err)
	}
	return nil
}

// Dequeue takes a call out of its queue.
func (a *Agents) Dequeue(ctx context.Context, callSID string) error {
	if err := a.db.conn(ctx).Where("call_sid = ?", callSID).Delete(&QueueEntry{}).Error; err != nil {
		return dbErr("dequeue "+callSID, err)
	}
	return nil
}

// Ahead counts the callers waiting in front of callSID in its queue
// (0: it is first). Places of calls that ended, or whose instance died,
// do not count. A call not queued is ErrNotFound.
func (a *Agents) Ahead(ctx context.Context, callSID string) (int, error) {
	g := a.db.conn(ctx)
	var me QueueEntry
	if err := g.Where("call_sid = ?", callSID).Take(&me).Error; err != nil {
		return 0, dbErr("queue place of "+callSID, err)
	}
	var n int64
	err := g.Model(&QueueEntry{}).
		Where("account_sid = ? AND queue_key = ? AND call_sid <> ?", me.AccountSID, me.QueueKey, callSID).
		Where("enqueued_at < ? OR (enqueued_at = ? AND call_sid < ?)", me.EnqueuedAt, me.EnqueuedAt, callSID).
		Where("expires_at > ?", now()).
		Where("EXISTS (?)", g.Session(&gorm.Session{NewDB: true}).Model(&Call{}).Select("1").
			Where("calls.sid = queue_entries.call_sid AND calls.end_time IS NULL")).
		Count(&n).Error
	if err != nil {
		return 0, dbErr("queue place of "+callSID, err)
	}
	return int(n), nil
}

// hold takes key for call sid (and leg, "" for the whole call), or takes
// over a stale hold: one whose call has ended or whose lease ran out.
func hold(g *gorm.DB, account, key, sid, leg string, lease time.Duration) error {
	if lease <= 0 {
		lease = 5 * time.Hour
	}
	t := now()
	l := ContactLock{AccountSID: account, Contact: key, CallSID: sid, LegUUID: leg, ExpiresAt: t.Add(lease), CreatedAt: t}
	res := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&l)
	if res.Error != nil {
		return dbErr("hold "+key, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	// Held: take it over only if the holder is gone (or is this call).
	// The conditional update is the arbiter between racing takers.
	live := g.Session(&gorm.Session{NewDB: true}).Model(&Call{}).Select("1").
		Where("calls.sid = contact_locks.call_sid AND calls.end_time IS NULL")
	res = g.Model(&ContactLock{}).
		Where("account_sid = ? AND contact = ?", account, key).
		Where("call_sid = ? OR expires_at < ? OR NOT EXISTS (?)", sid, t, live).
		Updates(map[string]any{"call_sid": sid, "leg_uuid": leg, "expires_at": l.ExpiresAt, "created_at": t})
	if res.Error != nil {
		return dbErr("hold "+key, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("hold %s: %w", key, ErrBusy)
	}
	return nil
}

// holdKey is the key a contact is held under: its user's when it is a
// user's device.
func holdKey(g *gorm.DB, account, contact string) (string, error) {
	k, ok := ContactKey(contact)
	if !ok {
		return contact, nil
	}
	var d UserDevice
	err := g.Where("account_sid = ? AND contact = ?", account, k).Take(&d).Error
	switch {
	case errNoRows(err):
		return k, nil
	case err != nil:
		return "", dbErr("hold "+contact, err)
	}
	return UserLockKey(d.UserSID), nil
}

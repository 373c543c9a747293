package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Calls stores call records. Reads are account-scoped. The runtime writes
// (UpdateStatus, MarkAnswered, SetDigits, Finish) are keyed by SID alone:
// the goroutine that owns the call is their only caller.
type Calls struct{ db *DB }

// CallFinal is the final record of a call, written once by Finish.
type CallFinal struct {
	Status               Status // must be terminal
	AnswerTime           *time.Time
	EndTime              time.Time // zero means now
	Duration             int       // seconds
	ConversationDuration int       // seconds
	HangupCause          string
	RecordingURL         string  // kept as is when empty
	Price                *string // kept as is when nil
	// AppletPath is the applets the flow ran through (kept as is when
	// empty).
	AppletPath AppletPath
	// Outbox, if set, builds the call's terminal status callbacks in the
	// same transaction (only when this Finish is the one that applies).
	Outbox OutboxFunc
	// Released says the call holds no agent lock and no queue place:
	// whoever finishes it released them, or never took any. Otherwise
	// Finish releases whatever the call still holds.
	Released bool
}

// CallFilter selects calls for List. Zero fields do not filter.
type CallFilter struct {
	SIDs         []string
	From         []string
	To           []string
	Statuses     []Status
	Direction    string
	PhoneNumbers []string
	CreatedFrom  time.Time // created_at >= CreatedFrom
	CreatedTo    time.Time // created_at <= CreatedTo
	DurationMin  *int      // duration >= DurationMin
	DurationMax  *int      // duration <= DurationMax
	// Finished keeps only calls whose final record is written (end_time
	// set): Exotel's bulk call details leave out calls in progress.
	Finished bool
	// PriceMin and PriceMax bound the price (numerically); a call without
	// a price never matches either.
	PriceMin *float64 // price >= PriceMin
	PriceMax *float64 // price <= PriceMax
	// Limit is the page size: default 50, at most 1000.
	Limit int
	// SortDesc lists newest first. Ties on created_at are ordered by SID.
	SortDesc bool
	// After and Before are cursors from a previous page's Next and Prev:
	// After returns the page that follows, Before the one that precedes.
	// At most one may be set.
	After  string
	Before string
}

// CallPage is one page of List.
type CallPage struct {
	Calls []Call
	// Total counts every call matching the filter, ignoring paging.
	Total int64
	// Next is the cursor for the following page (CallFilter.After), empty
	// on the last page; Prev the cursor for the preceding page
	// (CallFilter.Before), empty on the first.
	Next string
	Prev string
}

// Create inserts a call. It must run before the first command for the call
// is sent. A missing SID is generated (NewSID); Status defaults to queued,
// CreatedAt and UpdatedAt to now, StartTime to CreatedAt. A taken SID is
// ErrConflict, an unknown account ErrNotFound.
func (r *Calls) Create(ctx context.Context, c *Call) error {
	if c.SID == "" {
		c.SID = NewSID()
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("create call: %w", err)
	}
	t := now()
	c.CreatedAt = cmpTime(utc(c.CreatedAt), t)
	c.UpdatedAt = cmpTime(utc(c.UpdatedAt), c.CreatedAt)
	c.StartTime = cmpTime(utc(c.StartTime), c.CreatedAt)
	c.AnswerTime, c.EndTime = utcPtr(c.AnswerTime), utcPtr(c.EndTime)
	_, err := r.db.exec(ctx, insertCall, c.SID, c.AccountSID, c.ParentCallSID, c.Direction, c.From, c.To,
		c.PhoneNumber, c.FlowID, c.FlowVersion, string(c.Status), c.StartTime, c.AnswerTime, c.EndTime,
		c.Duration, c.ConversationDuration, c.HangupCause, c.RecordingURL, c.CustomField, c.Digits, c.Node,
		c.Price, c.CallType, c.Outbound, c.InstanceID, c.StatusCallback, c.StatusCallbackEvents,
		c.StatusCallbackURLs, c.StatusCallbackContentType, c.CreatedAt, c.UpdatedAt, c.AppletPath)
	return insertErr("create call "+c.SID, err)
}

// insertCall writes every column of a Call, as GORM's Create would (a
// test holds the list to the model's).
const insertCall = `INSERT INTO calls (sid, account_sid, parent_call_sid, direction, from_number, to_number,
	phone_number, flow_id, flow_version, status, start_time, answer_time, end_time,
	duration, conversation_duration, hangup_cause, recording_url, custom_field, digits, node,
	price, call_type, outbound, instance_id, status_callback, status_callback_events,
	status_callback_urls, status_callback_content_type, created_at, updated_at, applet_path)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (c *Call) validate() error {
	if !ValidSID(c.SID) {
		return fmt.Errorf("SID %q: %w", c.SID, ErrInvalid)
	}
	if c.AccountSID == "" {
		return fmt.Errorf("call %s: no account: %w", c.SID, ErrInvalid)
	}
	if c.Status == "" {
		c.Status = Queued
	}
	if !c.Status.Valid() {
		return fmt.Errorf("call %s: status %q: %w", c.SID, c.Status, ErrInvalid)
	}
	if !validCallDirection(c.Direction) {
		return fmt.Errorf("call %s: direction %q: %w", c.SID, c.Direction, ErrInvalid)
	}
	return nil
}

// cmpTime returns t, or def when t is zero.
func cmpTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// Get returns one of the account's calls.
func (r *Calls) Get(ctx context.Context, accountSID, sid string) (*Call, error) {
	var c Call
	if err := r.db.read(ctx).Where("sid = ? AND account_sid = ?", sid, accountSID).Take(&c).Error; err != nil {
		return nil, dbErr("get call "+sid, err)
	}
	return &c, nil
}

// BySID returns a call whatever its account. It is for operators' tools
// (switchyard call show) and the runtime, never for tenant-facing code.
func (r *Calls) BySID(ctx context.Context, sid string) (*Call, error) {
	var c Call
	if err := r.db.read(ctx).Where("sid = ?", sid).Take(&c).Error; err != nil {
		return nil, dbErr("get call "+sid, err)
	}
	return &c, nil
}

// Unfinished returns up to limit calls, of any account, that have no final
// record and were created before cutoff: after a crash these are the calls
// to reconcile with the media nodes. They come in (created_at, sid) order,
// after the call after when it is set, so a caller pages through them all
// however many are still running. It is for the runtime only.
func (r *Calls) Unfinished(ctx context.Context, cutoff time.Time, after *Call, limit int) ([]Call, error) {
	return callPage(r.db.conn(ctx).Where("end_time IS NULL AND created_at < ?", utc(cutoff)), after, limit, "unfinished calls")
}

// callPage reads up to limit calls of q in (created_at, sid) order, after
// the call after when it is set: the pages of a pass over calls, stable
// however many arrive meanwhile.
func callPage(q *gorm.DB, after *Call, limit int, op string) ([]Call, error) {
	var out []Call
	if after != nil {
		at := utc(after.CreatedAt)
		q = q.Where("(created_at > ? OR (created_at = ? AND sid > ?))", at, at, after.SID)
	}
	if err := q.Order("created_at, sid").Limit(max(limit, 1)).Find(&out).Error; err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// List returns a page of the account's calls matching f, ordered by
// (created_at, sid) and paged by keyset, so pages stay stable while new
// calls arrive.
func (r *Calls) List(ctx context.Context, accountSID string, f CallFilter) (*CallPage, error) {
	if f.After != "" && f.Before != "" {
		return nil, fmt.Errorf("list calls: both After and Before: %w", ErrInvalid)
	}
	var (
		cur      *callCursor
		backward = f.Before != ""
	)
	if raw := f.After + f.Before; raw != "" {
		c, err := parseCallCursor(raw)
		if err != nil {
			return nil, fmt.Errorf("list calls: %w", err)
		}
		cur = &c
	}
	limit := Page{Limit: f.Limit}.limit()

	page := &CallPage{}
	if err := f.apply(r.db.read(ctx).Model(&Call{}), accountSID).Count(&page.Total).Error; err != nil {
		return nil, dbErr("count calls", err)
	}

	// Walk in listing order, or against it when going Before; fetch one
	// extra row to learn whether there is more in that direction.
	desc := f.SortDesc != backward
	q := f.apply(r.db.read(ctx), accountSID)
	if cur != nil {
		op := ">"
		if desc {
			op = "<"
		}
		q = q.Where("(created_at, sid) "+op+" (?, ?)", cur.created, cur.sid)
	}
	order := "created_at ASC, sid ASC"
	if desc {
		order = "created_at DESC, sid DESC"
	}
	var rows []Call
	if err := q.Order(order).Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbErr("list calls", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if backward {
		slices.Reverse(rows)
	}
	page.Calls = rows
	if len(rows) > 0 {
		first, last := rows[0], rows[len(rows)-1]
		// Going forward, there is a previous page iff we started from a
		// cursor; going backward, there is a next page (the cursor's).
		if (backward && more) || (!backward && cur != nil) {
			page.Prev = callCursor{first.CreatedAt, first.SID}.String()
		}
		if (!backward && more) || backward {
			page.Next = callCursor{last.CreatedAt, last.SID}.String()
		}
	}
	return page, nil
}

// apply adds the filter's conditions (not the cursor) to q.
func (f CallFilter) apply(q *gorm.DB, accountSID string) *gorm.DB {
	q = q.Where("account_sid = ?", accountSID)
	if len(f.SIDs) > 0 {
		q = q.Where("sid IN ?", f.SIDs)
	}
	if len(f.From) > 0 {
		q = q.Where("from_number IN ?", f.From)
	}
	if len(f.To) > 0 {
		q = q.Where("to_number IN ?", f.To)
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		q = q.Where("status IN ?", st)
	}
	if f.Direction != "" {
		q = q.Where("direction = ?", f.Direction)
	}
	if len(f.PhoneNumbers) > 0 {
		q = q.Where("phone_number IN ?", f.PhoneNumbers)
	}
	if !f.CreatedFrom.IsZero() {
		q = q.Where("created_at >= ?", utc(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		q = q.Where("created_at <= ?", utc(f.CreatedTo))
	}
	if f.DurationMin != nil {
		q = q.Where("duration >= ?", *f.DurationMin)
	}
	if f.DurationMax != nil {
		q = q.Where("duration <= ?", *f.DurationMax)
	}
	if f.Finished {
		q = q.Where("end_time IS NOT NULL")
	}
	// NULLIF: an empty price is no price (and would not cast).
	if f.PriceMin != nil {
		q = q.Where("CAST(NULLIF(price, '') AS NUMERIC) >= ?", *f.PriceMin)
	}
	if f.PriceMax != nil {
		q = q.Where("CAST(NULLIF(price, '') AS NUMERIC) <= ?", *f.PriceMax)
	}
	return q
}

// callCursor is a position in the (created_at, sid) order. Its string form
// is opaque to clients.
type callCursor struct {
	created time.Time
	sid     string
}

func (c callCursor) String() string {
	raw := strconv.FormatInt(c.created.UnixMicro(), 10) + "." + c.sid
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCallCursor(s string) (callCursor, error) {
	bad := fmt.Errorf("cursor %q: %w", s, ErrInvalid)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return callCursor{}, bad
	}
	micros, sid, ok := strings.Cut(string(raw), ".")
	if !ok || !ValidSID(sid) {
		return callCursor{}, bad
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return callCursor{}, bad
	}
	return callCursor{created: time.UnixMicro(us).UTC(), sid: sid}, nil
}

// UpdateStatus moves the call to status, reporting whether it changed.
// Statuses only move forward (queued → ringing → in-progress → terminal):
// an update to the current or an earlier status, and any update once the
// status is terminal, changes nothing, so late and reordered events are
// harmless. Moving to in-progress records at as the answer time (if none
// is recorded yet). An unknown SID is ErrNotFound.
func (r *Calls) UpdateStatus(ctx context.Context, sid string, status Status, at time.Time) (bool, error) {
	return updateStatus(ctx, r.db, "call", "calls", "sid", sid, status, at)
}

// MarkAnswered is UpdateStatus(ctx, sid, InProgress, at).
func (r *Calls) MarkAnswered(ctx context.Context, sid string, at time.Time) (bool, error) {
	return r.UpdateStatus(ctx, sid, InProgress, at)
}

// Answer is MarkAnswered that also writes the callbacks out builds (the
// "answered" status callback) in the same transaction, when the status
// changed.
func (r *Calls) Answer(ctx context.Context, sid string, at time.Time, out OutboxFunc) (bool, error) {
	var changed bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		var err error
		if changed, err = tx.Calls().UpdateStatus(ctx, sid, InProgress, at); err != nil || !changed {
			return err
		}
		return writeOutbox(tx.conn(ctx), sid, out)
	})
	return changed, err
}

// SetDigits records the digits a caller entered (Gather).
func (r *Calls) SetDigits(ctx context.Context, sid, digits string) error {
	n, err := r.db.exec(ctx, `UPDATE calls SET digits = ?, updated_at = ? WHERE sid = ?`, digits, now(), sid)
	if err != nil {
		return dbErr("set digits on call "+sid, err)
	}
	if n == 0 {
		return fmt.Errorf("set digits on call %s: %w", sid, ErrNotFound)
	}
	return nil
}

// Finish writes the call's final record. It is authoritative — it
// overrides any non-terminal status, and a terminal status set earlier by
// UpdateStatus — and idempotent: only the first Finish applies (it reports
// true), later ones change nothing and report false. An unknown SID is
// ErrNotFound.
func (r *Calls) Finish(ctx context.Context, sid string, f CallFinal) (bool, error) {
	if !f.Status.Terminal() {
		return false, fmt.Errorf("finish call %s: status %q is not terminal: %w", sid, f.Status, ErrInvalid)
	}
	set := finalRecord(f.Status, f.EndTime, f.Duration, f.HangupCause, f.AnswerTime, f.RecordingURL)
	set.add("conversation_duration", f.ConversationDuration)
	if f.Price != nil {
		set.add("price", *f.Price)
	}
	if len(f.AppletPath) > 0 {
		set.add("applet_path", f.AppletPath)
	}
	var applied bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		var err error
		if applied, err = finish(ctx, tx, "call", "calls", "sid", sid, set); err != nil || !applied {
			return err
		}
		// Its recordings are complete: the archiver may take them.
		if _, err := tx.exec(ctx, "UPDATE recordings SET call_ended = TRUE WHERE call_sid = ? AND NOT call_ended", sid); err != nil {
			return dbErr("mark the recordings of call "+sid+" ended", err)
		}
		if !f.Released {
			if _, err := tx.exec(ctx, "DELETE FROM contact_locks WHERE call_sid = ?", sid); err != nil {
				return dbErr("release contacts of call "+sid, err)
			}
			if _, err := tx.exec(ctx, "DELETE FROM queue_entries WHERE call_sid = ?", sid); err != nil {
				return dbErr("dequeue call "+sid, err)
			}
		}
		return writeOutbox(tx.conn(ctx), sid, f.Outbox)
	})
	return applied, err
}

// updateStatus is the forward-only conditional update shared by calls and
// legs: key = value identifies the row of table.
func updateStatus(ctx context.Context, db *DB, what, table, key, value string, status Status, at time.Time) (bool, error) {
	op := fmt.Sprintf("update %s %s to %s", what, value, status)
	if !status.Valid() {
		return false, fmt.Errorf("%s: %w", op, ErrInvalid)
	}
	from := statusMoves[status]
	if from != "" {
		var set setList
		set.add("status", string(status))
		set.add("updated_at", now())
		if status == InProgress && !at.IsZero() {
			set.raw("answer_time = COALESCE(answer_time, ?)", utc(at))
		}
		n, err := db.exec(ctx, "UPDATE "+table+" SET "+set.sql.String()+" WHERE "+key+" = ? AND status IN ("+from+")",
			append(set.args, value)...)
		if err != nil {
			return false, dbErr(op, err)
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, notFoundUnlessExists(ctx, db, op, table, key+" = ?", value)
}

// finalRecord starts the assignments of a final record with the columns
// calls and legs share.
func finalRecord(status Status, end time.Time, duration int, cause string, answer *time.Time, recordingURL string) *setList {
	var set setList
	set.add("status", string(status))
	set.add("end_time", cmpTime(utc(end), now()))
	set.add("duration", duration)
	set.add("hangup_cause", cause)
	set.add("updated_at", now())
	if at := utcPtr(answer); at != nil {
		set.raw("answer_time = COALESCE(answer_time, ?)", *at)
	}
	if recordingURL != "" {
		set.add("recording_url", recordingURL)
	}
	return &set
}

// finish applies set to the row of table unless it was finished before
// (end_time is set only here).
func finish(ctx context.Context, db *DB, what, table, key, value string, set *setList) (bool, error) {
	op := fmt.Sprintf("finish %s %s", what, value)
	n, err := db.exec(ctx, "UPDATE "+table+" SET "+set.sql.String()+" WHERE "+key+" = ? AND end_time IS NULL",
		append(set.args, value)...)
	if err != nil {
		return false, dbErr(op, err)
	}
	if n > 0 {
		return true, nil
	}
	return false, notFoundUnlessExists(ctx, db, op, table, key+" = ?", value)
}

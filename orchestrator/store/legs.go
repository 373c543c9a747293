package store

import (
	"context"
	"fmt"
	"time"
)

// Legs stores call legs. ByCall is account-scoped; the runtime methods
// (Create, ByUUID, UpdateStatus, Finish) are keyed by the FreeSWITCH UUID
// the call goroutine owns.
type Legs struct{ db *DB }

// LegFinal is the final record of a leg, written once by Finish, typically
// from CHANNEL_HANGUP_COMPLETE.
type LegFinal struct {
	Status Status // must be terminal
	// StartTime, when set, replaces the start recorded when the leg was
	// created: the media node's own clock, like the end's.
	StartTime     *time.Time
	AnswerTime    *time.Time
	EndTime       time.Time // zero means now
	Duration      int       // seconds
	TalkTime      int       // seconds (billsec)
	HangupCause   string
	SIPTermStatus string
	RecordingURL  string // kept as is when empty
}

// Create inserts a leg. UUID and CallSID are required; the leg's
// AccountSID must be the call's (otherwise ErrNotFound). A missing ID is
// generated, Seq 0 means "next after the call's last leg", Status defaults
// to queued and StartTime to now. A taken UUID or Seq is ErrConflict.
func (r *Legs) Create(ctx context.Context, l *Leg) error {
	if l.ID == "" {
		l.ID = newID("lg")
	}
	if l.Status == "" {
		l.Status = Queued
	}
	switch {
	case l.UUID == "":
		return fmt.Errorf("create leg: no UUID: %w", ErrInvalid)
	case l.CallSID == "" || l.AccountSID == "":
		return fmt.Errorf("create leg %s: no call or account: %w", l.UUID, ErrInvalid)
	case !l.Status.Valid():
		return fmt.Errorf("create leg %s: status %q: %w", l.UUID, l.Status, ErrInvalid)
	case !validLegDirection(l.Direction):
		return fmt.Errorf("create leg %s: direction %q: %w", l.UUID, l.Direction, ErrInvalid)
	case l.Seq < 0:
		return fmt.Errorf("create leg %s: seq %d: %w", l.UUID, l.Seq, ErrInvalid)
	}
	t := now()
	l.CreatedAt = cmpTime(utc(l.CreatedAt), t)
	l.UpdatedAt = cmpTime(utc(l.UpdatedAt), l.CreatedAt)
	l.StartTime = cmpTime(utc(l.StartTime), l.CreatedAt)
	l.AnswerTime, l.EndTime = utcPtr(l.AnswerTime), utcPtr(l.EndTime)
	op := "create leg " + l.UUID
	args := []any{l.ID, l.CallSID, l.AccountSID, l.UUID, l.Direction, l.From, l.To, string(l.Status),
		l.StartTime, l.AnswerTime, l.EndTime, l.Duration, l.TalkTime, l.HangupCause, l.SIPTermStatus,
		l.RecordingURL, l.CreatedAt, l.UpdatedAt}
	if l.Seq != 0 {
		_, err := r.db.exec(ctx, insertLeg+"?)", append(args, l.Seq)...)
		return insertErr(op, err)
	}
	// The next seq, read and used in the one statement.
	err := r.db.queryRow(ctx, insertLeg+"(SELECT COALESCE(MAX(seq), 0) + 1 FROM legs WHERE call_sid = ?)) RETURNING seq",
		append(args, l.CallSID), &l.Seq)
	return insertErr(op, err)
}

const insertLeg = `INSERT INTO legs (id, call_sid, account_sid, uuid, direction, from_number, to_number, status,
	start_time, answer_time, end_time, duration, talk_time, hangup_cause, sip_term_status,
	recording_url, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `

// ByCall returns the legs of one of the account's calls, ordered by Seq
// (empty for an unknown call).
func (r *Legs) ByCall(ctx context.Context, accountSID, callSID string) ([]Leg, error) {
	var out []Leg
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).Order("seq").Find(&out).Error
	if err != nil {
		return nil, dbErr("legs of call "+callSID, err)
	}
	return out, nil
}

// ByUUID returns the leg with the FreeSWITCH Unique-ID uuid.
func (r *Legs) ByUUID(ctx context.Context, uuid string) (*Leg, error) {
	var l Leg
	if err := r.db.conn(ctx).Where("uuid = ?", uuid).Take(&l).Error; err != nil {
		return nil, dbErr("leg "+uuid, err)
	}
	return &l, nil
}

// UpdateStatus moves the leg to status with the same forward-only rule as
// Calls.UpdateStatus, reporting whether it changed.
func (r *Legs) UpdateStatus(ctx context.Context, uuid string, status Status, at time.Time) (bool, error) {
	return updateStatus(ctx, r.db, "leg", "legs", "uuid", uuid, status, at)
}

// Finish writes the leg's final record; like Calls.Finish, the first one
// wins and later ones report false.
func (r *Legs) Finish(ctx context.Context, uuid string, f LegFinal) (bool, error) {
	if !f.Status.Terminal() {
		return false, fmt.Errorf("finish leg %s: status %q is not terminal: %w", uuid, f.Status, ErrInvalid)
	}
	set := finalRecord(f.Status, f.EndTime, f.Duration, f.HangupCause, f.AnswerTime, f.RecordingURL)
	set.add("talk_time", f.TalkTime)
	set.add("sip_term_status", f.SIPTermStatus)
	if at := utcPtr(f.StartTime); at != nil {
		set.add("start_time", *at)
	}
	return finish(ctx, r.db, "leg", "legs", "uuid", uuid, set)
}

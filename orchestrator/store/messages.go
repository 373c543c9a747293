package store

import (
	"context"
	"fmt"
)

// Messages stores the SMS and email that flows sent, or failed to send.
type Messages struct{ db *DB }

// Messages returns the message repository.
func (db *DB) Messages() *Messages { return &Messages{db: db} }

// Create records a message of one of the account's calls (another
// account's call is ErrNotFound). A missing ID and CreatedAt are
// generated; Status must be MessageSent or MessageFailed and Channel must
// be set.
func (m *Messages) Create(ctx context.Context, msg *Message) error {
	if msg.ID == "" {
		msg.ID = newID("ms")
	}
	switch {
	case msg.AccountSID == "" || msg.CallSID == "":
		return fmt.Errorf("create message: no call or account: %w", ErrInvalid)
	case msg.Channel == "":
		return fmt.Errorf("create message: no channel: %w", ErrInvalid)
	case msg.Status != MessageSent && msg.Status != MessageFailed:
		return fmt.Errorf("create message: status %q: %w", msg.Status, ErrInvalid)
	}
	msg.Subject, msg.Body, msg.Error = storable(msg.Subject), storable(msg.Body), storable(msg.Error)
	msg.CreatedAt = cmpTime(utc(msg.CreatedAt), now())
	if err := m.db.conn(ctx).Create(msg).Error; err != nil {
		return insertErr("create message", err)
	}
	return nil
}

// Log is Create through q when there is one, after the call's own
// writes still queued (see CallRequests.Log).
func (m *Messages) Log(ctx context.Context, q *Queue, msg *Message) error {
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = now()
	}
	return insertVia(ctx, m.db, q, "message of call "+msg.CallSID, msg,
		func(ctx context.Context, db *DB, row *Message) error { return db.Messages().Create(ctx, row) })
}

// ByCall returns the messages of one of the account's calls, oldest first
// (empty for an unknown call or another account's call).
func (m *Messages) ByCall(ctx context.Context, accountSID, callSID string) ([]Message, error) {
	var out []Message
	err := m.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).
		Order("created_at, id").Find(&out).Error
	if err != nil {
		return nil, dbErr("messages of call "+callSID, err)
	}
	return out, nil
}

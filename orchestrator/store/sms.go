package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SMSMessage is one SMS (Exotel SMS v1), sent through the API or by a
// flow's SMS applet (CallSID set). It is written queued, claimed by a
// sender (status sending, Attempts counted), and ends submitted (waiting
// for a delivery report) or in a final status.
type SMSMessage struct {
	SID                string     `gorm:"column:sid;primaryKey"`
	AccountSID         string     `gorm:"column:account_sid"`
	CallSID            *string    `gorm:"column:call_sid"`
	From               string     `gorm:"column:from_number"`
	To                 string     `gorm:"column:to_number"`
	Body               string     `gorm:"column:body"`
	EncodingType       string     `gorm:"column:encoding_type"` // plain or unicode
	Priority           string     `gorm:"column:priority"`      // normal or high
	SmsType            string     `gorm:"column:sms_type"`
	DltEntityID        string     `gorm:"column:dlt_entity_id"`
	DltTemplateID      string     `gorm:"column:dlt_template_id"`
	CustomField        string     `gorm:"column:custom_field"`
	StatusCallback     string     `gorm:"column:status_callback"`
	Status             string     `gorm:"column:status"` // SMSQueued, …
	DetailedStatus     string     `gorm:"column:detailed_status"`
	DetailedStatusCode int        `gorm:"column:detailed_status_code"`
	Units              int        `gorm:"column:units"` // segments
	Price              string     `gorm:"column:price"` // "" until priced
	Direction          string     `gorm:"column:direction"`
	Provider           string     `gorm:"column:provider"`
	ProviderMessageID  string     `gorm:"column:provider_message_id"`
	Attempts           int        `gorm:"column:attempts"`
	NextAttemptAt      *time.Time `gorm:"column:next_attempt_at"`
	LastError          string     `gorm:"column:last_error"`
	CreatedAt          time.Time  `gorm:"column:created_at"`
	UpdatedAt          time.Time  `gorm:"column:updated_at"`
	SentAt             *time.Time `gorm:"column:sent_at"`
}

// TableName implements gorm's tabler.
func (SMSMessage) TableName() string { return "sms_messages" }

// SMS statuses (Exotel's). Queued and sending rows are the sender's;
// submitted rows wait for a delivery report; the rest are final.
const (
	SMSQueued    = "queued"
	SMSSending   = "sending"
	SMSSubmitted = "submitted"
	SMSSent      = "sent"
	SMSFailed    = "failed"
	SMSFailedDND = "failed-dnd"
)

// ContentForm is the content type of callbacks sent as
// application/x-www-form-urlencoded (SMS status callbacks).
const ContentForm = "application/x-www-form-urlencoded"

// smsColumns lists the table's columns, for RETURNING.
const smsColumns = `sid, account_sid, call_sid, from_number, to_number, body, encoding_type, priority, sms_type,
	dlt_entity_id, dlt_template_id, custom_field, status_callback, status, detailed_status, detailed_status_code,
	units, price, direction, provider, provider_message_id, attempts, next_attempt_at, last_error,
	created_at, updated_at, sent_at`

// SMSMessages is the SMS repository.
type SMSMessages struct{ db *DB }

// SMS returns the SMS repository.
func (db *DB) SMS() *SMSMessages { return &SMSMessages{db: db} }

// SMSOutbox builds the status callbacks of a message's change; it runs in
// the transaction that makes the change, with the message as it now is.
// The store keys the callbacks by the message's SID and numbers them.
type SMSOutbox func(m *SMSMessage) ([]Callback, error)

// Create inserts queued messages in one transaction. Each must name its
// account, From, To and Body; a missing SID (NewSID), CreatedAt and
// NextAttemptAt (now) are filled in, Status is SMSQueued and Attempts 0.
func (r *SMSMessages) Create(ctx context.Context, msgs []SMSMessage) error {
	t := now()
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.AccountSID == "" || m.From == "" || m.To == "":
			return fmt.Errorf("create sms: no account, From or To: %w", ErrInvalid)
		case m.CallSID != nil && *m.CallSID == "":
			m.CallSID = nil
		}
		if m.SID == "" {
			m.SID = NewSID()
		}
		m.Status, m.Attempts = SMSQueued, 0
		m.Body, m.CustomField = storable(m.Body), storable(m.CustomField)
		m.CreatedAt = cmpTime(utc(m.CreatedAt), t)
		m.UpdatedAt = m.CreatedAt
		if m.NextAttemptAt == nil {
			m.NextAttemptAt = &t
		}
		m.NextAttemptAt = utcPtr(m.NextAttemptAt)
		m.SentAt = utcPtr(m.SentAt)
	}
	if len(msgs) == 0 {
		return nil
	}
	return r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.conn(ctx).Create(&msgs).Error; err != nil {
			return insertErr("create sms", err)
		}
		return nil
	})
}

// Get returns one of the account's messages (another account's is
// ErrNotFound).
func (r *SMSMessages) Get(ctx context.Context, accountSID, sid string) (*SMSMessage, error) {
	var m SMSMessage
	if err := r.db.conn(ctx).Where("sid = ? AND account_sid = ?", sid, accountSID).Take(&m).Error; err != nil {
		return nil, dbErr("sms "+sid, err)
	}
	return &m, nil
}

// ByCall returns the messages a call's applets sent, oldest first.
func (r *SMSMessages) ByCall(ctx context.Context, accountSID, callSID string) ([]SMSMessage, error) {
	var out []SMSMessage
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).
		Order("created_at, sid").Find(&out).Error
	if err != nil {
		return nil, dbErr("sms of call "+callSID, err)
	}
	return out, nil
}

// SMSClaim says which messages Claim takes and what it makes of them.
type SMSClaim struct {
	// Now is the claim's time: due messages have NextAttemptAt <= Now.
	Now time.Time
	// Lease is how long the claimer owns a message: a message still
	// sending after Now+Lease (its sender died) is due again.
	Lease time.Duration
	// Limit caps the messages taken (default 10).
	Limit int
	// DetailedStatus and DetailedStatusCode are set on the claimed rows.
	DetailedStatus     string
	DetailedStatusCode int
}

// Claim takes due messages for sending: queued ones whose NextAttemptAt
// has come, and sending ones whose lease ran out. Each moves to
// SMSSending with Attempts one higher and NextAttemptAt at the lease's
// end. On PostgreSQL concurrent claimers skip each other's rows (FOR
// UPDATE SKIP LOCKED), so no message is claimed twice; SQLite has one
// writer.
func (r *SMSMessages) Claim(ctx context.Context, c SMSClaim) ([]SMSMessage, error) {
	if c.Limit <= 0 {
		c.Limit = 10
	}
	at := utc(c.Now)
	lock := ""
	if r.db.dialect == DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE sms_messages SET status = ?, detailed_status = ?, detailed_status_code = ?,
		attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
		WHERE status IN (?, ?) AND next_attempt_at <= ? AND sid IN (
			SELECT sid FROM sms_messages WHERE status IN (?, ?) AND next_attempt_at <= ?
			ORDER BY next_attempt_at, sid LIMIT ?` + lock + `)
		RETURNING ` + smsColumns
	var out []SMSMessage
	err := r.db.conn(ctx).Raw(q, SMSSending, c.DetailedStatus, c.DetailedStatusCode, at.Add(c.Lease), at,
		SMSQueued, SMSSending, at, SMSQueued, SMSSending, at, c.Limit).Scan(&out).Error
	if err != nil {
		return nil, dbErr("claim sms", err)
	}
	return out, nil
}

// NextDue returns when the earliest queued or sending message is due
// (nil: none is waiting), so a sender can sleep until then.
func (r *SMSMessages) NextDue(ctx context.Context) (*time.Time, error) {
	var m SMSMessage
	err := r.db.conn(ctx).Select("sid", "next_attempt_at").
		Where("status IN ? AND next_attempt_at IS NOT NULL", []string{SMSQueued, SMSSending}).
		Order("next_attempt_at").Limit(1).Find(&m).Error
	if err != nil {
		return nil, dbErr("next due sms", err)
	}
	if m.SID == "" {
		return nil, nil
	}
	return m.NextAttemptAt, nil
}

// SMSChange is where a message goes next.
type SMSChange struct {
	Status             string
	DetailedStatus     string
	DetailedStatusCode int
	// NextAttemptAt is when a requeued message is due (nil: not due).
	NextAttemptAt *time.Time
	LastError     string
	// Provider, ProviderMessageID and SentAt are kept when empty.
	Provider          string
	ProviderMessageID string
	SentAt            *time.Time
	// At is the change's time (default now).
	At time.Time
}

// set renders ch as SET assignments and their arguments.
func (ch SMSChange) set() (string, []any) {
	at := cmpTime(utc(ch.At), now())
	set := []string{"status = ?", "detailed_status = ?", "detailed_status_code = ?", "next_attempt_at = ?",
		"last_error = ?", "updated_at = ?"}
	args := []any{ch.Status, ch.DetailedStatus, ch.DetailedStatusCode, utcPtr(ch.NextAttemptAt), storable(ch.LastError), at}
	if ch.Provider != "" {
		set, args = append(set, "provider = ?"), append(args, ch.Provider)
	}
	if ch.ProviderMessageID != "" {
		set, args = append(set, "provider_message_id = ?"), append(args, ch.ProviderMessageID)
	}
	if ch.SentAt != nil {
		set, args = append(set, "sent_at = ?"), append(args, utcPtr(ch.SentAt))
	}
	return strings.Join(set, ", "), args
}

// Update moves a message the caller claimed (status sending, attempts as
// claimed) to ch and writes what out builds to the outbox in the same
// transaction. It returns nil, nil when the message is no longer the
// caller's: claimed again after the caller's lease ran out.
func (r *SMSMessages) Update(ctx context.Context, sid string, attempts int, ch SMSChange, out SMSOutbox) (*SMSMessage, error) {
	set, args := ch.set()
	args = append(args, sid, SMSSending, attempts)
	return r.change(ctx, "update sms "+sid,
		"UPDATE sms_messages SET "+set+" WHERE sid = ? AND status = ? AND attempts = ? RETURNING "+smsColumns, args, out)
}

// Report applies a delivery report to the submitted message provider
// knows as providerMessageID, with its callbacks (see Update). A message
// that is not submitted (unknown, or final already: final statuses are
// never overwritten) is ErrNotFound.
func (r *SMSMessages) Report(ctx context.Context, provider, providerMessageID string, ch SMSChange, out SMSOutbox) (*SMSMessage, error) {
	ch.Provider, ch.ProviderMessageID = "", ""
	set, args := ch.set()
	args = append(args, provider, providerMessageID, SMSSubmitted)
	m, err := r.change(ctx, "sms report "+providerMessageID,
		"UPDATE sms_messages SET "+set+" WHERE provider = ? AND provider_message_id = ? AND status = ? RETURNING "+smsColumns, args, out)
	if err == nil && m == nil {
		return nil, fmt.Errorf("sms report %s/%s: no submitted message: %w", provider, providerMessageID, ErrNotFound)
	}
	return m, err
}

// change runs one conditional UPDATE … RETURNING and, if it changed a
// row, out for it, in a transaction.
func (r *SMSMessages) change(ctx context.Context, op, q string, args []any, out SMSOutbox) (*SMSMessage, error) {
	var got *SMSMessage
	err := r.db.atomic(ctx, func(tx *DB) error {
		var rows []SMSMessage
		if err := tx.conn(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
			return dbErr(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		got = &rows[0]
		if out == nil {
			return nil
		}
		cbs, err := out(got)
		if err != nil {
			return fmt.Errorf("%s: callbacks: %w", op, err)
		}
		for i := range cbs {
			cbs[i].AccountSID, cbs[i].CallSID = got.AccountSID, got.SID
		}
		return insertCallbacks(ctx, tx, cbs)
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// Package notify delivers the SMS and email that flows send during calls:
// Messenger implements the call runtime's call.Messenger, routing each
// message to an email sender (SMTPSender) or the SMS path (an
// sms.Sender: the message is queued with its call's SID, from the call's
// ExoPhone, and sent like an API message), and recording the outcome in
// the store's messages table (for SMS: queued, or not).
//
// Bodies and subjects arrive already rendered: flows runs the applets'
// templates with the call's fields before emitting a flows.Send.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Email is one email to deliver.
type Email struct {
	To      []string
	Subject string
	Body    string // plain text, UTF-8
	// CallSID, if set, is added as an X-Switchyard-Call-Sid header.
	CallSID string
}

// EmailSender delivers email. Send must honour ctx.
type EmailSender interface {
	Name() string
	Send(ctx context.Context, e Email) error
}

// SMSQueue queues SMS for sending; *sms.Sender is one.
type SMSQueue interface {
	// Provider names the provider that sends them, for the record.
	Provider() string
	Queue(ctx context.Context, reqs []sms.Request) ([]store.SMSMessage, error)
}

// ErrNoProvider: no sender is configured for the message's channel.
var ErrNoProvider = errors.New("no provider for channel")

// ErrNoRecipients: the message names no one to send it to.
var ErrNoRecipients = errors.New("no recipients")

// recordTimeout bounds the write of a message's record, which runs even
// when the send used up the caller's deadline.
const recordTimeout = 5 * time.Second

// Messenger sends flows' messages and records each one. It implements
// call.Messenger and is safe for concurrent use.
type Messenger struct {
	db     *store.DB
	writes *store.Queue
	email  EmailSender
	sms    SMSQueue
	log    *slog.Logger
}

var _ call.Messenger = (*Messenger)(nil)

// New makes a messenger recording to db. email or sms may be nil: messages
// on that channel are then recorded as failed (ErrNoProvider).
func New(db *store.DB, email EmailSender, sms SMSQueue, log *slog.Logger) *Messenger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Messenger{db: db, email: email, sms: sms, log: log}
}

// WriteThrough makes the messenger record messages through q, after
// their calls' own writes (a call's row may still wait there), and
// returns it.
func (n *Messenger) WriteThrough(q *store.Queue) *Messenger {
	n.writes = q
	return n
}

// Send delivers m for call c, records the outcome (sent, or failed with
// the error) and returns the delivery error, if any, joined with a failure
// to record.
func (n *Messenger) Send(ctx context.Context, c *call.Info, m flows.Send) error {
	var info call.Info
	if c != nil {
		info = *c
	}
	provider, err := n.deliver(ctx, info, m)

	rec := &store.Message{
		AccountSID: info.AccountSID,
		CallSID:    info.CallSid,
		Applet:     m.Applet,
		Channel:    string(m.Channel),
		Recipients: strings.Join(m.To, ","),
		Subject:    m.Subject,
		Body:       m.Body,
		Provider:   provider,
		Status:     store.MessageSent,
	}
	log := n.log.With("call_sid", info.CallSid, "applet", m.Applet, "channel", m.Channel,
		"to", rec.Recipients, "provider", provider)
	if err != nil {
		err = fmt.Errorf("notify: %s to %s via %q: %w", m.Channel, rec.Recipients, provider, err)
		rec.Status = store.MessageFailed
		rec.Error = err.Error()
		log.Warn("notify: message failed", "err", webhttp.RedactURLs(err.Error()))
	} else {
		log.Info("notify: message sent")
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if rerr := n.db.Messages().Log(rctx, n.writes, rec); rerr != nil {
		rerr = fmt.Errorf("notify: record message: %w", rerr)
		log.Error("notify: message not recorded", "err", rerr)
		return errors.Join(err, rerr)
	}
	return err
}

// deliver routes m by channel and returns the provider's name.
func (n *Messenger) deliver(ctx context.Context, info call.Info, m flows.Send) (string, error) {
	callSID := info.CallSid
	to := make([]string, 0, len(m.To))
	for _, r := range m.To {
		if r = strings.TrimSpace(r); r != "" {
			to = append(to, r)
		}
	}
	switch m.Channel {
	case flows.ChannelEmail:
		if n.email == nil {
			return "", ErrNoProvider
		}
		if len(to) == 0 {
			return n.email.Name(), ErrNoRecipients
		}
		return n.email.Name(), n.email.Send(ctx, Email{To: to, Subject: m.Subject, Body: m.Body, CallSID: callSID})
	case flows.ChannelSMS:
		if n.sms == nil {
			return "", ErrNoProvider
		}
		if len(to) == 0 {
			return n.sms.Provider(), ErrNoRecipients
		}
		return n.sms.Provider(), n.queueSMS(ctx, info, to, m.Body)
	}
	return "", fmt.Errorf("channel %q: %w", m.Channel, ErrNoProvider)
}

// queueSMS queues an applet's SMS, one message per recipient, from the
// call's ExoPhone, with the call's SID: the sender sends them like the
// API's, and SMS/Messages/<sid> shows them.
func (n *Messenger) queueSMS(ctx context.Context, info call.Info, to []string, body string) error {
	c, err := n.db.Calls().Get(ctx, info.AccountSID, info.CallSid)
	if err != nil {
		return fmt.Errorf("sms: the call's ExoPhone: %w", err)
	}
	reqs := make([]sms.Request, len(to))
	for i, r := range to {
		reqs[i] = sms.Request{AccountSID: info.AccountSID, CallSID: info.CallSid, From: c.PhoneNumber, To: r, Body: body}
	}
	rows, err := n.sms.Queue(ctx, reqs)
	if err != nil {
		return err
	}
	sids := make([]string, len(rows))
	for i := range rows {
		sids[i] = rows[i].SID
	}
	n.log.InfoContext(ctx, "notify: sms queued", "call_sid", info.CallSid, "sms_sids", sids)
	return nil
}

package sms

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Defaults of Config.
const (
	DefaultMaxAttempts   = 5
	DefaultPollInterval  = 5 * time.Second
	DefaultLease         = 2 * time.Minute
	DefaultSubmitTimeout = 30 * time.Second
	DefaultWorkers       = 8
	DefaultBatch         = 32
)

// CallbackEvent is the Event of SMS status callbacks in the outbox (sent
// as X-Switchyard-Event).
const CallbackEvent = "sms"

// earlyReportsMax bounds the delivery reports kept for messages whose
// submission is not recorded yet; earlyReportTTL is how long one is kept.
const (
	earlyReportsMax = 10_000
	earlyReportTTL  = 10 * time.Minute
)

// Config tunes a Sender. Zero fields take the defaults.
type Config struct {
	// Provider sends the messages (required).
	Provider Provider
	// MaxAttempts is how many submissions a message gets when they fail
	// temporarily (default 5); then it fails (Undeliverable).
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1-based) before the
	// next (default 30 s · 2^(n−1), at most 30 min).
	Backoff func(attempt int) time.Duration
	// PollInterval is how often the worker looks for due messages no
	// wake-up announced: retries, other instances' messages, messages a
	// dead instance left sending (default 5 s).
	PollInterval time.Duration
	// Lease is how long a claimed message is this instance's: one still
	// sending after it is taken for abandoned and claimed again (default
	// 2 min). It must exceed SubmitTimeout.
	Lease time.Duration
	// SubmitTimeout bounds one submission (default 30 s).
	SubmitTimeout time.Duration
	// Workers is how many submissions run at once (default 8); Batch how
	// many messages one claim takes (default 32).
	Workers, Batch int
	// NotifyCallbacks, when set, is called after status callbacks were
	// written to the outbox (the callback service's Notify).
	NotifyCallbacks func()
	// OnFinal, when set, is called after a message's final status was
	// recorded (tests wait on it). It must not block.
	OnFinal func(m *store.SMSMessage)
	// Zone renders DateSent in callbacks (default exotime.IST).
	Zone *time.Location
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultBackoff waits 30 s · 2^(n−1) after attempt n, at most 30 min.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

func (c Config) withDefaults() Config {
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	c.PollInterval = cmp.Or(c.PollInterval, DefaultPollInterval)
	c.SubmitTimeout = cmp.Or(c.SubmitTimeout, DefaultSubmitTimeout)
	c.Lease = cmp.Or(c.Lease, max(DefaultLease, c.SubmitTimeout+time.Minute))
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	if c.Zone == nil {
		c.Zone = exotime.IST
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sender queues messages and runs the worker that sends them. Queue and
// Report are safe for concurrent use; Run runs once.
type Sender struct {
	db  *store.DB
	cfg Config
	log *slog.Logger

	wake chan struct{} // Queue → worker; buffered 1, wake-ups coalesce

	mu    sync.Mutex // serialises recording submissions and reports (see Report)
	early map[string]earlyReport
}

type earlyReport struct {
	r       Report
	arrived time.Time
}

// New makes a Sender on db. A nil logger discards logs.
func New(db *store.DB, cfg Config, log *slog.Logger) (*Sender, error) {
	if db == nil || cfg.Provider == nil {
		return nil, errors.New("sms: no database or provider")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if cfg.Lease <= cfg.SubmitTimeout {
		return nil, fmt.Errorf("sms: lease %s must exceed the submit timeout %s", cfg.Lease, cfg.SubmitTimeout)
	}
	s := &Sender{db: db, cfg: cfg, log: log, wake: make(chan struct{}, 1), early: map[string]earlyReport{}}
	if r, ok := cfg.Provider.(Reporter); ok {
		r.SetReports(func(ctx context.Context, rep Report) {
			if err := s.Report(ctx, rep); err != nil {
				s.log.Error("sms: delivery report not recorded", "provider_message_id", rep.ID, "err", err)
			}
		})
	}
	return s, nil
}

// Provider returns the provider's name.
func (s *Sender) Provider() string { return s.cfg.Provider.Name() }

// Request is a message to queue.
type Request struct {
	AccountSID string
	// CallSID is the call whose applet sends the message ("" for the
	// API).
	CallSID        string
	From, To, Body string
	// EncodingType is plain (default) or unicode.
	EncodingType string
	// Priority is normal (default) or high.
	Priority string
	// SmsType is transactional (default), transactional_opt_in or
	// promotional.
	SmsType                    string
	DltEntityID, DltTemplateID string
	CustomField                string
	StatusCallback             string
}

// Queue writes the messages queued, in one transaction, and wakes the
// worker. It returns them as stored.
func (s *Sender) Queue(ctx context.Context, reqs []Request) ([]store.SMSMessage, error) {
	rows := make([]store.SMSMessage, len(reqs))
	direction := "outbound-api"
	for i, r := range reqs {
		enc := cmp.Or(strings.ToLower(r.EncodingType), EncodingPlain)
		var callSID *string
		if r.CallSID != "" {
			callSID = &r.CallSID
		}
		rows[i] = store.SMSMessage{AccountSID: r.AccountSID, CallSID: callSID, From: r.From, To: r.To, Body: r.Body,
			EncodingType: enc, Priority: cmp.Or(strings.ToLower(r.Priority), "normal"),
			SmsType: cmp.Or(strings.ToLower(r.SmsType), "transactional"), DltEntityID: r.DltEntityID,
			DltTemplateID: r.DltTemplateID, CustomField: r.CustomField, StatusCallback: r.StatusCallback,
			DetailedStatus: Queued.Name, DetailedStatusCode: Queued.Code, Units: Units(r.Body, enc),
			Direction: direction, Provider: s.cfg.Provider.Name()}
	}
	if err := s.db.SMS().Create(ctx, rows); err != nil {
		return nil, fmt.Errorf("sms: queue: %w", err)
	}
	s.Wake()
	return rows, nil
}

// Wake makes the worker look for due messages now.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run is the worker: it claims due messages and sends them until ctx
// ends, then waits for the submissions in flight (each bounded by
// SubmitTimeout) and returns. Between passes it sleeps until the next
// message is due (a retry), a Wake, or PollInterval.
func (s *Sender) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	for {
		s.pass(ctx)
		due.Stop()
		if next, err := s.db.SMS().NextDue(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("sms: next due", "err", err)
			}
		} else if next != nil && next.Sub(s.cfg.Now()) < s.cfg.PollInterval {
			due.Reset(max(next.Sub(s.cfg.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		case <-due.C:
		}
	}
}

// pass claims and sends due messages until none is left.
func (s *Sender) pass(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := s.db.SMS().Claim(ctx, store.SMSClaim{Now: s.cfg.Now(), Lease: s.cfg.Lease, Limit: s.cfg.Batch,
			DetailedStatus: Sending.Name, DetailedStatusCode: Sending.Code})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("sms: claim", "err", err)
			}
			return
		}
		if len(msgs) == 0 {
			return
		}
		sem := make(chan struct{}, s.cfg.Workers)
		var wg sync.WaitGroup
		for _, m := range msgs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.send(context.WithoutCancel(ctx), m)
			})
		}
		wg.Wait()
	}
}

// messageOf is what the provider gets of a row.
func messageOf(m *store.SMSMessage) Message {
	out := Message{SID: m.SID, AccountSID: m.AccountSID, From: m.From, To: m.To, Body: m.Body,
		UCS2: UCS2(m.Body, m.EncodingType), Units: m.Units, Priority: m.Priority, SmsType: m.SmsType,
		DltEntityID: m.DltEntityID, DltTemplateID: m.DltTemplateID, Attempt: m.Attempts}
	if m.CallSID != nil {
		out.CallSID = *m.CallSID
	}
	return out
}

// send submits one claimed message and records what became of it.
func (s *Sender) send(ctx context.Context, m store.SMSMessage) {
	log := s.log.With("sms_sid", m.SID, "account_sid", m.AccountSID, "attempt", m.Attempts, "provider", s.cfg.Provider.Name())
	sctx, cancel := context.WithTimeout(ctx, s.cfg.SubmitTimeout)
	rcpt, err := s.cfg.Provider.Submit(sctx, messageOf(&m))
	cancel()
	now := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ch := store.SMSChange{Provider: s.cfg.Provider.Name(), At: now}
	switch {
	case err == nil && rcpt.Final.Code != 0:
		ch.ProviderMessageID, ch.SentAt = rcpt.ID, &now
		s.finish(rctx, log, m, ch, rcpt.Final)
		return
	case err == nil:
		ch.ProviderMessageID, ch.SentAt = rcpt.ID, &now
		s.submitted(rctx, log, m, ch)
		return
	}
	msg := webhttp.RedactURLs(err.Error())
	ch.LastError = msg
	temporary, outcome := classify(err)
	if temporary && m.Attempts < s.cfg.MaxAttempts {
		next := now.Add(s.cfg.Backoff(m.Attempts))
		ch.Status, ch.DetailedStatus, ch.DetailedStatusCode, ch.NextAttemptAt = Queued.Status, Queued.Name, Queued.Code, &next
		if got, uerr := s.db.SMS().Update(rctx, m.SID, m.Attempts, ch, nil); uerr != nil {
			log.Error("sms: retry not recorded; the lease will bring it back", "err", uerr)
		} else if got != nil {
			log.Warn("sms: submission failed; will retry", "err", msg, "retry_at", next)
		}
		return
	}
	if temporary {
		outcome = Undeliverable
		ch.LastError = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, msg)
	}
	log.Warn("sms: message failed", "err", msg, "status", outcome.Status, "detailed_status_code", outcome.Code)
	s.finish(rctx, log, m, ch, outcome)
}

// finish records a final outcome of a claimed message with its callback.
func (s *Sender) finish(ctx context.Context, log *slog.Logger, m store.SMSMessage, ch store.SMSChange, d Detailed) {
	ch.Status, ch.DetailedStatus, ch.DetailedStatusCode = d.Status, d.Name, d.Code
	got, err := s.db.SMS().Update(ctx, m.SID, m.Attempts, ch, s.outbox)
	switch {
	case err != nil:
		log.Error("sms: outcome not recorded; the lease will bring the message back", "err", err)
	case got == nil:
		log.Warn("sms: message was claimed again before its outcome was recorded")
	default:
		log.Info("sms: message done", "status", d.Status, "detailed_status_code", d.Code)
		s.notify(got)
	}
}

// submitted records a message the provider accepted and will report on,
// then applies a report that arrived before the record.
func (s *Sender) submitted(ctx context.Context, log *slog.Logger, m store.SMSMessage, ch store.SMSChange) {
	ch.Status, ch.DetailedStatus, ch.DetailedStatusCode = Submitted.Status, Submitted.Name, Submitted.Code
	s.mu.Lock()
	defer s.mu.Unlock()
	got, err := s.db.SMS().Update(ctx, m.SID, m.Attempts, ch, nil)
	switch {
	case err != nil:
		log.Error("sms: submission not recorded; the lease will bring the message back", "err", err)
		return
	case got == nil:
		log.Warn("sms: message was claimed again before its submission was recorded")
		return
	}
	log.Info("sms: message submitted", "provider_message_id", ch.ProviderMessageID)
	if e, ok := s.early[ch.ProviderMessageID]; ok && ch.ProviderMessageID != "" {
		delete(s.early, ch.ProviderMessageID)
		if err := s.applyReport(ctx, e.r); err != nil {
			log.Error("sms: early delivery report not recorded", "err", err)
		}
	}
}

// Report records a delivery report: the final outcome of a submitted
// message, with its callback. A report for a message whose submission
// is not recorded yet (the network answered faster than the database)
// is kept and applied when it is; one for a message that is final
// already is dropped.
func (s *Sender) Report(ctx context.Context, r Report) error {
	if r.ID == "" || !r.Outcome.Final() {
		return fmt.Errorf("sms: report %q: no id or not a final outcome", r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.applyReport(ctx, r)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.cfg.Now()
	for id, e := range s.early {
		if now.Sub(e.arrived) > earlyReportTTL {
			delete(s.early, id)
		}
	}
	if len(s.early) < earlyReportsMax {
		s.early[r.ID] = earlyReport{r: r, arrived: now}
	}
	return nil
}

// applyReport writes a report to its submitted message; s.mu is held.
func (s *Sender) applyReport(ctx context.Context, r Report) error {
	at := r.At
	if at.IsZero() {
		at = s.cfg.Now()
	}
	got, err := s.db.SMS().Report(ctx, s.cfg.Provider.Name(), r.ID, store.SMSChange{Status: r.Outcome.Status,
		DetailedStatus: r.Outcome.Name, DetailedStatusCode: r.Outcome.Code, LastError: r.Err, At: at}, s.outbox)
	if err != nil {
		return err
	}
	s.log.Info("sms: delivery report", "sms_sid", got.SID, "status", got.Status, "detailed_status_code", got.DetailedStatusCode)
	s.notify(got)
	return nil
}

// notify tells of a message that reached its final status.
func (s *Sender) notify(m *store.SMSMessage) {
	if m.StatusCallback != "" && s.cfg.NotifyCallbacks != nil {
		s.cfg.NotifyCallbacks()
	}
	if s.cfg.OnFinal != nil {
		s.cfg.OnFinal(m)
	}
}

// outbox builds the StatusCallback of a message that reached a final
// status: a form POST of SmsSid, To, Status, SmsUnits, DetailedStatus,
// DetailedStatusCode, DateSent and CustomField (when set).
func (s *Sender) outbox(m *store.SMSMessage) ([]store.Callback, error) {
	if m.StatusCallback == "" {
		return nil, nil
	}
	sent := m.UpdatedAt
	if m.SentAt != nil {
		sent = *m.SentAt
	}
	fields := [][2]string{
		{"SmsSid", m.SID}, {"To", m.To}, {"Status", m.Status}, {"SmsUnits", strconv.Itoa(m.Units)},
		{"DetailedStatus", m.DetailedStatus}, {"DetailedStatusCode", strconv.Itoa(m.DetailedStatusCode)},
		{"DateSent", exotime.Format(sent, s.cfg.Zone)},
	}
	if m.CustomField != "" {
		fields = append(fields, [2]string{"CustomField", m.CustomField})
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f[0])
		v, _ := json.Marshal(f[1])
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return []store.Callback{{Event: CallbackEvent, URL: m.StatusCallback, ContentType: store.ContentForm, Payload: buf.String()}}, nil
}

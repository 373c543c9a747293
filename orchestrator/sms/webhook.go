package sms

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// defaultHTTPClient is Webhook's client when none is set.
var defaultHTTPClient = &http.Client{Timeout: 15 * time.Second}

// Webhook hands SMS to an HTTP gateway: a POST of the JSON object
// {"sid", "from", "to", "body", "call_sid", "unicode", "dlt_entity_id",
// "dlt_template_id"} (call_sid and the DLT ids omitted when empty), with an
// Authorization: Bearer header when Token is set.
//
// A 2xx answer delivers the message to the operator (sent, 20006), or,
// with Reports, submits it: the gateway then posts the delivery report
// back (see ParseReport). A JSON answer {"id": "..."} gives the gateway's
// id for the record and for its reports (without one, reports name the
// message by its sid). 408, 429 and 5xx answers and transport errors are
// temporary (retried); other answers are permanent failures.
type Webhook struct {
	URL   string
	Token string
	// Reports: the gateway posts delivery reports back, so a 2xx answer
	// leaves the message submitted until its report comes.
	Reports bool
	// HTTPClient defaults to a client with a 15 s timeout.
	HTTPClient *http.Client
}

// Name implements Provider.
func (*Webhook) Name() string { return "webhook" }

type webhookPayload struct {
	SID           string `json:"sid"`
	From          string `json:"from"`
	To            string `json:"to"`
	Body          string `json:"body"`
	CallSID       string `json:"call_sid,omitempty"`
	Unicode       bool   `json:"unicode"`
	DltEntityID   string `json:"dlt_entity_id,omitempty"`
	DltTemplateID string `json:"dlt_template_id,omitempty"`
}

// Submit implements Provider.
func (w *Webhook) Submit(ctx context.Context, m Message) (Receipt, error) {
	payload, err := json.Marshal(webhookPayload{SID: m.SID, From: m.From, To: m.To, Body: m.Body, CallSID: m.CallSID,
		Unicode: m.UCS2, DltEntityID: m.DltEntityID, DltTemplateID: m.DltTemplateID})
	if err != nil {
		return Receipt{}, Permanent(Undeliverable, fmt.Errorf("webhook sms: encode: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return Receipt{}, Permanent(Undeliverable, fmt.Errorf("webhook sms: request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	client := w.HTTPClient
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Receipt{}, Temporary(fmt.Errorf("webhook sms: post: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		var ans struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &ans) // any 2xx body is fine
		if w.Reports {
			return Receipt{ID: cmp.Or(ans.ID, m.SID)}, nil
		}
		return Receipt{ID: ans.ID, Final: DeliveredToOperator}, nil
	}
	err = fmt.Errorf("webhook sms: gateway answered %s", resp.Status)
	if msg := strings.TrimSpace(string(body)); msg != "" {
		if len(msg) > 512 {
			msg = msg[:512]
		}
		err = fmt.Errorf("webhook sms: gateway answered %s: %s", resp.Status, msg)
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return Receipt{}, Temporary(err)
	}
	return Receipt{}, Permanent(Undeliverable, err)
}

// WebhookReport is the delivery report a webhook gateway posts back: the
// id its answer gave (or the message's sid), and the outcome as Exotel's
// detailed_status_code or, failing that, a status word: delivered,
// delivered_to_operator, dnd, invalid, rejected, blacklisted, expired,
// undelivered or failed.
type WebhookReport struct {
	ID                 string `json:"id"`
	DetailedStatusCode int    `json:"detailed_status_code"`
	Status             string `json:"status"`
	// At is when it happened, RFC 3339 (empty: on arrival).
	At    string `json:"at"`
	Error string `json:"error"`
}

// ErrReport: a delivery report that cannot be understood.
var ErrReport = errors.New("not a delivery report")

// reportWords maps the status words of WebhookReport to outcomes.
var reportWords = map[string]Detailed{
	"delivered":             DeliveredToHandset,
	"delivered_to_operator": DeliveredToOperator,
	"dnd":                   FailedDND,
	"invalid":               FailedInvalidNumber,
	"rejected":              FailedSpam,
	"blacklisted":           FailedBlacklisted,
	"expired":               Undeliverable,
	"undelivered":           Undeliverable,
	"failed":                Undeliverable,
}

// Report turns a gateway's report into one for Sender.Report.
func (r WebhookReport) Report() (Report, error) {
	out := Report{ID: strings.TrimSpace(r.ID), Err: r.Error}
	if out.ID == "" {
		return out, fmt.Errorf("webhook report: no id: %w", ErrReport)
	}
	var ok bool
	if r.DetailedStatusCode != 0 {
		out.Outcome, ok = ByCode(r.DetailedStatusCode)
	} else {
		out.Outcome, ok = reportWords[strings.ToLower(strings.TrimSpace(r.Status))]
	}
	if !ok || !out.Outcome.Final() {
		return out, fmt.Errorf("webhook report %s: detailed_status_code %d / status %q is not a final outcome: %w",
			out.ID, r.DetailedStatusCode, r.Status, ErrReport)
	}
	if r.At != "" {
		at, err := time.Parse(time.RFC3339, r.At)
		if err != nil {
			return out, fmt.Errorf("webhook report %s: at %q is not RFC 3339: %w", out.ID, r.At, ErrReport)
		}
		out.At = at
	}
	return out, nil
}

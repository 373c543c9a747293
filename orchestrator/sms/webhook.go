package sms

import (
	"bytes"
	"context"
	"encoding/json"
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
// A 2xx answer delivers the message to the operator (sent, 20006: the
// gateway reports nothing back); a JSON answer {"id": "..."} gives the
// gateway's id for the record. 408, 429 and 5xx answers and transport
// errors are temporary (retried); other answers are permanent failures.
type Webhook struct {
	URL   string
	Token string
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

package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// defaultHTTPClient is WebhookSMS's client when none is set.
var defaultHTTPClient = &http.Client{Timeout: 15 * time.Second}

// WebhookSMS hands SMS to an HTTP gateway: a POST of the JSON object
// {"to", "body", "call_sid"} (call_sid omitted outside a call), with an
// Authorization: Bearer header when Token is set. Any 2xx answer is
// success.
type WebhookSMS struct {
	URL   string
	Token string
	// HTTPClient defaults to a client with a 15 s timeout.
	HTTPClient *http.Client
}

// Name implements SMSProvider.
func (*WebhookSMS) Name() string { return "webhook" }

type webhookPayload struct {
	To      string `json:"to"`
	Body    string `json:"body"`
	CallSID string `json:"call_sid,omitempty"`
}

// Send implements SMSProvider.
func (w *WebhookSMS) Send(ctx context.Context, callSID, to, body string) error {
	payload, err := json.Marshal(webhookPayload{To: to, Body: body, CallSID: callSID})
	if err != nil {
		return fmt.Errorf("webhook sms: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("webhook sms: request: %w", err)
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
		return fmt.Errorf("webhook sms: post: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(snippet))
		if msg == "" {
			return fmt.Errorf("webhook sms: gateway answered %s", resp.Status)
		}
		return fmt.Errorf("webhook sms: gateway answered %s: %s", resp.Status, msg)
	}
	return nil
}

// LogSMS only logs messages, at info level: the provider for development,
// where nothing is delivered.
type LogSMS struct {
	Log *slog.Logger
}

// Name implements SMSProvider.
func (LogSMS) Name() string { return "log" }

// Send implements SMSProvider; it never fails.
func (l LogSMS) Send(ctx context.Context, callSID, to, body string) error {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "notify: sms (log provider, not delivered)", "to", to, "body", body, "call_sid", callSID)
	return nil
}

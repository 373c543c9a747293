package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// recordTimeout bounds recording an attempt after the job's own context
// has ended (a hard stop).
const recordTimeout = 10 * time.Second

// worker delivers one callback per job.
type worker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

// result is the outcome of one HTTP attempt.
type result struct {
	status    int // 0 without a response
	latency   time.Duration
	err       error
	permanent bool // retrying cannot help
}

// Work implements river.Worker. It makes one attempt and records it. A
// failed attempt returns an error so River retries it (or, on the last
// attempt, discards the job once the callback is marked failed).
func (w *worker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	s := w.s
	cbs := s.db.Callbacks()
	cb, err := cbs.Get(ctx, job.Args.CallbackID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("callback %s is gone: %w", job.Args.CallbackID, err))
	}
	if err != nil {
		return err
	}
	if cb.Status == store.CallbackDelivered {
		return nil
	}

	res := w.post(ctx, cb)
	interrupted := res.err != nil && ctx.Err() != nil // a hard stop, not the receiver
	state := store.CallbackPending
	switch {
	case res.err == nil:
		state = store.CallbackDelivered
	case interrupted:
	case res.permanent || job.Attempt >= job.MaxAttempts:
		state = store.CallbackFailed
	}

	a := &store.CallbackAttempt{
		CallbackID: cb.ID,
		Attempt:    cb.Attempts + 1,
		URL:        cb.URL,
		HTTPStatus: res.status,
		LatencyMS:  int(res.latency.Milliseconds()),
	}
	if res.err != nil {
		a.Error = res.err.Error()
		if interrupted {
			a.Error = "interrupted by shutdown: " + a.Error
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := cbs.RecordAttempt(rctx, a, state); err != nil {
		// The queue retries; at-least-once allows a second delivery.
		return fmt.Errorf("callback %s: record attempt %d: %w", cb.ID, a.Attempt, err)
	}
	w.logAttempt(ctx, cb, a, state)
	if s.onAttempt != nil {
		s.onAttempt(a, state)
	}

	switch {
	case res.err == nil:
		return nil
	case interrupted:
		// Back to the queue at once, without using up an attempt.
		return river.JobSnooze(0)
	case res.permanent:
		return river.JobCancel(res.err)
	}
	return res.err
}

// post makes one HTTP attempt.
func (w *worker) post(ctx context.Context, cb *store.Callback) result {
	if err := checkURL(cb.URL); err != nil {
		return result{err: err, permanent: true}
	}
	body, ct, err := encodeBody(cb)
	if err != nil {
		return result{err: err, permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, w.s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err, permanent: true}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", w.s.cfg.UserAgent)
	req.Header.Set("X-Switchyard-Event", cb.Event)
	req.Header.Set("X-Switchyard-Sequence", strconv.Itoa(cb.Seq))

	start := time.Now()
	resp, err := w.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	// Read a little of the body, for the error text and so the connection
	// can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := result{status: resp.StatusCode, latency: time.Since(start)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.err = fmt.Errorf("receiver answered %s", resp.Status)
		if s := strings.TrimSpace(string(snippet)); s != "" {
			res.err = fmt.Errorf("%w: %s", res.err, truncate(s, 200))
		}
	}
	return res
}

// checkURL refuses anything but an absolute http or https URL.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("callback URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("callback URL %q: scheme %q is not http or https", raw, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("callback URL %q has no host", raw)
	}
	return nil
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// logAttempt logs an attempt: info when delivered, warn otherwise.
func (w *worker) logAttempt(ctx context.Context, cb *store.Callback, a *store.CallbackAttempt, state string) {
	level := slog.LevelInfo
	if state != store.CallbackDelivered {
		level = slog.LevelWarn
	}
	attrs := []any{
		"callback_id", cb.ID, "call_sid", cb.CallSID, "event", cb.Event, "seq", cb.Seq,
		"attempt", a.Attempt, "http_status", a.HTTPStatus, "latency_ms", a.LatencyMS, "state", state,
	}
	if a.Error != "" {
		attrs = append(attrs, "err", a.Error)
	}
	w.s.log.Log(ctx, level, "callback: delivery attempt", attrs...)
}

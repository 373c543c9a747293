package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
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
	sent      bool // the request was handed to the HTTP client
	timedOut  bool // no response within Config.Timeout
}

// Work implements river.Worker. It asks the gate for a slot (see gate):
// turned away, the job is snoozed, which uses up no attempt; let through,
// it makes one attempt and records it. A failed attempt returns an error
// so River retries it (or, on the last attempt, discards the job once the
// callback is marked failed).
func (w *worker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	s := w.s
	dest, account := job.Args.Dest, job.Args.AccountSID
	var cb *store.Callback
	if dest == "" || account == "" {
		// Queued before jobs carried their route, or a URL nothing can
		// be sent to (the attempt then fails at once, ungated).
		var err error
		if cb, err = w.load(ctx, job.Args.CallbackID); cb == nil {
			return err
		}
		dest, account = destination(cb.URL), cb.AccountSID
	}

	var t *ticket
	var res result
	if dest != "" {
		v := s.gate.acquireWait(ctx, dest, account)
		switch {
		case v.ticket != nil:
			t = v.ticket
		case v.limit == limitBreaker:
			res.err = fmt.Errorf("not sent: %s keeps timing out and has an attempt in flight; "+
				"it gets one attempt at a time until it answers", dest)
		default:
			s.log.DebugContext(ctx, "callback: deferred", "callback_id", job.Args.CallbackID,
				"dest", dest, "account_sid", account, "limit", v.limit, "after", v.after)
			s.cfg.Metrics.CallbackAttempt(metrics.CallbackDeferred, false, 0)
			if s.onDefer != nil {
				s.onDefer(job.Args.CallbackID, v.limit)
			}
			return river.JobSnooze(v.after)
		}
	}
	// Whatever happens, the slot is given back (a no-op once it has been).
	defer w.release(ctx, t, outcomeNotSent, 0)

	if cb == nil {
		var err error
		if cb, err = w.load(ctx, job.Args.CallbackID); cb == nil {
			return err
		}
	}
	if res.err == nil {
		res = w.post(ctx, cb)
	}
	interrupted := res.err != nil && ctx.Err() != nil // a hard stop, not the receiver
	w.release(ctx, t, outcomeOf(res, interrupted), res.latency)
	state := store.CallbackPending
	switch {
	case res.err == nil:
		state = store.CallbackDelivered
	case interrupted:
	case res.permanent || job.Attempt >= job.MaxAttempts:
		state = store.CallbackFailed
	}
	s.cfg.Metrics.CallbackAttempt(attemptOutcome(state, interrupted), res.sent, res.latency)

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
	if err := s.db.Callbacks().RecordAttempt(rctx, a, state); err != nil {
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

// attemptOutcome is an attempt's outcome label: what became of its
// callback.
func attemptOutcome(state string, interrupted bool) string {
	switch {
	case interrupted:
		return metrics.CallbackInterrupted
	case state == store.CallbackDelivered:
		return metrics.CallbackDelivered
	case state == store.CallbackFailed:
		return metrics.CallbackFailed
	}
	return metrics.CallbackRetry
}

// load reads a job's callback. A nil callback means there is nothing to
// deliver: the error (nil for a callback delivered already) is the job's.
func (w *worker) load(ctx context.Context, id string) (*store.Callback, error) {
	cb, err := w.s.db.Callbacks().Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, river.JobCancel(fmt.Errorf("callback %s is gone: %w", id, err))
	case err != nil:
		return nil, fmt.Errorf("callback %s: load: %w", id, err)
	case cb.Status == store.CallbackDelivered:
		return nil, nil
	}
	return cb, nil
}

// release hands a ticket back to the gate (nil, or released already:
// nothing to do) and logs the change of the destination's concurrency its
// outcome caused.
func (w *worker) release(ctx context.Context, t *ticket, o outcome, took time.Duration) {
	if t == nil {
		return
	}
	c, changed := t.done(o, took)
	switch {
	case !changed:
	case c.to < c.from:
		w.s.log.WarnContext(ctx, "callback: destination timing out; fewer attempts in flight to it",
			"dest", t.dest, "timeouts", c.timeouts, "max_in_flight", c.to)
	default:
		w.s.log.InfoContext(ctx, "callback: destination answering again", "dest", t.dest, "max_in_flight", c.to)
	}
}

// outcomeOf classifies an attempt for the gate.
func outcomeOf(res result, interrupted bool) outcome {
	switch {
	case interrupted:
		return outcomeInterrupted
	case res.status != 0:
		return outcomeAnswered
	case !res.sent:
		return outcomeNotSent
	case res.timedOut:
		return outcomeTimedOut
	}
	return outcomeFailed
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
		var ne net.Error
		timedOut := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
		return result{latency: time.Since(start), err: err, sent: true, timedOut: timedOut}
	}
	defer func() { _ = resp.Body.Close() }()
	// Read a little of the body, for the error text and so the connection
	// can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := result{status: resp.StatusCode, latency: time.Since(start), sent: true}
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
		attrs = append(attrs, "err", webhttp.RedactURLs(a.Error))
	}
	w.s.log.Log(ctx, level, "callback: delivery attempt", attrs...)
}

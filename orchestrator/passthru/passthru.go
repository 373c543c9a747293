// Package passthru makes flows' requests to the customer's URLs: it
// implements the call runtime's Fetcher, asking the URL with Exotel's
// query parameters and logging every request against its call.
//
// A Passthru branches on the HTTP status: 2xx is success, 302 is
// alternate, anything else, a transport failure or a timeout is error.
// Redirects are therefore never followed. Its body (up to
// flows.MaxFetchBody) goes back to the flow, for a Switch that follows
// (Exotel's {"select": "<case>"}).
//
// The same requests fetch the dynamic settings of greetings, gathers and
// SMS (flows.Fetch.Purpose): a GET with the same parameters, with
// Accept: text/plain for a greeting or SMS, and Accept: application/json
// and Exotel-Version: 1.0 for a gather, as Exotel sends. The flow reads
// the answer; the request is logged with the purpose as its kind.
// Exotel's HEAD before a dynamic greeting or SMS is not sent: the GET's
// own Content-Type is read.
package passthru

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Defaults of Config.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxTimeout  = 30 * time.Second
	DefaultResponseLog = 2 << 10
	DefaultUserAgent   = "Switchyard-Passthru/1.0"
	// storeTimeout bounds the write of a request's log row.
	storeTimeout = 5 * time.Second
	// drainLimit is how much of a response body beyond the logged part is
	// read so that the connection can be reused.
	drainLimit = 64 << 10
)

// Config tunes a Client. The zero value is usable.
type Config struct {
	// HTTPClient sends the requests (default webhttp.Client with the
	// default egress policy: public addresses only). Its Transport, Jar
	// and Timeout are used; redirects are never followed whatever its
	// CheckRedirect says.
	HTTPClient *http.Client
	// DefaultTimeout bounds a request whose Fetch has no timeout (5 s).
	DefaultTimeout time.Duration
	// MaxTimeout caps a Fetch's own timeout (30 s).
	MaxTimeout time.Duration
	// MaxResponseLog is how much of a response body is logged (2 KiB).
	MaxResponseLog int
	// UserAgent is sent with every request.
	UserAgent string
	// Zone is the zone of the timestamps sent (IST).
	Zone *time.Location
	// Now is the clock (time.Now).
	Now func() time.Time
	// Metrics times every request by its kind (passthru, greeting, gather,
	// sms) and outcome (nil: nowhere).
	Metrics *metrics.Set // Writes, if set, carries the request log rows after the calls'
	// own writes (a call's row may still wait there); nil: they are
	// written at once.
	Writes *store.Queue
}

// Client makes passthru requests. It is safe for concurrent use.
type Client struct {
	db   *store.DB
	cfg  Config
	http *http.Client
	log  *slog.Logger
}

var _ call.Fetcher = (*Client)(nil)

// ExotelVersion is the Exotel-Version header of a dynamic gather's
// request.
const ExotelVersion = "1.0"

// New makes a client logging requests to db (nil: to slog only).
func New(db *store.DB, cfg Config, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = DefaultTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.MaxResponseLog <= 0 {
		cfg.MaxResponseLog = DefaultResponseLog
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = webhttp.Client(webhttp.Policy{}, 0)
	}
	return &Client{db: db, cfg: cfg, http: webhttp.NoRedirects(hc), log: log}
}

// Outcome is the output a flow takes for a request's result (the flow's
// own rule, flows.FetchResult.Output).
func Outcome(status int, err error) string {
	r := flows.FetchResult{StatusCode: status}
	if err != nil {
		r.Err = err.Error()
	}
	return r.Output()
}

// Timeout is how long a request with timeout seconds may take: the
// default for 0 or less, at most MaxTimeout.
func (cl *Client) Timeout(seconds int) time.Duration {
	return webhttp.Timeout(seconds, cl.cfg.DefaultTimeout, cl.cfg.MaxTimeout)
}

// Fetch asks f's URL about the call and returns its answer: the HTTP
// status, Content-Type and the start of the body. The error is non-nil
// only when no status was had (a bad URL, a transport failure, a
// timeout); the request is logged against the call either way.
func (cl *Client) Fetch(ctx context.Context, c *call.Info, f flows.Fetch) (call.Answer, error) {
	start := cl.cfg.Now()
	method := strings.ToUpper(strings.TrimSpace(f.Method))
	if method == "" {
		method = http.MethodGet
	}
	res := cl.do(ctx, c, f, method, start)
	latency := cl.cfg.Now().Sub(start)
	outcome := Outcome(res.status, res.err)
	cl.cfg.Metrics.HTTPRequest(kind(f),
		metrics.HTTPOutcome(res.status, res.err, errors.Is(res.err, webhttp.ErrEgressDenied)), latency)

	attrs := []any{"call_sid", c.CallSid, "account_sid", c.AccountSID, "applet", f.Applet,
		"purpose", kind(f), "method", method, "url", webhttp.Redact(f.URL), "async", f.Async, "status", res.status,
		"outcome", outcome, "latency", latency}
	if res.err != nil {
		cl.log.WarnContext(ctx, "passthru: request failed", append(attrs, "err", webhttp.RedactURLs(res.err.Error()))...)
	} else {
		cl.log.InfoContext(ctx, "passthru: request", attrs...)
	}
	cl.record(ctx, c, f, method, res, outcome, latency)
	return call.Answer{Status: res.status, ContentType: res.contentType, Body: res.body}, res.err
}

// kind is what a request is for, as its log row names it.
func kind(f flows.Fetch) string {
	if f.Purpose == "" {
		return store.RequestPassthru
	}
	return f.Purpose
}

// result is what came of one request.
type result struct {
	status int
	err    error  // no status: the flow takes error
	note   string // a problem that did not cost the status (reading the body)
	// body is the start of the answer (flows.MaxFetchBody); the log keeps
	// less of it (Config.MaxResponseLog).
	body        string
	contentType string
}

func (cl *Client) do(ctx context.Context, c *call.Info, f flows.Fetch, method string, start time.Time) result {
	u, err := url.Parse(f.URL)
	switch {
	case err != nil:
		return result{err: fmt.Errorf("passthru: bad URL: %w", err)}
	case u.Scheme != "http" && u.Scheme != "https":
		return result{err: fmt.Errorf("passthru: URL %q: scheme must be http or https", f.URL)}
	case u.Host == "":
		return result{err: fmt.Errorf("passthru: URL %q has no host", f.URL)}
	case method != http.MethodGet && method != http.MethodPost:
		return result{err: fmt.Errorf("passthru: method %q: must be GET or POST", f.Method)}
	}

	params := Params(c, start, cl.cfg.Zone).Encode()
	var body io.Reader
	if method == http.MethodGet {
		if u.RawQuery == "" {
			u.RawQuery = params
		} else {
			u.RawQuery += "&" + params
		}
	} else {
		body = strings.NewReader(params)
	}

	timeout := cl.Timeout(f.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return result{err: fmt.Errorf("passthru: build request: %w", err)}
	}
	req.Header.Set("User-Agent", cl.cfg.UserAgent)
	switch f.Purpose {
	case flows.FetchGather:
		req.Header.Set("Exotel-Version", ExotelVersion)
		req.Header.Set("Accept", "application/json")
	case flows.FetchGreeting, flows.FetchSMS:
		req.Header.Set("Accept", "text/plain, application/json;q=0.5")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return result{err: fmt.Errorf("passthru: timeout after %s: %w", timeout, context.DeadlineExceeded)}
		}
		return result{err: fmt.Errorf("passthru: %s %s: %w", method, f.URL, err)}
	}
	defer func() { _ = resp.Body.Close() }()

	r := result{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max(cl.cfg.MaxResponseLog, flows.MaxFetchBody))))
	r.body = string(b)
	if err == nil {
		_, err = io.CopyN(io.Discard, resp.Body, drainLimit)
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		r.note = fmt.Sprintf("reading the response: %v", err)
	}
	return r
}

// record writes the request's log row; a failure is only logged.
func (cl *Client) record(ctx context.Context, c *call.Info, f flows.Fetch, method string, res result, outcome string, latency time.Duration) {
	if cl.db == nil {
		return
	}
	errText := res.note
	if res.err != nil {
		errText = res.err.Error()
	}
	row := &store.CallRequest{
		AccountSID: c.AccountSID,
		CallSID:    c.CallSid,
		Applet:     f.Applet,
		Kind:       kind(f),
		Method:     method,
		URL:        f.URL,
		HTTPStatus: res.status,
		LatencyMS:  int(latency.Milliseconds()),
		Outcome:    outcome,
		Error:      errText,
		Response:   clipLog(res.body, cl.cfg.MaxResponseLog),
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := cl.db.CallRequests().Log(sctx, cl.cfg.Writes, row); err != nil {
		cl.log.ErrorContext(ctx, "passthru: request not logged", "call_sid", c.CallSid, "url", webhttp.Redact(f.URL), "err", err)
	}
}

// clipLog keeps the first n bytes of a body for the log (the store makes
// them valid text).
func clipLog(body string, n int) string {
	if len(body) <= n {
		return body
	}
	return body[:n]
}

package routing

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

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Defaults of Config.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxTimeout  = 30 * time.Second
	DefaultMaxBody     = 64 << 10
	DefaultResponseLog = 2 << 10
	DefaultUserAgent   = "Switchyard-Connect/1.0"
	DefaultMaxInFlight = 64
)

// Request kinds logged to the call request log: store.RequestConnect for
// plan requests, RequestDialEvent for dial events.
const RequestDialEvent = "dial_event"

// Outcomes of logged requests.
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"
)

// ExotelVersion is the Exotel-Version header sent with plan requests, as
// Exotel sends it to Connect URLs.
const ExotelVersion = "1.0"

const (
	// storeTimeout bounds the write of a request's log row.
	storeTimeout = 5 * time.Second
	// drainLimit is how much of an unread response body is read after the
	// kept part so that the connection can be reused.
	drainLimit = 64 << 10
)

// Config tunes a Planner or Events. The zero value is usable.
type Config struct {
	// HTTPClient sends the requests (default webhttp.Client with the
	// default egress policy: public addresses only). Its Transport, Jar
	// and Timeout are used; redirects are never followed whatever its
	// CheckRedirect says.
	HTTPClient *http.Client
	// DefaultTimeout bounds a plan request whose Dial has no Timeout, and
	// every dial event (5 s).
	DefaultTimeout time.Duration
	// MaxTimeout caps a Dial's own Timeout (30 s).
	MaxTimeout time.Duration
	// MaxBody is the largest plan answer accepted, in bytes (64 KiB).
	MaxBody int
	// MaxResponseLog is how much of a response body is logged (2 KiB).
	MaxResponseLog int
	// UserAgent is sent with every request.
	UserAgent string
	// Zone is the zone of the timestamps sent (exotime.IST).
	Zone *time.Location
	// Now is the clock (time.Now).
	Now func() time.Time
	// MaxInFlight bounds the dial events being sent at once (64); more
	// are dropped with a warning.
	MaxInFlight int
	// Metrics times every request, plan requests as kind connect and
	// dial events as dial_event, by outcome (nil: nowhere).
	Metrics *metrics.Set // Writes, if set, carries the request log rows after the calls'
	// own writes (a call's row may still wait there); nil: they are
	// written at once.
	Writes *store.Queue
}

// client is the HTTP side shared by Planner and Events: one GET with the
// call's parameters, bounded in time and size, logged against the call.
type client struct {
	db   *store.DB
	cfg  Config
	http *http.Client
	log  *slog.Logger
}

func newClient(db *store.DB, cfg Config, log *slog.Logger) client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = DefaultTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxResponseLog <= 0 {
		cfg.MaxResponseLog = DefaultResponseLog
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Zone == nil {
		cfg.Zone = exotime.IST
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = webhttp.Client(webhttp.Policy{}, 0)
	}
	return client{db: db, cfg: cfg, http: webhttp.NoRedirects(hc), log: log}
}

// timeout is how long a request with timeout seconds may take: the default
// for 0 or less, at most MaxTimeout.
func (cl *client) timeout(seconds int) time.Duration {
	return webhttp.Timeout(seconds, cl.cfg.DefaultTimeout, cl.cfg.MaxTimeout)
}

// exchange is what came of one request.
type exchange struct {
	status      int
	contentType string
	// body is the response body, at most MaxBody bytes; over tells that
	// there was more.
	body []byte
	over bool
	// err is set when no response was had (a bad URL, a transport
	// failure, a timeout) or its body could not be read.
	err error
}

// checkURL accepts an absolute http or https URL.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("bad URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("URL %q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	return u, nil
}

// get sends a GET to raw with params added to its query.
func (cl *client) get(ctx context.Context, raw string, params url.Values, header http.Header, timeout time.Duration) exchange {
	u, err := checkURL(raw)
	if err != nil {
		return exchange{err: err}
	}
	if q := params.Encode(); u.RawQuery == "" {
		u.RawQuery = q
	} else if q != "" {
		u.RawQuery += "&" + q
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return exchange{err: fmt.Errorf("build request: %w", err)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", cl.cfg.UserAgent)
	resp, err := cl.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return exchange{err: fmt.Errorf("timeout after %s: %w", timeout, context.DeadlineExceeded)}
		}
		// The URL in a *url.Error carries the call's parameters; the
		// logged row names the URL already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return exchange{err: fmt.Errorf("request failed: %w", err)}
	}
	defer func() { _ = resp.Body.Close() }()

	ex := exchange{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(cl.cfg.MaxBody)+1))
	if len(b) > cl.cfg.MaxBody {
		b, ex.over = b[:cl.cfg.MaxBody], true
	}
	ex.body = b
	if err == nil && !ex.over {
		_, err = io.CopyN(io.Discard, resp.Body, drainLimit)
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ex.err = fmt.Errorf("timeout after %s reading the response: %w", timeout, context.DeadlineExceeded)
		} else {
			ex.err = fmt.Errorf("reading the response: %w", err)
		}
	}
	return ex
}

// measure times a request of kind in Config.Metrics. Its outcome is the
// HTTP exchange's: an answer the caller cannot use is still ok.
func (cl *client) measure(kind string, ex exchange, latency time.Duration) {
	cl.cfg.Metrics.HTTPRequest(kind, metrics.HTTPOutcome(ex.status, ex.err, errors.Is(ex.err, webhttp.ErrEgressDenied)), latency)
}

// callSID is the call's SID as the request parameters give it.
func callSID(c *call.Info) string {
	if c.CallSid != "" {
		return c.CallSid
	}
	return c.State.Call.CallSid
}

// logged is one request's log row, before it is written.
type logged struct {
	accountSID, callSID, applet string
	kind, url                   string
	ex                          exchange
	err                         error
	latency                     time.Duration
}

// record writes a request's log row; a failure is only logged.
func (cl *client) record(ctx context.Context, l logged) {
	if cl.db == nil {
		return
	}
	outcome, errText := OutcomeSuccess, ""
	if l.err != nil {
		outcome, errText = OutcomeFailed, l.err.Error()
	}
	resp := l.ex.body
	if len(resp) > cl.cfg.MaxResponseLog {
		resp = resp[:cl.cfg.MaxResponseLog]
	}
	row := &store.CallRequest{
		AccountSID: l.accountSID,
		CallSID:    l.callSID,
		Applet:     l.applet,
		Kind:       l.kind,
		Method:     http.MethodGet,
		URL:        l.url,
		HTTPStatus: l.ex.status,
		LatencyMS:  int(l.latency.Milliseconds()),
		Outcome:    outcome,
		Error:      errText,
		Response:   strings.ToValidUTF8(string(resp), "\uFFFD"),
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := cl.db.CallRequests().Log(sctx, cl.cfg.Writes, row); err != nil {
		cl.log.ErrorContext(ctx, "routing: request not logged", "call_sid", l.callSID, "kind", l.kind,
			"url", webhttp.Redact(l.url), "err", err)
	}
}

// statusErr is the error of a response that is not 2xx.
func statusErr(status int) error {
	text := http.StatusText(status)
	if text == "" {
		text = "unknown status"
	}
	if status >= 300 && status < 400 {
		return fmt.Errorf("HTTP status %d %s (redirects are not followed)", status, text)
	}
	return fmt.Errorf("HTTP status %d %s", status, text)
}

package routing

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Events posts dial events (Exotel's dial passthru) to connects' event
// URLs. It implements call.DialEvents: Post returns at once and the event
// is sent in the background, at most Config.MaxInFlight at a time. It is
// safe for concurrent use.
type Events struct {
	client
	sem chan struct{}
	// base is cancelled when Close gives up waiting.
	base   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	inFlight int
	// idle is closed while nothing is in flight.
	idle chan struct{}
}

var _ call.DialEvents = (*Events)(nil)

// NewEvents makes a dial event sender logging requests to db (nil: to
// slog only).
func NewEvents(db *store.DB, cfg Config, log *slog.Logger) *Events {
	cl := newClient(db, cfg, log)
	base, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Events{client: cl, sem: make(chan struct{}, cl.cfg.MaxInFlight),
		base: base, cancel: cancel, idle: idle}
}

// EventParams are the query parameters of a dial event: CallSid,
// CallFrom, CallTo, From, To, Direction (outbound-dial), Created,
// CurrentTime (the event's time), DialWhomNumber, Status, EventType and,
// at Terminal, DialCallStatus. Timestamps are written in zone (nil: IST).
func EventParams(c *call.Info, ev call.DialEvent, zone *time.Location) url.Values {
	all := passthru.Params(c, ev.At, zone)
	v := url.Values{}
	for _, k := range []string{"CallSid", "CallFrom", "CallTo", "From", "To", "Created"} {
		v.Set(k, all.Get(k))
	}
	v.Set("Direction", "outbound-dial")
	v.Set("CurrentTime", exotime.Format(ev.At, zone))
	v.Set("DialWhomNumber", ev.Whom)
	v.Set("Status", ev.Status)
	v.Set("EventType", ev.Type)
	if ev.Type == call.DialEventTerminal {
		v.Set("DialCallStatus", ev.LegStatus)
	}
	return v
}

// Post sends ev to rawURL in the background. An empty URL is ignored; an
// event that finds MaxInFlight events in flight, or Events closed, is
// dropped with a warning. The request outlives ctx's cancellation (a
// Terminal event is sent as the call ends) but not its values.
func (e *Events) Post(ctx context.Context, c *call.Info, rawURL string, ev call.DialEvent) {
	if rawURL == "" || c == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = e.cfg.Now()
	}
	// Everything read from c is read now: the call goes on meanwhile.
	params := EventParams(c, ev, e.cfg.Zone)
	l := logged{accountSID: c.AccountSID, callSID: callSID(c), applet: c.State.Applet,
		kind: RequestDialEvent, url: rawURL}
	attrs := []any{"call_sid", l.callSID, "account_sid", l.accountSID, "url", webhttp.Redact(rawURL),
		"event", ev.Type, "whom", ev.Whom}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.log.WarnContext(ctx, "routing: dial event dropped: shutting down", attrs...)
		return
	}
	select {
	case e.sem <- struct{}{}:
	default:
		e.mu.Unlock()
		e.log.WarnContext(ctx, "routing: dial event dropped: too many in flight", append(attrs, "max", cap(e.sem))...)
		return
	}
	if e.inFlight == 0 {
		e.idle = make(chan struct{})
	}
	e.inFlight++
	e.mu.Unlock()

	rctx, stop := e.detach(ctx)
	go func() {
		defer e.done()
		defer stop()
		e.send(rctx, l, params, attrs)
	}()
}

// detach is ctx without its cancellation, cancelled instead when Close
// gives up.
func (e *Events) detach(ctx context.Context) (context.Context, func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	unhook := context.AfterFunc(e.base, cancel)
	return rctx, func() { unhook(); cancel() }
}

func (e *Events) send(ctx context.Context, l logged, params url.Values, attrs []any) {
	start := e.cfg.Now()
	ex := e.get(ctx, l.url, params, nil, e.cfg.DefaultTimeout)
	l.ex, l.err = ex, ex.err
	if ex.status != 0 && (ex.status < 200 || ex.status > 299) {
		l.err = statusErr(ex.status)
	}
	l.latency = e.cfg.Now().Sub(start)
	e.measure(RequestDialEvent, ex, l.latency)
	attrs = append(attrs, "status", ex.status, "latency", l.latency)
	if l.err != nil {
		e.log.WarnContext(ctx, "routing: dial event failed", append(attrs, "err", webhttp.RedactURLs(l.err.Error()))...)
	} else {
		e.log.DebugContext(ctx, "routing: dial event", attrs...)
	}
	e.record(ctx, l)
}

func (e *Events) done() {
	<-e.sem
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inFlight--
	if e.inFlight == 0 {
		close(e.idle)
	}
}

// Wait waits until no event is in flight.
func (e *Events) Wait() {
	e.mu.Lock()
	idle := e.idle
	e.mu.Unlock()
	<-idle
}

// Close stops taking events and waits for those in flight. When ctx ends
// first, the requests in flight are cancelled (their failures are still
// logged) and ctx's error is returned.
func (e *Events) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	idle := e.idle
	e.mu.Unlock()
	select {
	case <-idle:
		e.cancel()
		return nil
	case <-ctx.Done():
		e.cancel()
		<-idle
		return ctx.Err()
	}
}

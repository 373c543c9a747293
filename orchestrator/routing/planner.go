package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Planner asks programmable connects' URLs what to dial. It implements
// call.Planner and is safe for concurrent use.
type Planner struct {
	client
}

var _ call.Planner = (*Planner)(nil)

// New makes a planner logging requests to db (nil: to slog only, and
// outgoing_phone_number is then not checked against the account's
// ExoPhones).
func New(db *store.DB, cfg Config, log *slog.Logger) *Planner {
	return &Planner{client: newClient(db, cfg, log)}
}

// Plan asks d.URL, then d.FallbackURL when d.URL gives no usable answer,
// and returns d with the answer applied. last, when set, is the previous
// attempt of a fetch_after_attempt connect: its status, whom and duration
// are sent as DialCallStatus, DialWhomNumber and DialCallDuration. The
// error names the reason of each URL asked.
func (p *Planner) Plan(ctx context.Context, c *call.Info, d flows.Dial, last *call.Attempt) (*call.Plan, error) {
	if c == nil {
		return nil, errors.New("programmable connect: no call")
	}
	if strings.TrimSpace(d.URL) == "" {
		return nil, errors.New("url: missing")
	}
	plan, err := p.ask(ctx, c, d, "url", d.URL, last)
	if err == nil {
		return plan, nil
	}
	if d.FallbackURL == "" || ctx.Err() != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	plan, ferr := p.ask(ctx, c, d, "fallback_url", d.FallbackURL, last)
	if ferr == nil {
		return plan, nil
	}
	return nil, fmt.Errorf("url: %w; fallback_url: %w", err, ferr)
}

// params are the query parameters of a plan request.
func (p *Planner) params(c *call.Info, last *call.Attempt) url.Values {
	v := passthru.Params(c, p.cfg.Now(), p.cfg.Zone)
	if last != nil {
		v.Set("DialCallStatus", string(last.Status))
		v.Set("DialWhomNumber", last.Whom)
		v.Set("DialCallDuration", strconv.Itoa(last.Duration))
	} else if c.State.DialStatus == "" {
		// No connect has run yet: Exotel sends 0 (no leg 2 yet).
		v.Set("DialCallDuration", "0")
	}
	return v
}

// ask makes one plan request to raw (the applet's field which) and reads
// its answer; the request is logged either way.
func (p *Planner) ask(ctx context.Context, c *call.Info, d flows.Dial, which, raw string, last *call.Attempt) (*call.Plan, error) {
	start := p.cfg.Now()
	header := http.Header{}
	header.Set("Exotel-Version", ExotelVersion)
	header.Set("Accept", "application/json")
	ex := p.get(ctx, raw, p.params(c, last), header, p.timeout(d.Timeout))

	var (
		plan *call.Plan
		err  = ex.err
	)
	switch {
	case ex.status != 0 && (ex.status < 200 || ex.status > 299):
		err = statusErr(ex.status)
	case err != nil:
	case ex.over:
		err = fmt.Errorf("response body over %d bytes", p.cfg.MaxBody)
	default:
		var ans *answer
		plan, ans, err = parse(ex.body, ex.contentType, d)
		if err == nil && ans.callerID != "" && p.db != nil {
			plan.Dial.CallerID, err = p.exoPhone(ctx, c.AccountSID, ans.callerID)
		}
	}
	if err != nil {
		plan = nil
	}
	latency := p.cfg.Now().Sub(start)
	p.measure(store.RequestConnect, ex, latency)

	attrs := []any{"call_sid", callSID(c), "account_sid", c.AccountSID, "applet", d.Applet,
		"field", which, "url", webhttp.Redact(raw), "status", ex.status, "latency", latency}
	if err != nil {
		p.log.WarnContext(ctx, "routing: connect request failed", append(attrs, "err", webhttp.RedactURLs(err.Error()))...)
	} else {
		p.log.InfoContext(ctx, "routing: connect request", append(attrs, "version", plan.Version,
			"destinations", len(plan.Dial.Destinations))...)
	}
	p.record(ctx, logged{accountSID: c.AccountSID, callSID: callSID(c), applet: d.Applet,
		kind: store.RequestConnect, url: raw, ex: ex, err: err, latency: latency})
	return plan, err
}

// exoPhone finds the account's ExoPhone an outgoing_phone_number names
// (in any written form store.Numbers.Match knows) and returns its stored
// E.164 number.
func (p *Planner) exoPhone(ctx context.Context, accountSID, number string) (string, error) {
	ph, err := p.db.Numbers().Match(ctx, accountSID, number)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("outgoing_phone_number %q is not an ExoPhone of this account", number)
	case err != nil:
		return "", fmt.Errorf("outgoing_phone_number %q: checking the account's ExoPhones: %w", number, err)
	}
	return ph.Number, nil
}

package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// APIConfig configures a run over Switchyard's REST API: each call is an
// Exotel Calls/connect request (Switchyard rings From, then connects To),
// and its end is the terminal status callback the tool receives. Zero
// values select the defaults noted.
type APIConfig struct {
	// Base is the API's root, http://HOST:PORT; Account, Key and Token
	// are the account's SID and API credentials.
	Base, Account, Key, Token string
	// From is rung first, then To; CallerID is the ExoPhone shown.
	From, To, CallerID string
	// Calls, CPS and Concurrency: how many requests, at what rate, and
	// at most how many waiting for their answer at once.
	Calls       int
	CPS         float64
	Concurrency int
	// Listen is where the tool receives the status callbacks (default
	// 127.0.0.1:0); CallbackURL, if set, is the URL serve posts them to
	// (default http://<Listen>/callbacks), for a serve on another host.
	Listen, CallbackURL string
	// Wait bounds the wait for the terminal callbacks after the last
	// request (default 2 min).
	Wait time.Duration
	// Measure: Records are read after the run for calls without a final
	// record (APIReport.Lost) and how long after its end each callback
	// came; the rest as in Config.
	Measure
}

func (c APIConfig) withDefaults() (APIConfig, error) {
	switch {
	case c.Base == "":
		return c, fmt.Errorf("%w: no API address", ErrConfig)
	case c.Account == "" || c.Key == "" || c.Token == "":
		return c, fmt.Errorf("%w: the API needs an account, a key and a token", ErrConfig)
	case strings.TrimSpace(c.From) == "" || strings.TrimSpace(c.To) == "" || strings.TrimSpace(c.CallerID) == "":
		return c, fmt.Errorf("%w: Calls/connect needs a from, a to and a caller id", ErrConfig)
	}
	if err := checkLoad(c.Calls, c.CPS, c.Concurrency, &c.Measure); err != nil {
		return c, err
	}
	u, err := url.Parse(c.Base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%w: API address %q is not an http(s) URL", ErrConfig, c.Base)
	}
	c.Base = strings.TrimRight(c.Base, "/")
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Wait <= 0 {
		c.Wait = 2 * time.Minute
	}
	return c, nil
}

// RunAPI places cfg.Calls calls through the REST API and reports how
// they went. It returns an error only when the run could not start (bad
// config, the callback listener, an unreadable pid or /metrics).
// Cancelling ctx stops sending requests; the report is still returned.
func RunAPI(ctx context.Context, cfg APIConfig) (*APIReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := cfg.start(ctx)
	if err != nil {
		return nil, err
	}
	rcv, err := listenCallbacks(cfg.Listen, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	callback := cfg.CallbackURL
	if callback == "" {
		callback = "http://" + rcv.addr() + "/callbacks"
	}
	r := &apiRun{cfg: cfg, callback: callback, rcv: rcv, refused: map[string]int{}}

	stop, progressDone := make(chan struct{}), make(chan struct{})
	go r.progress(stop, progressDone)
	first, last := r.send(ctx)
	waitStart := time.Now()
	r.rcv.waitFor(ctx, cfg.Wait)
	close(stop)
	<-progressDone

	got := r.rcv.snapshot()
	rep := r.report(got, first, last)
	if rep.CallbacksMissing > 0 {
		rep.CallbackWaitS = round(time.Since(waitStart).Seconds(), 3)
	}
	m.cpu(ctx, &rep.ServeFigures, rep.Accepted)
	if cfg.Records != nil && ctx.Err() == nil {
		if err := r.countLost(ctx, rep, got.accepted); err != nil {
			cfg.Logger.WarnContext(ctx, "loadgen: lost calls not counted", "err", err)
		}
	}
	m.serveMetrics(ctx, &rep.ServeFigures, rep.Accepted)
	return rep, nil
}

// apiRun is one run: its requests' outcomes and the callbacks received.
type apiRun struct {
	cfg      APIConfig
	callback string
	rcv      *receiver

	sent, inFlight atomic.Int64

	mu         sync.Mutex
	refused    map[string]int  // by HTTP status or transport error
	requests   []time.Duration // accepted requests' round trips
	lastAnswer time.Time       // the latest answer, accepted or not
}

// send sends the requests at the configured rate and concurrency, and
// returns when every one has its answer (or ctx ended).
func (r *apiRun) send(ctx context.Context) (first, last time.Time) {
	slots := make(chan struct{}, r.cfg.Concurrency)
	interval := time.Duration(float64(time.Second) / r.cfg.CPS)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range r.cfg.Calls {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		last = now
		r.sent.Add(1)
		r.inFlight.Add(1)
		wg.Go(func() {
			defer func() { <-slots; r.inFlight.Add(-1) }()
			r.connect(ctx, i)
		})
	}
	wg.Wait()
	return first, last
}

// connect sends one Calls/connect request.
func (r *apiRun) connect(ctx context.Context, i int) {
	form := url.Values{
		"From": {r.cfg.From}, "To": {r.cfg.To}, "CallerId": {r.cfg.CallerID},
		"StatusCallback": {r.callback}, "StatusCallbackEvents[0]": {"terminal"},
		"StatusCallbackContentType": {"application/json"}, "CustomField": {fmt.Sprintf("load-%d", i)},
	}
	u := r.cfg.Base + "/v1/Accounts/" + url.PathEscape(r.cfg.Account) + "/Calls/connect.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		r.refuse("error: " + err.Error())
		return
	}
	req.SetBasicAuth(r.cfg.Key, r.cfg.Token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sent := time.Now()
	resp, err := r.cfg.HTTP.Do(req)
	if err != nil {
		r.refuse(transportCause(err))
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	answered := time.Now()
	r.mu.Lock()
	if answered.After(r.lastAnswer) {
		r.lastAnswer = answered
	}
	r.mu.Unlock()
	if err != nil {
		r.refuse(transportCause(err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		r.cfg.Logger.Debug("loadgen: request refused", "status", resp.StatusCode, "body", strings.TrimSpace(string(body)))
		r.refuse(fmt.Sprintf("http %d", resp.StatusCode))
		return
	}
	var out struct {
		Call struct {
			Sid string `json:"Sid"`
		} `json:"Call"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Call.Sid == "" {
		r.refuse("http 200 without a call")
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, answered.Sub(sent))
	r.mu.Unlock()
	r.rcv.accept(out.Call.Sid)
}

func (r *apiRun) refuse(cause string) {
	r.mu.Lock()
	r.refused[cause]++
	r.mu.Unlock()
}

// transportCause names a request that got no HTTP answer.
func transportCause(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "error: interrupted"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "error: timeout"
	default:
		return "error: no answer"
	}
}

func (r *apiRun) progress(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if r.cfg.Progress == nil {
		<-stop
		return
	}
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			refused := 0
			for _, n := range r.refused {
				refused += n
			}
			r.mu.Unlock()
			accepted, ended := r.rcv.counts()
			fmt.Fprintf(r.cfg.Progress, "load: sent %d/%d  waiting %d  accepted %d  refused %d  ended %d\n",
				r.sent.Load(), r.cfg.Calls, r.inFlight.Load(), accepted, refused, ended)
		}
	}
}

package main

// Black-box tests: `switchyard serve` on the embedded default (emulator +
// SQLite, and PostgreSQL when TEST_DATABASE_URL is set), driven over real
// HTTP exactly as an Exotel client would, with status callbacks received
// by a local HTTP server. They wait on callbacks, never on the clock.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

// server is one running `switchyard serve`.
type server struct {
	t      testing.TB
	base   string // http://127.0.0.1:port
	esl    string // the embedded emulator's event socket ("" with real nodes)
	socket string // where FreeSWITCH's socket application connects
	// instance is the process's instance ID.
	instance string
	out      *lockedBuffer
	stop     func()

	endMu sync.Mutex
	ended map[string]chan struct{} // by CallSid: closed once its final record is written
}

// endedChan is the channel closed when call sid's final record is written.
func (s *server) endedChan(sid string) chan struct{} {
	s.endMu.Lock()
	defer s.endMu.Unlock()
	if s.ended == nil {
		s.ended = map[string]chan struct{}{}
	}
	ch := s.ended[sid]
	if ch == nil {
		ch = make(chan struct{})
		s.ended[sid] = ch
	}
	return ch
}

// waitEnded waits until the runtime has written call sid's final record.
func (s *server) waitEnded(sid string) {
	s.t.Helper()
	select {
	case <-s.endedChan(sid):
	case <-time.After(30 * time.Second):
		s.t.Fatalf("call %s: no final record in 30s", sid)
	}
}

// startServe runs serve on dsn with the demo tenant, on free loopback
// ports, and stops it when the test ends (or when stop is called).
func startServe(t testing.TB, dsn string, tweak ...func(*Config)) *server {
	t.Helper()
	storetest.Premigrate(t, dsn) // serve's own migration then has nothing to do
	cfg := defaultConfig()
	cfg.Database = dsn
	cfg.Demo = true
	cfg.DemoCampaign = false // a test that wants campaigns makes its own
	cfg.HTTPAddr, cfg.SocketAddr, cfg.EmulatorAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.RecordingsDir = t.TempDir()
	cfg.emulatorSpeed = 20
	// Serve runs inside the test binary: its scheduler is the tests'.
	cfg.AdaptProcs = false
	cfg.Drain = 10 * time.Second
	cfg.CallbackRetry = 50 * time.Millisecond
	cfg.CallbackTimeout = 5 * time.Second
	// The tests' receivers (callbacks, CRMs, passthru targets) are
	// httptest servers on 127.0.0.1.
	cfg.EgressAllow = "loopback"
	// Some tests place calls in bulk: a per-account budget far above
	// what any sends (the limiter itself is tested in package api).
	cfg.RateLimit = 100_000
	for _, f := range tweak {
		f(&cfg)
	}
	up := make(chan serving, 1)
	cfg.ready = func(s serving) { up <- s }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &lockedBuffer{}
	log := testlog.New(t, slog.LevelInfo)
	s := &server{t: t, out: out}
	cfg.callEnded = func(sid string) {
		if sid != "" {
			close(s.endedChan(sid))
		}
	}
	go func() { done <- runServe(ctx, cfg, out, log) }()
	select {
	case addrs := <-up:
		s.base, s.esl, s.socket, s.instance = "http://"+addrs.HTTP, addrs.ESL, addrs.Socket, addrs.Instance
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not come up in 30s")
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// databases runs fn on SQLite, and on PostgreSQL when one is configured.
func databases(t *testing.T, fn func(t *testing.T, dsn func(*testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func(t *testing.T) string { return storetest.SQLiteDSN(t) }) })
	t.Run("postgres", func(t *testing.T) { fn(t, func(t *testing.T) string { return storetest.PostgresDSN(t) }) })
}

// do sends a request with the demo credentials; body may be url.Values
// (form), a string (JSON) or nil.
func (s *server) do(method, path string, body any) (int, []byte, http.Header) {
	return s.doAs(demo.APIKey, demo.APIToken, method, path, body, nil)
}

func (s *server) doAs(user, token, method, path string, body any, header http.Header) (int, []byte, http.Header) {
	s.t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case url.Values:
		r, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		r, ct = strings.NewReader(b), "application/json"
	case csvBody:
		r, ct = strings.NewReader(string(b)), "text/csv"
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(user, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// getJSON GETs path and decodes the JSON answer, failing unless 200.
func (s *server) getJSON(path string, v any) {
	s.t.Helper()
	code, body, _ := s.do("GET", path, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// flowIDs reads the demo flows' ids from serve's banner.
func (s *server) flowID(name string) string {
	s.t.Helper()
	m := regexp.MustCompile(`-> ` + regexp.QuoteMeta(name) + ` \(flow (\S+)\)`).FindStringSubmatch(s.out.String())
	if m == nil {
		s.t.Fatalf("no flow %q in the banner:\n%s", name, s.out.String())
	}
	return m[1]
}

// received is one status callback as received.
type received struct {
	contentType string
	header      http.Header
	fields      map[string]string // flattened: Legs[0][Status] etc.
	json        map[string]any    // the JSON body, for JSON callbacks
}

// receiver is the customer's callback endpoint. Its answer can be
// scripted: fail makes it answer 500 (counting what it received).
type receiver struct {
	t   *testing.T
	url string

	mu      sync.Mutex
	fail    bool
	got     map[string][]received // by CallSid, delivered (2xx) only
	waiters map[string]chan struct{}
	refused chan string // CallSid of each callback answered 500
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{t: t, got: map[string][]received{}, waiters: map[string]chan struct{}{}, refused: make(chan string, 64)}
	ts := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(ts.Close)
	rc.url = ts.URL
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	cb := received{header: r.Header.Clone(), fields: map[string]string{}}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	cb.contentType = mt
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for k, v := range r.MultipartForm.Value {
			cb.fields[k] = v[0]
		}
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(&cb.json); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		flatten("", cb.json, cb.fields)
	default:
		http.Error(w, "unexpected content type "+mt, http.StatusUnsupportedMediaType)
		return
	}
	sid := cb.fields["CallSid"]
	rc.mu.Lock()
	if rc.fail {
		rc.mu.Unlock()
		rc.refused <- sid
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	rc.got[sid] = append(rc.got[sid], cb)
	ch := rc.waiterLocked(sid)
	rc.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) waiterLocked(sid string) chan struct{} {
	ch := rc.waiters[sid]
	if ch == nil {
		ch = make(chan struct{}, 16)
		rc.waiters[sid] = ch
	}
	return ch
}

// waitRefused waits until a callback of the call was answered 500;
// refusals of earlier calls' retries are skipped.
func (rc *receiver) waitRefused(sid string) {
	rc.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case got := <-rc.refused:
			if got == sid {
				return
			}
		case <-deadline:
			rc.t.Fatalf("call %s: no callback attempt within 60s", sid)
		}
	}
}

func (rc *receiver) setFail(v bool) {
	rc.mu.Lock()
	rc.fail = v
	rc.mu.Unlock()
}

// terminal waits for the call's terminal callback (the one without
// EventType, or EventType=terminal) and returns every callback of the
// call received so far.
func (rc *receiver) terminal(sid string) []received {
	rc.t.Helper()
	return rc.waitFor(sid, "terminal", func(cb received) bool {
		et := cb.fields["EventType"]
		return et == "" || et == "terminal"
	})
}

// answered waits for the call's answered callback.
func (rc *receiver) answered(sid string) {
	rc.t.Helper()
	rc.waitFor(sid, "answered", func(cb received) bool { return cb.fields["EventType"] == "answered" })
}

// waitFor waits (60 s at most) until a callback of the call matches, and
// returns every callback of the call received so far.
func (rc *receiver) waitFor(sid, what string, match func(received) bool) []received {
	rc.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got[sid]...)
		ch := rc.waiterLocked(sid)
		rc.mu.Unlock()
		for _, cb := range got {
			if match(cb) {
				return got
			}
		}
		select {
		case <-ch:
		case <-deadline:
			rc.t.Fatalf("call %s: no %s callback within 60s (got %d callbacks)", sid, what, len(got))
		}
	}
}

// flatten turns a decoded JSON object into PHP-style keys, as the form
// encodings send it: Legs[0][Status].
func flatten(prefix string, v any, out map[string]string) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "[" + k + "]"
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(key(k), e, out)
		}
	case []any:
		for i, e := range x {
			flatten(key(fmt.Sprint(i)), e, out)
		}
	case nil:
		out[prefix] = ""
	case float64:
		out[prefix] = fmt.Sprint(x)
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

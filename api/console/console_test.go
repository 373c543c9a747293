package console_test

// The console through the real API server (api.New) over a SQLite store:
// sign-in, sessions, CSRF, tenant isolation, the live stream and every
// page, over real HTTP.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

var signingKey = []byte("console-tests-signing-key-0123456789abcdef")

// clock is the server's settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logWatch is a slog handler that lets a test wait for a message.
type logWatch struct {
	mu      sync.Mutex
	records []slog.Record
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWatch) WithGroup(string) slog.Handler            { return l }
func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// waitFor waits until a record with msg and the attribute key=value is
// logged.
func (l *logWatch) waitFor(t *testing.T, msg, key, value string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for _, r := range l.records {
			found := false
			r.Attrs(func(a slog.Attr) bool {
				found = found || (a.Key == key && a.Value.String() == value)
				return !found
			})
			if r.Message == msg && found {
				l.mu.Unlock()
				return
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log %q with %s=%s", msg, key, value)
		}
	}
}

// env is the API server with its console, over a fresh store holding
// the demo tenant and a second account, globex.
type env struct {
	t       *testing.T
	db      *store.DB
	srv     *httptest.Server
	clock   *clock
	logs    *logWatch
	changes atomic.Int32
	// globex's credentials.
	otherKey, otherToken string
}

type envOption func(*api.Options)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	db := storetest.NewDB(t)
	ctx := context.Background()
	if _, err := demo.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Accounts().CreateWithSID(ctx, "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	k, tok, err := db.Accounts().CreateAPIKey(ctx, "globex", "tests")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, clock: &clock{now: time.Now()}, logs: newLogWatch(), otherKey: k.Key, otherToken: tok}
	o := api.Options{Store: db, Database: db, SigningKey: signingKey, Version: "test", RateLimit: 100_000,
		AuthFailureLimit: 100_000, Now: e.clock.Now, Logger: slog.New(e.logs),
		OnCampaignChange: func() { e.changes.Add(1) }}
	for _, f := range opts {
		f(&o)
	}
	e.srv = httptest.NewServer(api.New(o).Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is an answer, read whole.
type page struct {
	Status int
	Header http.Header
	Body   string
	res    *http.Response
}

// do sends a request with a form body (none when form is nil).
func (b *browser) do(method, path string, form url.Values, header http.Header) page {
	b.e.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	body := ""
	if form != nil {
		body = form.Encode()
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.doBody(method, path, body, h)
}

// doBody sends a request with a raw body and exactly these headers.
func (b *browser) doBody(method, path, body string, h http.Header) page {
	b.e.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header = h
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return page{Status: res.StatusCode, Header: res.Header, Body: string(raw), res: res}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil, nil) }

// post sends a form from the console's own origin.
func (b *browser) post(path string, form url.Values) page {
	return b.do("POST", path, form, http.Header{"Origin": {b.e.srv.URL}})
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms of a page.
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.Body)
	}
	return m[1]
}

// login signs in with key and token and returns the answer.
func (b *browser) login(key, token string) page {
	b.e.t.Helper()
	form := b.get("/console/login")
	return b.post("/console/login", url.Values{"key": {key}, "token": {token}, "csrf": {csrf(b.e.t, form)}})
}

// signedIn is a browser signed in as the demo account.
func (e *env) signedIn() *browser {
	e.t.Helper()
	b := e.browser()
	if p := b.login(demo.APIKey, demo.APIToken); p.Status != http.StatusSeeOther {
		e.t.Fatalf("login: %d\n%s", p.Status, p.Body)
	}
	return b
}

func cookieOf(p page, name string) *http.Cookie {
	for _, c := range p.res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// checkHeaders checks the security headers of a console answer.
func checkHeaders(t *testing.T, what string, p page) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", what, k, got, want)
		}
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
}

func TestLoginOpensASignedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()

	if p := b.get("/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d to %q", p.Status, p.Header.Get("Location"))
	}
	p := b.get("/console/calls?status=busy")
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/login?next="+url.QueryEscape("/console/calls?status=busy") {
		t.Fatalf("signed out: %d to %q", p.Status, p.Header.Get("Location"))
	}
	form := b.get("/console/login")
	checkHeaders(t, "login page", form)
	if form.Status != 200 || !strings.Contains(form.Body, `<label for="key">API key</label>`) || !strings.Contains(form.Body, `<a class="skip" href="#main">`) {
		t.Fatalf("login page: %d\n%s", form.Status, form.Body)
	}

	p = b.post("/console/login", url.Values{"key": {demo.APIKey}, "token": {demo.APIToken}, "csrf": {csrf(t, form)},
		"next": {"/console/agents"}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/agents" {
		t.Fatalf("login: %d to %q\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	ck := cookieOf(p, console.SessionCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/console" || ck.Secure ||
		ck.MaxAge != int(console.SessionTTL.Seconds()) {
		t.Fatalf("session cookie %+v", ck)
	}
	p = b.get("/console/agents")
	if p.Status != 200 || !strings.Contains(p.Body, "Account <strong>demo</strong>") {
		t.Fatalf("agents: %d\n%s", p.Status, p.Body)
	}
	// Signed in, the login page goes to the console.
	if p := b.get("/console/login"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/calls" {
		t.Errorf("login page when signed in: %d to %q", p.Status, p.Header.Get("Location"))
	}

	// A tampered cookie opens nothing.
	forged := e.browser()
	u, _ := url.Parse(e.srv.URL + "/console/")
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: console.SessionCookie, Value: strings.Replace(ck.Value, ".", ".A", 1), Path: "/console"}})
	if p := forged.get("/console/calls"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/console/login") {
		t.Errorf("tampered cookie: %d to %q", p.Status, p.Header.Get("Location"))
	}

	// Twelve hours later the session has ended.
	e.clock.Advance(console.SessionTTL - time.Minute)
	if p := b.get("/console/calls"); p.Status != 200 {
		t.Fatalf("before expiry: %d", p.Status)
	}
	e.clock.Advance(2 * time.Minute)
	if p := b.get("/console/calls"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/console/login") {
		t.Errorf("after expiry: %d to %q", p.Status, p.Header.Get("Location"))
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *api.Options) { o.PublicURL = "https://console.example.com" })
	b := e.browser()
	p := b.login(demo.APIKey, demo.APIToken)
	if ck := cookieOf(p, console.SessionCookie); p.Status != http.StatusSeeOther || ck == nil || !ck.Secure {
		t.Fatalf("login: %d, cookie %+v", p.Status, ck)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *api.Options) { o.AuthFailureLimit = 3 })
	b := e.browser()
	for i := range 3 {
		p := b.login(demo.APIKey, "wrong-token")
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Unknown API key or wrong token") ||
			cookieOf(p, console.SessionCookie) != nil || p.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("failed login %d: %d\n%s", i, p.Status, p.Body)
		}
		if !strings.Contains(p.Body, `value="`+demo.APIKey+`"`) {
			t.Errorf("failed login %d: the key is not kept in the form", i)
		}
	}
	// The address's budget is spent: even the right token is refused,
	// and so are the API's requests (the same limiter).
	p := b.login(demo.APIKey, demo.APIToken)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || cookieOf(p, console.SessionCookie) != nil {
		t.Fatalf("after 3 failures: %d (Retry-After %q)\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/v2/accounts/demo/flows", nil)
	req.SetBasicAuth(demo.APIKey, "wrong-again")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("API after the console's failures: %d, want 429", res.StatusCode)
	}
	// A minute later the budget is back.
	e.clock.Advance(time.Minute)
	if p := b.login(demo.APIKey, demo.APIToken); p.Status != http.StatusSeeOther {
		t.Errorf("a minute later: %d", p.Status)
	}
}

func TestLoginRefusesForeignForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	token := csrf(t, b.get("/console/login"))
	good := url.Values{"key": {demo.APIKey}, "token": {demo.APIToken}, "csrf": {token}}
	for name, tc := range map[string]struct {
		form   url.Values
		header http.Header
	}{
		"no origin":       {good, nil},
		"foreign origin":  {good, http.Header{"Origin": {"http://evil.example"}}},
		"foreign referer": {good, http.Header{"Referer": {"http://evil.example/login"}}},
		"no token": {url.Values{"key": {demo.APIKey}, "token": {demo.APIToken}},
			http.Header{"Origin": {e.srv.URL}}},
		"wrong token": {url.Values{"key": {demo.APIKey}, "token": {demo.APIToken}, "csrf": {token + "x"}},
			http.Header{"Origin": {e.srv.URL}}},
	} {
		p := b.do("POST", "/console/login", tc.form, tc.header)
		if p.Status != http.StatusForbidden || cookieOf(p, console.SessionCookie) != nil {
			t.Errorf("%s: %d, session cookie %v", name, p.Status, cookieOf(p, console.SessionCookie))
		}
	}
	// Another browser's login token does not fit this browser's cookie.
	other := e.browser()
	other.get("/console/login")
	p := other.post("/console/login", good)
	if p.Status != http.StatusForbidden {
		t.Errorf("a token from another browser: %d", p.Status)
	}
	// The Referer stands in for a missing Origin. (Each refused form
	// was answered with a fresh form, with a new token.)
	good.Set("csrf", csrf(t, b.get("/console/login")))
	p = b.do("POST", "/console/login", good, http.Header{"Referer": {e.srv.URL + "/console/login"}})
	if p.Status != http.StatusSeeOther {
		t.Errorf("same-origin Referer: %d\n%s", p.Status, p.Body)
	}
}

func TestRevokedKeyEndsItsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	k, tok, err := e.db.Accounts().CreateAPIKey(ctx, demo.AccountSID, "console test")
	if err != nil {
		t.Fatal(err)
	}
	byKey := e.browser()
	if p := byKey.login(k.Key, tok); p.Status != http.StatusSeeOther {
		t.Fatalf("login with the key: %d", p.Status)
	}
	// Legacy clients send the account SID with a key's token: the
	// session is still that key's.
	legacy := e.browser()
	if p := legacy.login(demo.AccountSID, tok); p.Status != http.StatusSeeOther {
		t.Fatalf("legacy login: %d\n%s", p.Status, p.Body)
	}
	other := e.signedIn() // the demo key, not revoked
	for _, b := range []*browser{byKey, legacy, other} {
		if p := b.get("/console/calls"); p.Status != 200 {
			t.Fatalf("before revocation: %d", p.Status)
		}
	}
	if err := e.db.Accounts().RevokeAPIKey(ctx, demo.AccountSID, k.Key); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*browser{"key": byKey, "legacy": legacy} {
		p := b.get("/console/calls")
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/console/login") {
			t.Errorf("%s session after revocation: %d to %q", name, p.Status, p.Header.Get("Location"))
		}
		if ck := cookieOf(p, console.SessionCookie); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("%s: the dead session's cookie is not cleared: %+v", name, ck)
		}
		if p := b.login(k.Key, tok); p.Status != http.StatusUnauthorized {
			t.Errorf("%s: login with the revoked key: %d", name, p.Status)
		}
	}
	if p := other.get("/console/calls"); p.Status != 200 {
		t.Errorf("another key's session: %d", p.Status)
	}
	// The account's own token opens a session too.
	_, accToken, err := e.db.Accounts().CreateWithSID(ctx, "initech", "Initech")
	if err != nil {
		t.Fatal(err)
	}
	acc := e.browser()
	if p := acc.login("initech", accToken); p.Status != http.StatusSeeOther {
		t.Fatalf("account token login: %d", p.Status)
	}
	if p := acc.get("/console/calls"); p.Status != 200 || !strings.Contains(p.Body, "Account <strong>initech</strong>") {
		t.Errorf("account token session: %d", p.Status)
	}
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signedIn()
	token := csrf(t, b.get("/console/calls"))
	other := csrf(t, e.signedIn().get("/console/calls"))
	for name, tc := range map[string]struct {
		form   url.Values
		header http.Header
	}{
		"no token":          {url.Values{}, http.Header{"Origin": {e.srv.URL}}},
		"wrong token":       {url.Values{"csrf": {"AAAA"}}, http.Header{"Origin": {e.srv.URL}}},
		"another session's": {url.Values{"csrf": {other}}, http.Header{"Origin": {e.srv.URL}}},
		"foreign origin":    {url.Values{"csrf": {token}}, http.Header{"Origin": {"http://evil.example"}}},
		"no origin":         {url.Values{"csrf": {token}}, nil},
	} {
		p := b.do("POST", "/console/logout", tc.form, tc.header)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", name, p.Status, p.Header.Get("Content-Type"))
		}
		checkHeaders(t, name, p)
	}
	if p := b.get("/console/calls"); p.Status != 200 {
		t.Fatalf("refused logouts ended the session: %d", p.Status)
	}
	p := b.do("POST", "/console/logout", url.Values{"csrf": {token}}, http.Header{"Referer": {e.srv.URL + "/console/calls"}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/login" {
		t.Fatalf("logout: %d to %q", p.Status, p.Header.Get("Location"))
	}
	if ck := cookieOf(p, console.SessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", ck)
	}
	if p := b.get("/console/calls"); p.Status != http.StatusSeeOther {
		t.Errorf("after logout: %d", p.Status)
	}
}

// seedCall makes a call of account, in progress unless it is finished.
func (e *env) seedCall(account, from string, finished bool) *store.Call {
	e.t.Helper()
	ctx := context.Background()
	c := &store.Call{AccountSID: account, Direction: store.DirectionInbound, From: from, To: "+15550000100",
		PhoneNumber: "+15550000100", Status: store.InProgress}
	if err := e.db.Calls().Create(ctx, c); err != nil {
		e.t.Fatal(err)
	}
	if finished {
		if _, err := e.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, Duration: 9}); err != nil {
			e.t.Fatal(err)
		}
	}
	return c
}

func (e *env) seedCampaign(account, name string) string {
	e.t.Helper()
	cp := &store.Campaign{AccountSID: account, Name: name, CallerID: "+15550000100", Type: "trans",
		CampaignType: "static", Mode: "auto", Numbers: []string{"+15550100001"}}
	if err := e.db.Campaigns().Create(context.Background(), cp); err != nil {
		e.t.Fatal(err)
	}
	return cp.SID
}

func TestAnotherAccountsThingsAreNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signedIn()
	mine := e.seedCall(demo.AccountSID, "+15550109001", true)
	theirs := e.seedCall("globex", "+15550109002", true)
	theirCampaign := e.seedCampaign("globex", "Globex drive")
	token := csrf(t, b.get("/console/calls"))

	for _, path := range []string{"/console/calls/" + theirs.SID, "/console/campaigns/" + theirCampaign,
		"/console/campaigns/" + theirCampaign + "/report.csv", "/console/calls/not-a-sid", "/console/nothing"} {
		p := b.get(path)
		if p.Status != http.StatusNotFound || !strings.Contains(p.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(p.Body, "<h1>Not Found</h1>") {
			t.Errorf("GET %s: %d %s\n%s", path, p.Status, p.Header.Get("Content-Type"), p.Body)
		}
		checkHeaders(t, path, p)
	}
	p := b.post("/console/campaigns/"+theirCampaign+"/pause", url.Values{"csrf": {token}})
	if p.Status != http.StatusNotFound {
		t.Errorf("pause their campaign: %d", p.Status)
	}
	if cp, err := e.db.Campaigns().Get(context.Background(), "globex", theirCampaign); err != nil || cp.Status != store.CampaignCreated {
		t.Errorf("their campaign: %+v %v", cp, err)
	}
	log := b.get("/console/calls")
	if !strings.Contains(log.Body, mine.SID) || strings.Contains(log.Body, theirs.SID) {
		t.Errorf("the log shows mine %v, theirs %v", strings.Contains(log.Body, mine.SID), strings.Contains(log.Body, theirs.SID))
	}
	if p := b.get("/console/campaigns"); strings.Contains(p.Body, "Globex drive") {
		t.Error("their campaign is listed")
	}
	// Their own session sees theirs.
	them := e.browser()
	if p := them.login(e.otherKey, e.otherToken); p.Status != http.StatusSeeOther {
		t.Fatal(p.Status)
	}
	if p := them.get("/console/calls/" + theirs.SID); p.Status != 200 {
		t.Errorf("their call for them: %d", p.Status)
	}
	if p := them.get("/console/calls/" + mine.SID); p.Status != http.StatusNotFound {
		t.Errorf("my call for them: %d", p.Status)
	}
}

// sseEvent is one event of a stream.
type sseEvent struct{ name, data string }

// readEvents reads a stream's events into a channel until it ends.
func readEvents(r io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// nextCalls waits for the next "calls" event whose data satisfies ok.
func nextCalls(t *testing.T, events <-chan sseEvent, ok func(string) bool) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-events:
			if !open {
				t.Fatal("the stream ended")
			}
			if ev.name == "calls" && ok(ev.data) {
				return ev.data
			}
		case <-timeout:
			t.Fatal("no matching calls event in 10s")
		}
	}
}

func TestLiveStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signedIn()
	first := e.seedCall(demo.AccountSID, "+15550109011", false)
	done := e.seedCall(demo.AccountSID, "+15550109012", true)
	theirs := e.seedCall("globex", "+15550109013", false)

	page := b.get("/console/calls/live")
	if page.Status != 200 || !strings.Contains(page.Body, `data-sid="`+first.SID+`"`) || strings.Contains(page.Body, done.SID) {
		t.Fatalf("live page: %d\n%s", page.Status, page.Body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/console/calls/live/events", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := readEvents(res.Body)
	data := nextCalls(t, events, func(string) bool { return true })
	if !strings.Contains(data, first.SID) || strings.Contains(data, done.SID) || strings.Contains(data, theirs.SID) {
		t.Fatalf("first event: %s", data)
	}
	// A call that starts shows up; one that ends goes.
	second := e.seedCall(demo.AccountSID, "+15550109014", false)
	nextCalls(t, events, func(d string) bool { return strings.Contains(d, second.SID) })
	if _, err := e.db.Calls().Finish(context.Background(), first.SID, store.CallFinal{Status: store.Completed}); err != nil {
		t.Fatal(err)
	}
	nextCalls(t, events, func(d string) bool { return !strings.Contains(d, first.SID) })

	// The client goes: the stream ends.
	cancel()
	e.logs.waitFor(t, "console: live stream ended", "reason", "client gone")

	// Signed out, the stream is refused (not redirected to a login an
	// EventSource cannot follow).
	if p := e.browser().get("/console/calls/live/events"); p.Status != http.StatusUnauthorized {
		t.Errorf("stream without a session: %d", p.Status)
	}
}

func TestLiveStreamEndsWithItsKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	k, tok, err := e.db.Accounts().CreateAPIKey(ctx, demo.AccountSID, "stream test")
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if p := b.login(k.Key, tok); p.Status != http.StatusSeeOther {
		t.Fatal(p.Status)
	}
	res, err := b.c.Get(e.srv.URL + "/console/calls/live/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := readEvents(res.Body)
	nextCalls(t, events, func(string) bool { return true })
	if err := e.db.Accounts().RevokeAPIKey(ctx, demo.AccountSID, k.Key); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-events:
			if !open {
				t.Fatal("the stream ended without a signedout event")
			}
			if ev.name == "signedout" {
				if _, open := <-events; open {
					t.Error("the stream went on after signedout")
				}
				return
			}
		case <-timeout:
			t.Fatal("the stream outlived its key")
		}
	}
}

// writeWAV writes a second of 8 kHz silence as a WAV file.
func writeWAV(t *testing.T, path string) {
	t.Helper()
	const data = 16000
	b := make([]byte, 44+data)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], 36+data)
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], data)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seedFullCall makes a finished call of the demo account with two legs,
// a recording, a request to the customer's server, an email and status
// callbacks with their attempts.
func (e *env) seedFullCall() *store.Call {
	e.t.Helper()
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).UTC()
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	flows, _, err := e.db.Flows().List(ctx, demo.AccountSID, store.Page{Limit: 100})
	must(err)
	var flowID *string
	for _, f := range flows {
		if f.Name == "Basic Support Flow" {
			flowID = &f.ID
		}
	}
	c := &store.Call{AccountSID: demo.AccountSID, Direction: store.DirectionInbound, From: "+15550109021",
		To: "+15550000100", PhoneNumber: "+15550000100", FlowID: flowID, FlowVersion: 1, Status: store.InProgress,
		StartTime: t0, AnswerTime: at(1), CustomField: "order-77", CreatedAt: t0}
	must(e.db.Calls().Create(ctx, c))
	must(e.db.Legs().Create(ctx, &store.Leg{CallSID: c.SID, AccountSID: c.AccountSID, UUID: "uuid-leg-1", Seq: 1,
		Direction: store.LegInbound, From: c.From, To: c.To, Status: store.Completed, StartTime: t0, AnswerTime: at(1), EndTime: at(20)}))
	must(e.db.Legs().Create(ctx, &store.Leg{CallSID: c.SID, AccountSID: c.AccountSID, UUID: "uuid-leg-2", Seq: 2,
		Direction: store.LegOutbound, From: c.To, To: "+15550100001", Status: store.Completed, StartTime: *at(5), AnswerTime: at(8), EndTime: at(20)}))
	wav := filepath.Join(e.t.TempDir(), "call.wav")
	writeWAV(e.t, wav)
	must(e.db.Recordings().Create(ctx, &store.Recording{ID: "re_console_test_1", AccountSID: c.AccountSID, CallSID: c.SID,
		URL: e.srv.URL + "/v1/Accounts/demo/Recordings/re_console_test_1", Path: wav, Duration: 1, Format: "wav"}))
	must(e.db.CallRequests().Create(ctx, &store.CallRequest{AccountSID: c.AccountSID, CallSID: c.SID, Applet: "crm_lookup",
		Kind: "passthru", Method: "GET", URL: "https://crm.example/passthru?CallSid=" + c.SID, HTTPStatus: 200, LatencyMS: 42, Outcome: "success"}))
	must(e.db.Messages().Create(ctx, &store.Message{AccountSID: c.AccountSID, CallSID: c.SID, Applet: "notify_tech",
		Channel: "email", Recipients: "support@acme.example", Subject: "Voicemail from +15550109021", Body: "Listen <here>", Status: store.MessageSent}))
	_, err = e.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, EndTime: *at(20), Duration: 20,
		ConversationDuration: 12, AnswerTime: at(1),
		Outbox: func(c *store.Call, _ []store.Leg) ([]store.Callback, error) {
			return []store.Callback{{Event: store.CallbackTerminal, URL: "https://crm.example/status", ContentType: store.ContentJSON,
				Payload: `{"CallSid":"` + c.SID + `"}`}}, nil
		}})
	must(err)
	cbs, err := e.db.Callbacks().ByCall(ctx, c.AccountSID, c.SID)
	must(err)
	must(e.db.Callbacks().RecordAttempt(ctx, &store.CallbackAttempt{CallbackID: cbs[0].ID, Attempt: 1, URL: cbs[0].URL,
		HTTPStatus: 500, LatencyMS: 30, Error: "HTTP 500"}, store.CallbackPending))
	must(e.db.Callbacks().RecordAttempt(ctx, &store.CallbackAttempt{CallbackID: cbs[0].ID, Attempt: 2, URL: cbs[0].URL,
		HTTPStatus: 200, LatencyMS: 12}, store.CallbackDelivered))
	got, err := e.db.Calls().Get(ctx, c.AccountSID, c.SID)
	must(err)
	return got
}

var audioSrc = regexp.MustCompile(`<audio controls preload="metadata" src="([^"]+)"`)

func TestPagesRenderTheDemoData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.signedIn()
	call := e.seedFullCall()
	if _, err := e.db.Users().Create(ctx, demo.AccountSID, store.UserInput{Name: "Asha Rao", Email: "asha@acme.example",
		Devices: []string{"+15550100430", "sip:asha@pbx.acme.example"}}); err != nil {
		t.Fatal(err)
	}
	campaigns, _, err := e.db.Campaigns().List(ctx, demo.AccountSID, store.CampaignFilter{Page: store.Page{Limit: 10}})
	if err != nil || len(campaigns) != 1 {
		t.Fatalf("demo campaign: %v %v", campaigns, err)
	}
	cp := campaigns[0]

	pages := []struct {
		path string
		want []string
	}{
		{"/console/calls", []string{`href="/console/calls/` + call.SID + `"`, `<label for="f-status">Status</label>`, "&#43;15550109021", "1 call,"}},
		{"/console/calls?status=completed&direction=inbound&from=%2B15550109021&since=2000-01-01", []string{call.SID}},
		{"/console/calls/live", []string{`Calls in progress: <span id="live-count">0</span>.`, `data-stream="/console/calls/live/events"`}},
		{"/console/calls/" + call.SID, []string{"order-77", "Leg 2 (outbound)", `class="talk"`, "crm_lookup",
			"https://crm.example/passthru?CallSid=" + call.SID, "support@acme.example", "Listen &lt;here&gt;",
			"Attempt 1", "HTTP 500", "delivered", "Basic Support Flow"}},
		{"/console/agents", []string{"Asha Rao", "sip:asha@pbx.acme.example", "1 agent: 1 available, 0 on a call now."}},
		{"/console/campaigns", []string{demo.CampaignName, `href="/console/campaigns/` + cp.SID + `"`, "0/0 done"}},
		{"/console/campaigns/" + cp.SID, []string{demo.CampaignName, "Pause", "No calls placed yet.", "report.csv"}},
		{"/console/flows", []string{"Basic Support Flow", "&#43;15550000100", "version 1"}},
	}
	for _, pg := range pages {
		p := b.get(pg.path)
		if p.Status != 200 || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s\n%s", pg.path, p.Status, p.Header.Get("Content-Type"), p.Body)
			continue
		}
		checkHeaders(t, pg.path, p)
		for _, w := range pg.want {
			if !strings.Contains(p.Body, w) {
				t.Errorf("%s lacks %q", pg.path, w)
			}
		}
		if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, "onclick") {
			t.Errorf("%s has inline script or style", pg.path)
		}
	}

	// A filter that is not one is said so.
	if p := b.get("/console/calls?since=yesterday"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "is not a date") {
		t.Errorf("bad date: %d", p.Status)
	}

	// The recording plays from its pre-signed URL, without credentials.
	m := audioSrc.FindStringSubmatch(b.get("/console/calls/" + call.SID).Body)
	if m == nil {
		t.Fatal("no audio element")
	}
	src := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.HasPrefix(src, "/v1/Accounts/demo/Recordings/re_console_test_1?") || !strings.Contains(src, "Signature=") {
		t.Fatalf("audio src %q", src)
	}
	res, err := http.Get(e.srv.URL + src)
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(wav), "RIFF") {
		t.Errorf("recording: %d, %d bytes", res.StatusCode, len(wav))
	}

	// Pause and resume the campaign: the dialer is told each time.
	campaignPage := b.get("/console/campaigns/" + cp.SID)
	token := csrf(t, campaignPage)
	p := b.post("/console/campaigns/"+cp.SID+"/pause", url.Values{"csrf": {token}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/campaigns/"+cp.SID+"?done=pause" {
		t.Fatalf("pause: %d to %q\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	if got, _ := e.db.Campaigns().Get(ctx, demo.AccountSID, cp.SID); got.Status != store.CampaignPaused || e.changes.Load() != 1 {
		t.Fatalf("after pause: %s, %d changes told", got.Status, e.changes.Load())
	}
	p = b.get("/console/campaigns/" + cp.SID + "?done=pause")
	if !strings.Contains(p.Body, "The campaign is paused") || !strings.Contains(p.Body, ">Resume</button>") || strings.Contains(p.Body, ">Pause</button>") {
		t.Errorf("paused campaign page:\n%s", p.Body)
	}
	p = b.post("/console/campaigns/"+cp.SID+"/pause", url.Values{"csrf": {token}})
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "cannot be paused now") {
		t.Errorf("pausing twice: %d", p.Status)
	}
	p = b.post("/console/campaigns/"+cp.SID+"/resume", url.Values{"csrf": {token}})
	if got, _ := e.db.Campaigns().Get(ctx, demo.AccountSID, cp.SID); p.Status != http.StatusSeeOther || got.Status != store.CampaignCreated || e.changes.Load() != 2 {
		t.Errorf("resume: %d, %s, %d changes told", p.Status, got.Status, e.changes.Load())
	}

	// The report downloads as the API's CSV.
	p = b.get("/console/campaigns/" + cp.SID + "/report.csv")
	if p.Status != 200 || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(p.Body, "number,name,duration,status") || !strings.Contains(p.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("report: %d %s %q", p.Status, p.Header.Get("Content-Type"), p.Body)
	}

	// Static files: versioned, cacheable; the rest of the console is not.
	for _, f := range []string{"console.css", "console.js", "favicon.svg"} {
		p := b.get("/console/static/" + f)
		if p.Status != 200 || p.Body == "" || p.Header.Get("Content-Type") == "application/octet-stream" {
			t.Errorf("%s: %d %s", f, p.Status, p.Header.Get("Content-Type"))
		}
	}
	if p := b.get("/console/static/nothing.css"); p.Status != http.StatusNotFound {
		t.Errorf("missing static file: %d", p.Status)
	}
	// A known path with a wrong method: an HTML 405.
	if p := b.post("/console/calls", url.Values{"csrf": {token}}); p.Status != http.StatusMethodNotAllowed ||
		!strings.Contains(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("POST /console/calls: %d %s", p.Status, p.Header.Get("Content-Type"))
	}
}

var callLink = regexp.MustCompile(`href="/console/calls/([0-9a-f]{32})"`)

// logPage reads the calls a page of the log links, and its Older and
// Newer links.
func logPage(t *testing.T, p page) (sids []string, older, newer string) {
	t.Helper()
	if p.Status != 200 {
		t.Fatalf("log: %d\n%s", p.Status, p.Body)
	}
	for _, m := range callLink.FindAllStringSubmatch(p.Body, -1) {
		sids = append(sids, m[1])
	}
	link := func(rel string) string {
		m := regexp.MustCompile(`<a href="([^"]+)" rel="` + rel + `">`).FindStringSubmatch(p.Body)
		if m == nil {
			return ""
		}
		return strings.ReplaceAll(m[1], "&amp;", "&")
	}
	return sids, link("next"), link("prev")
}

func TestCallLogFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signedIn()
	ctx := context.Background()
	// 30 calls, 3 of them still up, then a busy one.
	for i := range 30 {
		e.seedCall(demo.AccountSID, fmt.Sprintf("+155501090%02d", i), i%10 != 0)
	}
	busy := e.seedCall(demo.AccountSID, "+15550109555", false)
	if _, err := e.db.Calls().Finish(ctx, busy.SID, store.CallFinal{Status: store.Busy}); err != nil {
		t.Fatal(err)
	}

	// 31 calls: a first page of 25, newest first, and an older page of 6.
	first, older, newer := logPage(t, b.get("/console/calls"))
	if len(first) != 25 || first[0] != busy.SID || older == "" || newer != "" {
		t.Fatalf("first page: %d calls (first %s), older %q, newer %q", len(first), first[0], older, newer)
	}
	second, older2, newer2 := logPage(t, b.get(older))
	if len(second) != 6 || older2 != "" || newer2 == "" {
		t.Fatalf("second page: %d calls, older %q, newer %q", len(second), older2, newer2)
	}
	back, _, _ := logPage(t, b.get(newer2))
	if strings.Join(back, ",") != strings.Join(first, ",") {
		t.Error("Newer from the second page is not the first page")
	}
	seen := map[string]bool{}
	for _, sid := range append(first, second...) {
		if seen[sid] {
			t.Errorf("call %s on both pages", sid)
		}
		seen[sid] = true
	}

	// Filters: status, from (with or without +), direction, dates.
	if sids, _, _ := logPage(t, b.get("/console/calls?status=busy")); len(sids) != 1 || sids[0] != busy.SID {
		t.Errorf("status=busy: %v", sids)
	}
	if sids, _, _ := logPage(t, b.get("/console/calls?from=15550109555")); len(sids) != 1 || sids[0] != busy.SID {
		t.Errorf("from without +: %v", sids)
	}
	if sids, _, _ := logPage(t, b.get("/console/calls?status=in-progress")); len(sids) != 3 {
		t.Errorf("in progress: %d calls, want 3", len(sids))
	}
	if sids, _, _ := logPage(t, b.get("/console/calls?direction=outbound-api")); len(sids) != 0 {
		t.Errorf("outbound-api: %v", sids)
	}
	if sids, _, _ := logPage(t, b.get("/console/calls?since=2000-01-01&until=2000-01-02")); len(sids) != 0 {
		t.Errorf("calls from 2000: %v", sids)
	}
	since := time.Now().AddDate(0, 0, -2).Format("2006-01-02")
	if sids, _, _ := logPage(t, b.get("/console/calls?status=busy&since="+since)); len(sids) != 1 {
		t.Errorf("busy since %s: %v", since, sids)
	}
	for _, bad := range []string{"status=ringingish", "direction=sideways", "until=tomorrow", "since=2026-02-02&until=2026-02-01"} {
		if p := b.get("/console/calls?" + bad); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `role="alert"`) {
			t.Errorf("%s: %d", bad, p.Status)
		}
	}
	// A stale cursor falls back to the newest calls, and says so.
	if p := b.get("/console/calls?after=garbage"); p.Status != 200 || !strings.Contains(p.Body, "out of date") {
		t.Errorf("stale cursor: %d", p.Status)
	}
}

package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
)

// fakeClock is the rate limiters' clock in these tests: it moves only
// when told, so nothing sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limited is a request to a rate-limited server from a chosen address.
type limited struct {
	h      http.Handler
	method string
	path   string
	user   string
	pass   string
	from   string // RemoteAddr
	header http.Header
}

func (l limited) do() *httptest.ResponseRecorder {
	req := httptest.NewRequest(l.method, l.path, nil)
	req.RemoteAddr = l.from
	for k, vs := range l.header {
		req.Header[k] = vs
	}
	if l.user != "" {
		req.SetBasicAuth(l.user, l.pass)
	}
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, req)
	return rec
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("not JSON (%v): %s", err, rec.Body)
	}
	return m
}

// check429 asserts a v2/v3 429 with code 10724 and a Retry-After.
func check429(t *testing.T, what string, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429\n%s", what, rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
	}
	m := decodeJSON(t, rec)
	if dig(m, "http_code") != float64(429) || digStr(m, "response", "status") != "failure" ||
		dig(m, "response", "error_data", "code") != float64(api.CodeTooManyRequests) {
		t.Errorf("%s: not a 429 failure envelope with code 10724: %s", what, rec.Body)
	}
}

func TestAccountRateLimit(t *testing.T) {
	clock := newFakeClock()
	// RateLimit left at 0: the default, Exotel's 200 a minute.
	e := newMgEnv(t, func(o *api.Options) { o.RateLimit, o.Now = 0, clock.Now })
	h := e.api.Handler()
	a := limited{h: h, method: "GET", path: "/v2/accounts/acme/flows", user: e.A.Key, pass: e.A.Token, from: "198.51.100.1:4000"}
	for i := range api.DefaultRateLimit {
		if rec := a.do(); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d\n%s", i+1, rec.Code, rec.Body)
		}
	}
	// The 201st in the minute.
	check429(t, "201st request", a.do(), "1")

	// Every route of the account shares the budget, and v1 answers in
	// its own format.
	v1 := a
	v1.path = "/v1/Accounts/acme/Calls"
	rec := v1.do()
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("v1: %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if status, msg := v1Exception(t, rec.Body.Bytes()); status != 429 || msg == "" {
		t.Errorf("v1 RestException: %d %q", status, msg)
	}
	v1.path += ".json"
	if rec := v1.do(); rec.Code != 429 || dig(decodeJSON(t, rec), "RestException", "Status") != float64(429) {
		t.Errorf("v1 JSON: %d %s", rec.Code, rec.Body)
	}
	// From another address: the same account, the same budget.
	other := a
	other.from = "203.0.113.50:4000"
	check429(t, "same account from another address", other.do(), "1")

	// Another account is unaffected.
	b := a
	b.user, b.pass, b.path = e.B.Key, e.B.Token, "/v2/accounts/globex/flows"
	if rec := b.do(); rec.Code != http.StatusOK {
		t.Fatalf("account B: status %d\n%s", rec.Code, rec.Body)
	}
	// Account A's credentials on B's path are refused before the 403: they
	// spend A's budget, which is empty.
	probe := a
	probe.path = "/v2/accounts/globex/flows"
	check429(t, "A's credentials on B's path", probe.do(), "1")

	// 60s/200 = 300ms gives one request back.
	clock.Advance(300 * time.Millisecond)
	if rec := a.do(); rec.Code != http.StatusOK {
		t.Fatalf("after 300ms: status %d", rec.Code)
	}
	check429(t, "right after", a.do(), "1")
	// A minute refills the burst.
	clock.Advance(time.Minute)
	for i := range api.DefaultRateLimit {
		if rec := a.do(); rec.Code != http.StatusOK {
			t.Fatalf("next minute, request %d: status %d", i+1, rec.Code)
		}
	}
}

func TestAccountRateLimitConfigured(t *testing.T) {
	clock := newFakeClock()
	e := newMgEnv(t, func(o *api.Options) { o.RateLimit, o.Now = 6, clock.Now })
	a := limited{h: e.api.Handler(), method: "GET", path: "/v3/accounts/acme/calls/nope", user: e.A.Key, pass: e.A.Token, from: "198.51.100.1:4000"}
	for i := range 6 {
		if rec := a.do(); rec.Code != http.StatusNotFound {
			t.Fatalf("request %d: status %d", i+1, rec.Code)
		}
	}
	check429(t, "7th request", a.do(), "10") // one every 10s
	clock.Advance(9 * time.Second)
	check429(t, "after 9s", a.do(), "1")

	// Off: no limit at all.
	off := newMgEnv(t, func(o *api.Options) { o.RateLimit, o.Now = -1, clock.Now })
	a.h = off.api.Handler()
	a.user, a.pass = off.A.Key, off.A.Token
	for i := range 3 * api.DefaultRateLimit {
		if rec := a.do(); rec.Code != http.StatusNotFound {
			t.Fatalf("no limit, request %d: status %d", i+1, rec.Code)
		}
	}
}

func TestFailedAuthLimitPerAddress(t *testing.T) {
	clock := newFakeClock()
	// AuthFailureLimit left at 0: the default, 20 a minute.
	e := newMgEnv(t, func(o *api.Options) { o.AuthFailureLimit, o.Now = 0, clock.Now })
	h := e.api.Handler()
	attacker := "198.51.100.66:5555"
	bad := limited{h: h, method: "GET", path: "/v2/accounts/acme/flows", user: e.A.Key, pass: "guess", from: attacker}
	good := bad
	good.pass = e.A.Token

	// Successes from the address spend nothing.
	for range 50 {
		if rec := good.do(); rec.Code != http.StatusOK {
			t.Fatalf("good request: %d", rec.Code)
		}
	}
	for i := range api.DefaultAuthFailureLimit {
		if rec := bad.do(); rec.Code != http.StatusUnauthorized {
			t.Fatalf("bad token %d: status %d, want 401", i+1, rec.Code)
		}
	}
	// The 21st failure, whatever it sends, is refused unread.
	check429(t, "21st bad token", bad.do(), "3") // 20 a minute: one every 3s
	// The address is locked out, right credentials included: answering
	// them would tell a guesser when it guessed right.
	check429(t, "good token from the locked address", good.do(), "3")
	noAuth := bad
	noAuth.user = ""
	check429(t, "no credentials from the locked address", noAuth.do(), "3")
	v1 := bad
	v1.path = "/v1/Accounts/acme/Calls.json"
	if rec := v1.do(); rec.Code != 429 || rec.Header().Get("Retry-After") != "3" {
		t.Errorf("v1 from the locked address: %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}

	// The same account from another address still works: the lockout is
	// the address's, not the account's.
	elsewhere := good
	elsewhere.from = "203.0.113.10:443"
	if rec := elsewhere.do(); rec.Code != http.StatusOK {
		t.Fatalf("the account from another address: status %d\n%s", rec.Code, rec.Body)
	}
	// Each refusal costs the attacker nothing more, and after 3s one
	// more attempt is allowed.
	clock.Advance(3 * time.Second)
	if rec := good.do(); rec.Code != http.StatusOK {
		t.Fatalf("after 3s, right credentials: status %d", rec.Code)
	}
	if rec := bad.do(); rec.Code != http.StatusUnauthorized {
		t.Fatalf("after 3s, a bad token: %d, want 401", rec.Code)
	}
	check429(t, "then locked again", bad.do(), "3")
	clock.Advance(time.Minute)
	if rec := good.do(); rec.Code != http.StatusOK {
		t.Fatalf("a minute later: status %d", rec.Code)
	}
	// Missing credentials and invalid pre-signed URLs count too.
	other := limited{h: h, method: "GET", path: "/v2/accounts/acme/flows", from: "192.0.2.99:1"}
	for range api.DefaultAuthFailureLimit {
		other.do()
	}
	check429(t, "after 20 requests without credentials", other.do(), "3")
	signed := limited{h: h, method: "GET", path: "/v1/Accounts/acme/Recordings/re_x?Expires=99999999999&Signature=00", from: "192.0.2.98:1"}
	for i := range api.DefaultAuthFailureLimit {
		if rec := signed.do(); rec.Code != http.StatusForbidden {
			t.Fatalf("bad signature %d: %d", i+1, rec.Code)
		}
	}
	if rec := signed.do(); rec.Code != http.StatusTooManyRequests {
		t.Errorf("21st bad signature: %d, want 429", rec.Code)
	}
}

func TestFailedAuthLimitBehindTrustedProxy(t *testing.T) {
	clock := newFakeClock()
	proxies, err := api.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newMgEnv(t, func(o *api.Options) {
		o.AuthFailureLimit, o.Now, o.TrustedProxies = 2, clock.Now, proxies
	})
	via := func(client string) limited {
		return limited{h: e.api.Handler(), method: "GET", path: "/v2/accounts/acme/flows", user: e.A.Key, pass: "guess",
			from: "10.0.0.5:8000", header: http.Header{"X-Forwarded-For": {client}}}
	}
	for range 2 {
		via("198.51.100.7").do()
	}
	check429(t, "client behind the proxy", via("198.51.100.7").do(), "30")
	if rec := via("198.51.100.8").do(); rec.Code != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401", rec.Code)
	}

	// Without trusted proxies X-Forwarded-For is ignored: changing it
	// does not escape the lockout of the peer.
	e2 := newMgEnv(t, func(o *api.Options) { o.AuthFailureLimit, o.Now = 2, clock.Now })
	spoof := func(client string) limited {
		return limited{h: e2.api.Handler(), method: "GET", path: "/v2/accounts/acme/flows", user: e2.A.Key, pass: "guess",
			from: "198.51.100.200:8000", header: http.Header{"X-Forwarded-For": {client}}}
	}
	spoof("1.1.1.1").do()
	spoof("2.2.2.2").do()
	check429(t, "spoofed X-Forwarded-For", spoof("3.3.3.3").do(), "30")
}

// Concurrent requests with good credentials from one address (a
// customer's backend with many workers) are not turned away as failed
// authentications, however many more there are than the failures
// allowed: each gives back the token its attempt held.
func TestConcurrentGoodRequestsFromOneAddress(t *testing.T) {
	clock := newFakeClock()
	e := newMgEnv(t, func(o *api.Options) { o.AuthFailureLimit, o.RateLimit, o.Now = 2, -1, clock.Now })
	good := limited{h: e.api.Handler(), method: "GET", path: "/v2/accounts/acme/flows", user: e.A.Key, pass: e.A.Token,
		from: "198.51.100.7:4444"}
	const n = 40
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { codes <- good.do().Code })
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("good request from a busy address: %d, want 200", code)
		}
	}
	// Failures from it are still counted and still lock it out.
	bad := good
	bad.pass = "guess"
	for range 2 {
		if rec := bad.do(); rec.Code != http.StatusUnauthorized {
			t.Fatalf("bad token: %d, want 401", rec.Code)
		}
	}
	check429(t, "third bad token", bad.do(), "30")
}

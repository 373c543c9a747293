package routing_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/routing"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// exoPhone is the fixture account's ExoPhone, the number the call came in
// on.
const exoPhone = "+918047000000"

// startedAt and now are the call's start and the clock of the tests:
// 10:00:00 and 10:01:30 UTC, that is 15:30:00 and 15:31:30 IST.
var (
	startedAt = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now       = startedAt.Add(90 * time.Second)
)

// received is one request the stand-in CRM got.
type received struct {
	path, rawQuery string
	query          url.Values
	header         http.Header
}

// fixture is a store with one account, its ExoPhone and one call, and a
// stand-in CRM whose paths answer as routes say.
type fixture struct {
	db   *store.DB
	info *call.Info
	crm  *httptest.Server

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	got    []received
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Numbers().Create(ctx, a.SID, exoPhone, "Main line"); err != nil {
		t.Fatal(err)
	}
	c := &store.Call{AccountSID: a.SID, Direction: store.DirectionInbound, From: "+15550100001",
		To: exoPhone, PhoneNumber: exoPhone, Status: store.InProgress}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, routes: map[string]http.HandlerFunc{}}
	f.info = &call.Info{CallSid: c.SID, AccountSID: a.SID, State: flows.State{
		Call: flows.CallInfo{CallSid: c.SID, From: c.From, To: c.To, Direction: "incoming",
			ExoPhone: c.PhoneNumber, FlowID: "fl_main"},
		StartedAt: startedAt,
		FlowID:    "fl_main",
		Applet:    "connect1",
		Await:     flows.AwaitDial,
	}}
	f.crm = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got = append(f.got, received{path: r.URL.Path, rawQuery: r.URL.RawQuery,
			query: r.URL.Query(), header: r.Header.Clone()})
		h := f.routes[r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			t.Errorf("unexpected request to %s", r.URL.Path)
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.crm.Close)
	return f
}

// route makes path answer with h.
func (f *fixture) route(path string, h http.HandlerFunc) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = h
	return f.crm.URL + path
}

// reply makes path answer with a status, a Content-Type and a body.
func (f *fixture) reply(path string, status int, contentType, body string) string {
	return f.route(path, func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// requests returns the requests the CRM got so far.
func (f *fixture) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

func (f *fixture) addNumber(t *testing.T, number string) {
	t.Helper()
	if _, err := f.db.Numbers().Create(t.Context(), f.info.AccountSID, number, ""); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) planner(cfg routing.Config) *routing.Planner {
	return routing.New(f.db, testConfig(cfg), nil)
}

// testConfig is cfg with the tests' clock and, unless cfg has a client,
// the client of a Switchyard run with -egress-allow loopback: the
// stand-in CRM listens on 127.0.0.1.
func testConfig(cfg routing.Config) routing.Config {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = webhttp.Client(webhttp.NewPolicy(webhttp.Loopback()...), 0)
	}
	return cfg
}

// rows returns the requests logged against the fixture's call.
func (f *fixture) rows(t *testing.T) []store.CallRequest {
	t.Helper()
	rows, err := f.db.CallRequests().ByCall(t.Context(), f.info.AccountSID, f.info.CallSid)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// dial is a programmable Connect applet's Dial asking url.
func dial(url string) flows.Dial {
	return flows.Dial{
		Applet:      "connect1",
		Strategy:    flows.Sequential,
		RingTimeout: 30,
		CallerID:    exoPhone,
		URL:         url,
		Timeout:     3,
	}
}

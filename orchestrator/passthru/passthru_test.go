package passthru_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// received is one request the stand-in CRM got.
type received struct {
	method, path, rawQuery, contentType, userAgent string
	query, form                                    url.Values
}

// fixture is a store with one account and one call, and a stand-in CRM.
type fixture struct {
	db   *store.DB
	info *call.Info
	crm  *httptest.Server
	got  chan received
}

// startedAt and now are the call's start and the clock of the tests:
// 10:00:00 and 10:01:30 UTC, that is 15:30:00 and 15:31:30 IST.
var (
	startedAt = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now       = startedAt.Add(90 * time.Second)
)

func newFixture(t *testing.T, handler http.HandlerFunc) *fixture {
	t.Helper()
	return newFixtureOn(t, storetest.SQLiteDSN, handler)
}

func newFixtureOn(t *testing.T, fresh storetest.Fresh, handler http.HandlerFunc) *fixture {
	t.Helper()
	ctx := t.Context()
	db := storetest.OpenMigrated(t, fresh(t))
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Call{AccountSID: a.SID, Direction: store.DirectionInbound, From: "+15550100001",
		To: "+918047000001", PhoneNumber: "+918047000001", Status: store.InProgress}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, got: make(chan received, 16)}
	f.info = &call.Info{CallSid: c.SID, AccountSID: a.SID, State: flows.State{
		Call: flows.CallInfo{CallSid: c.SID, From: c.From, To: c.To, Direction: "incoming",
			ExoPhone: c.PhoneNumber, FlowID: "fl_main"},
		StartedAt: startedAt,
		FlowID:    "fl_main",
		Await:     flows.AwaitFetch,
	}}
	f.crm = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.got <- received{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery,
			contentType: r.Header.Get("Content-Type"), userAgent: r.UserAgent(),
			query: r.URL.Query(), form: form}
		handler(w, r)
	}))
	t.Cleanup(f.crm.Close)
	return f
}

// client is a passthru client on the fixture's store, allowed to reach
// the stand-in CRM on loopback.
func (f *fixture) client(cfg passthru.Config) *passthru.Client {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = loopbackClient()
	}
	return passthru.New(f.db, cfg, nil)
}

// loopbackClient is the client of a Switchyard run with -egress-allow
// loopback: the tests' servers listen on 127.0.0.1.
func loopbackClient() *http.Client {
	return webhttp.Client(webhttp.NewPolicy(webhttp.Loopback()...), 0)
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

func (f *fixture) one(t *testing.T) received {
	t.Helper()
	select {
	case r := <-f.got:
		return r
	default:
		t.Fatal("the CRM got no request")
		return received{}
	}
}

func TestStatusesAndOutcomes(t *testing.T) {
	for _, tc := range []struct {
		status  int
		async   bool
		outcome string
	}{
		{200, false, flows.OutSuccess},
		{204, false, flows.OutSuccess},
		{302, false, flows.OutAlternate},
		{301, false, flows.OutError},
		{404, false, flows.OutError},
		{500, false, flows.OutError},
		{200, true, flows.OutSuccess},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					t.Error("a redirect was followed")
				}
				if tc.status/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, "reply")
			})
			fe := flows.Fetch{Applet: "pt1", URL: f.crm.URL + "/hook", Method: "GET", Timeout: 3, Async: tc.async}
			ans, err := f.client(passthru.Config{}).Fetch(t.Context(), f.info, fe)
			status := ans.Status
			if status != tc.status || err != nil {
				t.Fatalf("Fetch = %d, %v; want %d, nil", status, err, tc.status)
			}
			if got := passthru.Outcome(status, err); got != tc.outcome {
				t.Errorf("Outcome = %q, want %q", got, tc.outcome)
			}
			f.one(t)
			if len(f.got) != 0 {
				t.Errorf("%d more requests reached the CRM", len(f.got))
			}
			rows := f.rows(t)
			if len(rows) != 1 {
				t.Fatalf("rows = %+v", rows)
			}
			r := rows[0]
			wantBody := "reply"
			if tc.status == 204 {
				wantBody = ""
			}
			if r.Applet != "pt1" || r.Kind != "passthru" || r.Method != "GET" || r.URL != fe.URL ||
				r.HTTPStatus != tc.status || r.Outcome != tc.outcome || r.Error != "" || r.Response != wantBody ||
				r.ID == "" || r.CreatedAt.IsZero() {
				t.Errorf("row = %+v", r)
			}
		})
	}
}

// Outcome takes the flow's outputs: success for 2xx, alternate for 302,
// error for everything else and for failed requests.
func TestOutcomeMatchesFlow(t *testing.T) {
	for _, tc := range []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, flows.OutSuccess}, {299, nil, flows.OutSuccess}, {302, nil, flows.OutAlternate},
		{303, nil, flows.OutError}, {0, errors.New("x"), flows.OutError}, {200, errors.New("x"), flows.OutError},
		{500, nil, flows.OutError},
	} {
		if got := passthru.Outcome(tc.status, tc.err); got != tc.want {
			t.Errorf("Outcome(%d, %v) = %q, want %q", tc.status, tc.err, got, tc.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the client gave up
		case <-release:
		}
	})
	defer close(release)
	// Fetch asks for 3 s; MaxTimeout caps it at 50 ms.
	cl := f.client(passthru.Config{MaxTimeout: 50 * time.Millisecond})
	ans, err := cl.Fetch(t.Context(), f.info, flows.Fetch{Applet: "pt1", URL: f.crm.URL, Timeout: 3})
	status := ans.Status
	if status != 0 || err == nil || !strings.Contains(err.Error(), "timeout after 50ms") {
		t.Fatalf("Fetch = %d, %v; want 0 and a timeout", status, err)
	}
	rows := f.rows(t)
	if len(rows) != 1 || rows[0].Outcome != flows.OutError || rows[0].HTTPStatus != 0 ||
		!strings.Contains(rows[0].Error, "timeout") || rows[0].Method != "GET" {
		t.Errorf("rows = %+v", rows)
	}
}

func TestTimeoutBounds(t *testing.T) {
	cl := passthru.New(nil, passthru.Config{}, nil)
	for _, tc := range []struct {
		seconds int
		want    time.Duration
	}{{0, 5 * time.Second}, {-1, 5 * time.Second}, {3, 3 * time.Second}, {30, 30 * time.Second}, {31, 30 * time.Second}, {1 << 40, 30 * time.Second}} {
		if got := cl.Timeout(tc.seconds); got != tc.want {
			t.Errorf("Timeout(%d) = %v, want %v", tc.seconds, got, tc.want)
		}
	}
}

func TestTransportFailure(t *testing.T) {
	f := newFixture(t, func(http.ResponseWriter, *http.Request) {})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	ans, err := f.client(passthru.Config{}).Fetch(t.Context(), f.info, flows.Fetch{URL: deadURL, Timeout: 3})
	status := ans.Status
	if status != 0 || err == nil {
		t.Fatalf("Fetch = %d, %v; want 0 and an error", status, err)
	}
	if rows := f.rows(t); len(rows) != 1 || rows[0].Outcome != flows.OutError || rows[0].Error == "" {
		t.Errorf("rows = %+v", rows)
	}
}

func TestParametersGET(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {})
	f.info.State.Digits = "123"
	f.info.State.DialStatus = flows.DialNoAnswer
	f.info.State.DialWhom = "+919800000001"
	f.info.State.Call.CustomField = "order=42&x"
	f.info.State.FlowID = "fl_transferred"

	ans, err := f.client(passthru.Config{UserAgent: "test-agent"}).Fetch(t.Context(), f.info,
		flows.Fetch{URL: f.crm.URL + "/hook?key=s3cret", Method: "GET", Timeout: 3})
	status := ans.Status
	if status != 200 || err != nil {
		t.Fatalf("Fetch = %d, %v", status, err)
	}
	r := f.one(t)
	if r.method != "GET" || r.path != "/hook" || r.userAgent != "test-agent" {
		t.Errorf("request = %+v", r)
	}
	if !strings.HasPrefix(r.rawQuery, "key=s3cret&") {
		t.Errorf("the URL's own query is not kept first: %q", r.rawQuery)
	}
	if !strings.Contains(r.rawQuery, "digits=%22123%22") {
		t.Errorf("digits not quoted: %q", r.rawQuery)
	}
	want := map[string]string{
		"key":            "s3cret",
		"CallSid":        f.info.CallSid,
		"CallFrom":       "+15550100001",
		"CallTo":         "+918047000001",
		"From":           "+15550100001",
		"To":             "+918047000001",
		"Direction":      "incoming",
		"Created":        "2026-03-01 15:30:00",
		"StartTime":      "2026-03-01 15:30:00",
		"CurrentTime":    "2026-03-01 15:31:30",
		"EndTime":        "1970-01-01 05:30:00",
		"CallStatus":     "in-progress",
		"CallType":       "incomplete",
		"DialCallStatus": "no-answer",
		"DialWhomNumber": "+919800000001",
		"digits":         `"123"`,
		"CustomField":    "order=42&x",
		"flow_id":        "fl_transferred",
		"tenant_id":      f.info.AccountSID,
	}
	for k, v := range want {
		if got := r.query[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for k := range r.query {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected parameter %s=%q", k, r.query[k])
		}
	}
	// The row keeps the URL as configured, not the parameters.
	if rows := f.rows(t); len(rows) != 1 || rows[0].URL != f.crm.URL+"/hook?key=s3cret" {
		t.Errorf("rows = %+v", rows)
	}
}

func TestParametersPOST(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {})
	f.info.State.Call.Direction = "outbound-dial"
	f.info.State.RecordingURL = "https://rec/1.mp3"
	ans, err := f.client(passthru.Config{}).Fetch(t.Context(), f.info,
		flows.Fetch{URL: f.crm.URL + "/hook", Method: "POST", Timeout: 3})
	status := ans.Status
	if status != 200 || err != nil {
		t.Fatalf("Fetch = %d, %v", status, err)
	}
	r := f.one(t)
	if r.method != "POST" || r.rawQuery != "" || r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("request = %+v", r)
	}
	if r.userAgent != passthru.DefaultUserAgent {
		t.Errorf("User-Agent = %q", r.userAgent)
	}
	for k, v := range map[string]string{
		"CallSid": f.info.CallSid, "Direction": "outbound-dial", "CallType": "voicemail",
		"RecordingUrl": "https://rec/1.mp3", "DialWhomNumber": "", "tenant_id": f.info.AccountSID,
	} {
		if got := r.form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, absent := range []string{"digits", "DialCallStatus", "CustomField"} {
		if _, ok := r.form[absent]; ok {
			t.Errorf("%s sent though unknown: %q", absent, r.form[absent])
		}
	}
	if rows := f.rows(t); len(rows) != 1 || rows[0].Method != "POST" || rows[0].Outcome != flows.OutSuccess {
		t.Errorf("rows = %+v", rows)
	}
}

func TestBadURLs(t *testing.T) {
	f := newFixture(t, func(http.ResponseWriter, *http.Request) {})
	cl := f.client(passthru.Config{})
	bad := []flows.Fetch{
		{URL: ""},
		{URL: "ftp://example.com/x"},
		{URL: "javascript:alert(1)"},
		{URL: "://nothing"},
		{URL: "http://"},
		{URL: "http://[::1"},
		{URL: "/relative/path"},
		{URL: "http://exa mple.com/"},
		{URL: "\x00\xff"},
		{URL: f.crm.URL, Method: "PUT"},
	}
	for _, fe := range bad {
		ans, err := cl.Fetch(t.Context(), f.info, fe)
		status := ans.Status
		if status != 0 || err == nil {
			t.Errorf("Fetch(%q, %q) = %d, %v; want 0 and an error", fe.URL, fe.Method, status, err)
		}
	}
	if len(f.got) != 0 {
		t.Errorf("%d bad requests reached the CRM", len(f.got))
	}
	rows := f.rows(t)
	if len(rows) != len(bad) {
		t.Fatalf("%d rows, want %d", len(rows), len(bad))
	}
	for _, r := range rows {
		if r.Outcome != flows.OutError || r.Error == "" || r.HTTPStatus != 0 {
			t.Errorf("row = %+v", r)
		}
	}
}

func TestResponseLogBoundedAndClean(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testResponseLog(t, storetest.SQLiteDSN) })
	// PostgreSQL's text refuses NULs and invalid UTF-8.
	t.Run("postgres", func(t *testing.T) { testResponseLog(t, storetest.PostgresDSN) })
}

func testResponseLog(t *testing.T, fresh storetest.Fresh) {
	long := "ok\x00\xff" + strings.Repeat("a", 100)
	f := newFixtureOn(t, fresh, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, long) })
	ans, err := f.client(passthru.Config{MaxResponseLog: 10}).Fetch(t.Context(), f.info, flows.Fetch{URL: f.crm.URL})
	status := ans.Status
	if status != 200 || err != nil {
		t.Fatalf("Fetch = %d, %v", status, err)
	}
	rows := f.rows(t)
	if len(rows) != 1 || rows[0].Response != "ok\uFFFDaaaaaa" {
		t.Errorf("rows = %+v", rows)
	}
}

// A request that cannot be logged (the call is unknown to the store) still
// gives the flow its status.
func TestStoreFailureDoesNotFailFetch(t *testing.T) {
	f := newFixture(t, func(http.ResponseWriter, *http.Request) {})
	ghost := *f.info
	ghost.CallSid = store.NewSID()
	ans, err := f.client(passthru.Config{}).Fetch(t.Context(), &ghost, flows.Fetch{URL: f.crm.URL})
	status := ans.Status
	if status != 200 || err != nil {
		t.Fatalf("Fetch = %d, %v", status, err)
	}
	// Without a store nothing is logged and nothing fails.
	ans, err = passthru.New(nil, passthru.Config{HTTPClient: loopbackClient()}, nil).Fetch(t.Context(), f.info, flows.Fetch{URL: f.crm.URL})
	status = ans.Status
	if status != 200 || err != nil {
		t.Fatalf("Fetch without a store = %d, %v", status, err)
	}
	if rows := f.rows(t); len(rows) != 0 {
		t.Errorf("rows = %+v", rows)
	}
}

// TestEgressDenied: by default a passthru may not reach loopback. The flow
// takes error, the request's row tells why and holds nothing of what the
// loopback service would have answered (it is never asked), and the log
// line hides the URL's token while the row keeps the URL as configured.
func TestEgressDenied(t *testing.T) {
	const secret = "internal-admin-secret"
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, secret) })
	var logs bytes.Buffer
	cl := passthru.New(f.db, passthru.Config{Now: func() time.Time { return now }},
		slog.New(slog.NewTextHandler(&logs, nil)))
	target := f.crm.URL + "/admin?token=s3cret"
	ans, err := cl.Fetch(t.Context(), f.info, flows.Fetch{URL: target, Applet: "lookup"})
	status := ans.Status
	if status != 0 || !errors.Is(err, webhttp.ErrEgressDenied) {
		t.Fatalf("Fetch = %d, %v; want 0 and ErrEgressDenied", status, err)
	}
	if len(f.got) != 0 {
		t.Errorf("the loopback service was asked %d times", len(f.got))
	}
	rows := f.rows(t)
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	r := rows[0]
	host := strings.TrimPrefix(f.crm.URL, "http://")
	if r.Outcome != flows.OutError || r.HTTPStatus != 0 || r.URL != target ||
		!strings.Contains(r.Error, "egress denied: "+host+" is loopback; see -egress-allow") {
		t.Errorf("row = %+v", r)
	}
	if r.Response != "" || strings.Contains(r.Error, secret) {
		t.Errorf("the row holds the secret: response %q, error %q", r.Response, r.Error)
	}
	if l := logs.String(); strings.Contains(l, "s3cret") || !strings.Contains(l, "token=xxxxx") || !strings.Contains(l, "egress denied") {
		t.Errorf("log:\n%s", l)
	}
}

// The answer's body and Content-Type go back to the flow (a switch reads
// the passthru's, a dynamic applet its settings), beyond what is logged.
func TestAnswerBodyGoesToTheFlow(t *testing.T) {
	long := `{"select":"sales","pad":"` + strings.Repeat("p", 5000) + `"}`
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, long)
	})
	ans, err := f.client(passthru.Config{MaxResponseLog: 100}).Fetch(t.Context(), f.info, flows.Fetch{URL: f.crm.URL, Applet: "route"})
	if err != nil || ans.Status != 200 || ans.Body != long || ans.ContentType != "text/plain" {
		t.Fatalf("Fetch = %d %q %d bytes, %v", ans.Status, ans.ContentType, len(ans.Body), err)
	}
	if rows := f.rows(t); len(rows) != 1 || len(rows[0].Response) != 100 || rows[0].Kind != store.RequestPassthru {
		t.Errorf("logged %+v", rows)
	}

	huge := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", flows.MaxFetchBody+100))
	})
	if ans, err := huge.client(passthru.Config{}).Fetch(t.Context(), huge.info, flows.Fetch{URL: huge.crm.URL}); err != nil || len(ans.Body) != flows.MaxFetchBody {
		t.Errorf("huge answer: %d bytes, %v", len(ans.Body), err)
	}
}

// Dynamic greetings, gathers and SMS ask with Exotel's headers and are
// logged under their purpose.
func TestDynamicPurposes(t *testing.T) {
	for _, tc := range []struct {
		purpose, accept, version string
	}{
		{flows.FetchGreeting, "text/plain, application/json;q=0.5", ""},
		{flows.FetchSMS, "text/plain, application/json;q=0.5", ""},
		{flows.FetchGather, "application/json", passthru.ExotelVersion},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			headers := make(chan http.Header, 1)
			f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
				headers <- r.Header.Clone()
				_, _ = io.WriteString(w, "Hello")
			})
			ans, err := f.client(passthru.Config{}).Fetch(t.Context(), f.info, flows.Fetch{URL: f.crm.URL, Method: "GET", Applet: "dyn", Purpose: tc.purpose})
			if err != nil || ans.Body != "Hello" {
				t.Fatalf("Fetch = %+v, %v", ans, err)
			}
			h := <-headers
			if h.Get("Accept") != tc.accept || h.Get("Exotel-Version") != tc.version {
				t.Errorf("Accept %q Exotel-Version %q", h.Get("Accept"), h.Get("Exotel-Version"))
			}
			if q := f.one(t).query; q.Get("CallSid") != f.info.CallSid || q.Get("From") == "" {
				t.Errorf("query %v", q)
			}
			if rows := f.rows(t); len(rows) != 1 || rows[0].Kind != tc.purpose || rows[0].Applet != "dyn" {
				t.Errorf("logged %+v", rows)
			}
		})
	}
}

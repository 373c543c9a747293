package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// The -update flag rewrites the golden files under testdata/golden. It is
// registered in init, after package variables, so that another test file
// of the package declaring the same flag does not make it panic.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/golden")
	}
}

func callsGoldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// callsGolden compares got with testdata/golden/name, or rewrites it
// with -update.
func callsGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if callsGoldenUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test ./api -run %s -update to create it)", name, err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("golden %s differs (go test ./api -update rewrites it)\n got: %s\nwant: %s", name, got, want)
	}
}

// Fixture accounts and numbers.
const (
	envAccount      = "acme1"
	envOther        = "globex2"
	envExoPhone     = "+918047000000"
	envExoPhone2    = "+918047000001"
	envOtherPhone   = "+918047000009"
	envUnpublished  = "never-published"
	envGoldenSID    = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	envGoldenLive   = "1a2b3c4d5e6f708192a3b4c5d6e7f809"
	envGoldenFlowed = "2b3c4d5e6f708192a3b4c5d6e7f8091a"
)

// callsEnv is an API server on a migrated store with two accounts, their
// ExoPhones and flows, and a fake Placer.
type callsEnv struct {
	t       testing.TB
	db      *store.DB
	srv     *Server
	placer  *rowPlacer
	token   string // envAccount's
	otherTk string // envOther's
	flowID  string // published flow of envAccount
	draftID string // unpublished flow of envAccount
}

// callsDBs runs fn on SQLite and, when TEST_DATABASE_URL is set, on
// PostgreSQL.
func callsDBs(t *testing.T, fn func(t *testing.T, dsn func(testing.TB) string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteDSN) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvPostgres) == "" {
			t.Skip(storetest.EnvPostgres + " is not set")
		}
		fn(t, storetest.PostgresDSN)
	})
}

func newCallsEnv(t *testing.T) *callsEnv {
	return newCallsEnvOn(t, storetest.SQLiteDSN, Options{})
}

// newCallsEnvOn builds the environment on the database dsn gives; each
// of more may complete the options with the database at hand.
func newCallsEnvOn(t testing.TB, dsn func(testing.TB) string, opts Options, more ...func(*store.DB, *Options)) *callsEnv {
	t.Helper()
	db := storetest.OpenMigrated(t, dsn(t))
	ctx := context.Background()
	_, tok, err := db.Accounts().CreateWithSID(ctx, envAccount, "Acme")
	envMust(t, err)
	_, otherTk, err := db.Accounts().CreateWithSID(ctx, envOther, "Globex")
	envMust(t, err)
	for _, n := range []struct{ acc, num string }{
		{envAccount, envExoPhone}, {envAccount, envExoPhone2}, {envOther, envOtherPhone},
	} {
		_, err := db.Numbers().Create(ctx, n.acc, n.num, "")
		envMust(t, err)
	}
	fl, err := db.Flows().Create(ctx, envAccount, "Support", []byte(`{}`))
	envMust(t, err)
	_, err = db.Flows().Publish(ctx, envAccount, fl.ID)
	envMust(t, err)
	draft, err := db.Flows().Create(ctx, envAccount, envUnpublished, []byte(`{}`))
	envMust(t, err)

	p := &rowPlacer{db: db}
	opts.Store, opts.Database, opts.Calls = db, db, p
	for _, f := range more {
		f(db, &opts)
	}
	if opts.SigningKey == nil {
		opts.SigningKey = []byte("test signing key")
	}
	// Limits well above what any test sends, unless the test sets its own.
	if opts.RateLimit == 0 {
		opts.RateLimit = 100_000
	}
	if opts.AuthFailureLimit == 0 {
		opts.AuthFailureLimit = 100_000
	}
	return &callsEnv{t: t, db: db, srv: New(opts), placer: p, token: tok, otherTk: otherTk,
		flowID: fl.ID, draftID: draft.ID}
}

func envMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// envReq is one request to the server.
type envReq struct {
	method, path string
	body         string
	contentType  string
	user, pass   string // Basic auth; empty user: the env account's
	noAuth       bool
	header       http.Header
}

func (e *callsEnv) do(r envReq) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if !r.noAuth {
		user, pass := r.user, r.pass
		if user == "" {
			user, pass = envAccount, e.token
		}
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (e *callsEnv) get(path string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(envReq{method: http.MethodGet, path: path})
}

// connect POSTs a v1 form to Calls/connect (suffix ".json" or "").
func (e *callsEnv) connect(suffix string, form url.Values, header http.Header) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/" + envAccount + "/Calls/connect" + suffix,
		body: form.Encode(), contentType: "application/x-www-form-urlencoded", header: header})
}

// v3post POSTs a JSON body to /v3/accounts/acme1/calls.
func (e *callsEnv) v3post(body string, header http.Header) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(envReq{method: http.MethodPost, path: "/v3/accounts/" + envAccount + "/calls",
		body: body, contentType: "application/json", header: header})
}

// callRows counts every call row in the database.
func (e *callsEnv) callRows() int64 {
	e.t.Helper()
	var n int64
	envMust(e.t, e.db.Gorm().Model(&store.Call{}).Count(&n).Error)
	return n
}

// callsJSON decodes a JSON response.
func callsJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, rec.Body)
	}
	return m
}

// jsonAt walks m by keys.
func jsonAt(t *testing.T, m any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %T is not an object", k, m)
		}
		if m, ok = mm[k]; !ok {
			t.Fatalf("no key %q in %v", k, mm)
		}
	}
	return m
}

// rowPlacer is the fake Placer: it creates the call row (and a ringing
// first leg) the way call.Runtime.Place does, through the store, with the
// request's idempotency key and contact hold, so every response shape can
// be tested without a media node.
type rowPlacer struct {
	db *store.DB

	mu   sync.Mutex
	reqs []call.OutboundRequest
	err  error // returned instead of placing, when set
}

func (p *rowPlacer) Place(ctx context.Context, req call.OutboundRequest) (*store.Call, bool, error) {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	forced := p.err
	p.mu.Unlock()
	if forced != nil {
		return nil, false, forced
	}
	phone, err := p.db.Numbers().Get(ctx, req.AccountSID, req.CallerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("fake place: %w", call.ErrNotExoPhone)
	}
	if err != nil {
		return nil, false, err
	}
	row := &store.Call{AccountSID: req.AccountSID, Direction: store.DirectionOutboundAPI, From: req.From,
		To: req.To, PhoneNumber: phone.Number, Status: store.Ringing, CustomField: req.CustomField,
		CallType: req.CallType, StatusCallback: req.StatusCallback,
		StatusCallbackContentType: req.StatusCallbackContentType,
		StatusCallbackEvents:      strings.Join(req.StatusCallbackEvents, ",")}
	if req.FlowID != "" {
		f, err := p.db.Flows().Get(ctx, req.AccountSID, req.FlowID)
		if err != nil {
			return nil, false, err
		}
		if f.LiveVersion == 0 {
			return nil, false, fmt.Errorf("fake place: %w", store.ErrNotPublished)
		}
		row.FlowID, row.FlowVersion, row.To = &f.ID, f.LiveVersion, phone.Number
	}
	o := store.CreateOptions{IdempotencyKey: req.IdempotencyKey, RequestHash: req.RequestHash}
	if req.HoldFrom {
		o.Hold, o.HoldFor = []string{req.From}, time.Hour
	}
	got, replay, err := p.db.Calls().CreateWith(ctx, row, o)
	if err != nil || replay {
		return got, replay, err
	}
	leg := &store.Leg{CallSID: got.SID, AccountSID: got.AccountSID, Seq: 1, UUID: "uuid-" + got.SID,
		Direction: store.LegOutbound, From: phone.Number, To: req.From, Status: store.Ringing}
	if err := p.db.Legs().Create(ctx, leg); err != nil {
		return nil, false, err
	}
	return got, false, nil
}

// requests returns the requests Place received.
func (p *rowPlacer) requests() []call.OutboundRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]call.OutboundRequest(nil), p.reqs...)
}

func (p *rowPlacer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// Fixed times of the golden calls (UTC; IST is +05:30).
var (
	goldenCreated = time.Date(2024, 5, 2, 5, 34, 10, 0, time.UTC)
	goldenAnswer  = time.Date(2024, 5, 2, 5, 34, 18, 0, time.UTC)
	goldenEnd     = time.Date(2024, 5, 2, 5, 39, 31, 0, time.UTC)
)

// seedGolden writes three calls with fixed SIDs and times: a finished
// click-to-call with two legs and a recording, a live one, and a finished
// flow call.
func (e *callsEnv) seedGolden() {
	e.t.Helper()
	ctx := context.Background()
	price := "1.500"
	rec := "https://recordings.example/acme1/" + envGoldenSID + ".mp3"
	done := &store.Call{SID: envGoldenSID, AccountSID: envAccount, Direction: store.DirectionOutboundAPI,
		From: "09800000001", To: "09800000002", PhoneNumber: envExoPhone, Status: store.Completed,
		StartTime: goldenCreated.Add(time.Second), AnswerTime: &goldenAnswer, EndTime: &goldenEnd,
		Duration: 320, ConversationDuration: 301, RecordingURL: rec, CustomField: "order-77",
		Price: &price, CallType: "trans", CreatedAt: goldenCreated, UpdatedAt: goldenEnd}
	envMust(e.t, e.db.Calls().Create(ctx, done))
	leg2Answer := goldenAnswer.Add(17 * time.Second)
	for _, l := range []*store.Leg{
		{ID: "lg_000000000000000000000001", Seq: 1, UUID: "g-1", From: envExoPhone, To: "09800000001",
			Status: store.Completed, StartTime: goldenCreated.Add(time.Second), AnswerTime: &goldenAnswer,
			EndTime: &goldenEnd, Duration: 320, TalkTime: 313, CreatedAt: goldenCreated.Add(time.Second), UpdatedAt: goldenEnd},
		{ID: "lg_000000000000000000000002", Seq: 2, UUID: "g-2", From: envExoPhone, To: "09800000002",
			Status: store.Completed, StartTime: goldenAnswer, AnswerTime: &leg2Answer,
			EndTime: &goldenEnd, Duration: 313, TalkTime: 296, CreatedAt: goldenAnswer, UpdatedAt: goldenEnd},
	} {
		l.CallSID, l.AccountSID, l.Direction = envGoldenSID, envAccount, store.LegOutbound
		envMust(e.t, e.db.Legs().Create(ctx, l))
	}
	envMust(e.t, e.db.Recordings().Create(ctx, &store.Recording{ID: "re_000000000000000000000001",
		AccountSID: envAccount, CallSID: envGoldenSID, URL: rec, Duration: 301, Format: "mp3", CreatedAt: goldenEnd}))

	live := &store.Call{SID: envGoldenLive, AccountSID: envAccount, Direction: store.DirectionOutboundAPI,
		From: "+919800000003", To: "+919800000004", PhoneNumber: envExoPhone2, Status: store.Ringing,
		CallType: "trans", CreatedAt: goldenCreated, UpdatedAt: goldenCreated.Add(2 * time.Second)}
	envMust(e.t, e.db.Calls().Create(ctx, live))
	envMust(e.t, e.db.Legs().Create(ctx, &store.Leg{ID: "lg_000000000000000000000003", CallSID: envGoldenLive,
		AccountSID: envAccount, Seq: 1, UUID: "g-3", Direction: store.LegOutbound, From: envExoPhone2,
		To: "+919800000003", Status: store.Ringing, CreatedAt: goldenCreated, UpdatedAt: goldenCreated.Add(2 * time.Second)}))

	goldenFlow := "fl_000000000000000000000001"
	envMust(e.t, e.db.Gorm().Create(&store.Flow{ID: goldenFlow, AccountSID: envAccount, Name: "Order status",
		Draft: "{}", LiveVersion: 1, CreatedAt: goldenCreated, UpdatedAt: goldenCreated}).Error)
	flowEnd := goldenCreated.Add(time.Minute)
	flowAnswer := goldenCreated.Add(5 * time.Second)
	flowed := &store.Call{SID: envGoldenFlowed, AccountSID: envAccount, Direction: store.DirectionOutboundAPI,
		From: "+919800000005", To: envExoPhone, PhoneNumber: envExoPhone, FlowID: &goldenFlow, FlowVersion: 1,
		Status: store.Completed, AnswerTime: &flowAnswer, EndTime: &flowEnd, Duration: 60, ConversationDuration: 55,
		Digits: "1-2", CallType: "trans", CreatedAt: goldenCreated, UpdatedAt: flowEnd}
	envMust(e.t, e.db.Calls().Create(ctx, flowed))
	envMust(e.t, e.db.Legs().Create(ctx, &store.Leg{ID: "lg_000000000000000000000004", CallSID: envGoldenFlowed,
		AccountSID: envAccount, Seq: 1, UUID: "g-4", Direction: store.LegOutbound, From: envExoPhone,
		To: "+919800000005", Status: store.Completed, AnswerTime: &flowAnswer, EndTime: &flowEnd, Duration: 60,
		TalkTime: 55, CreatedAt: goldenCreated, UpdatedAt: flowEnd}))
}

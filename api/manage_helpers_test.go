package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// mgSigningKey signs pre-signed URLs in these tests.
var mgSigningKey = []byte("management-tests-signing-key-0123456789")

// testRateLimit is the request and failed-authentication budget (per
// minute) of the test servers: far above what a test sends.
const testRateLimit = 100_000

// mgTenant is an account with an API key.
type mgTenant struct {
	SID, Key, Token string
}

// mgEnv is the real API server over a fresh SQLite store with two
// accounts: A (acme) and B (globex).
type mgEnv struct {
	t   *testing.T
	db  *store.DB
	api *api.Server
	srv *httptest.Server
	A   mgTenant
	B   mgTenant
}

func newMgEnv(t *testing.T, opts ...func(*api.Options)) *mgEnv {
	t.Helper()
	db := storetest.NewDB(t)
	e := &mgEnv{t: t, db: db, A: mgAccount(t, db, "acme"), B: mgAccount(t, db, "globex")}
	// Limits well above what any test sends; the rate-limit tests set
	// their own.
	o := api.Options{Store: db, Database: db, SigningKey: mgSigningKey, Version: "test",
		RateLimit: testRateLimit, AuthFailureLimit: testRateLimit}
	for _, f := range opts {
		f(&o)
	}
	e.api = api.New(o)
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func mgAccount(t *testing.T, db *store.DB, sid string) mgTenant {
	t.Helper()
	ctx := context.Background()
	if _, _, err := db.Accounts().CreateWithSID(ctx, sid, strings.ToUpper(sid)); err != nil {
		t.Fatalf("create account %s: %v", sid, err)
	}
	k, tok, err := db.Accounts().CreateAPIKey(ctx, sid, "tests")
	if err != nil {
		t.Fatalf("create key for %s: %v", sid, err)
	}
	return mgTenant{SID: sid, Key: k.Key, Token: tok}
}

// mgReq describes one request. Body is sent as is when it is a string or
// []byte, JSON-encoded otherwise; ContentType defaults to
// application/json when there is a body.
type mgReq struct {
	Method, Path string
	Body         any
	ContentType  string
	As           *mgTenant // credentials; nil is tenant A
	NoAuth       bool
	Header       http.Header
}

// mgResp is a response with its body read and, when JSON, decoded.
type mgResp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

func (e *mgEnv) do(r mgReq) mgResp {
	e.t.Helper()
	var body io.Reader
	if r.Body != nil {
		switch b := r.Body.(type) {
		case string:
			body = strings.NewReader(b)
		case []byte:
			body = bytes.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				e.t.Fatalf("marshal body: %v", err)
			}
			body = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(r.Method, e.srv.URL+r.Path, body)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", r.Method, r.Path, err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if !r.NoAuth {
		who := &e.A
		if r.As != nil {
			who = r.As
		}
		req.SetBasicAuth(who.Key, who.Token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.Method, r.Path, err)
	}
	out := mgResp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			e.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", r.Method, r.Path, err, raw)
		}
	}
	return out
}

// must is do, failing the test unless the status is want.
func (e *mgEnv) must(want int, r mgReq) mgResp {
	e.t.Helper()
	res := e.do(r)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", r.Method, r.Path, res.Status, want, res.Raw)
	}
	return res
}

// dig walks a decoded JSON value by object keys and array indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func digStr(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

// checkFailure asserts the v2/v3 failure envelope.
func checkFailure(t *testing.T, what string, res mgResp, status int) {
	t.Helper()
	if res.Status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, res.Status, status, res.Raw)
		return
	}
	if dig(res.JSON, "http_code") != float64(status) || digStr(res.JSON, "response", "status") != "failure" ||
		dig(res.JSON, "response", "code") != float64(status) {
		t.Errorf("%s: not a failure envelope: %s", what, res.Raw)
	}
	if code, _ := dig(res.JSON, "response", "error_data", "code").(float64); code == 0 ||
		digStr(res.JSON, "response", "error_data", "description") == "" {
		t.Errorf("%s: error_data lacks code or description: %s", what, res.Raw)
	}
}

// snapshot is every management-relevant row of the database, for "nothing
// changed" checks.
func (e *mgEnv) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, table := range []string{"flows", "flow_versions", "exophones", "recordings", "callbacks", "callback_attempts", "calls", "api_keys", "accounts"} {
		var rows []map[string]any
		if err := e.db.Gorm().Table(table).Order("1").Find(&rows).Error; err != nil {
			e.t.Fatalf("snapshot %s: %v", table, err)
		}
		raw, err := json.Marshal(rows)
		if err != nil {
			e.t.Fatalf("snapshot %s: %v", table, err)
		}
		b.WriteString(table)
		b.WriteString(": ")
		b.Write(raw)
		b.WriteString("\n")
	}
	return b.String()
}

// Flow documents.
const (
	mgValidDoc = `{"start":"hello","applets":{
		"hello":{"type":"greeting","config":{"prompt":{"text":"Hello"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`
	mgOtherDoc = `{"start":"bye","applets":{"bye":{"type":"hangup"}}}`
	// mgWarnDoc is valid with a warning: an unreachable applet.
	mgWarnDoc = `{"start":"bye","applets":{"bye":{"type":"hangup"},"orphan":{"type":"hangup"}}}`
	// mgBadDoc has two errors: a dangling start and an unknown type.
	mgBadDoc = `{"start":"nowhere","applets":{"a":{"type":"fax"}}}`
)

// flowBody is a POST /flows body.
func flowBody(name, doc string) map[string]any {
	return map[string]any{"name": name, "document": json.RawMessage(doc)}
}

// createFlow creates a flow of tenant A through the API and returns its id.
func (e *mgEnv) createFlow(name, doc string, publish bool) string {
	e.t.Helper()
	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/" + e.A.SID + "/flows", Body: flowBody(name, doc)})
	id := digStr(res.JSON, "response", "flow", "id")
	if publish {
		e.must(http.StatusOK, mgReq{Method: "POST", Path: "/v2/accounts/" + e.A.SID + "/flows/" + id + "/publish"})
	}
	return id
}

// seedFlow makes a published flow directly in the store, for any account.
func (e *mgEnv) seedFlow(account, doc string) string {
	e.t.Helper()
	ctx := context.Background()
	f, err := e.db.Flows().Create(ctx, account, "seeded", []byte(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Flows().Publish(ctx, account, f.ID); err != nil {
		e.t.Fatal(err)
	}
	return f.ID
}

// seedCall makes a call of account.
func (e *mgEnv) seedCall(account string) string {
	e.t.Helper()
	c := &store.Call{AccountSID: account, Direction: store.DirectionOutboundAPI, From: "+15550100001", To: "+15550100002"}
	if err := e.db.Calls().Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c.SID
}

package console_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// sendJSON sends a JSON request as the builder's script does: the
// session's cookie, its CSRF token in a header, from the console's own
// origin.
func (b *browser) sendJSON(method, path, token, body string) page {
	b.e.t.Helper()
	h := http.Header{"Origin": {b.e.srv.URL}, "Accept": {"application/json"}}
	if token != "" {
		h.Set("X-CSRF-Token", token)
	}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return b.doBody(method, path, body, h)
}

var bootAttr = regexp.MustCompile(`data-boot="([^"]*)"`)

// builderBoot reads what the builder's script starts from.
func builderBoot(t *testing.T, p page) (boot struct {
	Flow struct {
		ID       string          `json:"id"`
		Document json.RawMessage `json:"document"`
	} `json:"flow"`
	Schemas []struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	} `json:"schemas"`
	API   string `json:"api"`
	Tests string `json:"tests"`
	CSRF  string `json:"csrf"`
}) {
	t.Helper()
	m := bootAttr.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no builder data in the page:\n%s", p.Body)
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &boot); err != nil {
		t.Fatalf("the builder's data: %v", err)
	}
	return boot
}

const twoApplets = `{"document": {"start": "welcome", "applets": {
	"welcome": {"type": "greeting", "config": {"prompt": {"text": "Hello"}}, "outputs": {"next": "message"}},
	"message": {"type": "voicemail", "config": {"max_length": 30}}},
	"layout": {"welcome": {"x": 40, "y": 40}, "message": {"x": 300, "y": 40}}}}`

// TestFlowBuilderThroughTheConsole: a flow made on the flows page, its
// draft saved, validated and published, an ExoPhone assigned, through
// the console's bridge to the management API; what a session without
// its CSRF token, another origin or another account's flow gets.
func TestFlowBuilderThroughTheConsole(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn()
	list := b.get("/console/flows")
	made := b.post("/console/flows", url.Values{"name": {"Console line"}, "csrf": {csrf(t, list)}})
	if made.Status != http.StatusSeeOther || !strings.HasPrefix(made.Header.Get("Location"), "/console/flows/") {
		t.Fatalf("new flow: %d %s", made.Status, made.Header.Get("Location"))
	}
	builder := b.get(made.Header.Get("Location"))
	if builder.Status != http.StatusOK {
		t.Fatalf("the builder: %d\n%s", builder.Status, builder.Body)
	}
	checkHeaders(t, "the builder", builder)
	boot := builderBoot(t, builder)
	id := boot.Flow.ID
	if len(boot.Schemas) != 12 || boot.API != "/console/api/" || boot.CSRF == "" || boot.Tests != "" {
		t.Fatalf("the builder's data: %d schemas, api %q, tests %q", len(boot.Schemas), boot.API, boot.Tests)
	}
	if !strings.Contains(string(boot.Flow.Document), `"welcome"`) {
		t.Errorf("a new flow's draft: %s", boot.Flow.Document)
	}
	if p := b.post("/console/flows", url.Values{"name": {"  "}, "csrf": {boot.CSRF}}); p.Status != http.StatusBadRequest {
		t.Errorf("a flow without a name: %d", p.Status)
	}

	// Saved through the bridge: the API's own answer.
	saved := b.sendJSON("PUT", "/console/api/flows/"+id, boot.CSRF, twoApplets)
	if saved.Status != http.StatusOK || !strings.Contains(saved.Body, `"status":"success"`) {
		t.Fatalf("save the draft: %d %s", saved.Status, saved.Body)
	}
	f, err := e.db.Flows().Get(context.Background(), "demo", id)
	if err != nil || !strings.Contains(f.Draft, `"message"`) || !strings.Contains(f.Draft, `"layout"`) {
		t.Fatalf("the stored draft: %v %+v", err, f)
	}

	// Refused without the token, from another origin, or invalid: the
	// draft stays.
	refused := []struct {
		what string
		p    page
		want int
	}{
		{"no CSRF token", b.sendJSON("PUT", "/console/api/flows/"+id, "", `{"name": "x"}`), http.StatusForbidden},
		{"another origin", b.doBody("PUT", "/console/api/flows/"+id, `{"name": "x"}`, http.Header{
			"Origin": {"https://evil.example"}, "X-CSRF-Token": {boot.CSRF}, "Content-Type": {"application/json"}}), http.StatusForbidden},
		{"an invalid document", b.sendJSON("PUT", "/console/api/flows/"+id, boot.CSRF,
			`{"document": {"start": "welcome", "applets": {"welcome": {"type": "greeting", "outputs": {"next": "nowhere"}}}}}`), http.StatusBadRequest},
		{"a route the console does not use", b.sendJSON("GET", "/console/api/users", boot.CSRF, ""), http.StatusNotFound},
		{"another account's path", b.sendJSON("GET", "/console/api/..%2F..%2Fglobex%2Fflows", boot.CSRF, ""), http.StatusNotFound},
		{"a way out of the account", b.sendJSON("GET", "/console/api/flows/..%2F..%2Fglobex%2Fflows", boot.CSRF, ""), http.StatusNotFound},
	}
	for _, r := range refused {
		if r.p.Status != r.want {
			t.Errorf("%s: %d, want %d\n%s", r.what, r.p.Status, r.want, r.p.Body)
		}
	}
	if !strings.Contains(refused[2].p.Body, `"applet":"welcome"`) {
		t.Errorf("an invalid document's problems do not name their applet: %s", refused[2].p.Body)
	}
	if after, _ := e.db.Flows().Get(context.Background(), "demo", id); after.Draft != f.Draft || after.Name != "Console line" {
		t.Errorf("a refused request changed the flow: %+v", after)
	}

	// Validated (nothing stored), published, assigned.
	v := b.sendJSON("POST", "/console/api/flows/"+id+"/validate", boot.CSRF,
		`{"document": {"start": "gone", "applets": {"a": {"type": "hangup"}}}}`)
	if v.Status != http.StatusOK || !strings.Contains(v.Body, `"valid":false`) {
		t.Errorf("validate: %d %s", v.Status, v.Body)
	}
	pub := b.sendJSON("POST", "/console/api/flows/"+id+"/publish", boot.CSRF, "")
	if pub.Status != http.StatusOK || !strings.Contains(pub.Body, `"version":1`) {
		t.Fatalf("publish: %d %s", pub.Status, pub.Body)
	}
	phone := freePhone(t, e)
	as := b.sendJSON("PUT", "/console/api/exophones/"+url.PathEscape(phone), boot.CSRF, `{"flow_id": "`+id+`"}`)
	if as.Status != http.StatusOK {
		t.Fatalf("assign %s: %d %s", phone, as.Status, as.Body)
	}
	if p, _ := e.db.Numbers().Get(context.Background(), "demo", phone); p == nil || p.FlowID == nil || *p.FlowID != id {
		t.Errorf("ExoPhone %s after assigning: %+v", phone, p)
	}

	// The published version against nothing and against a changed draft.
	diff := b.get("/console/flows/" + id + "/diff?from=none&to=1")
	if diff.Status != http.StatusOK || strings.Count(diff.Body, `class="ch-added"`) != 2 {
		t.Errorf("the changes of version 1: %d\n%s", diff.Status, diff.Body)
	}
	b.sendJSON("PUT", "/console/api/flows/"+id, boot.CSRF, strings.Replace(twoApplets, `"max_length": 30`, `"max_length": 60`, 1))
	diff = b.get("/console/flows/" + id + "/diff")
	if !strings.Contains(diff.Body, "config.max_length") || !strings.Contains(diff.Body, ">30<") || !strings.Contains(diff.Body, ">60<") {
		t.Errorf("the live version against the draft:\n%s", diff.Body)
	}
	if p := b.get("/console/flows/" + id + "/diff?from=9"); p.Status != http.StatusNotFound {
		t.Errorf("a version that does not exist: %d", p.Status)
	}

	// Another account's flow is not there; nor are test calls on a
	// server without a node.
	other, err := e.db.Flows().Create(context.Background(), "globex", "Theirs", []byte(`{"start":"a","applets":{"a":{"type":"hangup"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console/flows/" + other.ID, "/console/flows/" + other.ID + "/diff"} {
		if p := b.get(path); p.Status != http.StatusNotFound {
			t.Errorf("%s: %d", path, p.Status)
		}
	}
	if p := b.sendJSON("PUT", "/console/api/flows/"+other.ID, boot.CSRF, `{"name": "mine"}`); p.Status != http.StatusNotFound {
		t.Errorf("renaming another account's flow: %d %s", p.Status, p.Body)
	}
	if p := b.sendJSON("POST", "/console/flows/"+id+"/tests", boot.CSRF, `{"to": "`+phone+`"}`); p.Status != http.StatusNotImplemented {
		t.Errorf("a test call without a node: %d %s", p.Status, p.Body)
	}
}

// freePhone is one of the demo account's ExoPhones, made free of its
// flow.
func freePhone(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	p, err := e.db.Numbers().Create(ctx, "demo", "+15550000177", "Builder tests")
	if err != nil {
		t.Fatal(err)
	}
	return p.Number
}

// TestBuilderTestCalls: a test call goes to the flow's ExoPhone, and its
// applet path is read from the call's final record once written.
func TestBuilderTestCalls(t *testing.T) {
	var e *env
	calls := make(chan console.TestCall, 1)
	var sid string
	e = newEnv(t, func(o *api.Options) {
		o.TestCall = func(ctx context.Context, tc console.TestCall) (console.TestResult, error) {
			calls <- tc
			return console.TestResult{CallSid: sid, Answered: true, Cause: "NORMAL_CLEARING", Apps: []string{"speak Hello", "record"}}, nil
		}
	})
	ctx := context.Background()
	b := e.signedIn()
	f, err := e.db.Flows().Create(ctx, "demo", "Tested", []byte(strings.TrimSuffix(strings.TrimPrefix(twoApplets, `{"document": `), "}")))
	if err != nil {
		t.Fatal(err)
	}
	boot := builderBoot(t, b.get("/console/flows/"+f.ID))
	if boot.Tests != "/console/flows/"+f.ID+"/tests" {
		t.Fatalf("tests at %q", boot.Tests)
	}
	phone := freePhone(t, e)
	start := func(body string) page { return b.sendJSON("POST", boot.Tests, boot.CSRF, body) }
	if p := start(`{"to": "` + phone + `"}`); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "publish") {
		t.Errorf("an unpublished flow: %d %s", p.Status, p.Body)
	}
	if _, err := e.db.Flows().Publish(ctx, "demo", f.ID); err != nil {
		t.Fatal(err)
	}
	if p := start(`{"to": "` + phone + `"}`); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "assign") {
		t.Errorf("an ExoPhone of another flow: %d %s", p.Status, p.Body)
	}
	if err := e.db.Numbers().AssignFlow(ctx, "demo", phone, &f.ID); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"to": "` + phone + `", "from": "bob"}`, `{"to": "` + phone + `", "digits": "1;2"}`, `[`} {
		if p := start(bad); p.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, p.Status, p.Body)
		}
	}

	// The call the fake node "placed", finished with its path.
	c := e.seedCall("demo", "+15550109999", false)
	sid = c.SID
	p := start(`{"to": "` + phone + `", "digits": "1,,2"}`)
	if p.Status != http.StatusAccepted {
		t.Fatalf("a test call: %d %s", p.Status, p.Body)
	}
	var run struct {
		ID, State string
		Path      []store.AppletStep
	}
	if err := json.Unmarshal([]byte(p.Body), &run); err != nil {
		t.Fatal(err)
	}
	tc := <-calls
	if tc.To != phone || tc.From != "+15550109999" || strings.Join(tc.Digits, "|") != "1||2" {
		t.Errorf("the test call placed: %+v", tc)
	}
	type testState struct {
		State   string             `json:"state"`
		CallSid string             `json:"call_sid"`
		CallURL string             `json:"call_url"`
		Path    []store.AppletStep `json:"path"`
	}
	status := func() (out testState) {
		t.Helper()
		q := b.get(boot.Tests + "/" + run.ID)
		if q.Status != http.StatusOK {
			t.Fatalf("the test call's status: %d %s", q.Status, q.Body)
		}
		if err := json.Unmarshal([]byte(q.Body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// The fake call has ended; until its final record is written, the
	// test is finishing.
	e.logs.waitFor(t, "console: test call ended", "test", run.ID)
	s := status()
	if s.State != "finishing" || s.CallSid != sid {
		t.Fatalf("before the final record: %+v", s)
	}
	at := time.Now().UTC().Truncate(time.Second)
	path := store.AppletPath{{Flow: f.ID, Applet: "welcome", Type: "greeting", At: at}, {Flow: f.ID, Applet: "message", Type: "voicemail", At: at}}
	if _, err := e.db.Calls().Finish(ctx, sid, store.CallFinal{Status: store.Completed, AppletPath: path}); err != nil {
		t.Fatal(err)
	}
	s = status()
	if s.State != "done" || s.CallURL != "/console/calls/"+sid || len(s.Path) != 2 || s.Path[1].Applet != "message" {
		t.Errorf("after the final record: %+v", s)
	}

	// Another account's session cannot read it.
	other := e.browser()
	if p := other.login(e.otherKey, e.otherToken); p.Status != http.StatusSeeOther {
		t.Fatal(p.Status)
	}
	if p := other.get(boot.Tests + "/" + run.ID); p.Status != http.StatusNotFound {
		t.Errorf("another account reading the test: %d", p.Status)
	}
}

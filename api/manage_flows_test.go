package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/store"
)

func TestManageFlowLifecycle(t *testing.T) {
	e := newMgEnv(t)
	base := "/v2/accounts/" + e.A.SID + "/flows"

	// Create: 201, the flow with its document and Exotel URL, warnings.
	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: base, Body: flowBody("  Support  ", mgWarnDoc)})
	flow := dig(res.JSON, "response", "flow")
	id := digStr(flow, "id")
	if !strings.HasPrefix(id, "fl_") {
		t.Fatalf("flow id %q", id)
	}
	if digStr(res.JSON, "response", "status") != "success" || dig(res.JSON, "response", "error_data") != nil ||
		dig(res.JSON, "response", "code") != float64(201) || dig(res.JSON, "http_code") != float64(201) ||
		digStr(res.JSON, "method") != "POST" || len(digStr(res.JSON, "request_id")) != 32 {
		t.Errorf("envelope: %s", res.Raw)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if got, want := digStr(flow, "flow_url"), "http://"+host+"/acme/exoml/start_voice/"+id; got != want {
		t.Errorf("flow_url %q, want %q", got, want)
	}
	if digStr(flow, "name") != "Support" || dig(flow, "published") != false || dig(flow, "live_version") != nil ||
		digStr(flow, "uri") != base+"/"+id || digStr(flow, "account_sid") != "acme" {
		t.Errorf("flow: %s", res.Raw)
	}
	if digStr(flow, "document", "start") != "bye" {
		t.Errorf("document not returned: %s", res.Raw)
	}
	if res.Header.Get("Location") != base+"/"+id {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	if digStr(res.JSON, "response", "warnings", 0, "applet") != "orphan" ||
		digStr(res.JSON, "response", "warnings", 0, "severity") != "warning" {
		t.Errorf("warnings: %s", res.Raw)
	}

	// Get and list.
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + id})
	if digStr(res.JSON, "response", "flow", "id") != id || digStr(res.JSON, "response", "flow", "document", "start") != "bye" {
		t.Errorf("get: %s", res.Raw)
	}
	second := e.createFlow("Second", mgValidDoc, false)
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base})
	if md := dig(res.JSON, "metadata"); dig(md, "count") != float64(2) || dig(md, "total") != float64(2) ||
		dig(md, "offset") != float64(0) || dig(md, "limit") != float64(20) {
		t.Errorf("list metadata: %s", res.Raw)
	}
	if digStr(res.JSON, "response", 0, "data", "id") != id || digStr(res.JSON, "response", 1, "data", "id") != second ||
		digStr(res.JSON, "response", 0, "status") != "success" || dig(res.JSON, "response", 0, "data", "document") != nil {
		t.Errorf("list items: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "?offset=1&limit=1"})
	if md := dig(res.JSON, "metadata"); dig(md, "count") != float64(1) || dig(md, "total") != float64(2) ||
		dig(md, "offset") != float64(1) || dig(md, "limit") != float64(1) || digStr(res.JSON, "response", 0, "data", "id") != second {
		t.Errorf("list page: %s", res.Raw)
	}

	// Update: name only, then document only.
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + id, Body: map[string]any{"name": "Support line"}})
	if digStr(res.JSON, "response", "flow", "name") != "Support line" || digStr(res.JSON, "response", "flow", "document", "start") != "bye" {
		t.Errorf("rename: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + id, Body: map[string]any{"document": json.RawMessage(mgValidDoc)}})
	if digStr(res.JSON, "response", "flow", "name") != "Support line" || digStr(res.JSON, "response", "flow", "document", "start") != "hello" {
		t.Errorf("update document: %s", res.Raw)
	}
	if w := dig(res.JSON, "response", "warnings").([]any); len(w) != 0 {
		t.Errorf("warnings for a clean document: %v", w)
	}

	// Validate: the stored draft, then a document in the body (not stored).
	res = e.must(http.StatusOK, mgReq{Method: "POST", Path: base + "/" + id + "/validate"})
	if v := dig(res.JSON, "response", "validation"); dig(v, "valid") != true || digStr(v, "source") != "draft" {
		t.Errorf("validate draft: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "POST", Path: base + "/" + id + "/validate", Body: `{}`})
	if digStr(res.JSON, "response", "validation", "source") != "draft" {
		t.Errorf("validate with an empty object: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "POST", Path: base + "/" + id + "/validate",
		Body: map[string]any{"document": json.RawMessage(mgBadDoc)}})
	v := dig(res.JSON, "response", "validation")
	if dig(v, "valid") != false || digStr(v, "source") != "body" || len(dig(v, "errors").([]any)) < 2 {
		t.Errorf("validate body: %s", res.Raw)
	}
	if !problemAt(dig(v, "errors"), "a", "type") {
		t.Errorf("validate body: no problem for applet a field type: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + id})
	if digStr(res.JSON, "response", "flow", "document", "start") != "hello" {
		t.Errorf("validate stored the body's document: %s", res.Raw)
	}

	// Publish twice: versions 1 and 2; the second is live.
	res = e.must(http.StatusOK, mgReq{Method: "POST", Path: base + "/" + id + "/publish"})
	if fv := dig(res.JSON, "response", "flow_version"); dig(fv, "version") != float64(1) || dig(fv, "live") != true ||
		digStr(fv, "document", "start") != "hello" {
		t.Errorf("publish: %s", res.Raw)
	}
	if dig(res.JSON, "response", "flow", "live_version") != float64(1) || dig(res.JSON, "response", "flow", "published") != true {
		t.Errorf("publish flow: %s", res.Raw)
	}
	e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + id, Body: map[string]any{"document": json.RawMessage(mgOtherDoc)}})
	e.must(http.StatusOK, mgReq{Method: "POST", Path: base + "/" + id + "/publish"})
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + id + "/versions"})
	if dig(res.JSON, "metadata", "total") != float64(2) || dig(res.JSON, "response", 0, "data", "version") != float64(1) ||
		dig(res.JSON, "response", 0, "data", "live") != false || dig(res.JSON, "response", 1, "data", "live") != true ||
		dig(res.JSON, "response", 0, "data", "document") != nil {
		t.Errorf("versions: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + id + "/versions/1"})
	if fv := dig(res.JSON, "response", "flow_version"); dig(fv, "version") != float64(1) || digStr(fv, "document", "start") != "hello" ||
		digStr(fv, "uri") != base+"/"+id+"/versions/1" {
		t.Errorf("version 1: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + id + "/versions/2"})
	if digStr(res.JSON, "response", "flow_version", "document", "start") != "bye" {
		t.Errorf("version 2: %s", res.Raw)
	}

	// Duplicate: a new unpublished flow with the draft.
	res = e.must(http.StatusCreated, mgReq{Method: "POST", Path: base + "/" + id + "/duplicate", Body: map[string]any{"name": "Copy"}})
	dup := dig(res.JSON, "response", "flow")
	if digStr(dup, "id") == id || digStr(dup, "name") != "Copy" || dig(dup, "published") != false || digStr(dup, "document", "start") != "bye" {
		t.Errorf("duplicate: %s", res.Raw)
	}

	// Delete: refused while an ExoPhone points at the flow.
	e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/acme/exophones",
		Body: map[string]any{"number": "+15550000100", "flow_id": id}})
	before := e.snapshot()
	checkFailure(t, "delete assigned", e.do(mgReq{Method: "DELETE", Path: base + "/" + id}), http.StatusConflict)
	if e.snapshot() != before {
		t.Error("refused delete changed the database")
	}
	e.must(http.StatusOK, mgReq{Method: "PUT", Path: "/v2/accounts/acme/exophones/%2B15550000100", Body: `{"flow_id":null}`})
	res = e.must(http.StatusOK, mgReq{Method: "DELETE", Path: base + "/" + id})
	if digStr(res.JSON, "response", "flow", "id") != id || dig(res.JSON, "response", "flow", "deleted") != true {
		t.Errorf("delete: %s", res.Raw)
	}
	checkFailure(t, "get deleted", e.do(mgReq{Method: "GET", Path: base + "/" + id}), http.StatusNotFound)
	checkFailure(t, "versions of deleted", e.do(mgReq{Method: "GET", Path: base + "/" + id + "/versions"}), http.StatusNotFound)
}

// problemAt reports whether a list of problems has one about applet and field.
func problemAt(list any, applet, field string) bool {
	items, _ := list.([]any)
	for _, p := range items {
		if digStr(p, "applet") == applet && digStr(p, "field") == field && digStr(p, "message") != "" {
			return true
		}
	}
	return false
}

func TestManageFlowCreateInvalidListsEveryProblem(t *testing.T) {
	e := newMgEnv(t)
	before := e.snapshot()
	res := e.do(mgReq{Method: "POST", Path: "/v2/accounts/acme/flows", Body: flowBody("Bad", mgBadDoc)})
	checkFailure(t, "invalid document", res, http.StatusBadRequest)
	problems := dig(res.JSON, "response", "error_data", "problems")
	if n := len(problems.([]any)); n < 2 {
		t.Errorf("%d problems, want every one: %s", n, res.Raw)
	}
	if !problemAt(problems, "a", "type") || !problemAt(problems, "", "start") {
		t.Errorf("problems lack applet/field: %s", res.Raw)
	}
	if e.snapshot() != before {
		t.Error("an invalid flow changed the database")
	}
}

func TestManageFlowTransferTargetWarnings(t *testing.T) {
	e := newMgEnv(t)
	unpublished := e.createFlow("Target", mgValidDoc, false)
	foreign := e.seedFlow(e.B.SID, mgValidDoc)
	doc := `{"start":"t1","applets":{
		"t1":{"type":"ivr","config":{"prompt":{"text":"1 or 2"}},"outputs":{"1":"t2","2":"t3"}},
		"t2":{"type":"transfer","config":{"flow":"` + unpublished + `"}},
		"t3":{"type":"transfer","config":{"flow":"` + foreign + `"}}}}`
	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/acme/flows", Body: flowBody("Transfers", doc)})
	w := dig(res.JSON, "response", "warnings")
	if !problemAt(w, "t2", "config.flow") || !problemAt(w, "t3", "config.flow") {
		t.Fatalf("transfer warnings missing: %s", res.Raw)
	}
	if !strings.Contains(digStr(w, 1, "message"), "does not exist") {
		t.Errorf("another account's flow must look nonexistent: %s", res.Raw)
	}
}

func TestManageFlowPublishRefusesInvalidDraft(t *testing.T) {
	e := newMgEnv(t)
	// A draft stored before validation tightened (or by another tool).
	f, err := e.db.Flows().Create(context.Background(), "acme", "legacy", []byte(mgBadDoc))
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	res := e.do(mgReq{Method: "POST", Path: "/v2/accounts/acme/flows/" + f.ID + "/publish"})
	checkFailure(t, "publish invalid", res, http.StatusBadRequest)
	if !problemAt(dig(res.JSON, "response", "error_data", "problems"), "a", "type") {
		t.Errorf("problems: %s", res.Raw)
	}
	if e.snapshot() != before {
		t.Error("a refused publish changed the database")
	}
	res = e.must(http.StatusOK, mgReq{Method: "POST", Path: "/v2/accounts/acme/flows/" + f.ID + "/validate"})
	if dig(res.JSON, "response", "validation", "valid") != false {
		t.Errorf("validate stored invalid draft: %s", res.Raw)
	}
}

func TestManageFlowBadInput(t *testing.T) {
	e := newMgEnv(t, func(o *api.Options) { o.MaxBody = 16 << 10 })
	id := e.createFlow("Main", mgValidDoc, true)
	base := "/v2/accounts/acme/flows"
	huge := `{"name":"x","document":{"start":"a","applets":{},"description":"` + strings.Repeat("x", 20<<10) + `"}}`
	cases := []struct {
		name   string
		req    mgReq
		status int
	}{
		{"create malformed JSON", mgReq{Method: "POST", Path: base, Body: `{"name":`}, 400},
		{"create unknown field", mgReq{Method: "POST", Path: base, Body: `{"name":"x","document":{},"colour":"red"}`}, 400},
		{"create wrong content type", mgReq{Method: "POST", Path: base, Body: `{"name":"x"}`, ContentType: "text/plain"}, 415},
		{"create form body", mgReq{Method: "POST", Path: base, Body: "name=x", ContentType: "application/x-www-form-urlencoded"}, 415},
		{"create oversize", mgReq{Method: "POST", Path: base, Body: huge}, 413},
		{"create empty body", mgReq{Method: "POST", Path: base, Body: ""}, 400},
		{"create trailing data", mgReq{Method: "POST", Path: base, Body: `{"name":"x","document":` + mgValidDoc + `} {}`}, 400},
		{"create no name", mgReq{Method: "POST", Path: base, Body: map[string]any{"document": json.RawMessage(mgValidDoc)}}, 400},
		{"create blank name", mgReq{Method: "POST", Path: base, Body: flowBody("   ", mgValidDoc)}, 400},
		{"create long name", mgReq{Method: "POST", Path: base, Body: flowBody(strings.Repeat("n", 201), mgValidDoc)}, 400},
		{"create name not a string", mgReq{Method: "POST", Path: base, Body: `{"name":7,"document":{}}`}, 400},
		{"create no document", mgReq{Method: "POST", Path: base, Body: `{"name":"x"}`}, 400},
		{"create null document", mgReq{Method: "POST", Path: base, Body: `{"name":"x","document":null}`}, 400},
		{"create document not an object", mgReq{Method: "POST", Path: base, Body: `{"name":"x","document":[1,2]}`}, 400},
		{"create invalid document", mgReq{Method: "POST", Path: base, Body: flowBody("x", mgBadDoc)}, 400},
		{"update nothing", mgReq{Method: "PUT", Path: base + "/" + id, Body: `{}`}, 400},
		{"update invalid document", mgReq{Method: "PUT", Path: base + "/" + id, Body: flowBody("ok", mgBadDoc)}, 400},
		{"update blank name", mgReq{Method: "PUT", Path: base + "/" + id, Body: `{"name":""}`}, 400},
		{"update unknown field", mgReq{Method: "PUT", Path: base + "/" + id, Body: `{"nome":"x"}`}, 400},
		{"update wrong content type", mgReq{Method: "PUT", Path: base + "/" + id, Body: `{"name":"x"}`, ContentType: "text/json"}, 415},
		{"update unknown flow", mgReq{Method: "PUT", Path: base + "/fl_000000000000000000000000", Body: `{"name":"x"}`}, 404},
		{"validate malformed body", mgReq{Method: "POST", Path: base + "/" + id + "/validate", Body: `{"document":`}, 400},
		{"validate unknown field", mgReq{Method: "POST", Path: base + "/" + id + "/validate", Body: `{"doc":{}}`}, 400},
		{"validate wrong content type", mgReq{Method: "POST", Path: base + "/" + id + "/validate", Body: `{}`, ContentType: "text/plain"}, 415},
		{"validate unknown flow", mgReq{Method: "POST", Path: base + "/nope/validate"}, 404},
		{"publish unknown flow", mgReq{Method: "POST", Path: base + "/nope/publish"}, 404},
		{"duplicate no name", mgReq{Method: "POST", Path: base + "/" + id + "/duplicate", Body: `{}`}, 400},
		{"duplicate no body", mgReq{Method: "POST", Path: base + "/" + id + "/duplicate"}, 400},
		{"duplicate unknown flow", mgReq{Method: "POST", Path: base + "/nope/duplicate", Body: `{"name":"x"}`}, 404},
		{"delete unknown flow", mgReq{Method: "DELETE", Path: base + "/nope"}, 404},
		{"get unknown flow", mgReq{Method: "GET", Path: base + "/nope"}, 404},
		{"version not a number", mgReq{Method: "GET", Path: base + "/" + id + "/versions/latest"}, 400},
		{"version zero", mgReq{Method: "GET", Path: base + "/" + id + "/versions/0"}, 400},
		{"version unknown", mgReq{Method: "GET", Path: base + "/" + id + "/versions/99"}, 404},
		{"versions of unknown flow", mgReq{Method: "GET", Path: base + "/nope/versions"}, 404},
		{"list bad offset", mgReq{Method: "GET", Path: base + "?offset=-1"}, 400},
		{"list bad limit", mgReq{Method: "GET", Path: base + "?limit=501"}, 400},
		{"list limit not a number", mgReq{Method: "GET", Path: base + "?limit=ten"}, 400},
		{"method not allowed", mgReq{Method: "PATCH", Path: base + "/" + id, Body: `{}`}, 405},
		{"no credentials", mgReq{Method: "POST", Path: base, Body: flowBody("x", mgValidDoc), NoAuth: true}, 401},
		{"wrong token", mgReq{Method: "POST", Path: base, Body: flowBody("x", mgValidDoc), As: &mgTenant{Key: e.A.Key, Token: "nope"}}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			res := e.do(tc.req)
			checkFailure(t, tc.name, res, tc.status)
			if e.snapshot() != before {
				t.Errorf("%s changed the database", tc.name)
			}
		})
	}
}

func TestManageFlowIDsOfAnotherAccount(t *testing.T) {
	e := newMgEnv(t)
	theirs := e.seedFlow(e.B.SID, mgValidDoc)
	mine := e.createFlow("Mine", mgValidDoc, true)
	base := "/v2/accounts/acme/flows/"
	// Own credentials, another account's flow: 404, never their data.
	for _, r := range []mgReq{
		{Method: "GET", Path: base + theirs},
		{Method: "PUT", Path: base + theirs, Body: `{"name":"stolen"}`},
		{Method: "DELETE", Path: base + theirs},
		{Method: "POST", Path: base + theirs + "/validate"},
		{Method: "POST", Path: base + theirs + "/publish"},
		{Method: "POST", Path: base + theirs + "/duplicate", Body: `{"name":"copy"}`},
		{Method: "GET", Path: base + theirs + "/versions"},
		{Method: "GET", Path: base + theirs + "/versions/1"},
	} {
		before := e.snapshot()
		res := e.do(r)
		checkFailure(t, r.Method+" "+r.Path, res, http.StatusNotFound)
		if strings.Contains(string(res.Raw), "hello") {
			t.Errorf("%s %s leaked the document: %s", r.Method, r.Path, res.Raw)
		}
		if e.snapshot() != before {
			t.Errorf("%s %s changed the database", r.Method, r.Path)
		}
	}
	// Another account's credentials on my account: 403.
	for _, r := range []mgReq{
		{Method: "GET", Path: "/v2/accounts/acme/flows"},
		{Method: "POST", Path: "/v2/accounts/acme/flows", Body: flowBody("x", mgValidDoc)},
		{Method: "GET", Path: base + mine},
		{Method: "PUT", Path: base + mine, Body: `{"name":"x"}`},
		{Method: "DELETE", Path: base + mine},
		{Method: "POST", Path: base + mine + "/publish"},
		{Method: "POST", Path: base + mine + "/validate"},
		{Method: "POST", Path: base + mine + "/duplicate", Body: `{"name":"x"}`},
		{Method: "GET", Path: base + mine + "/versions"},
		{Method: "GET", Path: base + mine + "/versions/1"},
	} {
		r.As = &e.B
		before := e.snapshot()
		checkFailure(t, "B on "+r.Method+" "+r.Path, e.do(r), http.StatusForbidden)
		if e.snapshot() != before {
			t.Errorf("B's %s %s changed the database", r.Method, r.Path)
		}
	}
	// The store really holds B's flow untouched.
	f, err := e.db.Flows().Get(context.Background(), e.B.SID, theirs)
	if err != nil || f.Name != "seeded" {
		t.Errorf("B's flow: %+v, %v", f, err)
	}
	if _, err := e.db.Flows().Get(context.Background(), e.A.SID, theirs); err == nil || !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
		t.Errorf("A sees B's flow: %v", err)
	}
}

package api_test

import (
	"context"
	"net/http"
	"testing"
)

func TestManageExoPhones(t *testing.T) {
	e := newMgEnv(t)
	base := "/v2/accounts/acme/exophones"
	flow := e.createFlow("Main", mgValidDoc, true)

	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: base,
		Body: map[string]any{"number": "+15550000100", "friendly_name": "Support", "flow_id": flow}})
	p := dig(res.JSON, "response", "exophone")
	if digStr(p, "number") != "+15550000100" || digStr(p, "friendly_name") != "Support" || digStr(p, "flow_id") != flow ||
		digStr(p, "flow_url") != e.srv.URL+"/acme/exoml/start_voice/"+flow || digStr(p, "uri") != base+"/%2B15550000100" {
		t.Errorf("create: %s", res.Raw)
	}
	if res.Header.Get("Location") != base+"/%2B15550000100" {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	res = e.must(http.StatusCreated, mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000050"}`})
	if dig(res.JSON, "response", "exophone", "flow_id") != nil || dig(res.JSON, "response", "exophone", "flow_url") != nil {
		t.Errorf("create without flow: %s", res.Raw)
	}

	// The number in the path: %2B-escaped, a literal +, or bare digits.
	for _, path := range []string{base + "/%2B15550000100", base + "/+15550000100", base + "/15550000100"} {
		res = e.must(http.StatusOK, mgReq{Method: "GET", Path: path})
		if digStr(res.JSON, "response", "exophone", "number") != "+15550000100" {
			t.Errorf("GET %s: %s", path, res.Raw)
		}
	}

	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base})
	if dig(res.JSON, "metadata", "total") != float64(2) || digStr(res.JSON, "response", 0, "data", "number") != "+15550000050" ||
		digStr(res.JSON, "response", 1, "data", "number") != "+15550000100" {
		t.Errorf("list: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "?offset=5"})
	if dig(res.JSON, "metadata", "count") != float64(0) || len(dig(res.JSON, "response").([]any)) != 0 {
		t.Errorf("list past the end: %s", res.Raw)
	}

	// Unassign, assign again.
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/15550000100", Body: `{"flow_id":null}`})
	if dig(res.JSON, "response", "exophone", "flow_id") != nil {
		t.Errorf("unassign: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/%2B15550000050", Body: map[string]any{"flow_id": flow}})
	if digStr(res.JSON, "response", "exophone", "flow_id") != flow {
		t.Errorf("assign: %s", res.Raw)
	}
	ph, err := e.db.Numbers().Get(context.Background(), "acme", "+15550000050")
	if err != nil || ph.FlowID == nil || *ph.FlowID != flow {
		t.Errorf("stored assignment: %+v %v", ph, err)
	}

	res = e.must(http.StatusOK, mgReq{Method: "DELETE", Path: base + "/%2B15550000100"})
	if digStr(res.JSON, "response", "exophone", "id") != "+15550000100" || dig(res.JSON, "response", "exophone", "deleted") != true {
		t.Errorf("delete: %s", res.Raw)
	}
	checkFailure(t, "get deleted", e.do(mgReq{Method: "GET", Path: base + "/%2B15550000100"}), http.StatusNotFound)
	res = e.do(mgReq{Method: "GET", Path: base + "/%2B15550000100"})
	if dig(res.JSON, "response", "error_data", "code") != float64(10716) {
		t.Errorf("unknown ExoPhone: want Exotel's code 10716: %s", res.Raw)
	}
}

func TestManageExoPhoneBadInput(t *testing.T) {
	e := newMgEnv(t)
	base := "/v2/accounts/acme/exophones"
	published := e.createFlow("Live", mgValidDoc, true)
	draft := e.createFlow("Draft", mgValidDoc, false)
	theirs := e.seedFlow(e.B.SID, mgValidDoc)
	e.must(http.StatusCreated, mgReq{Method: "POST", Path: base, Body: map[string]any{"number": "+15550000100", "flow_id": published}})
	e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/globex/exophones", As: &e.B, Body: `{"number":"+15550000900"}`})
	cases := []struct {
		name   string
		req    mgReq
		status int
	}{
		{"create malformed", mgReq{Method: "POST", Path: base, Body: `{"number":`}, 400},
		{"create unknown field", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000101","flow":"x"}`}, 400},
		{"create wrong content type", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000101"}`, ContentType: "text/plain"}, 415},
		{"create no number", mgReq{Method: "POST", Path: base, Body: `{"friendly_name":"x"}`}, 400},
		{"create not E.164", mgReq{Method: "POST", Path: base, Body: `{"number":"08047000000"}`}, 400},
		{"create letters", mgReq{Method: "POST", Path: base, Body: `{"number":"+1555CALLME"}`}, 400},
		{"create number not a string", mgReq{Method: "POST", Path: base, Body: `{"number":15550000101}`}, 400},
		{"create taken (mine)", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000100"}`}, 409},
		{"create taken (theirs)", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000900"}`}, 409},
		{"create unpublished flow", mgReq{Method: "POST", Path: base, Body: map[string]any{"number": "+15550000101", "flow_id": draft}}, 400},
		{"create unknown flow", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000101","flow_id":"fl_nope"}`}, 404},
		{"create their flow", mgReq{Method: "POST", Path: base, Body: map[string]any{"number": "+15550000101", "flow_id": theirs}}, 404},
		{"create empty flow id", mgReq{Method: "POST", Path: base, Body: `{"number":"+15550000101","flow_id":""}`}, 400},
		{"update no flow_id", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: `{}`}, 400},
		{"update flow_id not a string", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: `{"flow_id":12}`}, 400},
		{"update unpublished flow", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: map[string]any{"flow_id": draft}}, 400},
		{"update unknown flow", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: `{"flow_id":"fl_nope"}`}, 404},
		{"update their flow", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: map[string]any{"flow_id": theirs}}, 404},
		{"update unknown number", mgReq{Method: "PUT", Path: base + "/%2B15550000199", Body: `{"flow_id":null}`}, 404},
		{"update bad number", mgReq{Method: "PUT", Path: base + "/abc", Body: `{"flow_id":null}`}, 400},
		{"update wrong content type", mgReq{Method: "PUT", Path: base + "/%2B15550000100", Body: `{"flow_id":null}`, ContentType: "text/plain"}, 415},
		{"get bad number", mgReq{Method: "GET", Path: base + "/12"}, 400},
		{"delete unknown number", mgReq{Method: "DELETE", Path: base + "/15550000199"}, 404},
		{"delete bad number", mgReq{Method: "DELETE", Path: base + "/+0"}, 400},
		{"list bad limit", mgReq{Method: "GET", Path: base + "?limit=0"}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			checkFailure(t, tc.name, e.do(tc.req), tc.status)
			if e.snapshot() != before {
				t.Errorf("%s changed the database", tc.name)
			}
		})
	}
}

func TestManageExoPhonesOfAnotherAccount(t *testing.T) {
	e := newMgEnv(t)
	e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/globex/exophones", As: &e.B,
		Body: `{"number":"+15550000900","friendly_name":"Globex secret"}`})
	e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/acme/exophones", Body: `{"number":"+15550000100"}`})
	flow := e.createFlow("Mine", mgValidDoc, true)
	for _, r := range []mgReq{
		{Method: "GET", Path: "/v2/accounts/acme/exophones/%2B15550000900"},
		{Method: "PUT", Path: "/v2/accounts/acme/exophones/%2B15550000900", Body: map[string]any{"flow_id": flow}},
		{Method: "DELETE", Path: "/v2/accounts/acme/exophones/15550000900"},
	} {
		before := e.snapshot()
		res := e.do(r)
		checkFailure(t, r.Method+" "+r.Path, res, http.StatusNotFound)
		if e.snapshot() != before {
			t.Errorf("%s %s changed the database", r.Method, r.Path)
		}
	}
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/exophones"})
	if dig(res.JSON, "metadata", "total") != float64(1) {
		t.Errorf("A's list shows B's numbers: %s", res.Raw)
	}
	for _, r := range []mgReq{
		{Method: "GET", Path: "/v2/accounts/acme/exophones"},
		{Method: "POST", Path: "/v2/accounts/acme/exophones", Body: `{"number":"+15550000101"}`},
		{Method: "GET", Path: "/v2/accounts/acme/exophones/%2B15550000100"},
		{Method: "PUT", Path: "/v2/accounts/acme/exophones/%2B15550000100", Body: `{"flow_id":null}`},
		{Method: "DELETE", Path: "/v2/accounts/acme/exophones/%2B15550000100"},
	} {
		r.As = &e.B
		before := e.snapshot()
		checkFailure(t, "B on "+r.Method+" "+r.Path, e.do(r), http.StatusForbidden)
		if e.snapshot() != before {
			t.Errorf("B's %s %s changed the database", r.Method, r.Path)
		}
	}
}

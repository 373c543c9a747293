package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// A known path with a method it does not take is 405 with an Allow
// header, in the surface's error format, and needs no credentials: the
// routes are public (the OpenAPI document lists them).
func TestMethodNotAllowed(t *testing.T) {
	e := newMgEnv(t)
	call := e.seedCall("acme")
	cases := []struct {
		name, method, path string
		noAuth             bool
		allow              []string // methods the Allow header must list
		surface            string   // v1, v1json, v3, plain
	}{
		{"v1 XML", "POST", "/v1/Accounts/acme/Calls/" + call, false, []string{"GET"}, "v1"},
		{"v1 JSON", "DELETE", "/v1/Accounts/acme/Calls/" + call + ".json", false, []string{"GET"}, "v1json"},
		{"v1 list", "POST", "/v1/Accounts/acme/Calls.json", false, []string{"GET"}, "v1json"},
		{"v1 without credentials", "PUT", "/v1/Accounts/acme/Calls", true, []string{"GET"}, "v1"},
		{"v1 recordings", "POST", "/v1/Accounts/acme/Recordings/re_1", true, []string{"GET", "HEAD"}, "v1"},
		{"v3", "DELETE", "/v3/accounts/acme/calls/" + call, false, []string{"GET"}, "v3"},
		{"v3 create", "PUT", "/v3/accounts/acme/calls", false, []string{"POST"}, "v3"},
		{"v2 flow", "PATCH", "/v2/accounts/acme/flows/fl_x", false, []string{"GET", "PUT", "DELETE"}, "v3"},
		{"v2 flows", "DELETE", "/v2/accounts/acme/flows", true, []string{"GET", "POST"}, "v3"},
		{"health", "POST", "/healthz", true, []string{"GET"}, "plain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(mgReq{Method: tc.method, Path: tc.path, NoAuth: tc.noAuth})
			if res.Status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405\n%s", res.Status, res.Raw)
			}
			allow := res.Header.Get("Allow")
			for _, m := range tc.allow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow %q lacks %s", allow, m)
				}
			}
			if strings.Contains(allow, tc.method) {
				t.Errorf("Allow %q lists the refused method", allow)
			}
			switch tc.surface {
			case "v1":
				if status, msg := v1Exception(t, res.Raw); status != 405 || !strings.Contains(msg, tc.method) {
					t.Errorf("RestException %d %q", status, msg)
				}
			case "v1json":
				if dig(res.JSON, "RestException", "Status") != float64(405) {
					t.Errorf("not a JSON RestException: %s", res.Raw)
				}
			case "v3":
				checkFailure(t, tc.name, res, http.StatusMethodNotAllowed)
				if dig(res.JSON, "response", "error_data", "code") != float64(1005) {
					t.Errorf("code %v, want 1005", dig(res.JSON, "response", "error_data", "code"))
				}
			case "plain":
				if res.JSON["status"] != float64(405) {
					t.Errorf("plain error: %s", res.Raw)
				}
			}
		})
	}

	// An unknown path is still 404, and a known one with its method still
	// needs credentials.
	e.must(http.StatusNotFound, mgReq{Method: "GET", Path: "/v2/accounts/acme/nothing"})
	e.must(http.StatusUnauthorized, mgReq{Method: "GET", Path: "/v2/accounts/acme/flows", NoAuth: true})
	// OPTIONS lists the methods.
	res := e.do(mgReq{Method: "OPTIONS", Path: "/v2/accounts/acme/flows", NoAuth: true})
	if res.Status >= 300 || !strings.Contains(res.Header.Get("Allow"), "POST") {
		t.Errorf("OPTIONS: %d Allow %q", res.Status, res.Header.Get("Allow"))
	}
}

// Every path no route takes answers 404 in the error shape of its API
// version (Exotel's clients read RestException or the envelope, and
// crash on anything else); a path parameter never takes a '/', so a
// deeper path that does not exist is 404, not a lookup of an odd id or
// a 405 of its parent.
func TestUnknownPathsAnswerInTheirVersionsShape(t *testing.T) {
	e := newMgEnv(t)
	cases := []struct {
		name, method, path string
		accept             string
		surface            string // v1 (XML), v1json, v3
	}{
		{"v1", "GET", "/v1/Accounts/acme/Nope", "", "v1"},
		{"v1 json", "GET", "/v1/Accounts/acme/Nope.json", "", "v1json"},
		{"v1 deeper than a route", "GET", "/v1/Accounts/acme/Calls/ca_1/extra", "", "v1"},
		{"v1 deeper, wrong method", "DELETE", "/v1/Accounts/acme/Calls/ca_1/extra.json", "", "v1json"},
		{"v2_beta (JSON only)", "GET", "/v2_beta/Accounts/acme/Nothing", "", "v1json"},
		{"v2_beta json", "GET", "/v2_beta/Accounts/acme/Nothing.json", "", "v1json"},
		{"no version", "GET", "/Accounts/acme/Calls", "", "v1"},
		{"no version, asking for JSON", "GET", "/nope", "application/json", "v1json"},
		{"no version .json", "POST", "/nope.json", "", "v1json"},
		{"v3", "POST", "/v3/nope", "", "v3"},
		{"v2 deeper than a route", "PUT", "/v2/accounts/acme/flows/fl_1/nothing", "", "v3"},
		{"v2 deeper, method of the parent's absent", "POST", "/v2/accounts/acme/users/us_1/x", "", "v3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.accept != "" {
				h.Set("Accept", tc.accept)
			}
			res := e.do(mgReq{Method: tc.method, Path: tc.path, Header: h})
			if res.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404\n%s", res.Status, res.Raw)
			}
			if allow := res.Header.Get("Allow"); allow != "" {
				t.Errorf("a 404 with Allow %q", allow)
			}
			switch tc.surface {
			case "v1":
				if status, msg := v1Exception(t, res.Raw); status != 404 || msg == "" {
					t.Errorf("RestException %d %q", status, msg)
				}
			case "v1json":
				if dig(res.JSON, "RestException", "Status") != float64(404) || dig(res.JSON, "RestException", "Message") == "" {
					t.Errorf("not a JSON RestException: %s", res.Raw)
				}
			case "v3":
				checkFailure(t, tc.name, res, http.StatusNotFound)
				if dig(res.JSON, "response", "error_data", "code") != float64(1001) {
					t.Errorf("code %v, want 1001", dig(res.JSON, "response", "error_data", "code"))
				}
			}
		})
	}
	// The server's own endpoints keep their plain shape.
	if res := e.do(mgReq{Method: "POST", Path: "/healthz", NoAuth: true}); res.JSON["status"] != float64(405) {
		t.Errorf("health: %d %s", res.Status, res.Raw)
	}
}

// A PUT or POST without a body to a route that reads JSON is a 400 that
// says so, after the route is found (a wrong path is still 404).
func TestMissingBody(t *testing.T) {
	e := newMgEnv(t)
	res := e.do(mgReq{Method: "POST", Path: "/v2/accounts/acme/flows"})
	checkFailure(t, "no body", res, http.StatusBadRequest)
	if msg, _ := dig(res.JSON, "response", "error_data", "message").(string); !strings.Contains(msg, "body is required") {
		t.Errorf("message %q", msg)
	}
	e.must(http.StatusNotFound, mgReq{Method: "PUT", Path: "/v2/accounts/acme/nothing"})
}

package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// Any request (method, path, query, body and content type, credentials)
// is answered, never with a panic or a 5xx: bad input is the client's
// error. The seeds are the bodies and queries the API documents.
func FuzzRequest(f *testing.F) {
	e := newCallsEnvOn(f, storetest.SQLiteDSN, Options{})
	e.seedGolden()
	form := url.Values{"From": {"+15550100001"}, "To": {"+15550100002"}, "CallerId": {envExoPhone}}.Encode()
	for _, s := range []struct{ method, path, body, ctype string }{
		{"POST", "/v1/Accounts/" + envAccount + "/Calls/connect.json", form, "application/x-www-form-urlencoded"},
		{"POST", "/v1/Accounts/" + envAccount + "/Calls/connect", form + "&StatusCallbackEvents[]=terminal", "application/x-www-form-urlencoded"},
		{"GET", "/v1/Accounts/" + envAccount + "/Calls.json?PageSize=2&SortBy=DateCreated:asc&Status=busy", "", ""},
		{"GET", "/v1/Accounts/" + envAccount + "/Calls/" + envGoldenSID + ".json?details=true", "", ""},
		{"POST", "/v3/accounts/" + envAccount + "/calls", `{"from":{"contact_uri":"+15550100001"},"to":{"contact_uri":"+15550100002"},"virtual_number":"` + envExoPhone + `"}`, "application/json"},
		{"GET", "/v3/accounts/" + envAccount + "/calls?limit=1&offset=0", "", ""},
		{"POST", "/v2/accounts/" + envAccount + "/flows", `{"name":"F","document":{"start":"a","applets":{"a":{"type":"hangup"}}}}`, "application/json"},
		{"POST", "/v2/accounts/" + envAccount + "/users", `{"name":"A","devices":["+15550100061"]}`, "application/json"},
		{"GET", "/v2/accounts/" + envAccount + "/calls/" + envGoldenSID + "/requests", "", ""},
	} {
		f.Add(s.method, s.path, s.body, s.ctype, envAccount)
	}
	f.Fuzz(func(t *testing.T, method, target, body, ctype, user string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") {
			return // not an HTTP request a server could receive
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		e := *e // its t is this input's
		e.t = t
		r := envReq{method: method, path: target, body: body, contentType: ctype}
		if user != envAccount {
			r.user, r.pass = user, e.token
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s %s (%q, %q): panic %v", method, target, ctype, body, p)
				}
			}()
			if rec := e.do(r); rec.Code >= 500 {
				t.Fatalf("%s %s (%q, %q): %d %s", method, target, ctype, body, rec.Code, rec.Body)
			}
		}()
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

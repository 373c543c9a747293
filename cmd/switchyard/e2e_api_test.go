package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestServeBulkCalls(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		s := startServe(t, dsn(t))
		rc := newReceiver(t)
		// Five short calls: three busy, two rejected (failed... busy too: 603
		// maps to busy), all finished before listing.
		var sids []string
		for i, from := range []string{"+15550100101", "+15550100102", "+15550100103", "+15550100301", "+15550100302"} {
			c := s.connect(url.Values{"From": {from}, "To": {"+15550100001"}, "CallerId": {demoPhone},
				"StatusCallback": {rc.url}, "CustomField": {strconv.Itoa(i)}})
			rc.terminal(c.Sid)
			sids = append(sids, c.Sid)
		}
		type page struct {
			Metadata struct {
				Total                                  int
				PageSize                               int
				FirstPageUri, PrevPageUri, NextPageUri *string
			}
			Calls []v1Call
		}
		// Paging: 2 per page, oldest first, following NextPageUri.
		var seen []string
		next := "/v1/Accounts/" + demoAccount + "/Calls.json?PageSize=2&SortBy=DateCreated:asc"
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			var p page
			s.getJSON(next, &p)
			if p.Metadata.Total != 5 || p.Metadata.PageSize != 2 {
				t.Errorf("metadata: %+v", p.Metadata)
			}
			for _, c := range p.Calls {
				seen = append(seen, c.Sid)
			}
			next = ""
			if p.Metadata.NextPageUri != nil {
				next = *p.Metadata.NextPageUri
			}
		}
		if strings.Join(seen, ",") != strings.Join(sids, ",") {
			t.Errorf("paged listing %v, want %v in creation order", seen, sids)
		}
		// Filters.
		for q, want := range map[string]int{
			"Status=busy":      5,
			"Status=completed": 0,
			"From=" + url.QueryEscape("+15550100101,+15550100102"): 2,
			"Sid=" + sids[0] + "," + sids[4]:                       2,
			"Direction=outbound-api":                               5,
			"Direction=inbound":                                    0,
			"PhoneNumber=" + url.QueryEscape(demoPhone):            5,
			"Duration=" + url.QueryEscape("lte:100s"):              5,
		} {
			var p page
			s.getJSON("/v1/Accounts/"+demoAccount+"/Calls.json?"+q, &p)
			if p.Metadata.Total != want || len(p.Calls) != want {
				t.Errorf("%s: total %d (%d listed), want %d", q, p.Metadata.Total, len(p.Calls), want)
			}
		}
		for _, q := range []string{"PageSize=0", "PageSize=101", "SortBy=Price:asc", "Status=ringingish", "Duration=gte:abc", "DateCreated=yesterday", "Direction=sideways", "After=%%%"} {
			code, body, _ := s.do("GET", "/v1/Accounts/"+demoAccount+"/Calls.json?"+q, nil)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "RestException") {
				t.Errorf("%s: %d %s, want 400 RestException", q, code, body)
			}
		}
	})
}

func TestServeV3(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		s := startServe(t, dsn(t))
		rc := newReceiver(t)
		path := "/v3/accounts/" + demoAccount + "/calls"
		bodies := map[string]string{
			"documented": `{"from":{"contact_uri":"+15550100001","state_management":true},"to":{"contact_uri":"+15550100402"},
				"virtual_number":"` + demoPhone + `","recording":{"record":true,"channels":"dual"},"max_time_limit":600,
				"attempt_time_out":20,"custom_field":"v3","status_callback":[{"event":"terminal","url":"` + rc.url + `"}]}`,
			"new portal": `{"from":{"user_contact_uri":"+15550100002"},"to":{"number":"+15550100402"},
				"virtual_number":"` + demoPhone + `","recording":false,"max_time_limit":600,
				"status_callback":[{"event":"terminal","url":"` + rc.url + `"}]}`,
		}
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				code, out, _ := s.do("POST", path, body)
				var env struct {
					RequestID string `json:"request_id"`
					HTTPCode  int    `json:"http_code"`
					Response  struct {
						Status      string
						CallDetails struct {
							Sid string `json:"sid"`
						} `json:"call_details"`
					}
				}
				if code != 200 || json.Unmarshal(out, &env) != nil || env.HTTPCode != 200 || env.Response.Status != "success" || len(env.Response.CallDetails.Sid) != 32 {
					t.Fatalf("POST calls: %d %s", code, out)
				}
				sid := env.Response.CallDetails.Sid
				rc.terminal(sid)
				var det struct {
					Response struct {
						CallDetails struct {
							Sid, State, Status, Direction string
							TotalTalkTime                 int `json:"total_talk_time"`
						} `json:"call_details"`
					}
				}
				s.getJSON(path+"/"+sid, &det)
				cd := det.Response.CallDetails
				if cd.State != "terminal" || cd.Status != "completed" || cd.TotalTalkTime < 1 {
					t.Errorf("call details: %+v", cd)
				}
				var legs struct {
					Response struct {
						LegDetails struct {
							From []legView
							To   []legView
						} `json:"leg_details"`
					}
				}
				s.getJSON(path+"/"+sid+"/legs", &legs)
				ld := legs.Response.LegDetails
				if len(ld.From) != 1 || len(ld.To) != 1 || ld.From[0].Status != "completed" || ld.To[0].ContactURI != "+15550100402" {
					t.Errorf("legs: %+v", ld)
				}
			})
		}
		t.Run("state management", func(t *testing.T) {
			// The agent is held by a live call (the customer stays on for 6 s):
			// a second call from the same agent is refused.
			body := `{"from":{"contact_uri":"+15550100003","state_management":"true"},"to":{"contact_uri":"+15550100406"},
				"virtual_number":"` + demoPhone + `","status_callback":[{"event":"terminal","url":"` + rc.url + `"}]}`
			code, out, _ := s.do("POST", path, body)
			if code != 200 {
				t.Fatalf("first call: %d %s", code, out)
			}
			var first struct {
				Response struct {
					CallDetails struct{ Sid string } `json:"call_details"`
				}
			}
			_ = json.Unmarshal(out, &first)
			code, out, _ = s.do("POST", path, body)
			if code != http.StatusConflict || !strings.Contains(string(out), `"code":10706`) {
				t.Errorf("agent on a call: %d %s, want 409 with error code 10706", code, out)
			}
			rc.terminal(first.Response.CallDetails.Sid)
		})
	})
}

func TestServeCallbacksRetriedAndDurable(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		d := dsn(t)
		s := startServe(t, d)
		rc := newReceiver(t)
		form := func() url.Values {
			return url.Values{"From": {"+15550100101"}, "To": {"+15550100001"}, "CallerId": {demoPhone},
				"StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal"}}
		}

		// Retried after a 500.
		rc.setFail(true)
		c := s.connect(form())
		rc.waitRefused(c.Sid)
		rc.setFail(false)
		rc.terminal(c.Sid)
		// Still delivered after a restart between hang-up and delivery.
		rc.setFail(true)
		c2 := s.connect(form())
		rc.waitRefused(c2.Sid)
		s.stop()
		rc.setFail(false)
		s = startServe(t, d)
		got := rc.terminal(c2.Sid)
		if got[len(got)-1].fields["Status"] != "busy" {
			t.Errorf("callback after restart: %v", got[len(got)-1].fields)
		}

		// Every attempt is readable through the API. (The first server's
		// graceful stop waited for its deliveries to be recorded.)
		var att struct {
			Response struct {
				Callbacks []struct {
					Seq      int    `json:"seq"`
					Status   string `json:"status"`
					Attempts []struct {
						HTTPStatus int `json:"http_status"`
						LatencyMS  int `json:"latency_ms"`
					} `json:"attempts"`
				} `json:"callbacks"`
			}
		}
		s.getJSON("/v2/accounts/"+demoAccount+"/calls/"+c.Sid+"/callbacks", &att)
		cbs := att.Response.Callbacks
		if len(cbs) != 1 || cbs[0].Status != "delivered" || len(cbs[0].Attempts) < 2 ||
			cbs[0].Attempts[0].HTTPStatus != 500 || cbs[0].Attempts[len(cbs[0].Attempts)-1].HTTPStatus != 200 {
			t.Errorf("callback attempts: %+v", cbs)
		}

	})
}

// writeRoutes are every route that changes something, with a valid body
// for the demo account (placeholders filled by the test).
func writeRoutes(flowID, number string) []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{"POST", "/v1/Accounts/demo/Calls/connect", "form"},
		{"POST", "/v1/Accounts/demo/Calls/connect.json", "form"},
		{"POST", "/v3/accounts/demo/calls", `{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100"}`},
		{"POST", "/v2/accounts/demo/flows", `{"name":"x","document":{"start":"h","applets":{"h":{"type":"hangup"}}}}`},
		{"PUT", "/v2/accounts/demo/flows/" + flowID, `{"name":"renamed"}`},
		{"POST", "/v2/accounts/demo/flows/" + flowID + "/validate", `{}`},
		{"POST", "/v2/accounts/demo/flows/" + flowID + "/publish", `{}`},
		{"POST", "/v2/accounts/demo/flows/" + flowID + "/duplicate", `{"name":"copy"}`},
		{"DELETE", "/v2/accounts/demo/flows/" + flowID, ""},
		{"POST", "/v2/accounts/demo/exophones", `{"number":"+15550000777","friendly_name":"x"}`},
		{"PUT", "/v2/accounts/demo/exophones/" + url.PathEscape(number), `{"flow_id":null}`},
		{"DELETE", "/v2/accounts/demo/exophones/" + url.PathEscape(number), ""},
	}
}

// snapshot is the demo account's state as its own API shows it.
func (s *server) snapshot() string {
	s.t.Helper()
	var b strings.Builder
	for _, p := range []string{"/v2/accounts/demo/flows?limit=100", "/v2/accounts/demo/exophones?limit=100", "/v1/Accounts/demo/Calls.json?PageSize=100"} {
		code, body, _ := s.do("GET", p, nil)
		if code != 200 {
			s.t.Fatalf("GET %s: %d %s", p, code, body)
		}
		// The envelope's request id differs per request.
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		delete(v, "request_id")
		out, _ := json.Marshal(v)
		b.Write(out)
	}
	return b.String()
}

func TestServeTenancy(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	s := startServe(t, dsn)
	// A second tenant, made with the admin command.
	code, out, errOut := runCmd(t, "account", "create", "-db", dsn, "-name", "Other Co", "-sid", "other")
	if code != 0 {
		t.Fatalf("account create: %d %s %s", code, out, errOut)
	}
	key, token := field(out, "API key"), field(out, "API token")
	if key == "" || token == "" {
		t.Fatalf("account create printed no key/token:\n%s", out)
	}
	flowID := s.flowID("basic-support")
	// A legacy client sends what the banner says: the account SID and the
	// API token.
	legacy := strings.SplitN(field(s.out.String(), "Legacy auth"), ":", 2)
	if len(legacy) != 2 {
		t.Fatalf("the banner shows no legacy credentials:\n%s", s.out.String())
	}
	if code, body, _ := s.doAs(legacy[0], legacy[1], "GET", "/v1/Accounts/demo/Calls.json", nil, nil); code != http.StatusOK {
		t.Errorf("legacy credentials from the banner: %d %s", code, body)
	}
	if code, body, _ := s.doAs("other", token, "GET", "/v1/Accounts/demo/Calls.json", nil, nil); code != http.StatusForbidden {
		t.Errorf("another account's SID and API token on the demo's path: %d %s, want 403", code, body)
	}
	var call struct{ Call v1Call }
	rc := newReceiver(t)
	call.Call = s.connect(url.Values{"From": {"+15550100101"}, "To": {"+15550100001"}, "CallerId": {demoPhone}, "StatusCallback": {rc.url}})
	rc.terminal(call.Call.Sid)
	before := s.snapshot()

	reads := []string{
		"/v1/Accounts/demo/Calls/" + call.Call.Sid, "/v1/Accounts/demo/Calls/" + call.Call.Sid + ".json",
		"/v1/Accounts/demo/Calls.json", "/v1/Accounts/demo/Calls",
		"/v3/accounts/demo/calls/" + call.Call.Sid, "/v3/accounts/demo/calls/" + call.Call.Sid + "/legs",
		"/v2/accounts/demo/flows", "/v2/accounts/demo/flows/" + flowID, "/v2/accounts/demo/flows/" + flowID + "/versions",
		"/v2/accounts/demo/flows/" + flowID + "/versions/1",
		"/v2/accounts/demo/exophones", "/v2/accounts/demo/exophones/" + url.PathEscape(demoPhone),
		"/v2/accounts/demo/calls/" + call.Call.Sid + "/callbacks", "/v2/accounts/demo/calls/" + call.Call.Sid + "/recordings",
	}
	for _, p := range reads {
		// Other credentials on the demo account's path: 403.
		if code, body, _ := s.doAs(key, token, "GET", p, nil, nil); code != http.StatusForbidden {
			t.Errorf("GET %s as other: %d %s, want 403", p, code, body)
		}
		// Other credentials on their own path with the demo's ids: 404 or
		// an empty list, never the demo's data.
		own := strings.Replace(strings.Replace(p, "/demo/", "/other/", 1), "Accounts/demo", "Accounts/other", 1)
		code, body, _ := s.doAs(key, token, "GET", own, nil, nil)
		if code == http.StatusOK && (strings.Contains(string(body), call.Call.Sid) || strings.Contains(string(body), flowID) || strings.Contains(string(body), demoPhone)) {
			t.Errorf("GET %s as other leaks the demo account's data: %s", own, body)
		} else if code != http.StatusOK && code != http.StatusNotFound {
			t.Errorf("GET %s as other: %d %s, want 404 or an empty 200", own, code, body)
		}
	}
	form := url.Values{"From": {"+15550100101"}, "To": {"+15550100001"}, "CallerId": {demoPhone}}
	for _, r := range writeRoutes(flowID, demoPhone) {
		var body any
		switch {
		case r.body == "form":
			body = form
		case r.body != "":
			body = r.body
		}
		if code, out, _ := s.doAs(key, token, r.method, r.path, body, nil); code != http.StatusForbidden {
			t.Errorf("%s %s as other: %d %s, want 403", r.method, r.path, code, out)
		}
		own := strings.Replace(strings.Replace(r.path, "/demo/", "/other/", 1), "Accounts/demo", "Accounts/other", 1)
		if code, out, _ := s.doAs(key, token, r.method, own, body, nil); code < 400 || code >= 500 {
			// Creating their own flow or number is fine; using the
			// demo's ids or ExoPhone is not.
			if !(r.method == "POST" && (strings.HasSuffix(own, "/flows") || strings.HasSuffix(own, "/exophones"))) {
				t.Errorf("%s %s as other: %d %s, want 4xx", r.method, own, code, out)
			}
		}
	}
	if after := s.snapshot(); after != before {
		t.Errorf("another account's requests changed the demo account:\nbefore %s\nafter  %s", before, after)
	}
}

func TestServeMalformedWrites(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	s := startServe(t, dsn)
	flowID := s.flowID("basic-support")
	check := func(method, path string, body any, header http.Header) {
		t.Helper()
		code, out, _ := s.doAs("demo_api_key", "demo_api_token", method, path, body, header)
		if code < 400 || code >= 500 {
			t.Errorf("%s %s %v: %d %s, want 4xx", method, path, body, code, out)
			return
		}
		if strings.HasPrefix(path, "/v1/") {
			if !strings.Contains(string(out), "RestException") {
				t.Errorf("%s %s: error not in v1 format: %s", method, path, out)
			}
		} else if !strings.Contains(string(out), `"error_data"`) {
			t.Errorf("%s %s: error not in the envelope format: %s", method, path, out)
		}
	}
	v1 := "/v1/Accounts/demo/Calls/connect.json"
	good := func() url.Values {
		return url.Values{"From": {"+15550100101"}, "To": {"+15550100001"}, "CallerId": {demoPhone}}
	}
	for _, mut := range []func(url.Values){
		func(v url.Values) { v.Del("From") },
		func(v url.Values) { v.Set("From", "not-a-number") },
		func(v url.Values) { v.Set("To", "12") },
		func(v url.Values) { v.Del("CallerId") },
		func(v url.Values) { v.Set("CallerId", "+15550000999") },
		func(v url.Values) { v.Del("To"); v.Set("Url", "http://my.exotel.com/demo/exoml/start_voice/fl_nope") },
		func(v url.Values) { v.Set("Url", "http://my.exotel.com/demo/exoml/start_voice/"+flowID) },
		func(v url.Values) { v.Del("To"); v.Set("Url", "ftp://example/x") },
		func(v url.Values) { v.Set("TimeLimit", "99999") },
		func(v url.Values) { v.Set("TimeOut", "-1") },
		func(v url.Values) { v.Set("Record", "maybe") },
		func(v url.Values) { v.Set("RecordingChannels", "quad") },
		func(v url.Values) { v.Set("StatusCallbackEvents[]", "ringing") },
		func(v url.Values) { v.Set("StatusCallbackContentType", "text/xml") },
		func(v url.Values) { v.Set("StatusCallback", "javascript:alert(1)") },
		func(v url.Values) { v.Set("CallType", "promo-blast") },
		func(v url.Values) { v.Set("CustomField", strings.Repeat("x", 129)) },
	} {
		v := good()
		mut(v)
		check("POST", v1, v, nil)
		check("POST", strings.TrimSuffix(v1, ".json"), v, nil)
	}
	check("POST", v1, `{"From":"+15550100101"}`, nil)                               // JSON where a form is expected
	check("POST", v1, url.Values{"CustomField": {strings.Repeat("x", 2<<20)}}, nil) // oversize
	// An unpublished flow.
	code, out, _ := s.do("POST", "/v2/accounts/demo/flows", `{"name":"draft only","document":{"start":"h","applets":{"h":{"type":"hangup"}}}}`)
	if code != 200 && code != 201 {
		t.Fatalf("create flow: %d %s", code, out)
	}
	before := s.snapshot()
	var created struct {
		Response struct {
			Flow struct{ ID string } `json:"flow"`
		}
	}
	_ = json.Unmarshal(out, &created)
	if created.Response.Flow.ID != "" {
		v := good()
		v.Del("To")
		v.Set("Url", "http://my.exotel.com/demo/exoml/start_voice/"+created.Response.Flow.ID)
		check("POST", v1, v, nil)
	}
	idem := http.Header{"Idempotency-Key": {strings.Repeat("k", 300)}}
	check("POST", v1, good(), idem)

	v3 := "/v3/accounts/demo/calls"
	for _, b := range []string{
		``, `{`, `[]`, `{"from":{}}`, `{"from":{"contact_uri":"x"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100"}`,
		`{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000999"}`,
		`{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100","recording":{"channels":"quad"}}`,
		`{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100","status_callback":[{"event":"ringing","url":"http://x"}]}`,
		`{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100","max_time_limit":"long"}`,
		`{"from":{"contact_uri":"+15550100101"},"to":{"contact_uri":"+15550100001"},"virtual_number":"+15550000100","bogus":1}`,
		`{"from":{"user_id":"u-1"},"to":{"number":"+15550100001"},"virtual_number":"+15550000100"}`,
	} {
		check("POST", v3, b, nil)
	}
	check("POST", v3, url.Values{"from": {"x"}}, nil) // form where JSON is expected

	mgmt := []struct{ method, path string }{
		{"POST", "/v2/accounts/demo/flows"}, {"PUT", "/v2/accounts/demo/flows/" + flowID},
		{"POST", "/v2/accounts/demo/flows/" + flowID + "/duplicate"},
		{"POST", "/v2/accounts/demo/exophones"}, {"PUT", "/v2/accounts/demo/exophones/" + url.PathEscape(demoPhone)},
	}
	for _, r := range mgmt {
		for _, b := range []string{``, `{`, `"x"`, `{"name":""}`, `{"name":1}`, `{"unknown":true}`,
			`{"name":"bad","document":{"start":"nowhere","applets":{}}}`, `{"number":"12345"}`, `{"flow_id":"fl_nope"}`} {
			check(r.method, r.path, b, nil)
		}
	}
	check("DELETE", "/v2/accounts/demo/flows/"+flowID, nil, nil) // assigned to an ExoPhone
	check("DELETE", "/v2/accounts/demo/flows/fl_nope", nil, nil)
	check("DELETE", "/v2/accounts/demo/exophones/"+url.PathEscape("+15550000999"), nil, nil)
	check("POST", "/v2/accounts/demo/flows/fl_nope/publish", `{}`, nil)

	// Random bytes at every write route: only 4xx, never a 5xx or a hang.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range writeRoutes(flowID, demoPhone) {
		if r.body == "" || r.body == "{}" {
			continue // routes that read no body
		}
		for i := 0; i < 40; i++ {
			b := make([]byte, rng.IntN(300))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
			var body any = string(b)
			if r.body == "form" && i%2 == 0 {
				body = url.Values{"From": {string(b)}, "To": {string(b)}, "CallerId": {string(b)}}
			}
			code, out, _ := s.do(r.method, r.path, body)
			if code >= 500 {
				t.Errorf("%s %s with random input: %d %s", r.method, r.path, code, out)
			}
		}
	}
	after := s.snapshot()
	if after != before {
		t.Errorf("malformed requests changed state:\nbefore %s\nafter  %s", before, after)
	}
	// The server is still healthy.
	if code, _, _ := s.do("GET", "/healthz", nil); code != 200 {
		t.Errorf("healthz after the barrage: %d", code)
	}
}

// field reads "label  value" from command output.
func field(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, label); ok {
			rest = strings.TrimLeft(rest, ": \t")
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

type legView struct {
	Status     string `json:"status"`
	ContactURI string `json:"contact_uri"`
}

package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// v2Env is the calls environment with the v2 options wired to counters.
type v2Env struct {
	*callsEnv
	changes, notified atomic.Int32
}

const v2PublicURL = "https://api.switchyard.example"

func newV2Env(t testing.TB, dsn func(testing.TB) string, opts Options) *v2Env {
	t.Helper()
	e := &v2Env{}
	opts.OnCampaignChange = func() { e.changes.Add(1) }
	opts.NotifyCallbacks = func() { e.notified.Add(1) }
	opts.PublicURL = v2PublicURL
	e.callsEnv = newCallsEnvOn(t, dsn, opts)
	return e
}

// v2Path is an account path of envAccount.
func v2Path(p string) string { return "/v2/accounts/" + envAccount + p }

// send makes a request as envAccount; a body is JSON unless ct says.
func (e *v2Env) send(method, path, body string, ct ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := envReq{method: method, path: path, body: body}
	if body != "" {
		r.contentType = "application/json"
	}
	if len(ct) > 0 {
		r.contentType = ct[0]
	}
	return e.do(r)
}

// sendAs makes a request as envOther.
func (e *v2Env) sendAs(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := envReq{method: method, path: path, body: body, user: envOther, pass: e.otherTk}
	if body != "" {
		r.contentType = "application/json"
	}
	return e.do(r)
}

// must is send, failing unless the status is want; it returns the
// decoded body.
func (e *v2Env) must(want int, method, path, body string, ct ...string) map[string]any {
	e.t.Helper()
	rec := e.send(method, path, body, ct...)
	if rec.Code != want {
		e.t.Fatalf("%s %s: %d, want %d\n%s", method, path, rec.Code, want, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, rec.Body)
	}
	return m
}

// v2Dig walks a decoded JSON value by keys and indexes.
func v2Dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func v2DigStr(v any, path ...any) string {
	s, _ := v2Dig(v, path...).(string)
	return s
}

// v2ErrorOf returns the error_data of a failure: the request's, or the
// first failed item's.
func v2ErrorOf(m map[string]any) map[string]any {
	if ed, ok := v2Dig(m, "response", "error_data").(map[string]any); ok {
		return ed
	}
	items, _ := v2Dig(m, "response").([]any)
	for _, it := range items {
		if ed, ok := v2Dig(it, "error_data").(map[string]any); ok {
			return ed
		}
	}
	return nil
}

// v2Masks hide what changes between runs: the request id, object ids
// (numbered in order of appearance, so an answer still shows which are
// the same) and the times the server sets (date_*; the calls' own times
// are fixed by the tests).
var (
	v2RequestID = regexp.MustCompile(`"request_id":"[0-9a-f]{32}"`)
	v2IDs       = regexp.MustCompile(`\b(cp|ct|ls|fl)_[0-9a-f]{24}\b`)
	v2TimeKeys  = regexp.MustCompile(`"(date_created|date_updated|date_started|date_ended)":"[^"]*"`)
	// v2CSVCreated is the date_created column of the report's CSV, the
	// last but one.
	v2CSVCreated = regexp.MustCompile(`(?m),\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30,(\d+)$`)
)

func v2Mask(b []byte, csvTimes bool) []byte {
	b = v2RequestID.ReplaceAll(b, []byte(`"request_id":"<request-id>"`))
	seen, n := map[string]string{}, map[string]int{}
	b = v2IDs.ReplaceAllFunc(b, func(m []byte) []byte {
		id := string(m)
		if v, ok := seen[id]; ok {
			return []byte(v)
		}
		n[id[:2]]++
		seen[id] = fmt.Sprintf("<%s-%d>", id[:2], n[id[:2]])
		return []byte(seen[id])
	})
	b = v2TimeKeys.ReplaceAll(b, []byte(`"$1":"<time>"`))
	if csvTimes {
		b = v2CSVCreated.ReplaceAll(b, []byte(",<time>,$1"))
	}
	return b
}

// v2Golden compares a JSON answer, masked and indented, with a golden file.
func v2Golden(t *testing.T, name string, rec *httptest.ResponseRecorder) {
	t.Helper()
	callsGolden(t, name, callsGoldenBody(t, v2Mask(rec.Body.Bytes(), false), true))
}

// v2FlowURL is the flow URL of the env account's published flow.
func (e *v2Env) v2FlowURL() string {
	return "http://my.exotel.com/" + envAccount + "/exoml/start_voice/" + e.flowID
}

// v2CampaignJSON is a valid campaign with fields replaced (a nil value
// deletes the field).
func (e *v2Env) v2CampaignJSON(kv ...any) map[string]any {
	m := map[string]any{
		"name":      "Spring sale",
		"caller_id": "08047000000",
		"from":      []string{"+919800000001", "+919800000002"},
		"url":       e.v2FlowURL(),
		"retries": map[string]any{"number_of_retries": 2, "interval_mins": 10, "mechanism": "Exponential",
			"on_status": []string{"busy", "no-answer"}},
		"schedule":               map[string]any{"send_at": "2099-01-14T10:00:00+05:30", "end_at": "2099-01-20T18:00:00+05:30"},
		"status_callback":        "https://crm.example/campaign",
		"call_status_callback":   "https://crm.example/call",
		"call_schedule_callback": "https://crm.example/number",
		"custom_field":           map[string]any{"batch": "7"},
		"throttle":               30,
		"calling_window":         map[string]any{"start": "10:00", "end": "19:30"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func v2JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	envMust(t, err)
	return string(b)
}

// createCampaign creates a campaign of envAccount through the API and
// returns its id.
func (e *v2Env) createCampaign(kv ...any) string {
	e.t.Helper()
	m := e.must(http.StatusOK, "POST", v2Path("/campaigns"), v2JSON(e.t, map[string]any{"campaigns": []any{e.v2CampaignJSON(kv...)}}))
	id := v2DigStr(m, "response", 0, "data", "id")
	if id == "" {
		e.t.Fatalf("no id: %v", m)
	}
	return id
}

// rows counts a table's rows.
func (e *v2Env) rows(table string) int64 {
	e.t.Helper()
	var n int64
	envMust(e.t, e.db.Gorm().Table(table).Count(&n).Error)
	return n
}

func TestV2CampaignGolden(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		rec := e.send("POST", v2Path("/campaigns"), v2JSON(t, map[string]any{"campaigns": []any{e.v2CampaignJSON()}}))
		if rec.Code != http.StatusOK {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_campaign_create.json", rec)
		id := v2DigStr(callsJSON(t, rec), "response", 0, "data", "id")

		// The new portal's shape: the campaign at the top level, defaults
		// filled in.
		rec = e.send("POST", v2Path("/campaigns"), v2JSON(t, map[string]any{
			"caller_id": "+918047000001", "from": "+919800000005, +919800000006", "url": e.v2FlowURL(),
			"name": "Top level", "schedule": map[string]any{"send_at": "2099-02-01T09:00:00+05:30", "end_at": "2099-02-02T09:00:00+05:30"}}))
		if rec.Code != http.StatusOK {
			t.Fatalf("create top-level: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_campaign_create_toplevel.json", rec)

		rec = e.send("GET", v2Path("/campaigns/"+id), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_campaign_get.json", rec)

		rec = e.send("GET", v2Path("/campaigns?limit=1&offset=1&sort_by=name:desc"), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_campaign_list.json", rec)

		rec = e.send("PUT", v2Path("/campaigns/"+id), `{"campaigns": [{"action": "pause"}]}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("pause: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_campaign_pause.json", rec)
		if n := e.changes.Load(); n != 3 {
			t.Errorf("OnCampaignChange called %d times, want 3 (two creates, a pause)", n)
		}
	})
}

func TestV2CreateCampaignRefusals(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		otherList, err := e.db.Lists().Create(t.Context(), envOther, "theirs", "")
		envMust(t, err)
		otherFlow := "http://my.exotel.com/" + envOther + "/exoml/start_voice/" + e.flowID
		many := make([]string, 5001)
		for i := range many {
			many[i] = fmt.Sprintf("+9198%08d", i)
		}
		retries := func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		past := time.Now().Add(-time.Hour).Format(time.RFC3339)
		tests := []struct {
			name   string
			fields []any
			status int
			msg    string
		}{
			{"no caller_id", []any{"caller_id", nil}, 400, "caller_id is required"},
			{"malformed caller_id", []any{"caller_id", "main line"}, 400, `caller_id "main line" is not a valid phone number`},
			{"unknown caller_id", []any{"caller_id", "+918047999999"}, 404, `caller_id "+918047999999" is not an ExoPhone`},
			{"other account's caller_id", []any{"caller_id", envOtherPhone}, 404, "caller_id"},
			{"no url", []any{"url", nil}, 400, "url is required"},
			{"bad url", []any{"url", "https://my.exotel.com/acme1/flows/1"}, 400, "url"},
			{"other account's url", []any{"url", otherFlow}, 400, "url"},
			{"unpublished flow", []any{"url", "http://my.exotel.com/acme1/exoml/start_voice/" + e.draftID}, 404, e.draftID},
			{"too many retries", []any{"retries", retries("number_of_retries", 4, "interval_mins", 5)}, 400, "number_of_retries"},
			{"retries without interval", []any{"retries", retries("number_of_retries", 1)}, 400, "interval_mins"},
			{"retry mechanism", []any{"retries", retries("mechanism", "Random")}, 400, "mechanism"},
			{"retry status", []any{"retries", retries("on_status", []string{"answered"})}, 400, "on_status"},
			{"retries wrong type", []any{"retries", retries("number_of_retries", "two")}, 400, "retries.number_of_retries"},
			{"send_at malformed", []any{"schedule", retries("send_at", "tomorrow")}, 400, "send_at"},
			{"end before send", []any{"schedule", retries("send_at", "2099-01-14T10:00:00+05:30", "end_at", "2099-01-13T10:00:00+05:30")}, 400, "end_at must be after send_at"},
			{"end in the past", []any{"schedule", retries("end_at", past)}, 400, "end_at is in the past"},
			{"recurrence", []any{"schedule", retries("recurrence", "every day")}, 400, "recurrence"},
			{"throttle zero", []any{"throttle", 0}, 400, "throttle"},
			{"throttle over the account's rate", []any{"throttle", 61}, 400, "throttle must be 1 to 60"},
			{"custom mode without throttle", []any{"throttle", nil, "mode", "custom"}, 400, "throttle"},
			{"mode", []any{"mode", "fast"}, 400, "mode"},
			{"max_concurrent", []any{"max_concurrent", 1000}, 400, "max_concurrent"},
			{"calling_window", []any{"calling_window", retries("start", "21:00", "end", "09:00")}, 400, "calling_window"},
			{"timezone", []any{"timezone", "Mars/Olympus"}, 400, "timezone"},
			{"5001 numbers", []any{"from", many}, 400, "from must have 1 to 5000 numbers"},
			{"bad number", []any{"from", []string{"+919800000001", "call me"}}, 400, `"call me" is not a number`},
			{"no numbers", []any{"from", nil}, 400, "from"},
			{"unknown list", []any{"from", nil, "lists", []string{"ls_000000000000000000000000"}}, 404, "list ls_000000000000000000000000 does not exist"},
			{"other account's list", []any{"from", nil, "lists", []string{otherList.SID}}, 404, "does not exist"},
			{"short name", []any{"name", "abc"}, 400, "name must be more than 3"},
			{"type", []any{"type", "promo"}, 400, "type must be trans"},
			{"flow_type", []any{"flow_type", "ivr"}, 400, "flow_type"},
			{"action on create", []any{"action", "pause"}, 400, "action"},
			{"custom_field", []any{"custom_field", 7}, 400, "custom_field"},
			{"unknown field", []any{"priority", "high"}, 400, `unknown field "priority"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, wrapped := range []bool{true, false} {
					var body any = e.v2CampaignJSON(tt.fields...)
					if wrapped {
						body = map[string]any{"campaigns": []any{body}}
					}
					rec := e.send("POST", v2Path("/campaigns"), v2JSON(t, body))
					m := callsJSON(t, rec)
					ed := v2ErrorOf(m)
					if rec.Code != tt.status || v2Dig(m, "http_code") != float64(tt.status) || ed == nil {
						t.Fatalf("wrapped=%v: %d, want %d\n%s", wrapped, rec.Code, tt.status, rec.Body)
					}
					if d, _ := ed["description"].(string); !strings.Contains(d, tt.msg) {
						t.Errorf("wrapped=%v: description %q lacks %q", wrapped, d, tt.msg)
					}
					if v2Dig(m, "response", 0, "code") != float64(tt.status) || v2Dig(m, "response", 0, "status") != "failure" ||
						v2Dig(m, "metadata", "failed") != 1.0 {
						t.Errorf("wrapped=%v: not a failed item: %s", wrapped, rec.Body)
					}
				}
			})
		}

		// Refusals of the whole request.
		for _, tt := range []struct {
			name, body, ct string
			status         int
			msg            string
		}{
			{"malformed JSON", `{"campaigns": [`, "", 400, "malformed"},
			{"trailing data", `{"campaigns": []} {}`, "", 400, "after the JSON value"},
			{"campaigns not an array", `{"campaigns": {"name": "x"}}`, "", 400, "campaigns must be an array"},
			{"no campaigns", `{"campaigns": []}`, "", 400, "campaigns is empty"},
			{"a campaign that is no object", `{"campaigns": [7]}`, "", 400, "campaigns[0] must be an object"},
			{"field beside campaigns", `{"campaigns": [{}], "dry_run": true}`, "", 400, `unknown field "dry_run"`},
			{"not an object", `"campaign"`, "", 400, "must be a JSON object"},
			{"form body", "name=x", "application/x-www-form-urlencoded", 415, "application/json"},
		} {
			ct := tt.ct
			if ct == "" {
				ct = "application/json"
			}
			rec := e.send("POST", v2Path("/campaigns"), tt.body, ct)
			ed := v2ErrorOf(callsJSON(t, rec))
			if rec.Code != tt.status || ed == nil || !strings.Contains(ed["description"].(string), tt.msg) {
				t.Errorf("%s: %d %s", tt.name, rec.Code, rec.Body)
			}
		}
		if n := e.rows("campaigns"); n != 0 {
			t.Fatalf("refused requests created %d campaigns", n)
		}
		if n := e.changes.Load(); n != 0 {
			t.Errorf("OnCampaignChange called %d times for refused requests", n)
		}

		// One good, one bad: 207, the good one created.
		rec := e.send("POST", v2Path("/campaigns"), v2JSON(t, map[string]any{"campaigns": []any{
			e.v2CampaignJSON(), e.v2CampaignJSON("throttle", 0)}}))
		m := callsJSON(t, rec)
		if rec.Code != http.StatusMultiStatus || v2Dig(m, "metadata", "success") != 1.0 || v2Dig(m, "metadata", "failed") != 1.0 ||
			v2Dig(m, "response", 0, "code") != 200.0 || v2Dig(m, "response", 1, "code") != 400.0 {
			t.Errorf("mixed: %d %s", rec.Code, rec.Body)
		}
		if n := e.rows("campaigns"); n != 1 {
			t.Errorf("%d campaigns, want 1", n)
		}
	})
}

func TestV2CampaignNotFound(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		mine := e.createCampaign()
		theirs := &store.Campaign{AccountSID: envOther, Name: "theirs", CallerID: envOtherPhone, Numbers: []string{"+919800000001"}}
		envMust(t, e.db.Campaigns().Create(t.Context(), theirs))
		before := e.rows("campaigns")
		for _, sid := range []string{theirs.SID, "cp_000000000000000000000000", "nope", "cp_%00", "%E2%80%AE"} {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/campaigns/" + sid, ""},
				{"PUT", "/campaigns/" + sid, `{"action": "pause"}`},
				{"DELETE", "/campaigns/" + sid, ""},
				{"GET", "/campaigns/" + sid + "/call-details", ""},
				{"GET", "/campaigns/" + sid + "/call-details.csv", ""},
			} {
				rec := e.send(r.method, v2Path(r.path), r.body)
				if rec.Code == http.StatusBadRequest && strings.Contains(sid, "%") {
					continue // the input gate's answer to a control character
				}
				ed := v2ErrorOf(callsJSON(t, rec))
				if rec.Code != http.StatusNotFound || ed == nil || ed["code"] != float64(CodeNotFound) {
					t.Errorf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
				}
			}
		}
		// The other account cannot see or touch ours either.
		for _, method := range []string{"GET", "DELETE"} {
			if rec := e.sendAs(method, "/v2/accounts/"+envOther+"/campaigns/"+mine, ""); rec.Code != http.StatusNotFound {
				t.Errorf("%s of another account's campaign: %d %s", method, rec.Code, rec.Body)
			}
		}
		if rec := e.sendAs("GET", "/v2/accounts/"+envOther+"/campaigns", ""); v2Dig(callsJSON(t, rec), "metadata", "total") != 1.0 {
			t.Errorf("the other account lists %s", rec.Body)
		}
		if after := e.rows("campaigns"); after != before {
			t.Errorf("campaigns %d → %d", before, after)
		}
		got, err := e.db.Campaigns().Get(t.Context(), envOther, theirs.SID)
		if err != nil || got.Status != store.CampaignCreated {
			t.Errorf("the other account's campaign changed: %v %+v", err, got)
		}
	})
}

func TestV2ListCampaigns(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		ids := map[string]string{}
		for _, name := range []string{"Alpha run", "Beta run", "Gamma run"} {
			ids[name] = e.createCampaign("name", name)
		}
		e.must(http.StatusOK, "PUT", v2Path("/campaigns/"+ids["Beta run"]), `{"action": "pause"}`)
		names := func(m map[string]any) string {
			items, _ := v2Dig(m, "response").([]any)
			var out []string
			for _, it := range items {
				out = append(out, v2DigStr(it, "data", "name"))
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct {
			query, want string
			total       float64
		}{
			{"", "Alpha run,Beta run,Gamma run", 3},
			{"?status=paused", "Beta run", 1},
			{"?status=Created,%20in-progress", "Alpha run,Gamma run", 2},
			{"?name=BET", "Beta run", 1},
			{"?sort_by=name:desc", "Gamma run,Beta run,Alpha run", 3},
			{"?sort_by=date_created:desc&limit=1", "Gamma run", 3},
			{"?page=2&page_size=2", "Gamma run", 3},
			{"?offset=2&page=1&page_size=1", "Gamma run", 3},
			{"?type=trans&status=Created", "Alpha run,Gamma run", 2},
			{"?parent=cp_000000000000000000000000", "", 0},
		} {
			m := e.must(http.StatusOK, "GET", v2Path("/campaigns"+tt.query), "")
			if got := names(m); got != tt.want || v2Dig(m, "metadata", "total") != tt.total {
				t.Errorf("%s: %q total %v, want %q total %v", tt.query, got, v2Dig(m, "metadata", "total"), tt.want, tt.total)
			}
		}
		m := e.must(http.StatusOK, "GET", v2Path("/campaigns?page=2&page_size=2"), "")
		if meta := v2Dig(m, "metadata").(map[string]any); meta["offset"] != 2.0 || meta["limit"] != 2.0 || meta["count"] != 1.0 {
			t.Errorf("metadata %v", meta)
		}
		for _, q := range []string{"?status=running", "?sort_by=status", "?sort_by=name:up", "?limit=501", "?offset=-1",
			"?page=0", "?page_size=x", "?parent=a%20b"} {
			rec := e.send("GET", v2Path("/campaigns"+q), "")
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
			}
		}
		// Deleted ones only when asked for.
		e.must(http.StatusOK, "DELETE", v2Path("/campaigns/"+ids["Alpha run"]), "")
		if got := names(e.must(http.StatusOK, "GET", v2Path("/campaigns"), "")); got != "Beta run,Gamma run" {
			t.Errorf("after delete: %s", got)
		}
		if got := names(e.must(http.StatusOK, "GET", v2Path("/campaigns?status=deleted"), "")); got != "Alpha run" {
			t.Errorf("deleted: %s", got)
		}
	})
}

func TestV2UpdateCampaign(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		id := e.createCampaign()
		path := v2Path("/campaigns/" + id)
		status := func(m map[string]any) string { return v2DigStr(m, "response", 0, "data", "status") }

		// Before it starts, any field (top-level body, as the new portal
		// shows it).
		m := e.must(http.StatusOK, "PUT", path, `{"name": "Renamed sale", "from": ["+919800000009"], "throttle": 12}`)
		if d := v2Dig(m, "response", 0, "data").(map[string]any); d["name"] != "Renamed sale" || d["throttle"] != 12.0 ||
			v2Dig(d, "from", 0) != "+919800000009" || v2Dig(m, "metadata", "success") != 1.0 {
			t.Errorf("update: %v", m)
		}
		for _, tt := range []struct {
			body   string
			status int
			msg    string
		}{
			{`{"action": "resume"}`, 409, "resume needs Paused"},
			{`{"action": "complete"}`, 409, "complete needs Paused"},
			{`{"action": "archive"}`, 409, "archive needs Completed"},
			{`{"action": "explode"}`, 400, "action \"explode\" is not valid"},
			{`{}`, 400, "nothing to update"},
			{`{"campaigns": [{"name": "A"}, {"name": "B"}]}`, 400, "at most 1"},
			{`{"throttle": 0}`, 400, "throttle"},
			{`{"url": "ftp://x.example/flow"}`, 400, "url"},
			{`{"caller_id": "+918047999999"}`, 404, "caller_id"},
			{`{"status_callback": "not a url"}`, 400, "status_callback"},
			{`{"name": 7}`, 400, "name"},
			{`{"campaigns": [{"action": "pause"}`, 400, "malformed"},
		} {
			rec := e.send("PUT", path, tt.body)
			ed := v2ErrorOf(callsJSON(t, rec))
			if rec.Code != tt.status || ed == nil || !strings.Contains(ed["description"].(string), tt.msg) {
				t.Errorf("%s: %d %s", tt.body, rec.Code, rec.Body)
			}
		}
		if got, _ := e.db.Campaigns().Get(t.Context(), envAccount, id); got.Name != "Renamed sale" || got.Throttle != 12 || got.Status != store.CampaignCreated {
			t.Errorf("refused updates changed the campaign: %+v", got)
		}

		// Paused before it started, resumed: Created again.
		if m := e.must(http.StatusOK, "PUT", path, `{"campaigns": [{"action": "pause"}]}`); status(m) != store.CampaignPaused {
			t.Errorf("pause: %v", m)
		}
		if m := e.must(http.StatusOK, "PUT", path, `{"campaigns": [{"action": "resume"}]}`); status(m) != store.CampaignCreated {
			t.Errorf("resume: %v", m)
		}

		// Started: only the callbacks, and the actions.
		lease, ok, err := e.db.Leases().Acquire(t.Context(), "dialer", "test", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, err := e.db.Campaigns().Start(t.Context(), lease, id, time.Now(), nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		rec := e.send("PUT", path, `{"name": "Too late", "status_callback": "https://crm.example/late"}`)
		if ed := v2ErrorOf(callsJSON(t, rec)); rec.Code != http.StatusConflict || !strings.Contains(ed["description"].(string), "has started") {
			t.Errorf("field after start: %d %s", rec.Code, rec.Body)
		}
		m = e.must(http.StatusOK, "PUT", path, `{"campaigns": [{"status_callback": " https://crm.example/v2 ", "call_status_callback": ""}]}`)
		if d := v2Dig(m, "response", 0, "data").(map[string]any); d["status_callback"] != "https://crm.example/v2" ||
			d["call_status_callback"] != nil || d["call_schedule_callback"] != "https://crm.example/number" || d["name"] != "Renamed sale" {
			t.Errorf("callbacks after start: %v", d)
		}
		rec = e.send("PUT", path, `{"action": "resume"}`)
		if ed := v2ErrorOf(callsJSON(t, rec)); rec.Code != http.StatusConflict || !strings.Contains(ed["description"].(string), "is InProgress") {
			t.Errorf("resume of a running campaign: %d %s", rec.Code, rec.Body)
		}
		if m := e.must(http.StatusOK, "PUT", path, `{"action": "pause", "call_schedule_callback": "https://crm.example/n2"}`); status(m) != store.CampaignPaused ||
			v2DigStr(m, "response", 0, "data", "call_schedule_callback") != "https://crm.example/n2" {
			t.Errorf("pause with a callback: %v", m)
		}

		// Complete: the numbers left end failed-no-attempt, and the end
		// status_callback is written with the report's URL.
		changes := e.changes.Load()
		m = e.must(http.StatusOK, "PUT", path, `{"campaigns": [{"action": "complete"}]}`)
		if status(m) != store.CampaignCompleted || v2Dig(m, "response", 0, "data", "stats", "failed-no-attempt") != 1.0 ||
			v2Dig(m, "response", 0, "data", "date_ended") == nil {
			t.Errorf("complete: %v", m)
		}
		if e.notified.Load() != 1 || e.changes.Load() != changes+1 {
			t.Errorf("complete: NotifyCallbacks %d, OnCampaignChange +%d", e.notified.Load(), e.changes.Load()-changes)
		}
		var cbs []store.Callback
		envMust(t, e.db.Gorm().Where("call_sid = ?", id).Order("seq").Find(&cbs).Error)
		if len(cbs) != 1 || cbs[0].URL != "https://crm.example/v2" || cbs[0].Event != "campaign_status" ||
			!strings.Contains(cbs[0].Payload, `"report_url":"`+v2PublicURL+`/v2/accounts/acme1/campaigns/`+id+`/call-details.csv"`) ||
			!strings.Contains(cbs[0].Payload, `"status":"Completed"`) {
			t.Errorf("end callbacks %+v", cbs)
		}
		if m := e.must(http.StatusOK, "PUT", path, `{"action": "archive"}`); status(m) != store.CampaignArchived {
			t.Errorf("archive: %v", m)
		}

		// Deleted: gone for the API.
		m = e.must(http.StatusOK, "DELETE", path, "")
		if v2Dig(m, "response", 0, "data", "deleted") != true || v2DigStr(m, "response", 0, "data", "id") != id {
			t.Errorf("delete: %v", m)
		}
		for _, method := range []string{"GET", "DELETE"} {
			if rec := e.send(method, path, ""); rec.Code != http.StatusNotFound {
				t.Errorf("%s after delete: %d", method, rec.Code)
			}
		}
	})
}

// A caller_id in any form Exotel's clients write resolves to the
// ExoPhone as stored.
func TestV2CampaignCallerIDForms(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		for _, form := range []string{"08047000001", "918047000001", "+91 80470 00001", "+918047000001"} {
			m := e.must(http.StatusOK, "POST", v2Path("/campaigns"), v2JSON(t, e.v2CampaignJSON("caller_id", form)))
			if got := v2DigStr(m, "response", 0, "data", "caller_id"); got != envExoPhone2 {
				t.Errorf("%s: caller_id %q", form, got)
			}
		}
	})
}

// The body of a request that is too large is still 413, the campaign
// routes keep the server's cap.
func TestV2BodyCap(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{MaxBody: 1024})
		rec := e.send("POST", v2Path("/campaigns"), v2JSON(t, e.v2CampaignJSON("name", strings.Repeat("x", 2000))))
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
		if !bytes.Contains(rec.Body.Bytes(), []byte(`"code":1004`)) {
			t.Errorf("code: %s", rec.Body)
		}
	})
}

func TestV2RecurringCampaignRuns(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		id := e.createCampaign("schedule", map[string]any{"send_at": "2099-01-14T10:00:00+05:30", "recurrence": "0 10 * * 1-5"},
			"timezone", "Asia/Kolkata")
		m := e.must(http.StatusOK, "GET", v2Path("/campaigns/"+id), "")
		sched := v2Dig(m, "response", 0, "data", "schedule").(map[string]any)
		if sched["recurrence"] != "0 10 * * 1-5" || sched["next_run_at"] != "2099-01-14T10:00:00+05:30" || sched["end_at"] != nil {
			t.Errorf("schedule %v", sched)
		}
		ctx := t.Context()
		parent, err := e.db.Campaigns().Get(ctx, envAccount, id)
		envMust(t, err)
		lease, ok, err := e.db.Leases().Acquire(ctx, "dialer", "test", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		run := *parent
		run.SID, run.Recurrence, run.NextRunAt, run.Status = "", "", nil, ""
		next := time.Now().Add(24 * time.Hour)
		if ok, err := e.db.Campaigns().Spawn(ctx, lease, parent, &run, &next); err != nil || !ok {
			t.Fatal(ok, err)
		}
		m = e.must(http.StatusOK, "GET", v2Path("/campaigns?parent="+id), "")
		if v2Dig(m, "metadata", "total") != 1.0 || v2DigStr(m, "response", 0, "data", "parent_campaign_sid") != id ||
			v2Dig(m, "response", 0, "data", "run") != 1.0 || v2DigStr(m, "response", 0, "data", "id") != run.SID {
			t.Errorf("runs: %v", m)
		}
		if m := e.must(http.StatusOK, "GET", v2Path("/campaigns"), ""); v2Dig(m, "metadata", "total") != 2.0 {
			t.Errorf("all: %v", v2Dig(m, "metadata"))
		}
		// Deleting the recurring campaign deletes its runs.
		e.must(http.StatusOK, "DELETE", v2Path("/campaigns/"+id), "")
		if rec := e.send("GET", v2Path("/campaigns/"+run.SID), ""); rec.Code != http.StatusNotFound {
			t.Errorf("run after its campaign's delete: %d", rec.Code)
		}
	})
}

package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// v3Envelope is a decoded v2/v3 answer.
type v3Envelope struct {
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	HTTPCode  int    `json:"http_code"`
	Response  struct {
		Code        int                        `json:"code"`
		Status      string                     `json:"status"`
		ErrorData   *errorData                 `json:"error_data"`
		CallDetails map[string]any             `json:"call_details"`
		LegDetails  map[string]json.RawMessage `json:"leg_details"`
	} `json:"response"`
}

func v3Decode(t *testing.T, body []byte) v3Envelope {
	t.Helper()
	var env v3Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not a v3 envelope: %v\n%s", err, body)
	}
	return env
}

const v3Body = `{"from": {"contact_uri": "+919800000001", "state_management": "true"},
	"to": {"contact_uri": "09800000002"}, "virtual_number": "08047000000",
	"recording": {"record": true, "channels": "dual"}, "max_time_limit": 600, "attempt_time_out": "30",
	"custom_field": "ticket-9",
	"status_callback": [{"event": "terminal", "url": "https://cb.example/t"}, {"event": "answered", "url": "https://cb.example/a"}]}`

func TestV3CreateCall(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		rec := e.v3post(v3Body, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		env := v3Decode(t, rec.Body.Bytes())
		if env.HTTPCode != 200 || env.Method != "POST" || env.Response.Status != "success" || env.Response.ErrorData != nil ||
			len(env.RequestID) != 32 {
			t.Errorf("envelope %+v", env)
		}
		d := env.Response.CallDetails
		want := map[string]any{"direction": "outbound", "virtual_number": envExoPhone, "state": "active",
			"status": nil, "legs": nil, "end_time": "1970-01-01 05:30:00+05:30", "custom_field": "ticket-9",
			"app_id": nil, "app_name": nil, "digits": nil, "recordings": []any{}, "total_duration": 0.0}
		for k, v := range want {
			if !reflect.DeepEqual(d[k], v) {
				t.Errorf("call_details.%s = %#v, want %#v", k, d[k], v)
			}
		}
		if sid, _ := d["sid"].(string); !store.ValidSID(sid) {
			t.Errorf("sid %v", d["sid"])
		}
		got := e.placer.requests()[0]
		wantReq := call.OutboundRequest{AccountSID: envAccount, From: "+919800000001", To: "09800000002",
			CallerID: envExoPhone, CallType: "trans", TimeLimit: 600, TimeOut: 30, Record: true,
			RecordingChannels: "dual", CustomField: "ticket-9", StatusCallbackContentType: store.ContentJSON,
			StatusCallbackEvents: []string{"terminal", "answered"},
			StatusCallbackURLs:   map[string]string{"terminal": "https://cb.example/t", "answered": "https://cb.example/a"},
			HoldFrom:             true}
		if !reflect.DeepEqual(got, wantReq) {
			t.Errorf("placed\n %+v\nwant\n %+v", got, wantReq)
		}

		// state_management holds from: a second call from it is busy.
		rec = e.v3post(v3Body, nil)
		env = v3Decode(t, rec.Body.Bytes())
		if rec.Code != http.StatusConflict || env.Response.ErrorData == nil || env.Response.ErrorData.Code != CodeDeviceBusy {
			t.Errorf("second call from a held contact: %d %s", rec.Code, rec.Body)
		}
		if n := e.callRows(); n != 1 {
			t.Errorf("%d call rows", n)
		}
	})
}

// 0 (what a client sends for an integer it leaves unset) is the default.
func TestV3CreateCallZeroMeansDefault(t *testing.T) {
	e := newCallsEnv(t)
	body := `{"from": {"contact_uri": "+919800000001"}, "to": {"contact_uri": "+919800000002"},
		"virtual_number": "+918047000000", "max_time_limit": 0, "attempt_time_out": 0}`
	rec := e.v3post(body, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := e.placer.requests()[0]; got.TimeLimit != 0 || got.TimeOut != 0 {
		t.Errorf("placed with TimeLimit %d, TimeOut %d; want the defaults (0)", got.TimeLimit, got.TimeOut)
	}
}

func TestV3CreateCallPortalShape(t *testing.T) {
	e := newCallsEnv(t)
	body := `{"from": {"user_contact_uri": "sip:agent7@pbx.example"}, "to": {"number": "+919800000002"},
		"virtual_number": "+918047000001", "recording": true, "recording_channels": "single",
		"wait_audio_url": "https://x.example/wait.wav", "max_time_limit": "120", "attempt_time_out": 20}`
	rec := e.v3post(body, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := e.placer.requests()[0]
	want := call.OutboundRequest{AccountSID: envAccount, From: "sip:agent7@pbx.example", To: "+919800000002",
		CallerID: envExoPhone2, CallType: "trans", TimeLimit: 120, TimeOut: 20, Record: true, RecordingChannels: "single",
		WaitURL: "https://x.example/wait.wav", StatusCallbackContentType: store.ContentJSON, HoldFrom: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("placed\n %+v\nwant\n %+v", got, want)
	}
	// state_management false, as a real boolean.
	rec = e.v3post(`{"from": {"contact_uri": "+919800000003", "state_management": false},
		"to": {"contact_uri": "+919800000004"}, "virtual_number": "918047000000", "recording": {"record": false}}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := e.placer.requests()[1]; got.HoldFrom || got.Record {
		t.Errorf("placed %+v", got)
	}
	// from.user_id: the user's first device, held.
	u, err := e.db.Users().Create(t.Context(), envAccount, store.UserInput{Name: "Asha", Devices: []string{"+919800000007", "sip:asha@pbx.example"}})
	if err != nil {
		t.Fatal(err)
	}
	rec = e.v3post(`{"from": {"user_id": "`+u.SID+`"}, "to": {"number": "+919800000004"}, "virtual_number": "918047000000"}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := e.placer.requests()[2]; got.From != "+919800000007" || !got.HoldFrom {
		t.Errorf("placed for a user %+v", got)
	}
}

func TestV3CreateCallRejects(t *testing.T) {
	e := newCallsEnvOn(t, storetest.SQLiteDSN, Options{MaxBody: 2048})
	// body builds a request from the valid one with fields replaced
	// (a nil value deletes the field).
	body := func(kv ...any) string {
		m := map[string]any{
			"from": map[string]any{"contact_uri": "+919800000001"}, "to": map[string]any{"contact_uri": "+919800000002"},
			"virtual_number": "+918047000000",
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		b, err := json.Marshal(m)
		envMust(t, err)
		return string(b)
	}
	from := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		body   string
		ct     string
		status int
		code   int
		msg    string
	}{
		{"no from", body("from", nil), "", 400, CodeBadRequest, "from is required"},
		{"empty from", body("from", from()), "", 400, CodeBadRequest, "from.contact_uri is required"},
		{"bad from", body("from", from("contact_uri", "alice")), "", 400, CodeBadRequest, "from.contact_uri \"alice\" is not a valid phone number"},
		{"two froms", body("from", from("contact_uri", "+919800000001", "user_contact_uri", "+919800000003")), "", 400, CodeBadRequest, "not both"},
		{"user_id", body("from", from("user_id", "u-1")), "", 404, CodeUserNotFound, "user u-1 not found"},
		{"state_management text", body("from", from("contact_uri", "+919800000001", "state_management", "yes")), "", 400, CodeBadRequest, "state_management must be true or false"},
		{"state_management number", body("from", from("contact_uri", "+919800000001", "state_management", 1)), "", 400, CodeBadRequest, "state_management"},
		{"no to", body("to", nil), "", 400, CodeBadRequest, "to is required"},
		{"empty to", body("to", from()), "", 400, CodeBadRequest, "to.contact_uri is required"},
		{"sip to", body("to", from("contact_uri", "sip:a@b.example")), "", 400, CodeBadRequest, "to.contact_uri"},
		{"injected from", body("from", from("contact_uri", "sip:a@b.example,loopback/+15550100031/switchyard_testnet")), "", 400, CodeBadRequest, "from.contact_uri"},
		{"two tos", body("to", from("contact_uri", "+919800000002", "number", "+919800000003")), "", 400, CodeBadRequest, "not both"},
		{"no virtual_number", body("virtual_number", nil), "", 400, CodeBadRequest, "virtual_number is required"},
		{"unknown virtual_number", body("virtual_number", "+918047999999"), "", 404, CodeNumberNotFound, "virtual number +918047999999 not found"},
		{"other account's virtual_number", body("virtual_number", envOtherPhone), "", 404, CodeNumberNotFound, "not found"},
		{"bad virtual_number", body("virtual_number", "main line"), "", 400, CodeBadRequest, "virtual_number"},
		{"recording text", body("recording", "sometimes"), "", 400, CodeBadRequest, "recording must be true or false"},
		{"recording unknown key", body("recording", from("record", true, "format", "wav")), "", 400, CodeBadRequest, "recording"},
		{"recording channels", body("recording", from("record", true, "channels", "stereo")), "", 400, CodeBadRequest, "recording channels \"stereo\""},
		{"recording channels disagree", body("recording", from("record", true, "channels", "dual"), "recording_channels", "single"), "", 400, CodeBadRequest, "disagree"},
		{"max_time_limit negative", body("max_time_limit", -1), "", 400, CodeBadRequest, "max_time_limit"},
		{"max_time_limit big", body("max_time_limit", 14401), "", 400, CodeBadRequest, "max_time_limit"},
		{"max_time_limit fraction", body("max_time_limit", 1.5), "", 400, CodeBadRequest, "max_time_limit"},
		{"attempt_time_out text", body("attempt_time_out", "soon"), "", 400, CodeBadRequest, "attempt_time_out"},
		{"wait_audio_url", body("wait_audio_url", "x.wav"), "", 400, CodeBadRequest, "wait_audio_url"},
		{"custom_field long", body("custom_field", strings.Repeat("x", 129)), "", 400, CodeBadRequest, "custom_field is 129"},
		{"status_callback event", body("status_callback", []any{from("event", "ringing", "url", "https://cb.example")}), "", 400, CodeBadRequest, "status_callback[0].event"},
		{"status_callback url", body("status_callback", []any{from("event", "terminal", "url", "cb")}), "", 400, CodeBadRequest, "status_callback[0].url"},
		{"status_callback twice", body("status_callback", []any{from("event", "terminal", "url", "https://a.example"), from("event", "terminal", "url", "https://b.example")}), "", 400, CodeBadRequest, "twice"},
		{"unknown field", body("stream", from("url", "wss://x.example")), "", 400, CodeBadRequest, "stream"},
		{"wrong type", body("custom_field", 7), "", 400, CodeBadRequest, "custom_field"},
		{"malformed JSON", `{"from": `, "", 400, CodeBadRequest, "malformed"},
		{"trailing data", body() + " {}", "", 400, CodeBadRequest, "after the JSON value"},
		{"form body", "From=1", "application/x-www-form-urlencoded", 415, CodeUnsupportedMedia, "application/json"},
		{"oversize", body("custom_field", strings.Repeat("x", 3000)), "", 413, CodeTooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = "application/json"
			}
			rec := e.do(envReq{method: http.MethodPost, path: "/v3/accounts/acme1/calls", body: tt.body, contentType: ct})
			env := v3Decode(t, rec.Body.Bytes())
			if rec.Code != tt.status || env.HTTPCode != tt.status || env.Response.Status != "failure" || env.Response.ErrorData == nil {
				t.Fatalf("%d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ed := env.Response.ErrorData; ed.Code != tt.code || !strings.Contains(ed.Description, tt.msg) {
				t.Errorf("error_data %+v, want code %d and a description containing %q", ed, tt.code, tt.msg)
			}
		})
	}
	if n := len(e.placer.requests()); n != 0 {
		t.Errorf("Place called %d times", n)
	}
	if n := e.callRows(); n != 0 {
		t.Errorf("%d call rows created", n)
	}
}

func TestV3CreateCallIdempotency(t *testing.T) {
	e := newCallsEnv(t)
	key := http.Header{"Idempotency-Key": {"k-1"}}
	first := e.v3post(v3Body, key)
	if first.Code != http.StatusOK {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	sid := v3Decode(t, first.Body.Bytes()).Response.CallDetails["sid"]
	// The replay is not refused as busy: it is the same call.
	again := e.v3post(strings.Replace(v3Body, `"state_management": "true"`, `"state_management": true`, 1), key)
	if again.Code != http.StatusOK || v3Decode(t, again.Body.Bytes()).Response.CallDetails["sid"] != sid {
		t.Fatalf("replay: %d %s", again.Code, again.Body)
	}
	other := e.v3post(strings.Replace(v3Body, "ticket-9", "ticket-10", 1), key)
	env := v3Decode(t, other.Body.Bytes())
	if other.Code != http.StatusConflict || env.Response.ErrorData.Code != CodeConflict {
		t.Errorf("mismatch: %d %s", other.Code, other.Body)
	}
	if n := e.callRows(); n != 1 {
		t.Errorf("%d call rows", n)
	}
}

func TestV3CreateCallPlaceErrors(t *testing.T) {
	tests := []struct {
		err          error
		status, code int
	}{
		{fmt.Errorf("x: %w", store.ErrBusy), 409, CodeDeviceBusy},
		{fmt.Errorf("x: %w", call.ErrNotExoPhone), 404, CodeNumberNotFound},
		{fmt.Errorf("x: %w", store.ErrIdempotencyMismatch), 409, CodeConflict},
		{fmt.Errorf("x: %w", call.ErrNoNode), 503, CodeUnavailable},
		{fmt.Errorf("x: boom"), 500, CodeInternal},
	}
	e := newCallsEnv(t)
	for _, tt := range tests {
		e.placer.fail(tt.err)
		rec := e.v3post(v3Body, nil)
		env := v3Decode(t, rec.Body.Bytes())
		if rec.Code != tt.status || env.Response.ErrorData == nil || env.Response.ErrorData.Code != tt.code {
			t.Errorf("%v: %d %s", tt.err, rec.Code, rec.Body)
		}
	}
}

// v3Masked hides what changes between runs: the request id and the
// expiry and signature of pre-signed URLs.
var v3Masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"request_id":"[0-9a-f]{32}"`), `"request_id":"<request-id>"`},
	{regexp.MustCompile(`Expires=[0-9]+&Signature=[0-9a-f]+`), `Expires=<expires>&Signature=<signature>`},
}

func TestV3CallGolden(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		e.seedGolden()
		for _, g := range []struct{ file, path string }{
			{"v3_call_completed.json", envGoldenSID},
			{"v3_call_live.json", envGoldenLive},
			{"v3_call_flow.json", envGoldenFlowed},
			{"v3_call_legs.json", envGoldenSID + "/legs"},
			{"v3_call_legs_live.json", envGoldenLive + "/legs"},
		} {
			rec := e.get("/v3/accounts/acme1/calls/" + g.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", g.path, rec.Code, rec.Body)
			}
			b := rec.Body.Bytes()
			for _, m := range v3Masks {
				b = m.re.ReplaceAll(b, []byte(m.with))
			}
			callsGolden(t, g.file, callsGoldenBody(t, b, true))
		}
	})
}

func TestV3CallRecordingsPresigned(t *testing.T) {
	e := newCallsEnv(t)
	e.seedGolden()
	rec := e.get("/v3/accounts/acme1/calls/" + envGoldenSID)
	d := v3Decode(t, rec.Body.Bytes()).Response.CallDetails
	recs, _ := d["recordings"].([]any)
	if len(recs) != 1 {
		t.Fatalf("recordings %v", d["recordings"])
	}
	raw := recs[0].(map[string]any)["url"].(string)
	u := mustParseURL(t, raw)
	if !e.srv.presigned(u.Path, u.Query(), time.Now()) || e.srv.presigned(u.Path, u.Query(), time.Now().Add(v3RecordingValidity+time.Minute)) {
		t.Errorf("recording URL %q is not pre-signed for %v", raw, v3RecordingValidity)
	}
}

func TestV3CallNotFound(t *testing.T) {
	e := newCallsEnv(t)
	other := &store.Call{AccountSID: envOther, Direction: store.DirectionOutboundAPI, From: "1234567", PhoneNumber: envOtherPhone}
	envMust(t, e.db.Calls().Create(t.Context(), other))
	for _, sid := range []string{other.SID, store.NewSID(), "nope"} {
		for _, suffix := range []string{"", "/legs"} {
			rec := e.get("/v3/accounts/acme1/calls/" + sid + suffix)
			env := v3Decode(t, rec.Body.Bytes())
			if rec.Code != http.StatusNotFound || env.Response.ErrorData == nil || env.Response.ErrorData.Code != CodeCallNotFound {
				t.Errorf("%s%s: %d %s", sid, suffix, rec.Code, rec.Body)
			}
		}
	}
}

func TestV3Status(t *testing.T) {
	at := time.Now()
	leg := func(seq int, st store.Status, answered bool) store.Leg {
		l := store.Leg{Seq: seq, Status: st}
		if answered {
			l.AnswerTime = &at
		}
		return l
	}
	flow := "fl_1"
	api := &store.Call{Direction: store.DirectionOutboundAPI}
	flowCall := &store.Call{Direction: store.DirectionOutboundAPI, FlowID: &flow}
	inbound := &store.Call{Direction: store.DirectionInbound}
	tests := []struct {
		name string
		call *store.Call
		legs []store.Leg
		want string
	}{
		{"no legs", api, nil, "from_leg_no_dial"},
		{"from failed", api, []store.Leg{leg(1, store.Failed, false)}, "from_leg_no_dial"},
		{"from busy", api, []store.Leg{leg(1, store.Busy, false)}, "from_leg_unanswered"},
		{"from no answer", api, []store.Leg{leg(1, store.NoAnswer, false)}, "from_leg_unanswered"},
		{"from cancelled", api, []store.Leg{leg(1, store.Canceled, false)}, "from_leg_unanswered"},
		{"caller hung up", inbound, []store.Leg{leg(1, store.Canceled, false)}, "from_leg_cancelled"},
		{"to never dialled", api, []store.Leg{leg(1, store.Completed, true)}, "to_leg_no_dial"},
		{"flow ran", flowCall, []store.Leg{leg(1, store.Completed, true)}, "completed"},
		{"ivr only", inbound, []store.Leg{leg(1, store.Completed, true)}, "completed"},
		{"connected", api, []store.Leg{leg(1, store.Completed, true), leg(2, store.Completed, true)}, "completed"},
		{"to busy", api, []store.Leg{leg(1, store.Completed, true), leg(2, store.Busy, false)}, "to_leg_unanswered"},
		{"to no answer", api, []store.Leg{leg(1, store.Completed, true), leg(2, store.NoAnswer, false)}, "to_leg_unanswered"},
		{"to failed", api, []store.Leg{leg(1, store.Completed, true), leg(2, store.Failed, false)}, "to_leg_no_dial"},
		{"from hung up while to rang", api, []store.Leg{leg(1, store.Completed, true), leg(2, store.Canceled, false)}, "from_leg_cancelled"},
		{"one of several agents answered", inbound, []store.Leg{leg(1, store.Completed, true), leg(2, store.Canceled, false),
			leg(3, store.Completed, true)}, "completed"},
		{"no agent answered", inbound, []store.Leg{leg(1, store.Completed, true), leg(2, store.NoAnswer, false),
			leg(3, store.Failed, false)}, "to_leg_unanswered"},
	}
	for _, tt := range tests {
		if got := v3Status(tt.call, tt.legs); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("URL %q: %v", raw, err)
	}
	return u
}

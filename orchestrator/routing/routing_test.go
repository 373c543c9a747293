package routing_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/routing"
	"github.com/switchyard/switchyard/orchestrator/store"
)

const jsonType = "application/json"

// v10Example is the answer of the reference's §5.5, verbatim.
const v10Example = `{"fetch_after_attempt": false,
 "destination": {"numbers": ["+919800000001", "+919800000002"]},
 "outgoing_phone_number": "08047000000",
 "record": true, "recording_channels": "dual",
 "max_ringing_duration": 45, "max_conversation_duration": 3600,
 "music_on_hold": {"type": "operator_tone"},
 "start_call_playback": {"playback_to": "both", "type": "text", "value": "Connecting you now"},
 "parallel_ringing": {"activate": true, "max_parallel_attempts": 2},
 "dial_passthru_event_url": "https://crm.example/dial-events"}`

// v11Example is the CCM answer of seeds/004, made valid JSON: its masked
// digits (xxxxx) filled in.
const v11Example = `{
  "fetch_after_attempt": false,
  "destination": [
    {"contact_uri": "+919876543210"},
    {"contact_uri": "sip:gauravjfb55d386"},
    {"contact_uri": "+919812378763"}
  ],
  "state_management": true,
  "outgoing_phone_number": "08047054123",
  "sticky_agent": false,
  "recording": {
    "record": true,
    "channels": "single"
  },
  "max_ringing_duration": 30,
  "max_conversation_duration": 900,
  "music_on_hold": {
    "type": "default_tone"
  },
  "parallel_ringing": {
    "activate": true,
    "max_parallel_attempts": 5
  },
  "call_event_passthru_url": "http://dial_passthru_event_url.com",
  "start_call_playback": {
    "type": "text",
    "value": "hello, this is a sample text"
  }
}`

// v10 is a v1.0 answer dialling one number with extra fields.
func v10(extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `{"destination": {"numbers": ["+919800000001"]}` + extra + `}`
}

// TestMalformedAnswers: every answer that is no usable plan fails the
// connect with a reason naming the field, logged as a failed request.
func TestMalformedAnswers(t *testing.T) {
	tooMany := make([]string, flows.MaxDestinations+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf(`"+9198000%05d"`, i)
	}
	overLimit := v10(`"pad": "` + strings.Repeat("x", routing.DefaultMaxBody) + `"`)

	for _, tc := range []struct {
		name   string
		status int // 0: the handler never answers (a timeout)
		ct     string
		body   string
		want   string
	}{
		{"status 500", 500, jsonType, v10(""), "HTTP status 500 Internal Server Error"},
		{"status 404", 404, "text/plain", "no such page", "HTTP status 404 Not Found"},
		{"status 302", 302, jsonType, v10(""), "HTTP status 302 Found (redirects are not followed)"},
		{"timeout", 0, "", "", "timeout after 1s"},
		{"empty body", 200, jsonType, "", "response body is empty"},
		{"204 no content", 204, "", "", "response body is empty"},
		{"not JSON", 200, jsonType, "+919800000001,+919800000002", `response is not JSON (starts "+919800000001,+91980...")`},
		{"plain text not numbers", 200, "text/plain", "call alice", `numbers[0]: not a phone number or sip: URI (got "call alice")`},
		{"broken JSON", 200, jsonType, `{"destination": {"numbers": [`, "response is not valid JSON: unexpected end of JSON input"},
		{"JSON array", 200, jsonType, `[{"contact_uri": "+919800000001"}]`, "response must be a JSON object (got an array)"},
		{"HTML", 200, "text/html; charset=utf-8", "<html><body>" + v10("") + "</body></html>", `response Content-Type must be application/json (got "text/html")`},
		{"destination missing", 200, jsonType, `{"numbers": ["+919800000001"]}`, "destination: missing"},
		{"destination null", 200, jsonType, `{"destination": null}`, "destination: missing"},
		{"destination a string", 200, jsonType, `{"destination": "+919800000001"}`, `destination: must be an object with "numbers" (v1.0) or an array of objects with "contact_uri" (v1.1) (got a string)`},
		{"destination object without numbers", 200, jsonType, `{"destination": {"number": "+919800000001"}}`, `destination: an object needs "numbers"`},
		{"numbers not an array", 200, jsonType, `{"destination": {"numbers": "+919800000001"}}`, "destination.numbers: must be an array of strings (got a string)"},
		{"number abc", 200, jsonType, `{"destination": {"numbers": ["+919800000001", "abc"]}}`, `destination.numbers[1]: not a phone number or sip: URI (got "abc")`},
		{"number as a JSON number", 200, jsonType, `{"destination": {"numbers": [919800000001]}}`, "destination.numbers[0]: must be a string (got a number 919800000001)"},
		{"number too short", 200, jsonType, `{"destination": {"numbers": ["0012"]}}`, `destination.numbers[0]: not a phone number or sip: URI (got "0012")`},
		{"SIP URI breaking a dial string", 200, jsonType, `{"destination": [{"contact_uri": "sip:a|b"}]}`, `destination[0].contact_uri: not a phone number or sip: URI (got "sip:a|b")`},
		{"v1.1 item without contact_uri", 200, jsonType, `{"destination": [{"contact_uri": "+919800000001"}, {"number": "+919800000002"}]}`, "destination[1].contact_uri: missing"},
		{"v1.1 item a string", 200, jsonType, `{"destination": ["+919800000001"]}`, `destination[0]: must be an object with "contact_uri" (got a string)`},
		{"v1.1 contact_uri a number", 200, jsonType, `{"destination": [{"contact_uri": 919800000001}]}`, "destination[0].contact_uri: must be a string (got a number 919800000001)"},
		{"too many destinations", 200, jsonType, `{"destination": {"numbers": [` + strings.Join(tooMany, ",") + `]}}`, "destination: at most 50 destinations (got 51)"},
		{"ringing duration too long", 200, jsonType, v10(`"max_ringing_duration": 500`), "max_ringing_duration: must be 5..120 seconds (got 500)"},
		{"ringing duration too short", 200, jsonType, v10(`"max_ringing_duration": 2`), "max_ringing_duration: must be 5..120 seconds (got 2)"},
		{"string where int belongs", 200, jsonType, v10(`"max_ringing_duration": "45"`), `max_ringing_duration: must be a number (got a string "45")`},
		{"fractional conversation", 200, jsonType, v10(`"max_conversation_duration": 90.5`), "max_conversation_duration: must be a whole number (got 90.5)"},
		{"conversation too long", 200, jsonType, v10(`"max_conversation_duration": 86400`), "max_conversation_duration: must be 0..14400 seconds (got 86400)"},
		{"record a string", 200, jsonType, v10(`"record": "true"`), `record: must be true or false (got a string "true")`},
		{"bad recording channels", 200, jsonType, v10(`"recording": {"record": true, "channels": "stereo"}`), `recording.channels: must be single or dual (got "stereo")`},
		{"parallel max 0", 200, jsonType, v10(`"parallel_ringing": {"activate": true, "max_parallel_attempts": 0}`), "parallel_ringing.max_parallel_attempts: must be 1..10 (got 0)"},
		{"parallel max 11", 200, jsonType, v10(`"parallel_ringing": {"activate": true, "max_parallel_attempts": 11}`), "parallel_ringing.max_parallel_attempts: must be 1..10 (got 11)"},
		{"parallel_ringing a boolean", 200, jsonType, v10(`"parallel_ringing": true`), "parallel_ringing: must be an object (got a boolean)"},
		{"unknown music type", 200, jsonType, v10(`"music_on_hold": {"type": "jazz"}`), `music_on_hold.type: must be operator_tone, default_tone, audio_url or none (got "jazz")`},
		{"music without type", 200, jsonType, v10(`"music_on_hold": {"value": "https://moh.example/a.wav"}`), "music_on_hold.type: missing"},
		{"music audio_url not a URL", 200, jsonType, v10(`"music_on_hold": {"type": "audio_url", "value": "moh.wav"}`), `music_on_hold.value: must be an absolute http or https URL (got "moh.wav")`},
		{"playback without value", 200, jsonType, v10(`"start_call_playback": {"type": "text"}`), "start_call_playback.value: missing"},
		{"playback unknown type", 200, jsonType, v10(`"start_call_playback": {"type": "ssml", "value": "<speak/>"}`), `start_call_playback.type: must be text or audio_url (got "ssml")`},
		{"playback to the caller", 200, jsonType, v10(`"start_call_playback": {"playback_to": "caller", "type": "text", "value": "hi"}`), `start_call_playback.playback_to: must be callee or both (got "caller")`},
		{"bad v1.0 event URL", 200, jsonType, v10(`"dial_passthru_event_url": "ftp://crm.example/events"`), `dial_passthru_event_url: must be an absolute http or https URL (got "ftp://crm.example/events")`},
		{"bad v1.1 event URL", 200, jsonType, `{"destination": [], "call_event_passthru_url": "/events"}`, `call_event_passthru_url: must be an absolute http or https URL (got "/events")`},
		{"trunk id", 200, jsonType, `{"destination": {"trunk": "trk/1"}}`, "destination.trunk: not a trunk ID"},
		{"trunk params", 200, jsonType, `{"destination": {"trunk": "trk_1"}, "custom_params": "a=1,2"}`, `custom_params: "a"="1,2" cannot be sent as a SIP header`},
		{"trunk params count", 200, jsonType, `{"destination": {"trunk": "trk_1"}, "custom_params": "a=1&b=2&c=3&d=4"}`, "custom_params: at most 3 parameters"},
		{"outgoing number not a number", 200, jsonType, v10(`"outgoing_phone_number": "main line"`), `outgoing_phone_number: not a phone number (got "main line")`},
		{"outgoing number not an ExoPhone", 200, jsonType, v10(`"outgoing_phone_number": "08047999999"`), `outgoing_phone_number "08047999999" is not an ExoPhone of this account`},
		{"body over the limit", 200, jsonType, overLimit, "response body over 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var u string
			if tc.status == 0 {
				release := make(chan struct{})
				t.Cleanup(func() { close(release) }) // runs before the server closes
				u = f.route("/plan", func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done(): // the planner gave up
					case <-release:
					}
				})
			} else {
				u = f.reply("/plan", tc.status, tc.ct, tc.body)
				if tc.status/100 == 3 {
					f.route("/plan", func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, "/elsewhere", tc.status)
					})
				}
			}
			d := dial(u)
			if tc.status == 0 {
				d.Timeout = 1
			}
			plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
			if err == nil {
				t.Fatalf("Plan = %+v, want an error", plan)
			}
			t.Logf("reason: %v", err)
			if plan != nil {
				t.Errorf("Plan returned a plan with its error: %+v", plan)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "url: ") {
				t.Errorf("error = %q, want it to name the url field", err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("the CRM got %d requests, want 1", n)
			}
			rows := f.rows(t)
			if len(rows) != 1 {
				t.Fatalf("logged %d requests, want 1: %+v", len(rows), rows)
			}
			r := rows[0]
			if r.Kind != store.RequestConnect || r.Outcome != routing.OutcomeFailed || r.Method != "GET" ||
				r.URL != u || r.Applet != "connect1" || r.HTTPStatus != tc.status {
				t.Errorf("row = %+v", r)
			}
			if !strings.Contains(r.Error, tc.want) || "url: "+r.Error != err.Error() {
				t.Errorf("row error = %q, want the reason %q", r.Error, err)
			}
			if tc.status != 0 && tc.status/100 != 3 && !strings.HasPrefix(tc.body, r.Response) {
				t.Errorf("row response = %q, want the start of the body", r.Response)
			}
			if len(r.Response) > routing.DefaultResponseLog {
				t.Errorf("row response is %d bytes", len(r.Response))
			}
		})
	}
}

// TestV10Example is the reference's §5.5 answer.
func TestV10Example(t *testing.T) {
	f := newFixture(t)
	u := f.reply("/plan", 200, "application/json; charset=utf-8", v10Example)
	d := dial(u)
	d.StickyPeriod = 600
	plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &call.Plan{Version: "1.0", Dial: flows.Dial{
		Applet:            "connect1",
		Destinations:      []string{"+919800000001", "+919800000002"},
		Strategy:          flows.Parallel,
		RingTimeout:       45,
		Record:            true,
		RecordingChannels: "dual",
		CallerID:          exoPhone, // 08047000000, the ExoPhone as stored
		MaxConversation:   3600,
		MusicOnHold:       routing.OperatorTone,
		URL:               u,
		Timeout:           3,
		MaxParallel:       2,
		StickyPeriod:      600,
		DialEventURL:      "https://crm.example/dial-events",
		StartPlayback:     &flows.Playback{To: "both", Prompt: flows.Prompt{Text: "Connecting you now"}},
	}}
	if !reflect.DeepEqual(plan, want) {
		t.Errorf("plan =\n%+v\nwant\n%+v", plan, want)
	}
	rows := f.rows(t)
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	if r := rows[0]; r.Kind != "connect" || r.Outcome != "success" || r.Error != "" || r.HTTPStatus != 200 ||
		r.Response != v10Example || r.URL != u || r.Applet != "connect1" {
		t.Errorf("row = %+v", r)
	}
}

// TestV11Example is the CCM answer of seeds/004.
func TestV11Example(t *testing.T) {
	f := newFixture(t)
	f.addNumber(t, "+918047054123")
	u := f.reply("/plan", 200, jsonType, v11Example)
	d := dial(u)
	d.StickyPeriod = 3600
	d.MusicOnHold = "https://moh.example/hold.wav"
	d.Record = false
	plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &call.Plan{Version: "1.1", Dial: flows.Dial{
		Applet:            "connect1",
		Destinations:      []string{"+919876543210", "sip:gauravjfb55d386", "+919812378763"},
		Strategy:          flows.Parallel,
		RingTimeout:       30,
		Record:            true,
		RecordingChannels: "single",
		CallerID:          "+918047054123",
		MaxConversation:   900,
		MusicOnHold:       "", // default_tone: the media node's ringback
		URL:               u,
		Timeout:           3,
		MaxParallel:       5,
		StateManagement:   true,
		StickyPeriod:      0, // sticky_agent false
		DialEventURL:      "http://dial_passthru_event_url.com",
		StartPlayback:     &flows.Playback{To: "callee", Prompt: flows.Prompt{Text: "hello, this is a sample text"}},
	}}
	if !reflect.DeepEqual(plan, want) {
		t.Errorf("plan =\n%+v\nwant\n%+v", plan, want)
	}
}

// TestRequest: the request carries Exotel's parameters and headers, the
// digits quoted as passthru does.
func TestRequest(t *testing.T) {
	f := newFixture(t)
	f.info.State.Digits = "123"
	f.info.State.Call.CustomField = "order-7"
	u := f.reply("/plan", 200, jsonType, v10(""))
	plan, err := f.planner(routing.Config{UserAgent: "test-agent"}).Plan(t.Context(), f.info, dial(u+"?token=abc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Version != "1.0" || !reflect.DeepEqual(plan.Dial.Destinations, []string{"+919800000001"}) {
		t.Errorf("plan = %+v", plan)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %+v", reqs)
	}
	r := reqs[0]
	if got := r.header.Get("Exotel-Version"); got != "1.0" {
		t.Errorf("Exotel-Version = %q, want 1.0", got)
	}
	if got := r.header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if got := r.header.Get("User-Agent"); got != "test-agent" {
		t.Errorf("User-Agent = %q", got)
	}
	if !strings.HasPrefix(r.rawQuery, "token=abc&") {
		t.Errorf("query = %q: the URL's own query is lost", r.rawQuery)
	}
	if !strings.Contains(r.rawQuery, "digits=%22123%22") {
		t.Errorf("query = %q: want the digits quoted", r.rawQuery)
	}
	q := r.query
	for k, want := range map[string]string{
		"CallSid": f.info.CallSid, "CallFrom": "+15550100001", "CallTo": exoPhone,
		"From": "+15550100001", "To": exoPhone, "Direction": "incoming",
		"Created": "2026-03-01 15:30:00", "StartTime": "2026-03-01 15:30:00",
		"CurrentTime": "2026-03-01 15:31:30", "CallStatus": "in-progress",
		"DialWhomNumber": "", "DialCallDuration": "0", "digits": `"123"`,
		"CustomField": "order-7", "flow_id": "fl_main", "tenant_id": "acme1",
	} {
		if got, ok := q[k]; !ok || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Has("DialCallStatus") {
		t.Errorf("DialCallStatus = %q before any attempt", q.Get("DialCallStatus"))
	}
}

// TestFetchAfterAttempt: a request after an attempt tells how it went.
func TestFetchAfterAttempt(t *testing.T) {
	f := newFixture(t)
	f.info.State.DialStatus = flows.DialBusy // an earlier connect's
	f.info.State.DialWhom = "+919800000009"
	u := f.reply("/plan", 200, jsonType, `{"fetch_after_attempt": true, "destination": [{"contact_uri": "+919800000003"}]}`)
	last := &call.Attempt{Status: flows.DialNoAnswer, Whom: "+919800000001,+919800000002", Duration: 31}
	plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, dial(u), last)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.FetchAfterAttempt || plan.Version != "1.1" || !reflect.DeepEqual(plan.Dial.Destinations, []string{"+919800000003"}) {
		t.Errorf("plan = %+v", plan)
	}
	q := f.requests()[0].query
	for k, want := range map[string]string{
		"DialCallStatus": "no-answer", "DialWhomNumber": "+919800000001,+919800000002", "DialCallDuration": "31",
	} {
		if got := q[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// TestFallback: the fallback URL is asked when the URL fails, and only
// then.
func TestFallback(t *testing.T) {
	t.Run("used", func(t *testing.T) {
		f := newFixture(t)
		d := dial(f.reply("/plan", 503, "text/plain", "down"))
		d.FallbackURL = f.reply("/backup", 200, jsonType, `{"destination": {"numbers": ["+919800000004"]}}`)
		plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plan.Dial.Destinations, []string{"+919800000004"}) {
			t.Errorf("plan = %+v", plan)
		}
		reqs := f.requests()
		if len(reqs) != 2 || reqs[0].path != "/plan" || reqs[1].path != "/backup" ||
			reqs[1].header.Get("Exotel-Version") != "1.0" || reqs[1].query.Get("CallSid") != f.info.CallSid {
			t.Errorf("requests = %+v", reqs)
		}
		rows := f.rows(t)
		if len(rows) != 2 || rows[0].Outcome != "failed" || rows[0].HTTPStatus != 503 || rows[0].URL != d.URL ||
			rows[1].Outcome != "success" || rows[1].URL != d.FallbackURL {
			t.Errorf("rows = %+v", rows)
		}
	})
	t.Run("not needed", func(t *testing.T) {
		f := newFixture(t)
		d := dial(f.reply("/plan", 200, jsonType, v10("")))
		d.FallbackURL = f.reply("/backup", 500, "", "")
		if _, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil); err != nil {
			t.Fatal(err)
		}
		if reqs := f.requests(); len(reqs) != 1 {
			t.Errorf("requests = %+v", reqs)
		}
	})
	t.Run("both fail", func(t *testing.T) {
		f := newFixture(t)
		d := dial(f.reply("/plan", 500, "", ""))
		d.FallbackURL = f.reply("/backup", 200, jsonType, `{"destination": "nobody"}`)
		_, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
		want := `url: HTTP status 500 Internal Server Error; fallback_url: destination: must be an object`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("error = %v, want %q...", err, want)
		}
		rows := f.rows(t)
		if len(rows) != 2 || rows[0].Outcome != "failed" || rows[1].Outcome != "failed" ||
			!strings.Contains(rows[1].Error, "destination") {
			t.Errorf("rows = %+v", rows)
		}
	})
	t.Run("timeout then fallback", func(t *testing.T) {
		f := newFixture(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		d := dial(f.route("/plan", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		d.Timeout = 0 // the default, 100ms here
		d.FallbackURL = f.reply("/backup", 200, "", `{"destination": [{"contact_uri": "sip:desk1@pbx.example"}]}`)
		plan, err := f.planner(routing.Config{DefaultTimeout: 100 * time.Millisecond}).Plan(t.Context(), f.info, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plan.Dial.Destinations, []string{"sip:desk1@pbx.example"}) {
			t.Errorf("plan = %+v", plan)
		}
		rows := f.rows(t)
		if len(rows) != 2 || rows[0].Error != "timeout after 100ms: context deadline exceeded" || rows[1].Outcome != "success" {
			t.Errorf("rows = %+v", rows)
		}
	})
}

// TestTimeoutIsError: a timeout is told apart with errors.Is.
func TestTimeoutIsError(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	d := dial(f.route("/plan", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	d.Timeout = 30 // capped at MaxTimeout
	_, err := f.planner(routing.Config{MaxTimeout: 50 * time.Millisecond}).Plan(t.Context(), f.info, d, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timeout after 50ms") {
		t.Errorf("error = %v, want a 50ms timeout", err)
	}
}

// TestSIPAndDuplicates: SIP URIs are dialled as given; duplicates (the
// same contact written twice) are dropped; whitespace is trimmed.
func TestSIPAndDuplicates(t *testing.T) {
	f := newFixture(t)
	u := f.reply("/plan", 200, "text/plain; charset=utf-8", `{"destination": {"numbers": [
		"sip:alice@pbx.example.com:5060", " +919800000001 ", "SIP:Alice@PBX.example.com:5060",
		"919800000001", "sips:bob", "09800000002", "sip:gauravjfb55d386"]}}`)
	plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, dial(u), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sip:alice@pbx.example.com:5060", "+919800000001", "sips:bob", "09800000002", "sip:gauravjfb55d386"}
	if !reflect.DeepEqual(plan.Dial.Destinations, want) {
		t.Errorf("destinations = %q, want %q", plan.Dial.Destinations, want)
	}
}

// TestNobodyToDial: an empty list is a plan without destinations, in
// either version.
func TestNobodyToDial(t *testing.T) {
	for body, version := range map[string]string{
		`{"destination": {"numbers": []}}`: "1.0",
		`{"destination": []}`:              "1.1",
	} {
		f := newFixture(t)
		d := dial(f.reply("/plan", 200, jsonType, body))
		d.Destinations = []string{"+919800000099"}
		plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(plan.Dial.Destinations) != 0 || plan.Version != version {
			t.Errorf("%s: plan = %+v", body, plan)
		}
		if rows := f.rows(t); len(rows) != 1 || rows[0].Outcome != "success" {
			t.Errorf("%s: rows = %+v", body, rows)
		}
	}
}

// TestOutgoingNumber: outgoing_phone_number must be one of the account's
// ExoPhones, in whichever form; without a store it is taken as given.
func TestOutgoingNumber(t *testing.T) {
	f := newFixture(t)
	for number, want := range map[string]string{
		"+918047000000": exoPhone, "08047000000": exoPhone, "918047000000": exoPhone,
		"8047000000": exoPhone, "00918047000000": exoPhone,
	} {
		d := dial(f.reply("/plan", 200, jsonType, v10(`"outgoing_phone_number": "`+number+`"`)))
		d.CallerID = ""
		plan, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
		if err != nil {
			t.Errorf("%s: %v", number, err)
			continue
		}
		if plan.Dial.CallerID != want {
			t.Errorf("%s: caller id = %q, want %q", number, plan.Dial.CallerID, want)
		}
	}

	// Another account's ExoPhone is not this account's.
	if _, _, err := f.db.Accounts().CreateWithSID(t.Context(), "other1", "Other"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Numbers().Create(t.Context(), "other1", "+918047111111", ""); err != nil {
		t.Fatal(err)
	}
	d := dial(f.reply("/plan", 200, jsonType, v10(`"outgoing_phone_number": "+918047111111"`)))
	_, err := f.planner(routing.Config{}).Plan(t.Context(), f.info, d, nil)
	if err == nil || !strings.Contains(err.Error(), `outgoing_phone_number "+918047111111" is not an ExoPhone of this account`) {
		t.Errorf("error = %v", err)
	}

	// No store: nothing to check against, nothing logged.
	plan, err := routing.New(nil, testConfig(routing.Config{}), nil).Plan(t.Context(), f.info, d, nil)
	if err != nil || plan.Dial.CallerID != "+918047111111" {
		t.Errorf("without a store: %+v, %v", plan, err)
	}
}

// TestPlanNeedsURL: a Dial without URL is no programmable connect.
func TestPlanNeedsURL(t *testing.T) {
	_, err := routing.New(nil, routing.Config{}, nil).Plan(t.Context(), &call.Info{}, flows.Dial{}, nil)
	if err == nil || err.Error() != "url: missing" {
		t.Errorf("error = %v", err)
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// v1ConnectForm is a valid click-to-call form.
func v1ConnectForm() url.Values {
	return url.Values{"From": {"09800000001"}, "To": {"09800000002"}, "CallerId": {"08047000000"}}
}

func TestV1ConnectClickToCall(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		form := url.Values{
			"From": {"+91 98000-00001"}, "To": {"(098) 0000 0002"}, "CallerId": {"+918047000000"},
			"CallType": {"trans"}, "TimeLimit": {"600"}, "TimeOut": {"30"}, "WaitUrl": {"https://x.example/wait.wav"},
			"Record": {"true"}, "RecordingChannels": {"dual"}, "RecordingFormat": {"mp3-hq"},
			"CustomField": {"order-77"}, "StatusCallback": {"https://cb.example/status"},
			"StatusCallbackEvents[0]": {"terminal"}, "StatusCallbackEvents[1]": {"answered"},
			"StatusCallbackContentType": {"application/json"},
		}
		rec := e.connect(".json", form, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		c := jsonAt(t, callsJSON(t, rec), "Call").(map[string]any)
		want := map[string]any{
			"From": "+919800000001", "To": "09800000002", "PhoneNumberSid": envExoPhone, "Status": "ringing",
			"Direction": "outbound-api", "AccountSid": envAccount, "Duration": nil, "EndTime": nil, "Price": nil,
			"RecordingUrl": nil, "ParentCallSid": nil, "AnsweredBy": nil, "CallType": "trans",
			"Uri": "/v1/Accounts/acme1/Calls/" + c["Sid"].(string),
		}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("Call.%s = %#v, want %#v", k, c[k], v)
			}
		}
		if _, ok := c["Details"]; ok {
			t.Error("Details without details=true")
		}
		got := e.placer.requests()
		if len(got) != 1 {
			t.Fatalf("placer got %d requests", len(got))
		}
		wantReq := call.OutboundRequest{AccountSID: envAccount, From: "+919800000001", To: "09800000002",
			CallerID: envExoPhone, CallType: "trans", TimeLimit: 600, TimeOut: 30, Record: true,
			RecordingChannels: "dual", RecordingFormat: "mp3-hq", WaitURL: "https://x.example/wait.wav", CustomField: "order-77",
			StatusCallback: "https://cb.example/status", StatusCallbackEvents: []string{"terminal", "answered"},
			StatusCallbackContentType: store.ContentJSON}
		if !reflect.DeepEqual(got[0], wantReq) {
			t.Errorf("placed\n %+v\nwant\n %+v", got[0], wantReq)
		}
	})
}

func TestV1ConnectXML(t *testing.T) {
	e := newCallsEnv(t)
	rec := e.connect("", v1ConnectForm(), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		XMLName xml.Name `xml:"TwilioResponse"`
		Call    struct {
			Sid, From, To, PhoneNumberSid, Status string
			EndTime                               *string
			Duration                              *string
		}
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, rec.Body)
	}
	if !store.ValidSID(doc.Call.Sid) || doc.Call.From != "09800000001" || doc.Call.To != "09800000002" ||
		doc.Call.PhoneNumberSid != envExoPhone || doc.Call.Status != "ringing" {
		t.Errorf("Call %+v", doc.Call)
	}
	// Nullable fields are present and empty.
	if doc.Call.EndTime == nil || *doc.Call.EndTime != "" || doc.Call.Duration == nil || *doc.Call.Duration != "" {
		t.Errorf("EndTime/Duration should be empty elements: %s", rec.Body)
	}
}

func TestV1ConnectFlow(t *testing.T) {
	e := newCallsEnv(t)
	for _, u := range []string{
		"https://my.exotel.com/acme1/exoml/start_voice/" + e.flowID,
		"http://my.exotel.in/exoml/start/" + e.flowID + "/",
	} {
		form := url.Values{"From": {"09800000001"}, "CallerId": {"918047000001"}, "Url": {u}}
		rec := e.connect(".json", form, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", u, rec.Code, rec.Body)
		}
		c := jsonAt(t, callsJSON(t, rec), "Call").(map[string]any)
		if c["To"] != envExoPhone2 || c["PhoneNumberSid"] != envExoPhone2 {
			t.Errorf("%s: a flow call's To is the ExoPhone: %v", u, c)
		}
		reqs := e.placer.requests()
		if last := reqs[len(reqs)-1]; last.FlowID != e.flowID || last.To != "" {
			t.Errorf("%s: placed %+v", u, last)
		}
	}
}

func TestV1ConnectStatusCallbackEvents(t *testing.T) {
	for name, raw := range map[string]string{
		"brackets":  "StatusCallbackEvents[]=terminal&StatusCallbackEvents[]=answered",
		"indexed":   "StatusCallbackEvents[1]=answered&StatusCallbackEvents[0]=terminal",
		"repeated":  "StatusCallbackEvents=terminal&StatusCallbackEvents=answered",
		"comma":     "StatusCallbackEvents=terminal,answered",
		"mixedcase": "StatusCallbackEvents[0]=Terminal&StatusCallbackEvents[1]=ANSWERED&StatusCallbackEvents[2]=terminal",
	} {
		t.Run(name, func(t *testing.T) {
			e := newCallsEnv(t)
			rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json",
				body: v1ConnectForm().Encode() + "&" + raw, contentType: "application/x-www-form-urlencoded"})
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := e.placer.requests()[0]
			if !slices.Equal(got.StatusCallbackEvents, []string{"terminal", "answered"}) {
				t.Errorf("events %q", got.StatusCallbackEvents)
			}
			if got.StatusCallbackContentType != store.ContentMultipart {
				t.Errorf("content type %q", got.StatusCallbackContentType)
			}
		})
	}
}

func TestV1ConnectMultipart(t *testing.T) {
	e := newCallsEnv(t)
	body := "--XX\r\nContent-Disposition: form-data; name=\"From\"\r\n\r\n09800000001\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"To\"\r\n\r\n09800000002\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"CallerId\"\r\n\r\n08047000000\r\n--XX--\r\n"
	rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json", body: body,
		contentType: "multipart/form-data; boundary=XX"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestV1ConnectCallerIDForms(t *testing.T) {
	e := newCallsEnv(t)
	for _, id := range []string{"+918047000000", "918047000000", "08047000000", "080-4700 0000", "8047000000"} {
		form := v1ConnectForm()
		form.Set("CallerId", id)
		rec := e.connect(".json", form, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("CallerId %q: status %d: %s", id, rec.Code, rec.Body)
			continue
		}
		reqs := e.placer.requests()
		if got := reqs[len(reqs)-1].CallerID; got != envExoPhone {
			t.Errorf("CallerId %q resolved to %q", id, got)
		}
	}
}

// A client that sends 0 for every integer it leaves unset (a Go client's
// zero values) gets the defaults, as with empty fields.
func TestV1ConnectZeroMeansDefault(t *testing.T) {
	e := newCallsEnv(t)
	rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json",
		body: "From=%2B919800000001&To=%2B919800000002&CallerId=%2B918047000000&TimeLimit=0&TimeOut=0", contentType: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := e.placer.requests()[0]; got.TimeLimit != 0 || got.TimeOut != 0 {
		t.Errorf("placed with TimeLimit %d, TimeOut %d; want 0 and 0 (the defaults)", got.TimeLimit, got.TimeOut)
	}
}

func TestV1ConnectUnencodedPlus(t *testing.T) {
	e := newCallsEnv(t)
	// curl -d "From=+919800000001" sends a raw '+', which decodes to a space.
	rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json",
		body: "From=+919800000001&To=+919800000002&CallerId=+918047000000", contentType: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := e.placer.requests()[0]
	if got.From != "+919800000001" || got.To != "+919800000002" || got.CallerID != envExoPhone {
		t.Errorf("placed %+v", got)
	}
}

func TestV1ConnectDetails(t *testing.T) {
	e := newCallsEnv(t)
	rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json?details=true",
		body: v1ConnectForm().Encode(), contentType: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	d := jsonAt(t, callsJSON(t, rec), "Call", "Details")
	want := map[string]any{"ConversationDuration": 0.0, "Leg1Status": "ringing", "Leg2Status": nil,
		"Legs": []any{map[string]any{"Leg": map[string]any{"Id": 1.0, "OnCallDuration": 0.0}}}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Details %v, want %v", d, want)
	}
}

// v1ErrorOf reads a v1 RestException in either format.
func v1ErrorOf(t *testing.T, body []byte, asJSON bool) (int, string) {
	t.Helper()
	if asJSON {
		var m struct{ RestException restException }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("not a JSON RestException: %v\n%s", err, body)
		}
		return m.RestException.Status, m.RestException.Message
	}
	var m struct {
		XMLName       xml.Name `xml:"TwilioResponse"`
		RestException restException
	}
	if err := xml.Unmarshal(body, &m); err != nil {
		t.Fatalf("not an XML RestException: %v\n%s", err, body)
	}
	return m.RestException.Status, m.RestException.Message
}

func TestV1ConnectRejects(t *testing.T) {
	with := func(kv ...string) url.Values {
		f := v1ConnectForm()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	e := newCallsEnv(t)
	flowURL := func(acc, id string) string { return "https://my.exotel.com/" + acc + "/exoml/start_voice/" + id }
	tests := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"no From", with("From", ""), 400, "From is required"},
		{"bad From", with("From", "12ab"), 400, "From \"12ab\" is not a valid phone number"},
		{"short From", with("From", "12345"), 400, "not a valid phone number"},
		{"E.164 too long", with("From", "+1234567890123456"), 400, "not a valid phone number"},
		{"no To or Url", with("To", ""), 400, "To is required"},
		{"To and Url", with("Url", flowURL("acme1", e.flowID)), 400, "not both"},
		{"sip To", with("To", "sip:bob@example.com"), 400, "To \"sip:bob@example.com\" is not a valid phone number"},
		{"bad sip From", with("From", "sip:bob@"), 400, "not a valid phone number"},
		{"second endpoint in From", with("From", "sip:bob@example.com,loopback/+15550100031/switchyard_testnet"), 400, "not a valid phone number"},
		{"sequential endpoint in From", with("From", "sip:bob@example.com|sofia/gateway/x/1"), 400, "not a valid phone number"},
		{"variables in From", with("From", "{origination_caller_id_number=1}sip:bob@example.com"), 400, "not a valid phone number"},
		{"leading dash", with("From", "-919800000001"), 400, "must start with + or a digit"},
		{"no CallerId", with("CallerId", ""), 400, "CallerId is required"},
		{"unknown CallerId", with("CallerId", "+918047999999"), 400, "CallerId +918047999999 is not an ExoPhone of this account"},
		{"other account's CallerId", with("CallerId", envOtherPhone), 400, "is not an ExoPhone of this account"},
		{"malformed CallerId", with("CallerId", "exophone"), 400, "CallerId \"exophone\" is not a valid phone number"},
		{"CallType promo", with("CallType", "promo"), 400, "no longer supported"},
		{"CallType bogus", with("CallType", "bulk"), 400, "CallType \"bulk\" is not valid"},
		{"TimeLimit negative", with("TimeLimit", "-1"), 400, "TimeLimit \"-1\" is not valid"},
		{"TimeLimit too big", with("TimeLimit", "14401"), 400, "TimeLimit"},
		{"TimeLimit text", with("TimeLimit", "1h"), 400, "TimeLimit"},
		{"TimeOut too big", with("TimeOut", "3601"), 400, "TimeOut"},
		{"WaitUrl ftp", with("WaitUrl", "ftp://x.example/a.wav"), 400, "WaitUrl"},
		{"Record bogus", with("Record", "yes please"), 400, "Record \"yes please\" is not valid"},
		{"RecordingChannels", with("Record", "true", "RecordingChannels", "stereo"), 400, "RecordingChannels"},
		{"RecordingFormat", with("RecordingFormat", "wav"), 400, "RecordingFormat"},
		{"CustomField too long", with("CustomField", strings.Repeat("é", 129)), 400, "CustomField is 129 characters"},
		{"StatusCallback relative", with("StatusCallback", "/status"), 400, "StatusCallback"},
		{"StatusCallbackEvents bogus", with("StatusCallbackEvents[]", "ringing"), 400, "StatusCallbackEvents \"ringing\""},
		{"StatusCallbackEvents index", with("StatusCallbackEvents[x]", "terminal"), 400, "index"},
		{"StatusCallbackContentType", with("StatusCallbackContentType", "text/xml"), 400, "StatusCallbackContentType"},
		{"StreamUrl", with("StreamUrl", "wss://x.example/s"), 400, "StreamUrl is not supported"},
		{"Url not a flow URL", with("To", "", "Url", "https://my.exotel.com/acme1/flows/1"), 400, "is not a flow URL"},
		{"Url other account", with("To", "", "Url", flowURL("globex2", e.flowID)), 400, "names account globex2"},
		{"Url unknown flow", with("To", "", "Url", flowURL("acme1", "fl_nope")), 400, "flow fl_nope, which does not exist"},
		{"Url unpublished flow", with("To", "", "Url", flowURL("acme1", e.draftID)), 400, "is not published"},
	}
	for _, tt := range tests {
		for _, suffix := range []string{"", ".json"} {
			t.Run(tt.name+suffix, func(t *testing.T) {
				rec := e.connect(suffix, tt.form, nil)
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
				}
				st, msg := v1ErrorOf(t, rec.Body.Bytes(), suffix == ".json")
				if st != tt.status || !strings.Contains(msg, tt.msg) {
					t.Errorf("RestException %d %q, want %d containing %q", st, msg, tt.status, tt.msg)
				}
			})
		}
	}
	if n := len(e.placer.requests()); n != 0 {
		t.Errorf("Place was called %d times for invalid requests", n)
	}
	if n := e.callRows(); n != 0 {
		t.Errorf("%d call rows created", n)
	}
}

func TestV1ConnectBodyErrors(t *testing.T) {
	e := newCallsEnvOn(t, storetest.SQLiteDSN, Options{MaxBody: 512})
	base := "/v1/Accounts/acme1/Calls/connect"
	tests := []struct {
		name   string
		r      envReq
		status int
	}{
		{"JSON body", envReq{body: `{"From":"09800000001"}`, contentType: "application/json"}, 415},
		{"text body", envReq{body: "From=1", contentType: "text/plain"}, 415},
		{"oversize", envReq{body: v1ConnectForm().Encode() + "&CustomField=" + strings.Repeat("x", 600),
			contentType: "application/x-www-form-urlencoded"}, 413},
		{"long Idempotency-Key", envReq{body: v1ConnectForm().Encode(), contentType: "application/x-www-form-urlencoded",
			header: http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}}, 400},
		{"control char Idempotency-Key", envReq{body: v1ConnectForm().Encode(), contentType: "application/x-www-form-urlencoded",
			header: http.Header{"Idempotency-Key": {"a\x01b"}}}, 400},
		{"two Idempotency-Keys", envReq{body: v1ConnectForm().Encode(), contentType: "application/x-www-form-urlencoded",
			header: http.Header{"Idempotency-Key": {"a", "b"}}}, 400},
	}
	for _, tt := range tests {
		for _, suffix := range []string{"", ".json"} {
			t.Run(tt.name+suffix, func(t *testing.T) {
				r := tt.r
				r.method, r.path = http.MethodPost, base+suffix
				rec := e.do(r)
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
				}
				if st, _ := v1ErrorOf(t, rec.Body.Bytes(), suffix == ".json"); st != tt.status {
					t.Errorf("RestException.Status %d", st)
				}
			})
		}
	}
	if n := e.callRows(); n != 0 {
		t.Errorf("%d call rows created", n)
	}
}

func TestV1ConnectIdempotency(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		key := http.Header{"Idempotency-Key": {"order-77-attempt"}}
		first := e.connect(".json", v1ConnectForm(), key)
		if first.Code != http.StatusOK {
			t.Fatalf("first: %d %s", first.Code, first.Body)
		}
		sid := jsonAt(t, callsJSON(t, first), "Call", "Sid")

		// The same request, spelled differently, is a replay.
		again := v1ConnectForm()
		again.Set("From", "098-0000-0001")
		again.Set("CallerId", "+918047000000")
		replay := e.connect(".json", again, key)
		if replay.Code != http.StatusOK {
			t.Fatalf("replay: %d %s", replay.Code, replay.Body)
		}
		if got := jsonAt(t, callsJSON(t, replay), "Call", "Sid"); got != sid {
			t.Errorf("replay answered call %v, want %v", got, sid)
		}
		if replay.Header().Get(headerReplayed) != "true" {
			t.Error("replay is not marked Idempotent-Replayed")
		}

		other := v1ConnectForm()
		other.Set("To", "09800000003")
		for _, suffix := range []string{"", ".json"} {
			rec := e.connect(suffix, other, key)
			if rec.Code != http.StatusConflict {
				t.Fatalf("mismatch%s: %d %s", suffix, rec.Code, rec.Body)
			}
			if st, msg := v1ErrorOf(t, rec.Body.Bytes(), suffix == ".json"); st != 409 || !strings.Contains(msg, "Idempotency-Key") {
				t.Errorf("mismatch: %d %q", st, msg)
			}
		}
		if n := e.callRows(); n != 1 {
			t.Errorf("%d call rows, want 1", n)
		}
	})
}

func TestV1ConnectPlaceErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		msg    string
	}{
		{fmt.Errorf("x: %w", store.ErrBusy), 409, "is on another call"},
		{fmt.Errorf("x: %w", call.ErrNotExoPhone), 400, "is not an ExoPhone"},
		{fmt.Errorf("x: %w", store.ErrNotFound), 400, "is not an ExoPhone"},
		{fmt.Errorf("x: %w", store.ErrNotPublished), 400, "not published"},
		{fmt.Errorf("x: %w", store.ErrIdempotencyMismatch), 409, "Idempotency-Key"},
		{fmt.Errorf("x: %w", call.ErrNoNode), 503, "no media node"},
		{errors.New("disk on fire"), 500, "internal server error"},
	}
	e := newCallsEnv(t)
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			e.placer.fail(tt.err)
			rec := e.connect(".json", v1ConnectForm(), nil)
			st, msg := v1ErrorOf(t, rec.Body.Bytes(), true)
			if rec.Code != tt.status || st != tt.status || !strings.Contains(msg, tt.msg) {
				t.Errorf("%d %d %q, want %d containing %q", rec.Code, st, msg, tt.status, tt.msg)
			}
		})
	}
}

func TestV1ConnectNoPlacer(t *testing.T) {
	e := newCallsEnv(t)
	e.srv.calls = nil
	if rec := e.connect(".json", v1ConnectForm(), nil); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestV1GetCallGolden(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		e.seedGolden()
		for _, g := range []struct{ file, path string }{
			{"v1_call_completed.xml", envGoldenSID},
			{"v1_call_completed.json", envGoldenSID + ".json"},
			{"v1_call_completed_details.xml", envGoldenSID + "?details=true"},
			{"v1_call_completed_details.json", envGoldenSID + ".json?details=true"},
			{"v1_call_live.xml", envGoldenLive + "?details=true"},
			{"v1_call_live.json", envGoldenLive + ".json?details=true"},
			{"v1_call_flow.json", envGoldenFlowed + ".json"},
		} {
			rec := e.get("/v1/Accounts/acme1/Calls/" + g.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", g.path, rec.Code, rec.Body)
			}
			callsGolden(t, g.file, callsGoldenBody(t, rec.Body.Bytes(), strings.HasSuffix(g.file, ".json")))
		}
	})
}

// callsGoldenBody indents JSON (keeping key order) so golden files read well.
func callsGoldenBody(t *testing.T, b []byte, isJSON bool) []byte {
	t.Helper()
	if !isJSON {
		return b
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("indent: %v\n%s", err, b)
	}
	buf.WriteString("\n")
	return buf.Bytes()
}

func TestV1GetCallNotFound(t *testing.T) {
	e := newCallsEnv(t)
	e.seedGolden()
	other := &store.Call{AccountSID: envOther, Direction: store.DirectionOutboundAPI, From: "1234567", PhoneNumber: envOtherPhone}
	envMust(t, e.db.Calls().Create(t.Context(), other))
	for _, sid := range []string{other.SID, "ffffffffffffffffffffffffffffffff", "not-a-sid", strings.ToUpper(envGoldenSID)} {
		for _, suffix := range []string{"", ".json"} {
			rec := e.get("/v1/Accounts/acme1/Calls/" + sid + suffix)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s%s: %d %s", sid, suffix, rec.Code, rec.Body)
				continue
			}
			if st, msg := v1ErrorOf(t, rec.Body.Bytes(), suffix == ".json"); st != 404 || !strings.Contains(msg, "not found") {
				t.Errorf("%s%s: %d %q", sid, suffix, st, msg)
			}
		}
	}
}

func TestV1GetCallPresigned(t *testing.T) {
	e := newCallsEnv(t)
	e.seedGolden()
	rec := e.get("/v1/Accounts/acme1/Calls/" + envGoldenSID + ".json?RecordingUrlValidity=10")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	raw, _ := jsonAt(t, callsJSON(t, rec), "Call", "PreSignedRecordingUrl").(string)
	u, err := url.Parse(raw)
	if err != nil || u.Host != "recordings.example" {
		t.Fatalf("PreSignedRecordingUrl %q", raw)
	}
	now := time.Now()
	if !e.srv.presigned(u.Path, u.Query(), now) {
		t.Errorf("%q is not validly signed", raw)
	}
	if e.srv.presigned(u.Path, u.Query(), now.Add(11*time.Minute)) {
		t.Errorf("%q is valid beyond 10 minutes", raw)
	}

	// No recording, no pre-signed URL.
	rec = e.get("/v1/Accounts/acme1/Calls/" + envGoldenLive + ".json?RecordingUrlValidity=10")
	if c := jsonAt(t, callsJSON(t, rec), "Call").(map[string]any); c["PreSignedRecordingUrl"] != nil {
		t.Errorf("PreSignedRecordingUrl without a recording: %v", c["PreSignedRecordingUrl"])
	}
	for _, bad := range []string{"4", "61", "ten", "details=maybe"} {
		q := "RecordingUrlValidity=" + bad
		if strings.Contains(bad, "=") {
			q = bad
		}
		rec := e.get("/v1/Accounts/acme1/Calls/" + envGoldenSID + ".json?" + q)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
		}
	}
}

func TestV1CallsAuth(t *testing.T) {
	e := newCallsEnv(t)
	e.seedGolden()
	reqs := []envReq{
		{method: http.MethodPost, path: "/v1/Accounts/acme1/Calls/connect.json", body: v1ConnectForm().Encode(),
			contentType: "application/x-www-form-urlencoded"},
		{method: http.MethodGet, path: "/v1/Accounts/acme1/Calls/" + envGoldenSID + ".json"},
		{method: http.MethodGet, path: "/v1/Accounts/acme1/Calls.json"},
		{method: http.MethodPost, path: "/v3/accounts/acme1/calls", body: `{}`, contentType: "application/json"},
		{method: http.MethodGet, path: "/v3/accounts/acme1/calls/" + envGoldenSID},
		{method: http.MethodGet, path: "/v3/accounts/acme1/calls/" + envGoldenSID + "/legs"},
	}
	for _, r := range reqs {
		other := r
		other.user, other.pass = envOther, e.otherTk
		if rec := e.do(other); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s with another account's credentials: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
		none := r
		none.noAuth = true
		if rec := e.do(none); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d", r.method, r.path, rec.Code)
		}
	}
	// The other account, on its own path, cannot see acme1's call.
	rec := e.do(envReq{method: http.MethodGet, path: "/v1/Accounts/globex2/Calls/" + envGoldenSID + ".json",
		user: envOther, pass: e.otherTk})
	if rec.Code != http.StatusNotFound {
		t.Errorf("another account's call: %d %s", rec.Code, rec.Body)
	}
	if n := len(e.placer.requests()); n != 0 {
		t.Errorf("Place called %d times", n)
	}
}

func TestCallNumber(t *testing.T) {
	tests := []struct {
		in   string
		sip  bool
		want string // "" = error
	}{
		{"+919800000001", false, "+919800000001"},
		{"+91 (98000) 00001", false, "+919800000001"},
		{" 919800000001", false, "+919800000001"},
		{" 09800000001", false, "09800000001"},
		{"09800000001", false, "09800000001"},
		{"080-4700-0000", false, "08047000000"},
		{"123456", false, "123456"},
		{"12345", false, ""},
		{"+123456", false, ""},
		{"+1234567", false, "+1234567"},
		{"+0123456789", false, ""},
		{"1234567890123456", false, ""},
		{"+91-98000-0000x", false, ""},
		{"sip:alice@example.com", false, ""},
		{"sip:alice@example.com", true, "sip:alice@example.com"},
		{"SIP:alice@example.com:5080", true, "sip:alice@example.com:5080"},
		{"sips:example.com", true, "sips:example.com"},
		{"sip:", true, ""},
		{"sip:a b@example.com", true, ""},
		{"sip:@example.com", true, ""},
		{"http://example.com", true, ""},
		{"", true, ""},
	}
	for _, tt := range tests {
		got, err := callNumber("From", tt.in, tt.sip)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("callNumber(%q, %v) = %q, %v; want %q", tt.in, tt.sip, got, err, tt.want)
		}
	}
}

func TestFlowIDOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://my.exotel.com/acme1/exoml/start_voice/fl_1", "fl_1"},
		{"https://my.in.exotel.com/acme1/exoml/start_voice/123/", "123"},
		{"http://my.exotel.in/exoml/start/123", "123"},
		{"http://my.exotel.com/acme2/exoml/start_voice/123", ""},
		{"http://my.exotel.com/acme1/exoml/start_voice/", ""},
		{"ftp://my.exotel.com/exoml/start/123", ""},
		{"/exoml/start/123", ""},
		{"http://my.exotel.com/exoml/start/123/more", ""},
	}
	for _, tt := range tests {
		got, err := flowIDOf(tt.in, "acme1")
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("flowIDOf(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

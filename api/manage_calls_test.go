package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// seedCallbacks finishes the call with one JSON terminal callback and
// records two attempts: a 500, then a 200.
func (e *mgEnv) seedCallbacks(callSID string) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.db.Calls().Finish(ctx, callSID, store.CallFinal{
		Status: store.Completed, Duration: 12,
		Outbox: func(c *store.Call, _ []store.Leg) ([]store.Callback, error) {
			return []store.Callback{
				{Event: store.CallbackTerminal, URL: "http://crm.example/hook", ContentType: store.ContentJSON,
					Payload: `{"CallSid":"` + c.SID + `","Status":"completed"}`},
				{Event: store.CallbackTerminal, URL: "http://crm.example/other", ContentType: store.ContentMultipart,
					Payload: `{"CallSid":"` + c.SID + `"}`},
			}, nil
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	cbs, err := e.db.Callbacks().ByCall(ctx, e.callAccount(callSID), callSID)
	if err != nil || len(cbs) != 2 {
		e.t.Fatalf("callbacks: %v %v", cbs, err)
	}
	t0 := time.Now().UTC()
	for _, a := range []struct {
		a     store.CallbackAttempt
		state string
	}{
		{store.CallbackAttempt{CallbackID: cbs[0].ID, Attempt: 1, URL: cbs[0].URL, HTTPStatus: 500, LatencyMS: 40, Error: "HTTP 500", CreatedAt: t0}, store.CallbackPending},
		{store.CallbackAttempt{CallbackID: cbs[0].ID, Attempt: 2, URL: cbs[0].URL, HTTPStatus: 200, LatencyMS: 12, CreatedAt: t0.Add(time.Second)}, store.CallbackDelivered},
		{store.CallbackAttempt{CallbackID: cbs[1].ID, Attempt: 1, URL: cbs[1].URL, LatencyMS: 15000, Error: "timeout", CreatedAt: t0.Add(2 * time.Second)}, store.CallbackPending},
	} {
		if err := e.db.Callbacks().RecordAttempt(ctx, &a.a, a.state); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *mgEnv) callAccount(sid string) string {
	e.t.Helper()
	c, err := e.db.Calls().BySID(context.Background(), sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.AccountSID
}

// seedRecording adds a recording of the call whose file is path.
func (e *mgEnv) seedRecording(account, callSID, path, format string) *store.Recording {
	e.t.Helper()
	r := &store.Recording{AccountSID: account, CallSID: callSID, Path: path, Format: format, Duration: 7}
	r.ID = "re_" + store.NewSID()[:24]
	r.URL = e.srv.URL + "/v1/Accounts/" + account + "/Recordings/" + r.ID
	if err := e.db.Recordings().Create(context.Background(), r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestManageCallCallbacks(t *testing.T) {
	e := newMgEnv(t)
	sid := e.seedCall("acme")
	e.seedCallbacks(sid)
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/callbacks"})
	if cbs, _ := dig(res.JSON, "response", "callbacks").([]any); len(cbs) != 2 || digStr(res.JSON, "response", "status") != "success" {
		t.Fatalf("callbacks: %s", res.Raw)
	}
	first := dig(res.JSON, "response", "callbacks", 0)
	if dig(first, "seq") != float64(1) || digStr(first, "event") != "terminal" || digStr(first, "url") != "http://crm.example/hook" ||
		digStr(first, "content_type") != "application/json" || digStr(first, "status") != "delivered" ||
		digStr(first, "delivered_at") == "" || digStr(first, "call_sid") != sid {
		t.Errorf("first callback: %s", res.Raw)
	}
	if digStr(first, "payload", "CallSid") != sid || digStr(first, "payload", "Status") != "completed" {
		t.Errorf("payload not passed as JSON: %s", res.Raw)
	}
	log := dig(first, "attempts").([]any)
	if len(log) != 2 || dig(log[0], "attempt") != float64(1) || dig(log[0], "http_status") != float64(500) ||
		digStr(log[0], "error") != "HTTP 500" || dig(log[0], "latency_ms") != float64(40) || digStr(log[0], "time") == "" ||
		dig(log[1], "http_status") != float64(200) || dig(log[1], "error") != nil {
		t.Errorf("attempts: %s", res.Raw)
	}
	second := dig(res.JSON, "response", "callbacks", 1)
	if dig(second, "seq") != float64(2) || digStr(second, "status") != "pending" || dig(second, "delivered_at") != nil ||
		dig(second, "attempts", 0, "http_status") != nil || digStr(second, "attempts", 0, "error") != "timeout" {
		t.Errorf("second callback: %s", res.Raw)
	}

	// A call without callbacks: an empty list, not null.
	quiet := e.seedCall("acme")
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + quiet + "/callbacks"})
	if items, ok := dig(res.JSON, "response", "callbacks").([]any); !ok || len(items) != 0 {
		t.Errorf("no callbacks: %s", res.Raw)
	}
}

func TestManageRecordingsMetadata(t *testing.T) {
	e := newMgEnv(t)
	sid := e.seedCall("acme")
	r1 := e.seedRecording("acme", sid, filepath.Join(t.TempDir(), "a.wav"), "wav")
	r2 := e.seedRecording("acme", sid, filepath.Join(t.TempDir(), "b.mp3"), "mp3")
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/recordings"})
	if recs, _ := dig(res.JSON, "response", "recordings").([]any); len(recs) != 2 {
		t.Fatalf("list: %s", res.Raw)
	}
	ids := map[string]bool{digStr(res.JSON, "response", "recordings", 0, "id"): true, digStr(res.JSON, "response", "recordings", 1, "id"): true}
	if !ids[r1.ID] || !ids[r2.ID] {
		t.Errorf("list ids: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/recordings/" + r2.ID})
	rec := dig(res.JSON, "response", "recording")
	if digStr(rec, "id") != r2.ID || digStr(rec, "call_sid") != sid || digStr(rec, "url") != r2.URL ||
		digStr(rec, "format") != "mp3" || dig(rec, "duration") != float64(7) || digStr(rec, "channels") != "single" ||
		digStr(rec, "uri") != "/v2/accounts/acme/recordings/"+r2.ID {
		t.Errorf("get: %s", res.Raw)
	}
	if _, ok := rec.(map[string]any)["path"]; ok {
		t.Errorf("the file's path on disk is exposed: %s", res.Raw)
	}
}

func TestManageCallsBadInputAndOtherAccounts(t *testing.T) {
	e := newMgEnv(t)
	mine := e.seedCall("acme")
	theirs := e.seedCall("globex")
	e.seedCallbacks(theirs)
	theirRec := e.seedRecording("globex", theirs, filepath.Join(t.TempDir(), "x.wav"), "wav")
	myRec := e.seedRecording("acme", mine, filepath.Join(t.TempDir(), "y.wav"), "wav")
	cases := []struct {
		name   string
		req    mgReq
		status int
		code   float64
	}{
		{"their call's callbacks", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + theirs + "/callbacks"}, 404, 10744},
		{"their call's recordings", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + theirs + "/recordings"}, 404, 10744},
		{"their recording", mgReq{Method: "GET", Path: "/v2/accounts/acme/recordings/" + theirRec.ID}, 404, 1001},
		{"unknown call", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/0123456789abcdef0123456789abcdef/callbacks"}, 404, 10744},
		{"malformed call sid", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/xyz/recordings"}, 404, 10744},
		{"unknown recording", mgReq{Method: "GET", Path: "/v2/accounts/acme/recordings/re_nope"}, 404, 1001},
		{"B's credentials: callbacks", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + mine + "/callbacks", As: &e.B}, 403, 1018},
		{"B's credentials: recordings", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + mine + "/recordings", As: &e.B}, 403, 1018},
		{"B's credentials: recording", mgReq{Method: "GET", Path: "/v2/accounts/acme/recordings/" + myRec.ID, As: &e.B}, 403, 1018},
		{"unknown account", mgReq{Method: "GET", Path: "/v2/accounts/nobody/recordings/" + myRec.ID}, 403, 1018},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(tc.req)
			checkFailure(t, tc.name, res, tc.status)
			if got := dig(res.JSON, "response", "error_data", "code"); got != tc.code {
				t.Errorf("code %v, want %v", got, tc.code)
			}
			if strings.Contains(string(res.Raw), "crm.example") || strings.Contains(string(res.Raw), theirRec.URL) {
				t.Errorf("leaked another account's data: %s", res.Raw)
			}
		})
	}
}

// seedRequestsAndMessages logs two HTTP requests and two messages of the
// call.
func (e *mgEnv) seedRequestsAndMessages(account, callSID string) {
	e.t.Helper()
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Minute)
	for _, r := range []*store.CallRequest{
		{AccountSID: account, CallSID: callSID, Applet: "lookup", Kind: store.RequestPassthru, Method: "GET",
			URL: "http://crm.example/passthru?CallSid=" + callSID, HTTPStatus: 200, LatencyMS: 35, Outcome: "success",
			Response: "ok", CreatedAt: t0},
		{AccountSID: account, CallSID: callSID, Applet: "agents", Kind: store.RequestConnect, Method: "GET",
			URL: "http://crm.example/connect", LatencyMS: 5000, Outcome: "error", Error: "timeout",
			CreatedAt: t0.Add(time.Second)},
	} {
		if err := e.db.CallRequests().Create(ctx, r); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, m := range []*store.Message{
		{AccountSID: account, CallSID: callSID, Applet: "missed", Channel: "sms", Recipients: "+15550100001",
			Body: "We missed your call", Provider: "log", Status: store.MessageSent, CreatedAt: t0},
		{AccountSID: account, CallSID: callSID, Applet: "notify", Channel: "email",
			Recipients: "ops@crm.example, boss@crm.example", Subject: "Missed call", Body: "From +15550100001",
			Provider: "smtp", Status: store.MessageFailed, Error: "550 no such user", CreatedAt: t0.Add(time.Second)},
	} {
		if err := e.db.Messages().Create(ctx, m); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestManageCallRequests(t *testing.T) {
	e := newMgEnv(t)
	sid := e.seedCall("acme")
	e.seedRequestsAndMessages("acme", sid)
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/requests"})
	if reqs, _ := dig(res.JSON, "response", "requests").([]any); len(reqs) != 2 || digStr(res.JSON, "response", "status") != "success" {
		t.Fatalf("requests: %s", res.Raw)
	}
	first := dig(res.JSON, "response", "requests", 0)
	if !strings.HasPrefix(digStr(first, "id"), "rq_") || digStr(first, "applet") != "lookup" || digStr(first, "kind") != "passthru" ||
		digStr(first, "method") != "GET" || digStr(first, "url") != "http://crm.example/passthru?CallSid="+sid ||
		dig(first, "http_status") != float64(200) || dig(first, "latency_ms") != float64(35) ||
		digStr(first, "outcome") != "success" || dig(first, "error") != nil || digStr(first, "response") != "ok" {
		t.Errorf("first request: %s", res.Raw)
	}
	if _, err := time.Parse(time.RFC3339, digStr(first, "created_at")); err != nil {
		t.Errorf("created_at: %v", err)
	}
	second := dig(res.JSON, "response", "requests", 1)
	if digStr(second, "kind") != "connect" || dig(second, "http_status") != nil || digStr(second, "error") != "timeout" ||
		digStr(second, "outcome") != "error" || digStr(second, "response") != "" {
		t.Errorf("second request: %s", res.Raw)
	}
	if _, ok := second.(map[string]any)["response"]; !ok {
		t.Errorf("response field missing: %s", res.Raw)
	}

	// A call without requests: an empty list, not null.
	quiet := e.seedCall("acme")
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + quiet + "/requests"})
	if items, ok := dig(res.JSON, "response", "requests").([]any); !ok || len(items) != 0 {
		t.Errorf("no requests: %s", res.Raw)
	}
}

func TestManageCallMessages(t *testing.T) {
	e := newMgEnv(t)
	sid := e.seedCall("acme")
	e.seedRequestsAndMessages("acme", sid)
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/messages"})
	if msgs, _ := dig(res.JSON, "response", "messages").([]any); len(msgs) != 2 {
		t.Fatalf("messages: %s", res.Raw)
	}
	sms := dig(res.JSON, "response", "messages", 0)
	if !strings.HasPrefix(digStr(sms, "id"), "ms_") || digStr(sms, "applet") != "missed" || digStr(sms, "channel") != "sms" ||
		strings.Join(strList(dig(sms, "recipients")), ",") != "+15550100001" || digStr(sms, "subject") != "" ||
		digStr(sms, "body") != "We missed your call" || digStr(sms, "provider") != "log" || digStr(sms, "status") != "sent" ||
		dig(sms, "error") != nil || digStr(sms, "created_at") == "" {
		t.Errorf("sms: %s", res.Raw)
	}
	mail := dig(res.JSON, "response", "messages", 1)
	if digStr(mail, "channel") != "email" || strings.Join(strList(dig(mail, "recipients")), ",") != "ops@crm.example,boss@crm.example" ||
		digStr(mail, "subject") != "Missed call" || digStr(mail, "status") != "failed" || digStr(mail, "error") != "550 no such user" {
		t.Errorf("email: %s", res.Raw)
	}

	quiet := e.seedCall("acme")
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + quiet + "/messages"})
	if items, ok := dig(res.JSON, "response", "messages").([]any); !ok || len(items) != 0 {
		t.Errorf("no messages: %s", res.Raw)
	}
}

func TestManageCallRequestsAndMessagesOfOtherAccounts(t *testing.T) {
	e := newMgEnv(t)
	mine := e.seedCall("acme")
	theirs := e.seedCall("globex")
	e.seedRequestsAndMessages("globex", theirs)
	for _, what := range []string{"requests", "messages"} {
		cases := []struct {
			name   string
			req    mgReq
			status int
			code   float64
		}{
			{"their call", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + theirs + "/" + what}, 404, 10744},
			{"unknown call", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/0123456789abcdef0123456789abcdef/" + what}, 404, 10744},
			{"malformed call sid", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/xyz/" + what}, 404, 10744},
			{"B's credentials", mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + mine + "/" + what, As: &e.B}, 403, 1018},
			{"their call through their own path", mgReq{Method: "GET", Path: "/v2/accounts/globex/calls/" + theirs + "/" + what}, 403, 1018},
		}
		for _, tc := range cases {
			t.Run(what+": "+tc.name, func(t *testing.T) {
				res := e.do(tc.req)
				checkFailure(t, tc.name, res, tc.status)
				if got := dig(res.JSON, "response", "error_data", "code"); got != tc.code {
					t.Errorf("code %v, want %v", got, tc.code)
				}
				if strings.Contains(string(res.Raw), "crm.example") {
					t.Errorf("leaked another account's data: %s", res.Raw)
				}
			})
		}
		// B sees its own.
		res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/globex/calls/" + theirs + "/" + what, As: &e.B})
		if items, _ := dig(res.JSON, "response", what).([]any); len(items) != 2 {
			t.Errorf("B's own %s: %s", what, res.Raw)
		}
	}
}

func TestManageCallAppletPath(t *testing.T) {
	e := newMgEnv(t)
	sid := e.seedCall("acme")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	path := store.AppletPath{
		{Flow: "fl_main", Applet: "welcome", Type: "greeting", At: at},
		{Flow: "fl_main", Applet: "menu", Type: "ivr", At: at.Add(4 * time.Second)},
		{Flow: "fl_sales", Applet: "agents", Type: "connect", At: at.Add(9 * time.Second)},
	}

	// While the call runs there is no path yet: an empty list, not null.
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/path"})
	if items, ok := dig(res.JSON, "response", "applet_path").([]any); !ok || len(items) != 0 || digStr(res.JSON, "response", "status") != "success" {
		t.Errorf("running call: %s", res.Raw)
	}

	if _, err := e.db.Calls().Finish(context.Background(), sid, store.CallFinal{Status: store.Completed, AppletPath: path}); err != nil {
		t.Fatal(err)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + sid + "/path"})
	steps, _ := dig(res.JSON, "response", "applet_path").([]any)
	if len(steps) != len(path) {
		t.Fatalf("applet_path: %s", res.Raw)
	}
	for i, want := range path {
		st := steps[i]
		got, err := time.Parse(time.RFC3339, digStr(st, "at"))
		if digStr(st, "flow") != want.Flow || digStr(st, "applet") != want.Applet || digStr(st, "type") != want.Type ||
			err != nil || !got.Equal(want.At) {
			t.Errorf("step %d: %v, want %+v (%v)", i, st, want, err)
		}
	}

	// Another account's call is not found.
	theirs := e.seedCall("globex")
	res = e.do(mgReq{Method: "GET", Path: "/v2/accounts/acme/calls/" + theirs + "/path"})
	checkFailure(t, "their call", res, http.StatusNotFound)
	if got := dig(res.JSON, "response", "error_data", "code"); got != float64(10744) {
		t.Errorf("their call: code %v", got)
	}
}

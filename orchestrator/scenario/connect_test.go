package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/routing"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// The programmable connect end to end: a flow's Connect applet asks a
// local CRM (httptest) what to dial through the real planner
// (routing.New), the runtime dials it on the emulator, and the call's
// record, legs, recordings and request log are checked.

// crmServer is a customer's server: each path answers as the test says, and
// every request is kept.
type crmServer struct {
	srv *httptest.Server
	// release lets slow handlers go; closed at test end.
	release chan struct{}

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	got    map[string][]crmRequest
}

// crmRequest is what one request carried.
type crmRequest struct {
	query   url.Values
	version string // the Exotel-Version header
	accept  string
}

func newCRM(t *testing.T) *crmServer {
	c := &crmServer{release: make(chan struct{}), routes: map[string]http.HandlerFunc{}, got: map[string][]crmRequest{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got[r.URL.Path] = append(c.got[r.URL.Path], crmRequest{query: r.URL.Query(),
			version: r.Header.Get("Exotel-Version"), accept: r.Header.Get("Accept")})
		fn := c.routes[r.URL.Path]
		c.mu.Unlock()
		if fn == nil {
			http.NotFound(w, r)
			return
		}
		fn(w, r)
	}))
	t.Cleanup(func() {
		close(c.release) // before Close, which waits for the handlers
		c.srv.Close()
	})
	return c
}

// handle sets what path answers.
func (c *crmServer) handle(path string, fn http.HandlerFunc) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.routes[path] = fn
	return c.srv.URL + path
}

// answer makes path answer 200 with a JSON body.
func (c *crmServer) answer(path, body string) string {
	return c.handle(path, crmReply(http.StatusOK, "application/json", body))
}

// answers makes path answer with bodies in turn (the last one again once
// they run out).
func (c *crmServer) answers(path string, bodies ...string) string {
	var n atomic.Int32
	return c.handle(path, func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(bodies)-1)
		crmReply(http.StatusOK, "application/json", bodies[i])(w, r)
	})
}

func crmReply(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// slow holds the request until the client gives up or the test ends.
func (c *crmServer) slow(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-c.release:
	}
}

// requests returns the requests path got, each checked to carry the
// call's Exotel parameters and the Exotel-Version header.
func (c *crmServer) requests(t *testing.T, path string, cl *store.Call, from, to string) []url.Values {
	t.Helper()
	c.mu.Lock()
	got := append([]crmRequest(nil), c.got[path]...)
	c.mu.Unlock()
	var out []url.Values
	for i, r := range got {
		q := r.query
		if q.Get("CallSid") == "" || q.Get("From") == "" || q.Get("To") == "" || q.Get("Direction") != "incoming" {
			t.Errorf("%s request %d: missing Exotel parameters: %v", path, i, q)
		}
		if cl != nil && q.Get("CallSid") != cl.SID {
			t.Errorf("%s request %d: CallSid %q, want %s", path, i, q.Get("CallSid"), cl.SID)
		}
		if q.Get("From") != from || q.Get("To") != to {
			t.Errorf("%s request %d: From %q To %q, want %s %s", path, i, q.Get("From"), q.Get("To"), from, to)
		}
		if r.version != routing.ExotelVersion {
			t.Errorf("%s request %d: Exotel-Version %q, want %s", path, i, r.version, routing.ExotelVersion)
		}
		if r.accept != "application/json" {
			t.Errorf("%s request %d: Accept %q", path, i, r.accept)
		}
		out = append(out, q)
	}
	return out
}

// latePlanner is the runtime's planner: the real one needs the harness's
// store, which exists only once the runtime does.
type latePlanner struct {
	p atomic.Pointer[routing.Planner]
}

func (l *latePlanner) Plan(ctx context.Context, c *call.Info, d flows.Dial, last *call.Attempt) (*call.Plan, error) {
	return l.p.Load().Plan(ctx, c, d, last)
}

// newConnectHarness is a harness whose programmable connects ask the
// real planner, logging to the harness's store.
func newConnectHarness(t *testing.T, o options) *harness {
	t.Helper()
	lp := &latePlanner{}
	o.planner = lp
	h := newHarnessOpts(t, o)
	log := testLogger(t)
	lp.p.Store(routing.New(h.db, routing.Config{HTTPClient: localHTTP(), Writes: h.writes}, log))
	return h
}

// requestLog is the call's request log.
func (h *harness) requestLog(sid string) []store.CallRequest {
	h.t.Helper()
	rows, err := h.db.CallRequests().ByCall(context.Background(), account, sid)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rows {
		h.t.Logf("request %s %s: http=%d outcome=%s err=%q", r.Kind, r.URL, r.HTTPStatus, r.Outcome, r.Error)
	}
	return rows
}

// bridgeApps are the bridge applications the caller's channel ran.
func bridgeApps(res *testphone.Result) []string {
	var out []string
	for _, s := range res.Path {
		if s.App == "bridge" {
			out = append(out, s.Arg)
		}
	}
	return out
}

func withinSec(got, want, slack int) bool { return got >= want-slack && got <= want+slack }

func legStates(legs []store.Leg) []string {
	var out []string
	for _, l := range legs {
		out = append(out, l.To+":"+string(l.Status))
	}
	return out
}

// programmable is a flow whose connect asks url (timeout in seconds).
func programmableFlow(url string, timeout int) string {
	return connectFlow(fmt.Sprintf(`{"url":%q,"timeout":%d}`, url, timeout))
}

const connectCaller = "+15550109500"

// TestProgrammableConnectParallelV10: a v1.0 answer rings two numbers in
// parallel, records in two channels: the one that answers talks, the
// other is cancelled; the recording is on the call.
func TestProgrammableConnectParallelV10(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000701"
	u := crm.answer("/v10", `{"destination":{"numbers":["+15550100201","+15550100405"]},
		"parallel_ringing":{"activate":true},"max_ringing_duration":10,
		"record":true,"recording_channels":"dual"}`)
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	br := bridgeApps(res)
	if len(br) != 1 || !strings.Contains(br[0], "loopback/+15550100201/") || !strings.Contains(br[0], "]loopback/+15550100405/") ||
		!strings.Contains(br[0], ",[") || strings.Contains(br[0], "|") || !strings.Contains(br[0], "leg_timeout=10") {
		t.Errorf("bridges %q: want one parallel bridge to both with leg_timeout=10", br)
	}
	al := agentLegs(legs)
	if len(al) != 2 {
		t.Fatalf("agent legs %v, want two", legStates(al))
	}
	byTo := map[string]store.Leg{}
	for _, l := range al {
		byTo[l.To] = l
		if l.From != number {
			t.Errorf("leg to %s from %q, want the ExoPhone %s", l.To, l.From, number)
		}
	}
	if s := byTo["+15550100201"].Status; s != store.Canceled && s != store.NoAnswer {
		t.Errorf("no-answer destination: %s, want canceled or no-answer", s)
	}
	talk := byTo["+15550100405"]
	if talk.Status != store.Completed || talk.AnswerTime == nil || !withinSec(talk.TalkTime, 5, 2) {
		t.Errorf("answering destination: %s, answered %v, talk %d s; want completed, about 5 s", talk.Status, talk.AnswerTime, talk.TalkTime)
	}
	if !pathHas(res, "record_session ") {
		t.Errorf("path %v: no record_session", res.Path)
	}
	recs, err := h.db.Recordings().ByCall(ctx, account, c.SID)
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordingURL == "" || len(recs) != 1 || recs[0].URL != c.RecordingURL || recs[0].Channels != store.ChannelsDual {
		t.Errorf("recording: call's URL %q, rows %+v; want one dual recording at the call's URL", c.RecordingURL, recs)
	}
	if got := crm.requests(t, "/v10", c, connectCaller, number); len(got) != 1 || got[0].Get("DialCallDuration") != "0" {
		t.Errorf("CRM requests %v, want one (DialCallDuration 0)", got)
	}
	rows := h.requestLog(c.SID)
	if len(rows) != 1 || rows[0].Kind != store.RequestConnect || rows[0].Outcome != routing.OutcomeSuccess || rows[0].HTTPStatus != 200 {
		t.Errorf("request log %+v, want one successful connect request", rows)
	}
}

// TestProgrammableConnectSequentialV11: a v1.1 answer rings a busy number
// then one that stays up; the conversation limit cuts the call; single
// channel recording.
func TestProgrammableConnectSequentialV11(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000702"
	u := crm.answer("/v11", `{"destination":[{"contact_uri":"+15550100101"},{"contact_uri":"+15550100000"}],
		"max_conversation_duration":8,"recording":{"record":true,"channels":"single"}}`)
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	br := bridgeApps(res)
	if len(br) != 1 || !strings.Contains(br[0], "|") || !strings.Contains(br[0], "sched_hangup +8 ALLOTTED_TIMEOUT") {
		t.Errorf("bridges %q: want one sequential bridge with the 8 s limit", br)
	}
	al := agentLegs(legs)
	if got := legStates(al); fmt.Sprint(got) != fmt.Sprint([]string{"+15550100101:busy", "+15550100000:completed"}) {
		t.Fatalf("agent legs %v", got)
	}
	if l := al[1]; l.HangupCause != "ALLOTTED_TIMEOUT" || !withinSec(l.TalkTime, 8, 2) {
		t.Errorf("answered leg: cause %s talk %d s; want ALLOTTED_TIMEOUT after about 8 s", l.HangupCause, l.TalkTime)
	}
	if al[0].HangupCause != "USER_BUSY" || al[0].AnswerTime != nil {
		t.Errorf("busy leg: cause %s answered %v", al[0].HangupCause, al[0].AnswerTime)
	}
	recs, err := h.db.Recordings().ByCall(ctx, account, c.SID)
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordingURL == "" || len(recs) != 1 || recs[0].Channels != store.ChannelsSingle || recs[0].URL != c.RecordingURL {
		t.Errorf("recording: call's URL %q, rows %+v; want one single-channel recording", c.RecordingURL, recs)
	}
	if got := crm.requests(t, "/v11", c, connectCaller, number); len(got) != 1 {
		t.Errorf("CRM got %d requests, want 1", len(got))
	}
}

// TestProgrammableConnectRingingLimit: max_ringing_duration bounds the
// ringing of a number that never answers: the no-answer output.
func TestProgrammableConnectRingingLimit(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000703"
	u := crm.answer("/ring", `{"destination":[{"contact_uri":"+15550100202"}],"max_ringing_duration":6}`)
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if !pathHas(res, "took no_answer") || c.Status != store.Completed {
		t.Fatalf("call %s, path %v; want the no_answer output", c.Status, res.Path)
	}
	al := agentLegs(legs)
	if len(al) != 1 || al[0].Status != store.NoAnswer || al[0].AnswerTime != nil {
		t.Fatalf("agent legs %v, want one no-answer", legStates(al))
	}
	if !withinSec(al[0].Duration, 6, 2) {
		t.Errorf("leg rang %d s (cause %s), want about 6", al[0].Duration, al[0].HangupCause)
	}
	if br := bridgeApps(res); len(br) != 1 || !strings.Contains(br[0], "leg_timeout=6,") {
		t.Errorf("bridges %q, want leg_timeout=6", br)
	}
	crm.requests(t, "/ring", c, connectCaller, number)
}

// TestProgrammableConnectMaxParallelAttempts: parallel ringing capped at
// one rings three destinations one at a time, in the answer's order.
func TestProgrammableConnectMaxParallelAttempts(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000704"
	u := crm.answer("/cap", `{"destination":{"numbers":["+15550100102","+15550100203","+15550100406"]},
		"parallel_ringing":{"activate":true,"max_parallel_attempts":1},"max_ringing_duration":5}`)
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	want := []string{"+15550100102", "+15550100203", "+15550100406"}
	br := bridgeApps(res)
	if len(br) != 3 {
		t.Fatalf("bridges %q, want three attempts", br)
	}
	for i, b := range br {
		if strings.Count(b, "loopback/") != 1 || !strings.Contains(b, "loopback/"+want[i]+"/") {
			t.Errorf("attempt %d: bridge %q, want %s alone", i+1, b, want[i])
		}
	}
	al := agentLegs(legs)
	if got := legStates(al); fmt.Sprint(got) != fmt.Sprint([]string{want[0] + ":busy", want[1] + ":no-answer", want[2] + ":completed"}) {
		t.Fatalf("agent legs %v", got)
	}
	// One at a time on the node's clock (end times and durations are the
	// node's; start and answer times are Switchyard's): each attempt
	// started, by its own end and duration, after the previous ended.
	if !withinSec(al[1].Duration, 5, 2) {
		t.Errorf("second attempt rang %d s, want about 5 (the ringing limit)", al[1].Duration)
	}
	for i := 1; i < len(al); i++ {
		prev, cur := al[i-1], al[i]
		if prev.EndTime == nil || cur.EndTime == nil {
			t.Fatalf("legs without an end time: %+v", al)
		}
		started := cur.EndTime.Add(-time.Duration(cur.Duration) * time.Second)
		if started.Before(prev.EndTime.Add(-time.Second)) {
			t.Errorf("attempt %d (%s) started about %v, before attempt %d ended at %v",
				i+1, cur.To, started, i, prev.EndTime)
		}
	}
	if !withinSec(al[2].TalkTime, 6, 2) {
		t.Errorf("third leg talked %d s, want about 6", al[2].TalkTime)
	}
	if got := crm.requests(t, "/cap", c, connectCaller, number); len(got) != 1 {
		t.Errorf("CRM got %d requests, want 1", len(got))
	}
}

// TestProgrammableConnectOutgoingNumber: outgoing_phone_number shows
// another ExoPhone of the account to the destinations; a number that is
// not the account's fails the connect with the reason logged.
func TestProgrammableConnectOutgoingNumber(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const mine, notMine = "+15550000705", "+15550000706"
	h.flowOn(ctx, mine, programmableFlow(crm.answer("/mine",
		`{"destination":{"numbers":["+15550100403"]},"outgoing_phone_number":"`+afterHours+`"}`), 2))
	h.flowOn(ctx, notMine, programmableFlow(crm.answer("/other",
		`{"destination":{"numbers":["+15550100403"]},"outgoing_phone_number":"`+unknownNum+`"}`), 2))

	res, c, legs := h.call(testphone.Script{To: mine, From: connectCaller})
	al := agentLegs(legs)
	if c.Status != store.Completed || pathHas(res, "took ") || len(al) != 1 || al[0].Status != store.Completed {
		t.Fatalf("call %s, path %v, legs %v; want the agent reached", c.Status, res.Path, legStates(al))
	}
	if al[0].From != afterHours {
		t.Errorf("agent leg from %q, want the ExoPhone %s", al[0].From, afterHours)
	}
	if br := bridgeApps(res); len(br) != 1 || !strings.Contains(br[0], "origination_caller_id_number="+afterHours+",") {
		t.Errorf("bridges %q, want the connectCaller id %s", br, afterHours)
	}
	crm.requests(t, "/mine", c, connectCaller, mine)

	res, c, legs = h.call(testphone.Script{To: notMine, From: connectCaller})
	if !pathHas(res, "took failed") || len(agentLegs(legs)) != 0 || c.Status != store.Completed {
		t.Fatalf("call %s, path %v, legs %v; want the failed output and nobody dialled", c.Status, res.Path, legStates(legs))
	}
	rows := h.requestLog(c.SID)
	if len(rows) != 1 || rows[0].Outcome != routing.OutcomeFailed ||
		!strings.Contains(rows[0].Error, "outgoing_phone_number") || !strings.Contains(rows[0].Error, "not an ExoPhone of this account") {
		t.Errorf("request log %+v, want the ExoPhone check's reason", rows)
	}
	crm.requests(t, "/other", c, connectCaller, notMine)
}

// TestProgrammableConnectSIP: sip: destinations are dialled through the
// runtime's SIP endpoint, here sofia/switchyard_testnet/{uri}: the test
// phone network over SIP (freeswitch-conf/sip_profiles/switchyard_testnet.xml
// on a real node, the same numbers on the emulator). The first URI is
// busy (486); the second answers after a second and stays up, here until
// the conversation limit.
func TestProgrammableConnectSIP(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000707"
	busy, agent := "sip:+15550100101@"+h.testnetSIP(), "sip:+15550100001@"+h.testnetSIP()
	u := crm.answer("/sip", fmt.Sprintf(`{"destination":[{"contact_uri":%q},{"contact_uri":%q}],
		"max_conversation_duration":5}`, busy, agent))
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	br := bridgeApps(res)
	ep := func(uri string) string { return "]sofia/switchyard_testnet/" + strings.TrimPrefix(uri, "sip:") }
	if len(br) != 1 || !strings.Contains(br[0], ep(busy)+"|[") || !strings.HasSuffix(br[0], ep(agent)) {
		t.Errorf("bridges %q, want sofia/switchyard_testnet/{uri} endpoints in order", br)
	}
	al := agentLegs(legs)
	if got := legStates(al); fmt.Sprint(got) != fmt.Sprint([]string{busy + ":busy", agent + ":completed"}) {
		t.Fatalf("agent legs %v", got)
	}
	if al[0].HangupCause != "USER_BUSY" || al[0].SIPTermStatus != "486" {
		t.Errorf("busy SIP leg: cause %s, SIP status %s", al[0].HangupCause, al[0].SIPTermStatus)
	}
	if l := al[1]; l.AnswerTime == nil || l.HangupCause != "ALLOTTED_TIMEOUT" || !withinSec(l.TalkTime, 5, 2) || l.From != number {
		t.Errorf("SIP agent leg: answered %v cause %s talk %d from %s; want ALLOTTED_TIMEOUT after about 5 s from %s",
			l.AnswerTime, l.HangupCause, l.TalkTime, l.From, number)
	}
	crm.requests(t, "/sip", c, connectCaller, number)
}

// TestProgrammableConnectFetchAfterAttempt: after an attempt nobody
// answered, the URL is asked again with how it went, and its next answer
// is dialled.
func TestProgrammableConnectFetchAfterAttempt(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000708"
	u := crm.answers("/fetch",
		`{"destination":{"numbers":["+15550100103"]},"fetch_after_attempt":true}`,
		`{"destination":{"numbers":["+15550100407"]}}`)
	h.flowOn(ctx, number, programmableFlow(u, 2))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	al := agentLegs(legs)
	if got := legStates(al); fmt.Sprint(got) != fmt.Sprint([]string{"+15550100103:busy", "+15550100407:completed"}) {
		t.Fatalf("agent legs %v", got)
	}
	got := crm.requests(t, "/fetch", c, connectCaller, number)
	if len(got) != 2 {
		t.Fatalf("CRM got %d requests, want 2", len(got))
	}
	if got[0].Get("DialCallStatus") != "" {
		t.Errorf("first request DialCallStatus %q, want none", got[0].Get("DialCallStatus"))
	}
	if s, w := got[1].Get("DialCallStatus"), got[1].Get("DialWhomNumber"); s != "busy" || w != "+15550100103" {
		t.Errorf("second request: DialCallStatus %q DialWhomNumber %q; want busy, +15550100103", s, w)
	}
	if d := got[1].Get("DialCallDuration"); d == "" {
		t.Errorf("second request: no DialCallDuration")
	}
	rows := h.requestLog(c.SID)
	if len(rows) != 2 || rows[0].Outcome != routing.OutcomeSuccess || rows[1].Outcome != routing.OutcomeSuccess {
		t.Errorf("request log %+v, want two successful requests", rows)
	}
}

// TestProgrammableConnectNobody: an empty destination list dials nobody
// and takes the no-answer output; the request itself succeeded.
func TestProgrammableConnectNobody(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const v10, v11 = "+15550000709", "+15550000710"
	h.flowOn(ctx, v10, programmableFlow(crm.answer("/none10", `{"destination":{"numbers":[]}}`), 2))
	h.flowOn(ctx, v11, programmableFlow(crm.answer("/none11", `{"destination":[]}`), 2))
	for _, number := range []string{v10, v11} {
		res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
		if !pathHas(res, "took no_answer") || len(agentLegs(legs)) != 0 || c.Status != store.Completed {
			t.Errorf("%s: call %s, path %v, legs %v; want the no_answer output, nobody dialled", number, c.Status, res.Path, legStates(legs))
		}
		if rows := h.requestLog(c.SID); len(rows) != 1 || rows[0].Outcome != routing.OutcomeSuccess {
			t.Errorf("%s: request log %+v, want one success", number, rows)
		}
	}
	crm.requests(t, "/none10", nil, connectCaller, v10)
	crm.requests(t, "/none11", nil, connectCaller, v11)
}

// TestProgrammableConnectFallback: the URL answers 500, the fallback URL
// answers well: the call goes through, and both requests are logged.
func TestProgrammableConnectFallback(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000711"
	primary := crm.handle("/primary", crmReply(http.StatusInternalServerError, "text/plain", "oops"))
	fallback := crm.answer("/fallback", `{"destination":{"numbers":["+15550100402"]}}`)
	h.flowOn(ctx, number, connectFlow(fmt.Sprintf(`{"url":%q,"fallback_url":%q,"timeout":2}`, primary, fallback)))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	al := agentLegs(legs)
	if c.Status != store.Completed || pathHas(res, "took ") || len(al) != 1 || al[0].Status != store.Completed {
		t.Fatalf("call %s, path %v, legs %v; want the fallback's destination reached", c.Status, res.Path, legStates(al))
	}
	if p, f := len(crm.requests(t, "/primary", c, connectCaller, number)), len(crm.requests(t, "/fallback", c, connectCaller, number)); p != 1 || f != 1 {
		t.Errorf("CRM requests: primary %d, fallback %d; want 1 each", p, f)
	}
	rows := h.requestLog(c.SID)
	if len(rows) != 2 {
		t.Fatalf("request log %+v, want two rows", rows)
	}
	byURL := map[string]store.CallRequest{}
	for _, r := range rows {
		byURL[r.URL] = r
	}
	if r := byURL[primary]; r.Kind != store.RequestConnect || r.Outcome != routing.OutcomeFailed || r.HTTPStatus != 500 || !strings.Contains(r.Error, "HTTP status 500") {
		t.Errorf("primary's row %+v", r)
	}
	if r := byURL[fallback]; r.Kind != store.RequestConnect || r.Outcome != routing.OutcomeSuccess || r.HTTPStatus != 200 {
		t.Errorf("fallback's row %+v", r)
	}
}

// TestProgrammableConnectMalformed: every unusable answer takes the failed
// output, the caller hears that branch, and the request log says why.
func TestProgrammableConnectMalformed(t *testing.T) {
	h := newConnectHarness(t, options{})
	crm := newCRM(t)
	ctx := context.Background()
	good := `"destination":{"numbers":["+15550100000"]}`
	json := func(body string) http.HandlerFunc { return crmReply(http.StatusOK, "application/json", body) }
	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  int    // the logged HTTP status (0: no response)
		want    string // in the logged error
	}{
		{"http500", crmReply(http.StatusInternalServerError, "application/json", "{"+good+"}"), 500, "HTTP status 500"},
		{"http404", crmReply(http.StatusNotFound, "text/plain", "no such page"), 404, "HTTP status 404"},
		{"http302", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, 302, "redirects are not followed"},
		{"slow", crm.slow, 0, "timeout after 1s"},
		{"invalid-json", json(`{"destination":{"numbers":["+15550100000"]`), 200, "not valid JSON"},
		{"json-array", json(`[{"contact_uri":"+15550100000"}]`), 200, "must be a JSON object (got an array)"},
		{"html", crmReply(http.StatusOK, "text/html; charset=utf-8", "<html><body>{"+good+"}</body></html>"), 200, `Content-Type must be application/json (got "text/html")`},
		{"empty-body", json(""), 200, "response body is empty"},
		{"no-destination", json(`{"record":true}`), 200, "destination: missing"},
		{"bad-number", json(`{"destination":{"numbers":["+15550100000","call-me-maybe"]}}`), 200, "destination.numbers[1]: not a phone number"},
		{"numbers-not-array", json(`{"destination":{"numbers":"+15550100000"}}`), 200, "destination.numbers: must be an array"},
		{"v11-no-contact-uri", json(`{"destination":[{"contact_uri":"+15550100000"},{"number":"+15550100001"}]}`), 200, "destination[1].contact_uri: missing"},
		{"ringing-out-of-range", json(`{` + good + `,"max_ringing_duration":500}`), 200, "max_ringing_duration: must be 5..120"},
		{"string-for-number", json(`{` + good + `,"max_conversation_duration":"60"}`), 200, "max_conversation_duration: must be a number"},
		{"music-on-hold-type", json(`{` + good + `,"music_on_hold":{"type":"jazz"}}`), 200, "music_on_hold.type: must be operator_tone"},
		{"recording-channels", json(`{` + good + `,"recording":{"record":true,"channels":"quad"}}`), 200, "recording.channels: must be single or dual"},
		{"parallel-attempts", json(`{` + good + `,"parallel_ringing":{"activate":true,"max_parallel_attempts":0}}`), 200, "parallel_ringing.max_parallel_attempts: must be 1..10"},
		{"over-long", json(`{` + good + `,"padding":"` + strings.Repeat("x", routing.DefaultMaxBody) + `"}`), 200, fmt.Sprintf("response body over %d bytes", routing.DefaultMaxBody)},
		{"trunk", json(`{"destination":{"trunk":{"name":"carrier","number":"+15550100000"}}}`), 200, "destination.trunk: must be a string"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			number := fmt.Sprintf("+155500008%02d", i)
			path := "/bad/" + tc.name
			h.flowOn(ctx, number, programmableFlow(crm.handle(path, tc.handler), 1))
			start := time.Now()
			res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
			t.Logf("%s: %v", tc.name, time.Since(start).Round(time.Millisecond))
			if c == nil {
				t.Fatalf("no call record (path %v)", res.Path)
			}
			if !pathHas(res, "took failed") || pathHas(res, "bridge") {
				t.Errorf("path %v, want the failed output and no bridge", res.Path)
			}
			if c.Status != store.Completed || len(agentLegs(legs)) != 0 {
				t.Errorf("call %s, legs %v; want completed (the connectCaller heard the failed branch), nobody dialled", c.Status, legStates(legs))
			}
			rows := h.requestLog(c.SID)
			if len(rows) != 1 {
				t.Fatalf("request log %+v, want one row", rows)
			}
			r := rows[0]
			if r.Kind != store.RequestConnect || r.Outcome != routing.OutcomeFailed || r.HTTPStatus != tc.status || !strings.Contains(r.Error, tc.want) {
				t.Errorf("logged %s/%s http %d error %q; want connect/failed, http %d, error with %q", r.Kind, r.Outcome, r.HTTPStatus, r.Error, tc.status, tc.want)
			}
			if got := crm.requests(t, path, c, connectCaller, number); len(got) != 1 {
				t.Errorf("CRM got %d requests, want 1", len(got))
			}
		})
	}
}

// TestStartPlaybackHeardByBoth: a connect's start-of-call playback "to
// both" is played to the caller while the conversation goes on, not after
// it (a bridge sent with event-lock would hold the caller's half back
// until the bridge ends).
func TestStartPlaybackHeardByBoth(t *testing.T) {
	h := newHarnessOpts(t, options{realTime: true})
	ctx := context.Background()
	const tone = "tone_stream://%(1500,0,600)"
	h.flowOn(ctx, "+15550000641", connectFlow(`{"destinations":["+15550100001"],"max_conversation":6,
		"start_call_playback":{"playback_to":"both","prompt":{"audio":"`+tone+`"}}}`))
	res, c, legs := h.call(testphone.Script{To: "+15550000641", From: "+15550109041"})
	if g := agentLegs(legs); c.Status != store.Completed || len(g) != 1 || g[0].Status != store.Completed {
		t.Fatalf("call %s, agent legs %+v", c.Status, g)
	}
	var bridge, played *testphone.Step
	for i, s := range res.Path {
		switch {
		case s.App == "bridge":
			bridge = &res.Path[i]
		case s.App == "playback" && s.Arg == tone:
			played = &res.Path[i]
		}
	}
	if bridge == nil || played == nil {
		t.Fatalf("path %v: want the bridge and the caller's playback of %s", res.Path, tone)
	}
	if bridge.EndSeq == 0 || played.Seq < bridge.Seq || played.Seq > bridge.EndSeq {
		t.Errorf("the caller's playback ran at event %d, outside the bridge (%d..%d)", played.Seq, bridge.Seq, bridge.EndSeq)
	}
}

// TestLegNeverCreated: a destination whose channel cannot even be created
// (its SIP profile does not exist) is recorded failed at once. Alone in
// its bridge it takes the originate's own cause and the failed output;
// before another destination the node names no cause for it (only a
// CHANNEL_DESTROY without one), so none is made up, and the next
// destination is tried.
func TestLegNeverCreated(t *testing.T) {
	h := newHarnessOpts(t, options{sipEndpoint: "sofia/no_such_profile/{uri}"})
	ctx := context.Background()
	sip := "sip:+15550100001@" + h.testnetSIP()
	h.flowOn(ctx, "+15550000651", connectFlow(`{"destinations":["`+sip+`"]}`))
	h.flowOn(ctx, "+15550000652", connectFlow(`{"destinations":["`+sip+`","+15550100405"],"strategy":"sequential"}`))

	res, c, legs := h.call(testphone.Script{To: "+15550000651", From: "+15550109051"})
	al := agentLegs(legs)
	if got := legStates(al); c.Status != store.Completed || !pathHas(res, "took failed") || fmt.Sprint(got) != fmt.Sprint([]string{sip + ":failed"}) {
		t.Fatalf("alone: call %s, path %v, agent legs %v", c.Status, res.Path, got)
	}
	if al[0].HangupCause != "INVALID_PROFILE" {
		t.Errorf("alone: uncreated leg's cause %q, want INVALID_PROFILE", al[0].HangupCause)
	}

	_, c, legs = h.call(testphone.Script{To: "+15550000652", From: "+15550109052"})
	al = agentLegs(legs)
	if got := legStates(al); c.Status != store.Completed || fmt.Sprint(got) != fmt.Sprint([]string{sip + ":failed", "+15550100405:completed"}) {
		t.Fatalf("first of two: call %s, agent legs %v", c.Status, got)
	}
	if al[0].HangupCause != "" || al[0].AnswerTime != nil {
		t.Errorf("first of two: uncreated leg's cause %q, answered %v; want none", al[0].HangupCause, al[0].AnswerTime)
	}
}

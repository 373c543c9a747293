package main

// Agents (users) end to end: a user on a call of one Switchyard instance is
// skipped by a state-managed connect of another (the hold is a row in the
// shared database), a crashed instance's hold lapses with its lease, and a
// user is free again when their leg ends, not when the caller's call does.
// Calls are placed with the test phone on the instances' embedded
// emulators; the tests wait on the requests Switchyard makes (dial events,
// the CRM's programmable connect, a passthru) rather than on the clock.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// Test-network numbers (orchestrator/fsim): 4NN answers and talks NN
// simulated seconds (the emulator runs 20 times faster than real time);
// 000NN answers and stays up.
const (
	agentsAshaTimed = "+15550100499" // 99 s simulated: about 5 s real
	agentsAshaUp    = "+15550100001" // answers and stays up
	agentsRavi      = "+15550100406" // 6 s simulated
	agentsMeera     = "+15550100460" // 60 s simulated: about 3 s real
)

// agentsServe is startServe with the embedded emulator's address.
func agentsServe(t *testing.T, dsn string, tweak ...func(*Config)) (*server, string) {
	t.Helper()
	s := startServe(t, dsn, tweak...)
	if s.esl == "" {
		t.Fatal("serve runs no embedded emulator")
	}
	return s, s.esl
}

// agentsPost POSTs a JSON body to a management path and decodes the
// envelope's response.<key> into out.
func agentsPost(s *server, path, body, key string, out any) {
	s.t.Helper()
	code, resp, _ := s.do("POST", path, body)
	if code != http.StatusOK && code != http.StatusCreated {
		s.t.Fatalf("POST %s: %d %s", path, code, resp)
	}
	agentsDecode(s, path, resp, key, out)
}

// agentsGet GETs a management path and decodes response.<key> into out.
func agentsGet(s *server, path, key string, out any) {
	s.t.Helper()
	code, resp, _ := s.do("GET", path, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, code, resp)
	}
	agentsDecode(s, path, resp, key, out)
}

func agentsDecode(s *server, path string, resp []byte, key string, out any) {
	s.t.Helper()
	var env struct {
		Response map[string]json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(resp, &env); err != nil || env.Response[key] == nil {
		s.t.Fatalf("%s: no response.%s (%v) in %s", path, key, err, resp)
	}
	if err := json.Unmarshal(env.Response[key], out); err != nil {
		s.t.Fatalf("%s: response.%s: %v in %s", path, key, err, resp)
	}
}

// agentsUser is the part of a management user the tests read.
type agentsUser struct {
	SID     string `json:"sid"`
	Name    string `json:"name"`
	Devices []struct {
		ID         string `json:"id"`
		ContactURI string `json:"contact_uri"`
	} `json:"devices"`
	Busy        bool    `json:"busy"`
	BusyCallSID *string `json:"busy_call_sid"`
}

func (u agentsUser) String() string {
	call := "null"
	if u.BusyCallSID != nil {
		call = *u.BusyCallSID
	}
	return fmt.Sprintf("%s busy=%v busy_call_sid=%s", u.Name, u.Busy, call)
}

// agentsNewUser creates an available user with devices.
func agentsNewUser(s *server, name string, devices ...string) agentsUser {
	s.t.Helper()
	devs, _ := json.Marshal(devices)
	var u agentsUser
	agentsPost(s, "/v2/accounts/"+demoAccount+"/users",
		fmt.Sprintf(`{"name":%q,"devices":%s,"available":true}`, name, devs), "user", &u)
	if u.SID == "" || u.Busy {
		s.t.Fatalf("created user %+v", u)
	}
	return u
}

func agentsGetUser(s *server, sid string) agentsUser {
	s.t.Helper()
	var u agentsUser
	agentsGet(s, "/v2/accounts/"+demoAccount+"/users/"+sid, "user", &u)
	return u
}

// agentsExpectUser fails unless the user is busy on call (call "") or
// free.
func agentsExpectUser(s *server, who, sid, call, when string) {
	s.t.Helper()
	u := agentsGetUser(s, sid)
	switch {
	case call == "" && (u.Busy || u.BusyCallSID != nil):
		s.t.Fatalf("%s: %s reads %v, want free", when, who, u)
	case call != "" && (!u.Busy || u.BusyCallSID == nil || *u.BusyCallSID != call):
		s.t.Fatalf("%s: %s reads %v, want busy on %s", when, who, u, call)
	}
}

// agentsFlowOn creates and publishes a flow and routes a new ExoPhone to
// it.
func agentsFlowOn(s *server, number, name, document string) {
	s.t.Helper()
	base := "/v2/accounts/" + demoAccount
	body, _ := json.Marshal(map[string]any{"name": name, "document": json.RawMessage(document)})
	var f struct {
		ID string `json:"id"`
	}
	agentsPost(s, base+"/flows", string(body), "flow", &f)
	var pub struct {
		Published bool `json:"published"`
	}
	agentsPost(s, base+"/flows/"+f.ID+"/publish", `{}`, "flow", &pub)
	if !pub.Published {
		s.t.Fatalf("flow %s not published", f.ID)
	}
	var ph struct {
		FlowID *string `json:"flow_id"`
	}
	agentsPost(s, base+"/exophones", fmt.Sprintf(`{"number":%q,"flow_id":%q}`, number, f.ID), "exophone", &ph)
	if ph.FlowID == nil || *ph.FlowID != f.ID {
		s.t.Fatalf("ExoPhone %s routed to %v, want %s", number, ph.FlowID, f.ID)
	}
}

// agentsConnectFlow is a flow whose connect applet has config; answered
// leads to then (an applet of extra, or "bye"), the other outputs to
// greetings naming them.
func agentsConnectFlow(config, then, extra string) string {
	if then == "" {
		then = "bye"
	}
	return `{"start":"c","applets":{
		"c":{"type":"connect","config":` + config + `,"outputs":{"answered":"` + then + `","busy":"busy","no_answer":"na","failed":"fail"}},
		"busy":{"type":"greeting","config":{"prompt":{"text":"took busy"}},"outputs":{"next":"bye"}},
		"na":{"type":"greeting","config":{"prompt":{"text":"took no_answer"}},"outputs":{"next":"bye"}},
		"fail":{"type":"greeting","config":{"prompt":{"text":"took failed"}},"outputs":{"next":"bye"}},` + extra + `
		"bye":{"type":"hangup"}}}`
}

// agentsDialEvents receives a connect's dial events (GETs with Exotel's
// dial passthru parameters) and reports each Answered one.
type agentsDialEvents struct {
	url      string
	answered chan url.Values
}

func newAgentsDialEvents(t *testing.T) *agentsDialEvents {
	t.Helper()
	d := &agentsDialEvents{answered: make(chan url.Values, 16)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("EventType") == "Answered" {
			select {
			case d.answered <- q:
			default:
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ts.Close)
	d.url = ts.URL + "/dial-events"
	return d
}

// waitAnswered waits for the Answered event of whom and returns the
// CallSid it names.
func (d *agentsDialEvents) waitAnswered(t *testing.T, whom string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case q := <-d.answered:
			if q.Get("DialWhomNumber") == whom && q.Get("CallSid") != "" {
				return q.Get("CallSid")
			}
			t.Logf("dial event Answered for %q (call %q) ignored", q.Get("DialWhomNumber"), q.Get("CallSid"))
		case <-deadline:
			t.Fatalf("no Answered dial event for %s within 60s", whom)
		}
	}
}

// agentsCRM is the customer's programmable connect endpoint: it answers
// every call with the same plan and counts the requests per CallSid.
type agentsCRM struct {
	url  string
	plan string

	mu    sync.Mutex
	asked map[string]int
}

func newAgentsCRM(t *testing.T, plan string) *agentsCRM {
	t.Helper()
	c := &agentsCRM{plan: plan, asked: map[string]int{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.asked[r.URL.Query().Get("CallSid")]++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, c.plan)
	}))
	t.Cleanup(ts.Close)
	c.url = ts.URL + "/connect"
	return c
}

func (c *agentsCRM) times(callSID string) (n, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.asked {
		total += k
	}
	return c.asked[callSID], total
}

// agentsCallRequest is an HTTP request of a call as the API lists it.
type agentsCallRequest struct {
	Kind       string `json:"kind"`
	URL        string `json:"url"`
	HTTPStatus *int   `json:"http_status"`
	Outcome    string `json:"outcome"`
}

// agentsLeg is a v3 leg.
type agentsLeg struct {
	ContactURI string `json:"contact_uri"`
	Status     string `json:"status"`
}

// agentsCallDone waits for the call's final record and returns its v3
// status.
func agentsCallDone(s *server, sid string) string {
	s.t.Helper()
	s.waitEnded(sid)
	var d struct {
		State  string  `json:"state"`
		Status *string `json:"status"`
	}
	agentsGet(s, "/v3/accounts/"+demoAccount+"/calls/"+sid, "call_details", &d)
	if d.State != "terminal" || d.Status == nil {
		s.t.Fatalf("call %s: %s after its final record", sid, d.State)
	}
	return *d.Status
}

// agentsToLegs lists the call's dialled legs (v3's to side).
func agentsToLegs(s *server, sid string) []agentsLeg {
	s.t.Helper()
	var ld struct {
		To []agentsLeg `json:"to"`
	}
	agentsGet(s, "/v3/accounts/"+demoAccount+"/calls/"+sid+"/legs", "leg_details", &ld)
	return ld.To
}

// agentsCall places a call with the test phone and returns once the
// caller is gone; it fails unless Switchyard took the call.
func agentsCall(t *testing.T, esl string, script testphone.Script) *testphone.Result {
	t.Helper()
	res, err := testphone.New(esl, "ClueCon").Call(context.Background(), script)
	if err != nil || res.CallSid == "" {
		t.Fatalf("call %s -> %s: %v (%+v)", script.From, script.To, err, res)
	}
	return res
}

// TestAgentBusyAcrossInstances: two instances, in two processes, on one
// PostgreSQL database. While the child has Asha on a call, the parent's
// programmable, state-managed connect skips her for Ravi; when the child
// crashes, Asha stays busy until its lease runs out, and is rung again
// after.
func TestAgentBusyAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	// The parent first: demo seeding is not safe run concurrently.
	parent, parentESL := agentsServe(t, dsn)
	c := startChild(t, dsn, "-agent-lease=3s")

	// Asha has two devices; a user is held as a whole, whichever device
	// rang. The child holds her on the one that stays up, so she is still
	// on that call whenever the test kills the child.
	asha := agentsNewUser(parent, "Asha", agentsAshaTimed, agentsAshaUp)
	ravi := agentsNewUser(parent, "Ravi", agentsRavi)

	events := newAgentsDialEvents(t)
	const holdPhone, crmPhone = "+15550000711", "+15550000712"
	agentsFlowOn(parent, holdPhone, "Asha's line",
		agentsConnectFlow(`{"destinations":["`+agentsAshaUp+`"],"dial_event_url":"`+events.url+`"}`, "", ""))
	crm := newAgentsCRM(t, `{"destination":[{"contact_uri":"`+agentsAshaTimed+`"},{"contact_uri":"`+agentsRavi+`"}],
		"state_management":true,"max_ringing_duration":20}`)
	agentsFlowOn(parent, crmPhone, "CRM routed",
		agentsConnectFlow(`{"url":"`+crm.url+`","timeout":10}`, "", ""))

	// The child takes a call that connects Asha. Its test phone only
	// watches the call: cancelling it leaves the call up on the child's
	// emulator.
	watch, stopWatching := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		_, _ = testphone.New(c.esl, "ClueCon").Call(watch, testphone.Script{From: "+15550109101", To: holdPhone})
	}()
	leave := func() {
		stopWatching()
		<-watching
	}
	t.Cleanup(leave)
	holder := events.waitAnswered(t, agentsAshaUp)
	agentsExpectUser(parent, "Asha", asha.SID, holder, "child's call answered (read through the parent)")
	agentsExpectUser(c.server, "Asha", asha.SID, holder, "child's call answered (read through the child)")
	agentsExpectUser(parent, "Ravi", ravi.SID, "", "child's call answered")

	// The parent's call: the CRM lists Asha first, but she is on the
	// child's call; Ravi takes it.
	res := agentsCall(t, parentESL, testphone.Script{From: "+15550109102", To: crmPhone})
	if st := agentsCallDone(parent, res.CallSid); st != "completed" {
		t.Fatalf("parent's call: status %s, path %v", st, res.Path)
	}
	legs := agentsToLegs(parent, res.CallSid)
	if len(legs) != 1 || legs[0].ContactURI != agentsRavi || legs[0].Status != "completed" {
		t.Errorf("parent's call legs %+v: want one completed leg to %s and none to Asha (%s)", legs, agentsRavi, agentsAshaTimed)
	}
	if n, total := crm.times(res.CallSid); n != 1 || total != 1 {
		t.Errorf("CRM asked %d times for the call (%d in all), want once", n, total)
	}
	var reqs []agentsCallRequest
	agentsGet(parent, "/v2/accounts/"+demoAccount+"/calls/"+res.CallSid+"/requests", "requests", &reqs)
	if len(reqs) != 1 || reqs[0].Kind != "connect" || reqs[0].Outcome != "success" || !strings.HasPrefix(reqs[0].URL, crm.url) ||
		reqs[0].HTTPStatus == nil || *reqs[0].HTTPStatus != http.StatusOK {
		t.Errorf("call requests %+v: want the one connect request to %s, success", reqs, crm.url)
	}
	agentsExpectUser(parent, "Asha", asha.SID, holder, "after the parent's call")
	agentsExpectUser(parent, "Ravi", ravi.SID, "", "after the parent's call")

	// The test phone leaves the child's emulator first (the call goes
	// on): an event socket whose peer dies trips a data race in eslgo's
	// inbound connection, whose disconnect loop closes the connection
	// while its auth loop reads the same map (see orchestrator/esl).
	leave()
	agentsExpectUser(parent, "Asha", asha.SID, holder, "the child's test phone gone")

	// The child crashes with Asha on its call: the call's record stays
	// open and her hold stays until its lease (3 s, refreshed every
	// second while the child lived) runs out.
	killed := time.Now()
	c.kill()
	u := agentsGetUser(parent, asha.SID)
	if time.Since(killed) < time.Second {
		if !u.Busy || u.BusyCallSID == nil || *u.BusyCallSID != holder {
			t.Errorf("right after the crash Asha reads %v, want still busy on %s", u, holder)
		}
	} else {
		t.Logf("the check right after the crash took %s; Asha's hold may have lapsed: not checked", time.Since(killed))
	}
	// The lease is a clock: nothing announces its end, so the API is
	// polled, with a deadline well past the 3 s lease.
	deadline := time.Now().Add(30 * time.Second)
	for u.Busy {
		if time.Now().After(deadline) {
			t.Fatalf("Asha still reads %v 30s after the child was killed (lease 3s)", u)
		}
		time.Sleep(100 * time.Millisecond)
		u = agentsGetUser(parent, asha.SID)
	}
	if u.BusyCallSID != nil {
		t.Errorf("Asha free but busy_call_sid %s", *u.BusyCallSID)
	}
	t.Logf("Asha free %s after the crash", time.Since(killed).Round(10*time.Millisecond))

	// Free again: the same routing now rings Asha, who answers.
	res = agentsCall(t, parentESL, testphone.Script{From: "+15550109103", To: crmPhone})
	if st := agentsCallDone(parent, res.CallSid); st != "completed" {
		t.Fatalf("call after the lease: status %s, path %v", st, res.Path)
	}
	legs = agentsToLegs(parent, res.CallSid)
	if len(legs) != 1 || legs[0].ContactURI != agentsAshaTimed || legs[0].Status != "completed" {
		t.Errorf("call after the lease: legs %+v, want one answered (completed) leg to %s", legs, agentsAshaTimed)
	}
	if n, _ := crm.times(res.CallSid); n != 1 {
		t.Errorf("CRM asked %d times for the call after the lease, want once", n)
	}
	agentsExpectUser(parent, "Asha", asha.SID, "", "after the call after the lease")
}

// agentsGate is a passthru endpoint that holds each request until the
// test opens it: the call waits in the flow meanwhile.
type agentsGate struct {
	url     string
	arrived chan string // CallSid of each request
	open    chan struct{}
	once    sync.Once
}

// release lets every held request, and those to come, through.
func (g *agentsGate) release() { g.once.Do(func() { close(g.open) }) }

func newAgentsGate(t *testing.T) *agentsGate {
	t.Helper()
	g := &agentsGate{arrived: make(chan string, 4), open: make(chan struct{})}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.arrived <- r.URL.Query().Get("CallSid"):
		default:
		}
		select {
		case <-g.open:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ts.Close)
	// Cleanups run last first: the gate opens before the server closes.
	t.Cleanup(g.release)
	g.url = ts.URL + "/after-agent"
	return g
}

// TestAgentReleasedOnLegEnd: a user is busy while their leg is up and free
// as soon as it ends, while the caller's call goes on in the flow.
func TestAgentReleasedOnLegEnd(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) { passthruAfterLeg(t, dsn(t), true) })
}

// TestPassthruAfterTheLegsRecord: a passthru after a connect goes out once
// the leg's final record has landed, so the customer's app can read it
// over the API while it answers. The number is no user's: no agent's
// release hurries the call's writes into the database.
func TestPassthruAfterTheLegsRecord(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) { passthruAfterLeg(t, dsn(t), false) })
}

// passthruAfterLeg places a call whose flow connects to Meera's number,
// then holds it in a passthru: the leg, and with agent Meera as a user,
// are as they should be while the customer's app has the request.
func passthruAfterLeg(t *testing.T, dsn string, agent bool) {
	// The calls' writes linger as long as serve lets them (1 s, not
	// 50 ms): the passthru must not go out before they land.
	s, esl := agentsServe(t, dsn, func(c *Config) { c.WriteLinger = time.Second })
	var meera agentsUser
	if agent {
		meera = agentsNewUser(s, "Meera", agentsMeera)
	}
	events := newAgentsDialEvents(t)
	gate := newAgentsGate(t)
	const phone = "+15550000721"
	// After the conversation the flow makes a passthru that the gate
	// holds: the call is live, past its connect, until the test opens
	// it.
	agentsFlowOn(s, phone, "Meera's line", agentsConnectFlow(
		`{"destinations":["`+agentsMeera+`"],"dial_event_url":"`+events.url+`"}`, "after",
		`"after":{"type":"passthru","config":{"url":"`+gate.url+`","timeout":30},"outputs":{"success":"bye","error":"fail"}},`))

	type outcome struct {
		res *testphone.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := testphone.New(esl, "ClueCon").Call(context.Background(), testphone.Script{From: "+15550109201", To: phone})
		done <- outcome{res, err}
	}()

	// During the leg (60 simulated seconds of talk, about 3 s real,
	// from this event on), Meera is busy on the call.
	sid := events.waitAnswered(t, agentsMeera)
	if agent {
		agentsExpectUser(s, "Meera", meera.SID, sid, "her leg answered")
	}

	// Her leg has ended; the call is in the passthru.
	select {
	case got := <-gate.arrived:
		if got != sid {
			t.Fatalf("passthru for call %q, want %s", got, sid)
		}
	case o := <-done:
		t.Fatalf("the call ended before its passthru: %v, path %v", o.err, o.res)
	case <-time.After(60 * time.Second):
		t.Fatal("no passthru within 60s of the answer")
	}
	var d struct {
		State string `json:"state"`
	}
	agentsGet(s, "/v3/accounts/"+demoAccount+"/calls/"+sid, "call_details", &d)
	if d.State != "active" {
		t.Fatalf("call %s is %s during its passthru, want active", sid, d.State)
	}
	// Her leg's final record (and her release) were queued before the
	// passthru; the request waits for them to land.
	if legs := agentsToLegs(s, sid); len(legs) != 1 || legs[0].ContactURI != agentsMeera || legs[0].Status != "completed" {
		t.Fatalf("Meera's leg during the passthru: %+v, want one, completed", legs)
	}
	if agent {
		if u := agentsGetUser(s, meera.SID); u.Busy || u.BusyCallSID != nil {
			t.Fatalf("Meera during the passthru: %+v, want her free once her leg ended", u)
		}
	}

	gate.release()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the call did not end within 60s of the passthru's answer")
	}
	if o.err != nil || o.res.CallSid != sid {
		t.Fatalf("call: %v (%+v), want call %s", o.err, o.res, sid)
	}
	if st := agentsCallDone(s, sid); st != "completed" {
		t.Errorf("call status %s, path %v", st, o.res.Path)
	}
	if agent {
		agentsExpectUser(s, "Meera", meera.SID, "", "after the call")
	}
}

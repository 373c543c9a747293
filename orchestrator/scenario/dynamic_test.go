package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// Applets configured by the customer's URLs, end to end: a local CRM
// (httptest) answers the dynamic greeting, gather and dial-whom URLs and
// the passthru a switch routes on; the calls run on the node.

// newDynamicHarness is a harness whose passthru client (which also asks
// dynamic greetings and gathers) and planner reach the local CRM and log
// to the harness's store.
func newDynamicHarness(t *testing.T) *harness {
	t.Helper()
	lf := &lateFetcher{}
	h := newConnectHarness(t, options{fetcher: lf})
	lf.f.Store(passthru.New(h.db, passthru.Config{HTTPClient: localHTTP(), Writes: h.writes}, testLogger(t)))
	return h
}

// lateFetcher is the runtime's fetcher: the real one logs to the
// harness's store, which exists only once the runtime does.
type lateFetcher struct {
	f atomic.Pointer[passthru.Client]
}

func (l *lateFetcher) Fetch(ctx context.Context, c *call.Info, f flows.Fetch) (call.Answer, error) {
	return l.f.Load().Fetch(ctx, c, f)
}

// asked returns the queries path got, each checked to be about the call.
func (c *crmServer) asked(t *testing.T, path string, cl *store.Call) []url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []url.Values
	for i, r := range c.got[path] {
		if q := r.query; q.Get("CallSid") != cl.SID || q.Get("From") != cl.From || q.Get("To") != cl.To || q.Get("Direction") != "incoming" {
			t.Errorf("%s request %d: not about call %s from %s to %s: %v", path, i, cl.SID, cl.From, cl.To, q)
		}
		out = append(out, r.query)
	}
	return out
}

// speaks reports whether the caller heard text spoken.
func speaks(res *testphone.Result, text string) bool {
	for _, s := range res.Path {
		if s.App == "speak" && strings.HasSuffix(s.Arg, "|"+text) {
			return true
		}
	}
	return false
}

// TestGreetingFromURL: a greeting speaks the text its URL answers
// (text/plain), plays the audio URL it answers, and falls back to its own
// prompt when the URL fails.
func TestGreetingFromURL(t *testing.T) {
	h := newDynamicHarness(t)
	crm := newCRM(t)
	ctx := context.Background()
	const tone = "tone_stream://%(300,0,697)"
	text := crm.handle("/text", crmReply(http.StatusOK, "text/plain", "Hello Asha, your order has shipped.\n"))
	audio := crm.handle("/audio", crmReply(http.StatusOK, "application/json", `{"type":"audio_url","value":"`+crm.srv.URL+`/hello.wav"}`))
	broken := crm.handle("/broken", crmReply(http.StatusInternalServerError, "text/plain", "oops"))
	flow := func(url string) string {
		return fmt.Sprintf(`{"start":"g","applets":{
			"g":{"type":"greeting","config":{"url":%q,"url_timeout":2,"prompt":{"text":"Welcome to Acme."}},"outputs":{"next":"t"}},
			"t":{"type":"greeting","config":{"prompt":{"audio":%q}},"outputs":{"next":"bye"}},
			"bye":{"type":"hangup"}}}`, url, tone)
	}
	h.flowOn(ctx, "+15550000801", flow(text))
	h.flowOn(ctx, "+15550000802", flow(broken))
	h.flowOn(ctx, "+15550000803", flow(audio))

	res, c, _ := h.call(testphone.Script{To: "+15550000801"})
	checkCall(t, c, store.Completed)
	if !speaks(res, "Hello Asha, your order has shipped.") || speaks(res, "Welcome to Acme.") || !pathHas(res, tone) {
		t.Errorf("text answer: path %v", res.Path)
	}
	if got := crm.asked(t, "/text", c); len(got) != 1 {
		t.Errorf("CRM got %d requests", len(got))
	}

	res, c, _ = h.call(testphone.Script{To: "+15550000802"})
	checkCall(t, c, store.Completed)
	if !speaks(res, "Welcome to Acme.") || !pathHas(res, tone) {
		t.Errorf("failed URL: path %v, want the static prompt", res.Path)
	}
	if rows := h.requestLog(c.SID); len(rows) != 1 || rows[0].Kind != "greeting" || rows[0].HTTPStatus != 500 {
		t.Errorf("request log %+v", rows)
	}

	// The audio URL is handed to playback as is (the node fetches it; the
	// test CRM serves no audio, so the node plays nothing and goes on).
	res, c, _ = h.call(testphone.Script{To: "+15550000803"})
	checkCall(t, c, store.Completed)
	if !pathHas(res, "playback "+crm.srv.URL+"/hello.wav") || !pathHas(res, tone) {
		t.Errorf("audio answer: path %v", res.Path)
	}
}

// TestGatherFromURL: a gather takes its prompt and settings from its URL's
// JSON (Exotel's dynamic gather); the digits reach the next passthru.
func TestGatherFromURL(t *testing.T) {
	h := newDynamicHarness(t)
	crm := newCRM(t)
	ctx := context.Background()
	g := crm.answer("/gather", `{"gather_prompt":{"text":"Enter your four digit PIN"},"max_input_digits":4,
		"finish_on_key":"*","input_timeout":4,"repeat_menu":1,"repeat_gather_prompt":{"text":"Once more"}}`)
	check := crm.handle("/check", crmReply(http.StatusOK, "text/plain", ""))
	h.flowOn(ctx, "+15550000811", fmt.Sprintf(`{"start":"g","applets":{
		"g":{"type":"gather","config":{"url":%q,"prompt":{"text":"Enter your order number."},"max_digits":8},"outputs":{"next":"p"}},
		"p":{"type":"passthru","config":{"url":%q},"outputs":{"success":"bye"}},
		"bye":{"type":"hangup"}}}`, g, check))

	// (The repeat after no input is in flows' tests: a real node drops
	// multi-digit input pressed during a repeated, file_string prompt,
	// with static gathers as much as dynamic ones.)
	res, c, _ := h.call(testphone.Script{To: "+15550000811", Digits: []string{"1234"}})
	checkCall(t, c, store.Completed)
	var collects []string
	for _, s := range res.Path {
		if s.App == "play_and_get_digits" {
			collects = append(collects, s.Arg)
		}
	}
	if len(collects) != 1 || !strings.HasPrefix(collects[0], "1 4 1 4000 * ") || !strings.Contains(collects[0], "Enter your four digit PIN") ||
		strings.Contains(fmt.Sprint(collects), "order number") {
		t.Errorf("digit collections %q: want the URL's prompt and settings", collects)
	}
	if c.Digits != "1234" {
		t.Errorf("digits %q", c.Digits)
	}
	got := crm.asked(t, "/check", c)
	if len(got) != 1 || got[0].Get("digits") != `"1234"` {
		t.Errorf("passthru got %v", got)
	}
	if rows := h.requestLog(c.SID); len(rows) != 2 || rows[0].Kind != "gather" {
		t.Errorf("request log %+v", rows)
	}
}

// TestSwitchOnPassthru: the passthru's answer {"select": "<case>"}
// (text/plain, as Exotel has it) routes the switch; an unknown case takes
// default.
func TestSwitchOnPassthru(t *testing.T) {
	h := newDynamicHarness(t)
	crm := newCRM(t)
	ctx := context.Background()
	for i, tc := range []struct{ answer, want string }{
		{`{"select":"sales"}`, "took sales"},
		{`{"select":"support"}`, "took support"},
		{`{"select":"marketing"}`, "took default"},
	} {
		path := fmt.Sprintf("/route%d", i)
		u := crm.handle(path, crmReply(http.StatusOK, "text/plain", tc.answer))
		number := fmt.Sprintf("+1555000082%d", i)
		h.flowOn(ctx, number, fmt.Sprintf(`{"start":"p","applets":{
			"p":{"type":"passthru","config":{"url":%q,"timeout":2},"outputs":{"success":"sw","error":"sw"}},
			"sw":{"type":"switch","outputs":{"sales":"s","support":"u","default":"d"}},
			"s":{"type":"greeting","config":{"prompt":{"text":"took sales"}},"outputs":{"next":"bye"}},
			"u":{"type":"greeting","config":{"prompt":{"text":"took support"}},"outputs":{"next":"bye"}},
			"d":{"type":"greeting","config":{"prompt":{"text":"took default"}},"outputs":{"next":"bye"}},
			"bye":{"type":"hangup"}}}`, u))
		res, c, _ := h.call(testphone.Script{To: number})
		checkCall(t, c, store.Completed)
		if !speaks(res, tc.want) || strings.Count(fmt.Sprint(res.Path), "took ") != 1 {
			t.Errorf("%s: path %v, want %q only", tc.answer, res.Path, tc.want)
		}
	}
}

// TestDialWhomText: a connect's URL answers text/plain with a
// comma-separated list (Exotel's dial-whom URL): the numbers are rung in
// turn with the applet's settings.
func TestDialWhomText(t *testing.T) {
	h := newDynamicHarness(t)
	crm := newCRM(t)
	ctx := context.Background()
	const number = "+15550000831"
	u := crm.handle("/whom", crmReply(http.StatusOK, "text/plain", "+15550100101, +15550100001\n"))
	h.flowOn(ctx, number, connectFlow(fmt.Sprintf(`{"url":%q,"timeout":2,"max_conversation":3}`, u)))

	res, c, legs := h.call(testphone.Script{To: number, From: connectCaller})
	if c.Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, path %v; want completed through the answered output", c.Status, res.Path)
	}
	al := agentLegs(legs)
	if got := legStates(al); fmt.Sprint(got) != fmt.Sprint([]string{"+15550100101:busy", "+15550100001:completed"}) {
		t.Fatalf("agent legs %v", got)
	}
	if br := bridgeApps(res); len(br) != 1 || !strings.Contains(br[0], "leg_timeout=30") || !strings.Contains(br[0], "|[") {
		t.Errorf("bridges %q, want one sequential bridge with the applet's ring timeout", br)
	}
	if l := al[1]; l.HangupCause != "ALLOTTED_TIMEOUT" || !withinSec(l.TalkTime, 3, 1) {
		t.Errorf("agent leg: cause %s talk %d; want the applet's 3 s limit", l.HangupCause, l.TalkTime)
	}
	if rows := h.requestLog(c.SID); len(rows) != 1 || rows[0].Kind != store.RequestConnect || rows[0].Outcome != "success" {
		t.Errorf("request log %+v", rows)
	}
}

// TestTransferToNumber: a transfer to a number connects the caller to it
// and takes the connect's outputs: answered after the conversation, busy.
func TestTransferToNumber(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	flow := func(to string) string {
		return fmt.Sprintf(`{"start":"t","applets":{
			"t":{"type":"transfer","config":{"number":%q,"ring_timeout":10},"outputs":{"answered":"a","busy":"b"}},
			"a":{"type":"greeting","config":{"prompt":{"text":"took answered"}},"outputs":{"next":"bye"}},
			"b":{"type":"greeting","config":{"prompt":{"text":"took busy"}},"outputs":{"next":"bye"}},
			"bye":{"type":"hangup"}}}`, to)
	}
	h.flowOn(ctx, "+15550000841", flow("+15550100403"))
	h.flowOn(ctx, "+15550000842", flow("+15550100102"))

	res, c, legs := h.call(testphone.Script{To: "+15550000841"})
	checkCall(t, c, store.Completed)
	if !speaks(res, "took answered") {
		t.Errorf("path %v, want the answered output", res.Path)
	}
	checkLegs(t, legs, []legWant{
		{to: "+15550000841", status: store.Completed, talk: true},
		{to: "+15550100403", status: store.Completed, talk: true},
	})
	if l := legs[1]; !withinSec(l.TalkTime, 3, 1) || l.From != "+15550000841" {
		t.Errorf("transfer leg: talk %d from %s; want about 3 s from the ExoPhone", l.TalkTime, l.From)
	}
	if br := bridgeApps(res); len(br) != 1 || !strings.Contains(br[0], "leg_timeout=10") {
		t.Errorf("bridges %q", br)
	}

	res, c, legs = h.call(testphone.Script{To: "+15550000842"})
	checkCall(t, c, store.Completed)
	if !speaks(res, "took busy") {
		t.Errorf("path %v, want the busy output", res.Path)
	}
	checkLegs(t, legs, []legWant{
		// The caller hears "took busy" and is gone within about a second.
		{to: "+15550000842", status: store.Completed, anyTalk: true},
		{to: "+15550100102", status: store.Busy, cause: "USER_BUSY"},
	})
}

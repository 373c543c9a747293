package scenario

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// dialEvents records the dial events the runtime posts.
type dialEvents struct {
	mu  sync.Mutex
	got map[string][]call.DialEvent // by CallSid
	ch  chan posted
}

type posted struct {
	sid string
	ev  call.DialEvent
}

func newDialEvents() *dialEvents {
	return &dialEvents{got: map[string][]call.DialEvent{}, ch: make(chan posted, 256)}
}

func (d *dialEvents) Post(_ context.Context, c *call.Info, _ string, ev call.DialEvent) {
	d.mu.Lock()
	d.got[c.CallSid] = append(d.got[c.CallSid], ev)
	d.mu.Unlock()
	select {
	case d.ch <- posted{c.CallSid, ev}:
	default:
	}
}

// waitFor waits for an event of type typ for dest.
func (d *dialEvents) waitFor(t *testing.T, typ, dest string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case p := <-d.ch:
			if p.ev.Type == typ && p.ev.Whom == dest {
				return p.sid
			}
		case <-deadline:
			t.Fatalf("no %s event for %s in 30s", typ, dest)
		}
	}
}

func (d *dialEvents) of(sid string) []call.DialEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]call.DialEvent(nil), d.got[sid]...)
}

// async places a call on its own goroutine; wait returns its outcome.
type async struct {
	done chan struct{}
	res  *testphone.Result
	err  error
}

func (h *harness) async(s testphone.Script) *async {
	if s.From == "" {
		s.From = "+15550109999"
	}
	a := &async{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.res, a.err = h.phone.Call(context.Background(), s)
	}()
	return a
}

// wait returns the call's record and legs once Switchyard wrote them.
func (a *async) wait(h *harness) (*store.Call, []store.Leg) {
	h.t.Helper()
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		h.t.Fatal("call still running after 60s")
	}
	if a.err != nil || a.res.CallSid == "" {
		h.t.Fatalf("call: %v (%+v)", a.err, a.res)
	}
	select {
	case <-h.endedChan(a.res.CallSid):
	case <-time.After(30 * time.Second):
		h.t.Fatalf("call %s: no final record", a.res.CallSid)
	}
	ctx := context.Background()
	c, err := h.db.Calls().Get(ctx, account, a.res.CallSid)
	if err != nil {
		h.t.Fatal(err)
	}
	legs, err := h.db.Legs().ByCall(ctx, account, a.res.CallSid)
	if err != nil {
		h.t.Fatal(err)
	}
	return c, legs
}

// connectFlow is a flow whose connect applet has the given config; its
// outputs lead to greetings naming them.
func connectFlow(config string) string {
	return `{"start":"c","applets":{
		"c":{"type":"connect","config":` + config + `,"outputs":{"answered":"bye","busy":"busy","no_answer":"na","failed":"fail"}},
		"busy":{"type":"greeting","config":{"prompt":{"text":"took busy"}},"outputs":{"next":"bye"}},
		"na":{"type":"greeting","config":{"prompt":{"text":"took no_answer"}},"outputs":{"next":"bye"}},
		"fail":{"type":"greeting","config":{"prompt":{"text":"took failed"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`
}

func pathHas(res *testphone.Result, text string) bool {
	return strings.Contains(fmt.Sprint(res.Path), text)
}

func agentLegs(legs []store.Leg) []store.Leg {
	var out []store.Leg
	for _, l := range legs {
		if l.Seq > 1 {
			out = append(out, l)
		}
	}
	return out
}

// TestStateManagementSkipsBusyAgent: while one call talks to an agent,
// a state-managed connect listing that agent first rings the next one;
// one listing only that agent takes busy. The agent is free again once
// their leg ends, and the dial events tell the CRM so.
func TestStateManagementSkipsBusyAgent(t *testing.T) {
	ev := newDialEvents()
	h := newHarnessOpts(t, options{events: ev})
	ctx := context.Background()
	// The agent answers and stays on until the first caller hangs up,
	// which the test does once it has seen the other calls through; the
	// other agent talks 6 s (4NN: answers, talks NN s, hangs up).
	const agent, other = "+15550100001", "+15550100406"
	h.flowOn(ctx, "+15550000601", connectFlow(`{"destinations":["`+agent+`"],"state_management":true,"dial_event_url":"https://crm.example/events"}`))
	h.flowOn(ctx, "+15550000602", connectFlow(`{"destinations":["`+agent+`","`+other+`"],"state_management":true}`))
	h.flowOn(ctx, "+15550000603", connectFlow(`{"destinations":["`+agent+`"],"state_management":true}`))

	hangup := make(chan struct{})
	first := h.async(testphone.Script{To: "+15550000601", From: "+15550109001", Hangup: hangup})
	holder := ev.waitFor(t, call.DialEventAnswered, agent)
	if got, _ := h.db.Agents().Holder(ctx, account, "15550100001"); got != holder {
		t.Fatalf("agent held by %q, want the first call %s", got, holder)
	}

	_, c, legs := h.call(testphone.Script{To: "+15550000602", From: "+15550109002"})
	al := agentLegs(legs)
	if c.Status != store.Completed || len(al) != 1 || al[0].To != other || al[0].Status != store.Completed {
		t.Fatalf("second call: %s, agent legs %+v; want only %s, completed", c.Status, al, other)
	}
	res, c, legs := h.call(testphone.Script{To: "+15550000603", From: "+15550109003"})
	if !pathHas(res, "took busy") || len(agentLegs(legs)) != 0 || c.Status != store.Completed {
		t.Fatalf("only the busy agent: path %v, legs %+v; want the busy output and no leg", res.Path, legs)
	}

	close(hangup)
	fc, flegs := first.wait(h)
	if fc.SID != holder || agentLegs(flegs)[0].Status != store.Completed {
		t.Fatalf("first call %s: %+v", fc.Status, flegs)
	}
	if got, err := h.db.Agents().Holder(ctx, account, "15550100001"); err != nil || got != "" {
		t.Fatalf("agent still held by %q after the leg ended (%v)", got, err)
	}
	var types []string
	for _, e := range ev.of(holder) {
		types = append(types, e.Type+"/"+e.Status)
	}
	want := []string{"Dial/busy", "Answered/busy", "Terminal/free"}
	got := strings.Join(types, " ")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("dial events %v: missing %s", types, w)
		}
	}
	if !strings.HasPrefix(got, "Dial/busy") || !strings.HasSuffix(got, "Terminal/free") {
		t.Errorf("dial events out of order: %v", types)
	}
}

// TestStickyAgent: a returning caller is rung to the agent they last
// spoke to first; when that agent does not answer, or is busy, the normal
// list follows. Another caller gets the normal order.
func TestStickyAgent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const busy, answers = "+15550100101", "+15550100405" // 405: answers, talks 5 s
	flowID := h.flowOn(ctx, "+15550000611", connectFlow(`{"destinations":["`+busy+`","`+answers+`"],"ring_timeout":5,"sticky_agent":{"period":3600}}`))
	to := func(legs []store.Leg) []string {
		var out []string
		for _, l := range agentLegs(legs) {
			out = append(out, l.To+":"+string(l.Status))
		}
		return out
	}

	// First call: the list in order; the agent who answered sticks.
	_, _, legs := h.call(testphone.Script{To: "+15550000611", From: "+15550109011"})
	if got := to(legs); fmt.Sprint(got) != fmt.Sprint([]string{busy + ":busy", answers + ":completed"}) {
		t.Fatalf("first call legs %v", got)
	}
	// Returning caller: the sticky agent alone first.
	_, c, legs := h.call(testphone.Script{To: "+15550000611", From: "+15550109011"})
	if got := to(legs); c.Status != store.Completed || fmt.Sprint(got) != fmt.Sprint([]string{answers + ":completed"}) {
		t.Fatalf("returning caller legs %v, want only the sticky agent", got)
	}
	// Another caller: the normal order.
	_, _, legs = h.call(testphone.Script{To: "+15550000611", From: "+15550109012"})
	if got := to(legs); len(got) != 2 || got[0] != busy+":busy" {
		t.Fatalf("new caller legs %v, want the list's order", got)
	}

	// Fallbacks: the sticky agent does not answer, or is busy.
	scope := flowID + "/c"
	for _, cs := range [][2]string{{"+15550109013", "+15550100201"}, {"+15550109014", "+15550100102"}} {
		caller, sticky := cs[0], cs[1]
		if err := h.db.Agents().Stick(ctx, account, scope, caller, sticky, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, c, legs := h.call(testphone.Script{To: "+15550000611", From: caller})
		got := to(legs)
		if c.Status != store.Completed || len(got) != 3 || !strings.HasPrefix(got[0], sticky+":") || got[2] != answers+":completed" {
			t.Fatalf("sticky %s: legs %v; want it first, then the list", sticky, got)
		}
	}
}

// TestQueue: with every agent busy, callers wait with hold music, in
// arrival order, and are connected as the agent frees up; a caller whose
// wait runs out takes busy after the announcement. The first flow's music
// is local_stream://, which a node without mod_local_stream (the project's
// archive, the emulator) cannot play: Switchyard tries it a few times,
// then plays the default tone, never a loop of commands.
func TestQueue(t *testing.T) {
	// At real speed: the queue's timers (max wait, announcements) run on
	// Switchyard's clock, so only then does the emulator's call take the
	// node's course.
	h := newHarnessOpts(t, options{realTime: true})
	ctx := context.Background()
	const agent = "+15550100410" // answers, talks 10 s
	h.flowOn(ctx, "+15550000621", connectFlow(`{"destinations":["`+agent+`"],"state_management":true,
		"queue":{"max_wait":600,"music_on_hold":"local_stream://moh"}}`))
	h.flowOn(ctx, "+15550000622", connectFlow(`{"destinations":["+15550100411"],"state_management":true,
		"queue":{"max_wait":6,"announcement":{"text":"All our agents are busy"},"announce_every":5}}`))

	// The agents are on calls of another instance: a live call holds them.
	other := &store.Call{SID: store.NewSID(), AccountSID: account, Direction: store.DirectionInbound,
		From: "+15550109020", To: supportNum, PhoneNumber: supportNum, Status: store.InProgress, StartTime: time.Now()}
	if err := h.db.Calls().Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"15550100410", "15550100411"} {
		if err := h.db.Agents().Hold(ctx, account, key, other.SID, "leg-"+key, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	q1, q2 := make(chan struct{}), make(chan struct{})
	a1 := h.async(testphone.Script{To: "+15550000621", From: "+15550109021", OnApp: onHoldMusic(q1)})
	waitQueued(t, q1, "first caller")
	a2 := h.async(testphone.Script{To: "+15550000621", From: "+15550109022", OnApp: onHoldMusic(q2)})
	waitQueued(t, q2, "second caller")

	// The agent frees up on the other instance: noticed by polling.
	if err := h.db.Agents().Release(ctx, "leg-15550100410"); err != nil {
		t.Fatal(err)
	}
	c1, l1 := a1.wait(h)
	c2, l2 := a2.wait(h)
	checkQueuedInOrder(t, c1, l1, c2, l2)
	// Put through from the queue, each call let go of its socket for the
	// conversation: the queue had nothing more for the caller.
	if !h.handoff {
		if got := h.detached(); got != 2 {
			t.Errorf("queued calls detached: %v, want 2", got)
		}
	}
	for _, a := range []*async{a1, a2} {
		tries := strings.Count(fmt.Sprint(a.res.Path), "playback local_stream://moh")
		if tries == 0 || tries > 3 {
			t.Errorf("the unplayable music was tried %d times, want 1 to 3: %v", tries, a.res.Path)
		}
	}

	// The wait runs out: the announcement, then busy.
	res, c, legs := h.call(testphone.Script{To: "+15550000622", From: "+15550109023"})
	if !pathHas(res, "All our agents are busy") || !pathHas(res, "took busy") || len(agentLegs(legs)) != 0 || c.Status != store.Completed {
		t.Fatalf("max wait: path %v legs %+v", res.Path, legs)
	}
}

// TestQueuedCallerReachesFreedAgent: the agent is on a call of this
// instance; two callers queue behind it with the default hold music, and
// each is put through, in order, as the agent's previous call ends.
func TestQueuedCallerReachesFreedAgent(t *testing.T) {
	h := newHarnessOpts(t, options{realTime: true})
	ctx := context.Background()
	const agent = "+15550100405" // answers, talks 5 s
	h.flowOn(ctx, "+15550000631", connectFlow(`{"destinations":["`+agent+`"],"state_management":true,
		"queue":{"max_wait":60}}`))

	talking := make(chan struct{})
	a0 := h.async(testphone.Script{To: "+15550000631", From: "+15550109030", OnApp: func(app, _ string) {
		if app == "bridge" {
			close(talking)
		}
	}})
	waitQueued(t, talking, "the agent's first call")
	q1, q2 := make(chan struct{}), make(chan struct{})
	a1 := h.async(testphone.Script{To: "+15550000631", From: "+15550109031", OnApp: onHoldMusic(q1)})
	waitQueued(t, q1, "first queued caller")
	a2 := h.async(testphone.Script{To: "+15550000631", From: "+15550109032", OnApp: onHoldMusic(q2)})
	waitQueued(t, q2, "second queued caller")

	c0, l0 := a0.wait(h)
	if g := agentLegs(l0); c0.Status != store.Completed || len(g) != 1 || g[0].Status != store.Completed {
		t.Fatalf("the agent's first call: %s %+v", c0.Status, g)
	}
	c1, l1 := a1.wait(h)
	c2, l2 := a2.wait(h)
	checkQueuedInOrder(t, c1, l1, c2, l2)
	if !pathHas(a1.res, "playback "+flows.DefaultQueueMusic) {
		t.Errorf("first queued caller heard no hold music: %v", a1.res.Path)
	}
}

// onHoldMusic closes ch when the caller's hold music first starts.
func onHoldMusic(ch chan struct{}) func(app, arg string) {
	var once sync.Once
	return func(app, arg string) {
		if app == "playback" && strings.HasPrefix(arg, "tone_stream://") {
			once.Do(func() { close(ch) })
		}
	}
}

func waitQueued(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: never got there", what)
	}
}

// checkQueuedInOrder: both queued calls reached the agent, the first
// caller first.
func checkQueuedInOrder(t *testing.T, c1 *store.Call, l1 []store.Leg, c2 *store.Call, l2 []store.Leg) {
	t.Helper()
	g1, g2 := agentLegs(l1), agentLegs(l2)
	if c1.Status != store.Completed || c2.Status != store.Completed || len(g1) != 1 || len(g2) != 1 ||
		g1[0].Status != store.Completed || g2[0].Status != store.Completed {
		t.Fatalf("queued calls: %s %+v / %s %+v", c1.Status, g1, c2.Status, g2)
	}
	if !g1[0].AnswerTime.Before(*g2[0].AnswerTime) {
		t.Errorf("second caller answered at %v, before the first at %v", g2[0].AnswerTime, g1[0].AnswerTime)
	}
}

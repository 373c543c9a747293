package scenario

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// detached is how many of the harness's calls let go of their socket
// once bridged for good.
func (h *harness) detached() float64 { return h.counter("switchyard_calls_detached_total") }

// handedOff is how many of the harness's calls let go of their socket
// before their first command (SWITCHYARD_SCENARIO_CONTROL=node).
func (h *harness) handedOff() float64 { return h.counter("switchyard_calls_handed_off_total") }

// parkedTaken is how many calls the dialplan parked for the harness's
// instance it took (park control).
func (h *harness) parkedTaken() float64 {
	return h.counterWith("switchyard_parked_calls_total", metrics.ParkedTaken)
}

func (h *harness) counter(name string) float64 { return h.counterWith(name, "") }

// counterWith reads a counter; label, if set, picks the series whose
// (only) label has that value: 0 when there is none yet.
func (h *harness) counterWith(name, label string) float64 {
	h.t.Helper()
	mfs, err := h.met.Gatherer().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
		return 0
	}
	if label != "" {
		return 0 // a vector with no series yet is not gathered
	}
	h.t.Fatal("no " + name)
	return 0
}

// wantLetGo checks how many calls let go of their socket: detached once
// bridged for good, or, with the calls handed off to the node's
// connection, every call so far (handed off at once, never detached), or
// under park control, every call parked (none ever had a socket).
func (h *harness) wantLetGo(detached, calls float64) {
	h.t.Helper()
	if h.park {
		if got, ho, p := h.detached(), h.handedOff(), h.parkedTaken(); got != 0 || ho != 0 || p != calls {
			h.t.Errorf("detached %v, handed off %v, parked %v calls: want 0, 0 and %v", got, ho, p, calls)
		}
		return
	}
	if h.handoff {
		if got, ho := h.detached(), h.handedOff(); got != 0 || ho != calls {
			h.t.Errorf("detached %v, handed off %v calls: want 0 and %v", got, ho, calls)
		}
		return
	}
	if got := h.detached(); got != detached {
		h.t.Errorf("detached calls = %v, want %v", got, detached)
	}
}

// TestDetachAtAFinalBridge: a call whose flow ends with the conversation
// lets go of its socket once bridged; the node's connection brings the
// rest (the agent's and the caller's records, the bridge's result), so
// the records are as complete as a call that kept its socket. A call
// whose flow still speaks to the caller after the conversation keeps it.
func TestDetachAtAFinalBridge(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const agent = "+15550100430" // answers, talks about 30 s
	h.flowOn(ctx, "+15550000621", `{"start":"c","applets":{
		"c":{"type":"connect","config":{"destinations":["`+agent+`"],"record":true},"outputs":{"answered":"bye"}},
		"bye":{"type":"hangup"}}}`)
	h.flowOn(ctx, "+15550000622", `{"start":"c","applets":{
		"c":{"type":"connect","config":{"destinations":["`+agent+`"]},"outputs":{"answered":"thanks"}},
		"thanks":{"type":"greeting","config":{"prompt":{"text":"thanks for calling"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`)

	_, c, legs := h.call(testphone.Script{To: "+15550000621"})
	h.wantLetGo(1, 1)
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{
		{to: "+15550000621", status: store.Completed, talk: true},
		{to: agent, status: store.Completed, talk: true},
	})
	if legs[1].TalkTime < 25 || legs[1].TalkTime > 35 {
		t.Errorf("the agent talked %d s, want about 30", legs[1].TalkTime)
	}
	if c.ConversationDuration != legs[1].TalkTime || c.Duration < legs[1].TalkTime {
		t.Errorf("conversation %d s, call %d s, agent's talk time %d s", c.ConversationDuration, c.Duration, legs[1].TalkTime)
	}
	if c.RecordingURL == "" {
		t.Error("the detached call's recording is missing from its record")
	}

	res, c2, legs2 := h.call(testphone.Script{To: "+15550000622"})
	h.wantLetGo(1, 2) // still 1: it speaks after its conversation
	checkCall(t, c2, store.Completed)
	if !pathHas(res, "thanks for calling") {
		t.Errorf("the caller did not hear the greeting after the conversation: %v", res.Path)
	}
	if len(legs2) != 2 || legs2[1].Status != store.Completed {
		t.Errorf("legs %+v", legs2)
	}
}

// detachedCall calls number, whose flow connects to agent and then hangs
// up, and returns once the call has let go of its socket; a call handed
// off to the node's connection (which let go of it at once), once its
// bridge has started.
func (h *harness) detachedCall(number, agent string) *async {
	h.t.Helper()
	h.flowOn(h.t.Context(), number, `{"start":"c","applets":{
		"c":{"type":"connect","config":{"destinations":["`+agent+`"]},"outputs":{"answered":"bye"}},
		"bye":{"type":"hangup"}}}`)
	bridging := make(chan struct{})
	var once sync.Once
	script := testphone.Script{To: number}
	if h.handoff {
		script.OnApp = func(app, _ string) {
			if app == "bridge" {
				once.Do(func() { close(bridging) })
			}
		}
	}
	a := h.async(script)
	wait := h.detaching
	if h.handoff {
		wait = bridging
	}
	select {
	case <-wait:
	case <-time.After(60 * time.Second):
		h.t.Fatal("the call did not detach")
	}
	return a
}

// TestDetachedCallOutlivesANodeConnectionBlip: the node's connection that
// carries a detached call's events drops during the conversation and comes
// back; the call follows it onto the new connection and ends as usual,
// with every record, instead of being closed as lost.
func TestDetachedCallOutlivesANodeConnectionBlip(t *testing.T) {
	h := newHarness(t)
	a := h.detachedCall("+15550000623", "+15550100445") // answers, talks 45 s
	conn, err := h.node.Conn()
	if err != nil {
		t.Fatal(err)
	}
	conn.Close() // the node's connection drops; the node stays up
	c, legs := a.wait(h)
	checkCall(t, c, store.Completed)
	if c.HangupCause == call.CauseLostControl || len(legs) != 2 {
		t.Fatalf("call %+v legs %+v: closed as lost", c, legs)
	}
	if legs[1].Status != store.Completed || legs[1].TalkTime < 40 || legs[1].TalkTime > 50 {
		t.Errorf("agent leg %s talked %d s, want completed, about 45", legs[1].Status, legs[1].TalkTime)
	}
}

// TestDetachedCallHungUpAtShutdown: when the drain runs out, a detached
// call is hung up through the node's connection (its socket is gone) and
// ends with its records.
func TestDetachedCallHungUpAtShutdown(t *testing.T) {
	h := newHarness(t)
	a := h.detachedCall("+15550000624", "+15550100499") // answers, talks 99 s
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no drain: the live call is hung up at once
	if err := h.shutdown(ctx); err == nil {
		t.Error("shutdown found no live call")
	}
	c, legs := a.wait(h)
	if c.HangupCause != "SYSTEM_SHUTDOWN" || len(legs) != 2 {
		t.Fatalf("call %s %s, %d legs: want hung up with SYSTEM_SHUTDOWN", c.Status, c.HangupCause, len(legs))
	}
	// A handed-off call is shut down as its bridge starts (detachedCall),
	// while the agent may still be ringing.
	cut := legs[1].Status == store.Completed && legs[1].TalkTime < 99
	if !cut && !(h.handoff && legs[1].Status == store.Canceled) {
		t.Errorf("agent leg %s talked %d s: want completed, cut short", legs[1].Status, legs[1].TalkTime)
	}
}

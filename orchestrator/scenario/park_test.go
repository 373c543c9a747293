package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/parking"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestPark runs scenarios again with the dialplan parking every call for
// the harness's instance, which takes it from its CHANNEL_PARK with no
// socket at all (serve -control park, package parking): an IVR and a
// parallel ring, a refused call (its announcement and hang-up go over
// the node's connection too), a caller who hangs up while an application
// runs, the node's connection dropping mid-call, shutdown, and a queued
// caller; and a call parked while the instance is at capacity, which it
// passes down the socket path at once. SWITCHYARD_SCENARIO_CONTROL=park
// runs the whole suite so.
func TestPark(t *testing.T) {
	group(t)
	for _, sc := range []struct {
		name string
		run  func(*testing.T)
		// emulator: run on the emulator only in make test. Once taken, a
		// parked call runs as a handed-off one, and TestHandoff runs these
		// on real nodes; each takes 35-45 s of a real node, where make
		// test's time is short. SWITCHYARD_SCENARIO_CONTROL=park runs
		// them, and all the rest, parked on real nodes too.
		emulator bool
	}{
		{"Key1ParallelRingSecondAgentAnswers", TestKey1ParallelRingSecondAgentAnswers, false},
		{"UnknownNumberIsRefused", TestUnknownNumberIsRefused, false},
		{"CallerHangsUpDuringGreeting", TestCallerHangsUpDuringGreeting, false},
		{"SIPCallerHangsUpDuringGreeting", TestSIPCallerHangsUpDuringGreeting, false},
		{"NodeConnectionBlip", TestDetachedCallOutlivesANodeConnectionBlip, true},
		{"HungUpAtShutdown", TestDetachedCallHungUpAtShutdown, false},
		{"Queue", TestQueue, true},
		{"PassedAtCapacity", testParkedCallPassedAtCapacity, false},
	} {
		if sc.emulator && suite.real {
			continue
		}
		t.Run(sc.name, sc.run)
	}
}

// TestParkedCallNobodyTakesGoesToTheSockets: a node whose parked calls
// name an instance that is gone (its beat stopped, nobody cleared it yet)
// parks a new call for that instance; nobody claims it, and after
// parking.FallbackAfter its scheduled transfer (freeswitch-conf's
// switchyard_unclaimed) sends it down the socket path, where this
// instance takes it as any socket's call and runs its flow.
func TestParkedCallNobodyTakesGoesToTheSockets(t *testing.T) {
	h := newHarness(t)
	if h.park {
		t.Skip("under park control the harness's own instance owns the node's parked calls and would take it")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// A watcher sees the node park the call for the gone instance.
	parkedFor := make(chan string, 16)
	watch := esl.NewNode(esl.NodeConfig{Addr: h.fsAddr, Password: h.fsPassword, Events: []string{"CHANNEL_PARK"},
		OnEvent: func(_ *esl.Conn, ev esl.Event) {
			if ev.Name() == "CHANNEL_PARK" {
				select {
				case parkedFor <- ev.Var(call.DetachVar):
				default:
				}
			}
		}})
	wctx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	go watch.Run(wctx)
	if _, err := watch.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.node.API(ctx, "global_setvar "+parking.GlobalVar+"=deadbeef.7"); err != nil {
		t.Fatal(err)
	}
	_, c, legs := h.call(testphone.Script{To: supportNum, HangupOnApp: "speak", HangupOnAppN: 1})
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{{to: supportNum, status: store.Completed, anyTalk: true}})
	select {
	case tag := <-parkedFor:
		if tag != "deadbeef" {
			t.Errorf("the call was parked for %q, want the gone instance's tag", tag)
		}
	default:
		t.Error("the node never parked the call")
	}
	if n := h.sockets.Load(); n != 1 {
		t.Errorf("%d calls came over a socket, want the parked call's fallback", n)
	}
	// It waited for its fallback (FreeSWITCH's scheduler counts whole
	// seconds, so 4 s and some may show as 4).
	if legs[0].Duration < int(parking.FallbackAfter.Seconds())-1 {
		t.Errorf("the call lasted %d s: it did not wait for its fallback", legs[0].Duration)
	}
}

// testParkedCallPassedAtCapacity: an instance at capacity (-max-calls)
// does not take a call parked for it, nor leave it to wait for its
// fallback: it cancels the fallback and transfers the call down the
// socket path at once (switchyard_unclaimed), where the socket server,
// here with room, takes it and runs its flow.
func testParkedCallPassedAtCapacity(t *testing.T) {
	h := newHarnessOpts(t, options{parkFull: true})
	h.socketsLet = 1
	_, c, legs := h.call(testphone.Script{To: supportNum, HangupOnApp: "speak", HangupOnAppN: 1})
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{{to: supportNum, status: store.Completed, anyTalk: true}})
	if n := h.sockets.Load(); n != 1 {
		t.Errorf("%d calls came over a socket, want the passed one", n)
	}
	if got := h.counterWith("switchyard_parked_calls_total", metrics.ParkedPassed); got != 1 {
		t.Errorf("%v parked calls passed on, want 1", got)
	}
	if got := h.parkedTaken(); got != 0 {
		t.Errorf("%v parked calls taken at capacity", got)
	}
	// Passed at once: the caller heard the flow well before the
	// fallback's 5 s (the node's clock: the emulator's runs faster).
	if legs[0].Duration >= int(parking.FallbackAfter.Seconds()) {
		t.Errorf("the call lasted %d s: it waited for its fallback", legs[0].Duration)
	}
}

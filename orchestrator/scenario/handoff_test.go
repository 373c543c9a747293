package scenario

import (
	"strings"
	"testing"
)

// handoffIn says whether the calls of t's harness are handed off to the
// node's connection at once: in a subtest of TestHandoff, or everywhere
// with SWITCHYARD_SCENARIO_CONTROL=node.
func handoffIn(t *testing.T) bool {
	return suite.handoff || strings.HasPrefix(t.Name(), "TestHandoff/") || parkIn(t)
}

// parkIn says whether the dialplan parks the calls of t's harness for its
// instance, which takes them with no socket (serve -control park): in a
// subtest of TestPark, or everywhere with SWITCHYARD_SCENARIO_CONTROL=park.
// Calls that reach the harness over a socket all the same (the parked
// call's fallback) are handed off.
func parkIn(t *testing.T) bool {
	return suite.park || strings.HasPrefix(t.Name(), "TestPark/")
}

// TestHandoff runs scenarios again with every call handed off to the
// node's connection before its first command (call.Config.Handoff, serve
// -control node): the socket only hands the call over, the dialplan parks
// the channel, and the call's commands and events go over the node's
// connection. Chosen for what handing off changes: an IVR and a parallel
// ring (legs followed by their mark, not by filters), a bridge sent right
// after the answer (the first command must wait for the dialplan's park,
// not the socket application's own), a refused call (it keeps its socket
// for the announcement), a caller who hangs up while an
// application runs, a final bridge (nothing detaches: the call never had
// a socket to let go of), the node's connection dropping mid-call,
// shutdown, and queued callers (their hold music's start, which the break
// waits for, comes on the node's connection only while a call is queued). SWITCHYARD_SCENARIO_CONTROL=node runs the whole suite so.
func TestHandoff(t *testing.T) {
	group(t)
	for _, sc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Key1ParallelRingSecondAgentAnswers", TestKey1ParallelRingSecondAgentAnswers},
		{"TransferToNumber", TestTransferToNumber},
		{"UnknownNumberIsRefused", TestUnknownNumberIsRefused},
		{"CallerHangsUpDuringGreeting", TestCallerHangsUpDuringGreeting},
		{"DetachAtAFinalBridge", TestDetachAtAFinalBridge},
		{"NodeConnectionBlip", TestDetachedCallOutlivesANodeConnectionBlip},
		{"HungUpAtShutdown", TestDetachedCallHungUpAtShutdown},
		{"Queue", TestQueue},
		{"QueuedCallerReachesFreedAgent", TestQueuedCallerReachesFreedAgent},
	} {
		t.Run(sc.name, sc.run)
	}
}

package scenario

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/fsim"
)

// callEvents sums the events a node delivered for calls: all but its
// heartbeats, which come every 20 s whatever the calls do.
func callEvents(sent map[string]int64) int64 {
	var n int64
	for name, c := range sent {
		if name != "HEARTBEAT" {
			n += c
		}
	}
	return n
}

// What a Basic Support call (greeting, menu, key 2, the billing agent
// answers, the caller hangs up in conversation) costs the node in the two
// currencies it pays most for: the events it copies and serialises to
// Switchyard's connections (about 180 µs each on FreeSWITCH 1.10) and the
// header bytes of the commands it reads one system call apiece (see
// package esl). Both are fixed by the protocol Switchyard speaks, so the
// emulator counts them exactly; a change that spends more must raise this
// budget on purpose. The call's socket takes six events (the caller's
// answer, the greeting's and the menu's completions, the leg's ringing and
// answer, the bridge), the node's connection three once the call lets go
// of its socket (both final records, the bridge's result).
func TestBasicSupportCallNodeTraffic(t *testing.T) {
	if suite.real {
		t.Skip("counted on the emulator: a real node does not count what it sends")
	}
	const (
		calls      = 4
		wantEvents = 9
		// 1,107 bytes, and the Event-UUIDs of the three applications
		// awaited (greeting, menu, bridge): esl.NewAppID's, at most 9
		// characters in a process that has made fewer than 36³ of them.
		maxHeaderB = 1107 + 3*9
	)
	r := newBenchRig(t, 0)
	basicSupportKey2Calls(t, r, calls)
	if got := r.detached.Load(); got != calls {
		t.Fatalf("%d of %d calls let go of their sockets", got, calls)
	}
	sent := r.fs.EventsSent()
	if got := callEvents(sent); got != wantEvents*calls {
		t.Errorf("events sent: %d for %d calls, want %d a call: %v", got, calls, wantEvents, sent)
	}
	if _, hdr := r.fs.SocketTraffic(); hdr > maxHeaderB*calls {
		t.Errorf("command header bytes: %d for %d calls, want at most %d a call", hdr, calls, maxHeaderB)
	}
}

// basicSupportKey2Calls runs calls Basic Support calls on r in which the
// caller presses 2 and hangs up in conversation, and waits for their
// ends.
func basicSupportKey2Calls(t *testing.T, r *benchRig, calls int64) {
	t.Helper()
	for i := range calls {
		// The caller hangs up a minute in (3 s of real time at the rig's
		// speed): long after the call let go of its socket, so no event
		// comes both ways while the socket closes, on a slow box too.
		if _, err := r.fs.PlaceCall(context.Background(), fsim.CallScript{
			From: fmt.Sprintf("+1555021%04d", i), To: supportNum,
			Digits: []string{"2"}, HangupAfter: time.Minute,
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(time.Minute)
	for r.ended.Load() < calls {
		select {
		case <-r.done:
		case <-deadline:
			t.Fatalf("%d of %d calls ended in a minute", r.ended.Load(), calls)
		}
	}
}

// A handed-off Basic Support call (serve -control node) costs the node
// fewer commands than one on a socket: its socket only hands it over
// (connect, resume, the call's variables with its mark, exit), the
// dialplan answers and parks it, and the node's connection carries its
// three applications (greeting, menu, bridge) and its events.
func TestHandedOffCallNodeTraffic(t *testing.T) {
	if suite.real {
		t.Skip("counted on the emulator: a real node does not count what it sends")
	}
	const (
		calls      = 4
		wantEvents = 10
		// What the key-2 call on a socket takes but the caller's answer
		// and the socket's own completions, plus the dialplan's park.
		wantSock = 4 // connect, resume, api uuid_setvar_multi, exit
		wantSend = 3 // greeting, menu, bridge
		// 252 bytes on the socket and under 500 on the node's
		// connection, and the three applications' Event-UUIDs, at most 9
		// characters each (see TestBasicSupportCallNodeTraffic).
		maxHeaderB = 252 + 500 + 3*9
	)
	r := newRig(t, 0, true)
	conn0, sent0 := r.fs.ConnTraffic()["sendmsg"], callEvents(r.fs.EventsSent())
	basicSupportKey2Calls(t, r, calls)
	sock, sockHdr := r.fs.SocketTraffic()
	conn := r.fs.ConnTraffic()["sendmsg"]
	conn.Commands -= conn0.Commands
	conn.HeaderBytes -= conn0.HeaderBytes
	if sock != wantSock*calls || conn.Commands != wantSend*calls {
		t.Errorf("commands: %d on the sockets and %d sendmsg on the node's connection for %d calls, want %d and %d a call",
			sock, conn.Commands, calls, wantSock, wantSend)
	}
	if hdr := sockHdr + conn.HeaderBytes; hdr > maxHeaderB*calls {
		t.Errorf("command header bytes: %d for %d calls (%d on the sockets), want at most %d a call", hdr, calls, sockHdr, maxHeaderB)
	}
	sent := r.fs.EventsSent()
	if got := callEvents(sent) - sent0; got != wantEvents*calls {
		t.Errorf("events sent: %d for %d calls, want %d a call: %v", got, calls, wantEvents, sent)
	}
}

// A handed-off call whose prompts are tones (each fires PLAYBACK_START,
// unlike a spoken one) gets no prompt's start on the node's connection:
// it subscribes to PLAYBACK_START only while a call is queued (see
// TestHandoff/Queue*). On the tones flow key 2 is invalid: greeting,
// menu, goodbye (two tones), hang-up: 6 events a call, 10 when the
// connection took every prompt's start.
func TestHandedOffPromptsStartUnseen(t *testing.T) {
	if suite.real {
		t.Skip("counted on the emulator: a real node does not count what it sends")
	}
	const calls, wantEvents = 2, 6
	r := newFlowRig(t, 0, true, examples.BasicSupportTones)
	sent0 := callEvents(r.fs.EventsSent())
	basicSupportKey2Calls(t, r, calls)
	sent := r.fs.EventsSent()
	if got := callEvents(sent) - sent0; got != wantEvents*calls || sent["PLAYBACK_START"] != 0 {
		t.Errorf("events sent: %d for %d calls, want %d a call and no PLAYBACK_START: %v", got, calls, wantEvents, sent)
	}
}

package call

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// The call machine, driven without a socket, a store or a clock: each test
// feeds it inputs and holds the effects it returns (a golden trace) to
// what a call of that shape must do.

var epoch0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// world is a machine's surroundings: a fake clock, ids in sequence and
// canned answers to its lookups. Lookups are written into the trace too,
// after the effects emitted before them, as the driver runs them.
type world struct {
	t     *testing.T
	now   time.Time
	ids   int
	seq   int // Event-Sequence
	trace []string
	c     *call

	routeErr   error
	flow       []byte
	createErr  error
	busy       map[string]bool // hold keys on another call
	available  map[string]bool // users: off when false
	place      int             // callers ahead in the queue
	enqueueErr error
}

const testSID = "ca0123456789abcdef0123456789abcd"

func newWorld(t *testing.T, flow []byte) *world {
	t.Helper()
	w := &world{t: t, now: epoch0, flow: flow, busy: map[string]bool{}, available: map[string]bool{}}
	cfg := Config{TTSEngine: "flite", TTSVoice: "slt", Settle: 3 * time.Second, RecordingsDir: "/rec",
		RecordingURL: func(account, id string) string { return "/r/" + id }, HoldLease: time.Minute,
		QueuePoll: time.Second, Endpoints: Endpoints{Number: "loopback/{number}/testnet", SIP: "sofia/external/{uri}"}}
	cfg.Clock = func() time.Time { return w.now }
	e := &env{cfg: cfg, flows: &flowCache{m: map[string]*flows.Flow{}}, log: slog.New(slog.DiscardHandler),
		wall: cfg.Clock, newSID: func() string { return testSID },
		newUUID: func() string {
			w.ids++
			return fmt.Sprintf("u%d", w.ids)
		},
		newApp: func() string {
			w.ids++
			return fmt.Sprintf("u%d", w.ids)
		}}
	data := esl.Event{Headers: map[string]string{
		"Caller-Caller-ID-Number": "+15550109999", "Caller-Destination-Number": "+15550000100",
		"Caller-Channel-Created-Time": fmt.Sprint(epoch0.UnixMicro()),
	}}
	w.c = newCall(e, w, "caller", data)
	return w
}

// Lookups.

func (w *world) route(to string) (*store.Route, error) {
	w.take()
	w.trace = append(w.trace, "? route "+to)
	if w.routeErr != nil {
		return nil, w.routeErr
	}
	return &store.Route{AccountSID: "acme", Number: to, FlowID: "fl1", Version: 1, Document: w.flow}, nil
}

func (w *world) createCall(row *store.Call) error {
	w.take()
	w.trace = append(w.trace, "? create call "+string(row.Status))
	return w.createErr
}

func (w *world) callBySID(sid string) (*store.Call, error) { return nil, store.ErrNotFound }

func (w *world) flowVersion(account, flowID string, version int) (*store.FlowVersion, error) {
	return nil, store.ErrNotFound
}

func (w *world) liveVersion(account, flowID string) (*store.FlowVersion, error) {
	return nil, store.ErrNotFound
}

func (w *world) resolve(account string, dests []string) ([]store.Target, error) {
	w.take()
	w.trace = append(w.trace, "? resolve "+strings.Join(dests, ","))
	out := make([]store.Target, len(dests))
	for i, d := range dests {
		out[i] = store.Target{Dest: d, Key: d}
		if avail, ok := w.available[d]; ok {
			out[i].UserSID, out[i].Available = "us_"+d, avail
		}
	}
	return out, nil
}

func (w *world) sticky(account, scope, caller string, at time.Time) (string, error) { return "", nil }

func (w *world) hold(account, key, sid, leg string) error {
	w.take()
	w.trace = append(w.trace, "? hold "+key+" for "+leg)
	if w.busy[key] {
		return store.ErrBusy
	}
	return nil
}

func (w *world) enqueue(account, key, sid string) error {
	w.take()
	w.trace = append(w.trace, "? enqueue "+key)
	return w.enqueueErr
}

func (w *world) ahead(sid string) (int, error) {
	w.take()
	w.trace = append(w.trace, fmt.Sprintf("? ahead = %d", w.place))
	return w.place, nil
}

// Inputs.

// take moves the effects the last input left into the trace.
func (w *world) take() {
	for _, e := range w.c.effects() {
		w.trace = append(w.trace, describe(e))
	}
}

func (w *world) start() { w.c.start(nil); w.take() }

// at advances the clock.
func (w *world) at(d time.Duration) { w.now = epoch0.Add(d) }

// event feeds an event of channel uuid, with header pairs.
func (w *world) event(uuid, name string, kv ...string) {
	w.seq++
	h := map[string]string{"Event-Name": name, "Unique-ID": uuid, "Event-Sequence": fmt.Sprint(w.seq),
		"Event-Date-Timestamp": fmt.Sprint(w.now.UnixMicro())}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	w.trace = append(w.trace, "> "+uuid+" "+name)
	w.c.event(esl.Event{Headers: h})
	w.take()
}

// completes ends the command the call waits for, with variables.
func (w *world) completes(kv ...string) {
	w.t.Helper()
	if w.c.pending.app == "" {
		w.t.Fatalf("no command is awaited")
	}
	w.event("caller", "CHANNEL_EXECUTE_COMPLETE", append([]string{"Application-UUID", w.c.pending.app}, kv...)...)
}

// fire fires the timer with id.
func (w *world) fire(id int) {
	w.trace = append(w.trace, fmt.Sprintf("> timer %d", id))
	w.c.timer(id)
	w.take()
}

// hangupComplete ends a channel with a cause, answered or not.
func (w *world) hangupComplete(uuid, cause string, answeredAt time.Duration, billsec int) {
	kv := []string{"Hangup-Cause", cause, "variable_end_uepoch", fmt.Sprint(w.now.UnixMicro()),
		"variable_billsec", fmt.Sprint(billsec)}
	if answeredAt > 0 {
		kv = append(kv, "variable_answer_uepoch", fmt.Sprint(epoch0.Add(answeredAt).UnixMicro()))
	}
	w.event(uuid, "CHANNEL_HANGUP_COMPLETE", kv...)
}

// golden compares the trace since the last check.
func (w *world) golden(want ...string) {
	w.t.Helper()
	got := w.trace
	w.trace = nil
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		var quoted strings.Builder
		for _, line := range got {
			fmt.Fprintf(&quoted, "\t\t%q,\n", line)
		}
		w.t.Fatalf("trace:\n  got:\n    %s\n  want:\n    %s\n  got, quoted:\n%s", strings.Join(got, "\n    "), strings.Join(want, "\n    "), quoted.String())
	}
}

// describe renders one effect as a trace line.
func describe(e Effect) string {
	switch e := e.(type) {
	case Execute:
		mark := ""
		if e.Awaited {
			mark = " (awaited " + e.AppUUID + ")"
		}
		return "execute " + strings.TrimSpace(e.App+" "+short(e.Arg)) + mark
	case API:
		return "api " + e.Cmd
	case Kill:
		return "kill " + e.Cause
	case Watch:
		return "watch " + e.UUID
	case Subscribe:
		return "subscribe " + strings.Join(e.Events, " ")
	case Unsubscribe:
		return "unsubscribe " + strings.Join(e.Events, " ")
	case Detach:
		return "detach " + e.Caller + " from " + e.Callee
	case CreateLeg:
		return fmt.Sprintf("leg %d %s: %s to %s", e.Leg.Seq, e.Leg.UUID, e.Leg.Status, e.Leg.To)
	case SetLegStatus:
		return fmt.Sprintf("leg %s: %s", e.UUID, e.Status)
	case FinishLeg:
		return fmt.Sprintf("leg %s: final %s %s talk=%d", e.UUID, e.Final.Status, e.Final.HangupCause, e.Final.TalkTime)
	case AnswerCall:
		return "call answered"
	case SetDigits:
		return "call digits " + e.Digits
	case SaveRecording:
		return fmt.Sprintf("recording %s %ds", e.Recording.Channels, e.Recording.Duration)
	case FinishCall:
		return fmt.Sprintf("call final %s %s %ds talk=%d", e.Final.Status, e.Final.HangupCause, e.Final.Duration, e.Final.ConversationDuration)
	case Release:
		return "release " + e.UUID
	case Stick:
		return "stick " + e.Contact
	case Dequeue:
		return "dequeue"
	case PostDialEvent:
		return "dial event " + e.Event.Type + " " + e.Event.Whom
	case Fetch:
		return "fetch " + e.Request.URL
	case Send:
		return "send " + string(e.Message.Channel)
	case AskPlan:
		return fmt.Sprintf("plan %d", e.ID)
	case StartTimer:
		return fmt.Sprintf("timer %d in %s", e.ID, e.After)
	case StopTimer:
		return fmt.Sprintf("timer %d stop", e.ID)
	case PollQueue:
		return fmt.Sprintf("poll %d every %s", e.ID, e.Every)
	}
	return fmt.Sprintf("%T", e)
}

// short keeps trace lines readable: long arguments are cut.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// started is how every inbound call starts: route, row, caller's leg,
// channel settings, answer.
var started = []string{
	"? route +15550000100",
	"? create call ringing",
	"leg 1 caller: ringing to +15550000100",
	"execute multiset ^^;continue_on_fail=true;hangup_after_br…",
	"execute answer",
}

func basicSupport(t *testing.T) []byte {
	t.Helper()
	doc, err := examples.Read("basic-support")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The Basic Support call: greeting, menu, 1, parallel connect with a
// recording, the second agent answers and hangs up; every leg gets its
// record and the call its final one, in that order.
func TestMachineBasicSupportParallelConnect(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.start()
	// The menu goes behind the greeting (sendAhead).
	w.golden(append(started,
		"execute speak flite|slt|Welcome to Acme Support. This … (awaited u1)",
		"execute play_and_get_digits 1 1 1 5000 none 'say:Press 1 for technic… (awaited u2)",
	)...)
	w.event("caller", "CHANNEL_ANSWER")
	w.golden("> caller CHANNEL_ANSWER", "call answered", "leg caller: in-progress")
	w.at(3 * time.Second)
	w.completes()
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE")
	w.completes("variable_switchyard_input_1", "1")
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"call digits 1",
		"? resolve +15550100001,+15550100002",
		"leg 2 u3: queued to +15550100001",
		"watch u3",
		"leg 3 u4: queued to +15550100002",
		"watch u4",
		"execute record_session /rec/reca0123456789abcdef01234501.wav",
		"execute bridge {ignore_early_media=true}[leg_timeout=30… (awaited u5)",
	)
	w.event("u3", "CHANNEL_PROGRESS")
	w.event("u4", "CHANNEL_PROGRESS")
	w.at(9 * time.Second)
	w.event("u4", "CHANNEL_ANSWER")
	w.hangupComplete("u3", "LOSE_RACE", 0, 0)
	w.golden(
		"> u3 CHANNEL_PROGRESS", "leg u3: ringing",
		"> u4 CHANNEL_PROGRESS", "leg u4: ringing",
		"> u4 CHANNEL_ANSWER", "leg u4: in-progress",
		"> u3 CHANNEL_HANGUP_COMPLETE", "leg u3: final canceled LOSE_RACE talk=0",
	)
	// The agent hangs up: the bridge ends before the agent's own record
	// arrives, so the call waits for it for the talk time.
	w.at(40 * time.Second)
	w.completes("variable_last_bridge_to", "u4", "variable_originate_disposition", "SUCCESS")
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE", "timer 1 in 3s")
	w.hangupComplete("u4", "NORMAL_CLEARING", 9*time.Second, 31)
	w.golden("> u4 CHANNEL_HANGUP_COMPLETE",
		"leg u4: final completed NORMAL_CLEARING talk=31",
		"timer 1 stop",
		"recording single 31s",
		"kill NORMAL_CLEARING",
	)
	// The flow ends after the connect (no output for answered): hang-up.
	w.event("caller", "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
	w.hangupComplete("caller", "NORMAL_CLEARING", 2*time.Second, 38)
	w.golden("> caller CHANNEL_HANGUP",
		"> caller CHANNEL_HANGUP_COMPLETE", "leg caller: final completed NORMAL_CLEARING talk=38")
	if !w.c.over {
		t.Fatal("the call is not over after every leg ended")
	}
	w.c.finish()
	w.take()
	w.golden("call final completed NORMAL_CLEARING 40s talk=31")
}

// toMenu runs Basic Support to its menu and presses digits.
func (w *world) toMenu(digits string) {
	w.start()
	w.event("caller", "CHANNEL_ANSWER")
	w.completes()
	w.completes("variable_switchyard_input_1", digits)
	w.trace = nil
}

// A call whose flow ends with the conversation detaches once the caller
// is bridged and the parallel loser has its record; it then finishes on
// events that may come twice (the socket and the node's connection both
// carry them until the socket closes). A call that speaks after the
// conversation, or a runtime that cannot detach, never does.
func TestMachineDetachAtAFinalBridge(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.c.env.detach = true
	w.toMenu("1")
	w.event("u3", "CHANNEL_PROGRESS")
	w.event("u4", "CHANNEL_PROGRESS")
	w.at(9 * time.Second)
	w.event("u4", "CHANNEL_ANSWER")
	w.event("caller", "CHANNEL_BRIDGE", "Bridge-A-Unique-ID", "caller", "Bridge-B-Unique-ID", "u4")
	w.hangupComplete("u3", "LOSE_RACE", 0, 0)
	w.golden(
		"> u3 CHANNEL_PROGRESS", "leg u3: ringing",
		"> u4 CHANNEL_PROGRESS", "leg u4: ringing",
		"> u4 CHANNEL_ANSWER", "leg u4: in-progress",
		"> caller CHANNEL_BRIDGE",
		"> u3 CHANNEL_HANGUP_COMPLETE", "leg u3: final canceled LOSE_RACE talk=0",
		"detach caller from u4",
	)
	w.at(40 * time.Second)
	w.hangupComplete("u4", "NORMAL_CLEARING", 9*time.Second, 31)
	w.event("caller", "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
	w.hangupComplete("caller", "NORMAL_CLEARING", 2*time.Second, 38)
	w.seq -= 3 // the socket's copies of the same events, before it closed
	w.hangupComplete("u4", "NORMAL_CLEARING", 9*time.Second, 31)
	w.hangupComplete("caller", "NORMAL_CLEARING", 2*time.Second, 38)
	w.completes("variable_last_bridge_to", "u4", "variable_originate_disposition", "SUCCESS")
	w.golden(
		"> u4 CHANNEL_HANGUP_COMPLETE", "leg u4: final completed NORMAL_CLEARING talk=31",
		"> caller CHANNEL_HANGUP", "timer 1 in 3s",
		"> caller CHANNEL_HANGUP_COMPLETE", "leg caller: final completed NORMAL_CLEARING talk=38",
		"> u4 CHANNEL_HANGUP_COMPLETE",
		"> caller CHANNEL_HANGUP_COMPLETE",
		"> caller CHANNEL_EXECUTE_COMPLETE", "timer 1 stop", "recording single 31s",
	)
	if !w.c.over {
		t.Fatal("the call is not over after every leg ended")
	}
	w.c.finish()
	w.take()
	w.golden("call final completed NORMAL_CLEARING 40s talk=31")

	// The same call without the runtime's leave to detach keeps its socket.
	w = newWorld(t, basicSupport(t))
	w.toMenu("1")
	w.event("u4", "CHANNEL_ANSWER")
	w.event("caller", "CHANNEL_BRIDGE", "Bridge-B-Unique-ID", "u4")
	w.hangupComplete("u3", "LOSE_RACE", 0, 0)
	for _, line := range w.trace {
		if strings.HasPrefix(line, "detach") {
			t.Fatalf("detached without the runtime's leave: %v", w.trace)
		}
	}
}

// A sequential connect dials its destinations in one bridge, one after the
// other: the first does not answer, the second does.
func TestMachineSequentialConnect(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.toMenu("3")
	if w.c.pending.kind != waitDial || len(w.c.pending.dial.legs) != 2 {
		t.Fatalf("pending = %+v, want a bridge of both sales agents", w.c.pending)
	}
	w.event("u3", "CHANNEL_PROGRESS")
	w.at(20 * time.Second)
	w.hangupComplete("u3", "NO_ANSWER", 0, 0)
	w.event("u4", "CHANNEL_PROGRESS")
	w.event("u4", "CHANNEL_ANSWER")
	w.golden(
		"> u3 CHANNEL_PROGRESS", "leg u3: ringing",
		"> u3 CHANNEL_HANGUP_COMPLETE", "leg u3: final no-answer NO_ANSWER talk=0",
		"> u4 CHANNEL_PROGRESS", "leg u4: ringing",
		"> u4 CHANNEL_ANSWER", "leg u4: in-progress",
	)
	w.at(50 * time.Second)
	w.hangupComplete("u4", "NORMAL_CLEARING", 22*time.Second, 28)
	w.completes("variable_last_bridge_to", "u4")
	w.golden(
		"> u4 CHANNEL_HANGUP_COMPLETE", "leg u4: final completed NORMAL_CLEARING talk=28",
		"> caller CHANNEL_EXECUTE_COMPLETE", "kill NORMAL_CLEARING",
	)
}

// Nobody answers a parallel connect: the legs close from the bridge's own
// account (originate_causes) when their records are lost, and the flow
// takes the voicemail.
func TestMachineConnectNobodyAnswersLegsClosedFromTheBridge(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.toMenu("1")
	w.event("u3", "CHANNEL_PROGRESS")
	w.at(30 * time.Second)
	w.completes("variable_originate_disposition", "NO_ANSWER",
		"variable_originate_causes", "ARRAY::u3;NO_ANSWER|:u4;NO_ANSWER")
	w.golden(
		"> u3 CHANNEL_PROGRESS", "leg u3: ringing",
		"> caller CHANNEL_EXECUTE_COMPLETE",
		"leg u4: final no-answer NO_ANSWER talk=0",
		"recording single 0s",
		"execute speak flite|slt|Our technical support team is …",
		"execute playback tone_stream://%(500,0,800)",
		"execute record /rec/reca0123456789abcdef01234502.wav 12… (awaited u6)",
	)
	if l := w.c.legs["u3"]; l.final != nil || l.hangup != "NO_ANSWER" {
		t.Fatalf("u3 = %+v: a leg with events waits for its own record, knowing its cause", l)
	}
}

// The caller hangs up at every phase of the call: the flow hears of it
// once the command in flight has its result (or the settle timer gives up
// on it), every leg is closed, and the call gets its final record.
func TestMachineHangupAtEveryPhase(t *testing.T) {
	phases := []struct {
		name string
		// run brings the call to the phase.
		run func(w *world)
		// result: the command in flight reports after the hang-up;
		// otherwise the settle timer has to give up on it.
		result bool
		status store.Status
	}{
		{"before the answer", func(w *world) { w.start() }, true, store.Completed},
		{"during the greeting", func(w *world) { w.start(); w.event("caller", "CHANNEL_ANSWER") }, true, store.Completed},
		{"during the greeting, result lost", func(w *world) { w.start(); w.event("caller", "CHANNEL_ANSWER") }, false, store.Completed},
		{"at the menu", func(w *world) {
			w.start()
			w.event("caller", "CHANNEL_ANSWER")
			w.completes()
		}, true, store.Completed},
		{"while agents ring", func(w *world) {
			w.toMenu("1")
			w.event("u5", "CHANNEL_PROGRESS")
		}, true, store.Completed},
		{"in conversation", func(w *world) {
			w.toMenu("2")
			w.event("u5", "CHANNEL_PROGRESS")
			w.event("u5", "CHANNEL_ANSWER")
		}, true, store.Completed},
	}
	// How the call learns of the hang-up: CHANNEL_HANGUP (which it does
	// not subscribe to, but handles), or, without it, the completion the
	// hang-up cut short, fired with Answer-State "hangup" before the
	// caller's CHANNEL_HANGUP_COMPLETE, as FreeSWITCH does.
	for _, hangupEvent := range []bool{true, false} {
		for _, p := range phases {
			name := p.name
			if !hangupEvent {
				name += ", without CHANNEL_HANGUP"
			}
			t.Run(name, func(t *testing.T) { hangUpAt(t, p.run, p.result, p.status, hangupEvent) })
		}
	}
}

// hangUpAt hangs the caller up once run has brought the call to a phase:
// the call must end with its final record and send nothing after.
func hangUpAt(t *testing.T, run func(w *world), result bool, status store.Status, hangupEvent bool) {
	w := newWorld(t, basicSupport(t))
	run(w)
	w.trace = nil
	w.at(10 * time.Second)
	cutShort := []string{"variable_originate_causes", "ARRAY::u5;ORIGINATOR_CANCEL|:u6;ORIGINATOR_CANCEL",
		"variable_last_bridge_to", w.c.legsAnswered()}
	switch {
	case hangupEvent:
		w.event("caller", "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
		w.hangupComplete("caller", "NORMAL_CLEARING", 1*time.Second, 9)
		if w.c.over {
			t.Fatal("over before the command in flight had its result")
		}
		if result {
			w.completes(cutShort...)
		}
	case result:
		w.completes(append(cutShort, "Answer-State", "hangup", "Hangup-Cause", "NORMAL_CLEARING",
			"variable_switchyard_input_1", "1")...)
		if !w.c.left() {
			t.Fatal("the completion said the caller hung up; the call did not hear it")
		}
		w.hangupComplete("caller", "NORMAL_CLEARING", 1*time.Second, 9)
	default:
		w.hangupComplete("caller", "NORMAL_CLEARING", 1*time.Second, 9)
		if w.c.over {
			t.Fatal("over before the command in flight had its result")
		}
	}
	if !result {
		w.fire(w.c.settleTimer)
	}
	for _, l := range w.c.order[1:] {
		if l.final == nil {
			w.hangupComplete(l.uuid, "ORIGINATOR_CANCEL", 0, 0)
		}
	}
	if !w.c.over {
		t.Fatalf("the call is not over: pending %v, flow done %v", w.c.pending.kind, w.c.state.Done())
	}
	w.c.finish()
	w.take()
	final := w.trace[len(w.trace)-1]
	if !strings.HasPrefix(final, "call final "+string(status)+" NORMAL_CLEARING 10s") {
		t.Fatalf("last effect %q, want the call's final record", final)
	}
	for _, line := range w.trace {
		if strings.HasPrefix(line, "execute") || strings.HasPrefix(line, "kill") {
			t.Errorf("%q after the caller left", line)
		}
	}
}

// legsAnswered names the dialled leg that answered, for last_bridge_to.
func (c *call) legsAnswered() string {
	for _, l := range c.order[1:] {
		if l.answered {
			return l.uuid
		}
	}
	return ""
}

// A socket that dies mid-call leaves nothing to command: the call is
// closed as lost at once, its legs from what is known, with its final
// record and callbacks.
func TestMachineLostSocket(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.toMenu("1")
	w.c.socketGone(esl.ErrClosed)
	w.take()
	if !w.c.over {
		t.Fatal("a call that lost its socket is not over")
	}
	w.c.finish()
	w.take()
	w.golden(
		"leg caller: final completed SWITCHYARD_LOST_CONTROL talk=0",
		"leg u3: final failed SWITCHYARD_LOST_CONTROL talk=0",
		"leg u4: final failed SWITCHYARD_LOST_CONTROL talk=0",
		"call final completed SWITCHYARD_LOST_CONTROL 0s talk=0",
	)
}

// A call admitted before its socket is let go of (serve -control node)
// starts without the settings and the answer when the handoff set the one
// and the dialplan did the other; it answers when the dialplan did not,
// and starts as usual when it keeps its socket after all.
func TestMachineHandedOffStart(t *testing.T) {
	greeting := []string{"execute speak flite|slt|Welcome to Acme Support. This … (awaited u1)",
		"execute play_and_get_digits 1 1 1 5000 none 'say:Press 1 for technic… (awaited u2)"}
	for _, tc := range []struct {
		name  string
		start func(c *call)
		trace []string
	}{
		{"answered by the dialplan", func(c *call) { c.startHandedOff(true) }, greeting},
		{"not answered", func(c *call) { c.startHandedOff(false) }, append([]string{"api uuid_answer caller"}, greeting...)},
		{"kept its socket", func(c *call) { c.startOnSocket(true, nil) }, append(append([]string(nil), started[3:]...), greeting...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, basicSupport(t))
			if !w.c.admit() {
				t.Fatal("the call was refused")
			}
			w.take()
			w.golden(started[:3]...)
			if got := w.c.handoffVars(); !strings.HasSuffix(got, ";switchyard_call="+w.c.sid) || !strings.Contains(got, "tts_engine=flite;") {
				t.Errorf("handoff variables %q", got)
			}
			tc.start(w.c)
			w.take()
			w.golden(tc.trace...)
			if !w.c.running {
				t.Error("the call is not running")
			}
		})
	}
}

// A call refused before its handoff keeps its socket for the refusal.
func TestMachineRefusedBeforeHandoff(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.routeErr = store.ErrNotFound
	if w.c.admit() {
		t.Fatal("an unknown number was admitted")
	}
	w.c.startOnSocket(false, nil)
	w.take()
	w.golden("? route +15550000100", "execute answer",
		"execute speak flite|slt|The number you have dialled is…", "execute hangup UNALLOCATED_NUMBER")
	if w.c.running {
		t.Error("a refused call is running")
	}
}

// Calls Switchyard cannot run are refused with a prompt or a tone and a
// cause, and leave no record when there is no account to keep it in.
func TestMachineRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(w *world)
		traces []string
	}{
		{"unknown number", func(w *world) { w.routeErr = store.ErrNotFound }, []string{
			"? route +15550000100",
			"execute answer",
			"execute speak flite|slt|The number you have dialled is…",
			"execute hangup UNALLOCATED_NUMBER",
		}},
		{"store down", func(w *world) { w.routeErr = fmt.Errorf("database is locked") }, []string{
			"? route +15550000100",
			"execute answer",
			"execute playback tone_stream://%(250,250,480,620);loops=4",
			"execute hangup NORMAL_TEMPORARY_FAILURE",
		}},
		{"call not recorded", func(w *world) { w.createErr = fmt.Errorf("disk full") }, []string{
			"? route +15550000100",
			"? create call ringing",
			"execute answer",
			"execute playback tone_stream://%(250,250,480,620);loops=4",
			"execute hangup NORMAL_TEMPORARY_FAILURE",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, basicSupport(t))
			tc.setup(w)
			w.start()
			w.golden(tc.traces...)
			if w.c.running {
				t.Fatal("a refused call is running")
			}
			w.hangupComplete("caller", "UNALLOCATED_NUMBER", 0, 0)
			if !w.c.over {
				t.Fatal("a refused call is not over when its channel is")
			}
			w.c.finish()
			w.take()
			w.golden("> caller CHANNEL_HANGUP_COMPLETE")
		})
	}
}

const queueFlow = `{"name":"q","start":"c","applets":{
	"c":{"type":"connect","config":{"destinations":["+15550100410"],"state_management":true,
		"queue":{"max_wait":60,"announcement":{"text":"All busy"},"announce_every":20}},
		"outputs":{"busy":"h","no_answer":"h","failed":"h"}},
	"h":{"type":"hangup","config":{}}}}`

// Every agent is busy: the caller is queued with music, announcements and
// a poll; the agent frees up, the music is broken once it has started, the
// agent rung and held, and the queue's timers stopped when the connect
// ends.
func TestMachineQueueUntilAnAgentIsFree(t *testing.T) {
	w := newWorld(t, []byte(queueFlow))
	w.busy["+15550100410"] = true
	w.start()
	w.golden(append(started,
		"? resolve +15550100410",
		"? hold +15550100410 for u1",
		"? enqueue fl1/c",
		"subscribe PLAYBACK_START",
		"timer 1 in 1m0s",
		"timer 2 in 20s",
		"poll 3 every 1s",
		"execute playback "+short(flows.DefaultQueueMusic)+" (awaited u2)",
	)...)
	w.fire(3)
	w.golden("> timer 3", "? ahead = 0", "? hold +15550100410 for u3")
	// The agent frees up before the music started: the break waits for
	// its start, or FreeSWITCH would lose it.
	delete(w.busy, "+15550100410")
	w.fire(3)
	w.golden("> timer 3", "? ahead = 0", "? hold +15550100410 for u4")
	w.event("caller", "PLAYBACK_START", "Playback-File-Path", flows.DefaultQueueMusic)
	w.golden("> caller PLAYBACK_START", "api uuid_break caller")
	w.completes("Application-Response", "FILE PLAYED")
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"leg 2 u4: queued to +15550100410",
		"watch u4",
		"execute bridge {ignore_early_media=true}[leg_timeout=30… (awaited u5)",
	)
	w.event("u4", "CHANNEL_PROGRESS")
	w.event("u4", "CHANNEL_ANSWER")
	w.at(30 * time.Second)
	w.hangupComplete("u4", "NORMAL_CLEARING", 10*time.Second, 20)
	w.completes("variable_last_bridge_to", "u4")
	w.golden(
		"> u4 CHANNEL_PROGRESS", "leg u4: ringing",
		"> u4 CHANNEL_ANSWER", "leg u4: in-progress",
		"> u4 CHANNEL_HANGUP_COMPLETE", "leg u4: final completed NORMAL_CLEARING talk=20",
		"release u4",
		"> caller CHANNEL_EXECUTE_COMPLETE",
		"timer 1 stop", "timer 2 stop", "timer 3 stop", "dequeue", "unsubscribe PLAYBACK_START",
		"kill NORMAL_CLEARING",
	)
}

// The wait runs out: the music is broken and the connect takes busy.
func TestMachineQueueWaitRunsOut(t *testing.T) {
	w := newWorld(t, []byte(queueFlow))
	w.busy["+15550100410"] = true
	w.start()
	w.event("caller", "PLAYBACK_START", "Playback-File-Path", flows.DefaultQueueMusic)
	w.trace = nil
	w.fire(2) // the announcement: music broken, announcement, music again
	w.completes("Application-Response", "FILE PLAYED")
	w.golden("> timer 2", "api uuid_break caller",
		"> caller CHANNEL_EXECUTE_COMPLETE",
		"execute speak flite|slt|All busy (awaited u3)",
		"timer 4 in 20s")
	w.completes()
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"execute playback "+short(flows.DefaultQueueMusic)+" (awaited u4)",
		"? ahead = 0", "? hold +15550100410 for u5")
	w.at(60 * time.Second)
	w.fire(1)
	w.golden("> timer 1") // the music has not started: the break waits
	w.event("caller", "PLAYBACK_START", "Playback-File-Path", flows.DefaultQueueMusic)
	w.completes("Application-Response", "FILE PLAYED")
	w.golden("> caller PLAYBACK_START", "api uuid_break caller",
		"> caller CHANNEL_EXECUTE_COMPLETE",
		"timer 4 stop", "timer 3 stop", "dequeue", "unsubscribe PLAYBACK_START",
		"kill NORMAL_CLEARING")
	if w.c.conn != nil || len(w.c.timers) != 0 || len(w.c.polls) != 0 {
		t.Fatalf("the connect left timers behind: %v %v", w.c.timers, w.c.polls)
	}
}

// A menu speaks its text in the voice its prompt names: "say:" sources
// speak in the channel's tts_voice, so the call sets it before the menu
// when it changes, and back to the default for a menu that names none. A
// greeting's speak names its voice itself; a menu of audio sets nothing.
func TestMachineMenuVoice(t *testing.T) {
	w := newWorld(t, []byte(`{"name":"voices","start":"hello","applets":{
		"hello":{"type":"greeting","config":{"prompt":{"text":"Hello.","voice":"rms"}},"outputs":{"next":"kal"}},
		"kal":{"type":"ivr","config":{"prompt":{"text":"Press 1.","voice":"kal"},"timeout":5,"max_attempts":1},
			"outputs":{"1":"plain","timeout":"plain"}},
		"plain":{"type":"ivr","config":{"prompt":{"text":"Press 2."},"timeout":5,"max_attempts":1},
			"outputs":{"2":"tones","timeout":"tones"}},
		"tones":{"type":"ivr","config":{"prompt":{"audio":"tone_stream://%(500,0,620)"},"timeout":5,"max_attempts":1},
			"outputs":{"3":"odd","timeout":"odd"}},
		"odd":{"type":"ivr","config":{"prompt":{"text":"Press 4.","voice":"${x}"},"timeout":5,"max_attempts":1},
			"outputs":{"4":"hello"}}}}`))
	w.start()
	w.golden(append(started, "execute speak flite|rms|Hello. (awaited u1)",
		"execute set tts_voice=kal",
		"execute play_and_get_digits 1 1 1 5000 none 'say:Press 1.' silence_s… (awaited u2)")...)
	w.completes()
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE")
	w.completes("variable_switchyard_input_1", "1")
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"call digits 1",
		"execute set tts_voice=slt",
		"execute play_and_get_digits 1 1 1 5000 none 'say:Press 2.' silence_s… (awaited u3)")
	w.completes("variable_switchyard_input_2", "2")
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"call digits 2",
		"execute play_and_get_digits 1 1 1 5000 none 'tone_stream://%(500,0,6… (awaited u4)")
	w.completes("variable_switchyard_input_3", "3")
	// A voice that set would expand as a variable is not sent: the
	// default voice, already the channel's, speaks.
	w.golden("> caller CHANNEL_EXECUTE_COMPLETE",
		"call digits 3",
		"execute play_and_get_digits 1 1 1 5000 none 'say:Press 4.' silence_s… (awaited u5)")
}

// What the flow does when a prompt ends goes to the channel behind the
// prompt when it is another prompt or a menu, so the caller hears one
// after the other with no round trip between them; what could go
// elsewhere by the time the prompt ends (business hours, an answer from
// a URL) or does more than play (a connect) waits for the prompt's end.
func TestMachineSendsAheadOfAPromptsEnd(t *testing.T) {
	const tail = `"menu":{"type":"ivr","config":{"prompt":{"text":"Press 1."},"timeout":5,"max_attempts":1},"outputs":{"1":"bye","timeout":"bye"}},
		"bye":{"type":"hangup"}}}`
	const hello = `{"name":"ahead","start":"hello","applets":{
		"hello":{"type":"greeting","config":{"prompt":{"text":"Hello."}},"outputs":{"next":"next"}},`
	menu := "execute play_and_get_digits 1 1 1 5000 none 'say:Press 1.' silence_s…"

	t.Run("greeting, greeting, menu", func(t *testing.T) {
		w := newWorld(t, []byte(hello+`"next":{"type":"greeting","config":{"prompt":{"text":"Again."}},"outputs":{"next":"menu"}},`+tail))
		w.start()
		w.golden(append(started, "execute speak flite|slt|Hello. (awaited u1)", "execute speak flite|slt|Again. (awaited u2)")...)
		w.completes()
		w.golden("> caller CHANNEL_EXECUTE_COMPLETE", menu+" (awaited u3)")
		w.completes()
		w.golden("> caller CHANNEL_EXECUTE_COMPLETE")
		w.completes("variable_switchyard_input_1", "1")
		w.golden("> caller CHANNEL_EXECUTE_COMPLETE", "call digits 1", "kill NORMAL_CLEARING")
		if got := appletIDs(w.c.path); got != "hello next menu bye" {
			t.Errorf("applet path %q", got)
		}
	})

	t.Run("an input the flow does not wait for, during the greeting", func(t *testing.T) {
		w := newWorld(t, []byte(hello+`"next":{"type":"greeting","config":{"prompt":{"text":"Again."}},"outputs":{"next":"menu"}},`+tail))
		w.start()
		w.take()
		w.trace = nil
		w.c.fetched(flows.FetchResult{At: w.now, StatusCode: 200})
		w.take()
		w.completes()
		// The second greeting went with the first: it is awaited, not
		// sent again; the menu goes behind it.
		w.golden("> caller CHANNEL_EXECUTE_COMPLETE", menu+" (awaited u3)")
	})

	t.Run("the caller hangs up in the greeting", func(t *testing.T) {
		w := newWorld(t, []byte(hello+`"next":{"type":"ivr","config":{"prompt":{"text":"Press 1."},"timeout":5,"max_attempts":1},"outputs":{"1":"bye","timeout":"bye"}},
		"bye":{"type":"hangup"}}}`))
		w.start()
		w.golden(append(started, "execute speak flite|slt|Hello. (awaited u1)", menu+" (awaited u2)")...)
		w.at(2 * time.Second)
		w.completes("Answer-State", "hangup", "Hangup-Cause", "NORMAL_CLEARING")
		w.hangupComplete("caller", "NORMAL_CLEARING", time.Millisecond, 2)
		// A completion of what was sent ahead, were the node to run it
		// on the way down, is nobody's.
		w.event("caller", "CHANNEL_EXECUTE_COMPLETE", "Application-UUID", "u2", "variable_switchyard_input_1", "1")
		w.golden("> caller CHANNEL_EXECUTE_COMPLETE", "timer 1 in 3s",
			"> caller CHANNEL_HANGUP_COMPLETE", "leg caller: final completed NORMAL_CLEARING talk=2",
			"> caller CHANNEL_EXECUTE_COMPLETE")
		if !w.c.over {
			t.Fatal("the call is not over")
		}
		if got := appletIDs(w.c.path); got != "hello" {
			t.Errorf("applet path %q, want only the greeting the caller heard", got)
		}
	})

	for _, tc := range []struct{ name, next, after string }{
		{"business hours", `"next":{"type":"business_hours","config":{"timezone":"UTC","windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"open":"00:00","close":"23:59"}]},"outputs":{"open":"menu","closed":"menu"}},`,
			menu + " (awaited u2)"},
		{"a greeting from a URL", `"next":{"type":"greeting","config":{"url":"https://crm.example/hello"},"outputs":{"next":"menu"}},`,
			"fetch https://crm.example/hello"},
		{"a connect", `"next":{"type":"connect","config":{"destinations":["+15550100410"]},"outputs":{"answered":"bye"}},`,
			"? resolve +15550100410"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, []byte(hello+tc.next+tail))
			w.c.env.fetcher = true
			w.start()
			w.golden(append(started, "execute speak flite|slt|Hello. (awaited u1)")...)
			w.completes()
			if len(w.trace) < 2 || w.trace[1] != tc.after {
				t.Fatalf("after the greeting: %q, want %q next", w.trace, tc.after)
			}
		})
	}
}

// appletIDs lists a path's applets, separated by spaces.
func appletIDs(p store.AppletPath) string {
	ids := make([]string, len(p))
	for i, st := range p {
		ids[i] = st.Applet
	}
	return strings.Join(ids, " ")
}

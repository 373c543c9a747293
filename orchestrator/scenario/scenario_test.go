package scenario

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestRealNode checks that a real node has what the scenarios rely on
// before they run against it.
func TestRealNode(t *testing.T) {
	if !suite.real {
		t.Skip("the scenarios run on the emulator: SWITCHYARD_FS=archive or SWITCHYARD_FS_ESL=host:port runs them on a real FreeSWITCH")
	}
	n, l := borrow(t)
	l.Close()
	conn, err := esl.DialInbound(t.Context(), n.esl, n.password, nil)
	if err != nil {
		t.Fatalf("FreeSWITCH at %s: %v", n.esl, err)
	}
	defer conn.Close()
	status, err := conn.API(t.Context(), "status")
	if err != nil || !strings.Contains(status, "UP") {
		t.Fatalf("status: %q %v", status, err)
	}
	for _, module := range []string{"mod_loopback", "mod_event_socket", "mod_flite", "mod_tone_stream", "mod_sofia"} {
		if got, err := conn.API(t.Context(), "module_exists "+module); err != nil || got != "true" {
			t.Errorf("%s is not loaded (%q, %v): see freeswitch-conf/README.md", module, got, err)
		}
	}
}

// legWant is what a leg's row must say.
type legWant struct {
	to     string
	status store.Status
	cause  string // "" = any
	talk   bool   // talk time > 0
	// anyTalk skips the talk-time check (a call answered and hung up
	// within a second has none).
	anyTalk bool
}

func checkLegs(t *testing.T, legs []store.Leg, want []legWant) {
	t.Helper()
	if len(legs) != len(want) {
		t.Fatalf("%d legs, want %d", len(legs), len(want))
	}
	for i, w := range want {
		l := legs[i]
		if l.Seq != i+1 || l.To != w.to || l.Status != w.status {
			t.Errorf("leg %d: seq %d to %s status %s, want to %s status %s", i+1, l.Seq, l.To, l.Status, w.to, w.status)
		}
		if w.cause != "" && l.HangupCause != w.cause {
			t.Errorf("leg %d (%s): cause %s, want %s", i+1, l.To, l.HangupCause, w.cause)
		}
		if !w.anyTalk && w.talk != (l.TalkTime > 0) {
			t.Errorf("leg %d (%s): talk time %d", i+1, l.To, l.TalkTime)
		}
		if l.EndTime == nil || l.EndTime.Before(l.StartTime) {
			t.Errorf("leg %d (%s): start %v end %v", i+1, l.To, l.StartTime, l.EndTime)
		}
		if (l.AnswerTime != nil) != (w.status == store.Completed) {
			t.Errorf("leg %d (%s): answer time %v with status %s", i+1, l.To, l.AnswerTime, l.Status)
		}
		if l.UUID == "" {
			t.Errorf("leg %d: no channel UUID", i+1)
		}
	}
}

func checkCall(t *testing.T, c *store.Call, status store.Status) {
	t.Helper()
	if c == nil {
		t.Fatal("no call record")
	}
	if c.Status != status || c.Direction != store.DirectionInbound || c.From != "+15550109999" {
		t.Errorf("call: status %s direction %s from %s, want %s", c.Status, c.Direction, c.From, status)
	}
	// The duration is the node's clock's: whole seconds from start to end
	// (a caller who hangs up at once has 0).
	if c.EndTime == nil || c.EndTime.Before(c.StartTime) || !withinSec(c.Duration, int(c.EndTime.Sub(c.StartTime).Seconds()), 1) {
		t.Errorf("call: start %v end %v duration %d", c.StartTime, c.EndTime, c.Duration)
	}
}

func apps(r *testphone.Result) string {
	names := make([]string, len(r.Path))
	for i, s := range r.Path {
		names[i] = s.App
	}
	return strings.Join(names, " ")
}

func TestKey1ParallelRingSecondAgentAnswers(t *testing.T) {
	h := newHarness(t)
	res, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"1"}})
	checkCall(t, c, store.Completed)
	// Answered first: by an answer application, or by uuid_answer when
	// the dialplan parked the call (the caller's talk time says so).
	if !strings.Contains(apps(res), "speak play_and_get_digits record_session bridge") {
		t.Errorf("path = %s", apps(res))
	}
	checkLegs(t, legs, []legWant{
		{to: supportNum, status: store.Completed, talk: true},
		{to: "+15550100201", status: store.Canceled, cause: "LOSE_RACE"},
		{to: "+15550100430", status: store.Completed, talk: true},
	})
	if legs[2].TalkTime < 25 || legs[2].TalkTime > 35 {
		t.Errorf("agent 2 talked %d s, want about 30", legs[2].TalkTime)
	}
	if c.ConversationDuration != legs[2].TalkTime {
		t.Errorf("conversation %d, agent talk time %d", c.ConversationDuration, legs[2].TalkTime)
	}
	if c.Digits != "1" || c.RecordingURL == "" {
		t.Errorf("digits %q recording %q", c.Digits, c.RecordingURL)
	}
	recs, err := h.db.Recordings().ByCall(t.Context(), account, c.SID)
	if err != nil || len(recs) != 1 || recs[0].URL != c.RecordingURL {
		t.Errorf("recordings %+v (%v)", recs, err)
	}
	// The steps an event started (the connect after the digits) are
	// timed to the command's write and to FreeSWITCH's reply. The menu
	// went to the channel behind the greeting, with no step of its own.
	for applet, want := range map[string]float64{"ivr": 0, "connect": 1} {
		for _, name := range []string{"switchyard_applet_dispatch_seconds", "switchyard_applet_step_seconds"} {
			if got := metricstest.Value(t, h.met, name, "applet", applet); got != want {
				t.Errorf("%s{applet=%s} has %v observations, want %v", name, applet, got, want)
			}
		}
	}
}

func TestKey2BusyAgentThenVoicemail(t *testing.T) {
	h := newHarnessOpts(t, options{realTime: true})
	res, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"2"}, Message: 3 * time.Second})
	checkCall(t, c, store.Completed)
	if !strings.Contains(apps(res), "bridge speak playback record") {
		t.Errorf("path = %s", apps(res))
	}
	checkLegs(t, legs, []legWant{
		{to: supportNum, status: store.Completed, talk: true},
		{to: "+15550100101", status: store.Busy, cause: "USER_BUSY"},
	})
	checkVoicemail(t, h, c, 3)
}

// checkVoicemail checks the call's one recording: a message of about
// secs seconds (the caller spoke that long; 0: said nothing), in a WAV
// file on the node that holds at least that much audio (the silence that
// ends a message is written too, not counted), or only its 44-byte
// header when nothing was said.
func checkVoicemail(t *testing.T, h *harness, c *store.Call, secs int) {
	t.Helper()
	recs, err := h.db.Recordings().ByCall(t.Context(), account, c.SID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings %+v (%v)", recs, err)
	}
	r := recs[0]
	if !withinSec(r.Duration, secs, 1) || r.URL == "" || c.RecordingURL != r.URL || !strings.HasSuffix(r.Path, ".wav") {
		t.Errorf("voicemail recording %+v (want about %d s), call recording %q", r, secs, c.RecordingURL)
	}
	info, err := os.Stat(r.Path)
	if err != nil {
		t.Fatalf("voicemail file: %v", err)
	}
	// At least 8 kHz, 16-bit mono after a 44-byte header: 16000 bytes a
	// second.
	if size := info.Size(); (secs == 0 && size != 44) || (secs > 0 && size < 44+int64(secs-1)*16000) {
		t.Errorf("voicemail file %s: %d bytes, want audio for about %d s", r.Path, size, secs)
	}
}

// TestSilentVoicemail: a caller who says nothing leaves an empty message,
// and Switchyard says so: a recording of 0 seconds, not an invented one.
func TestSilentVoicemail(t *testing.T) {
	h := newHarness(t)
	_, c, _ := h.call(testphone.Script{To: supportNum, Digits: []string{"2"}})
	checkCall(t, c, store.Completed)
	checkVoicemail(t, h, c, 0)
}

func TestKey3NobodyAnswersThenVoicemail(t *testing.T) {
	h := newHarness(t)
	_, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"3"}, Message: 3 * time.Second})
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{
		{to: supportNum, status: store.Completed, talk: true},
		{to: "+15550100202", status: store.NoAnswer},
		{to: "+15550100203", status: store.NoAnswer},
	})
	checkVoicemail(t, h, c, 3)
}

func TestNoInputInvalidPromptMenuAgain(t *testing.T) {
	h := newHarness(t)
	res, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"", "2"}})
	checkCall(t, c, store.Completed)
	path := apps(res)
	if !strings.Contains(path, "speak play_and_get_digits speak play_and_get_digits bridge") {
		t.Errorf("path = %s", path)
	}
	if len(res.Path) < 4 || !strings.Contains(res.Path[3].Arg, "Invalid input") {
		t.Errorf("third step = %v, want the invalid-input prompt", res.Path)
	}
	if len(legs) != 2 || legs[1].To != "+15550100101" {
		t.Errorf("legs = %+v", legs)
	}
}

func TestCallerHangsUpDuringGreeting(t *testing.T) {
	h := newHarness(t)
	res, c, legs := h.call(testphone.Script{To: supportNum, HangupOnApp: "speak", HangupOnAppN: 1})
	checkCall(t, c, store.Completed)
	if strings.Contains(apps(res), "play_and_get_digits") {
		t.Errorf("the menu ran after the caller hung up: %s", apps(res))
	}
	checkLegs(t, legs, []legWant{{to: supportNum, status: store.Completed, anyTalk: true}})
	if c.ConversationDuration != 0 || c.RecordingURL != "" {
		t.Errorf("conversation %d recording %q", c.ConversationDuration, c.RecordingURL)
	}
}

// TestSIPCallerHangsUpDuringGreeting: the same caller, over SIP, as a
// carrier's call comes. Switchyard has sent the menu to the node behind
// the greeting; the caller's BYE takes the channel down while the greeting
// plays, and FreeSWITCH starts nothing queued on a channel that is down.
// The test phone kills the caller's own SIP leg, so a real BYE reaches
// the flow's channel. (A loopback caller hung up by the phone's half would
// end the flow's media before its hang-up, and the node could start the
// menu in that moment; see testphone's hangUp.) Real nodes only: the
// emulator has no SIP.
func TestSIPCallerHangsUpDuringGreeting(t *testing.T) {
	h := newHarness(t)
	if h.carrier == "" {
		t.Skip("a SIP caller needs a node started from the archive (fsnode's carrier profile)")
	}
	res, c, legs := h.call(testphone.Script{To: supportNum, Carrier: h.carrier, HangupOnApp: "speak", HangupOnAppN: 1})
	checkCall(t, c, store.Completed)
	if !strings.HasPrefix(res.HangupCause, "NORMAL_CLEARING") || !strings.Contains(apps(res), "speak") {
		t.Errorf("cause %q path %s", res.HangupCause, apps(res))
	}
	if strings.Contains(apps(res), "play_and_get_digits") {
		t.Errorf("the menu ran after the caller hung up: %s", apps(res))
	}
	checkLegs(t, legs, []legWant{{to: supportNum, status: store.Completed, anyTalk: true}})
}

func TestSequentialFirstBusySecondAnswers(t *testing.T) {
	h := newHarness(t)
	_, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"4"}})
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{
		{to: supportNum, status: store.Completed, talk: true},
		{to: "+15550100102", status: store.Busy, cause: "USER_BUSY"},
		{to: "+15550100415", status: store.Completed, talk: true},
	})
	if legs[2].TalkTime < 12 || legs[2].TalkTime > 18 {
		t.Errorf("duty manager talked %d s, want about 15", legs[2].TalkTime)
	}
}

func TestAfterHoursVoicemailAndEmail(t *testing.T) {
	h := newHarness(t)
	res, c, legs := h.call(testphone.Script{To: afterHours, Message: 3 * time.Second})
	checkCall(t, c, store.Completed)
	if got := apps(res); !strings.Contains(got, "answer speak speak playback record") {
		t.Errorf("path = %s", got)
	}
	checkLegs(t, legs, []legWant{{to: afterHours, status: store.Completed, talk: true}})
	checkVoicemail(t, h, c, 3)
	select {
	case m := <-h.sent:
		if m.Channel != flows.ChannelEmail || m.To[0] != "support@acme.example" ||
			!strings.Contains(m.Body, c.RecordingURL) || !strings.Contains(m.Subject, "+15550109999") {
			t.Errorf("email = %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Error("no email notification")
	}
}

func TestUnknownNumberIsRefused(t *testing.T) {
	h := newHarness(t)
	res, c, _ := h.call(testphone.Script{To: unknownNum})
	if c != nil || res.CallSid != "" {
		t.Errorf("a call record for an unknown number: %+v", c)
	}
	if res.HangupCause != "UNALLOCATED_NUMBER" || !strings.Contains(apps(res), "speak") {
		t.Errorf("cause %q path %s", res.HangupCause, apps(res))
	}
}

func TestMaxConversationEndsTheBridge(t *testing.T) {
	h := newHarness(t)
	_, c, legs := h.call(testphone.Script{To: supportNum, Digits: []string{"5"}})
	checkCall(t, c, store.Completed)
	checkLegs(t, legs, []legWant{
		{to: supportNum, status: store.Completed, talk: true},
		{to: "+15550100005", status: store.Completed, cause: "ALLOTTED_TIMEOUT", talk: true},
	})
	if legs[1].TalkTime < 9 || legs[1].TalkTime > 11 {
		t.Errorf("agent talked %d s, want the 10 s limit", legs[1].TalkTime)
	}
}

func TestNumberWithoutFlowIsRefused(t *testing.T) {
	h := newHarness(t)
	if _, err := h.db.Numbers().Create(t.Context(), account, "+15550000300", "not routed yet"); err != nil {
		t.Fatal(err)
	}
	res, c, _ := h.call(testphone.Script{To: "+15550000300"})
	if c != nil || res.HangupCause != "SERVICE_UNAVAILABLE" || !strings.Contains(apps(res), "speak") {
		t.Errorf("cause %q path %s record %v", res.HangupCause, apps(res), c)
	}
}

func TestFailingStoreHangsUpWithATone(t *testing.T) {
	h := newHarness(t)
	h.db.Close() // every query now fails
	res, _, _ := h.call(testphone.Script{To: supportNum})
	if res.HangupCause != "NORMAL_TEMPORARY_FAILURE" || !strings.Contains(apps(res), "playback") || strings.Contains(apps(res), "speak") {
		t.Errorf("cause %q path %s", res.HangupCause, apps(res))
	}
}

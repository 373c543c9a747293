package call

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

func ev(seq int, name string, kv ...string) esl.Event {
	h := map[string]string{"Event-Name": name, "Unique-ID": "b1", "Event-Sequence": fmt.Sprint(seq),
		"Event-Date-Timestamp": fmt.Sprint(1_800_000_000_000_000 + seq*1_000_000)}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return esl.Event{Headers: h}
}

// A leg's life as FreeSWITCH fires it, in Event-Sequence order.
func answeredLegEvents() []esl.Event {
	return []esl.Event{
		ev(11, "CHANNEL_PROGRESS"),
		ev(14, "CHANNEL_ANSWER"),
		ev(15, "CHANNEL_BRIDGE"),
		ev(40, "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING"),
		ev(44, "CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING",
			"variable_answer_uepoch", "1800000004000000", "variable_end_uepoch", "1800000030000000",
			"variable_duration", "30", "variable_billsec", "26", "variable_sip_term_status", "200"),
	}
}

// Hazard: eslgo delivers events on separate goroutines, so any order is
// possible. Whatever the order, the leg must end in the same state, and a
// late non-terminal event must never undo the final record.
func TestLegFoldIgnoresArrivalOrder(t *testing.T) {
	want := fold(answeredLegEvents())
	if want.status != store.Completed || want.final == nil || want.final.TalkTime != 26 || want.final.Duration != 30 {
		t.Fatalf("in order: %+v final %+v", want, want.final)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		events := answeredLegEvents()
		rng.Shuffle(len(events), func(a, b int) { events[a], events[b] = events[b], events[a] })
		got := fold(events)
		if got.status != want.status || !reflect.DeepEqual(got.final, want.final) || !got.answered {
			t.Fatalf("order %v: status %s final %+v", names(events), got.status, got.final)
		}
	}
}

func TestLateEventsDoNotMoveALegBack(t *testing.T) {
	l := &leg{uuid: "b1"}
	l.apply(ev(14, "CHANNEL_ANSWER"), time.Now)
	if changed := l.apply(ev(11, "CHANNEL_PROGRESS"), time.Now); changed || l.status != store.InProgress {
		t.Errorf("a late PROGRESS moved the leg to %s", l.status)
	}
	l.apply(ev(44, "CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING", "variable_answer_uepoch", "1"), time.Now)
	if changed := l.apply(ev(50, "CHANNEL_ANSWER"), time.Now); changed || l.status != store.Completed {
		t.Errorf("an event after the final record changed the leg to %s", l.status)
	}
}

func fold(events []esl.Event) *leg {
	l := &leg{uuid: "b1"}
	for _, e := range events {
		l.apply(e, time.Now)
	}
	return l
}

func names(events []esl.Event) string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Name()
	}
	return strings.Join(out, ",")
}

func TestLegStatus(t *testing.T) {
	tests := []struct {
		answered bool
		cause    string
		sip      string
		progress int
		want     store.Status
	}{
		{true, "NORMAL_CLEARING", "200", 0, store.Completed},
		{true, "ALLOTTED_TIMEOUT", "", 0, store.Completed},
		{true, "MEDIA_TIMEOUT", "", 0, store.Completed},
		{false, "USER_BUSY", "486", 0, store.Busy},
		{false, "CALL_REJECTED", "603", 0, store.Busy},
		{false, "NO_ANSWER", "", 0, store.NoAnswer},
		{false, "ALLOTTED_TIMEOUT", "", 0, store.NoAnswer},
		{false, "NO_USER_RESPONSE", "480", 0, store.NoAnswer},
		{false, "RECOVERY_ON_TIMER_EXPIRE", "408", 3, store.NoAnswer},
		{false, "RECOVERY_ON_TIMER_EXPIRE", "408", 0, store.Failed},
		{false, "ORIGINATOR_CANCEL", "487", 0, store.Canceled},
		{false, "LOSE_RACE", "", 0, store.Canceled},
		{false, "UNALLOCATED_NUMBER", "404", 0, store.Failed},
		{false, "NORMAL_CLEARING", "", 0, store.Failed},
		{false, "NORMAL_UNSPECIFIED", "486", 0, store.Busy},
		{false, "", "487", 0, store.Canceled},
	}
	for _, tt := range tests {
		if got := LegStatus(tt.answered, tt.cause, tt.sip, tt.progress); got != tt.want {
			t.Errorf("LegStatus(%v, %s, %s, %d) = %s, want %s", tt.answered, tt.cause, tt.sip, tt.progress, got, tt.want)
		}
	}
}

func TestOriginateCauses(t *testing.T) {
	got := originateCauses("ARRAY::u1;NONE|:u2;LOSE_RACE|:u3;LOSE_RACE")
	if got["u1"] != "NONE" || got["u2"] != "LOSE_RACE" || got["u3"] != "LOSE_RACE" || len(got) != 3 {
		t.Errorf("causes = %v", got)
	}
	if len(originateCauses("")) != 0 {
		t.Error("empty variable gave causes")
	}
}

func TestDialString(t *testing.T) {
	e := Endpoints{Number: "loopback/{number}/switchyard_testnet", SIP: "sofia/external/{uri}"}
	d := flows.Dial{Strategy: flows.Parallel, RingTimeout: 20, CallerID: "+15550000100", MaxConversation: 600}
	legs := []dialLeg{{uuid: "u1", dest: "+15550100001"}, {uuid: "u2", dest: "sip:agent7@pbx.example"}}
	got := dialString(e, d, legs, "sid")
	want := "{ignore_early_media=true}" +
		"[leg_timeout=20,origination_uuid=u1,origination_caller_id_number=+15550000100,switchyard_call=sid,execute_on_answer='sched_hangup +600 ALLOTTED_TIMEOUT']loopback/+15550100001/switchyard_testnet," +
		"[leg_timeout=20,origination_uuid=u2,origination_caller_id_number=+15550000100,switchyard_call=sid,execute_on_answer='sched_hangup +600 ALLOTTED_TIMEOUT']sofia/external/agent7@pbx.example"
	if got != want {
		t.Errorf("dial string\n got %s\nwant %s", got, want)
	}
	d.Strategy, d.MaxConversation = flows.Sequential, 0
	if got := dialString(e, d, legs, "sid"); strings.Count(got, "|") != 1 || strings.Contains(got, ",[") || strings.Contains(got, "sched_hangup") {
		t.Errorf("sequential = %s", got)
	}
}

// A destination or caller id that slipped past the input checks never
// reaches the dial string: its leg fails with INVALID_NUMBER_FORMAT.
func TestDialStringRefusesInjection(t *testing.T) {
	e := Endpoints{Number: "loopback/{number}/switchyard_testnet", SIP: "sofia/external/{uri}"}
	d := flows.Dial{Strategy: flows.Parallel, RingTimeout: 20, CallerID: "+1555,loopback/1"}
	legs := []dialLeg{
		{uuid: "u1", dest: "sip:a@example.com,loopback/+15550100031/switchyard_testnet"},
		{uuid: "u2", dest: "+1555|sofia/gateway/x/1"},
		{uuid: "u3", dest: "SIP:agent7@pbx.example"},
	}
	got := dialString(e, d, legs, "sid")
	want := "{ignore_early_media=true}" +
		"[leg_timeout=20,origination_uuid=u1,switchyard_call=sid]error/INVALID_NUMBER_FORMAT," +
		"[leg_timeout=20,origination_uuid=u2,switchyard_call=sid]error/INVALID_NUMBER_FORMAT," +
		"[leg_timeout=20,origination_uuid=u3,switchyard_call=sid]sofia/external/agent7@pbx.example"
	if got != want {
		t.Errorf("dial string\n got %s\nwant %s", got, want)
	}
}

// An audio source that would break its argument is played as silence.
func TestMediaArgumentsRefuseInjection(t *testing.T) {
	m := media{ttsEngine: "flite", ttsVoice: "slt"}
	for _, src := range []string{"https://x.example/a.wav' '&park", "/s/a.wav!/etc/passwd", "/s/a.wav\nexecute-app-name: bridge"} {
		if app, arg := m.play(flows.Prompt{Audio: src}); app != "playback" || arg != unsafeAudio {
			t.Errorf("play(%q) = %s %q", src, app, arg)
		}
		if got := m.file(flows.Prompt{Audio: src}); got != unsafeAudio {
			t.Errorf("file(%q) = %q", src, got)
		}
	}
}

func TestMediaArguments(t *testing.T) {
	m := media{ttsEngine: "flite", ttsVoice: "slt"}
	if app, arg := m.play(flows.Prompt{Text: "It's 5 o'clock! Really|truly"}); app != "speak" || arg != "flite|slt|It’s 5 o’clock. Really,truly" {
		t.Errorf("speak = %s %q", app, arg)
	}
	if app, arg := m.play(flows.Prompt{Audio: "https://cdn.example/a.wav"}); app != "playback" || arg != "https://cdn.example/a.wav" {
		t.Errorf("playback = %s %q", app, arg)
	}
	got := m.collect(flows.CollectDigits{Prompts: []flows.Prompt{{Text: "Wrong"}, {Text: "Press 1 or 2"}},
		MaxDigits: 1, Timeout: 5, ValidKeys: "12"}, "v")
	want := "1 1 1 5000 none 'say:Wrong. Press 1 or 2' silence_stream://250 v ^[12]$ 3000"
	if got != want {
		t.Errorf("collect\n got %s\nwant %s", got, want)
	}
	got = m.collect(flows.CollectDigits{Prompts: []flows.Prompt{{Audio: "/s/id.wav"}}, MaxDigits: 6, Timeout: 8, FinishOnKey: "#"}, "v")
	if got != "1 6 1 8000 # '/s/id.wav' silence_stream://250 v ^[0-9*#]+$ 3000" {
		t.Errorf("gather = %s", got)
	}
	if got := record("/r/x.wav", flows.Record{MaxLength: 120, SilenceEnd: 5}); got != "/r/x.wav 120 200 5" {
		t.Errorf("record = %s", got)
	}
	if got := record("/r/x.wav", flows.Record{MaxLength: 30}); got != "/r/x.wav 30" {
		t.Errorf("record without silence = %s", got)
	}
}

func TestDialStatus(t *testing.T) {
	for _, tt := range []struct {
		disp, dial string
		want       flows.DialStatus
	}{
		{"USER_BUSY", "BUSY", flows.DialBusy},
		{"CALL_REJECTED", "DONTCALL", flows.DialBusy},
		{"ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", flows.DialNoAnswer},
		{"NO_ANSWER", "NOANSWER", flows.DialNoAnswer},
		{"UNALLOCATED_NUMBER", "UNALLOCATED_NUMBER", flows.DialFailed},
		{"", "BUSY", flows.DialBusy},
	} {
		if got := dialStatus(tt.disp, tt.dial); got != tt.want {
			t.Errorf("dialStatus(%s, %s) = %s, want %s", tt.disp, tt.dial, got, tt.want)
		}
	}
}

// A SIP trunk destination (sip:<TrunkID>) is dialled through its gateway
// with the call's ExoPhone as the user, carrying the Dial's SIP headers;
// a whisper makes the originate run it on the answered leg first.
func TestDialStringTrunkAndWhisper(t *testing.T) {
	e := Endpoints{Number: "loopback/{number}/switchyard_testnet", SIP: "sofia/external/{uri}", Gateways: map[string]string{"pbx1": "acme_pbx"}}
	d := flows.Dial{Strategy: flows.Sequential, RingTimeout: 20, CallerID: "+15550000100",
		SIPHeaders: map[string]string{"X-Ref": "42", "X-Bad": "a,b"}, Whisper: &flows.Prompt{Text: "Web call, order [42]"}}
	legs := []dialLeg{{uuid: "u1", dest: "sip:pbx1"}, {uuid: "u2", dest: "sip:carrier2"}, {uuid: "u3", dest: "+15550100001"}}
	got := dialStringFor(e, d, legs, "sid", "+15550000100", "", media{ttsEngine: "flite", ttsVoice: "slt"})
	want := "{ignore_early_media=true,group_confirm_key=exec,group_confirm_file='playback say:Web call  order  42 ',tts_engine=flite,tts_voice=slt}" +
		"[leg_timeout=20,origination_uuid=u1,origination_caller_id_number=+15550000100,switchyard_call=sid,sip_h_X-Ref=42]sofia/gateway/acme_pbx/+15550000100|" +
		"[leg_timeout=20,origination_uuid=u2,origination_caller_id_number=+15550000100,switchyard_call=sid,sip_h_X-Ref=42]sofia/gateway/carrier2/+15550000100|" +
		"[leg_timeout=20,origination_uuid=u3,origination_caller_id_number=+15550000100,switchyard_call=sid]loopback/+15550100001/switchyard_testnet"
	if got != want {
		t.Errorf("dial string\n got %s\nwant %s", got, want)
	}
	e.Trunk = "sofia/external/{user}@{gateway}.trunks.example"
	if got := e.endpointFor("sip:pbx1", "+15550000100"); got != "sofia/external/+15550000100@acme_pbx.trunks.example" {
		t.Errorf("templated trunk endpoint %s", got)
	}
	for _, user := range []string{"", "sip:x@y", "1,2"} {
		if got := e.endpointFor("sip:pbx1", user); got != unsafeEndpoint {
			t.Errorf("trunk user %q: %s", user, got)
		}
	}
	e.Gateways["bad"] = "a/b"
	if got := e.endpointFor("sip:bad", "+15550000100"); got != unsafeEndpoint {
		t.Errorf("bad gateway: %s", got)
	}
	d.Whisper = &flows.Prompt{Audio: "https://x.example/a,b.wav"}
	if got := dialStringFor(e, d, legs[2:], "sid", "", "", media{}); !strings.Contains(got, "group_confirm_file='playback "+unsafeAudio+"'") {
		t.Errorf("whisper audio with dial syntax: %s", got)
	}
}

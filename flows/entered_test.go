package flows

import (
	"slices"
	"testing"
)

// enteredFlow runs four applets that do not wait before its menu, and two
// more (email, hangup) after key 1. t0 is a Monday, 10:00 UTC: open.
const enteredFlow = `{"start":"hours","applets":{
 "hours":{"type":"business_hours","config":{"timezone":"UTC","windows":[{"days":["mon"],"open":"09:00","close":"18:00"}]},
  "outputs":{"open":"text","closed":"bye"}},
 "text":{"type":"sms","config":{"body":"Thanks for calling"},"outputs":{"next":"mail"}},
 "mail":{"type":"email","config":{"to":["ops@acme.example"],"subject":"call","body":"from {{.From}}"},"outputs":{"next":"log"}},
 "log":{"type":"passthru","config":{"url":"https://crm.example/log","async":true},"outputs":{"success":"menu"}},
 "menu":{"type":"ivr","config":{"prompt":{"text":"Press 1"},"max_attempts":2},"outputs":{"1":"notify","timeout":"bye","invalid":"bye"}},
 "notify":{"type":"email","config":{"to":["ops@acme.example"],"subject":"pressed","body":"1"},"outputs":{"next":"bye"}},
 "bye":{"type":"hangup"}}}`

func TestStepListsEveryAppletEntered(t *testing.T) {
	f := mustLoad(t, enteredFlow)

	s, cmds := Step(f, State{}, start())
	if want := []string{"hours", "text", "mail", "log", "menu"}; !slices.Equal(s.Entered, want) {
		t.Fatalf("start entered %q, want %q (commands %s)", s.Entered, want, kinds(cmds))
	}
	if kinds(cmds) != "Send,Send,Fetch,CollectDigits" || s.FlowID != testCall.FlowID {
		t.Errorf("start: commands %s, flow %q", kinds(cmds), s.FlowID)
	}
	first := slices.Clone(s.Entered)

	// A menu prompt offered again is no new entry.
	retry, _ := Step(f, s, DigitsCollected{At: at(5)})
	if retry.Await != AwaitDigits || retry.Applet != "menu" || len(retry.Entered) != 0 {
		t.Errorf("menu again: at %q entered %q", retry.Applet, retry.Entered)
	}

	// Each Step lists its own applets, in a slice of its own: the state
	// it started from keeps its list.
	next, _ := Step(f, s, DigitsCollected{At: at(6), Digits: "1"})
	if want := []string{"notify", "bye"}; !slices.Equal(next.Entered, want) {
		t.Errorf("key 1 entered %q, want %q", next.Entered, want)
	}
	if !slices.Equal(s.Entered, first) {
		t.Errorf("the caller's list changed to %q", s.Entered)
	}
	if len(next.Entered) > 0 && len(s.Entered) > 0 && &next.Entered[0] == &s.Entered[0] {
		t.Error("the new list shares the caller's array")
	}

	// An event nobody waits for enters nothing, and says so.
	ignored, cmds := Step(f, next, PlaybackDone{At: at(7)})
	if len(cmds) != 0 || ignored.Entered != nil {
		t.Errorf("ignored event: commands %s, entered %q", kinds(cmds), ignored.Entered)
	}
}

func TestEnteredAfterTransferNamesTheNewFlow(t *testing.T) {
	a := mustLoad(t, transferFlows)
	b := mustLoad(t, enteredFlow)
	s, _ := Step(a, State{}, start())
	if !slices.Equal(s.Entered, []string{"x"}) || s.FlowID != testCall.FlowID {
		t.Fatalf("before transfer: entered %q in %q", s.Entered, s.FlowID)
	}
	s, _ = Step(b, s, FlowLoaded{At: at(1), FlowID: "other"})
	if want := []string{"hours", "text", "mail", "log", "menu"}; !slices.Equal(s.Entered, want) || s.FlowID != "other" {
		t.Errorf("after transfer: entered %q in %q, want %q in other", s.Entered, s.FlowID, want)
	}
}

package flows

import (
	"testing"
	"time"
)

func TestPromptPlaceholders(t *testing.T) {
	f := mustLoad(t, `{"start": "hi", "applets": {
		"hi": {"type": "greeting", "config": {"prompt": {"text": "Hello @@first_name, your @@plan plan renews @@when."}}, "outputs": {"next": "menu"}},
		"menu": {"type": "ivr", "config": {"prompt": {"text": "@@first_name, press 1."}, "timeout": 5, "max_attempts": 1},
			"outputs": {"1": "bye", "timeout": "bye", "invalid": "bye"}},
		"bye": {"type": "hangup", "config": {}}}}`)
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	s, cmds := Step(f, State{}, Started{At: at, Call: CallInfo{CallSid: "c1", From: "+15550100001",
		Vars: map[string]string{"first_name": "Asha", "plan": "gold"}}})
	play, ok := cmds[0].(Play)
	if !ok || play.Prompt.Text != "Hello Asha, your gold plan renews ." {
		t.Fatalf("greeting: %#v", cmds)
	}
	_, cmds = Step(f, s, PlaybackDone{At: at})
	collect, ok := cmds[0].(CollectDigits)
	if !ok || collect.Prompts[0].Text != "Asha, press 1." {
		t.Fatalf("menu: %#v", cmds)
	}
	// Without values the text is spoken as written.
	_, cmds = Step(f, State{}, Started{At: at, Call: CallInfo{CallSid: "c2"}})
	if play := cmds[0].(Play); play.Prompt.Text != "Hello @@first_name, your @@plan plan renews @@when." {
		t.Fatalf("no vars: %q", play.Prompt.Text)
	}
}

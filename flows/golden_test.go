package flows

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden traces in testdata/golden")

// TestGoldenTraces runs the seed documents' flows through scripted calls and
// compares the exact command sequence with testdata/golden/*.trace.
// Regenerate with: go test ./flows -run TestGoldenTraces -update
func TestGoldenTraces(t *testing.T) {
	const rec = "https://switchyard.example/v1/Accounts/acme/Recordings/"
	scenarios := []struct {
		flow, name string
		events     []Event
	}{
		{"basic-support", "key1-parallel-answered", []Event{
			start(),
			PlaybackDone{At: at(4)},
			DigitsCollected{At: at(9), Digits: "1"},
			DialResult{At: at(75), Status: DialCompleted, AnsweredBy: "+15550100002", TalkTime: 61, RecordingURL: rec + "re1.wav"},
			HungUp{At: at(75), Cause: "NORMAL_CLEARING"},
		}},
		{"basic-support", "key2-busy-voicemail", []Event{
			start(),
			PlaybackDone{At: at(4)},
			DigitsCollected{At: at(8), Digits: "2"},
			DialResult{At: at(9), Status: DialBusy},
			RecordingDone{At: at(40), URL: rec + "vm1.wav", Duration: 25},
			HungUp{At: at(40), Cause: "NORMAL_CLEARING"},
		}},
		{"basic-support", "key1-no-answer-voicemail-email", []Event{
			start(),
			PlaybackDone{At: at(4)},
			DigitsCollected{At: at(6), Digits: "1"},
			DialResult{At: at(36), Status: DialNoAnswer},
			RecordingDone{At: at(70), URL: rec + "vm2.wav", Duration: 28},
			HungUp{At: at(70), Cause: "NORMAL_CLEARING"},
		}},
		{"basic-support", "no-input-invalid-prompt-menu-again", []Event{
			start(),
			PlaybackDone{At: at(4)},
			DigitsCollected{At: at(14)},
			PlaybackDone{At: at(15)},
			DigitsCollected{At: at(19), Digits: "3"},
			DialResult{At: at(80), Status: DialCompleted, AnsweredBy: "+15550100004", TalkTime: 50},
			HungUp{At: at(80), Cause: "NORMAL_CLEARING"},
		}},
		{"basic-support", "invalid-key-menu-again", []Event{
			start(),
			PlaybackDone{At: at(4)},
			DigitsCollected{At: at(7), Digits: "9"},
			PlaybackDone{At: at(8)},
			HungUp{At: at(9), Cause: "NORMAL_CLEARING"},
		}},
		{"basic-support", "hangup-mid-greeting", []Event{
			start(),
			HungUp{At: at(2), Cause: "NORMAL_CLEARING"},
			PlaybackDone{At: at(2)},
		}},
		{"after-hours", "voicemail-email", []Event{
			start(),
			PlaybackDone{At: at(5)},
			PlaybackDone{At: at(9)},
			RecordingDone{At: at(40), URL: rec + "vm3.wav", Duration: 30},
			HungUp{At: at(41), Cause: "NORMAL_CLEARING"},
		}},
		// The caller hangs up to end the message and no recording result
		// came: the email still goes out, and nothing is hung up twice.
		{"after-hours", "hangup-during-recording", []Event{
			start(),
			PlaybackDone{At: at(5)},
			PlaybackDone{At: at(9)},
			HungUp{At: at(30), Cause: "NORMAL_CLEARING"},
		}},
		{"after-hours", "hangup-mid-greeting", []Event{
			start(),
			HungUp{At: at(3), Cause: "ORIGINATOR_CANCEL"},
		}},
		// Every URL answers: the greeting speaks the CRM's text, the gather
		// takes the CRM's settings, the switch routes on {"select":"sales"},
		// the agents answer, and the SMS carries the CRM's text.
		{"dynamic", "urls-answer-switch-sales", []Event{
			start(),
			FetchResult{At: at(1), StatusCode: 200, ContentType: "text/plain", Body: "Hello Asha, welcome back."},
			PlaybackDone{At: at(3)},
			FetchResult{At: at(4), StatusCode: 200, ContentType: "application/json",
				Body: `{"gather_prompt":{"text":"Enter your 4 digit PIN"},"max_input_digits":4,"finish_on_key":"*","input_timeout":6,"repeat_menu":1,"repeat_gather_prompt":{"audio_url":"https://crm.example/again.wav"}}`},
			DigitsCollected{At: at(12)},
			DigitsCollected{At: at(20), Digits: "1234"},
			FetchResult{At: at(21), StatusCode: 200, ContentType: "text/plain", Body: `{"select":"sales"}`},
			DialResult{At: at(80), Status: DialCompleted, AnsweredBy: "+15550100002", TalkTime: 50},
			FetchResult{At: at(81), StatusCode: 200, ContentType: "text/plain", Body: "Your order 1234 ships today."},
			HungUp{At: at(82), Cause: "NORMAL_CLEARING"},
		}},
		// Every URL fails: the static prompts and settings stand in, the
		// switch takes default, and the SMS template is sent.
		{"dynamic", "urls-fail-fallbacks", []Event{
			start(),
			FetchResult{At: at(5), Err: "timeout after 5s"},
			PlaybackDone{At: at(6)},
			FetchResult{At: at(7), StatusCode: 500},
			DigitsCollected{At: at(15), Digits: "42#"},
			FetchResult{At: at(16), StatusCode: 200, Body: `{"select":"nobody"}`},
			HungUp{At: at(17), Cause: "NORMAL_CLEARING"},
		}},
		// The switch routes to vip: a transfer to the manager's number.
		{"dynamic", "switch-vip-transfer-number", []Event{
			start(),
			FetchResult{At: at(1), StatusCode: 200, ContentType: "application/json", Body: `{"type":"audio_url","value":"https://crm.example/hello.wav"}`},
			PlaybackDone{At: at(3)},
			FetchResult{At: at(4), StatusCode: 404},
			DigitsCollected{At: at(9), Digits: "7"},
			FetchResult{At: at(10), StatusCode: 200, Body: `{"select":"vip"}`},
			DialResult{At: at(60), Status: DialCompleted, AnsweredBy: "+15550100003", TalkTime: 40},
			FetchResult{At: at(61), Err: "connection refused"},
			HungUp{At: at(62), Cause: "NORMAL_CLEARING"},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.flow+"/"+sc.name, func(t *testing.T) {
			f := mustLoadFile(t, sc.flow+".json")
			got := trace(f, sc.events)
			path := filepath.Join("testdata", "golden", sc.flow+"--"+sc.name+".trace")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("trace differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// trace runs events through Step and writes one line per event (">"), one
// per command ("<"), the wait state after each step ("=") and the applets
// the step entered, if any ("= entered").
func trace(f *Flow, events []Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", f.Name)
	var s State
	for _, ev := range events {
		var cmds []Command
		s, cmds = Step(f, s, ev)
		fmt.Fprintf(&b, "> %s\n", describe(ev))
		for _, c := range cmds {
			fmt.Fprintf(&b, "< %s\n", describe(c))
		}
		fmt.Fprintf(&b, "= await %s at %q", s.Await, s.Applet)
		if s.Reason != "" {
			fmt.Fprintf(&b, " (%s)", s.Reason)
		}
		b.WriteString("\n")
		if len(s.Entered) > 0 {
			fmt.Fprintf(&b, "= entered %s\n", strings.Join(s.Entered, ", "))
		}
	}
	return b.String()
}

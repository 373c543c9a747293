package loadgen

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Script
		text string // String()
	}{
		{spec: "", want: DefaultScript(), text: "digits=1;hangup-after-bridge=2s"},
		{spec: "digits=1;hangup-after-bridge=2s", want: Script{Digits: []string{"1"}, HangupAfterBridge: 2 * time.Second},
			text: "digits=1;hangup-after-bridge=2s"},
		{spec: "hangup-after-answer=5s", want: Script{HangupAfterAnswer: 5 * time.Second}, text: "hangup-after-answer=5s"},
		{spec: " digits = /2 , hangup-after-answer=1m30s ", want: Script{Digits: []string{"", "2"}, HangupAfterAnswer: 90 * time.Second},
			text: "digits=/2;hangup-after-answer=1m30s"},
		{spec: "digits=12#/*;hangup-after-bridge=500ms;hangup-after-answer=20s",
			want: Script{Digits: []string{"12#", "*"}, HangupAfterAnswer: 20 * time.Second, HangupAfterBridge: 500 * time.Millisecond},
			text: "digits=12#/*;hangup-after-answer=20s;hangup-after-bridge=500ms"},
		{spec: "digits=", want: Script{}, text: ""},
	} {
		got, err := ParseScript(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if !slices.Equal(got.Digits, tc.want.Digits) || got.HangupAfterAnswer != tc.want.HangupAfterAnswer ||
			got.HangupAfterBridge != tc.want.HangupAfterBridge {
			t.Errorf("%q: got %+v, want %+v", tc.spec, got, tc.want)
		}
		if got.String() != tc.text {
			t.Errorf("%q: String() = %q, want %q", tc.spec, got.String(), tc.text)
		}
		if tc.text == "" {
			continue // "" reads back as the default script
		}
		if again, err := ParseScript(tc.text); err != nil || again.String() != tc.text {
			t.Errorf("%q: does not read back: %q %v", tc.text, again.String(), err)
		}
	}
	for _, spec := range []string{"digits", "digits=x", "digits=1;digits=2", "hangup-after-bridge=2",
		"hangup-after-answer=-1s", "hangup-after-answer=0s", "press=1", "=1"} {
		if _, err := ParseScript(spec); !errors.Is(err, ErrScript) {
			t.Errorf("%q: err %v, want ErrScript", spec, err)
		}
	}
}

func TestScriptBehaviour(t *testing.T) {
	s := DefaultScript()
	if !s.expectsBridge() || !s.hangsUp() || s.digitsAt(0) != "1" || s.digitsAt(1) != "" {
		t.Errorf("default script: bridge %v hangs up %v digits %q %q", s.expectsBridge(), s.hangsUp(), s.digitsAt(0), s.digitsAt(1))
	}
	s = Script{HangupAfterAnswer: time.Second}
	if s.expectsBridge() || !s.hangsUp() {
		t.Errorf("answer script: bridge %v hangs up %v", s.expectsBridge(), s.hangsUp())
	}
	if (Script{}).hangsUp() {
		t.Error("empty script hangs up")
	}
}

// A script that holds its calls longer than the default call timeout
// moves the timeout out: the default never cuts a scripted call short.
func TestCallTimeoutCoversTheScript(t *testing.T) {
	base := Config{Addr: "127.0.0.1:8021", To: "+15550000100", Calls: 1, CPS: 1, Concurrency: 1}
	for _, tc := range []struct {
		script Script
		set    time.Duration
		want   time.Duration
	}{
		{DefaultScript(), 0, 2*time.Minute + 2*time.Second},
		{Script{HangupAfterAnswer: time.Minute, HangupAfterBridge: 5 * time.Minute}, 0, 8 * time.Minute},
		{Script{HangupAfterBridge: 5 * time.Minute}, 30 * time.Second, 30 * time.Second},
	} {
		cfg := base
		cfg.Script, cfg.CallTimeout = tc.script, tc.set
		got, err := cfg.withDefaults()
		if err != nil || got.CallTimeout != tc.want {
			t.Errorf("script %+v, timeout %v: call timeout %v (%v), want %v", tc.script, tc.set, got.CallTimeout, err, tc.want)
		}
	}
}

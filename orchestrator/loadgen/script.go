package loadgen

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Script is what every simulated caller of a run does.
type Script struct {
	// Digits are pressed at the 1st, 2nd, ... digit collection
	// (play_and_get_digits or read) that starts on the controlled channel,
	// as soon as it starts; "" stays silent at that one. Collections past
	// the list get nothing.
	Digits []string
	// HangupAfterAnswer hangs the caller up this long after Switchyard
	// answers (0: not on answer).
	HangupAfterAnswer time.Duration
	// HangupAfterBridge hangs the caller up this long after the controlled
	// channel is bridged (0: not on bridge). A script with it expects a
	// bridge: a call that never bridges fails with CauseNoBridge.
	HangupAfterBridge time.Duration
}

// DefaultScript is the Basic Support caller: press 1 at the menu (the tech
// team), hang up 2 seconds after being put through.
func DefaultScript() Script {
	return Script{Digits: []string{"1"}, HangupAfterBridge: 2 * time.Second}
}

// ScriptHelp documents the spec ParseScript reads.
const ScriptHelp = `caller script: items separated by ";" or ",": ` +
	`digits=D[/D...] (digits pressed at each digit collection, "/" between collections, empty to stay silent: "/2"), ` +
	`hangup-after-answer=DUR (hang up DUR after Switchyard answers), ` +
	`hangup-after-bridge=DUR (hang up DUR after the call is bridged; the call must bridge). ` +
	`Keys left out do nothing; without a hang-up key the caller waits for Switchyard to end the call. ` +
	`Empty: the Basic Support caller, "digits=1;hangup-after-bridge=2s"`

// ErrScript reports a malformed script spec.
var ErrScript = errors.New("loadgen: bad script")

// ParseScript reads a script spec such as "digits=1;hangup-after-bridge=2s"
// (see ScriptHelp). An empty spec is DefaultScript.
func ParseScript(spec string) (Script, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return DefaultScript(), nil
	}
	var s Script
	seen := map[string]bool{}
	for item := range strings.FieldsFuncSeq(spec, func(r rune) bool { return r == ';' || r == ',' }) {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok {
			return Script{}, fmt.Errorf("%w: %q is not key=value", ErrScript, item)
		}
		if seen[key] {
			return Script{}, fmt.Errorf("%w: %s given twice", ErrScript, key)
		}
		seen[key] = true
		switch key {
		case "digits":
			d, err := parseDigits(value)
			if err != nil {
				return Script{}, err
			}
			s.Digits = d
		case "hangup-after-answer", "hangup-after-bridge":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return Script{}, fmt.Errorf("%w: %s=%q: want a positive duration such as 2s", ErrScript, key, value)
			}
			if key == "hangup-after-answer" {
				s.HangupAfterAnswer = d
			} else {
				s.HangupAfterBridge = d
			}
		default:
			return Script{}, fmt.Errorf("%w: unknown key %q (digits, hangup-after-answer, hangup-after-bridge)", ErrScript, key)
		}
	}
	return s, nil
}

func parseDigits(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	out := strings.Split(v, "/")
	for _, d := range out {
		if strings.Trim(d, "0123456789*#ABCD") != "" {
			return nil, fmt.Errorf("%w: digits %q: only 0-9 * # A-D, collections separated by /", ErrScript, v)
		}
	}
	return out, nil
}

// String is the script in ParseScript's form.
func (s Script) String() string {
	var items []string
	if len(s.Digits) > 0 {
		items = append(items, "digits="+strings.Join(s.Digits, "/"))
	}
	if s.HangupAfterAnswer > 0 {
		items = append(items, "hangup-after-answer="+s.HangupAfterAnswer.String())
	}
	if s.HangupAfterBridge > 0 {
		items = append(items, "hangup-after-bridge="+s.HangupAfterBridge.String())
	}
	return strings.Join(items, ";")
}

// expectsBridge: the call must be bridged to complete.
func (s Script) expectsBridge() bool { return s.HangupAfterBridge > 0 }

// hangsUp: the caller, not Switchyard, is meant to end the call.
func (s Script) hangsUp() bool { return s.HangupAfterAnswer > 0 || s.HangupAfterBridge > 0 }

// digitsAt returns what to press at collection n (0-based).
func (s Script) digitsAt(n int) string {
	if n < len(s.Digits) {
		return s.Digits[n]
	}
	return ""
}

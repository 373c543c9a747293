package flows

import (
	"encoding/json"
	"fmt"
	"time"
)

// Await says which event a flow is waiting for.
type Await int

// The wait states. The zero value means the flow has not started.
const (
	AwaitUnknown   Await = iota // not started: waiting for Started
	AwaitPlayback               // a Play is running
	AwaitDigits                 // a CollectDigits is running
	AwaitDial                   // a Dial is ringing or bridged
	AwaitRecording              // a Record is running
	AwaitFetch                  // a synchronous Fetch is in flight
	AwaitFlow                   // a LoadFlow is in flight
	AwaitHangup                 // the flow asked to hang up; waiting for the channel to go
	AwaitNothing                // the flow is over
)

var awaitNames = [...]string{"unknown", "playback", "digits", "dial", "recording", "fetch", "flow", "hangup", "nothing"}

func (a Await) String() string {
	if a >= 0 && int(a) < len(awaitNames) {
		return awaitNames[a]
	}
	return fmt.Sprintf("await(%d)", int(a))
}

// MarshalText writes the state name.
func (a Await) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a state name.
func (a *Await) UnmarshalText(b []byte) error {
	for i, n := range awaitNames {
		if n == string(b) {
			*a = Await(i)
			return nil
		}
	}
	return fmt.Errorf("unknown await state %q", b)
}

// Guards against flows that would run forever.
const (
	// MaxTransfers bounds Transfer applets per call (A -> B -> A ...).
	MaxTransfers = 10
	// MaxSilentPrompts ends a call after this many menu or gather prompts
	// in a row got no input at all.
	MaxSilentPrompts = 10
	// MaxHops bounds applets entered between two caller inputs.
	MaxHops = 500
	// MaxPassthruBody bounds the passthru answer a call keeps.
	MaxPassthruBody = 4 << 10
)

// State is a call's position in its flow. It is a plain value: Step returns
// a new one and never keeps a reference. It marshals to JSON so a call can
// be inspected or resumed.
type State struct {
	Call      CallInfo  `json:"call"`
	StartedAt time.Time `json:"started_at"`
	// FlowID is the flow running now; it changes on Transfer.
	FlowID string `json:"flow_id,omitempty"`
	// Applet is the applet running now.
	Applet string `json:"applet,omitempty"`
	Await  Await  `json:"await"`
	// Entered lists the applets the last Step entered, in order: several
	// when applets that do not wait (business hours, sms, email, async
	// passthru, switch) ran on the way to the one that waits, or to the
	// end. They are applets of FlowID: one Step never crosses flows, since
	// a transfer waits for FlowLoaded. Every Step starts it afresh (an
	// event it ignores leaves it empty) in a slice of its own, never the
	// caller's.
	Entered []string `json:"entered,omitempty"`
	// Attempt counts the prompts already offered by the current IVR or
	// Gather.
	Attempt int `json:"attempt,omitempty"`

	// Digits holds the last IVR key or gathered digits.
	Digits       string     `json:"digits,omitempty"`
	DialStatus   DialStatus `json:"dial_status,omitempty"`
	DialWhom     string     `json:"dial_whom,omitempty"`
	RecordingURL string     `json:"recording_url,omitempty"`
	// Passthru is the body of the last synchronous passthru's answer (at
	// most MaxPassthruBody bytes), for a switch.
	Passthru string `json:"passthru,omitempty"`
	// Gather is the running gather's settings as its URL gave them.
	Gather *Gather `json:"gather,omitempty"`

	Transfers int `json:"transfers,omitempty"`
	Silent    int `json:"silent,omitempty"`
	Hops      int `json:"hops,omitempty"`

	// HungUp is set once the caller's channel is gone.
	HungUp bool `json:"hung_up,omitempty"`
	// Reason says why the flow ended.
	Reason string `json:"reason,omitempty"`
}

// Done reports whether the flow is over: nothing more will be commanded.
func (s State) Done() bool { return s.Await == AwaitNothing }

func (s State) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s State) messageData() MessageData {
	return MessageData{
		CallSid:      s.Call.CallSid,
		From:         s.Call.From,
		To:           s.Call.To,
		Direction:    s.Call.Direction,
		StartTime:    s.StartedAt.UTC().Format(time.DateTime),
		Digits:       s.Digits,
		DialStatus:   string(s.DialStatus),
		DialWhom:     s.DialWhom,
		RecordingURL: s.RecordingURL,
		CustomField:  s.Call.CustomField,
		FlowID:       s.FlowID,
		ExoPhone:     s.Call.ExoPhone,
	}
}

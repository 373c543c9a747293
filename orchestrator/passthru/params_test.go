package passthru_test

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/passthru"
)

func TestCallType(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    flows.State
		want string
	}{
		{"ivr only", flows.State{Digits: "1"}, "call-attempt"},
		{"answered", flows.State{DialStatus: flows.DialCompleted}, "completed"},
		{"answered and recorded", flows.State{DialStatus: flows.DialCompleted, RecordingURL: "u"}, "completed"},
		{"nobody answered", flows.State{DialStatus: flows.DialNoAnswer}, "incomplete"},
		{"busy", flows.State{DialStatus: flows.DialBusy}, "incomplete"},
		{"voicemail after a failed connect", flows.State{DialStatus: flows.DialBusy, RecordingURL: "u"}, "voicemail"},
		{"voicemail", flows.State{RecordingURL: "u"}, "voicemail"},
	} {
		if got := passthru.CallType(tc.s); got != tc.want {
			t.Errorf("%s: CallType = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParamsFallbacks(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// No CallSid on Info, no start time, no current flow, hung up, UTC zone.
	info := &call.Info{AccountSID: "acme1", State: flows.State{
		Call:   flows.CallInfo{CallSid: "abc", FlowID: "fl_call", Direction: "incoming"},
		HungUp: true,
	}}
	v := passthru.Params(info, at, time.UTC)
	for k, want := range map[string]string{
		"CallSid": "abc", "flow_id": "fl_call", "CallStatus": "completed",
		"StartTime": "2026-01-02 03:04:05", "Created": "2026-01-02 03:04:05",
		"CurrentTime": "2026-01-02 03:04:05", "CallType": "call-attempt", "tenant_id": "acme1",
	} {
		if got := v.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// A nil zone is IST.
	if got := passthru.Params(info, at, nil).Get("CurrentTime"); got != "2026-01-02 08:34:05" {
		t.Errorf("CurrentTime in IST = %q", got)
	}
}

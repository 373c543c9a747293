package flows

import "testing"

func TestChannelAfter(t *testing.T) {
	f := mustLoad(t, `{"name": "t", "start": "c", "applets": {
		"c":    {"type": "connect", "config": {"destinations": ["+15550100001"]},
		         "outputs": {"answered": "sms", "busy": "vm", "failed": "loop"}},
		"sms":  {"type": "sms", "config": {"to": "caller", "body": "thanks"}, "outputs": {"next": "pick"}},
		"pick": {"type": "switch", "config": {"on": "caller_prefix"}, "outputs": {"+91": "mail", "default": "bye"}},
		"mail": {"type": "email", "config": {"to": ["ops@example.com"], "subject": "s", "body": "b"}, "outputs": {"next": "bye"}},
		"bye":  {"type": "hangup"},
		"vm":   {"type": "voicemail", "config": {"prompt": {"text": "leave a message"}}},
		"loop": {"type": "passthru", "config": {"url": "https://example.com/x"}, "outputs": {"success": "bye", "error": "menu"}},
		"menu": {"type": "ivr", "config": {"prompt": {"text": "press 1"}}, "outputs": {"1": "c"}}
	}}`)
	for _, tc := range []struct {
		id, out string
		want    bool
	}{
		{"c", OutAnswered, false}, // sms, switch, email, hang-up: no channel
		{"c", OutNoAnswer, false}, // no output: the end of the flow
		{"c", OutBusy, true},      // a voicemail records
		{"c", OutFailed, true},    // a passthru whose error leads to a menu
		{"bye", OutNext, false},
		{"nowhere", OutNext, true},
	} {
		if got := f.ChannelAfter(tc.id, tc.out); got != tc.want {
			t.Errorf("ChannelAfter(%s, %s) = %v, want %v", tc.id, tc.out, got, tc.want)
		}
	}
	basic := mustLoadFile(t, "basic-support.json")
	if basic.ChannelAfter("tech", OutAnswered) {
		t.Error("basic support: the tech team's conversation ends the call, yet the channel is needed after it")
	}
}

package routing

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
)

// A CRM's answer is outside input that reaches dial strings and media
// arguments. Whatever it holds, Parse never panics, and a plan it accepts
// carries only values that are safe there.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		`{"destination": {"numbers": ["+15550100001", "sip:a@b.example"]}, "outgoing_phone_number": "+15550000100"}`,
		`{"destination": [{"contact_uri": "+15550100001"}], "parallel_ringing": {"activate": true, "max_parallel_attempts": 3}}`,
		`{"destination": {"numbers": ["sip:a@b,loopback/1"]}}`,
		`{"destination": {"numbers": ["+1"]}, "music_on_hold": {"type": "audio_url", "value": "https://x.example/a'!.wav"}}`,
		`{"destination": {"numbers": ["+15550100001"]}, "start_call_playback": {"playback_to": "both", "type": "text", "value": "hi"}}`,
		`{"destination": {"numbers": ["+15550100001"]}, "record": true, "max_conversation_duration": 60, "fetch_after_attempt": true}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte("+15550100001,+15550100002"), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		d := flows.Dial{Strategy: flows.Sequential, RingTimeout: 30, CallerID: "+15550000100"}
		plan, err := Parse(body, contentType, d)
		if err != nil {
			return
		}
		for _, dest := range plan.Dial.Destinations {
			if !dialstr.Contact(dest) {
				t.Fatalf("accepted destination %q would reach a dial string", dest)
			}
		}
		if c := plan.Dial.CallerID; c != "" && !dialstr.CallerID(c) {
			t.Fatalf("accepted caller id %q", c)
		}
		media := []string{plan.Dial.MusicOnHold}
		if p := plan.Dial.StartPlayback; p != nil {
			media = append(media, p.Prompt.Audio)
		}
		for _, m := range media {
			if strings.ContainsAny(m, "'!\x00\r\n") {
				t.Fatalf("accepted media %q breaks a FreeSWITCH argument", m)
			}
		}
	})
}

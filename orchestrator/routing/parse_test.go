package routing_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/routing"
)

// applet is an applet's Dial with every setting an answer can override.
func applet() flows.Dial {
	return flows.Dial{
		Applet:            "connect1",
		Destinations:      []string{"+919800000099"},
		Strategy:          flows.Sequential,
		RingTimeout:       30,
		Record:            true,
		RecordingChannels: "dual",
		CallerID:          "+918047000000",
		MaxConversation:   600,
		MusicOnHold:       "https://moh.example/hold.wav",
		URL:               "https://crm.example/plan",
		FallbackURL:       "https://crm2.example/plan",
		Timeout:           4,
		MaxParallel:       3,
		StateManagement:   true,
		StickyPeriod:      600,
		DialEventURL:      "https://crm.example/events",
		StartPlayback:     &flows.Playback{To: "both", Prompt: flows.Prompt{Text: "hello"}},
	}
}

// TestParseOverrides: each field overrides the applet's value when
// present, and only then.
func TestParseOverrides(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		apply func(d *flows.Dial)
	}{
		{"nothing but destinations", `{"destination": {"numbers": ["+919800000001"]}}`, func(d *flows.Dial) {}},
		{"nulls are absent", `{"destination": {"numbers": ["+919800000001"]}, "record": null,
			"max_ringing_duration": null, "music_on_hold": null, "outgoing_phone_number": null,
			"dial_passthru_event_url": null, "parallel_ringing": {"activate": null}}`, func(d *flows.Dial) {}},
		{"empty strings are absent", `{"destination": {"numbers": ["+919800000001"]}, "outgoing_phone_number": "",
			"dial_passthru_event_url": "", "recording_channels": ""}`, func(d *flows.Dial) {}},
		{"unknown fields ignored", `{"destination": {"numbers": ["+919800000001"], "labels": ["x"]}, "future": {"a": [1]},
			"queue": 7}`, func(d *flows.Dial) {}},
		{"record off", `{"destination": {"numbers": ["+919800000001"]}, "record": false}`,
			func(d *flows.Dial) { d.Record = false }},
		{"v1.1 recording in a v1.0 answer", `{"destination": {"numbers": ["+919800000001"]},
			"recording": {"record": false, "channels": "SINGLE"}}`,
			func(d *flows.Dial) { d.Record, d.RecordingChannels = false, "single" }},
		{"v1.0 recording in a v1.1 answer", `{"destination": [{"contact_uri": "+919800000001"}],
			"record": false, "recording_channels": "single"}`,
			func(d *flows.Dial) { d.Record, d.RecordingChannels = false, "single" }},
		{"recording object wins over flat fields", `{"destination": [{"contact_uri": "+919800000001"}],
			"record": false, "recording": {"record": true}}`,
			func(d *flows.Dial) { d.Record = true }},
		{"durations", `{"destination": {"numbers": ["+919800000001"]}, "max_ringing_duration": 5, "max_conversation_duration": 0}`,
			func(d *flows.Dial) { d.RingTimeout, d.MaxConversation = 5, 0 }},
		{"parallel off", `{"destination": {"numbers": ["+919800000001"]}, "parallel_ringing": {"activate": false}}`,
			func(d *flows.Dial) { d.Strategy = flows.Sequential }},
		{"parallel on", `{"destination": {"numbers": ["+919800000001"]}, "parallel_ringing": {"activate": true, "max_parallel_attempts": 10}}`,
			func(d *flows.Dial) { d.Strategy, d.MaxParallel = flows.Parallel, 10 }},
		{"default tone", `{"destination": {"numbers": ["+919800000001"]}, "music_on_hold": {"type": "default_tone"}}`,
			func(d *flows.Dial) { d.MusicOnHold = "" }},
		{"no music", `{"destination": {"numbers": ["+919800000001"]}, "music_on_hold": {"type": "none"}}`,
			func(d *flows.Dial) { d.MusicOnHold = routing.Silence }},
		{"operator tone", `{"destination": {"numbers": ["+919800000001"]}, "music_on_hold": {"type": "operator_tone"}}`,
			func(d *flows.Dial) { d.MusicOnHold = "tone_stream://%(1000,4000,425)" }},
		{"music from a URL", `{"destination": {"numbers": ["+919800000001"]}, "music_on_hold": {"type": "audio_url", "value": "https://cdn.example/m.mp3"}}`,
			func(d *flows.Dial) { d.MusicOnHold = "https://cdn.example/m.mp3" }},
		{"audio playback to the callee by default", `{"destination": {"numbers": ["+919800000001"]},
			"start_call_playback": {"type": "audio_url", "value": "https://cdn.example/hi.wav"}}`,
			func(d *flows.Dial) {
				d.StartPlayback = &flows.Playback{To: "callee", Prompt: flows.Prompt{Audio: "https://cdn.example/hi.wav"}}
			}},
		{"outgoing number as given", `{"destination": {"numbers": ["+919800000001"]}, "outgoing_phone_number": "08047000001"}`,
			func(d *flows.Dial) { d.CallerID = "08047000001" }},
		{"state management stays on", `{"destination": {"numbers": ["+919800000001"]}, "state_management": false}`,
			func(d *flows.Dial) {}},
		{"sticky off", `{"destination": {"numbers": ["+919800000001"]}, "sticky_agent": false}`,
			func(d *flows.Dial) { d.StickyPeriod = 0 }},
		{"sticky on keeps the applet's period", `{"destination": {"numbers": ["+919800000001"]}, "sticky_agent": true}`,
			func(d *flows.Dial) {}},
		{"v1.1 event URL in a v1.0 answer", `{"destination": {"numbers": ["+919800000001"]}, "call_event_passthru_url": "http://events.example/x?a=1"}`,
			func(d *flows.Dial) { d.DialEventURL = "http://events.example/x?a=1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := applet()
			plan, err := routing.Parse([]byte(tc.body), "application/json", d)
			if err != nil {
				t.Fatal(err)
			}
			want := applet()
			want.Destinations = []string{"+919800000001"}
			tc.apply(&want)
			if !reflect.DeepEqual(plan.Dial, want) {
				t.Errorf("dial =\n%+v\nwant\n%+v", plan.Dial, want)
			}
			if plan.FetchAfterAttempt {
				t.Error("FetchAfterAttempt set")
			}
			if !reflect.DeepEqual(d, applet()) {
				t.Errorf("Parse changed its Dial: %+v", d)
			}
		})
	}
}

// TestParseFlagsFromOff: state management and sticky routing turn on from
// an applet that has them off.
func TestParseFlagsFromOff(t *testing.T) {
	d := applet()
	d.StateManagement, d.StickyPeriod = false, 0
	plan, err := routing.Parse([]byte(`{"destination": [], "state_management": true, "sticky_agent": true, "fetch_after_attempt": true}`), "", d)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Dial.StateManagement || plan.Dial.StickyPeriod != routing.DefaultStickyPeriod || !plan.FetchAfterAttempt ||
		plan.Version != "1.1" || len(plan.Dial.Destinations) != 0 {
		t.Errorf("plan = %+v", plan)
	}
}

// TestParseContentTypes: JSON may come as application/json, text/plain or
// without a Content-Type; nothing else.
func TestParseContentTypes(t *testing.T) {
	body := []byte(`{"destination": []}`)
	for ct, ok := range map[string]bool{
		"": true, "application/json": true, "Application/JSON; charset=UTF-8": true, "text/plain": true,
		"text/plain; charset=utf-8": true, "text/html": false, "application/xml": false, "application/json; =": false,
	} {
		_, err := routing.Parse(body, ct, flows.Dial{})
		if (err == nil) != ok {
			t.Errorf("Content-Type %q: err = %v", ct, err)
		}
		if err != nil && !strings.Contains(err.Error(), "Content-Type") {
			t.Errorf("Content-Type %q: error %q does not name the header", ct, err)
		}
	}
}

// TestParseDialWhomText: a plain dial-whom URL answers text/plain (or
// with no Content-Type) with one number or a comma-separated list; the
// applet's own settings stand.
func TestParseDialWhomText(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           []string
	}{
		{"one", "text/plain", "+919800000001\n", []string{"+919800000001"}},
		{"list", "text/plain; charset=utf-8", " +919800000001, 09800000002 ,sip:pbx1,+919800000001", []string{"+919800000001", "09800000002", "sip:pbx1"}},
		{"lines", "", "+919800000001\r\n+919800000002\r\n", []string{"+919800000001", "+919800000002"}},
		{"SIP scheme", "text/plain", "SIP:alice@pbx.example", []string{"sip:alice@pbx.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := routing.Parse([]byte(tc.body), tc.ct, applet())
			if err != nil {
				t.Fatal(err)
			}
			want := applet()
			want.Destinations = tc.want
			if p.Version != routing.VersionPlain || !reflect.DeepEqual(p.Dial, want) || p.FetchAfterAttempt {
				t.Errorf("plan %+v, want %+v", p, want)
			}
		})
	}
	for body, want := range map[string]string{
		"+919800000001;sofia/gateway/x": "numbers[0]: not a phone number",
		"+919800000001,,call me":        "numbers[1]: not a phone number",
		"+91980000\x00001":              "neither JSON nor a comma-separated list",
	} {
		if _, err := routing.Parse([]byte(body), "text/plain", applet()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	if _, err := routing.Parse([]byte("+919800000001"), "text/html", applet()); err == nil {
		t.Error("text/html accepted")
	}
}

// TestParseTrunk: v1.0's {"trunk": id} is the destination sip:<id>, and
// custom_params become X- SIP headers.
func TestParseTrunk(t *testing.T) {
	p, err := routing.Parse([]byte(`{"destination": {"trunk": "trk_1"}, "custom_params": "ref=42&X-Agent=a.b%40pbx"}`), "application/json", applet())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"X-ref": "42", "X-Agent": "a.b@pbx"}
	if fmt.Sprint(p.Dial.Destinations) != "[sip:trk_1]" || !reflect.DeepEqual(p.Dial.SIPHeaders, want) || p.Version != routing.Version10 {
		t.Errorf("plan %+v", p)
	}
}

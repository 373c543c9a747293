package flows

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const greetingFlow = `{"start":"hi","applets":{
 "hi":{"type":"greeting","config":{"prompt":{"text":"Hello"}},"outputs":{"next":"bye"}},
 "bye":{"type":"greeting","config":{"prompt":{"audio":"https://cdn.example/bye.wav"}}}}}`

func TestGreeting(t *testing.T) {
	f := mustLoad(t, greetingFlow)
	s, out := run(f, start(), PlaybackDone{At: at(3)}, PlaybackDone{At: at(5)}, HungUp{At: at(6)})
	if p := only[Play](t, out[0]); p.Prompt.Text != "Hello" || p.Applet != "hi" {
		t.Errorf("first play = %+v", p)
	}
	if p := only[Play](t, out[1]); p.Prompt.Audio != "https://cdn.example/bye.wav" {
		t.Errorf("second play = %+v", p)
	}
	if h := only[Hangup](t, out[2]); h.Cause != CauseNormalClearing || h.Reason != "end of flow" {
		t.Errorf("hangup = %+v", h)
	}
	if len(out[3]) != 0 || !s.Done() {
		t.Errorf("after HungUp: cmds %s, state %v", kinds(out[3]), s)
	}
}

const ivrFlow = `{"start":"menu","applets":{
 "menu":{"type":"ivr","config":{"prompt":{"text":"Menu"},"invalid_prompt":{"text":"Wrong"},"timeout":7,"max_attempts":%d},
   "outputs":{"1":"one","#":"hash","timeout":"t","invalid":"i"}},
 "one":{"type":"hangup"},"hash":{"type":"hangup"},
 "t":{"type":"greeting","config":{"prompt":{"text":"timeout"}}},
 "i":{"type":"greeting","config":{"prompt":{"text":"invalid"}}}}}`

func TestIVR(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		digits   []string
		want     string // applet reached
		prompts  []int  // prompts offered in each CollectDigits
	}{
		{"key 1", 1, []string{"1"}, "one", []int{1}},
		{"key #", 1, []string{"#"}, "hash", []int{1}},
		{"no input takes timeout", 1, []string{""}, "t", []int{1}},
		{"wrong key takes invalid", 1, []string{"5"}, "i", []int{1}},
		{"retry after no input then key", 3, []string{"", "1"}, "one", []int{1, 2}},
		{"retries exhausted by wrong keys", 2, []string{"5", "9"}, "i", []int{1, 2}},
		{"last attempt silent takes timeout", 2, []string{"7", ""}, "t", []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustLoad(t, strings.Replace(ivrFlow, "%d", itoa(tt.attempts), 1))
			s, cmds := Step(f, State{}, start())
			var prompts []int
			for i, d := range tt.digits {
				c := only[CollectDigits](t, cmds)
				if c.MaxDigits != 1 || c.Timeout != 7 || c.ValidKeys != "#1" || c.FinishOnKey != "" {
					t.Fatalf("collect = %+v", c)
				}
				prompts = append(prompts, len(c.Prompts))
				if len(c.Prompts) == 2 && c.Prompts[0].Text != "Wrong" {
					t.Errorf("retry prompt = %+v", c.Prompts)
				}
				s, cmds = Step(f, s, DigitsCollected{At: at(10 + i), Digits: d})
			}
			if s.Applet != tt.want {
				t.Errorf("reached %q, want %q", s.Applet, tt.want)
			}
			if !reflect.DeepEqual(prompts, tt.prompts) {
				t.Errorf("prompts per attempt = %v, want %v", prompts, tt.prompts)
			}
			if tt.want == "one" && s.Digits != "1" {
				t.Errorf("digits kept = %q", s.Digits)
			}
		})
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestIVRMissingTimeoutOutputHangsUp(t *testing.T) {
	f := mustLoad(t, `{"start":"m","applets":{"m":{"type":"ivr","config":{"prompt":{"text":"x"}},"outputs":{"1":"h"}},"h":{"type":"hangup"}}}`)
	s, out := run(f, start(), DigitsCollected{At: at(6)})
	if h := only[Hangup](t, out[1]); h.Reason != "end of flow" {
		t.Errorf("hangup = %+v", h)
	}
	if s.Await != AwaitHangup {
		t.Errorf("await = %v", s.Await)
	}
}

func TestSilentCallerIsHungUp(t *testing.T) {
	f := mustLoadFile(t, "basic-support.json")
	s, _ := Step(f, State{}, start())
	s, _ = Step(f, s, PlaybackDone{At: at(1)})
	var cmds []Command
	for i := 0; i < 100 && s.Await != AwaitHangup; i++ {
		switch s.Await {
		case AwaitDigits:
			s, cmds = Step(f, s, DigitsCollected{At: at(2 + i)})
		case AwaitPlayback:
			s, cmds = Step(f, s, PlaybackDone{At: at(2 + i)})
		default:
			t.Fatalf("unexpected await %v", s.Await)
		}
	}
	if h := only[Hangup](t, cmds); h.Reason != "no input from the caller" || s.Silent != MaxSilentPrompts {
		t.Errorf("hangup = %+v silent = %d", h, s.Silent)
	}
}

func TestGather(t *testing.T) {
	doc := `{"start":"g","applets":{
	 "g":{"type":"gather","config":{"prompt":{"text":"Enter id"},"repeat_prompt":{"text":"Again"},"max_digits":6,"finish_on_key":"%s","max_attempts":2},"outputs":{"next":"h"}},
	 "h":{"type":"hangup"}}}`
	f := mustLoad(t, strings.Replace(doc, "%s", "*", 1))
	s, out := run(f, start(), DigitsCollected{At: at(5)}, DigitsCollected{At: at(9), Digits: "123456"})
	c := only[CollectDigits](t, out[0])
	if c.MaxDigits != 6 || c.FinishOnKey != "*" || c.Timeout != 5 || len(c.Prompts) != 1 || c.ValidKeys != "" {
		t.Errorf("collect = %+v", c)
	}
	if r := only[CollectDigits](t, out[1]); len(r.Prompts) != 2 || r.Prompts[0].Text != "Again" {
		t.Errorf("retry = %+v", r)
	}
	only[Hangup](t, out[2])
	if s.Digits != "123456" {
		t.Errorf("digits = %q", s.Digits)
	}

	f = mustLoad(t, strings.Replace(doc, "%s", "none", 1))
	s, out = run(f, start(), DigitsCollected{At: at(5)}, DigitsCollected{At: at(9)})
	if c := only[CollectDigits](t, out[0]); c.FinishOnKey != "" {
		t.Errorf("finish key none = %q", c.FinishOnKey)
	}
	if s.Applet != "h" || s.Digits != "" {
		t.Errorf("after two silent attempts: applet %q digits %q", s.Applet, s.Digits)
	}
}

const connectFlow = `{"start":"c","applets":{
 "c":{"type":"connect","config":{"destinations":["+15550100001","sip:agent7@pbx.example"],"strategy":"parallel","ring_timeout":25,
   "record":true,"max_conversation":600,"music_on_hold":"local_stream://moh"},
   "outputs":{"answered":"a","no_answer":"n","busy":"b","failed":"f"}},
 "a":{"type":"hangup"},"n":{"type":"hangup"},"b":{"type":"hangup"},"f":{"type":"hangup"}}}`

func TestConnect(t *testing.T) {
	f := mustLoad(t, connectFlow)
	_, cmds := Step(f, State{}, start())
	want := Dial{Applet: "c", Destinations: []string{"+15550100001", "sip:agent7@pbx.example"}, Strategy: Parallel,
		RingTimeout: 25, Record: true, RecordingChannels: "single", CallerID: testCall.ExoPhone,
		MaxConversation: 600, MusicOnHold: "local_stream://moh"}
	if d := only[Dial](t, cmds); !reflect.DeepEqual(d, want) {
		t.Errorf("dial =\n %+v\nwant\n %+v", d, want)
	}
	for status, applet := range map[DialStatus]string{
		DialCompleted: "a", DialNoAnswer: "n", DialBusy: "b", DialFailed: "f", "canceled": "f",
	} {
		s, _ := run(f, start(), DialResult{At: at(30), Status: status, AnsweredBy: "+15550100001", TalkTime: 12, RecordingURL: "https://rec/1.wav"})
		if s.Applet != applet || s.DialStatus != status {
			t.Errorf("%s: reached %q (status %q), want %q", status, s.Applet, s.DialStatus, applet)
		}
		if s.RecordingURL != "https://rec/1.wav" || s.DialWhom != "+15550100001" {
			t.Errorf("%s: recording %q whom %q", status, s.RecordingURL, s.DialWhom)
		}
	}
}

func TestConnectDefaults(t *testing.T) {
	f := mustLoad(t, `{"start":"c","applets":{"c":{"type":"connect","config":{"destinations":["+15550100001"],"caller_id":"+15550000200"}}}}`)
	_, cmds := Step(f, State{}, start())
	d := only[Dial](t, cmds)
	if d.Strategy != Sequential || d.RingTimeout != 30 || d.Record || d.RecordingChannels != "" || d.CallerID != "+15550000200" {
		t.Errorf("defaults = %+v", d)
	}
}

func TestVoicemail(t *testing.T) {
	f := mustLoad(t, `{"start":"v","applets":{"v":{"type":"voicemail","outputs":{"next":"s"}},
	 "s":{"type":"sms","config":{"body":"Thanks {{.From}}, we got your message {{.RecordingURL}}"}}}}`)
	s, out := run(f, start(), RecordingDone{At: at(40), URL: "https://rec/vm.wav", Duration: 31})
	r := only[Record](t, out[0])
	if !r.Beep || r.MaxLength != 120 || r.SilenceEnd != 5 || r.Prompt != nil {
		t.Errorf("record defaults = %+v", r)
	}
	if kinds(out[1]) != "Send,Hangup" {
		t.Fatalf("after recording: %s", kinds(out[1]))
	}
	send := out[1][0].(Send)
	if send.Channel != ChannelSMS || send.To[0] != testCall.From || send.Body != "Thanks +15550109999, we got your message https://rec/vm.wav" {
		t.Errorf("sms = %+v", send)
	}
	if s.RecordingURL != "https://rec/vm.wav" {
		t.Errorf("recording url = %q", s.RecordingURL)
	}

	f = mustLoad(t, `{"start":"v","applets":{"v":{"type":"voicemail","config":{"beep":false,"silence_end":0,"max_length":30}}}}`)
	_, cmds := Step(f, State{}, start())
	if r := only[Record](t, cmds); r.Beep || r.SilenceEnd != 0 || r.MaxLength != 30 {
		t.Errorf("record = %+v", r)
	}
}

const transferFlows = `{"start":"x","applets":{"x":{"type":"transfer","config":{"flow":"other"}}}}`

func TestTransfer(t *testing.T) {
	a := mustLoad(t, transferFlows)
	b := mustLoad(t, greetingFlow)
	s, cmds := Step(a, State{}, start())
	if l := only[LoadFlow](t, cmds); l.Flow != "other" {
		t.Errorf("load = %+v", l)
	}
	s, cmds = Step(b, s, FlowLoaded{At: at(1), FlowID: "other"})
	if p := only[Play](t, cmds); p.Applet != "hi" || s.FlowID != "other" {
		t.Errorf("after transfer: %+v flow %q", p, s.FlowID)
	}

	s, _ = Step(a, State{}, start())
	s, cmds = Step(a, s, FlowLoaded{At: at(1), FlowID: "other", Err: "flow other is not published"})
	if h := only[Hangup](t, cmds); h.Cause != CauseFlowError || !strings.Contains(h.Reason, "not published") {
		t.Errorf("failed transfer = %+v", h)
	}

	// A flow that transfers to itself forever is cut off.
	s, cmds = Step(a, State{}, start())
	for i := 0; i < 20 && s.Await == AwaitFlow; i++ {
		s, cmds = Step(a, s, FlowLoaded{At: at(i), FlowID: "self"})
	}
	if h := only[Hangup](t, cmds); h.Reason != "too many transfers" || s.Transfers != MaxTransfers+1 {
		t.Errorf("transfer loop: %+v after %d", h, s.Transfers)
	}
}

func TestPassthru(t *testing.T) {
	f := mustLoad(t, `{"start":"p","applets":{"p":{"type":"passthru","config":{"url":"https://crm.example/hook","timeout":3},
	 "outputs":{"success":"s","alternate":"a","error":"e"}},"s":{"type":"hangup"},"a":{"type":"hangup"},"e":{"type":"hangup"}}}`)
	_, cmds := Step(f, State{}, start())
	if fe := only[Fetch](t, cmds); fe.Method != "GET" || fe.Timeout != 3 || fe.Async || !fe.Blocking() {
		t.Errorf("fetch = %+v", fe)
	}
	for _, tt := range []struct {
		res  FetchResult
		want string
	}{
		{FetchResult{StatusCode: 200}, "s"},
		{FetchResult{StatusCode: 204}, "s"},
		{FetchResult{StatusCode: 302}, "a"},
		{FetchResult{StatusCode: 301}, "e"},
		{FetchResult{StatusCode: 404}, "e"},
		{FetchResult{StatusCode: 500}, "e"},
		{FetchResult{Err: "timeout after 3s"}, "e"},
	} {
		tt.res.At = at(2)
		if s, _ := run(f, start(), tt.res); s.Applet != tt.want {
			t.Errorf("%+v: reached %q, want %q", tt.res, s.Applet, tt.want)
		}
	}

	async := mustLoad(t, `{"start":"p","applets":{"p":{"type":"passthru","config":{"url":"https://crm.example/log","method":"POST","async":true},
	 "outputs":{"success":"g"}},"g":{"type":"greeting","config":{"prompt":{"text":"hi"}}}}}`)
	_, cmds = Step(async, State{}, start())
	if kinds(cmds) != "Fetch,Play" || cmds[0].Blocking() || cmds[0].(Fetch).Method != "POST" {
		t.Errorf("async batch = %s", kinds(cmds))
	}
}

const hoursFlow = `{"start":"bh","applets":{"bh":{"type":"business_hours","config":{"timezone":"America/New_York",
 "windows":[{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"18:00"},{"days":["sat"],"open":"10:00","close":"14:00"}],
 "holidays":["2026-12-25"]},"outputs":{"open":"o","closed":"c"}},
 "o":{"type":"greeting","config":{"prompt":{"text":"open"}}},"c":{"type":"greeting","config":{"prompt":{"text":"closed"}}}}}`

func TestBusinessHours(t *testing.T) {
	f := mustLoad(t, hoursFlow)
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		name string
		at   time.Time
		open bool
	}{
		{"weekday morning", time.Date(2026, 11, 23, 9, 0, 0, 0, ny), true},
		{"weekday just before open", time.Date(2026, 11, 23, 8, 59, 0, 0, ny), false},
		{"weekday close is exclusive", time.Date(2026, 11, 23, 18, 0, 0, 0, ny), false},
		{"saturday window", time.Date(2026, 11, 28, 13, 59, 0, 0, ny), true},
		{"sunday", time.Date(2026, 11, 29, 12, 0, 0, 0, ny), false},
		{"holiday", time.Date(2026, 12, 25, 12, 0, 0, 0, ny), false},
		// The same UTC instant is 08:30 local before the March DST change
		// (UTC-5, closed) and 09:30 local after it (UTC-4, open).
		{"13:30 UTC before DST", time.Date(2026, 3, 6, 13, 30, 0, 0, time.UTC), false},
		{"13:30 UTC after DST", time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC), true},
		{"13:30 UTC after DST ends", time.Date(2026, 11, 2, 13, 30, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		s, cmds := Step(f, State{}, Started{At: tt.at, Call: testCall})
		want := "c"
		if tt.open {
			want = "o"
		}
		if s.Applet != want || len(cmds) != 1 {
			t.Errorf("%s (%s): reached %q, want %q", tt.name, tt.at.In(ny), s.Applet, want)
		}
	}
}

func TestEmailAndSMS(t *testing.T) {
	f := mustLoad(t, `{"start":"e","applets":{
	 "e":{"type":"email","config":{"to":["ops@acme.example","Boss <boss@acme.example>"],"subject":"Call {{.CallSid}}","body":"From {{.From}} at {{.StartTime}} flow {{.FlowID}} field {{.CustomField}}"},"outputs":{"next":"s"}},
	 "s":{"type":"sms","config":{"to":"+15550100042","body":"Call from {{.From}}"},"outputs":{"next":"h"}},
	 "h":{"type":"hangup"}}}`)
	call := testCall
	call.CustomField = "order-17"
	_, cmds := Step(f, State{}, Started{At: at(0), Call: call})
	if kinds(cmds) != "Send,Send,Hangup" {
		t.Fatalf("batch = %s", kinds(cmds))
	}
	email, sms := cmds[0].(Send), cmds[1].(Send)
	wantEmail := Send{Applet: "e", Channel: ChannelEmail, To: []string{"ops@acme.example", "Boss <boss@acme.example>"},
		Subject: "Call " + call.CallSid, Body: "From +15550109999 at 2026-11-23 10:00:00 flow support field order-17"}
	if !reflect.DeepEqual(email, wantEmail) {
		t.Errorf("email = %+v", email)
	}
	if sms.To[0] != "+15550100042" || sms.Body != "Call from +15550109999" || sms.Blocking() {
		t.Errorf("sms = %+v", sms)
	}
	if h := cmds[2].(Hangup); h.Reason != "hangup applet" {
		t.Errorf("hangup = %+v", h)
	}
}

func TestHangupDuringEachWait(t *testing.T) {
	f := mustLoadFile(t, "basic-support.json")
	tests := []struct {
		name   string
		events []Event
		tail   string // commands produced by HungUp
		done   bool
	}{
		{"greeting", nil, "", true},
		{"menu", []Event{PlaybackDone{At: at(1)}}, "", true},
		{"ringing", []Event{PlaybackDone{At: at(1)}, DigitsCollected{At: at(2), Digits: "1"}}, "", true},
		{"voicemail runs the email tail", []Event{PlaybackDone{At: at(1)}, DigitsCollected{At: at(2), Digits: "1"},
			DialResult{At: at(30), Status: DialNoAnswer}}, "Send", true},
		{"after hangup command", []Event{PlaybackDone{At: at(1)}, DigitsCollected{At: at(2), Digits: "3"},
			DialResult{At: at(30), Status: DialCompleted}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := run(f, append([]Event{start()}, tt.events...)...)
			s, cmds := Step(f, s, HungUp{At: at(60), Cause: "NORMAL_CLEARING"})
			if kinds(cmds) != tt.tail || s.Done() != tt.done || !s.HungUp {
				t.Errorf("tail %q done %v, want %q %v", kinds(cmds), s.Done(), tt.tail, tt.done)
			}
			// Nothing more happens after the end, whatever arrives: no
			// applet is entered.
			s2, cmds := Step(f, s, PlaybackDone{At: at(61)})
			s.Entered = nil
			if len(cmds) != 0 || !reflect.DeepEqual(s, s2) {
				t.Errorf("event after end changed something: %s", kinds(cmds))
			}
		})
	}
}

func TestHangupDuringPassthruWaitsForAnswer(t *testing.T) {
	f := mustLoad(t, `{"start":"p","applets":{"p":{"type":"passthru","config":{"url":"https://crm.example/x"},"outputs":{"success":"e","error":"g"}},
	 "e":{"type":"email","config":{"to":["a@b.example"],"subject":"s","body":"b"}},"g":{"type":"greeting","config":{"prompt":{"text":"x"}}}}}`)
	s, out := run(f, start(), HungUp{At: at(1)}, FetchResult{At: at(2), StatusCode: 200})
	if len(out[1]) != 0 || kinds(out[2]) != "Send" || !s.Done() {
		t.Errorf("hangup then 200: %s / %s done=%v", kinds(out[1]), kinds(out[2]), s.Done())
	}
	s, out = run(f, start(), HungUp{At: at(1)}, FetchResult{At: at(2), StatusCode: 500})
	if len(out[2]) != 0 || !s.Done() {
		t.Errorf("hangup then 500 should end without media: %s", kinds(out[2]))
	}
}

func TestUnexpectedEventsChangeNothing(t *testing.T) {
	f := mustLoadFile(t, "basic-support.json")
	s, _ := Step(f, State{}, start()) // awaiting playback
	s.Entered = nil                   // an ignored event enters no applet
	for _, ev := range []Event{
		start(), DigitsCollected{At: at(1), Digits: "1"}, DialResult{At: at(1), Status: DialBusy},
		RecordingDone{At: at(1)}, FetchResult{At: at(1), StatusCode: 200}, FlowLoaded{At: at(1)},
	} {
		s2, cmds := Step(f, s, ev)
		if len(cmds) != 0 || !reflect.DeepEqual(s, s2) {
			t.Errorf("%s while awaiting playback changed the state", ev.Kind())
		}
	}
	if s2, cmds := Step(f, s, nil); len(cmds) != 0 || !reflect.DeepEqual(s, s2) {
		t.Error("nil event changed the state")
	}
}

func TestStepIsDeterministic(t *testing.T) {
	f := mustLoadFile(t, "basic-support.json")
	events := []Event{start(), PlaybackDone{At: at(2)}, DigitsCollected{At: at(4), Digits: "1"},
		DialResult{At: at(40), Status: DialNoAnswer}, RecordingDone{At: at(70), URL: "u"}, HungUp{At: at(71)}}
	s1, c1 := run(f, events...)
	s2, c2 := run(f, events...)
	if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(c1, c2) {
		t.Fatal("same events gave different results")
	}
}

func TestAwaitText(t *testing.T) {
	for a := AwaitUnknown; a <= AwaitNothing; a++ {
		b, _ := a.MarshalText()
		var back Await
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("%v round trip: %v %v", a, back, err)
		}
	}
	if Await(99).String() != "await(99)" {
		t.Error("out of range name")
	}
}

package flows

import (
	"strings"
	"testing"
)

func switchFlow(config, outputs string) string {
	return `{"start":"p","applets":{
	 "p":{"type":"passthru","config":{"url":"https://crm.example/route"},"outputs":{"success":"sw","error":"sw"}},
	 "sw":{"type":"switch","config":` + config + `,"outputs":` + outputs + `},
	 "a":{"type":"hangup"},"b":{"type":"hangup"},"d":{"type":"hangup"}}}`
}

func TestSwitchOnPassthru(t *testing.T) {
	f := mustLoad(t, switchFlow(`{}`, `{"sales":"a","42":"b","default":"d"}`))
	for _, tt := range []struct {
		res  FetchResult
		want string
	}{
		{FetchResult{StatusCode: 200, ContentType: "text/plain", Body: `{"select":"sales"}`}, "a"},
		{FetchResult{StatusCode: 200, Body: ` {"select": " sales ", "other": 1} `}, "a"},
		{FetchResult{StatusCode: 200, Body: `{"select":42}`}, "b"},
		{FetchResult{StatusCode: 200, Body: `sales`}, "a"},              // not JSON: the body itself
		{FetchResult{StatusCode: 200, Body: `{"select":"Sales"}`}, "d"}, // exact match
		{FetchResult{StatusCode: 200, Body: `{"select":"default"}`}, "d"},
		{FetchResult{StatusCode: 200, Body: `{"pick":"sales"}`}, "d"},
		{FetchResult{StatusCode: 200, Body: `{"select":`}, "d"},
		{FetchResult{StatusCode: 500, Body: `{"select":"sales"}`}, "a"}, // the body is read whatever the status
		{FetchResult{Err: "timeout", Body: `{"select":"sales"}`}, "d"},
		{FetchResult{StatusCode: 200}, "d"},
	} {
		tt.res.At = at(1)
		s, _ := run(f, start(), tt.res)
		if s.Applet != tt.want {
			t.Errorf("%+v: reached %q, want %q", tt.res, s.Applet, tt.want)
		}
	}

	field := mustLoad(t, switchFlow(`{"on":"passthru","field":"team"}`, `{"sales":"a","default":"d"}`))
	if s, _ := run(field, start(), FetchResult{At: at(1), StatusCode: 200, Body: `{"select":"x","team":"sales"}`}); s.Applet != "a" {
		t.Errorf("field team: reached %q", s.Applet)
	}

	long := strings.Repeat("x", MaxPassthruBody+10)
	if s, _ := run(f, start(), FetchResult{At: at(1), StatusCode: 200, Body: long}); len(s.Passthru) != MaxPassthruBody {
		t.Errorf("kept %d bytes of the answer, want %d", len(s.Passthru), MaxPassthruBody)
	}
}

func TestSwitchOnCallValues(t *testing.T) {
	doc := func(on, outputs string) *Flow {
		return mustLoad(t, `{"start":"sw","applets":{"sw":{"type":"switch","config":{"on":"`+on+`"},"outputs":`+outputs+`},
		 "a":{"type":"hangup"},"b":{"type":"hangup"},"d":{"type":"hangup"}}}`)
	}
	prefix := doc("caller_prefix", `{"+1555":"a","1555010":"b","+44":"a","default":"d"}`)
	for from, want := range map[string]string{"+15550109999": "b", "15559990000": "a", "+441234567": "a", "+919800000001": "d"} {
		c := testCall
		c.From = from
		if s, _ := Step(prefix, State{}, Started{At: at(0), Call: c}); s.Applet != want {
			t.Errorf("caller %s: reached %q, want %q", from, s.Applet, want)
		}
	}

	custom := doc("custom_field", `{"gold":"a","default":"d"}`)
	c := testCall
	c.CustomField = "gold"
	if s, _ := Step(custom, State{}, Started{At: at(0), Call: c}); s.Applet != "a" {
		t.Errorf("custom_field gold: reached %q", s.Applet)
	}
	if s, _ := Step(custom, State{}, start()); s.Applet != "d" {
		t.Errorf("no custom_field: reached %q", s.Applet)
	}

	digits := mustLoad(t, `{"start":"g","applets":{"g":{"type":"gather","config":{"prompt":{"text":"x"}},"outputs":{"next":"sw"}},
	 "sw":{"type":"switch","config":{"on":"digits"},"outputs":{"12":"a","*":"b","default":"d"}},
	 "a":{"type":"hangup"},"b":{"type":"hangup"},"d":{"type":"hangup"}}}`)
	for d, want := range map[string]string{"12": "a", "*": "b", "1": "d", "": "d"} {
		if s, _ := run(digits, start(), DigitsCollected{At: at(3), Digits: d}); s.Applet != want {
			t.Errorf("digits %q: reached %q, want %q", d, s.Applet, want)
		}
	}
}

func TestGreetingFromURL(t *testing.T) {
	f := mustLoad(t, `{"start":"g","applets":{"g":{"type":"greeting","config":{"url":"https://crm.example/hi","url_timeout":2,
	 "prompt":{"text":"static"}},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	_, cmds := Step(f, State{}, start())
	if fe := only[Fetch](t, cmds); fe.Purpose != FetchGreeting || fe.Timeout != 2 || fe.Method != "GET" || !fe.Blocking() {
		t.Fatalf("fetch = %+v", fe)
	}
	for _, tt := range []struct {
		res  FetchResult
		want Prompt
	}{
		{FetchResult{StatusCode: 200, ContentType: "text/plain", Body: "Hello\nthere "}, Prompt{Text: "Hello there"}},
		{FetchResult{StatusCode: 200, ContentType: "text/plain; charset=utf-8", Body: "https://crm.example/a.wav\n"}, Prompt{Audio: "https://crm.example/a.wav"}},
		{FetchResult{StatusCode: 200, ContentType: "application/json", Body: `{"type":"text","value":"Hi"}`}, Prompt{Text: "Hi"}},
		{FetchResult{StatusCode: 200, Body: `{"type":"audio_url","value":"https://crm.example/b.wav"}`}, Prompt{Audio: "https://crm.example/b.wav"}},
		// Unusable answers: the static prompt.
		{FetchResult{StatusCode: 200, Body: `{"type":"video","value":"x"}`}, Prompt{Text: "static"}},
		{FetchResult{StatusCode: 200, Body: `{"type":"audio_url","value":"/etc/passwd"}`}, Prompt{Text: "static"}},
		{FetchResult{StatusCode: 200, Body: `{"type":"audio_url","value":"https://x.example/it's.wav"}`}, Prompt{Text: "static"}},
		{FetchResult{StatusCode: 200, Body: "   "}, Prompt{Text: "static"}},
		{FetchResult{StatusCode: 200, Body: strings.Repeat("a", MaxPromptText+1)}, Prompt{Text: "static"}},
		{FetchResult{StatusCode: 302, Body: "moved"}, Prompt{Text: "static"}},
		{FetchResult{Err: "timeout after 2s"}, Prompt{Text: "static"}},
	} {
		tt.res.At = at(1)
		s, out := run(f, start(), tt.res)
		if p := only[Play](t, out[1]); p.Prompt != tt.want || s.Await != AwaitPlayback {
			t.Errorf("%q: played %+v (await %s), want %+v", tt.res.Body, p.Prompt, s.Await, tt.want)
		}
	}

	// Without a static prompt a failed URL skips the greeting.
	bare := mustLoad(t, `{"start":"g","applets":{"g":{"type":"greeting","config":{"url":"https://crm.example/hi"},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	if _, out := run(bare, start(), FetchResult{At: at(1), StatusCode: 500}); kinds(out[1]) != "Hangup" {
		t.Errorf("failed URL, no fallback: %s", kinds(out[1]))
	}

	// The caller hangs up while the URL is asked: nothing is played.
	s, out := run(f, start(), HungUp{At: at(1)}, FetchResult{At: at(2), StatusCode: 200, Body: "late"})
	if len(out[2]) != 0 || !s.Done() {
		t.Errorf("after hang-up: %s, state %s", kinds(out[2]), s.Await)
	}
}

func TestGatherFromURL(t *testing.T) {
	f := mustLoad(t, `{"start":"g","applets":{"g":{"type":"gather","config":{"url":"https://crm.example/g",
	 "prompt":{"text":"static"},"max_digits":5,"timeout":7},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	_, cmds := Step(f, State{}, start())
	if fe := only[Fetch](t, cmds); fe.Purpose != FetchGather || fe.Timeout != defaultURLTimeout {
		t.Fatalf("fetch = %+v", fe)
	}
	// A partial answer keeps the applet's other settings.
	s, out := run(f, start(), FetchResult{At: at(1), StatusCode: 200, Body: `{"gather_prompt":{"audio_url":"https://crm.example/pin.wav"},"max_input_digits":4}`})
	cd := only[CollectDigits](t, out[1])
	if cd.Prompts[0].Audio != "https://crm.example/pin.wav" || cd.MaxDigits != 4 || cd.Timeout != 7 || cd.FinishOnKey != "#" {
		t.Errorf("collect = %+v", cd)
	}
	// repeat_menu 0: one offer only; the digits are kept.
	_, out = run(f, start(), FetchResult{At: at(1), StatusCode: 200, Body: `{"repeat_menu":0,"finish_on_key":"none"}`}, DigitsCollected{At: at(9)})
	if cd := only[CollectDigits](t, out[1]); cd.FinishOnKey != "" || cd.Prompts[0].Text != "static" {
		t.Errorf("collect = %+v", cd)
	}
	if kinds(out[2]) != "Hangup" {
		t.Errorf("after no input with repeat_menu 0: %s", kinds(out[2]))
	}
	if s.Gather == nil || s.Gather.MaxDigits != 4 {
		t.Errorf("state keeps the answer's settings: %+v", s.Gather)
	}
	for _, body := range []string{
		`{"max_input_digits":40}`, `{"input_timeout":0}`, `{"finish_on_key":"##"}`, `{"repeat_menu":10}`,
		`{"gather_prompt":{}}`, `{"gather_prompt":{"text":"a","audio_url":"https://x.example/a.wav"}}`,
		`{"gather_prompt":{"audio_url":"local_stream://moh"}}`, `{"max_input_digits":"4"}`, `not json`,
	} {
		_, out := run(f, start(), FetchResult{At: at(1), StatusCode: 200, Body: body})
		if cd := only[CollectDigits](t, out[1]); cd.Prompts[0].Text != "static" || cd.MaxDigits != 5 {
			t.Errorf("%s: not the static gather: %+v", body, cd)
		}
	}
	bare := mustLoad(t, `{"start":"g","applets":{"g":{"type":"gather","config":{"url":"https://crm.example/g"},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	if s, out := run(bare, start(), FetchResult{At: at(1), Err: "refused"}); kinds(out[1]) != "Hangup" || s.Digits != "" {
		t.Errorf("failed URL, no fallback: %s", kinds(out[1]))
	}
}

func TestSMSFromURL(t *testing.T) {
	f := mustLoad(t, `{"start":"g","applets":{"g":{"type":"greeting","config":{"prompt":{"text":"hi"}},"outputs":{"next":"s"}},
	 "s":{"type":"sms","config":{"url":"https://crm.example/sms","body":"Missed call from {{.From}}"},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	// The caller hangs up during the greeting: the SMS tail still runs.
	s, out := run(f, start(), HungUp{At: at(1)}, PlaybackDone{At: at(1)})
	if len(out[2]) != 0 || !s.Done() {
		t.Fatalf("hang-up mid greeting: %s", kinds(out[2]))
	}
	_, out = run(f, start(), PlaybackDone{At: at(2)})
	if fe := only[Fetch](t, out[1]); fe.Purpose != FetchSMS {
		t.Fatalf("fetch = %+v", fe)
	}
	for body, want := range map[string]string{"Your ticket is 77.\n": "Your ticket is 77.", "": "Missed call from +15550109999",
		strings.Repeat("x", MaxSMSBody+1): "Missed call from +15550109999", "bell\a": "Missed call from +15550109999"} {
		_, out := run(f, start(), PlaybackDone{At: at(2)}, FetchResult{At: at(3), StatusCode: 200, Body: body})
		if kinds(out[2]) != "Send,Hangup" || out[2][0].(Send).Body != want {
			t.Errorf("answer %.20q: %s %+v", body, kinds(out[2]), out[2])
		}
	}
	bare := mustLoad(t, `{"start":"s","applets":{"s":{"type":"sms","config":{"url":"https://crm.example/sms"},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`)
	if _, out := run(bare, start(), FetchResult{At: at(1), StatusCode: 404}); kinds(out[1]) != "Hangup" {
		t.Errorf("failed URL, no fallback: %s", kinds(out[1]))
	}
}

func TestTransferToNumber(t *testing.T) {
	f := mustLoad(t, `{"start":"t","applets":{"t":{"type":"transfer","config":{"number":"+15550100003"},
	 "outputs":{"answered":"a","busy":"b"}},"a":{"type":"hangup"},"b":{"type":"hangup"}}}`)
	_, cmds := Step(f, State{}, start())
	d := only[Dial](t, cmds)
	if len(d.Destinations) != 1 || d.Destinations[0] != "+15550100003" || d.RingTimeout != defaultRingTimeout ||
		d.CallerID != testCall.ExoPhone || d.Strategy != Sequential {
		t.Errorf("dial = %+v", d)
	}
	for status, want := range map[DialStatus]string{DialCompleted: "a", DialBusy: "b"} {
		if s, _ := run(f, start(), DialResult{At: at(9), Status: status}); s.Applet != want || s.Transfers != 0 {
			t.Errorf("%s: reached %q (transfers %d)", status, s.Applet, s.Transfers)
		}
	}
	if s, out := run(f, start(), DialResult{At: at(9), Status: DialNoAnswer}); kinds(out[1]) != "Hangup" || s.DialStatus != DialNoAnswer {
		t.Errorf("no_answer unconnected: %s", kinds(out[1]))
	}
}

func TestConnectWhisper(t *testing.T) {
	f := mustLoad(t, `{"start":"c","applets":{"c":{"type":"connect","config":{"destinations":["+15550100001"],
	 "whisper":{"text":"Customer @@name"}}}}}`)
	c := testCall
	c.Vars = map[string]string{"name": "Asha"}
	_, cmds := Step(f, State{}, Started{At: at(0), Call: c})
	if d := only[Dial](t, cmds); d.Whisper == nil || d.Whisper.Text != "Customer Asha" {
		t.Errorf("whisper = %+v", d.Whisper)
	}
}

func TestDynamicValidation(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"switch no default", switchFlow(`{}`, `{"sales":"a"}`), "outputs.default: missing output"},
		{"switch no case", switchFlow(`{}`, `{"default":"a"}`), "at least one case output"},
		{"switch on", switchFlow(`{"on":"weather"}`, `{"x":"a","default":"d"}`), "config.on: must be passthru, digits"},
		{"switch field on digits", switchFlow(`{"on":"digits","field":"x"}`, `{"1":"a","default":"d"}`), "config.field: only applies"},
		{"switch digits case", switchFlow(`{"on":"digits"}`, `{"one":"a","default":"d"}`), `outputs.one: a digits case`},
		{"switch prefix case", switchFlow(`{"on":"caller_prefix"}`, `{"+91-80":"a","default":"d"}`), "a caller_prefix case"},
		{"switch spaced case", switchFlow(`{}`, `{" x":"a","default":"d"}`), "must not be empty or start or end with a space"},
		{"switch dangling", switchFlow(`{}`, `{"x":"nowhere","default":"d"}`), "dangling output"},
		{"greeting url", `{"start":"a","applets":{"a":{"type":"greeting","config":{"url":"crm/hi"}}}}`, "config.url: must be an absolute"},
		{"greeting url timeout", `{"start":"a","applets":{"a":{"type":"greeting","config":{"url":"https://x.example","url_timeout":31}}}}`, "url_timeout: must be between 1 and 30"},
		{"url timeout alone", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"text":"x"},"url_timeout":3}}}}`, "url_timeout: only applies with url"},
		{"greeting fallback checked", `{"start":"a","applets":{"a":{"type":"greeting","config":{"url":"https://x.example","prompt":{"voice":"x"}}}}}`, "needs audio or text"},
		{"gather url", `{"start":"a","applets":{"a":{"type":"gather","config":{"url":"ftp://x"}}}}`, "config.url"},
		{"sms url", `{"start":"a","applets":{"a":{"type":"sms","config":{"url":"nope"}}}}`, "config.url"},
		{"transfer both", `{"start":"a","applets":{"a":{"type":"transfer","config":{"flow":"x","number":"+15550100001"}}}}`, "not both"},
		{"transfer number", `{"start":"a","applets":{"a":{"type":"transfer","config":{"number":"555-CALL"}}}}`, "config.number: not a phone number"},
		{"transfer flow ring", `{"start":"a","applets":{"a":{"type":"transfer","config":{"flow":"x","ring_timeout":10}}}}`, "only apply to a transfer to a number"},
		{"transfer ring range", `{"start":"a","applets":{"a":{"type":"transfer","config":{"number":"+15550100001","ring_timeout":1}}}}`, "ring_timeout: must be between 5 and 120"},
		{"transfer number outputs", `{"start":"a","applets":{"a":{"type":"transfer","config":{"number":"+15550100001"},"outputs":{"next":"a"}}}}`, `unknown output "next" for a transfer applet (allowed: answered`},
		{"whisper", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001"],"whisper":{}}}}}`, "config.whisper: needs audio or text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := Load([]byte(tt.doc))
			for _, p := range problems.Errors() {
				if strings.Contains(p.String(), tt.want) {
					return
				}
			}
			t.Errorf("no error containing %q in %v", tt.want, problems)
		})
	}
	for name, doc := range map[string]string{
		"greeting url only": `{"start":"a","applets":{"a":{"type":"greeting","config":{"url":"https://x.example/hi"}}}}`,
		"gather url only":   `{"start":"a","applets":{"a":{"type":"gather","config":{"url":"https://x.example/g"}}}}`,
		"sms url only":      `{"start":"a","applets":{"a":{"type":"sms","config":{"url":"https://x.example/s"}}}}`,
		"transfer sip":      `{"start":"a","applets":{"a":{"type":"transfer","config":{"number":"sip:pbx1","caller_id":"+15550000100"}}}}`,
		"dynamic example":   mustRead(t, "testdata/dynamic.json"),
	} {
		if _, problems := Load([]byte(doc)); len(problems) != 0 {
			t.Errorf("%s: %v", name, problems)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	f := mustLoadFile(t, strings.TrimPrefix(path, "testdata/"))
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

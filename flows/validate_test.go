package flows

import (
	"os"
	"strings"
	"testing"
)

func TestSeedFlowsAreValid(t *testing.T) {
	for _, name := range []string{"basic-support.json", "after-hours.json", "main-line.json"} {
		data, err := os.ReadFile(fixturePath(name))
		if err != nil {
			t.Fatal(err)
		}
		_, problems := Load(data)
		if len(problems) != 0 {
			t.Errorf("%s: %v", name, problems)
		}
	}
}

func TestBrokenFlowListsEveryProblem(t *testing.T) {
	data, err := os.ReadFile("testdata/broken.json")
	if err != nil {
		t.Fatal(err)
	}
	f, problems := Load(data)
	if f == nil || problems.Err() == nil {
		t.Fatal("broken flow accepted")
	}
	want := []string{
		`error: colour: unknown field`,
		`error: applet "again": outputs: loop with no caller-input step (ivr, gather or voicemail): again -> agents -> sorry -> again`,
		`error: applet "agents": config.destinations[1]: not a phone number (+ and 3-15 digits) or SIP URI: "call me maybe"`,
		`error: applet "agents": config.ring_timeout: must be between 5 and 120 (got 2)`,
		`error: applet "agents": config.strategy: must be parallel or sequential (got "round-robin")`,
		`error: applet "hours": config.timezone: unknown time zone "Mars/Olympus_Mons"`,
		`error: applet "hours": config.windows[0]: close 09:00 is not after open 18:00`,
		`error: applet "hours": config.windows[0].days: unknown day "funday" (use mon tue wed thu fri sat sun)`,
		`error: applet "hours": outputs.closed: missing output`,
		`error: applet "menu": config.timeout: must be between 1 and 60 (got 600)`,
		`error: applet "menu": outputs.11: invalid key "11": keys are single digits 0-9, * or #`,
		`error: applet "menu": outputs.timeout: dangling output: applet "nowhere" does not exist`,
		`error: applet "orphan": type: unknown applet type "fax" (known: greeting, ivr, gather, connect, voicemail, transfer, passthru, business_hours, sms, email, hangup, switch)`,
		`error: applet "welcome": config.prompt: has both audio and text; give one`,
		`error: applet "welcome": config.volume: unknown field`,
		`error: applet "welcome": outputs.later: unknown output "later" for a greeting applet (allowed: next)`,
		`warning: applet "hours": unreachable from the start applet`,
		`warning: applet "orphan": unreachable from the start applet`,
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // a substring of one problem
	}{
		{"not json", `{`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"missing start", `{"applets":{"a":{"type":"hangup"}}}`, "start: missing start applet"},
		{"start not found", `{"start":"x","applets":{"a":{"type":"hangup"}}}`, `start applet "x" does not exist`},
		{"no applets", `{"start":"x","applets":{}}`, "at least one applet"},
		{"applet not object", `{"start":"a","applets":{"a":3}}`, "applet must be a JSON object"},
		{"missing type", `{"start":"a","applets":{"a":{}}}`, "type: missing applet type"},
		{"unknown applet field", `{"start":"a","applets":{"a":{"type":"hangup","colour":1}}}`, "colour: unknown field"},
		{"config wrong type", `{"start":"a","applets":{"a":{"type":"ivr","config":{"timeout":"5"},"outputs":{"1":"a"}}}}`, "expected int"},
		{"config not object", `{"start":"a","applets":{"a":{"type":"hangup","config":[1]}}}`, "config: must be a JSON object"},
		{"nested unknown field", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"text":"x","speed":2}}}}}`, "config.prompt.speed: unknown field"},
		{"prompt empty", `{"start":"a","applets":{"a":{"type":"greeting","config":{}}}}`, "config.prompt: needs audio or text"},
		{"control char", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"text":"a\nb"}}}}}`, "control character"},
		{"audio quote", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"audio":"https://x.example/it's.wav"}}}}}`, "must not contain '"},
		{"bad audio scheme", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"audio":"ftp://x/y.wav"}}}}}`, "must be an http(s) URL"},
		{"ivr no keys", `{"start":"a","applets":{"a":{"type":"ivr","config":{"prompt":{"text":"x"}},"outputs":{"timeout":"a"}}}}`, "at least one key output"},
		{"ivr attempts", `{"start":"a","applets":{"a":{"type":"ivr","config":{"prompt":{"text":"x"},"max_attempts":11},"outputs":{"1":"a"}}}}`, "max_attempts: must be between 1 and 10"},
		{"ivr key word", `{"start":"a","applets":{"a":{"type":"ivr","config":{"prompt":{"text":"x"}},"outputs":{"one":"a"}}}}`, `invalid key "one"`},
		{"empty target", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"text":"x"}},"outputs":{"next":""}}}}`, "points at nothing"},
		{"gather finish", `{"start":"a","applets":{"a":{"type":"gather","config":{"prompt":{"text":"x"},"finish_on_key":"##"}}}}`, "finish_on_key"},
		{"gather digits", `{"start":"a","applets":{"a":{"type":"gather","config":{"prompt":{"text":"x"},"max_digits":33}}}}`, "max_digits"},
		{"connect none", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":[]}}}}`, "at least one destination"},
		{"connect injection", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001,sofia/x/y"]}}}}`, "not a phone number"},
		{"connect channels", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001"],"recording_channels":"stereo"}}}}`, "single or dual"},
		{"connect caller id", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001"],"caller_id":"acme"}}}}`, "caller_id"},
		{"connect max conversation", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001"],"max_conversation":-1}}}}`, "max_conversation"},
		{"connect no outputs allowed name", `{"start":"a","applets":{"a":{"type":"connect","config":{"destinations":["+15550100001"]},"outputs":{"next":"a"}}}}`, `unknown output "next"`},
		{"voicemail length", `{"start":"a","applets":{"a":{"type":"voicemail","config":{"max_length":4000}}}}`, "max_length"},
		{"voicemail silence", `{"start":"a","applets":{"a":{"type":"voicemail","config":{"silence_end":-1}}}}`, "silence_end"},
		{"transfer missing", `{"start":"a","applets":{"a":{"type":"transfer"}}}`, "missing flow"},
		{"transfer bad id", `{"start":"a","applets":{"a":{"type":"transfer","config":{"flow":"../x"}}}}`, "flow id"},
		{"transfer has outputs", `{"start":"a","applets":{"a":{"type":"transfer","config":{"flow":"x"},"outputs":{"next":"a"}}}}`, "has no outputs"},
		{"passthru url", `{"start":"a","applets":{"a":{"type":"passthru","config":{"url":"crm/hook"},"outputs":{"success":"a"}}}}`, "absolute http"},
		{"passthru method", `{"start":"a","applets":{"a":{"type":"passthru","config":{"url":"http://x.example","method":"PUT"},"outputs":{"success":"a"}}}}`, "GET or POST"},
		{"passthru success", `{"start":"a","applets":{"a":{"type":"passthru","config":{"url":"http://x.example"}}}}`, "outputs.success: missing output"},
		{"passthru timeout", `{"start":"a","applets":{"a":{"type":"passthru","config":{"url":"http://x.example","timeout":31},"outputs":{"success":"a"}}}}`, "timeout"},
		{"hours no windows", `{"start":"a","applets":{"a":{"type":"business_hours","config":{"timezone":"UTC"},"outputs":{"open":"a","closed":"a"}}}}`, "at least one opening window"},
		{"hours bad clock", `{"start":"a","applets":{"a":{"type":"business_hours","config":{"timezone":"UTC","windows":[{"days":["mon"],"open":"9am","close":"24:30"}]},"outputs":{"open":"a","closed":"a"}}}}`, "open: must be HH:MM"},
		{"hours bad holiday", `{"start":"a","applets":{"a":{"type":"business_hours","config":{"timezone":"UTC","windows":[{"days":["mon"],"open":"09:00","close":"17:00"}],"holidays":["25/12"]},"outputs":{"open":"a","closed":"a"}}}}`, "holidays[0]"},
		{"hours no timezone", `{"start":"a","applets":{"a":{"type":"business_hours","config":{"windows":[{"days":["mon"],"open":"09:00","close":"17:00"}]},"outputs":{"open":"a","closed":"a"}}}}`, "missing IANA time zone"},
		{"sms to", `{"start":"a","applets":{"a":{"type":"sms","config":{"to":"boss","body":"x"}}}}`, `"caller" or a phone number`},
		{"sms body", `{"start":"a","applets":{"a":{"type":"sms","config":{}}}}`, "missing message body"},
		{"sms template field", `{"start":"a","applets":{"a":{"type":"sms","config":{"body":"{{.Nope}}"}}}}`, "template"},
		{"sms template syntax", `{"start":"a","applets":{"a":{"type":"sms","config":{"body":"{{.From"}}}}`, "template"},
		{"sms template loop", `{"start":"a","applets":{"a":{"type":"sms","config":{"body":"{{range 1000000000}}x{{end}}"}}}}`, "only fields"},
		{"sms template func", `{"start":"a","applets":{"a":{"type":"sms","config":{"body":"{{printf \"%d\" 1}}"}}}}`, "only fields"},
		{"email to", `{"start":"a","applets":{"a":{"type":"email","config":{"to":["not an address"],"subject":"s","body":"b"}}}}`, "not an email address"},
		{"email none", `{"start":"a","applets":{"a":{"type":"email","config":{"subject":"s","body":"b"}}}}`, "at least one address"},
		{"email subject lines", `{"start":"a","applets":{"a":{"type":"email","config":{"to":["a@b.example"],"subject":"a\r\nBcc: x@y","body":"b"}}}}`, "one line"},
		{"self loop", `{"start":"a","applets":{"a":{"type":"greeting","config":{"prompt":{"text":"x"}},"outputs":{"next":"a"}}}}`, "loop with no caller-input step"},
		{"applet id", `{"start":"a b","applets":{"a b":{"type":"hangup"}}}`, "applet id must be"},
		{"too big", `{"name":"` + strings.Repeat("x", MaxDocumentSize) + `"}`, "larger than"},
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
}

func TestLoopThroughInputIsAllowed(t *testing.T) {
	_, problems := Load([]byte(`{"start":"m","applets":{
	 "m":{"type":"ivr","config":{"prompt":{"text":"x"}},"outputs":{"1":"g","timeout":"g"}},
	 "g":{"type":"greeting","config":{"prompt":{"text":"again"}},"outputs":{"next":"m"}}}}`))
	if len(problems) != 0 {
		t.Errorf("loop through an ivr rejected: %v", problems)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	f := mustLoadFile(t, "basic-support.json")
	data, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	again := mustLoad(t, string(data))
	data2, _ := Encode(again)
	if string(data) != string(data2) {
		t.Errorf("round trip changed the document:\n%s\n%s", data, data2)
	}
}

func TestParse(t *testing.T) {
	if _, err := Parse([]byte(`{"start":"a","applets":{"a":{"type":"hangup"}}}`)); err != nil {
		t.Errorf("valid flow: %v", err)
	}
	_, err := Parse([]byte(`{"start":"b","applets":{"a":{"type":"hangup"}}}`))
	var inv *InvalidError
	if err == nil || !asInvalid(err, &inv) || len(inv.Problems) != 1 {
		t.Errorf("invalid flow: %v", err)
	}
}

func asInvalid(err error, target **InvalidError) bool {
	e, ok := err.(*InvalidError)
	*target = e
	return ok
}

package flows

import (
	"os"
	"testing"
	"time"
)

// FuzzLoad throws arbitrary bytes at the decoder and validator, and runs
// every flow that loads through a few steps: nothing may panic, and a flow
// reported valid must start.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"basic-support.json", "after-hours.json", "main-line.json", "broken.json"} {
		data, err := os.ReadFile(fixturePath(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"start":"a","applets":{"a":{"type":"ivr","config":{"prompt":{"text":"x"}},"outputs":{"1":"a","timeout":"a"}}}}`))
	f.Add([]byte(`{"start":"a","applets":{"a":{"type":"sms","config":{"body":"{{.From}}"},"outputs":{"next":"a"}}}}`))
	f.Add([]byte(`{"applets":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		flow, problems := Load(data)
		for _, p := range problems {
			if p.Severity != SeverityError && p.Severity != SeverityWarning {
				t.Fatalf("problem without severity: %+v", p)
			}
			_ = p.String()
		}
		if flow == nil || problems.HasErrors() {
			return
		}
		if _, err := Encode(flow); err != nil {
			t.Fatalf("valid flow does not encode: %v", err)
		}
		s, cmds := Step(flow, State{}, Started{At: time.Unix(1_800_000_000, 0), Call: testCall})
		if len(cmds) == 0 && !s.Done() {
			t.Fatalf("valid flow started with no command and is not over: %v", s)
		}
		events := []Event{
			PlaybackDone{}, DigitsCollected{Digits: "1"}, DialResult{Status: DialNoAnswer},
			RecordingDone{URL: "u"}, FetchResult{StatusCode: 302}, FlowLoaded{FlowID: "x"},
			DigitsCollected{}, HungUp{},
		}
		for _, ev := range events {
			s, _ = Step(flow, s, ev)
		}
	})
}

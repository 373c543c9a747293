package esl

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// parseJSONReference is how events were decoded before ParseJSON scanned
// them itself: through encoding/json. ParseJSON must read the same.
func parseJSONReference(b []byte) (Event, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Event{}, err
	}
	if raw == nil {
		return Event{}, fmt.Errorf("null is not an event")
	}
	e := Event{Headers: make(map[string]string, len(raw))}
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			var list []string
			var n json.Number
			switch {
			case json.Unmarshal(v, &list) == nil:
				s = "ARRAY::" + strings.Join(list, "|:")
			case json.Unmarshal(v, &n) == nil:
				s = n.String()
			default:
				continue
			}
		}
		if k == "_body" {
			e.Body = s
			continue
		}
		e.Headers[k] = s
	}
	return e, nil
}

var eventJSONCases = []string{
	`{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"u1"}`,
	` { "a" : "b" , "c":"d" } `,
	`{}`,
	`{"_body":"+OK 7f4de4bc\n","Job-UUID":"j1"}`,
	`{"variable_originate_causes":["u1;NO_ANSWER","u2;USER_BUSY"],"x":[],"y":[null,"a"],"z":[1,"a"]}`,
	`{"n":42,"f":-1.5e+3,"t":true,"no":false,"nul":null,"obj":{"a":["b",{"c":1}]}}`,
	`{"esc":"a\"b\\c\/d\b\f\n\r\t","u":"\u00e9\u20ac","pair":"\ud83d\ude00","lone":"\ud83dx","lone2":"\ude00\u0041"}`,
	`{"bad-utf8":"a` + "\xff\xfe" + `b","dup":"1","dup":"2"}`,
	`{"Caller-Caller-ID-Number":"+15550109999","variable_sip_h_X-Weird Name: ok":"v"}`,
	// Not JSON objects: both reject them.
	`[]`, `{"a":}`, `{"a":"b"`, `{"a":"b",}`, `{"a" "b"}`, `{"a":"\x"}`, `{"a":"b"} x`, `{"a":01}`, `{"a":"` + "\x01" + `"}`,
	`{"a":"\u12"}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, ``, `null`, ` null `,
}

func TestParseJSONReadsWhatEncodingJSONReads(t *testing.T) {
	for _, in := range eventJSONCases {
		compareEventJSON(t, []byte(in))
	}
	compareEventJSON(t, []byte(sampleEventJSON()))
}

func compareEventJSON(t *testing.T, in []byte) {
	t.Helper()
	sameEvents(t, in, ParseJSON, parseJSONReference)
}

// sameEvents checks that parse reads in as reference does: the same
// error or none, the same headers (All and each Get) and body.
func sameEvents(t *testing.T, in []byte, parse, reference func([]byte) (Event, error)) {
	t.Helper()
	got, err := parse(in)
	want, werr := reference(in)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v, reference %v", in, err, werr)
	}
	if err != nil {
		return
	}
	if all := got.All(); got.Body != want.Body || !reflect.DeepEqual(all, want.Headers) {
		t.Fatalf("%q:\n got %#v, body %q\nwant %#v, body %q", in, all, got.Body, want.Headers, want.Body)
	}
	for k, v := range want.Headers {
		if g := got.Get(k); g != v {
			t.Fatalf("%q: Get(%q) = %q, want %q", in, k, g, v)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, in := range eventJSONCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		compareEventJSON(t, in)
	})
}

// sampleEventJSON is an event of the size FreeSWITCH sends for a call's
// channel: ~130 headers, ~5 KB.
func sampleEventJSON() string {
	m := map[string]any{"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Unique-ID": "a0c7ab8e-7b4c-4bb4-9a1b-3d2f0a9f1c11",
		"Application": "play_and_get_digits", "Application-Data": "1 1 3 5000 # say:Press 1 for sales ''",
		"variable_originate_causes": []string{"u1;NO_ANSWER", "u2;SUCCESS"}, "_body": "line one\nline two"}
	for i := range 125 {
		m[fmt.Sprintf("variable_channel_setting_%03d", i)] = fmt.Sprintf("value-%d sip:+1555010%04d@127.0.0.1:5080;transport=udp", i, i)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// BenchmarkParseJSON compares the scanner with encoding/json on an event
// of a call's usual size: go test -bench ParseJSON ./orchestrator/esl
func BenchmarkParseJSON(b *testing.B) {
	in := []byte(sampleEventJSON())
	for _, impl := range []struct {
		name  string
		parse func([]byte) (Event, error)
	}{{"scanner", ParseJSON}, {"encoding-json", parseJSONReference}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := impl.parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// An event costs a few allocations, not one per header: names are
// interned, and values are decoded when asked for.
func TestParseJSONAllocatesPerEventNotPerHeader(t *testing.T) {
	in := []byte(sampleEventJSON())
	first, err := ParseJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	headers := len(first.All())
	allocs := testing.AllocsPerRun(20, func() { _, _ = ParseJSON(in) })
	if allocs > 16 {
		t.Fatalf("%.0f allocations for an event of %d headers (limit 16)", allocs, headers)
	}
}

// Get finds the last of repeated headers, as encoding/json does, then
// falls back to a name differing only in case.
func TestParseJSONGet(t *testing.T) {
	ev, err := ParseJSON([]byte(`{"dup":"1","Caller-ID":"a","dup":"2","esc":"x\"y","n":7}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"dup": "2", "caller-id": "a", "esc": `x"y`, "n": "7", "missing": ""} {
		if got := ev.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
}

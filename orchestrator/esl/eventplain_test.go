package esl

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// parsePlainReference is how plain events were read before ParsePlain
// indexed them: every header split and decoded into a map. ParsePlain
// must read the same.
func parsePlainReference(b []byte) (Event, error) {
	e := Event{Headers: map[string]string{}}
	text := string(b)
	head, rest, _ := strings.Cut(text, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		line = strings.TrimSuffix(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			continue
		}
		value = strings.TrimPrefix(value, " ")
		if dec, err := url.QueryUnescape(strings.ReplaceAll(value, "+", "%2B")); err == nil {
			value = dec
		}
		e.Headers[name] = value
	}
	if len(e.Headers) == 0 {
		return e, fmt.Errorf("%w: no headers", ErrBadEvent)
	}
	if n, err := strconv.Atoi(e.Headers["Content-Length"]); err == nil && n >= 0 {
		if n > len(rest) {
			return e, fmt.Errorf("%w: body shorter than Content-Length %d", ErrBadEvent, n)
		}
		e.Body = rest[:n]
	}
	return e, nil
}

var eventPlainCases = []string{
	"Event-Name: CHANNEL_ANSWER\nUnique-ID: u1\n\n",
	"Event-Name: DTMF\nDTMF-Digit: %23\nvariable_x%2Cy: a%20b\nweird line\nContent-Length: 3\n\nabcdef",
	"Event-Name: BACKGROUND_JOB\nJob-UUID: j1\nContent-Length: 12\n\n+OK 7f4de4bc\n",
	"a:b\r\nc:  d\r\n\r\n",
	"dup: 1\nDup: 2\ndup: 3\n\n",
	"plus: %2B1555+x\nbroken: 50%\nbroken2: %zz%41\nutf8: caf%C3%A9\nraw: caf\xc3\xa9\n\n",
	"variable_originate_causes: ARRAY::u1%3BNONE|:u2%3BLOSE_RACE\n\n",
	"Content-Length: -1\n\n", "Content-Length: 10\n\nabc", "Content-Length: x\nA: b\n\n", "Content-Length: 0\n\n",
	":no name\nname:\n\n", "", "\n\n", "no colon at all", "x: y",
}

func TestParsePlainReadsWhatItUsedTo(t *testing.T) {
	for _, in := range eventPlainCases {
		comparePlain(t, []byte(in))
	}
	comparePlain(t, []byte(samplePlain(t)))
}

func comparePlain(t *testing.T, in []byte) {
	t.Helper()
	sameEvents(t, in, ParsePlain, parsePlainReference)
}

func FuzzParsePlain(f *testing.F) {
	for _, in := range eventPlainCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		comparePlain(t, in)
	})
}

// samplePlain is sampleEventJSON's event as FreeSWITCH sends it plain
// (switch_event_serialize: values URL-encoded, the body after its
// Content-Length).
func samplePlain(t testing.TB) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(sampleEventJSON()), &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if k != "_body" {
				b.WriteString(k + ": " + strings.ReplaceAll(url.PathEscape(v), "+", "%2B") + "\n")
			}
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = p.(string)
			}
			b.WriteString(k + ": " + url.PathEscape("ARRAY::"+strings.Join(parts, "|:")) + "\n")
		}
	}
	body := m["_body"].(string)
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
	return b.String()
}

// The plain sample reads as the JSON one does.
func TestPlainAndJSONSamplesReadAlike(t *testing.T) {
	js, err := ParseJSON([]byte(sampleEventJSON()))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParsePlain([]byte(samplePlain(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := js.All()
	got := plain.All()
	delete(got, "Content-Length")
	if !reflect.DeepEqual(got, want) || plain.Body != js.Body {
		t.Fatalf("plain reads\n%v\nbody %q\njson reads\n%v\nbody %q", got, plain.Body, want, js.Body)
	}
}

// An event costs a few allocations, not one per header, as with JSON.
func TestParsePlainAllocatesPerEventNotPerHeader(t *testing.T) {
	in := []byte(samplePlain(t))
	if _, err := ParsePlain(in); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() { _, _ = ParsePlain(in) })
	if allocs > 16 {
		t.Fatalf("%.0f allocations for a plain event (limit 16)", allocs)
	}
}

// BenchmarkParseEvent compares reading one event of a call's usual size
// in each format, and the plain reader with how it was read before:
// go test -bench ParseEvent ./orchestrator/esl
func BenchmarkParseEvent(b *testing.B) {
	for _, impl := range []struct {
		name  string
		in    []byte
		parse func([]byte) (Event, error)
	}{
		{"plain", []byte(samplePlain(b)), ParsePlain},
		{"plain-map", []byte(samplePlain(b)), parsePlainReference},
		{"json", []byte(sampleEventJSON()), ParseJSON},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(impl.in)))
			b.ReportAllocs()
			for b.Loop() {
				ev, err := impl.parse(impl.in)
				if err != nil {
					b.Fatal(err)
				}
				// What a call reads of an event.
				_ = ev.Name() + ev.UniqueID() + ev.Get("Application") + ev.Get("Application-UUID") + ev.Var("originate_causes")
			}
		})
	}
}

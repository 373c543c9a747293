package esl

import (
	"strconv"
	"strings"
	"testing"
)

// readEvent reads one event-json frame the way a socket's reader does.
func readEvent(t *testing.T, body string) Event {
	t.Helper()
	in := "Content-Type: text/event-json\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body
	f, err := newFrameReader(strings.NewReader(in)).next()
	if err != nil {
		t.Fatal(err)
	}
	if f.bufs == nil {
		t.Fatal("an event's body was not read into recycled buffers")
	}
	ev, err := parseJSON(f.body, f.bufs)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestReleasedEventReadsEmptyAndItsBuffersServeTheNext(t *testing.T) {
	first := readEvent(t, `{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"a-1","variable_x":"caf\u00e9"}`)
	kept := first // a copy somebody should not have kept
	if first.Name() != "CHANNEL_ANSWER" || first.Var("x") != "café" {
		t.Fatalf("before release: %v", first.All())
	}
	name := first.UniqueID() // a value read before is the reader's own
	first.Release()
	first.Release() // twice is harmless
	if kept.Name() != "" || kept.UniqueID() != "" || len(kept.All()) != 0 {
		t.Fatalf("a released event still reads %v", kept.All())
	}
	second := readEvent(t, `{"Event-Name":"CHANNEL_HANGUP","Unique-ID":"b-2"}`)
	if name != "a-1" || second.Name() != "CHANNEL_HANGUP" || second.UniqueID() != "b-2" || kept.Name() != "" {
		t.Fatalf("after reuse: kept value %q, second %v, released copy %v", name, second.All(), kept.All())
	}
	second.Release()
}

func TestEventsNotReadFromAConnectionAreNotReleased(t *testing.T) {
	ev, err := ParseJSON([]byte(`{"Event-Name":"HEARTBEAT"}`))
	if err != nil {
		t.Fatal(err)
	}
	ev.Release()
	if ev.Name() != "HEARTBEAT" {
		t.Fatalf("ParseJSON's event after Release: %v", ev.All())
	}
	big := `{"Event-Name":"CUSTOM","_body":"` + strings.Repeat("x", maxPooledBody) + `"}`
	in := "Content-Type: text/event-json\nContent-Length: " + strconv.Itoa(len(big)) + "\n\n" + big
	f, err := newFrameReader(strings.NewReader(in)).next()
	if err != nil || f.bufs != nil || len(f.body) != len(big) {
		t.Fatalf("a body over %d bytes: recycled %v, %d bytes, %v", maxPooledBody, f.bufs != nil, len(f.body), err)
	}
}

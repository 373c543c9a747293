package esl

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestFrameReaderReadsFramesInOrder(t *testing.T) {
	in := "\n\nContent-Type: command/reply\r\nReply-Text: %2BOK%20bye\r\n\r\n" +
		"Content-Type: api/response\nContent-Length: 4\n\n+OK\n" +
		"Content-Type: text/disconnect-notice\nContent-Length: 0\n\n"
	fr := newFrameReader(strings.NewReader(in))
	f, err := fr.next()
	if err != nil || f.get("Content-Type") != "command/reply" || f.decoded("Reply-Text") != "+OK bye" {
		t.Fatalf("first frame = %v, %v", f.headers, err)
	}
	f, err = fr.next()
	if err != nil || string(f.body) != "+OK\n" {
		t.Fatalf("second frame = %v %q, %v", f.headers, f.body, err)
	}
	f, err = fr.next()
	if err != nil || f.get("Content-Type") != "text/disconnect-notice" || len(f.body) != 0 {
		t.Fatalf("third frame = %v, %v", f.headers, err)
	}
	if _, err := fr.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

// A long header line (a channel variable of many KiB) is read whole, past
// the reader's small buffer.
func TestFrameReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 40<<10)
	fr := newFrameReader(strings.NewReader("Content-Type: command/reply\nvariable_big: " + long + "\n\n"))
	f, err := fr.next()
	if err != nil || f.get("variable_big") != long {
		t.Fatalf("got %d bytes, %v", len(f.get("variable_big")), err)
	}
}

// Whatever a peer sends, the reader returns an error within its bounds:
// no panic, no unbounded allocation.
func TestFrameReaderRejectsWhatIsNotAFrame(t *testing.T) {
	for name, in := range map[string]string{
		"negative length":  "Content-Type: api/response\nContent-Length: -1\n\n",
		"huge length":      "Content-Type: api/response\nContent-Length: 99999999999999\n\n",
		"length not a num": "Content-Type: api/response\nContent-Length: 12abc\n\n",
		"endless line":     "Content-Type: " + strings.Repeat("a", maxFrameLine+10),
		"no colon":         "Content-Type api/response\n\n",
		"endless headers":  strings.Repeat("A: b\n", maxFrameHeaders/5+1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newFrameReader(strings.NewReader(in)).next()
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("err = %v, want ErrFrame", err)
			}
		})
	}
	// A body shorter than announced is a read error, not a frame.
	_, err := newFrameReader(strings.NewReader("Content-Length: 10\n\nabc")).next()
	if err == nil || errors.Is(err, ErrFrame) {
		t.Fatalf("short body: %v", err)
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add("Content-Type: command/reply\nReply-Text: +OK\n\n")
	f.Add("Content-Length: 3\n\nabc")
	f.Add("Content-Length: -5\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		fr := newFrameReader(strings.NewReader(in))
		for i := 0; i < 100; i++ {
			fm, err := fr.next()
			if err != nil {
				return
			}
			if len(fm.body) > maxFrameBody {
				t.Fatalf("body of %d bytes", len(fm.body))
			}
		}
	})
}

func TestFrameReaderRefillsOnlyARecycledHeaderMap(t *testing.T) {
	in := "Content-Type: text/event-json\nContent-Length: 2\nX-Extra: 1\n\n{}" +
		"Content-Type: command/reply\nReply-Text: +OK\n\n" +
		"Content-Type: api/response\nContent-Length: 3\n\n+OK"
	fr := newFrameReader(strings.NewReader(in))
	first, err := fr.next()
	if err != nil {
		t.Fatal(err)
	}
	fr.recycle(first.headers)
	second, err := fr.next()
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(second.headers).UnsafePointer() != reflect.ValueOf(first.headers).UnsafePointer() {
		t.Error("the recycled map was not reused")
	}
	if len(second.headers) != 2 || second.get("Reply-Text") != "+OK" || second.get("X-Extra") != "" {
		t.Fatalf("the second frame's headers: %v", second.headers)
	}
	third, err := fr.next() // the second was not handed back: it keeps its own
	if err != nil || third.get("Content-Type") != "api/response" || second.get("Content-Type") != "command/reply" {
		t.Fatalf("third %v (%v), second now %v", third.headers, err, second.headers)
	}
}

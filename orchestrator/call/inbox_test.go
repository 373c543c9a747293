package call

import (
	"strconv"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// The inbox hands events over in order, signals once for any number of
// them, refuses past its bound, and keeps nothing once drained.
func TestInbox(t *testing.T) {
	b := newInbox()
	for i := range inboxSize {
		if !b.put(arrival{ev: esl.Event{Headers: map[string]string{"n": strconv.Itoa(i)}}}) {
			t.Fatalf("event %d refused below the bound", i)
		}
	}
	if b.put(arrival{}) {
		t.Fatal("an event past the bound was queued")
	}
	select {
	case <-b.ready:
	default:
		t.Fatal("no signal for waiting events")
	}
	for i := range inboxSize {
		a, ok := b.take()
		if !ok || a.ev.Get("n") != strconv.Itoa(i) {
			t.Fatalf("take %d: %v %q", i, ok, a.ev.Get("n"))
		}
	}
	if _, ok := b.take(); ok {
		t.Fatal("an event after the last one")
	}
	if b.q != nil {
		t.Fatalf("a drained inbox keeps %d slots", cap(b.q))
	}
	if !b.put(arrival{}) {
		t.Fatal("a drained inbox refuses events")
	}
}

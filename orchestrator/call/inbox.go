package call

import (
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// inboxSize bounds a call's queued events; a call that falls this far
// behind is hung up rather than allowed to slow the connection down.
const inboxSize = 512

// arrival is an event and when it reached the call.
type arrival struct {
	ev esl.Event
	at time.Time
}

// inbox queues a call's events from the socket's reader for the call's
// goroutine. It holds only what is waiting: a channel of inboxSize slots
// cost every live call 24 KB, half its heap, though a call rarely has
// more than a few events waiting.
type inbox struct {
	mu sync.Mutex
	q  []arrival
	// ready has a value while events may be waiting.
	ready chan struct{}
}

func newInbox() *inbox { return &inbox{ready: make(chan struct{}, 1)} }

// put queues an event; it never blocks, and reports false when the inbox
// is full.
func (b *inbox) put(a arrival) bool {
	b.mu.Lock()
	if len(b.q) >= inboxSize {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, a)
	b.mu.Unlock()
	b.wake()
	return true
}

// take returns the oldest waiting event.
func (b *inbox) take() (arrival, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.q) == 0 {
		return arrival{}, false
	}
	a := b.q[0]
	b.q[0] = arrival{}
	b.q = b.q[1:]
	if len(b.q) == 0 {
		b.q = nil // let a burst's backing array go
	}
	return a, true
}

// wake marks the inbox as worth looking at again.
func (b *inbox) wake() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

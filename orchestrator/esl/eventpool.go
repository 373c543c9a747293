package esl

import "sync"

// Event buffers are recycled. An event-json frame's body (5-10 KB) and
// the index ParseJSON builds over it were two thirds of the bytes serve
// allocated per call; the call that takes an event hands them back once
// it is done with it (Event.Release), and the next frame reuses them.

// eventBufs are the arrays behind one event: its body and its index.
type eventBufs struct {
	src  []byte
	keys []string
	vals []span
}

// maxPooledBody bounds the bodies whose arrays are kept for reuse; a
// larger one (a channel with a great many variables) is left to the GC.
const maxPooledBody = 32 << 10

var eventPool = sync.Pool{New: func() any { return new(eventBufs) }}

// eventBody returns n bytes for an event's body, and the buffers it
// came from (nil when it is too large to recycle).
func eventBody(n int) ([]byte, *eventBufs) {
	if n > maxPooledBody {
		return make([]byte, n), nil
	}
	h := eventPool.Get().(*eventBufs)
	if cap(h.src) < n {
		h.src = make([]byte, n, max(n, 8<<10))
	}
	return h.src[:n], h
}

// Release hands the event's buffers back for the next event to reuse.
// The event, and every copy of it, reads as empty afterwards: call it
// once nothing will read the event again. Events not read from a
// connection (built by hand, or by ParseJSON) have nothing to hand back.
func (e Event) Release() {
	x := e.idx
	if x == nil || x.bufs == nil {
		return
	}
	h := x.bufs
	clear(x.keys)
	h.src, h.keys, h.vals = x.src[:0], x.keys[:0], x.vals[:0]
	*x = headerIndex{}
	eventPool.Put(h)
}

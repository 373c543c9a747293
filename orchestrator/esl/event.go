package esl

import (
	"errors"
	"strconv"
	"strings"
)

// Event is one FreeSWITCH event. Header names keep FreeSWITCH's spelling;
// lookups are exact first and case-insensitive as a fallback. Values are
// decoded (no URL encoding).
//
// An event built by hand has its headers in Headers. One read by
// ParseJSON or ParsePlain keeps them indexed in its text instead and
// decodes a value when it is asked for: Get reads both, All returns every
// header whatever the event's origin.
type Event struct {
	Headers map[string]string
	Body    string
	idx     *headerIndex
}

// Get returns a header's value, or "".
func (e Event) Get(name string) string {
	if e.idx != nil {
		return e.idx.get(name)
	}
	if v, ok := e.Headers[name]; ok {
		return v
	}
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// All returns every header of the event. The map is the event's own for
// an event built by hand, a fresh one otherwise.
func (e Event) All() map[string]string {
	if e.idx != nil {
		return e.idx.all()
	}
	return e.Headers
}

// Var returns a channel variable (the variable_<name> header).
func (e Event) Var(name string) string { return e.Get("variable_" + name) }

// Name is the Event-Name.
func (e Event) Name() string { return e.Get("Event-Name") }

// UniqueID is the channel the event is about.
func (e Event) UniqueID() string { return e.Get("Unique-ID") }

// AppUUID is the Application-UUID of an execute event.
func (e Event) AppUUID() string { return e.Get("Application-UUID") }

// JobUUID is the Job-UUID of a BACKGROUND_JOB event.
func (e Event) JobUUID() string { return e.Get("Job-UUID") }

// Seq is the node-wide Event-Sequence number (0 if absent): the only
// reliable order of events, since delivery order is not.
func (e Event) Seq() uint64 {
	n, _ := strconv.ParseUint(e.Get("Event-Sequence"), 10, 64)
	return n
}

// Int returns a numeric header or variable, 0 when absent or malformed.
func (e Event) Int(name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(e.Get(name)), 10, 64)
	return n
}

// ErrBadEvent is returned for an event body that cannot be decoded.
var ErrBadEvent = errors.New("esl: malformed event")

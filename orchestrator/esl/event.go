package esl

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Event is one FreeSWITCH event. Header names keep FreeSWITCH's spelling;
// lookups are exact first and case-insensitive as a fallback. Values are
// decoded (no URL encoding).
//
// An event built by hand or read in plain format has its headers in
// Headers. One read by ParseJSON keeps them indexed in its JSON text
// instead and decodes a value when it is asked for: Get reads both, All
// returns every header whatever the event's origin.
type Event struct {
	Headers map[string]string
	Body    string
	json    *jsonIndex
}

// Get returns a header's value, or "".
func (e Event) Get(name string) string {
	if e.json != nil {
		return e.json.get(name)
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
// an event built by hand or read in plain format, a fresh one otherwise.
func (e Event) All() map[string]string {
	if e.json != nil {
		return e.json.all()
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

// ParsePlain decodes a text/event-plain body leniently: "Name: value" lines
// with URL-encoded values, a blank line, then an optional body whose length
// a Content-Length header gives. Lines it cannot split are skipped, never
// fatal; header names may hold any character but ':' and newline.
func ParsePlain(b []byte) (Event, error) {
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
	if n, err := strconv.Atoi(e.Headers["Content-Length"]); err == nil && n >= 0 {
		if n > len(rest) {
			return e, fmt.Errorf("%w: body shorter than Content-Length %d", ErrBadEvent, n)
		}
		e.Body = rest[:n]
	}
	if len(e.Headers) == 0 {
		return e, fmt.Errorf("%w: no headers", ErrBadEvent)
	}
	return e, nil
}

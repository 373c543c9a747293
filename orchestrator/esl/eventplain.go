package esl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParsePlain decodes a text/event-plain body leniently: "Name: value" lines
// with URL-encoded values, a blank line, then an optional body whose length
// a Content-Length header gives. Lines it cannot split are skipped, never
// fatal; header names may hold any character but ':' and newline.
//
// Like ParseJSON it indexes the headers without decoding them: a value is
// URL-decoded when it is asked for. FreeSWITCH does not encode a '%' that
// already starts an escape (switch_url_encode), so a value holding a
// literal "%41" reads back as "A": the plain format's loss, which no
// header Switchyard reads can meet (names, UUIDs, causes, digits, numbers
// and its own variables).
//
// The event keeps b: the caller must not change it afterwards.
func ParsePlain(b []byte) (Event, error) { return parsePlain(b, nil) }

// parsePlain is ParsePlain into recycled buffers: b is h.src's, and the
// index takes h's arrays (h nil: fresh ones).
func parsePlain(b []byte, h *eventBufs) (Event, error) {
	head, rest := b, []byte(nil)
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		head, rest = b[:i], b[i+2:]
	}
	x := newHeaderIndex(b, h)
	x.plain = true
	var fresh []string
	defer func() { learn(fresh) }()
	clen := -1
	for at := 0; at < len(head); {
		end := bytes.IndexByte(head[at:], '\n')
		if end < 0 {
			end = len(head)
		} else {
			end += at
		}
		line := bytes.TrimSuffix(head[at:end], []byte("\r"))
		start := at
		at = end + 1
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name, known := internedName(line[:colon])
		if !known && colon <= maxNameLen {
			fresh = append(fresh, name)
		}
		v := colon + 1
		if v < len(line) && line[v] == ' ' {
			v++
		}
		x.keys = append(x.keys, name)
		x.vals = append(x.vals, span{int32(start + v), int32(start + len(line))})
		if name == "Content-Length" {
			if n, err := strconv.Atoi(string(line[v:])); err == nil && n >= 0 {
				clen = n
			}
		}
	}
	e := Event{idx: x}
	if len(x.keys) == 0 {
		return e, fmt.Errorf("%w: no headers", ErrBadEvent)
	}
	if clen >= 0 {
		if clen > len(rest) {
			return e, fmt.Errorf("%w: body shorter than Content-Length %d", ErrBadEvent, clen)
		}
		e.Body = string(rest[:clen])
	}
	return e, nil
}

// internedName is a header name as a string: the interned one when the
// name has been seen before (known), else a new string.
func internedName(raw []byte) (name string, known bool) {
	if tab := names.tab.Load(); tab != nil {
		if s, ok := (*tab)[string(raw)]; ok {
			return s, true
		}
	}
	return string(raw), false
}

// unescapePlain decodes a plain event's value: %XX escapes, and nothing
// else ('+' is itself: FreeSWITCH sends a plus as %2B). A value with a
// broken escape is kept as sent.
func unescapePlain(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return s
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return s
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

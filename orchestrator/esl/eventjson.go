package esl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseJSON decodes a text/event-json body: one flat JSON object whose
// values are strings (or, for repeated headers, arrays of strings); the
// event body is under "_body". It never fails on odd header names, and a
// value of another kind (a number is kept as written; true, false and
// nested objects are skipped) costs only that header.
//
// Every call's events pass through here (some 25 per call, 5-10 KB each,
// 150-250 headers), and a call reads a handful of headers of each. So the
// object is checked whole but not decoded: each header name (interned)
// is kept with where its value lies in b, and Get decodes that value
// alone, into a string of its own, so a value kept for long never holds
// the whole event. Values that need work to read (escapes, non-ASCII,
// arrays, numbers) are decoded now. It reads what encoding/json reads
// (the tests compare the two).
//
// The event keeps b: the caller must not change it afterwards.
func ParseJSON(b []byte) (Event, error) { return parseJSON(b, nil) }

// parseJSON is ParseJSON into recycled buffers: b is h.src's, and the
// index takes h's arrays (h nil: fresh ones).
func parseJSON(b []byte, h *eventBufs) (Event, error) {
	p := jsonScanner{b: b}
	defer p.learn()
	p.ws()
	if !p.eat('{') {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrBadEvent)
	}
	x := newHeaderIndex(b, h)
	e := Event{idx: x}
	p.ws()
	if p.eat('}') {
		return e, p.end()
	}
	for {
		p.ws()
		key, ok := p.key()
		if !ok {
			return Event{}, p.fail("a key")
		}
		p.ws()
		if !p.eat(':') {
			return Event{}, p.fail("':'")
		}
		p.ws()
		if start, end, plain := p.plainStr(); plain && key != "_body" {
			x.keys = append(x.keys, key)
			x.vals = append(x.vals, span{int32(start), int32(end)})
		} else {
			val, keep, ok := p.value()
			switch {
			case !ok:
				return Event{}, p.fail("a value")
			case keep && key == "_body":
				e.Body = val
			case keep:
				x.keys = append(x.keys, key)
				x.vals = append(x.vals, span{start: int32(-1 - len(x.decoded))})
				x.decoded = append(x.decoded, val)
			}
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return e, p.end()
		}
		return Event{}, p.fail("',' or '}'")
	}
}

// headerIndex is the headers of an event's body: names, and where each
// value lies in the body or, for values decoded while scanning, which.
type headerIndex struct {
	src     []byte
	keys    []string
	vals    []span
	decoded []string
	// plain: the values in src are URL-encoded (ParsePlain).
	plain bool
	// bufs: src and the arrays above are recycled (Event.Release).
	bufs *eventBufs
}

// span is a value's bytes in src, plain ASCII with no escapes; a negative
// start s is decoded[-1-s].
type span struct{ start, end int32 }

// newHeaderIndex is an empty index over b, in h's arrays when they are
// large enough (h nil: fresh ones). A FreeSWITCH event has a header per
// 40-odd bytes, in either format: sized once, the index does not grow
// while it fills.
func newHeaderIndex(b []byte, h *eventBufs) *headerIndex {
	n := min(max(len(b)/40, 16), 1024)
	x := &headerIndex{src: b, bufs: h}
	if h != nil && cap(h.keys) >= n {
		x.keys, x.vals = h.keys[:0], h.vals[:0]
	} else {
		x.keys, x.vals = make([]string, 0, n), make([]span, 0, n)
	}
	return x
}

func (x *headerIndex) value(i int) string {
	v := x.vals[i]
	if v.start < 0 {
		return x.decoded[-1-v.start]
	}
	if x.plain {
		return unescapePlain(string(x.src[v.start:v.end]))
	}
	return string(x.src[v.start:v.end])
}

// get finds the last header of that name, as a map filled in order would
// hold it; then, failing that, one whose name differs only in case.
func (x *headerIndex) get(name string) string {
	for i := len(x.keys) - 1; i >= 0; i-- {
		if x.keys[i] == name {
			return x.value(i)
		}
	}
	for i := len(x.keys) - 1; i >= 0; i-- {
		if strings.EqualFold(x.keys[i], name) {
			return x.value(i)
		}
	}
	return ""
}

func (x *headerIndex) all() map[string]string {
	m := make(map[string]string, len(x.keys))
	for i, k := range x.keys {
		m[k] = x.value(i)
	}
	return m
}

type jsonScanner struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
	// fresh are header names not interned yet.
	fresh []string
}

// names interns header names. FreeSWITCH sends the same few hundred in
// every event: once seen, a name costs a map lookup instead of an
// allocation. The table is replaced, never changed, so reading it takes
// no lock; it stops growing at maxNames names of at most maxNameLen
// bytes, whatever a peer sends.
var names struct {
	mu  sync.Mutex
	tab atomic.Pointer[map[string]string]
}

const (
	maxNames   = 4096
	maxNameLen = 64
)

// key reads a header name, interned when it is plain.
func (p *jsonScanner) key() (string, bool) {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		if end := bytes.IndexByte(p.b[p.i+1:], '"'); end >= 0 && end <= maxNameLen {
			if s, ok := internedName(p.b[p.i+1 : p.i+1+end]); ok {
				p.i += end + 2
				return s, true
			}
		}
	}
	start := p.i
	s, ok := p.str()
	if ok && p.i-start-2 == len(s) && len(s) <= maxNameLen {
		p.fresh = append(p.fresh, s) // plain: no escapes, ASCII
	}
	return s, ok
}

// learn adds the names this scan met for the first time.
func (p *jsonScanner) learn() { learn(p.fresh) }

// learn adds header names met for the first time to the interned ones.
func learn(fresh []string) {
	if len(fresh) == 0 {
		return
	}
	names.mu.Lock()
	defer names.mu.Unlock()
	var old map[string]string
	if tab := names.tab.Load(); tab != nil {
		old = *tab
	}
	if len(old) >= maxNames {
		return
	}
	tab := make(map[string]string, len(old)+len(fresh))
	for k, v := range old {
		tab[k] = v
	}
	for _, s := range fresh {
		if len(tab) >= maxNames {
			break
		}
		tab[s] = s
	}
	names.tab.Store(&tab)
}

func (p *jsonScanner) fail(want string) error {
	return fmt.Errorf("%w: want %s at byte %d", ErrBadEvent, want, p.i)
}

func (p *jsonScanner) end() error {
	p.ws()
	if p.i != len(p.b) {
		return p.fail("the end")
	}
	return nil
}

func (p *jsonScanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// value reads one value. keep is false for a value the event does not
// carry (true, false, an object, an array of other than strings).
func (p *jsonScanner) value() (val string, keep, ok bool) {
	if p.i >= len(p.b) {
		return "", false, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		return s, true, ok
	case c == '[':
		return p.array()
	case c == 'n':
		return "", true, p.literal("null")
	case c == 't':
		return "", false, p.literal("true")
	case c == 'f':
		return "", false, p.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '{':
		return "", false, p.skipObject()
	}
	return "", false, false
}

func (p *jsonScanner) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// number keeps a number as written.
func (p *jsonScanner) number() (string, bool, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return "", false, false
	}
	if p.eat('.') && !p.digits() {
		return "", false, false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return "", false, false
		}
	}
	return string(p.b[start:p.i]), true, true
}

func (p *jsonScanner) digits() bool {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n > 0
}

// array reads an array of strings into FreeSWITCH's plain form,
// "ARRAY::a|:b", so both event formats read the same. An array holding
// anything else is skipped.
func (p *jsonScanner) array() (string, bool, bool) {
	p.i++ // [
	var parts []string
	strs := true
	p.ws()
	if p.eat(']') {
		return "ARRAY::", true, true
	}
	for {
		p.ws()
		// null reads as "" in a list of strings, as encoding/json does.
		strs = strs && p.i < len(p.b) && (p.b[p.i] == '"' || p.b[p.i] == 'n')
		v, _, ok := p.value()
		if !ok {
			return "", false, false
		}
		parts = append(parts, v)
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat(']') {
			return "", false, false
		}
		if !strs {
			return "", false, true
		}
		return "ARRAY::" + strings.Join(parts, "|:"), true, true
	}
}

// skipObject passes over a nested object.
func (p *jsonScanner) skipObject() bool {
	p.i++ // {
	p.ws()
	if p.eat('}') {
		return true
	}
	for {
		p.ws()
		if _, ok := p.str(); !ok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		if _, _, ok := p.value(); !ok {
			return false
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// plainStr passes over a string value that is plain ASCII without
// escapes, reporting where its bytes lie; on anything else it reports
// false and leaves the scanner where it was.
func (p *jsonScanner) plainStr() (start, end int, ok bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return 0, 0, false
	}
	start = p.i + 1
	n := bytes.IndexByte(p.b[start:], '"')
	if n < 0 {
		return 0, 0, false
	}
	raw := p.b[start : start+n]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return 0, 0, false
	}
	if ascii, valid := plainASCII(raw); !ascii || !valid {
		return 0, 0, false
	}
	p.i = start + n + 1
	return start, start + n, true
}

// str reads a string. Without escapes it is one allocation; escapes,
// including \u surrogate pairs, decode as encoding/json decodes them, and
// invalid UTF-8 becomes U+FFFD.
func (p *jsonScanner) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	// Most strings hold neither escapes nor control characters nor
	// anything beyond ASCII: find the closing quote at memchr speed, then
	// check the span eight bytes at a time.
	end := bytes.IndexByte(p.b[start:], '"')
	if end < 0 {
		return "", false
	}
	raw := p.b[start : start+end]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return p.strEscaped(start)
	}
	ascii, ok := plainASCII(raw)
	if !ok {
		return "", false // a raw control character
	}
	p.i = start + end + 1
	if ascii {
		return string(raw), true
	}
	return validString(raw), true
}

// plainASCII reports whether b is all ASCII, and whether it is free of
// control characters (which JSON does not allow raw in a string).
func plainASCII(b []byte) (ascii, ok bool) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	ascii = true
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&highs != 0 {
			ascii = false
		}
		// A byte below 0x20 (in a word without high bits set).
		if (w-0x20*ones)&^w&highs != 0 {
			for _, c := range b[i : i+8] {
				if c < 0x20 {
					return false, false
				}
			}
		}
	}
	for _, c := range b[i:] {
		if c < 0x20 {
			return false, false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	return ascii, true
}

func (p *jsonScanner) strEscaped(start int) (string, bool) {
	out := append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = out[:0]
			return validString(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone half is U+FFFD, and
				// an escape after it that does not pair stands alone.
				dec := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", false
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dec = d
					} else {
						p.i = save
					}
				}
				r = dec
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *jsonScanner) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// validString makes a string of b with each byte that is not valid UTF-8
// replaced by U+FFFD, as encoding/json does.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = utf8.AppendRune(out, r) // RuneError for an invalid byte
		b = b[n:]
	}
	return string(out)
}

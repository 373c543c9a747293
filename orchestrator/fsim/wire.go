package fsim

// Wire-level helpers: reading client commands and writing FreeSWITCH frames
// byte-for-byte the way mod_event_socket does (FreeSWITCH 1.10).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	maxBodyLen   = 16 << 20 // FreeSWITCH drops clients sending bodies over 16 MiB
	maxHeaderLen = 1 << 20  // our own sanity limit for one header block
	goodbyeBody  = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
)

var (
	errBodyTooLarge   = errors.New("fsim: body too large")
	errHeaderTooLarge = errors.New("fsim: header block too large")
)

// command is one client message: the command line, its extra header lines
// (names as sent; look them up case-insensitively) and an optional body.
type command struct {
	line    string
	headers []hdr
	body    string
	// headerBytes counts the bytes before the body, stray line breaks
	// included: FreeSWITCH reads them one read(2) at a time.
	headerBytes int
}

// header returns the first header whose name matches (case-insensitively).
func (c *command) header(name string) (string, bool) {
	for _, h := range c.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// readCommand reads one client message. Stray CR/LF bytes before the command
// line are skipped (eslgo sends "\r\n\r\n" after every command); the header
// block ends at an empty line (CRs ignored) and is split as FreeSWITCH
// splits it (splitBlock). A Content-Length header announces a body of
// exactly that many bytes.
func readCommand(r *bufio.Reader) (*command, error) {
	var c command
	var block []byte
	for {
		line, err := readLine(r, maxHeaderLen-len(block))
		if err != nil {
			return nil, err
		}
		c.headerBytes += len(line)
		if len(bytes.Trim(line, "\r\n")) == 0 {
			if len(block) == 0 {
				continue // stray line break between messages
			}
			break
		}
		block = append(block, line...)
	}
	c.line, c.headers = splitBlock(string(block))
	if cl, ok := c.header("Content-Length"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err == nil && n > 0 {
			if n > maxBodyLen {
				return nil, errBodyTooLarge
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, err
			}
			c.body = string(buf)
		}
	}
	return &c, nil
}

// splitBlock splits a header block into its command line and headers the
// way mod_event_socket's read_packet does: a line ends at the next CR when
// the rest of the block has one, else at the next LF. So lines ending in
// CRLF and lines ending in LF both parse, but an LF-only line before a CR
// runs on to that CR: in "bgapi x\nJob-UUID: 1\r\n" the command is
// "bgapi x\nJob-UUID: 1" and there is no Job-UUID header. Header lines
// without a colon are ignored.
func splitBlock(block string) (line string, headers []hdr) {
	cut := func(s string) int {
		if i := strings.IndexByte(s, '\r'); i >= 0 {
			return i
		}
		return strings.IndexByte(s, '\n')
	}
	rest := block
	first := true
	for rest != "" {
		l := rest
		if i := cut(rest); i >= 0 {
			l, rest = rest[:i], strings.TrimLeft(rest[i:], "\r\n")
		} else {
			rest = ""
		}
		if first {
			line, first = l, false
			continue
		}
		if name, value, ok := strings.Cut(l, ":"); ok {
			headers = append(headers, hdr{strings.TrimSpace(name), strings.TrimLeft(value, " \t")})
		}
	}
	return line, headers
}

// readLine reads one LF-terminated line, as it came (the LF and any CR
// kept), at most limit bytes.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > limit {
			return nil, errHeaderTooLarge
		}
		if err == nil {
			return buf, nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
}

// urlEncode encodes a header value like switch_url_encode: bytes below 0x20 or
// above '~' and the characters in urlUnsafe become %XX; an existing %XX
// sequence is kept as it is (FreeSWITCH does not double-encode).
func urlEncode(s string) string {
	need := false
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			c := s[i]
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// urlEncodedLen is len(urlEncode(s)) without building it.
func urlEncodedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			n += 2
		}
	}
	return n
}

// appendURLEncoded appends urlEncode(s) to b, copying the runs that need
// no encoding whole: every event a connection takes in the plain format
// passes here once, and most of its bytes are such runs.
func appendURLEncoded(b []byte, s string) []byte {
	const hexdig = "0123456789ABCDEF"
	run := 0
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			c := s[i]
			b = append(b, s[run:i]...)
			b = append(b, '%', hexdig[c>>4], hexdig[c&15])
			run = i + 1
		}
	}
	return append(b, s[run:]...)
}

const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// unsafeByte marks the bytes switch_url_encode encodes: below 0x20,
// above '~', and urlUnsafe's (a '%' only when it starts no escape).
var unsafeByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c > '~' || strings.IndexByte(urlUnsafe, byte(c)) >= 0
	}
	return t
}()

func mustEncode(s string, i int) bool {
	c := s[i]
	if c == '%' {
		return !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]))
	}
	return unsafeByte[c]
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// urlDecode reverses urlEncode (lossy for literal %XX, as in FreeSWITCH).
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- frames written by the server ----

func frameAuthRequest() []byte { return []byte("Content-Type: auth/request\n\n") }

// frameReply builds a command/reply frame; extra headers follow Reply-Text.
func frameReply(text string, extra ...hdr) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: command/reply\nReply-Text: ")
	b.WriteString(text)
	b.WriteByte('\n')
	for _, h := range extra {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// frameAPI builds an api/response frame; the body is the API output verbatim.
func frameAPI(body string) []byte {
	if body == "" {
		body = "-ERR no reply\n"
	}
	return []byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

// frameDisconnect is the notice sent before the server closes a connection.
// uuid is the controlled session ("" for a plain inbound connection).
func frameDisconnect(uuid string) []byte {
	if uuid == "" {
		return []byte("Content-Type: text/disconnect-notice\nContent-Length: " + strconv.Itoa(len(goodbyeBody)) + "\n\n" + goodbyeBody)
	}
	return []byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + uuid +
		"\nContent-Disposition: disconnect\nContent-Length: " + strconv.Itoa(len(goodbyeBody)) + "\n\n" + goodbyeBody)
}

// frameLinger is the notice sent when a lingering session's channel goes down.
func frameLinger(uuid, channelName string, lingerSecs int) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: linger\nChannel-Name: %s\nLinger-Time: %d\nContent-Length: 0\n\n",
		uuid, channelName, lingerSecs))
}

// encodeHeaderBlock writes "Name: urlencoded-value\n" lines.
func encodeHeaderBlock(b *bytes.Buffer, hs []hdr) {
	for _, h := range hs {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.value))
		b.WriteByte('\n')
	}
}

// jsonString appends s as a JSON string the way cJSON prints it.
func jsonString(b *bytes.Buffer, s string) {
	const hexdig = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexdig[c>>4])
				b.WriteByte(hexdig[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

func xmlEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteByte(s[i])
		}
	}
}

// splitArgs splits a command or application argument string on spaces, the
// way switch_separate_string does: a single-quoted group is one token and
// its quotes are removed.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inq := false
	have := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inq = !inq
			have = true
		case c == ' ' && !inq:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

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
// line are skipped (eslgo sends "\r\n\r\n" after every command); lines may end
// in "\n" or "\r\n". A Content-Length header announces a body of exactly that
// many bytes.
func readCommand(r *bufio.Reader) (*command, error) {
	var c command
	total := 0
	first := true
	for {
		line, err := readLine(r, maxHeaderLen-total)
		if err != nil {
			return nil, err
		}
		total += len(line) + 1
		if line == "" {
			if first {
				continue // stray newline between messages
			}
			break
		}
		if first {
			c.line = line
			first = false
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			// FreeSWITCH ignores header lines without a colon.
			continue
		}
		c.headers = append(c.headers, hdr{strings.TrimSpace(name), strings.TrimLeft(value, " \t")})
	}
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

// readLine reads one LF-terminated line, dropping CR bytes (FreeSWITCH counts
// LFs and ignores CRs).
func readLine(r *bufio.Reader, limit int) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > limit {
			return "", errHeaderTooLarge
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	buf = buf[:len(buf)-1]
	if bytes.IndexByte(buf, '\r') >= 0 {
		buf = bytes.ReplaceAll(buf, []byte{'\r'}, nil)
	}
	return string(buf), nil
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

// appendURLEncoded appends urlEncode(s) to b.
func appendURLEncoded(b []byte, s string) []byte {
	const hexdig = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			c := s[i]
			b = append(b, '%', hexdig[c>>4], hexdig[c&15])
			continue
		}
		b = append(b, s[i])
	}
	return b
}

const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

func mustEncode(s string, i int) bool {
	c := s[i]
	if c < 0x20 || c > '~' {
		return true
	}
	if c == '%' {
		return !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]))
	}
	return strings.IndexByte(urlUnsafe, c) >= 0
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

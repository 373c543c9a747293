package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// Bounds of one frame read from a peer. FreeSWITCH's largest frames are
// connect replies and events of channels with many variables (tens of KiB);
// a peer that goes past these is broken or hostile, and the connection is
// dropped rather than allowed to grow memory without end.
const (
	maxFrameLine    = 64 << 10 // one header line
	maxFrameHeaders = 1 << 20  // a frame's header block
	maxFrameBody    = 8 << 20  // Content-Length
)

// ErrFrame: the peer sent something that is not an ESL frame within the
// bounds above. The connection is closed.
var ErrFrame = errors.New("esl: malformed frame")

// frame is one message from FreeSWITCH: header lines, a blank line, and
// Content-Length bytes of body. Header values are kept as sent (FreeSWITCH
// URL-encodes those of connect replies and plain events).
type frame struct {
	headers map[string]string
	body    []byte
	// bufs: an event's body, in recycled buffers (eventBody).
	bufs *eventBufs
}

func (f *frame) get(name string) string { return f.headers[name] }

// decoded returns a header's value URL-decoded (as sent, when it is not
// valid URL encoding).
func (f *frame) decoded(name string) string {
	v := f.headers[name]
	if dec, err := url.PathUnescape(v); err == nil {
		return dec
	}
	return v
}

// frameReader reads frames from a peer within the bounds above.
type frameReader struct {
	r    *bufio.Reader
	long []byte // a line longer than r's buffer, being put together
	// spare is a header map handed back (recycle) for the next frame.
	spare map[string]string
}

// recycle hands back the header map of a frame nobody keeps (an
// event's, once its body is decoded) for the next frame to fill.
func (fr *frameReader) recycle(headers map[string]string) { fr.spare = headers }

// newFrameReader reads from r with a small buffer: one is held per live
// call, and most lines are short.
func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 4<<10)}
}

// next reads one frame. Blank lines between frames are skipped.
func (fr *frameReader) next() (frame, error) {
	f := frame{headers: fr.spare}
	if f.headers == nil {
		f.headers = make(map[string]string, 8)
	} else {
		fr.spare = nil
		clear(f.headers)
	}
	total := 0
	for {
		line, err := fr.line()
		if err != nil {
			return frame{}, err
		}
		total += len(line) + 1
		if total > maxFrameHeaders {
			return frame{}, fmt.Errorf("%w: header block over %d bytes", ErrFrame, maxFrameHeaders)
		}
		if len(line) == 0 {
			if len(f.headers) == 0 {
				continue
			}
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return frame{}, fmt.Errorf("%w: header line without a colon", ErrFrame)
		}
		f.headers[intern(bytes.TrimSpace(name))] = intern(bytes.TrimLeft(value, " \t"))
	}
	cl, ok := f.headers["Content-Length"]
	if !ok {
		return f, nil
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 || n > maxFrameBody {
		return frame{}, fmt.Errorf("%w: Content-Length %.32q", ErrFrame, cl)
	}
	if ct := f.headers["Content-Type"]; ct == "text/event-json" || ct == "text/event-plain" {
		f.body, f.bufs = eventBody(n)
	} else {
		f.body = make([]byte, n)
	}
	if _, err := io.ReadFull(fr.r, f.body); err != nil {
		return frame{}, fmt.Errorf("esl: reading a %d-byte body: %w", n, err)
	}
	return f, nil
}

// intern is b as a string; the header names and content types every
// frame carries are not allocated again for each.
func intern(b []byte) string {
	switch string(b) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Reply-Text":
		return "Reply-Text"
	case "text/event-json":
		return "text/event-json"
	case "text/event-plain":
		return "text/event-plain"
	case "command/reply":
		return "command/reply"
	case "api/response":
		return "api/response"
	}
	return string(b)
}

// line reads one line without its "\n" (or "\r\n"), at most maxFrameLine
// bytes. The slice is valid until the next read.
func (fr *frameReader) line() ([]byte, error) {
	line, err := fr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		fr.long = append(fr.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(fr.long) <= maxFrameLine {
			line, err = fr.r.ReadSlice('\n')
			fr.long = append(fr.long, line...)
		}
		line = fr.long
		if cap(fr.long) > 2*maxFrameLine/4 {
			fr.long = nil // do not keep a large buffer for the call's life
		}
	}
	if len(line) > maxFrameLine {
		return nil, fmt.Errorf("%w: header line over %d bytes", ErrFrame, maxFrameLine)
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

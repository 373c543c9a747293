package fsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tframe is one frame received from the emulator.
type tframe struct {
	raw     []byte
	ctype   string
	outer   []hdr
	body    string
	ev      map[string]string // event headers (decoded), also the CHANNEL_DATA reply
	evOrder []hdr
	evBody  string
}

func (f *tframe) get(name string) string {
	for _, h := range f.outer {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

func (f *tframe) isEvent() bool { return strings.HasPrefix(f.ctype, "text/event-") }

func (f *tframe) name() string { return f.ev["Event-Name"] }

func (f *tframe) String() string {
	if f.isEvent() {
		return fmt.Sprintf("event %s uuid=%s app=%s", f.ev["Event-Name"], f.ev["Unique-ID"], f.ev["Application"])
	}
	return fmt.Sprintf("%s %q %q", f.ctype, f.get("Reply-Text"), f.body)
}

// readFrame reads one frame: a header block, then Content-Length bytes.
func readFrame(r *bufio.Reader) (*tframe, error) {
	f := &tframe{}
	var raw strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		raw.WriteString(line)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(f.outer) == 0 {
				continue
			}
			break
		}
		n, v, _ := strings.Cut(line, ": ")
		f.outer = append(f.outer, hdr{n, v})
	}
	if cl := f.get("Content-Length"); cl != "" {
		n, _ := strconv.Atoi(cl)
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		f.body = string(b)
		raw.Write(b)
	}
	f.raw = []byte(raw.String())
	f.ctype = f.get("Content-Type")
	switch f.ctype {
	case "text/event-plain":
		f.ev = map[string]string{}
		head, body, _ := strings.Cut(f.body, "\n\n")
		for _, line := range strings.Split(head, "\n") {
			n, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			v = urlDecode(v)
			f.evOrder = append(f.evOrder, hdr{n, v})
			if _, dup := f.ev[n]; !dup {
				f.ev[n] = v
			}
		}
		if _, ok := f.ev["Content-Length"]; ok {
			f.evBody = body
		}
	case "text/event-json":
		raw := map[string]any{}
		if err := json.Unmarshal([]byte(f.body), &raw); err != nil {
			return nil, fmt.Errorf("bad json event: %v: %s", err, f.body)
		}
		m := map[string]string{}
		for k, v := range raw {
			switch x := v.(type) {
			case string:
				m[k] = x
			case []any:
				parts := make([]string, len(x))
				for i, p := range x {
					parts[i], _ = p.(string)
				}
				m[k] = "ARRAY::" + strings.Join(parts, "|:")
			}
		}
		f.ev = m
		f.evBody = m["_body"]
	case "command/reply":
		if f.get("Event-Name") == "CHANNEL_DATA" {
			f.ev = map[string]string{}
			for _, h := range f.outer {
				v := urlDecode(h.value)
				f.evOrder = append(f.evOrder, hdr{h.name, v})
				if _, dup := f.ev[h.name]; !dup {
					f.ev[h.name] = v
				}
			}
		}
	}
	return f, nil
}

// tclient is an ESL peer for tests: an inbound client, or the app side of
// an outbound socket.
type tclient struct {
	t       testing.TB
	nc      net.Conn
	replies chan *tframe
	events  chan *tframe
	mu      sync.Mutex
	all     []*tframe
	closed  chan struct{}
}

func newTClient(t testing.TB, nc net.Conn) *tclient {
	c := &tclient{t: t, nc: nc, replies: make(chan *tframe, 10000), events: make(chan *tframe, 100000), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		r := bufio.NewReader(nc)
		for {
			f, err := readFrame(r)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.all = append(c.all, f)
			c.mu.Unlock()
			if f.isEvent() {
				c.events <- f
			} else {
				c.replies <- f
			}
		}
	}()
	t.Cleanup(func() { nc.Close() })
	return c
}

func dialESL(t testing.TB, addr string) *tclient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := newTClient(t, nc)
	if f := c.reply(); f.ctype != "auth/request" {
		t.Fatalf("greeting: %v", f)
	}
	return c
}

const waitTimeout = 10 * time.Second

func (c *tclient) reply() *tframe {
	c.t.Helper()
	select {
	case f := <-c.replies:
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("no reply within %v", waitTimeout)
	}
	return nil
}

func (c *tclient) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends a command (lines joined with \n, terminated by a blank line)
// and returns its reply.
func (c *tclient) cmd(lines ...string) *tframe {
	c.t.Helper()
	c.write(strings.Join(lines, "\n") + "\n\n")
	return c.reply()
}

// okCmd sends a command and checks its Reply-Text.
func (c *tclient) okCmd(want string, lines ...string) *tframe {
	c.t.Helper()
	f := c.cmd(lines...)
	if got := f.get("Reply-Text"); got != want {
		c.t.Fatalf("%q: reply %q, want %q", lines[0], got, want)
	}
	return f
}

func (c *tclient) api(cmd string) string {
	c.t.Helper()
	f := c.cmd("api " + cmd)
	if f.ctype != "api/response" {
		c.t.Fatalf("api %s: got %v", cmd, f)
	}
	return f.body
}

// waitEvent returns the next event satisfying pred, discarding others.
func (c *tclient) waitEvent(desc string, pred func(*tframe) bool) *tframe {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.events:
			if pred(f) {
				return f
			}
		case <-deadline:
			c.t.Fatalf("no %s event within %v", desc, waitTimeout)
			return nil
		}
	}
}

func (c *tclient) waitName(name string) *tframe {
	c.t.Helper()
	return c.waitEvent(name, func(f *tframe) bool { return f.name() == name })
}

// collect gathers events until pred matches (inclusive).
func (c *tclient) collectUntil(pred func(*tframe) bool) []*tframe {
	c.t.Helper()
	var out []*tframe
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.events:
			out = append(out, f)
			if pred(f) {
				return out
			}
		case <-deadline:
			names := []string{}
			for _, f := range out {
				names = append(names, f.name()+"/"+f.ev["Application"])
			}
			c.t.Fatalf("condition not met within %v; got %v", waitTimeout, names)
			return nil
		}
	}
}

func (c *tclient) waitClosed() {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(waitTimeout):
		c.t.Fatalf("connection not closed within %v", waitTimeout)
	}
}

// socketServer stands in for Switchyard's outbound-socket server.
type socketServer struct {
	t     testing.TB
	ln    net.Listener
	conns chan *tclient
}

func newSocketServer(t testing.TB) *socketServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss := &socketServer{t: t, ln: ln, conns: make(chan *tclient, 1000)}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			ss.conns <- newTClient(t, nc)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ss
}

func (ss *socketServer) addr() string { return ss.ln.Addr().String() }

func (ss *socketServer) accept() *tclient {
	ss.t.Helper()
	select {
	case c := <-ss.conns:
		return c
	case <-time.After(waitTimeout):
		ss.t.Fatalf("no outbound socket connection within %v", waitTimeout)
	}
	return nil
}

// newTestServer starts an emulator for tests: no media tick, fast clock.
func newTestServer(t testing.TB, mut ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{Speed: 100, RecordingsDir: t.TempDir()}
	for _, m := range mut {
		m(&cfg)
	}
	s := New(cfg)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func authed(t testing.TB, s *Server) *tclient {
	t.Helper()
	c := dialESL(t, s.Addr())
	c.okCmd("+OK accepted", "auth ClueCon")
	return c
}

func names(fs []*tframe) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		n := f.name()
		if a := f.ev["Application"]; a != "" && strings.HasPrefix(n, "CHANNEL_EXECUTE") {
			n += "(" + a + ")"
		}
		out = append(out, n)
	}
	return out
}

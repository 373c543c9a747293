package esl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// peer is the FreeSWITCH side of one ESL connection in a test: it reads the
// client's commands and writes frames, byte for byte as FreeSWITCH does.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	wmu  sync.Mutex
}

func newPeer(t *testing.T, c net.Conn) *peer {
	return &peer{t: t, conn: c, r: bufio.NewReader(c)}
}

// cmd is one command the client sent.
type cmd struct {
	Line    string
	Headers map[string]string
	Body    string
}

// read returns the next command, skipping stray line breaks between
// commands as FreeSWITCH does.
func (p *peer) read() (cmd, error) {
	var c cmd
	c.Headers = map[string]string{}
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			return c, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if c.Line == "" {
				continue
			}
			break
		}
		if c.Line == "" {
			c.Line = line
			continue
		}
		k, v, _ := strings.Cut(line, ": ")
		c.Headers[k] = v
	}
	if c.Line == "exit" { // as FreeSWITCH: +OK bye, a disconnect notice, close
		p.reply("+OK bye")
		p.write("Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
		p.conn.Close()
		return c, io.EOF
	}
	if n, err := strconv.Atoi(c.Headers["Content-Length"]); err == nil && n > 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(p.r, body); err != nil {
			return c, err
		}
		c.Body = string(body)
	}
	return c, nil
}

func (p *peer) mustRead() cmd {
	p.t.Helper()
	c, err := p.read()
	if err != nil {
		p.t.Fatalf("fake FreeSWITCH: read: %v", err)
	}
	return c
}

// expectLines reads len(want) commands before replying to any (they came
// as one pipeline) and fails unless their first lines are want.
func (p *peer) expectLines(want ...string) {
	p.t.Helper()
	var lines []string
	for range want {
		lines = append(lines, p.mustRead().Line)
	}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		p.t.Fatalf("commands %q, want %q", lines, want)
	}
}

// nodeConnects answers a Node's (re)connection from its filters on: it
// takes the filters, returning them, then the subscription, which must be
// sub ("" takes any), and tells the node its Core-UUID is core.
func (p *peer) nodeConnects(sub, core string) (filters []string) {
	p.t.Helper()
	cmd := p.mustRead()
	for strings.HasPrefix(cmd.Line, "filter ") {
		filters = append(filters, cmd.Line)
		p.reply("+OK filter added. [" + strings.TrimPrefix(cmd.Line, "filter ") + "]")
		cmd = p.mustRead()
	}
	if sub != "" && cmd.Line != sub {
		p.t.Fatalf("subscription %q, want %q", cmd.Line, sub)
	}
	p.reply("+OK event listener enabled json")
	if cmd := p.mustRead(); cmd.Line != "api global_getvar core_uuid" {
		p.t.Fatalf("%q, want the node's Core-UUID asked for", cmd.Line)
	}
	p.api(core + "\n")
	return filters
}

func (p *peer) write(s string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, _ = io.WriteString(p.conn, s)
}

func (p *peer) reply(text string) {
	p.write("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func (p *peer) api(body string) {
	p.write(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

// event writes a text/event-json frame.
func (p *peer) event(headers map[string]string, body string) {
	m := map[string]string{}
	for k, v := range headers {
		m[k] = v
	}
	if body != "" {
		m["_body"] = body
	}
	b, _ := json.Marshal(m)
	p.write(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-json\n\n%s", len(b), b))
}

// plainEvent writes a text/event-plain frame with the headers in order.
func (p *peer) plainEvent(lines ...string) {
	body := strings.Join(lines, "\n") + "\n\n"
	p.write(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
}

// inboundServer is a fake node's mod_event_socket: it authenticates every
// connection and hands it to serve.
type inboundServer struct {
	l     net.Listener
	conns chan *peer
}

func newInboundServer(t *testing.T) *inboundServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &inboundServer{l: l, conns: make(chan *peer, 16)}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Like FreeSWITCH, the fake closes a connection only after
			// exit (see peer.read): a peer that drops the socket at the
			// instant Switchyard closes it trips eslgo's internal race.
			p := newPeer(t, c)
			p.write("Content-Type: auth/request\n\n")
			go func() {
				a, err := p.read()
				if err != nil || a.Line != "auth ClueCon" {
					p.reply("-ERR invalid")
					c.Close()
					return
				}
				p.reply("+OK accepted")
				s.conns <- p
			}()
		}
	}()
	return s
}

func (s *inboundServer) addr() string { return s.l.Addr().String() }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

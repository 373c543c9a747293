package esl

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveOutbound starts a Server on loopback and returns its address.
func serveOutbound(t *testing.T, h Handler) (*Server, string) {
	t.Helper()
	return serveOutboundWith(t, h, ServerConfig{})
}

// serveOutboundWith is serveOutbound with settings.
func serveOutboundWith(t *testing.T, h Handler, cfg ServerConfig) (*Server, string) {
	t.Helper()
	srv := NewServerWith(h, cfg, discard())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, l.Addr().String()
}

// dialAsFreeSWITCH connects to Switchyard as the socket application does
// and answers connect with the channel data.
func dialAsFreeSWITCH(t *testing.T, addr, uuid string) *peer {
	t.Helper()
	return dialWithData(t, addr, "Unique-ID: "+uuid+"\nCaller-Caller-ID-Number: %2B15550109999\nCaller-Destination-Number: %2B15550000100\n")
}

// dialWithData connects as the socket application does and answers
// connect with the channel data headers given (each line ending in \n).
func dialWithData(t *testing.T, addr, headers string) *peer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := newPeer(t, c)
	if cmd := p.mustRead(); cmd.Line != "connect" {
		t.Fatalf("first command %q, want connect", cmd.Line)
	}
	p.write("Event-Name: CHANNEL_DATA\n" + headers + "Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n")
	return p
}

// Hazard: eslgo closes an outbound connection as soon as the handler
// returns, and on the first disconnect notice unless linger was sent, so
// CHANNEL_HANGUP_COMPLETE (the billing record) would be lost. The handler
// lives for the call and lingers.
func TestOutboundHandlerGetsHangupCompleteAfterLingerNotice(t *testing.T) {
	got := make(chan Event, 1)
	data := make(chan Event, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		data <- s.Data
		final := make(chan Event, 8)
		s.Route(s.UUID, func(ev Event) {
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
				final <- ev
			}
		})
		if err := s.Linger(ctx, 1); err != nil {
			t.Error(err)
			return
		}
		if err := s.Subscribe(ctx, "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"); err != nil {
			t.Error(err)
			return
		}
		select {
		case ev := <-final:
			got <- ev
		case <-time.After(10 * time.Second):
		}
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	if cmd := p.mustRead(); cmd.Line != "linger 1" {
		t.Fatalf("got %q, want linger 1", cmd.Line)
	}
	p.reply("+OK will linger 1 seconds")
	p.mustRead()
	p.reply("+OK event listener enabled json")
	// The hang-up, then the linger notice, then the final record, as in
	// transcript 07 (the notice can come before HANGUP_COMPLETE).
	p.event(map[string]string{"Event-Name": "CHANNEL_HANGUP", "Unique-ID": "u1", "Hangup-Cause": "NORMAL_CLEARING"}, "")
	p.lingerNotice("u1")
	p.event(map[string]string{"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u1", "variable_billsec": "12"}, "")
	d := <-data
	if d.Get("Caller-Destination-Number") != "+15550000100" || d.Get("Unique-ID") != "u1" {
		t.Errorf("channel data = %v", d.Headers)
	}
	select {
	case ev := <-got:
		if ev.Var("billsec") != "12" {
			t.Errorf("final record = %v", ev.All())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CHANNEL_HANGUP_COMPLETE never reached the handler")
	}
	// Once the handler is done, the socket closes when the linger time
	// runs out (or on exit); either way the connection ends.
	for {
		if _, err := p.read(); err != nil {
			break
		}
	}
}

// An outbound socket's commands for its own channel leave its UUID out
// (FreeSWITCH applies them to that channel); others name theirs.
func TestOutboundOwnChannelCommandsOmitTheUUID(t *testing.T) {
	done := make(chan struct{})
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		defer close(done)
		if _, err := s.Execute(ctx, s.UUID, "answer", ""); err != nil {
			t.Error(err)
		}
		if _, err := s.Execute(ctx, "u2", "answer", ""); err != nil {
			t.Error(err)
		}
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	for _, want := range []string{"sendmsg", "sendmsg u2"} {
		cmd := p.mustRead()
		if cmd.Line != want || cmd.Headers["execute-app-name"] != "answer" {
			t.Errorf("got %q %v, want %q", cmd.Line, cmd.Headers, want)
		}
		p.reply("+OK")
	}
	<-done // the handler takes its last reply before the test closes the socket
}

// The node reads header bytes one system call apiece, so the bytes are
// pinned: bare LFs, no Event-UUID for an application nobody waits for, a
// long argument in a body with nothing after it.
func TestOutboundCommandsAreShortOnTheWire(t *testing.T) {
	dial := "[leg_timeout=30]sofia/gateway/carrier/+15550001234"
	done := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		_, err := s.Pipeline(ctx, []string{
			s.ExecuteCmd(s.UUID, "answer", "", "", true),
			s.ExecuteCmd(s.UUID, "bridge", dial, "x.1", false),
			FilterCmd("Unique-ID", "leg-1"),
		})
		done <- err
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	want := "sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n\n" +
		"sendmsg\ncall-command: execute\nexecute-app-name: bridge\nEvent-UUID: x.1\n" +
		"Content-Type: text/plain\nContent-Length: " + strconv.Itoa(len(dial)) + "\n\n" + dial +
		"filter Unique-ID leg-1\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(p.r, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("on the wire:\n%q\nwant\n%q", got, want)
	}
	for range 3 {
		p.reply("+OK")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Post returns before the replies come; they reach its callback in order,
// and a command sent after it still gets its own reply.
func TestOutboundPostDoesNotWaitForReplies(t *testing.T) {
	posted := make(chan []Reply, 1)
	api := make(chan string, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		if err := s.Post([]string{s.ExecuteCmd(s.UUID, "answer", "", "", true), FilterCmd("Unique-ID", "leg-1")},
			func(rs []Reply) { posted <- rs }); err != nil {
			t.Error(err)
			return
		}
		body, err := s.API(ctx, "status")
		if err != nil {
			t.Error(err)
		}
		api <- body
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	// All three commands arrive before any reply goes back.
	p.expectLines("sendmsg", "filter Unique-ID leg-1", "api status")
	p.reply("+OK")
	p.reply("-ERR invalid filter")
	p.api("UP 0 years")
	rs := <-posted
	if len(rs) != 2 || rs[0].Text != "+OK" || rs[1].Text != "-ERR invalid filter" {
		t.Errorf("posted commands' replies = %+v", rs)
	}
	if body := <-api; body != "UP 0 years" {
		t.Errorf("api reply = %q", body)
	}
}

// Replies that never come poison the connection, as a timed-out Send does.
func TestOutboundPostWithoutRepliesPoisonsTheSocket(t *testing.T) {
	gone := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		s.replyWait = time.Millisecond
		if err := s.Post([]string{FilterCmd("Unique-ID", "leg-1")}, func([]Reply) { t.Error("replies from nowhere") }); err != nil {
			t.Error(err)
		}
		<-s.Done()
		gone <- s.Err()
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.expectLines("filter Unique-ID leg-1")
	if err := <-gone; !errors.Is(err, ErrPoisoned) {
		t.Fatalf("socket closed with %v, want ErrPoisoned", err)
	}
}

// A pipeline goes out in one write: FreeSWITCH has every command before
// it answers the first, and the replies come back to their commands in
// order, a refusal to its own.
func TestOutboundPipelineSendsCommandsTogether(t *testing.T) {
	type result struct {
		replies []Reply
		err     error
	}
	got := make(chan result, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		rs, err := s.Pipeline(ctx, []string{
			s.ExecuteCmd(s.UUID, "answer", "", "a1", true),
			FilterCmd("Unique-ID", "leg-1"),
			s.ExecuteCmd(s.UUID, "playback", "/sounds/hello.wav", "a2", true),
		})
		got <- result{rs, err}
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.expectLines("sendmsg", "filter Unique-ID leg-1", "sendmsg")
	p.reply("+OK")
	p.reply("-ERR invalid filter")
	p.reply("+OK")
	r := <-got
	if r.err != nil || len(r.replies) != 3 {
		t.Fatalf("replies %v, err %v", r.replies, r.err)
	}
	if ReplyErr("answer", r.replies[0]) != nil || ReplyErr("playback", r.replies[2]) != nil {
		t.Errorf("accepted commands reported refused: %v", r.replies)
	}
	if err := ReplyErr("filter", r.replies[1]); !errors.Is(err, ErrCommand) {
		t.Errorf("refused filter: %v", err)
	}
}

// Follow's commands go out together, the filters before the
// subscription, and a refused one fails it.
func TestOutboundFollowTakesOneRoundTrip(t *testing.T) {
	got := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		got <- s.Follow(ctx, 7, []Filter{{Name: "Application", Value: "-answer"}}, "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.expectLines("linger 7", "filter Unique-ID u1", "filter Application -answer", "event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
	p.reply("+OK will linger 7 seconds")
	p.reply("+OK filter added. [Unique-ID]=[u1]")
	p.reply("+OK filter added. [Application]=[-answer]")
	p.reply("-ERR no keywords supplied")
	if err := <-got; !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), "event") {
		t.Fatalf("Follow with a refused subscription: %v, want the event command's ErrCommand", err)
	}
}

// A reply no command waits for means the two sides lost count of their
// commands: the connection is closed rather than let it answer the next.
func TestOutboundUnaskedReplyClosesTheSocket(t *testing.T) {
	gone := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		select {
		case <-s.Done():
			gone <- s.Err()
		case <-time.After(10 * time.Second):
			gone <- nil
		}
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.reply("+OK")
	if err := <-gone; !errors.Is(err, ErrFrame) {
		t.Fatalf("socket after an unasked reply: %v, want ErrFrame", err)
	}
}

// Once the handler is done with a channel FreeSWITCH said is down, the
// socket closes at once instead of waiting out the linger time: the node's
// session thread polls a lingering socket every 20 ms until it closes.
func TestOutboundClosesADownChannelsSocketOnceTheCallIsDone(t *testing.T) {
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		final := make(chan struct{})
		s.Route(s.UUID, func(ev Event) {
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
				close(final)
			}
		})
		if err := s.Linger(ctx, 3600); err != nil {
			t.Error(err)
			return
		}
		<-final
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.lingerThenHangUp("u1")
	// An hour of linger: only the server's own close ends this read.
	p.waitClosed("the socket stayed open after the call was done")
}

// Shutdown stops accepting calls at once (FreeSWITCH then tries its next
// socket address) but lets live calls finish.
func TestShutdownStopsAcceptingAndDrains(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	srv, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		started.Add(1)
		<-release
	})
	p := dialAsFreeSWITCH(t, addr, "live")
	waitLive(t, srv)
	// The call hangs up (with linger) while Switchyard is draining it.
	p.lingerNotice("live")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	// New calls are refused while the live one drains. Probing starts
	// once Shutdown has begun: a half-open probe accepted before that
	// would be a (closed) call handed to eslgo, whose close-while-starting
	// race the race detector reports.
	for !srv.Draining() {
		runtime.Gosched()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // refused: the listener is closed
		}
		c.Close()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a call was live", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after Shutdown")
		}
		runtime.Gosched()
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v before the live call ended", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if started.Load() != 1 {
		t.Errorf("%d sessions started", started.Load())
	}
}

// At the drain deadline the handlers are asked to hang up (their context
// ends); Shutdown reports the calls it had to cut.
func TestShutdownDeadlineCutsCalls(t *testing.T) {
	srv, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		<-ctx.Done()
		// A real handler hangs its call up here; FreeSWITCH then sends the
		// linger notice.
		s.Kill(context.Background(), s.UUID, "SYSTEM_SHUTDOWN")
	})
	p := dialAsFreeSWITCH(t, addr, "stuck")
	waitLive(t, srv)
	go func() {
		cmd := p.mustRead()
		if cmd.Line != "api uuid_kill stuck SYSTEM_SHUTDOWN" {
			t.Errorf("got %q, want the call killed", cmd.Line)
		}
		p.api("+OK\n")
		p.lingerNotice("stuck")
		for {
			if _, err := p.read(); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 calls still live") {
		t.Errorf("Shutdown = %v", err)
	}
	if srv.Live() != 0 {
		t.Errorf("%d calls live after Shutdown", srv.Live())
	}
}

// Hazard: eslgo never reconnects. Node redials, subscribes again and
// notices a restarted node by its Core-UUID.
func TestNodeReconnectsAndResubscribes(t *testing.T) {
	srv := newInboundServer(t)
	restarted := make(chan [2]string, 1)
	n := NewNode(NodeConfig{Addr: srv.addr(), Password: "ClueCon", Events: []string{"CHANNEL_CREATE"},
		HeartbeatTimeout: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond, Logger: discard(),
		OnRestart: func(old, new string) { restarted <- [2]string{old, new} }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	for i, core := range []string{"core-1", "core-2"} {
		p := <-srv.conns
		p.nodeConnects("event plain BACKGROUND_JOB HEARTBEAT CHANNEL_CREATE", core)
		if _, err := n.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// No HEARTBEAT: the node drops the connection (exit) and
			// redials.
			go func() {
				for {
					if _, err := p.read(); err != nil {
						return
					}
				}
			}()
		}
	}
	select {
	case r := <-restarted:
		if r != [2]string{"core-1", "core-2"} {
			t.Errorf("restart = %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no restart reported for a changed Core-UUID")
	}
	if h := n.Health(); !h.Connected || h.CoreUUID != "core-2" {
		t.Errorf("health = %+v", h)
	}
}

// waitLive waits until the server runs a session (the handler started).
func waitLive(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Live() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session never started")
		}
		runtime.Gosched()
	}
}

// lingerNotice is what FreeSWITCH sends a lingering socket when its channel
// hangs up. eslgo's outbound connection must see it before Switchyard
// sends exit: eslgo's close() otherwise races with eslgo's own disconnect
// loop (see the package doc).
func (p *peer) lingerNotice(uuid string) {
	p.write("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + uuid +
		"\nContent-Disposition: linger\nChannel-Name: sofia/x\nLinger-Time: 5\nContent-Length: 0\n\n")
}

// lingerThenHangUp answers the handler's "linger 3600", then hangs the
// channel up as FreeSWITCH does: the linger notice, then the final event.
func (p *peer) lingerThenHangUp(uuid string) {
	p.t.Helper()
	if cmd := p.mustRead(); cmd.Line != "linger 3600" {
		p.t.Fatalf("got %q, want linger 3600", cmd.Line)
	}
	p.reply("+OK will linger 3600 seconds")
	p.lingerNotice(uuid)
	p.event(map[string]string{"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": uuid}, "")
}

// waitClosed reads until Switchyard closes the socket, and fails with
// stillOpen if it has not within 20 s.
func (p *peer) waitClosed(stillOpen string) {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, err := p.read()
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			p.t.Fatal(stillOpen)
		}
		return
	}
}

// Over closes the socket of a channel FreeSWITCH said is down while the
// handler still runs (a call's final record may wait for the store's next
// batch); before the linger notice it leaves the socket alone.
func TestOutboundOverClosesADownChannelsSocketBeforeTheHandlerReturns(t *testing.T) {
	release := make(chan struct{})
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		final := make(chan struct{})
		s.Route(s.UUID, func(ev Event) {
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
				close(final)
			}
		})
		s.Over() // the channel is up: nothing to close
		if err := s.Linger(ctx, 3600); err != nil {
			t.Errorf("a command after Over on a live channel: %v", err)
			return
		}
		<-final
		s.Over()
		<-release // the handler's bookkeeping is still going on
	})
	t.Cleanup(func() { close(release) })
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.lingerThenHangUp("u1")
	// The handler has not returned: only Over can close the socket.
	p.waitClosed("the socket stayed open while the handler finished its bookkeeping")
}

// TestOutboundNamesAChannelGoneBeforeTheConnectReply: FreeSWITCH hangs a
// socket's channel up before it answers connect, saying which channel in
// its disconnect notice, and closes the socket: the handler never runs,
// and OnGone is told the channel (an API call placed here ends with its
// record, not as lost).
func TestOutboundNamesAChannelGoneBeforeTheConnectReply(t *testing.T) {
	gone := make(chan string, 1)
	_, addr := serveOutboundWith(t, func(context.Context, *Session) {
		t.Error("the handler ran for a channel gone before the connect reply")
	}, ServerConfig{OnGone: func(uuid string) { gone <- uuid }})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := newPeer(t, c)
	if cmd := p.mustRead(); cmd.Line != "connect" {
		t.Fatalf("first command %q, want connect", cmd.Line)
	}
	p.write("Content-Type: text/disconnect-notice\nControlled-Session-UUID: u-gone\nContent-Disposition: disconnect\nContent-Length: 0\n\n")
	c.Close()
	select {
	case uuid := <-gone:
		if uuid != "u-gone" {
			t.Errorf("OnGone(%q), want the notice's channel", uuid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnGone was never called")
	}
}

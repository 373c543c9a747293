package esl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// A command in flight on a socket that closes fails at once with
// ErrClosed: it does not wait out its timeout, and the connection is not
// reported as poisoned.
func TestClosingSocketFailsCommandInFlight(t *testing.T) {
	errs := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		ctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		_, err := s.API(ctx, "uuid_kill u1")
		errs <- err
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	if c := p.mustRead(); c.Line != "api uuid_kill u1" {
		t.Fatalf("got %q", c.Line)
	}
	p.conn.Close()
	err := <-errs
	if !errors.Is(err, ErrClosed) || errors.Is(err, ErrPoisoned) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// Events reach a route in the order FreeSWITCH sent them.
func TestSocketDeliversEventsInOrder(t *testing.T) {
	const n = 300
	got := make(chan []int64, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		seqs := make(chan int64, n)
		s.Route(s.UUID, func(ev Event) { seqs <- ev.Int("Event-Sequence") })
		if err := s.Subscribe(ctx, "ALL"); err != nil {
			t.Error(err)
			return
		}
		var all []int64
		for len(all) < n {
			all = append(all, <-seqs)
		}
		got <- all
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.mustRead()
	p.reply("+OK event listener enabled json")
	for i := 1; i <= n; i++ {
		p.event(map[string]string{"Event-Name": "CUSTOM", "Unique-ID": "u1", "Event-Sequence": strconv.Itoa(i)}, "")
	}
	for i, seq := range <-got {
		if seq != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i+1, seq)
		}
	}
}

// A peer that sends a frame out of bounds loses its connection; the
// process, and the handler, carry on.
func TestSocketDropsPeerSendingBadFrame(t *testing.T) {
	closed := make(chan error, 1)
	_, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		<-s.Done()
		closed <- s.Err()
	})
	p := dialAsFreeSWITCH(t, addr, "u1")
	p.write("Content-Type: api/response\nContent-Length: -1\n\n")
	if err := <-closed; !errors.Is(err, ErrFrame) {
		t.Fatalf("connection closed with %v, want ErrFrame", err)
	}
}

// Beyond MaxCalls new connections are closed before connect, so the node
// runs its dialplan's fallback; once a call ends, calls are taken again.
func TestServerRefusesCallsAtCapacity(t *testing.T) {
	release := make(chan struct{})
	srv, addr := serveOutboundWith(t, func(ctx context.Context, s *Session) { <-release }, ServerConfig{MaxCalls: 1})
	first := dialAsFreeSWITCH(t, addr, "u1")
	waitLive(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	second := newPeer(t, c)
	if got, err := second.read(); err == nil {
		t.Fatalf("the call over capacity got %q, want the connection closed", got.Line)
	}
	if srv.Refused() != 1 {
		t.Errorf("refused = %d", srv.Refused())
	}
	close(release)
	first.conn.Close()
	waitIdle(t, srv)
	dialAsFreeSWITCH(t, addr, "u3")
}

// Only the configured nodes may connect: anyone else is closed before a
// byte is read, and never reaches the handler.
func TestServerTakesCallsOnlyFromNodes(t *testing.T) {
	called := make(chan struct{}, 1)
	h := func(ctx context.Context, s *Session) { called <- struct{}{} }
	srv, addr := serveOutboundWith(t, h, ServerConfig{Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := newPeer(t, c).read(); err == nil {
		t.Fatalf("a stranger got %q, want the connection closed", got.Line)
	}
	if srv.Strangers() != 1 || srv.Live() != 0 {
		t.Errorf("strangers = %d, live = %d", srv.Strangers(), srv.Live())
	}
	select {
	case <-called:
		t.Fatal("the handler ran for a stranger")
	default:
	}
	// The default is loopback only, which the test's peer is.
	_, addr = serveOutbound(t, h)
	dialAsFreeSWITCH(t, addr, "u1")
	<-called
}

// Restricted (a draining instance), the server takes only the calls the
// admit function accepts from their connect data; the others are closed
// before their handler runs.
func TestServerRestrictedTakesOnlyAdmittedCalls(t *testing.T) {
	handled := make(chan string, 2)
	srv, addr := serveOutbound(t, func(ctx context.Context, s *Session) { handled <- s.UUID })
	srv.Restrict(func(data Event) bool { return data.Get("Unique-ID") == "awaited" })
	refused := dialAsFreeSWITCH(t, addr, "new-inbound")
	if got, err := refused.read(); err == nil {
		t.Fatalf("a call not admitted got %q, want the connection closed", got.Line)
	}
	dialAsFreeSWITCH(t, addr, "awaited")
	if got := <-handled; got != "awaited" {
		t.Fatalf("handled %q, want only the admitted call", got)
	}
	if srv.Refused() != 1 {
		t.Errorf("refused = %d, want 1", srv.Refused())
	}
}

func TestServerConfigAllowed(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	nodes := ServerConfig{Peers: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::/64")}}
	for _, tc := range []struct {
		cfg  ServerConfig
		addr string
		want bool
	}{
		{ServerConfig{}, "127.0.0.1:5000", true},
		{ServerConfig{}, "[::1]:5000", true},
		{ServerConfig{}, "192.0.2.10:5000", false},
		{nodes, "192.0.2.10:5000", true},
		{nodes, "[::ffff:192.0.2.10]:5000", true},
		{nodes, "192.0.2.11:5000", false},
		{nodes, "127.0.0.1:5000", false},
		{nodes, "[2001:db8::7]:5000", true},
	} {
		if got := tc.cfg.allowed(tcp(tc.addr)); got != tc.want {
			t.Errorf("%v allowed(%s) = %v, want %v", tc.cfg.Peers, tc.addr, got, tc.want)
		}
	}
}

// A socket FreeSWITCH closes before answering connect (the caller hung up
// at once) never reaches the handler and is not counted as live.
func TestSocketClosedBeforeConnectReply(t *testing.T) {
	called := make(chan struct{}, 1)
	srv, addr := serveOutbound(t, func(ctx context.Context, s *Session) { called <- struct{}{} })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, c)
	if cmd := p.mustRead(); cmd.Line != "connect" {
		t.Fatalf("got %q", cmd.Line)
	}
	p.write("Content-Type: text/disconnect-notice\nControlled-Session-UUID: u9\nContent-Disposition: disconnect\nContent-Length: 0\n\n")
	c.Close()
	waitIdle(t, srv)
	select {
	case <-called:
		t.Fatal("the handler ran without channel data")
	default:
	}
}

// waitIdle waits until the server has no connection left.
func waitIdle(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Live() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still live", srv.Live())
		}
		runtime.Gosched()
	}
}

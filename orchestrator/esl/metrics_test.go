package esl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
)

// Every command on a node's connection is timed under the node's name; a
// -ERR reply, a timeout and a command on the closed connection are
// errors.
func TestNodeCommandsAreMeasured(t *testing.T) {
	m := metrics.New("test")
	srv := newInboundServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialOrdered(ctx, srv.addr(), "ClueCon", func(Event) {}, discard(), WithMetrics(m, "node-a:8021"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p := <-srv.conns
	late := make(chan struct{})
	go func() {
		p.mustRead()
		p.api("+OK\n")
		p.mustRead()
		p.api("-ERR no_such_command Command not found!\n")
		p.mustRead() // never answered in time
		<-late
	}()
	value := func(name string) float64 { return metricstest.Value(t, m, name, "node", "node-a:8021") }

	if _, err := c.API(ctx, "status"); err != nil {
		t.Fatal(err)
	}
	if got := value("switchyard_esl_command_seconds"); got != 1 {
		t.Errorf("%v round trips observed, want 1", got)
	}
	if got := value("switchyard_esl_command_errors_total"); got != 0 {
		t.Errorf("%v errors after a +OK, want 0", got)
	}
	if _, err := c.API(ctx, "no_such_command"); !errors.Is(err, ErrCommand) {
		t.Fatalf("err = %v, want ErrCommand", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer tcancel()
	if _, err := c.API(tctx, "status"); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("err = %v, want ErrPoisoned", err)
	}
	close(late)
	if _, err := c.API(ctx, "status"); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrPoisoned) {
		t.Fatalf("a command on the closed connection: err = %v", err)
	}
	if got := value("switchyard_esl_command_seconds"); got != 3 {
		t.Errorf("%v round trips observed, want 3 (the one never sent is not)", got)
	}
	if got := value("switchyard_esl_command_errors_total"); got != 3 {
		t.Errorf("%v errors, want 3 (-ERR, timeout, closed)", got)
	}
}

// An outbound socket's commands, its connect handshake included, are
// timed under the peer's address without its port.
func TestOutboundCommandsAreMeasuredByPeer(t *testing.T) {
	m := metrics.New("test")
	done := make(chan error, 1)
	_, addr := serveOutboundWith(t, func(ctx context.Context, s *Session) {
		_, err := s.API(ctx, "uuid_kill u1")
		done <- err
	}, ServerConfig{Metrics: m})
	p := dialAsFreeSWITCH(t, addr, "u1")
	if c := p.mustRead(); c.Line != "api uuid_kill u1" {
		t.Fatalf("got %q", c.Line)
	}
	p.api("-ERR No such channel!\n")
	if err := <-done; err == nil {
		t.Fatal("the -ERR reply was not an error")
	}
	if got := metricstest.Value(t, m, "switchyard_esl_command_seconds", "node", "127.0.0.1"); got != 2 {
		t.Errorf("%v round trips observed, want 2 (connect, api)", got)
	}
	if got := metricstest.Value(t, m, "switchyard_esl_command_errors_total", "node", "127.0.0.1"); got != 1 {
		t.Errorf("%v errors, want 1", got)
	}
}

// Calls refused by the server are counted by reason.
func TestRefusedCallsAreCounted(t *testing.T) {
	m := metrics.New("test")
	release := make(chan struct{})
	defer close(release)
	srv, addr := serveOutboundWith(t, func(ctx context.Context, s *Session) { <-release }, ServerConfig{MaxCalls: 1, Metrics: m})
	dialAsFreeSWITCH(t, addr, "u1")
	waitLive(t, srv)
	refusedBy := func(cfgAddr string) {
		t.Helper()
		c, err := net.Dial("tcp", cfgAddr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := newPeer(t, c).read(); err == nil {
			t.Fatalf("a refused call got %q, want the connection closed", got.Line)
		}
	}
	refusedBy(addr)
	if got := metricstest.Value(t, m, "switchyard_socket_calls_refused_total", "reason", metrics.RefusedAtCapacity); got != 1 {
		t.Errorf("at capacity: %v, want 1", got)
	}

	_, strangers := serveOutboundWith(t, func(context.Context, *Session) {},
		ServerConfig{Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Metrics: m})
	refusedBy(strangers)
	if got := metricstest.Value(t, m, "switchyard_socket_calls_refused_total", "reason", metrics.RefusedNotAllowed); got != 1 {
		t.Errorf("not allowed: %v, want 1", got)
	}
	if got := metricstest.Value(t, m, "switchyard_esl_command_seconds", "node", "127.0.0.1"); got != 1 {
		t.Errorf("%v round trips, want 1: refused calls send nothing", got)
	}
}

package esl

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// DialOption tunes DialOrdered.
type DialOption func(*dialOptions)

type dialOptions struct {
	metrics *metrics.Set
	node    string
}

// WithMetrics records the round trip of every command on the connection
// in m (nil: nowhere), labelled node: the node's configured name.
func WithMetrics(m *metrics.Set, node string) DialOption {
	return func(o *dialOptions) { o.metrics, o.node = m, node }
}

// DialOrdered connects to a node's mod_event_socket like DialInbound, but
// speaks the protocol itself, as outbound sockets do: one goroutine reads
// the frames and hands each event over (to its route, its bgapi waiter, or
// sink) before it reads the next one. Once a command's reply is in, every
// event the node wrote before it has been handed over. Through eslgo
// (DialInbound) each event goes to a goroutine of its own and may still be
// on its way after a later reply: Switchyard's own inbound connections do
// not depend on order, but an observer that keeps the node's account of a
// call (the scenario suite's fidelity capture) does.
func DialOrdered(ctx context.Context, addr, password string, sink Sink, log *slog.Logger, opts ...DialOption) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", addr, err)
	}
	s := newSocket(nc)
	if err := s.authenticate(ctx, password); err != nil {
		nc.Close()
		return nil, fmt.Errorf("esl: dial %s: %w", addr, err)
	}
	conn := newConn(s, log, func() { nc.Close() })
	conn.instrument(o.metrics, o.node)
	conn.SetFallback(sink)
	go s.run(conn, log)
	return conn, nil
}

// authenticate answers the node's auth/request.
func (s *socket) authenticate(ctx context.Context, password string) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	_ = s.nc.SetDeadline(deadline)
	defer s.nc.SetDeadline(time.Time{})
	f, err := s.fr.next()
	if err != nil {
		return fmt.Errorf("auth request: %w", err)
	}
	if ct := f.get("Content-Type"); ct != "auth/request" {
		return fmt.Errorf("%w: want auth/request, got %q", ErrFrame, ct)
	}
	if err := s.write(ctx, nil, "auth "+password); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	f, err = s.fr.next()
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if text := f.decoded("Reply-Text"); !strings.HasPrefix(text, "+OK") {
		return fmt.Errorf("auth: %s", text)
	}
	return nil
}

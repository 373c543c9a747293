package esl

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/percipia/eslgo"
)

// exitGrace separates stopping eslgo's loops from asking FreeSWITCH to
// close the socket.
const exitGrace = 500 * time.Millisecond

// DialInbound connects to a node's mod_event_socket and authenticates.
func DialInbound(ctx context.Context, addr, password string, log *slog.Logger) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// eslgo's connection context: cancelled only to abandon a peer that
	// will not close the socket (see release).
	connCtx, abandon := context.WithCancel(context.Background())
	var conn *Conn
	ready := make(chan struct{})
	opts := eslgo.InboundOptions{
		Options: eslgo.Options{Context: connCtx, Logger: eslgoLogger{log}, ExitTimeout: 2 * time.Second},
		Network: "tcp", Password: password, AuthTimeout: 5 * time.Second,
		OnDisconnect: func() {
			<-ready
			if conn != nil {
				conn.closeWith(fmt.Errorf("%w: peer disconnected", ErrClosed))
			}
		},
	}
	type result struct {
		c   *eslgo.Conn
		err error
	}
	res := make(chan result, 1)
	go func() { // eslgo's Dial takes no context
		c, err := opts.Dial(addr)
		res <- result{c, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		abandon()
		close(ready)
		return nil, fmt.Errorf("esl: dial %s: %w", addr, ctx.Err())
	}
	if r.err != nil {
		abandon()
		close(ready)
		return nil, fmt.Errorf("esl: dial %s: %w", addr, r.err)
	}
	conn = newConn(r.c, log, func() {
		// eslgo's close() deletes from a map that its auth and disconnect
		// loops read without a lock: calling it races. Stop those loops
		// first (cancel their context), then ask FreeSWITCH to close the
		// socket. eslgo's close() is never called from here; the socket
		// is released when FreeSWITCH closes it (and by the runtime's
		// finaliser if a dead peer never does).
		abandon()
		// The loops leave as soon as they see the cancel; the exit (whose
		// disconnect notice they must no longer be there to receive)
		// goes out well after that.
		time.AfterFunc(exitGrace, func() {
			exitCtx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, _ = r.c.SendCommand(exitCtx, rawCommand("exit"))
			cancel()
		})
	})
	close(ready)
	return conn, nil
}

package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// socket is the transport of an outbound connection: FreeSWITCH's socket
// application connected to Switchyard for one call. Switchyard speaks the
// protocol itself here (see the package doc for the eslgo flaws this
// avoids): one reader goroutine reads every frame in order, hands replies
// to the command in flight and events to their routes, on the same
// goroutine, in arrival order.
type socket struct {
	nc      net.Conn
	fr      *frameReader
	replies chan Reply   // replies to the commands in flight, in order
	want    atomic.Int32 // replies still owed to commands in flight
	wmu     sync.Mutex   // writes: commands, and the final exit
	buf     []byte
}

// maxPipeline caps the commands written together (roundTrips).
const maxPipeline = 16

func newSocket(nc net.Conn) *socket {
	return &socket{nc: nc, fr: newFrameReader(nc), replies: make(chan Reply, maxPipeline)}
}

func (s *socket) write(ctx context.Context, msgs ...string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.nc.SetWriteDeadline(dl)
	}
	s.buf = s.buf[:0]
	for _, msg := range msgs {
		s.buf = append(s.buf, msg...)
		if !strings.Contains(msg, "\n\n") {
			// A message with a body ends with it; anything after would
			// be read a byte at a time and skipped.
			s.buf = append(s.buf, "\n\n"...)
		}
	}
	_, err := s.nc.Write(s.buf)
	if cap(s.buf) > 4<<10 {
		s.buf = nil // a large sendmsg body: do not hold on to it
	}
	return err
}

func (s *socket) roundTrip(ctx context.Context, msg string) (Reply, error) {
	rs, err := s.roundTrips(ctx, []string{msg})
	if err != nil {
		return Reply{}, err
	}
	return rs[0], nil
}

// roundTrips writes msgs at once and collects their replies, which
// FreeSWITCH sends in the order it read the commands.
func (s *socket) roundTrips(ctx context.Context, msgs []string) ([]Reply, error) {
	s.want.Add(int32(len(msgs)))
	if err := s.write(ctx, msgs...); err != nil {
		return nil, err
	}
	rs := make([]Reply, 0, len(msgs))
	for range msgs {
		select {
		case r := <-s.replies:
			rs = append(rs, r)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return rs, nil
}

// errEarlyClose: FreeSWITCH closed the socket before answering connect.
var errEarlyClose = errors.New("esl: socket closed before the connect reply")

// handshake sends connect and reads its reply: the channel's data. When
// the socket closes first, uuid is the channel FreeSWITCH named in its
// disconnect notice, if it did.
func (s *socket) handshake(timeout time.Duration) (data frame, uuid string, err error) {
	deadline := time.Now().Add(timeout)
	_ = s.nc.SetDeadline(deadline)
	defer s.nc.SetDeadline(time.Time{})
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := s.write(ctx, "connect"); err != nil {
		return frame{}, "", fmt.Errorf("esl: connect: %w", err)
	}
	for {
		f, err := s.fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errEarlyClose
			}
			return frame{}, uuid, fmt.Errorf("esl: connect: %w", err)
		}
		switch f.get("Content-Type") {
		case "command/reply":
			return f, "", nil
		case "text/disconnect-notice":
			if id := f.decoded("Controlled-Session-UUID"); id != "" {
				uuid = id
			}
		}
	}
}

// run reads frames until the socket closes, then closes c.
func (s *socket) run(c *Conn, log *slog.Logger) {
	for {
		f, err := s.fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				c.closeWith(fmt.Errorf("%w: socket closed", ErrClosed))
			} else {
				c.closeWith(fmt.Errorf("%w: %w", ErrClosed, err))
			}
			return
		}
		switch f.get("Content-Type") {
		case "command/reply":
			s.reply(c, Reply{Text: f.decoded("Reply-Text"), Headers: f.headers})
		case "api/response":
			s.reply(c, Reply{Text: string(f.body), Headers: f.headers})
		case "text/event-json":
			ev, err := ParseJSON(f.body)
			if err != nil {
				log.Warn("esl: dropping undecodable event", "err", err)
				continue
			}
			c.dispatch(ev)
		case "text/event-plain":
			ev, err := ParsePlain(f.body)
			if err != nil {
				log.Warn("esl: dropping undecodable event", "err", err)
				continue
			}
			c.dispatch(ev)
		case "text/disconnect-notice":
			// With linger FreeSWITCH goes on sending the channel's last
			// events (the server closes the socket once the call is
			// done); without it, or when linger ends, it closes the
			// socket next.
			if f.get("Content-Disposition") == "linger" {
				c.down.Store(true)
			}
		}
	}
}

// reply hands a reply to the command waiting for it. A reply nobody asked
// for means the two sides lost count: the connection is closed.
func (s *socket) reply(c *Conn, r Reply) {
	if s.want.Add(-1) < 0 {
		s.want.Add(1)
		c.closeWith(fmt.Errorf("%w: a reply no command was waiting for", ErrFrame))
		return
	}
	s.replies <- r // never blocks: at most maxPipeline are owed
}

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
	"time"
)

// socket is the transport of an outbound connection: FreeSWITCH's socket
// application connected to Switchyard for one call. Switchyard speaks the
// protocol itself here (see the package doc for the eslgo flaws this
// avoids): one reader goroutine reads every frame in order, hands each
// reply to the taker its command left (commands waiting, or posted ones),
// and events to their routes, on the same goroutine, in arrival order.
type socket struct {
	nc  net.Conn
	fr  *frameReader
	wmu sync.Mutex // writes, and the order of owed replies
	buf []byte
	omu sync.Mutex
	// owed takes the replies still owed, one taker per command, in the
	// order the commands went out (FreeSWITCH answers in that order).
	owed []func(Reply)
}

func newSocket(nc net.Conn) *socket {
	nc = newRawIO(nc)
	return &socket{nc: nc, fr: newFrameReader(nc)}
}

// write sends msgs at once; takers (one per message, or none for a
// command whose reply the caller reads itself) take their replies.
func (s *socket) write(ctx context.Context, takers []func(Reply), msgs ...string) error {
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
	s.omu.Lock()
	s.owed = append(s.owed, takers...)
	s.omu.Unlock()
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
	got := make(chan Reply, len(msgs))
	takers := make([]func(Reply), len(msgs))
	for i := range takers {
		takers[i] = func(r Reply) { got <- r } // never blocks: room for all
	}
	if err := s.write(ctx, takers, msgs...); err != nil {
		return nil, err
	}
	rs := make([]Reply, 0, len(msgs))
	for range msgs {
		select {
		case r := <-got:
			rs = append(rs, r)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return rs, nil
}

// post writes msgs at once and returns; done gets their replies, in
// order, on the reader goroutine once the last one is in.
func (s *socket) post(ctx context.Context, msgs []string, done func([]Reply)) error {
	rs := make([]Reply, 0, len(msgs))
	takers := make([]func(Reply), len(msgs))
	for i := range takers {
		takers[i] = func(r Reply) {
			rs = append(rs, r)
			if len(rs) == len(msgs) {
				done(rs)
			}
		}
	}
	return s.write(ctx, takers, msgs...)
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
	if err := s.write(ctx, nil, "connect"); err != nil {
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
			s.fr.recycle(f.headers) // nothing else reads an event frame's headers
			ev, err := parseJSON(f.body, f.bufs)
			if err != nil {
				log.Warn("esl: dropping undecodable event", "err", err)
				continue
			}
			c.dispatch(ev)
		case "text/event-plain":
			s.fr.recycle(f.headers)
			ev, err := parsePlain(f.body, f.bufs)
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
	s.omu.Lock()
	if len(s.owed) == 0 {
		s.omu.Unlock()
		c.closeWith(fmt.Errorf("%w: a reply no command was waiting for", ErrFrame))
		return
	}
	take := s.owed[0]
	s.owed[0] = nil
	s.owed = s.owed[1:]
	s.omu.Unlock()
	take(r)
}

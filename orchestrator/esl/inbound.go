package esl

import (
	"context"
	"fmt"
	"log/slog"
	"net/textproto"
	"net/url"
	"strings"
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
	conn = newConn(eslgoTransport{r.c}, log, func() {
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
	conn.jsonEvents = true
	r.c.RegisterEventListener(eslgo.EventListenAll, func(raw *eslgo.Event) {
		ev, err := decodeEvent(raw)
		if err != nil {
			log.Warn("esl: dropping undecodable event", "err", err)
			return
		}
		conn.dispatch(ev)
	})
	close(ready)
	return conn, nil
}

// eslgoTransport carries an inbound connection's commands over eslgo.
type eslgoTransport struct{ c *eslgo.Conn }

func (t eslgoTransport) roundTrip(ctx context.Context, msg string) (Reply, error) {
	resp, err := t.c.SendCommand(ctx, rawCommand(msg))
	if err != nil {
		return Reply{}, err
	}
	r := Reply{Headers: make(map[string]string, len(resp.Headers))}
	for k, v := range resp.Headers {
		if len(v) > 0 {
			r.Headers[k] = v[0]
		}
	}
	if resp.HasHeader("Reply-Text") {
		r.Text = resp.GetHeader("Reply-Text")
	} else {
		r.Text = string(resp.Body)
	}
	return r, nil
}

// rawCommand is an ESL command line (plus header lines, each ending in a
// bare LF, and maybe a body) for eslgo.
type rawCommand string

// BuildMessage ends the header lines in CRLF: eslgo ends every message with
// CRLF CRLF, and FreeSWITCH, when a header block holds a CR, cuts each line
// at the next CR, so one LF-only line before it would swallow the rest
// (a bgapi's Job-UUID header, say).
func (c rawCommand) BuildMessage() string {
	head, body, hasBody := strings.Cut(string(c), "\n\n")
	head = strings.ReplaceAll(head, "\n", "\r\n")
	if !hasBody {
		return head
	}
	return head + "\r\n\r\n" + body
}

// decodeEvent decodes an event eslgo read: JSON (what connections over
// eslgo subscribe to), which eslgo passes through raw, or a plain event
// that eslgo managed to parse, whose keys it canonicalised and whose
// values are still URL-encoded.
func decodeEvent(raw *eslgo.Event) (Event, error) {
	if len(raw.Headers) == 0 {
		return ParseJSON(raw.Body)
	}
	return Event{Headers: headerMap(raw.Headers), Body: string(raw.Body)}, nil
}

// headerMap flattens a MIME header, URL-decoding values.
func headerMap(h textproto.MIMEHeader) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		val := v[0]
		if dec, err := url.PathUnescape(val); err == nil {
			val = dec
		}
		m[k] = val
	}
	return m
}

package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo"
)

// Session is one call handed to Switchyard by FreeSWITCH's socket
// application. It lives as long as the Handler runs.
type Session struct {
	*Conn
	// UUID is the controlled channel.
	UUID string
	// Data is the channel data of the connect reply (Caller-*, variable_*).
	Data Event
}

// Handler runs a call. It must return only when the call is over: the
// connection is closed (with exit) as soon as it returns.
type Handler func(ctx context.Context, s *Session)

// Server accepts FreeSWITCH's outbound-socket connections.
type Server struct {
	handler Handler
	log     *slog.Logger

	// ctx is eslgo's: cancelling it drops every socket at once (last
	// resort). calls is what handlers get: cancelling it asks them to hang
	// their calls up.
	ctx         context.Context
	cancel      context.CancelFunc
	calls       context.Context
	cancelCalls context.CancelFunc

	mu        sync.Mutex
	listener  net.Listener
	internal  string // eslgo's private listener: a Unix socket
	socketDir string // its folder, removed at Shutdown
	started   bool

	conns    sync.WaitGroup // live pass-through connections
	sessions sync.WaitGroup // running handlers
	live     atomic.Int64
	draining atomic.Bool // Shutdown began: new connections are dropped
}

// NewServer makes an outbound-socket server that runs h for every call.
func NewServer(h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls, cancelCalls := context.WithCancel(context.Background())
	return &Server{handler: h, log: log, ctx: ctx, cancel: cancel, calls: calls, cancelCalls: cancelCalls}
}

// Live is the number of calls being handled.
func (s *Server) Live() int { return int(s.live.Load()) }

// Draining reports whether Shutdown has begun: no new call is taken.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve accepts connections on l until l is closed or Shutdown is called.
func (s *Server) Serve(l net.Listener) error {
	internal, err := s.startInternal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.listener = l
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("esl: accept: %w", err)
		}
		s.conns.Add(1)
		go s.pass(c, internal)
	}
}

// startInternal runs eslgo's outbound listener on a private Unix socket.
func (s *Server) startInternal() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return s.internal, nil
	}
	// eslgo binds the address itself and gives no way to close it. A
	// loopback port picked, released and handed over could be taken by
	// another process in between (and then spliced to); a Unix socket in
	// a fresh private folder cannot, and no other local user can reach it.
	dir, err := os.MkdirTemp("", "switchyard-esl-")
	if err != nil {
		return "", fmt.Errorf("esl: private listener: %w", err)
	}
	addr := filepath.Join(dir, "outbound.sock")
	s.socketDir = dir
	opts := eslgo.OutboundOptions{
		Options: eslgo.Options{
			Context:     s.ctx,
			Logger:      eslgoLogger{s.log},
			ExitTimeout: 2 * time.Second,
		},
		Network:         "unix",
		ConnectTimeout:  5 * time.Second,
		ConnectionDelay: 0,
	}
	go func() {
		if err := opts.ListenAndServe(addr, s.handle); err != nil && s.ctx.Err() == nil {
			s.log.Error("esl: private outbound listener stopped", "addr", addr, "err", err)
		}
	}()
	s.internal, s.started = addr, true
	return addr, nil
}

// pass splices a FreeSWITCH connection to the private eslgo listener.
func (s *Server) pass(outer net.Conn, internal string) {
	defer s.conns.Done()
	defer outer.Close()
	if s.draining.Load() {
		// Accepted as Shutdown began: FreeSWITCH tries the next socket
		// address. (Handed to eslgo, a connection closed before its
		// connect reply also trips eslgo's close-while-starting race.)
		return
	}
	inner, err := dialRetry(s.ctx, internal)
	if err != nil {
		s.log.Error("esl: cannot reach private listener", "err", err)
		return
	}
	defer inner.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(inner, outer)
		closeWrite(inner)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(outer, inner)
		closeWrite(outer)
		done <- struct{}{}
	}()
	<-done
	// One side finished: give the other a moment to flush, then cut it.
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

func closeWrite(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok { // TCP and Unix
		_ = hc.CloseWrite()
		return
	}
	_ = c.Close()
}

// dialRetry connects to the private listener, which eslgo may still be
// opening right after start.
func dialRetry(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	wait := time.Millisecond
	for attempt := 0; ; attempt++ {
		c, err := d.DialContext(ctx, "unix", addr)
		if err == nil || attempt == 12 {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// handle is eslgo's handler: it has already sent connect. ctx is eslgo's
// context for this socket, cancelled when eslgo closes it.
func (s *Server) handle(ctx context.Context, c *eslgo.Conn, connect *eslgo.RawResponse) {
	s.sessions.Add(1)
	s.live.Add(1)
	defer s.sessions.Done()
	defer s.live.Add(-1)
	// Closing the Conn ends nothing by itself here: the handler sees Done
	// and returns, and eslgo then closes the socket.
	conn := newConn(c, s.log, nil)
	go func() {
		select {
		case <-ctx.Done():
			conn.closeWith(fmt.Errorf("%w: socket closed", ErrClosed))
		case <-conn.done:
		}
	}()
	sess := &Session{Conn: conn, UUID: connect.ChannelUUID(), Data: Event{Headers: headerMap(connect.Headers)}}
	func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("esl: call handler panicked", "uuid", sess.UUID, "panic", r)
			}
		}()
		if sess.UUID == "" {
			s.log.Warn("esl: connect reply without Unique-ID; dropping the connection")
			return
		}
		s.handler(s.calls, sess)
	}()
	// Let eslgo close the socket itself, as it does when its linger time
	// runs out after FreeSWITCH's disconnect notice: eslgo's exit-and-close
	// after this handler returns races with eslgo's own disconnect loop
	// (see the package doc).
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(conn.linger.Load())*time.Second + 2*time.Second):
		s.log.Debug("esl: socket still open after the call; closing it", "uuid", sess.UUID)
	}
}

// Shutdown stops accepting calls (FreeSWITCH then tries the next address
// in its socket list) and waits for live calls to end, up to ctx's
// deadline; after that it cuts the remaining connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	l := s.listener
	dir := s.socketDir
	s.mu.Unlock()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if l != nil {
		l.Close()
	}
	idle := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(idle)
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("esl: %d calls still live at shutdown: %w", s.Live(), ctx.Err())
		// Ask the handlers to hang their calls up, and give FreeSWITCH a
		// moment to say the channels are gone.
		s.cancelCalls()
		select {
		case <-idle:
		case <-time.After(5 * time.Second):
		}
	}
	s.cancelCalls()
	s.cancel()
	s.conns.Wait()
	return err
}

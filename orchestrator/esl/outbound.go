package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// Session is one call handed to Switchyard by FreeSWITCH's socket
// application. It lives as long as the Handler runs.
type Session struct {
	*Conn
	// UUID is the controlled channel.
	UUID string
	// Data is the channel data of the connect reply (Caller-*, variable_*).
	Data Event
	// borrowed: Conn is a node's connection, which the call shares with
	// the node's other calls and never closes (NewParkedSession).
	borrowed bool
}

// NewParkedSession is a call the dialplan parked for this instance, with
// no socket of its own: its commands and events go over node, the node's
// connection its CHANNEL_PARK came on, which it borrows; Data is that
// event (it carries the channel's data as a connect reply does).
func NewParkedSession(node *Conn, park Event) *Session {
	return &Session{Conn: node, UUID: park.UniqueID(), Data: park, borrowed: true}
}

// Follow readies the socket for its call in one round trip: FreeSWITCH
// keeps it open secs seconds past the hang-up (so CHANNEL_HANGUP_COMPLETE
// arrives), delivers only the channel's own events, less those that
// filters' negative entries ("-value") match, and subscribes to events.
// The filters go before the subscription: a subscription without one
// delivers every channel event on the node to this socket until the
// filter lands, which costs O(N²) events when N calls start together.
func (s *Session) Follow(ctx context.Context, secs int, filters []Filter, events ...string) error {
	s.linger.Store(int64(secs))
	cmds := make([]string, 0, 3+len(filters))
	cmds = append(cmds, lingerCmd(secs), FilterCmd("Unique-ID", s.UUID))
	for _, f := range filters {
		cmds = append(cmds, FilterCmd(f.Name, f.Value))
	}
	cmds = append(cmds, subscribeCmd(events))
	rs, err := s.Pipeline(ctx, cmds)
	if err != nil {
		return err
	}
	for i, r := range rs {
		if err := ReplyErr(cmds[i], r); err != nil {
			return err
		}
	}
	return nil
}

// Over tells the session its call is over while the handler still has
// bookkeeping to do (its final record): when FreeSWITCH said the channel
// is down, the socket closes now rather than when the handler returns.
func (s *Session) Over() {
	if !s.borrowed && s.down.Load() {
		s.Close()
	}
}

// Handler runs a call. It must return only when the call is over: the
// connection is closed (with exit) as soon as it returns.
type Handler func(ctx context.Context, s *Session)

// Server accepts FreeSWITCH's outbound-socket connections.
type Server struct {
	handler Handler
	log     *slog.Logger
	cfg     ServerConfig

	// calls is what handlers get: cancelling it asks them to hang their
	// calls up.
	calls       context.Context
	cancelCalls context.CancelFunc

	mu       sync.Mutex
	listener net.Listener
	sockets  map[net.Conn]struct{} // open connections, cut at the end of Shutdown
	handled  map[*Conn]string      // connections of running handlers, with their node's Core-UUID

	conns    sync.WaitGroup // open connections
	sessions sync.WaitGroup // running handlers
	live     atomic.Int64   // connections being handled
	refused  atomic.Int64
	draining atomic.Bool // Shutdown began: new connections are dropped

	// admit, once set (Restrict), decides from its connect data whether
	// a call is taken.
	admit atomic.Pointer[func(data Event) bool]

	strangers     atomic.Int64 // connections refused from outside Peers
	strangerWarns atomic.Int64 // unix second of the last warning about one
}

// ServerConfig tunes a Server.
type ServerConfig struct {
	// MaxCalls refuses new calls while this many are being handled (0: no
	// limit): the connection is closed before connect. FreeSWITCH fails
	// over to the next address of the socket application's list only when
	// it cannot connect at all (seen on 1.10.12), so a refused call runs
	// the dialplan's fallback instead: the shipped one plays the
	// unavailable prompt and ends with NORMAL_TEMPORARY_FAILURE (SIP 503),
	// and a carrier may route it elsewhere. Past what the process can
	// carry, refusing some calls keeps the others working.
	MaxCalls int
	// OnGone, if set, is told the channel of a socket that closed before
	// its handler could run, when FreeSWITCH named it (its disconnect
	// notice came before the connect reply): the caller hung up at once.
	// A call placed here gets its final record from it.
	OnGone func(uuid string)
	// Others, if set, counts calls the process runs without a socket of
	// this server's (those the dialplan parked for it), which MaxCalls
	// counts too.
	Others func() int
	// ConnectTimeout bounds the connect handshake (default 5s).
	ConnectTimeout time.Duration
	// Peers are the addresses connections are taken from: the nodes. A
	// connection from anywhere else is closed before a byte is read, so
	// whoever can reach the port cannot start calls, probe the protocol
	// or tie up handlers. Empty: loopback only.
	Peers []netip.Prefix
	// Metrics records the calls refused and every command's round trip
	// on the calls' sockets, labelled with the peer's address (nil:
	// nothing is recorded).
	Metrics *metrics.Set
}

// allowed reports whether a connection from addr may be served.
func (c ServerConfig) allowed(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if len(c.Peers) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range c.Peers {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NewServer makes an outbound-socket server that runs h for every call.
func NewServer(h Handler, log *slog.Logger) *Server {
	return NewServerWith(h, ServerConfig{}, log)
}

// NewServerWith is NewServer with settings.
func NewServerWith(h Handler, cfg ServerConfig, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	calls, cancelCalls := context.WithCancel(context.Background())
	return &Server{handler: h, log: log, cfg: cfg, calls: calls, cancelCalls: cancelCalls,
		sockets: map[net.Conn]struct{}{}, handled: map[*Conn]string{}}
}

// Live is the number of calls being handled.
func (s *Server) Live() int { return int(s.live.Load()) }

// Refused is the number of calls refused at capacity so far.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Restrict takes from now on only the calls admit accepts, judged by the
// channel data of their connect reply; the others are closed before their
// handler runs (the node runs its dialplan's fallback). A draining
// instance uses it to take the calls it placed itself, and no new ones,
// while it waits for them.
func (s *Server) Restrict(admit func(data Event) bool) { s.admit.Store(&admit) }

// Strangers is the number of connections refused because they came from
// outside ServerConfig.Peers.
func (s *Server) Strangers() int64 { return s.strangers.Load() }

// warnStranger logs a refused peer, at most once a second: a flood of
// connections must not become a flood of log lines.
func (s *Server) warnStranger(addr net.Addr) {
	now := time.Now().Unix()
	last := s.strangerWarns.Load()
	if now == last || !s.strangerWarns.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("esl: connection refused: the peer is not a configured node (see -socket-allow)",
		"peer", addr.String(), "refused_so_far", s.strangers.Load())
}

// Draining reports whether Shutdown has begun: no new call is taken.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve accepts connections on l until l is closed or Shutdown is called.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.listener = l
	s.mu.Unlock()
	for {
		nc, err := l.Accept()
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
		if !s.cfg.allowed(nc.RemoteAddr()) {
			s.strangers.Add(1)
			s.cfg.Metrics.SocketCallRefused(metrics.RefusedNotAllowed)
			s.warnStranger(nc.RemoteAddr())
			nc.Close()
			continue
		}
		if s.draining.Load() {
			// Accepted as Shutdown began, before the listener closed:
			// the node runs its dialplan's fallback (later calls find
			// the port closed and go to the next socket address).
			s.cfg.Metrics.SocketCallRefused(metrics.RefusedDraining)
			nc.Close()
			continue
		}
		if max, live := s.cfg.MaxCalls, s.liveAll(); max > 0 && live >= int64(max) {
			s.refused.Add(1)
			s.cfg.Metrics.SocketCallRefused(metrics.RefusedAtCapacity)
			s.log.Warn("esl: call refused: at capacity; the node runs its dialplan's fallback",
				"cause", "SWITCHYARD_AT_CAPACITY", "live", live, "max_calls", max, "peer", nc.RemoteAddr().String())
			nc.Close()
			continue
		}
		s.live.Add(1)
		s.conns.Add(1)
		s.sessions.Add(1)
		s.mu.Lock()
		s.sockets[nc] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// liveAll counts the calls MaxCalls bounds: this server's and Others'.
func (s *Server) liveAll() int64 {
	n := s.live.Load()
	if s.cfg.Others != nil {
		n += int64(s.cfg.Others())
	}
	return n
}

// serveConn runs one call: the connect handshake, then the handler on this
// goroutine while the socket's reader runs on another.
func (s *Server) serveConn(nc net.Conn) {
	handled := false
	defer func() {
		nc.Close()
		s.mu.Lock()
		delete(s.sockets, nc)
		s.mu.Unlock()
		if !handled {
			s.sessions.Done()
		}
		s.live.Add(-1)
		s.conns.Done()
	}()
	sock := newSocket(nc)
	node := peerHost(nc.RemoteAddr())
	start := time.Now()
	data, uuid, err := sock.handshake(s.cfg.ConnectTimeout)
	s.cfg.Metrics.ESLCommand(node, time.Since(start))
	if err != nil {
		s.cfg.Metrics.ESLCommandFailed(node)
		// FreeSWITCH let go of the channel before it told us about it:
		// the caller hung up at once. Nothing else knows this call.
		s.log.Warn("esl: call gone before the connect reply", "uuid", uuid, "peer", nc.RemoteAddr().String(), "err", err)
		if uuid != "" && s.cfg.OnGone != nil {
			s.cfg.OnGone(uuid)
		}
		return
	}
	headers := make(map[string]string, len(data.headers))
	for k := range data.headers {
		headers[k] = data.decoded(k)
	}
	if admit := s.admit.Load(); admit != nil && !(*admit)(Event{Headers: headers}) {
		s.refused.Add(1)
		s.cfg.Metrics.SocketCallRefused(metrics.RefusedDraining)
		s.log.Warn("esl: call refused: draining; the node runs its dialplan's fallback",
			"cause", "SWITCHYARD_DRAINING", "uuid", headers["Unique-ID"])
		return
	}
	conn := newConn(sock, s.log, func() { nc.Close() })
	conn.self = headers["Unique-ID"]
	conn.instrument(s.cfg.Metrics, node)
	sess := &Session{Conn: conn, UUID: headers["Unique-ID"], Data: Event{Headers: headers}}
	go sock.run(conn, s.log)
	s.track(conn, headers["Core-UUID"])
	defer s.untrack(conn)
	func() {
		defer func() {
			handled = true
			s.sessions.Done()
		}()
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
	// The call is over. When FreeSWITCH said the channel is down, its
	// lingering socket has nothing more for us: close it now. Its session
	// thread polls the socket every 20 ms until then, and the session
	// stays allocated; on a real node waiting out the linger cost about
	// 100 context switches a call. Otherwise FreeSWITCH closes the socket
	// when its linger time runs out; give it that long, then close it.
	if !conn.down.Load() {
		linger := time.Duration(conn.linger.Load())*time.Second + 2*time.Second
		t := time.NewTimer(linger)
		defer t.Stop()
		select {
		case <-conn.Done():
		case <-t.C:
			s.log.Debug("esl: socket still open after the call; closing it", "uuid", sess.UUID)
		}
	}
	conn.Close()
}

// peerHost is the address of a socket's peer without its port: the label
// of its commands' metrics.
func peerHost(addr net.Addr) string {
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		return ap.Addr().Unmap().String()
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String()
}

// Shutdown stops accepting calls (FreeSWITCH then tries the next address
// in its socket list) and waits for live calls to end, up to ctx's
// deadline; after that it cuts the remaining connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	l := s.listener
	s.mu.Unlock()
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
	s.mu.Lock()
	for nc := range s.sockets {
		nc.Close()
	}
	s.mu.Unlock()
	s.conns.Wait()
	return err
}

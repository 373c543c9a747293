package fsim

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server. Zero values select the defaults noted.
type Config struct {
	// Password is the ESL password (default "ClueCon").
	Password string
	// Tick is the media tick, in real time: each channel services its queued
	// sendmsg/application steps once per tick, like FreeSWITCH's 20 ms core
	// timer. 0 (or negative) services them immediately, for fast tests; use
	// DefaultTick for FreeSWITCH-like latency (make run, benchmarks).
	Tick time.Duration
	// Speed is simulated seconds per real second (default 1). Rings,
	// playback lengths, timeouts, sleeps, recordings and hang-up timers run
	// on the simulated clock; epochs and durations in events are simulated.
	Speed float64
	// SocketAddr is where the dialplan sends managed numbers:
	// `socket <SocketAddr> async full`.
	SocketAddr string
	// Hostname is FreeSWITCH-Hostname (default "fsim").
	Hostname string
	// HeartbeatInterval is the HEARTBEAT period in simulated time (default 20s).
	HeartbeatInterval time.Duration
	// RecordingsDir is where record/record_session write relative paths
	// (default os.TempDir()/fsim-recordings).
	RecordingsDir string
	// PlaybackLength is how long an existing file that is not a PCM WAV
	// plays (default 2s simulated); a WAV plays for the length its header
	// gives. Sources the node cannot open fail (FILE NOT FOUND).
	PlaybackLength time.Duration
	// Media lists sources the emulated node can play that are not on this
	// machine (a file of a lab node, or an http(s):// URL for a node with
	// mod_http_cache), with how long each plays; they are accepted before
	// the disk is looked at.
	Media map[string]time.Duration
	// SIPProfiles are the node's SIP profiles (default: internal, external,
	// lo and switchyard_testnet); sofia/<other>/... fails with
	// INVALID_PROFILE.
	SIPProfiles []string
	// MaxSessions is reported as Max-Sessions in HEARTBEAT (default 10000; not enforced).
	MaxSessions int
	// Logger receives diagnostics (default: discard).
	Logger *slog.Logger
}

// DefaultTick is FreeSWITCH's media tick (20 ms).
const DefaultTick = 20 * time.Millisecond

// Server is the emulator. Create it with New, start it with Listen.
type Server struct {
	cfg   Config
	tick  time.Duration
	speed float64
	log   *slog.Logger

	mu        sync.Mutex
	coreUUID  string
	seq       uint64
	realStart time.Time
	simStart  time.Time

	timers   timerHeap
	timerSeq uint64
	wake     chan struct{}

	chans      map[string]*channel
	globals    map[string]string // global_setvar's (under mu)
	sessionSeq int
	peak       int
	socketAddr string

	conns   map[*conn]struct{}
	sockCmd atomic.Int64     // commands read from outbound sockets
	sockHdr atomic.Int64     // and the bytes of their header blocks
	evSent  map[string]int64 // events delivered by name, one per connection each (under mu)
	// commands read from inbound connections by first word (under mu)
	connSent map[string]Traffic
	byUUID   map[string]map[*conn]struct{}
	byEvent  map[string]map[*conn]struct{}
	general  map[*conn]struct{}

	ln      net.Listener
	closing bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New creates a Server with cfg (defaults applied). It starts the scheduler;
// call Listen to accept inbound ESL connections and Close to stop.
func New(cfg Config) *Server {
	if cfg.Password == "" {
		cfg.Password = "ClueCon"
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "fsim"
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 20 * time.Second
	}
	if cfg.RecordingsDir == "" {
		cfg.RecordingsDir = filepath.Join(os.TempDir(), "fsim-recordings")
	}
	if cfg.PlaybackLength <= 0 {
		cfg.PlaybackLength = 2 * time.Second
	}
	if len(cfg.SIPProfiles) == 0 {
		cfg.SIPProfiles = []string{"internal", "external", "lo", "switchyard_testnet"}
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tick := cfg.Tick
	if tick < 0 {
		tick = 0
	}
	now := time.Now()
	s := &Server{
		cfg:        cfg,
		tick:       tick,
		speed:      cfg.Speed,
		log:        cfg.Logger,
		coreUUID:   newUUID(),
		realStart:  now,
		simStart:   now,
		wake:       make(chan struct{}, 1),
		chans:      make(map[string]*channel),
		globals:    make(map[string]string),
		socketAddr: cfg.SocketAddr,
		conns:      make(map[*conn]struct{}),
		byUUID:     make(map[string]map[*conn]struct{}),
		byEvent:    make(map[string]map[*conn]struct{}),
		evSent:     make(map[string]int64),
		connSent:   make(map[string]Traffic),
		general:    make(map[*conn]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	s.scheduleHeartbeat()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.runScheduler()
	return s
}

// Listen starts the inbound ESL server on addr (e.g. "127.0.0.1:0") and
// serves it in the background.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return errors.New("fsim: server closed")
	}
	if s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("fsim: already listening")
	}
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

// SocketTraffic reports the commands the outbound sockets sent and the
// bytes of their header blocks: FreeSWITCH reads those one read(2) and one
// sched_yield(2) apiece, so they are what a call's commands cost the node.
func (s *Server) SocketTraffic() (commands, headerBytes int64) {
	return s.sockCmd.Load(), s.sockHdr.Load()
}

// Traffic counts commands and the bytes of their header blocks.
type Traffic struct{ Commands, HeaderBytes int64 }

// ConnTraffic is SocketTraffic for the inbound connections (the node's
// connection that carries handed-off calls, the load tool's), by the
// command's first word (sendmsg, api, filter, ...).
func (s *Server) ConnTraffic() map[string]Traffic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.connSent)
}

func (s *Server) countConnCommand(cmd *command) {
	verb, _, _ := strings.Cut(cmd.line, " ")
	s.mu.Lock()
	t := s.connSent[verb]
	t.Commands++
	t.HeaderBytes += int64(cmd.headerBytes)
	s.connSent[verb] = t
	s.mu.Unlock()
}

// EventsSent reports the events delivered to connections by Event-Name,
// an event sent to two connections counting twice: FreeSWITCH copies and
// serialises each of those, the larger part of what a call's socket
// costs it.
func (s *Server) EventsSent() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.evSent)
}

// Addr is the host:port the inbound ESL server listens on ("" before Listen).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// SetSocketAddr changes where managed numbers are sent (the outbound-socket server).
func (s *Server) SetSocketAddr(addr string) {
	s.mu.Lock()
	s.socketAddr = addr
	s.mu.Unlock()
}

// Channels is the number of live channels.
func (s *Server) Channels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chans)
}

// Freeze stops the emulator as SIGSTOP stops a process, for fault tests:
// until thaw is called no command is answered, no timer fires and no
// event is sent, while every connection stays open (frames already
// queued may still be written). Call thaw before Close.
func (s *Server) Freeze() (thaw func()) {
	s.mu.Lock()
	var once sync.Once
	return func() { once.Do(s.mu.Unlock) }
}

// Close stops the server: it stops listening, hangs up every channel
// (SYSTEM_SHUTDOWN), closes every connection and waits for all goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.cancel()
	for _, ch := range s.sortedChannels() {
		ch.hangup("SYSTEM_SHUTDOWN")
	}
	for c := range s.conns {
		c.closeAfterFlush()
	}
	s.timers = nil
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.wg.Wait()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c := s.newConn(nc, false, nil)
		c.send(frameAuthRequest())
		s.mu.Unlock()
	}
}

// ---- clock ----

// simNow is the current simulated time.
func (s *Server) simNow() time.Time {
	el := time.Since(s.realStart)
	return s.simStart.Add(time.Duration(float64(el) * s.speed))
}

func (s *Server) simUS() int64 { return s.simNow().UnixMicro() }

// realDelay converts a simulated duration into real time.
func (s *Server) realDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / s.speed)
}

// ---- scheduler ----

type timer struct {
	at  time.Time
	seq uint64
	fn  func()
	idx int
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.idx = -1
	*h = old[:n-1]
	return t
}

// afterReal runs fn under s.mu after real delay d. Caller holds s.mu.
func (s *Server) afterReal(d time.Duration, fn func()) *timer {
	if s.closing {
		return nil
	}
	s.timerSeq++
	t := &timer{at: time.Now().Add(d), seq: s.timerSeq, fn: fn}
	heap.Push(&s.timers, t)
	if t.idx == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// afterSim runs fn under s.mu after simulated delay d. Caller holds s.mu.
func (s *Server) afterSim(d time.Duration, fn func()) *timer {
	return s.afterReal(s.realDelay(d), fn)
}

// cancelTimer stops t if it has not run. Caller holds s.mu.
func (s *Server) cancelTimer(t *timer) {
	if t != nil && t.idx >= 0 && t.idx < len(s.timers) && s.timers[t.idx] == t {
		heap.Remove(&s.timers, t.idx)
	}
}

func (s *Server) runScheduler() {
	defer s.wg.Done()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		for len(s.timers) > 0 && !s.timers[0].at.After(now) && !s.closing {
			t := heap.Pop(&s.timers).(*timer)
			t.fn()
		}
		wait := time.Hour
		if len(s.timers) > 0 {
			wait = time.Until(s.timers[0].at)
		}
		s.mu.Unlock()
		if wait <= 0 {
			continue
		}
		tm.Reset(wait)
		select {
		case <-tm.C:
		case <-s.wake:
			if !tm.Stop() {
				select {
				case <-tm.C:
				default:
				}
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// ---- event dispatch ----

// anyListener reports cheaply whether some connection may want the event.
func (s *Server) anyListener(name, uuid string) bool {
	for c := range s.general {
		if c.subscribedName(name) {
			return true
		}
	}
	if uuid != "" {
		for c := range s.byUUID[strings.ToLower(uuid)] {
			if c.subscribedName(name) || c.myevents {
				return true
			}
		}
	}
	return len(s.byEvent[name]) > 0
}

// fire delivers ev to every connection that wants it. Caller holds s.mu.
func (s *Server) fire(ev *event) {
	var seen map[*conn]struct{}
	deliver := func(c *conn) {
		if seen != nil {
			if _, dup := seen[c]; dup {
				return
			}
		}
		if c.wants(ev) {
			c.sendEvent(ev)
			s.evSent[ev.name]++
		}
	}
	for c := range s.general {
		deliver(c)
	}
	if ev.uuid != "" {
		if m := s.byUUID[strings.ToLower(ev.uuid)]; len(m) > 0 {
			seen = make(map[*conn]struct{}, len(m))
			for c := range m {
				deliver(c)
				seen[c] = struct{}{}
			}
		}
	}
	for c := range s.byEvent[ev.name] {
		deliver(c)
		if seen == nil {
			seen = make(map[*conn]struct{})
		}
		seen[c] = struct{}{}
	}
}

// reindex files c under the indexes fire uses to find candidate receivers.
// Caller holds s.mu.
func (s *Server) reindex(c *conn) {
	for _, u := range c.idxUUIDs {
		if m := s.byUUID[u]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(s.byUUID, u)
			}
		}
	}
	for _, n := range c.idxEvents {
		if m := s.byEvent[n]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(s.byEvent, n)
			}
		}
	}
	delete(s.general, c)
	c.idxUUIDs, c.idxEvents = c.idxUUIDs[:0], c.idxEvents[:0]
	if c.dead {
		return
	}
	addU := func(u string) {
		u = strings.ToLower(u)
		m := s.byUUID[u]
		if m == nil {
			m = make(map[*conn]struct{})
			s.byUUID[u] = m
		}
		m[c] = struct{}{}
		c.idxUUIDs = append(c.idxUUIDs, u)
	}
	addE := func(n string) {
		m := s.byEvent[n]
		if m == nil {
			m = make(map[*conn]struct{})
			s.byEvent[n] = m
		}
		m[c] = struct{}{}
		c.idxEvents = append(c.idxEvents, n)
	}
	if c.myevents {
		addU(c.myUUID)
		addE("BACKGROUND_JOB") // Job-Owner-UUID results of this session
		return
	}
	if !c.hasSubscriptions() {
		return
	}
	if len(c.filters) == 0 {
		s.general[c] = struct{}{}
		return
	}
	var uuids, names []string
	for _, f := range c.filters {
		if !f.positive {
			continue
		}
		switch {
		case f.re == nil && equalFoldASCII(f.header, "Unique-ID"):
			uuids = append(uuids, f.value)
		case f.re == nil && equalFoldASCII(f.header, "Event-Name"):
			names = append(names, upper(f.value))
		default:
			s.general[c] = struct{}{}
			return
		}
	}
	for _, u := range uuids {
		addU(u)
	}
	for _, n := range names {
		addE(n)
	}
}

// ---- misc ----

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// ErrNotConnected: the node's inbound connection is down right now.
var ErrNotConnected = errors.New("esl: node not connected")

// NodeConfig describes one FreeSWITCH node to keep an inbound connection to.
type NodeConfig struct {
	Name     string // for logs; defaults to Addr
	Addr     string // host:port of mod_event_socket
	Password string
	// Events to subscribe to (JSON format) on every (re)connect, in
	// addition to BACKGROUND_JOB and HEARTBEAT.
	Events []string
	// Filters narrow the events to those whose header (Name) has the
	// value (Value), besides HEARTBEAT and the results of this
	// connection's own bgapi jobs, which always pass. None: every event
	// of the subscribed types comes.
	Filters []Filter
	// OnEvent receives every event no route claims, with the connection
	// it came on (nil only before the connection is set up, when none of
	// the subscribed events can come yet). It runs on that connection's
	// reader, in order with the events routed to calls: a route it adds
	// gets the channel's very next event. It must not block.
	OnEvent func(conn *Conn, ev Event)
	// OnRestart is called when the node's Core-UUID changes: it restarted
	// and every call it had is gone.
	OnRestart func(oldCore, newCore string)
	// OnDown is called when an established connection is lost (closed,
	// silent past HeartbeatTimeout, or a probe unanswered), with the
	// Core-UUID the node had: its calls' sockets may be dead too.
	OnDown func(core string)
	// HeartbeatTimeout: no HEARTBEAT for this long means the connection is
	// dead (default 50s: 2.5 x FreeSWITCH's 20 s interval).
	HeartbeatTimeout time.Duration
	// ProbeInterval is how often the node is asked for its status
	// (default 2s): its session count between heartbeats, and proof that
	// it still answers. ProbeTimeout (default 3s) is how long an answer
	// may take before the node is taken out: a node that stops answering
	// gets no new calls within ProbeInterval+ProbeTimeout.
	ProbeInterval, ProbeTimeout time.Duration
	// MinBackoff and MaxBackoff bound the redial delay (defaults 500ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	// Metrics records the round trip of every command on the connection,
	// labelled with the node's name (nil: nothing is recorded).
	Metrics *metrics.Set
}

// Filter lets the events whose header Name has Value through (see
// NodeConfig.Filters).
type Filter struct{ Name, Value string }

// Health is what a node last told about itself.
type Health struct {
	Connected bool
	// Drained: operators asked that no new calls be placed on the node.
	Drained       bool
	CoreUUID      string
	SessionCount  int
	MaxSessions   int
	IdleCPU       float64
	LastHeartbeat time.Time
	// CountedAt is when SessionCount was last reported (by a HEARTBEAT
	// or a probe): calls placed since are not in it yet.
	CountedAt time.Time
}

// Node keeps an inbound ESL connection to one FreeSWITCH node alive.
type Node struct {
	cfg NodeConfig
	log *slog.Logger

	mu      sync.Mutex
	conn    *Conn
	health  Health
	changed chan struct{} // closed and replaced on every (dis)connect

	// wantMu orders Want's and its releases' commands with each other
	// and with a (re)connect's subscription; wanted counts the holders of
	// each event type subscribed on demand, subscribed says which of them
	// the connection is subscribed to.
	wantMu     sync.Mutex
	wanted     map[string]int
	subscribed map[string]bool
}

// NewNode prepares a node; Run connects it.
func NewNode(cfg NodeConfig) *Node {
	if cfg.Name == "" {
		cfg.Name = cfg.Addr
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 50 * time.Second
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 2 * time.Second
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.Name), changed: make(chan struct{})}
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Addr is the node's event socket address.
func (n *Node) Addr() string { return n.cfg.Addr }

// SetDrained turns the node's drain switch on or off: a pool places no
// new calls on a drained node; its live calls go on.
func (n *Node) SetDrained(drained bool) (changed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed = n.health.Drained != drained
	n.health.Drained = drained
	return changed
}

// Health returns the node's last known state.
func (n *Node) Health() Health {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.health
}

// Conn returns the live connection, or ErrNotConnected.
func (n *Node) Conn() (*Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil, fmt.Errorf("%s: %w", n.cfg.Name, ErrNotConnected)
	}
	return n.conn, nil
}

// WaitConnected blocks until the node is connected or ctx ends. A
// connection that has just closed (Run has not yet let it go) is not
// returned: the wait goes on for the next one.
func (n *Node) WaitConnected(ctx context.Context) (*Conn, error) {
	for {
		n.mu.Lock()
		c, changed := n.conn, n.changed
		n.mu.Unlock()
		if c != nil && c.Err() == nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", n.cfg.Name, ErrNotConnected)
		}
	}
}

// Run connects and keeps reconnecting, with exponential backoff and
// jitter, until ctx ends.
func (n *Node) Run(ctx context.Context) {
	backoff := n.cfg.MinBackoff
	for ctx.Err() == nil {
		conn, err := n.dial(ctx)
		if err != nil {
			n.log.Warn("esl: node connect failed", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(jitter(backoff)):
			}
			backoff = min(backoff*2, n.cfg.MaxBackoff)
			continue
		}
		backoff = n.cfg.MinBackoff
		n.log.Info("esl: node connected")
		n.watch(ctx, conn)
		n.setConn(nil)
		if ctx.Err() == nil {
			n.log.Warn("esl: node connection lost; reconnecting", "err", conn.Err())
			if n.cfg.OnDown != nil {
				n.cfg.OnDown(n.Health().CoreUUID)
			}
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (n *Node) dial(ctx context.Context) (*Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The protocol is spoken here, not through eslgo (DialInbound): a
	// node that says goodbye (its disconnect notice when it shuts down)
	// made eslgo's loops race on a map, which can crash the process.
	var self atomic.Pointer[Conn]
	conn, err := DialOrdered(dialCtx, n.cfg.Addr, n.cfg.Password, func(ev Event) { n.onEvent(self.Load(), ev) },
		n.log, WithMetrics(n.cfg.Metrics, n.cfg.Name))
	if err != nil {
		return nil, err
	}
	self.Store(conn)
	// Filters before the subscription: the other way round, every
	// channel event of the node would come until the filters land. The
	// node's heartbeats and this connection's own jobs always pass (not
	// other clients' jobs: FreeSWITCH sends every job's result to every
	// connection subscribed to BACKGROUND_JOB); without filters of the
	// caller's, every event of its types does.
	filters := []Filter{conn.OwnJobs(), {"Event-Name", "HEARTBEAT"}}
	if len(n.cfg.Filters) > 0 {
		filters = append(filters, n.cfg.Filters...)
	} else {
		for _, ev := range n.cfg.Events {
			filters = append(filters, Filter{"Event-Name", ev})
		}
	}
	for _, f := range filters {
		if err := conn.Filter(dialCtx, f.Name, f.Value); err != nil {
			conn.Close()
			return nil, fmt.Errorf("filter: %w", err)
		}
	}
	// What Want asked for is subscribed with the rest; a Want while this
	// connection is being set up waits, then finds it.
	n.wantMu.Lock()
	defer n.wantMu.Unlock()
	events := append([]string{"BACKGROUND_JOB", "HEARTBEAT"}, n.cfg.Events...)
	subscribed := map[string]bool{}
	for ev := range n.wanted {
		if !slices.Contains(events, ev) {
			subscribed[ev] = true
			events = append(events, ev)
		}
	}
	if err := conn.Subscribe(dialCtx, events...); err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	n.subscribed = subscribed
	core := ""
	if v, err := conn.API(dialCtx, "global_getvar core_uuid"); err == nil {
		core = v
	}
	n.noteCore(core)
	n.setConn(conn)
	return conn, nil
}

// Want subscribes the node's connection to an event type that only some
// calls need for a while, beyond NodeConfig.Events (one of those is
// there for good: Want and its release send nothing), until every holder
// has called its release: each event the node sends costs it its
// serialisation whether or not a call reads it. The subscription lasts
// across reconnects. When Want returns without an error, the connection
// is subscribed: a command sent on it afterwards has its events follow.
// Otherwise it still counts the holder and returns the error: with no
// connection now ErrNotConnected (the next connection subscribes), or
// the subscription's failure (the next holder tries again). release
// must be called either way; a second call does nothing.
func (n *Node) Want(ctx context.Context, event string) (release func(), err error) {
	n.wantMu.Lock()
	defer n.wantMu.Unlock()
	if n.wanted == nil {
		n.wanted, n.subscribed = map[string]int{}, map[string]bool{}
	}
	n.wanted[event]++
	if !n.subscribed[event] && !slices.Contains(n.cfg.Events, event) {
		err = n.onConn(func(c *Conn) error { return c.Subscribe(ctx, event) })
		n.subscribed[event] = err == nil
	}
	var once sync.Once
	return func() { once.Do(func() { n.unwant(event) }) }, err
}

func (n *Node) unwant(event string) {
	n.wantMu.Lock()
	defer n.wantMu.Unlock()
	n.wanted[event]--
	if n.wanted[event] > 0 {
		return
	}
	delete(n.wanted, event)
	if !n.subscribed[event] {
		return
	}
	delete(n.subscribed, event) // even if the nixevent fails: extra events are only dropped
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ProbeTimeout)
	defer cancel()
	if err := n.onConn(func(c *Conn) error { return c.Unsubscribe(ctx, event) }); err != nil && !errors.Is(err, ErrNotConnected) {
		n.log.Warn("esl: cannot drop an event subscription", "event", event, "err", err)
	}
}

// onConn runs fn on the live connection, or returns ErrNotConnected.
func (n *Node) onConn(fn func(*Conn) error) error {
	c, err := n.Conn()
	if err != nil {
		return err
	}
	return fn(c)
}

// watch returns when the connection closes, stays silent too long, or
// leaves a probe unanswered.
func (n *Node) watch(ctx context.Context, conn *Conn) {
	check := time.NewTicker(min(n.cfg.HeartbeatTimeout/5, n.cfg.ProbeInterval))
	defer check.Stop()
	lastProbe := time.Now()
	for {
		select {
		case <-ctx.Done():
			conn.Close()
			return
		case <-conn.Done():
			return
		case <-check.C:
			n.mu.Lock()
			last := n.health.LastHeartbeat
			n.mu.Unlock()
			if time.Since(last) > n.cfg.HeartbeatTimeout {
				n.log.Warn("esl: no HEARTBEAT; dropping the connection", "silent_for", time.Since(last).Round(time.Second))
				conn.closeWith(fmt.Errorf("%w: heartbeat timeout", ErrClosed))
				return
			}
			if time.Since(lastProbe) < n.cfg.ProbeInterval {
				continue
			}
			lastProbe = time.Now()
			if err := n.probe(ctx, conn); err != nil {
				if ctx.Err() != nil {
					conn.Close()
					return
				}
				n.log.Warn("esl: node not answering; taking it out", "err", err, "timeout", n.cfg.ProbeTimeout)
				conn.closeWith(fmt.Errorf("%w: node not answering: %w", ErrClosed, err))
				return
			}
		}
	}
}

// probe asks the node for its status: an answer proves it alive and
// tells its session count between heartbeats.
func (n *Node) probe(ctx context.Context, conn *Conn) error {
	pctx, cancel := context.WithTimeout(ctx, n.cfg.ProbeTimeout)
	defer cancel()
	// The count is as of the moment the node was asked: a call placed
	// while the answer was on its way may be missing from it.
	asked := time.Now()
	out, err := conn.API(pctx, "status")
	if err != nil {
		return err
	}
	st, ok := parseStatus(out)
	if !ok {
		return nil // an answer all the same; heartbeats carry the figures
	}
	n.mu.Lock()
	n.health.SessionCount, n.health.CountedAt = st.sessions, asked
	if st.maxSessions > 0 {
		n.health.MaxSessions = st.maxSessions
	}
	n.mu.Unlock()
	return nil
}

type nodeStatus struct{ sessions, maxSessions int }

// parseStatus reads the session figures of `api status`:
//
//	3 session(s) - peak 7, last 5min 5
//	4000 session(s) max
func parseStatus(out string) (nodeStatus, bool) {
	var st nodeStatus
	found := false
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutSuffix(line, " session(s) max"); ok {
			if m, err := strconv.Atoi(v); err == nil {
				st.maxSessions = m
			}
			continue
		}
		if v, _, ok := strings.Cut(line, " session(s) - peak"); ok {
			if m, err := strconv.Atoi(v); err == nil {
				st.sessions, found = m, true
			}
		}
	}
	return st, found
}

func (n *Node) setConn(c *Conn) {
	n.mu.Lock()
	n.conn = c
	n.health.Connected = c != nil
	if c != nil {
		n.health.LastHeartbeat = time.Now() // the watchdog starts now
	}
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

func (n *Node) noteCore(core string) {
	if core == "" {
		return
	}
	n.mu.Lock()
	old := n.health.CoreUUID
	n.health.CoreUUID = core
	n.mu.Unlock()
	if old != "" && old != core {
		n.log.Warn("esl: node restarted (Core-UUID changed); its calls are gone", "old", old, "new", core)
		if n.cfg.OnRestart != nil {
			n.cfg.OnRestart(old, core)
		}
	}
}

func (n *Node) onEvent(conn *Conn, ev Event) {
	if ev.Name() == "HEARTBEAT" {
		n.mu.Lock()
		n.health.LastHeartbeat = time.Now()
		n.health.SessionCount, n.health.CountedAt = int(ev.Int("Session-Count")), n.health.LastHeartbeat
		n.health.MaxSessions = int(ev.Int("Max-Sessions"))
		fmt.Sscan(ev.Get("Idle-CPU"), &n.health.IdleCPU)
		n.mu.Unlock()
		n.noteCore(ev.Get("Core-UUID"))
		return
	}
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(conn, ev)
	}
}

// API runs an api command on the node.
func (n *Node) API(ctx context.Context, cmd string) (string, error) {
	c, err := n.Conn()
	if err != nil {
		return "", err
	}
	return c.API(ctx, cmd)
}

// BgAPI runs a bgapi command on the node.
func (n *Node) BgAPI(ctx context.Context, cmd string) (<-chan Job, error) {
	c, err := n.Conn()
	if err != nil {
		return nil, err
	}
	return c.BgAPI(ctx, cmd)
}

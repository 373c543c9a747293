package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Store is what the runtime needs from persistence.
type Store interface {
	Route(ctx context.Context, dialed string) (*store.Route, error)
	LiveVersion(ctx context.Context, accountSID, flowID string) (*store.FlowVersion, error)
	CreateCall(ctx context.Context, c *store.Call) error
	CallStatus(ctx context.Context, sid string, s store.Status, at time.Time) error
	// CallAnswered records the answer, and the callbacks out writes with
	// it; committed (when not nil) is called once those are in the
	// database, which may be after CallAnswered returns.
	CallAnswered(ctx context.Context, sid string, at time.Time, out store.OutboxFunc, committed func()) error
	CallDigits(ctx context.Context, sid, digits string) error
	FinishCall(ctx context.Context, sid string, f store.CallFinal) error
	CreateLeg(ctx context.Context, l *store.Leg) error
	LegStatus(ctx context.Context, uuid string, s store.Status, at time.Time) error
	FinishLeg(ctx context.Context, uuid string, f store.LegFinal) error
	CreateRecording(ctx context.Context, r *store.Recording) error
	// For API calls.
	ExoPhone(ctx context.Context, accountSID, number string) (*store.ExoPhone, error)
	CreateOutbound(ctx context.Context, c *store.Call, o store.CreateOptions) (*store.Call, bool, error)
	CallBySID(ctx context.Context, sid string) (*store.Call, error)
	FlowVersion(ctx context.Context, accountSID, flowID string, version int) (*store.FlowVersion, error)
	// Agent state (see store.Agents).
	Resolve(ctx context.Context, accountSID string, dests []string) ([]store.Target, error)
	Hold(ctx context.Context, accountSID, key, callSID, legUUID string, lease time.Duration) error
	// Release frees what legUUID held; done (when not nil) is called
	// once the release is over, landed or not, which may be after Release
	// returns.
	Release(ctx context.Context, legUUID string, done func()) error
	Refresh(ctx context.Context, callSIDs []string, lease time.Duration) error
	Sticky(ctx context.Context, accountSID, scope, caller string, at time.Time) (string, error)
	Stick(ctx context.Context, accountSID, scope, caller, contact string, until time.Time) error
	Enqueue(ctx context.Context, accountSID, key, callSID string, lease time.Duration) error
	Dequeue(ctx context.Context, callSID string) error
	Ahead(ctx context.Context, callSID string) (int, error)
	// Flush waits, until ctx ends, for every write queued before it.
	Flush(ctx context.Context) error
}

// Messenger sends the SMS and email of flows. Send must return promptly or
// honour ctx.
type Messenger interface {
	Send(ctx context.Context, c *Info, m flows.Send) error
}

// Fetcher makes a flow's requests to the customer's URLs: passthru, and
// the dynamic greeting, gather and SMS (flows.Fetch.Purpose). The error
// is non-nil only when no HTTP status was had.
type Fetcher interface {
	Fetch(ctx context.Context, c *Info, f flows.Fetch) (Answer, error)
}

// Answer is what a URL answered: the status, the Content-Type and the
// start of the body (up to flows.MaxFetchBody), which the flow reads.
type Answer struct {
	Status      int
	ContentType string
	Body        string
}

// Info is what messengers and fetchers know of a call.
type Info struct {
	CallSid, AccountSID string
	State               flows.State
}

// Config tunes the runtime.
type Config struct {
	Endpoints Endpoints
	// RecordingsDir is where the media node writes recordings.
	RecordingsDir string
	// RecordingURL renders a recording's public URL from its account and id.
	RecordingURL func(accountSID, id string) string
	// RecordingFormat is what recordings are archived as when the call's
	// request chose none: "wav" (the default), "mp3" or "mp3-hq".
	RecordingFormat string
	// TTSEngine and TTSVoice speak text prompts (default flite, slt).
	TTSEngine, TTSVoice string
	// Linger keeps a socket open after hangup, in seconds (default 2):
	// long enough for the last events, short enough to free the session.
	Linger int
	// Settle bounds the wait for a late result or leg record after the
	// caller hangs up (default 3s).
	Settle time.Duration
	// Node names the media node, for the call record.
	Node string
	// NodeOf, if set, names the node a call came from by its Core-UUID
	// (the connect reply's), for the record of an inbound call; Node is
	// used when it does not know the node. The reconciler closes a
	// restarted node's calls by this name.
	NodeOf func(coreUUID string) string
	// OnEnd, if set, is called when a call handed to the runtime is over:
	// with its CallSid once its final record is written, or with "" for a
	// call that never got a record (refused, or lost during setup).
	OnEnd func(callSID string)
	// OnRecorded, if set, is called when a call that made recordings is
	// over (after OnEnd): their files are closed and can be archived.
	OnRecorded func()
	// OnStep, if set, gets the latency of each flow step: from the event's
	// arrival at the call to FreeSWITCH acknowledging the next blocking
	// command (one ESL round trip included).
	OnStep func(time.Duration)

	// Nodes places API calls; nil refuses them (ErrNoNode).
	Nodes Nodes
	// Instance is the store.Instance ID of this process, recorded on
	// each call it runs (see Reconciler.RunOrphans).
	Instance string
	// SocketAddr is where the nodes reach this instance's outbound-socket
	// server (host:port): API calls' first legs connect back there.
	SocketAddr string
	// Detach gives a call the connection of the node its channel is on,
	// so the call can let go of its socket for the rest of a final
	// bridge (see the Detach effect). That connection must carry
	// DetachEvents of the channels whose DetachVar is Instance (the
	// filters DetachFilters gives). Nil: calls keep their sockets to the end.
	Detach Detacher
	// Handoff runs inbound calls over the node's connection from their
	// first command (see HandoffEvents, and the package doc): the socket
	// only hands the call to this instance. It needs Detach, Instance,
	// and a node connection subscribed to HandoffEvents with
	// HandoffFilters; a call whose node has no connection keeps its
	// socket.
	Handoff bool
	// NoDetach keeps the sockets of calls that are not handed off to the
	// end, when Detach is set for Handoff's sake only.
	NoDetach bool
	// OnDetach, if set, is called when a call has let go of its socket.
	OnDetach func()
	// SocketWait is how long an API call's answered first leg may take to
	// reach Handle before the runtime asks its node whether the channel
	// still exists, and then how often it asks again (default 5s).
	SocketWait time.Duration
	// ReattachWait bounds how long a detached call waits for its node's
	// connection to come back when it is lost (default 30s).
	ReattachWait time.Duration
	// TerminalCallbacks and AnsweredCallbacks build the status callbacks
	// written with a call's final record and its answer (nil: none);
	// NotifyCallbacks is called after such a write has committed, from
	// the store's queue for an answer: it must return at once.
	TerminalCallbacks, AnsweredCallbacks store.OutboxFunc
	NotifyCallbacks                      func()

	// Planner answers programmable connects (nil: they take failed).
	Planner Planner
	// DialEvents posts connects' dial events (nil: none are sent).
	DialEvents DialEvents
	// HoldLease is how long a destination held by a call stays held if
	// this instance stops refreshing it (it died): default 60s. KeepHolds
	// refreshes every third of it.
	HoldLease time.Duration
	// QueuePoll is how often a queued caller checks for agents freed on
	// other instances (default 1s); local releases wake it at once.
	QueuePoll time.Duration
	// Clock is the time flows see (business hours, sticky periods);
	// default time.Now.
	Clock func() time.Time
	// Metrics counts the calls started and ended and the flows' steps,
	// and times the steps as OnStep does (nil: nowhere).
	Metrics *metrics.Set
}

// Runtime runs calls: one owner goroutine per call, driving the flow with
// flows.Step and FreeSWITCH over the call's own socket.
type Runtime struct {
	store     Store
	cfg       Config
	log       *slog.Logger
	messenger Messenger
	fetcher   Fetcher
	flows     flowCache
	routes    readCache[*store.Route]
	targets   readCache[[]store.Target]

	planner Planner
	events  DialEvents

	env *env // what calls share

	mu    sync.Mutex
	calls map[string]*call // by CallSid, for lookup only
	wake  chan struct{}    // closed when a destination is released here
	// bg counts requests that outlive their call (passthru, messages,
	// plans, first legs ringing): Wait joins them.
	bg sync.WaitGroup
	// placing are API calls placed here whose first leg has neither
	// failed nor reached Handle, with that leg's UUID once it is known;
	// placed is closed (and replaced) whenever one leaves. Drain waits
	// for them.
	placing map[string]string
	placed  chan struct{}
	// firstLegs are the placing calls by their first leg's UUID, with
	// what SocketGone needs to end one.
	firstLegs map[string]firstLeg
	draining  atomic.Bool
}

// New makes a runtime. m and f may be nil: messages are then only logged
// and passthru requests take the error output.
func New(st Store, cfg Config, m Messenger, f Fetcher, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TTSEngine == "" {
		cfg.TTSEngine = "flite"
	}
	if cfg.TTSVoice == "" {
		cfg.TTSVoice = "slt"
	}
	if cfg.Linger == 0 {
		cfg.Linger = 2
	}
	if cfg.Settle == 0 {
		cfg.Settle = 3 * time.Second
	}
	if cfg.Endpoints.Number == "" {
		cfg.Endpoints.Number = "loopback/{number}/switchyard_testnet"
	}
	if cfg.Endpoints.SIP == "" {
		cfg.Endpoints.SIP = "sofia/external/{uri}"
	}
	if cfg.RecordingsDir == "" {
		cfg.RecordingsDir = "/var/lib/freeswitch/recordings"
	}
	if cfg.RecordingFormat == "" {
		cfg.RecordingFormat = "wav"
	}
	if cfg.RecordingURL == nil {
		cfg.RecordingURL = func(account, id string) string {
			return "/v1/Accounts/" + account + "/Recordings/" + id
		}
	}
	if cfg.HoldLease <= 0 {
		cfg.HoldLease = time.Minute
	}
	if cfg.QueuePoll <= 0 {
		cfg.QueuePoll = time.Second
	}
	if cfg.SocketWait <= 0 {
		cfg.SocketWait = 5 * time.Second
	}
	if cfg.ReattachWait <= 0 {
		cfg.ReattachWait = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	rt := &Runtime{store: st, cfg: cfg, log: log, messenger: m, fetcher: f,
		planner: cfg.Planner, events: cfg.DialEvents,
		flows: flowCache{m: map[string]*flows.Flow{}}, calls: map[string]*call{}, wake: make(chan struct{}),
		placing: map[string]string{}, placed: make(chan struct{}), firstLegs: map[string]firstLeg{}}
	rt.routes.what, rt.targets.what = "route", "destinations"
	rt.env = &env{cfg: cfg, flows: &rt.flows, log: log, wall: time.Now, newUUID: esl.NewUUID, newApp: esl.NewAppID, newSID: store.NewSID,
		planner: cfg.Planner != nil, fetcher: f != nil, messenger: m != nil, events: cfg.DialEvents != nil,
		detach: cfg.Detach != nil && cfg.Instance != "" && !cfg.NoDetach}
	return rt
}

// background runs fn on its own goroutine, joined by Wait.
func (rt *Runtime) background(fn func()) {
	rt.bg.Add(1)
	go func() {
		defer rt.bg.Done()
		fn()
	}()
}

// Wait returns once the requests calls left running (passthru, messages,
// plans, the first legs of API calls) are done: call it after the
// outbound-socket server has shut down, before closing the store.
func (rt *Runtime) Wait() { rt.bg.Wait() }

func (rt *Runtime) now() time.Time { return rt.cfg.Clock() }

// queueWake returns a channel closed at the next local release.
func (rt *Runtime) queueWake() <-chan struct{} {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.wake
}

// wakeQueues tells queued callers a destination was released here.
func (rt *Runtime) wakeQueues() {
	rt.mu.Lock()
	close(rt.wake)
	rt.wake = make(chan struct{})
	rt.mu.Unlock()
}

// KeepHolds refreshes, until ctx ends, the leases of what this instance's
// live calls hold (destinations, queue places), so that they outlive the
// lease only while this instance is alive.
func (rt *Runtime) KeepHolds(ctx context.Context) {
	t := time.NewTicker(rt.cfg.HoldLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt.mu.Lock()
		sids := make([]string, 0, len(rt.calls))
		for sid := range rt.calls {
			sids = append(sids, sid)
		}
		rt.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, rt.cfg.HoldLease/3)
		if err := rt.store.Refresh(rctx, sids, rt.cfg.HoldLease); err != nil {
			rt.log.Error("agents: cannot refresh holds; they lapse if this goes on", "err", err)
		}
		cancel()
	}
}

// Live is the number of calls running.
func (rt *Runtime) Live() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.calls)
}

// Handle runs one call handed over by FreeSWITCH; it is the esl.Handler.
func (rt *Runtime) Handle(ctx context.Context, s *esl.Session) {
	rt.runDriver(newDriver(ctx, rt, s))
}

// Parked takes a call the dialplan parked for this instance (serve
// -control park), from its CHANNEL_PARK on conn, a node's connection; run
// runs it until it is over. Parked must be called on conn's reader (the
// node's OnEvent), before the next event is read: from that event on,
// the channel's events go to the call. A parked call has no socket: it
// runs over conn as a handed-off call does, from the start, once it has
// cancelled the dialplan's fallback (claim). ctx is the call's, as a
// socket's handler gets it: ending it hangs the call up.
func (rt *Runtime) Parked(ctx context.Context, conn *esl.Conn, park esl.Event) (run func()) {
	d := newDriver(ctx, rt, esl.NewParkedSession(conn, park))
	d.node, d.handedOff, d.parked = conn, true, true
	d.routes = append(d.routes, conn.Route(park.UniqueID(), d.sink))
	return func() { rt.runDriver(d) }
}

func (rt *Runtime) runDriver(d *driver) {
	c := d.c
	defer func() {
		rt.forget(c)
		if rt.cfg.OnEnd != nil {
			sid := ""
			if c.rowCreated {
				sid = c.sid
			}
			rt.cfg.OnEnd(sid)
		}
		if c.recordings > 0 && rt.cfg.OnRecorded != nil {
			rt.cfg.OnRecorded()
		}
	}()
	d.run()
}

// Running reports whether this runtime is running the call.
func (rt *Runtime) Running(callSID string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.calls[callSID] != nil
}

func (rt *Runtime) track(c *call) {
	rt.mu.Lock()
	rt.calls[c.sid] = c
	rt.landedLocked(c.sid)
	rt.mu.Unlock()
}

func (rt *Runtime) forget(c *call) {
	rt.mu.Lock()
	delete(rt.calls, c.sid)
	rt.mu.Unlock()
}

// flowCache keeps parsed published versions; they never change.
type flowCache struct {
	mu sync.Mutex
	m  map[string]*flows.Flow
}

const flowCacheSize = 4096

func (fc *flowCache) get(flowID string, version int, doc []byte) (*flows.Flow, error) {
	key := fmt.Sprintf("%s@%d", flowID, version)
	fc.mu.Lock()
	f := fc.m[key]
	fc.mu.Unlock()
	if f != nil {
		return f, nil
	}
	f, err := flows.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("flow %s version %d: %w", flowID, version, err)
	}
	fc.mu.Lock()
	if len(fc.m) >= flowCacheSize {
		for k := range fc.m { // drop an arbitrary entry
			delete(fc.m, k)
			break
		}
	}
	fc.m[key] = f
	fc.mu.Unlock()
	return f, nil
}

// dbStore is the database read directly: queuedStore's reads.
type dbStore struct{ db *store.DB }

func (s dbStore) Route(ctx context.Context, dialed string) (*store.Route, error) {
	return s.db.Numbers().Route(ctx, dialed)
}

func (s dbStore) LiveVersion(ctx context.Context, accountSID, flowID string) (*store.FlowVersion, error) {
	f, err := s.db.Flows().Get(ctx, accountSID, flowID)
	if err != nil {
		return nil, err
	}
	if f.LiveVersion == 0 {
		return nil, fmt.Errorf("flow %s: %w", flowID, store.ErrNotPublished)
	}
	return s.db.Flows().Version(ctx, accountSID, flowID, f.LiveVersion)
}

func (s dbStore) CreateCall(ctx context.Context, c *store.Call) error {
	return s.db.Calls().Create(ctx, c)
}

func (s dbStore) CallStatus(ctx context.Context, sid string, st store.Status, at time.Time) error {
	_, err := s.db.Calls().UpdateStatus(ctx, sid, st, at)
	return err
}

func (s dbStore) CallAnswered(ctx context.Context, sid string, at time.Time, out store.OutboxFunc, committed func()) error {
	if _, err := s.db.Calls().Answer(ctx, sid, at, out); err != nil {
		return err
	}
	if committed != nil {
		committed()
	}
	return nil
}

func (s dbStore) ExoPhone(ctx context.Context, accountSID, number string) (*store.ExoPhone, error) {
	return s.db.Numbers().Get(ctx, accountSID, number)
}

func (s dbStore) CreateOutbound(ctx context.Context, c *store.Call, o store.CreateOptions) (*store.Call, bool, error) {
	return s.db.Calls().CreateWith(ctx, c, o)
}

func (s dbStore) FlowVersion(ctx context.Context, accountSID, flowID string, version int) (*store.FlowVersion, error) {
	return s.db.Flows().Version(ctx, accountSID, flowID, version)
}

func (s dbStore) CallBySID(ctx context.Context, sid string) (*store.Call, error) {
	return s.db.Calls().BySID(ctx, sid)
}

func (s dbStore) CallDigits(ctx context.Context, sid, digits string) error {
	return s.db.Calls().SetDigits(ctx, sid, digits)
}

func (s dbStore) FinishCall(ctx context.Context, sid string, f store.CallFinal) error {
	_, err := s.db.Calls().Finish(ctx, sid, f)
	return err
}

func (s dbStore) CreateLeg(ctx context.Context, l *store.Leg) error {
	return s.db.Legs().Create(ctx, l)
}

func (s dbStore) LegStatus(ctx context.Context, uuid string, st store.Status, at time.Time) error {
	_, err := s.db.Legs().UpdateStatus(ctx, uuid, st, at)
	return err
}

func (s dbStore) FinishLeg(ctx context.Context, uuid string, f store.LegFinal) error {
	_, err := s.db.Legs().Finish(ctx, uuid, f)
	return err
}

func (s dbStore) CreateRecording(ctx context.Context, r *store.Recording) error {
	return s.db.Recordings().Create(ctx, r)
}

func (s dbStore) Resolve(ctx context.Context, accountSID string, dests []string) ([]store.Target, error) {
	return s.db.Agents().Resolve(ctx, accountSID, dests)
}

func (s dbStore) Hold(ctx context.Context, accountSID, key, callSID, legUUID string, lease time.Duration) error {
	return s.db.Agents().Hold(ctx, accountSID, key, callSID, legUUID, lease)
}

func (s dbStore) Release(ctx context.Context, legUUID string, done func()) error {
	err := s.db.Agents().Release(ctx, legUUID)
	if done != nil {
		done()
	}
	return err
}

func (s dbStore) Refresh(ctx context.Context, callSIDs []string, lease time.Duration) error {
	return s.db.Agents().Refresh(ctx, callSIDs, lease)
}

func (s dbStore) Sticky(ctx context.Context, accountSID, scope, caller string, at time.Time) (string, error) {
	return s.db.Agents().Sticky(ctx, accountSID, scope, caller, at)
}

func (s dbStore) Stick(ctx context.Context, accountSID, scope, caller, contact string, until time.Time) error {
	return s.db.Agents().Stick(ctx, accountSID, scope, caller, contact, until)
}

func (s dbStore) Enqueue(ctx context.Context, accountSID, key, callSID string, lease time.Duration) error {
	return s.db.Agents().Enqueue(ctx, accountSID, key, callSID, lease)
}

func (s dbStore) Dequeue(ctx context.Context, callSID string) error {
	return s.db.Agents().Dequeue(ctx, callSID)
}

func (s dbStore) Ahead(ctx context.Context, callSID string) (int, error) {
	return s.db.Agents().Ahead(ctx, callSID)
}

// Flush: dbStore's writes are done when they return.
func (dbStore) Flush(context.Context) error { return nil }

// persist runs a store write that must not be lost (a row, a final
// record). The store's queue retries it until it commits, so nothing here
// tries again: a write that outlasts its wait stays queued (ErrQueued) and
// counts as landed. A write the store rejects for good (an unknown call,
// invalid values), or one the closed queue no longer takes, is returned;
// the reconciler then closes the call, with its terminal callback.
func (rt *Runtime) persist(ctx context.Context, write func(context.Context) error) error {
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	if err := write(wctx); err != nil && !errors.Is(err, store.ErrQueued) {
		return err
	}
	return nil
}

// storeCtx bounds a store operation; it outlives ctx (a call's, or the
// process's) so a record is written even during shutdown.
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// callerFrom reads the caller and dialed number from the connect data.
func callerFrom(data esl.Event) (from, to string) {
	from = data.Get("Caller-Caller-ID-Number")
	to = data.Get("Caller-Destination-Number")
	if to == "" {
		to = data.Var("sip_to_user")
	}
	return strings.TrimSpace(from), strings.TrimSpace(to)
}

package call

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"reflect"
	"slices"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Events the call's socket subscribes to: its own channel's and, through
// per-leg filters, those of every leg it dials. Only what the call reads:
// FreeSWITCH serialises every event for every socket subscribed to it
// (about 180 µs of the node's CPU each, see package esl). A leg rings
// from its first CHANNEL_PROGRESS(_MEDIA), the 180 or 183 its far end
// sends; CHANNEL_CREATE, a channel made before its INVITE goes out, said
// nothing more than the leg's row already does. CHANNEL_HANGUP is left
// out: CHANNEL_HANGUP_COMPLETE, which every channel sends a few
// milliseconds later, carries its cause and the billing record as well,
// and a caller who hangs up during an application says so in that
// application's completion first (Answer-State "hangup", Hangup-Cause):
// callerLeftIn. A two-leg call is sent three events fewer.
var subscribed = []string{
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE_COMPLETE",
}

// quiet are negative filters on the call's socket for the completions of
// the applications every call runs without waiting for them (fire):
// setting its variables and answering. Nothing reads those two events.
// Each filter costs the node under 30 header bytes a call (two system
// calls a byte, about 0.1 ms), each event it spares about 180 µs.
var quiet = []esl.Filter{{Name: "Application", Value: "-multiset"}, {Name: "Application", Value: "-answer"}}

// Subscribed lists the events a call's socket subscribes to; a queued call
// adds PLAYBACK_START to follow its hold music.
func Subscribed() []string { return append([]string(nil), subscribed...) }

type waitKind int

const (
	waitNone waitKind = iota
	waitPlay
	waitDigits
	waitDial
	waitRecord
	waitPlan  // a programmable connect's URL is being asked
	waitQueue // hold music or an announcement while queued
)

// pending is the blocking command in flight.
type pending struct {
	kind     waitKind
	app      string // Application-UUID of the awaited EXECUTE_COMPLETE
	variable string // play_and_get_digits result variable
	rec      *store.Recording
	dial     *dialing
}

// dialing is a Dial in flight.
type dialing struct {
	legs   []dialLeg
	result *flows.DialResult
	winner string // uuid of the leg that answered
}

// call is one live call as a machine: it takes one input at a time (an
// event of its channels, a timer, the answer of a request) and returns
// effects (commands, store writes, requests, timers) for its driver to
// execute. It does no I/O and reads no clock of its own; the few reads it
// must wait for (routes, agents, queue places) go through lookups, which
// the driver answers after executing the effects emitted before them.
type call struct {
	env  *env
	look lookups
	log  *slog.Logger
	m    media
	// voice is the channel's tts_voice, which "say:" prompts speak in:
	// the default from the call's settings, then the last menu's.
	voice string

	uuid string    // the caller's channel
	data esl.Event // its connect data

	sid, account string
	from, to     string
	created      time.Time
	flow         *flows.Flow
	state        flows.State
	rowCreated   bool
	// callInfo is what the flow is told of an admitted inbound call.
	callInfo flows.CallInfo
	// running: the call got its row and is being run (not refused).
	running bool

	a        *leg
	legs     map[string]*leg
	order    []*leg
	deferred []func()
	out      []Effect

	// Timers and polls by id, with what to do when they fire; ids also
	// name plans.
	ids    int
	timers map[int]func()
	polls  map[int]func()

	pending pending
	// ahead is what the flow does once the prompt it plays ends, sent to
	// the channel behind the prompt (sendAhead).
	ahead       *ahead
	caller      callerPhase
	hangupCause string
	// settle is the wait for late results and records once the caller
	// is leaving; settleTimer its timer while it waits.
	settle       settlePhase
	settleTimer  int
	over         bool
	digitVars    int
	recordings   int
	talk         int
	recordingURL string
	// path is the applets the flow entered, for the final record; see
	// walked. pathFull: it reached store.MaxAppletPath.
	path     store.AppletPath
	pathFull bool

	// outbound is set on API calls (Place): their first leg was
	// originated by Switchyard and the call row already exists.
	outbound *outboundSpec
	// callbacks: the call has a status callback URL.
	callbacks bool
	// conn is the Connect in progress.
	conn *connecting
	// legMark is the channel variable (name=value) every leg the call
	// dials carries: set when the call was handed off to the node's
	// connection, whose filter lets through only marked channels.
	legMark string
	// detached: the call asked to let go of its socket during a final
	// bridge (Detach); it asks once, whether or not the driver could.
	detached bool
}

// settlePhase is where the call's wait for late results and leg records
// stands.
type settlePhase int

const (
	// settleIdle: nothing is being waited for.
	settleIdle settlePhase = iota
	// settleWaiting: the settle timer runs (a result in flight after the
	// hang-up, the winner's record, a leg's record).
	settleWaiting
	// settleGaveUp: the timer ran out, or the socket died: nothing more
	// is worth waiting for, until something arms the timer again.
	settleGaveUp
)

// callerPhase is where the caller's channel is; it only moves forward.
type callerPhase int

const (
	// callerUp: the channel is ringing or answered.
	callerUp callerPhase = iota
	// callerLeaving: the caller hung up (CHANNEL_HANGUP, or an event of
	// the channel after it: callerLeftIn); the flow hears of it once the
	// command in flight has its result, and the channel's record is on
	// its way.
	callerLeaving
	// callerGone: the channel's record came, or the socket died: no event
	// of it will come any more.
	callerGone
)

// left reports whether the caller hung up (or was lost).
func (c *call) left() bool { return c.caller >= callerLeaving }

// env is what calls share that is not I/O: settings, parsed flows, and
// the clocks and id sources (fakes in tests).
type env struct {
	cfg   Config
	flows *flowCache
	log   *slog.Logger
	// wall stamps records (leg times); cfg.Clock is the time flows see.
	wall    func() time.Time
	newUUID func() string // channels' uuids
	newApp  func() string // awaited applications' Event-UUIDs
	newSID  func() string
	// What the runtime was given: without a planner, fetcher, messenger or
	// dial-event poster the call does without; without detach, a call
	// keeps its socket to the end.
	planner, fetcher, messenger, events, detach bool
}

// lookups are the reads a call waits for. Each is answered on the spot,
// after the effects emitted before it, so a read sees the call's writes.
type lookups interface {
	route(to string) (*store.Route, error)
	createCall(row *store.Call) error
	callBySID(sid string) (*store.Call, error)
	flowVersion(account, flowID string, version int) (*store.FlowVersion, error)
	liveVersion(account, flowID string) (*store.FlowVersion, error)
	resolve(account string, dests []string) ([]store.Target, error)
	sticky(account, scope, caller string, at time.Time) (string, error)
	hold(account, key, sid, leg string) error
	enqueue(account, key, sid string) error
	ahead(sid string) (int, error)
}

// nodeOf names the node a call came from, for its record.
func (e *env) nodeOf(core string) string {
	if e.cfg.NodeOf != nil && core != "" {
		if n := e.cfg.NodeOf(core); n != "" {
			return n
		}
	}
	return e.cfg.Node
}

func newCall(e *env, look lookups, uuid string, data esl.Event) *call {
	from, to := callerFrom(data)
	c := &call{
		env: e, look: look, uuid: uuid, data: data, caller: callerUp,
		m:       media{ttsEngine: e.cfg.TTSEngine, ttsVoice: e.cfg.TTSVoice},
		voice:   e.cfg.TTSVoice,
		sid:     e.newSID(),
		from:    from,
		to:      to,
		created: createdAt(data, e.wall),
		legs:    map[string]*leg{},
		timers:  map[int]func(){},
		polls:   map[int]func(){},
	}
	c.log = e.log.With("call_sid", c.sid, "uuid", uuid, "from", from, "to", to)
	c.a = &leg{uuid: uuid, seq: 1, to: to, status: store.Ringing, createdAt: c.created}
	c.legs[uuid] = c.a
	c.order = append(c.order, c.a)
	return c
}

func (c *call) now() time.Time  { return c.env.cfg.Clock() }
func (c *call) wall() time.Time { return c.env.wall().UTC() }

// emit queues an effect for the driver.
func (c *call) emit(e Effect) { c.out = append(c.out, e) }

// effects hands the effects emitted so far to the driver.
func (c *call) effects() []Effect {
	out := c.out
	c.out = nil
	return out
}

// after runs fn when a timer fires, d from now; it returns the timer's id.
func (c *call) after(d time.Duration, fn func()) int {
	c.ids++
	c.timers[c.ids] = fn
	c.emit(StartTimer{ID: c.ids, After: d})
	return c.ids
}

// stopTimer stops a timer or a poll (0: none).
func (c *call) stopTimer(id int) {
	if id == 0 {
		return
	}
	_, t := c.timers[id]
	_, p := c.polls[id]
	if !t && !p {
		return
	}
	delete(c.timers, id)
	delete(c.polls, id)
	c.emit(StopTimer{ID: id})
}

func createdAt(data esl.Event, wall func() time.Time) time.Time {
	if us := data.Int("Caller-Channel-Created-Time"); us > 0 {
		return time.UnixMicro(us).UTC()
	}
	return wall().UTC()
}

// Inputs. Each runs the call one step and leaves effects to take.

// start begins the call once its socket is set up (setupErr: it could not
// be): route, row, answer, flow.
func (c *call) start(setupErr error) {
	c.setupFailed(setupErr)
	c.running = c.begin()
	c.afterInput()
}

// setupFailed takes the failure of the socket's setup, if any. The call
// still gets its record, closed as lost, with its terminal callback: its
// commands fail at once on a dead socket, and a poisoned one was closed,
// which makes FreeSWITCH run the dialplan's fallback after the socket
// application.
func (c *call) setupFailed(err error) {
	if err != nil {
		c.log.Error("call: socket setup failed", "err", err)
		c.lost(err)
	}
}

// startOnSocket goes on with a call admitted (or refused) before the
// socket was set up, when it keeps its socket after all: a handoff that
// did not happen.
func (c *call) startOnSocket(admitted bool, setupErr error) {
	if admitted {
		c.proceed()
	}
	c.setupFailed(setupErr)
	c.running = admitted
	c.afterInput()
}

// startHandedOff goes on with an admitted call whose socket was let go
// of: the handoff set the call's variables (handoffVars), and the
// dialplan answered before parking, unless answered says it did not (a
// call the dialplan parked for this instance). Such a call is answered
// with uuid_answer, which the node's connection runs before it reads the
// next command: some 60 command bytes fewer than a sendmsg answer (each
// costs the node two system calls: package esl), and no application run.
func (c *call) startHandedOff(answered bool) {
	if !answered {
		c.emit(API{Cmd: "uuid_answer " + c.uuid})
	}
	c.startFlow()
	c.running = true
	c.afterInput()
}

// event takes one event of the call's channels.
func (c *call) event(ev esl.Event) {
	l := c.legs[ev.UniqueID()]
	switch {
	case l == nil:
	case l == c.a:
		c.onCaller(ev)
	default:
		c.onLeg(l, ev)
	}
	c.afterInput()
}

// timer takes a timer or poll firing.
func (c *call) timer(id int) {
	if fn, ok := c.timers[id]; ok {
		delete(c.timers, id)
		fn()
	} else if fn, ok := c.polls[id]; ok {
		fn()
	}
	c.afterInput()
}

// fetched takes a synchronous passthru's answer.
func (c *call) fetched(res flows.FetchResult) {
	c.step(res)
	c.afterInput()
}

// lostControl takes the failure of a channel command: the socket is dead.
func (c *call) lostControl(err error) {
	c.lost(err)
	c.afterInput()
}

// socketGone takes the socket's end, once every event it read was taken.
func (c *call) socketGone(err error) {
	if c.caller != callerGone {
		c.lost(err)
	}
	c.afterInput()
}

// shutdown hangs the call up: the process is going away.
func (c *call) shutdown() {
	c.kill("SYSTEM_SHUTDOWN", "switchyard is shutting down")
	c.afterInput()
}

// overflowed hangs up a call whose events came faster than it took them.
func (c *call) overflowed() {
	c.kill("NORMAL_TEMPORARY_FAILURE", "event inbox overflow")
	c.afterInput()
}

// afterInput ends every input: work deferred to after the input runs,
// then the call is over once the caller's leg and the flow are done and
// every leg has its record, or the settle timer gave up waiting for them.
func (c *call) afterInput() {
	for len(c.deferred) > 0 {
		fn := c.deferred[0]
		c.deferred = c.deferred[1:]
		fn()
	}
	c.detach()
	c.over = c.done()
}

// begin routes the dialed number, writes the call before the first
// command, answers and starts the flow. It returns false when the call was
// refused (it is then being hung up).
func (c *call) begin() bool {
	if c.data.Var("switchyard_outbound") == "true" {
		return c.beginOutbound()
	}
	if !c.admit() {
		return false
	}
	c.proceed()
	return true
}

// admit routes the dialed number and writes the call and its caller's
// leg, before any command. It returns false when the call was refused
// (its announcement and hang-up are then on their way).
func (c *call) admit() bool {
	route, err := c.look.route(c.to)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.refuse("UNALLOCATED_NUMBER", "The number you have dialled is not in service.", "unknown ExoPhone", err)
		return false
	case errors.Is(err, store.ErrNoFlow), errors.Is(err, store.ErrNotPublished):
		c.refuse("SERVICE_UNAVAILABLE", "This number is not in service at the moment. Please try again later.", "no published flow", err)
		return false
	case err != nil:
		c.refuse("NORMAL_TEMPORARY_FAILURE", "", "store unavailable", err)
		return false
	}
	c.account = route.AccountSID
	c.flow, err = c.env.flows.get(route.FlowID, route.Version, route.Document)
	if err != nil {
		c.refuse("SERVICE_UNAVAILABLE", "This number is not in service at the moment. Please try again later.", "published flow does not load", err)
		return false
	}
	c.log = c.log.With("account", c.account, "flow", route.FlowID, "version", route.Version)
	flowID := route.FlowID
	row := &store.Call{
		SID: c.sid, AccountSID: c.account, Direction: store.DirectionInbound,
		From: c.from, To: c.to, PhoneNumber: route.Number, FlowID: &flowID, FlowVersion: route.Version,
		Status: store.Ringing, StartTime: c.created, Node: c.env.nodeOf(c.data.Get("Core-UUID")), InstanceID: c.env.cfg.Instance,
	}
	// The row may only be queued (the call's later writes follow it in
	// order): the call goes on. It is refused only when the store takes
	// no more writes.
	if err := c.look.createCall(row); err != nil && !errors.Is(err, store.ErrQueued) {
		c.refuse("NORMAL_TEMPORARY_FAILURE", "", "cannot record the call", err)
		return false
	}
	c.rowCreated = true
	c.emit(CreateLeg{Leg: store.Leg{CallSID: c.sid, AccountSID: c.account, Seq: 1, UUID: c.uuid,
		Direction: store.LegInbound, From: c.from, To: c.to, Status: store.Ringing, StartTime: c.created}})
	c.callInfo = flows.CallInfo{CallSid: c.sid, From: c.from, To: c.to, Direction: "incoming",
		ExoPhone: route.Number, FlowID: route.FlowID}
	return true
}

// proceed sets an admitted call's variables, answers it and starts its
// flow. The settings and the answer go out without waiting: FreeSWITCH
// runs them in order before the first applet's command.
func (c *call) proceed() {
	c.fire("multiset", c.settings())
	c.fire("answer", "")
	c.startFlow()
}

// startFlow starts an admitted call's flow.
func (c *call) startFlow() {
	c.step(flows.Started{At: c.now().UTC(), Call: c.callInfo})
}

// settings are the channel variables every call runs with, as one
// multiset argument.
func (c *call) settings() string {
	return "^^;continue_on_fail=true;hangup_after_bridge=false;" + c.handoffVars()
}

// handoffVars are the channel variables every call runs with but the two
// the managed-number extension sets itself (continue_on_fail,
// hangup_after_bridge), separated by semicolons: what the handoff sets
// with the channel's mark before letting go of the socket.
func (c *call) handoffVars() string {
	return "tts_engine=" + c.m.ttsEngine + ";tts_voice=" + c.m.ttsVoice +
		";transfer_ringback=%(2000,4000,440,480);switchyard_call=" + c.sid
}

// refuse ends a call Switchyard cannot run: an announcement (or a tone),
// then a hang-up with a cause, with the reason logged.
func (c *call) refuse(cause, say, reason string, err error) {
	c.log.Warn("call: refused", "reason", reason, "cause", cause, "err", err)
	c.fire("answer", "")
	if say != "" {
		app, arg := c.m.play(flows.Prompt{Text: say})
		c.fire(app, arg)
	} else {
		c.fire("playback", "tone_stream://%(250,250,480,620);loops=4")
	}
	c.fire("hangup", cause)
	c.state.Await = flows.AwaitHangup
	c.state.Reason = reason
}

// fire queues an application without waiting for it, so without an id:
// nothing looks for its EXECUTE_COMPLETE.
func (c *call) fire(app, arg string) {
	c.emit(Execute{App: app, Arg: arg})
}

// CauseLostControl closes a call whose socket died before FreeSWITCH said
// how the channel ended.
const CauseLostControl = "SWITCHYARD_LOST_CONTROL"

// lost handles a dead socket: nothing more can be commanded.
func (c *call) lost(err error) {
	if !c.left() {
		c.log.Warn("call: lost control of the channel", "err", err)
	}
	c.caller = callerGone
	if c.hangupCause == "" {
		c.hangupCause = CauseLostControl
	}
	c.pending = pending{}
	// No event can come any more: nothing is worth waiting for.
	c.stopTimer(c.settleTimer)
	c.settle, c.settleTimer = settleGaveUp, 0
	if !c.state.Done() && c.flow != nil {
		ev := flows.HungUp{At: c.now().UTC(), Cause: CauseLostControl}
		c.state, _ = flows.Step(c.flow, c.state, ev)
		c.walked()
	}
	c.state.Await = flows.AwaitNothing
}

func (c *call) done() bool {
	if c.caller != callerGone || !(c.state.Done() || c.flow == nil) {
		return false
	}
	if c.settle == settleGaveUp {
		return true
	}
	for _, l := range c.order {
		if l.final == nil {
			c.armSettle()
			return false
		}
	}
	return true
}

func (c *call) onCaller(ev esl.Event) {
	changed := c.a.apply(ev, c.wall)
	c.callerLeftIn(ev)
	switch ev.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		if ev.AppUUID() != "" && ev.AppUUID() == c.pending.app {
			c.complete(ev)
		}
	case "CHANNEL_ANSWER":
		if changed && c.rowCreated {
			c.answered()
		}
	case "CHANNEL_BRIDGE":
		c.bridged(ev)
	case "CHANNEL_PARK":
		// A handed-off call's first park is read before it starts
		// (awaitPark); this is the dialplan's second, run when the first
		// ended with the channel up: the socket's thread ended it as it
		// finished closing, or (over loopback) the caller's other half
		// was gone before the hang-up reached this one.
		c.log.Debug("call: parked again by the dialplan", "answer_state", ev.Get("Answer-State"))
	case "PLAYBACK_START":
		c.musicStarted(ev)
	case "CHANNEL_HANGUP":
		c.callerLeft(ev.Get("Hangup-Cause"))
	case "CHANNEL_HANGUP_COMPLETE":
		if !changed {
			break // a second copy (a detached call's, through the node's connection as well)
		}
		c.finishLeg(c.a)
		c.callerLeft(c.a.final.HangupCause)
		c.caller = callerGone
	}
	if changed && c.rowCreated && c.a.final == nil {
		c.legStatus(c.a)
	}
}

// callerLeftIn notes a hang-up that an event of the caller's channel
// shows before its CHANNEL_HANGUP_COMPLETE: FreeSWITCH fires the
// completion of the application the hang-up cut short with Answer-State
// "hangup" and the cause, as CHANNEL_HANGUP would have (which the call
// does not subscribe to), so the flow is not given its result as if the
// caller were still there.
func (c *call) callerLeftIn(ev esl.Event) {
	if ev.Name() == "CHANNEL_HANGUP_COMPLETE" || ev.Get("Answer-State") != "hangup" {
		return
	}
	c.callerLeft(ev.Get("Hangup-Cause"))
}

// answered records the call's answer, with its "answered" status
// callback when one is asked for.
func (c *call) answered() {
	c.emit(AnswerCall{SID: c.sid, At: c.a.answerAt, Callbacks: c.callbacks})
}

func (c *call) onLeg(l *leg, ev esl.Event) {
	changed := l.apply(ev, c.wall)
	switch name := ev.Name(); {
	case l.events == "":
	case (name == "CHANNEL_PROGRESS" || name == "CHANNEL_PROGRESS_MEDIA") && !l.rang && l.final == nil:
		l.rang = true
		c.dialEvent(l, DialEventRinging)
	case name == "CHANNEL_ANSWER" && changed && l.final == nil:
		c.dialEvent(l, DialEventAnswered)
	}
	if !changed {
		return
	}
	if l.final != nil {
		c.finishLeg(l)
		if d := c.pending.dial; d != nil && d.result != nil && l.uuid == d.winner {
			c.deliverDial()
		}
		return
	}
	c.legStatus(l)
}

func (c *call) legStatus(l *leg) {
	c.emit(SetLegStatus{UUID: l.uuid, Status: l.status, At: c.wall()})
}

func (c *call) finishLeg(l *leg) {
	if !c.rowCreated || l.final == nil {
		return
	}
	if l.answered && l.uuid != c.a.uuid {
		c.talk += l.billsec
	}
	c.emit(FinishLeg{UUID: l.uuid, Final: *l.final})
	if l.held {
		l.held = false
		c.emit(Release{UUID: l.uuid})
	}
	if l.events != "" && l.uuid != c.a.uuid {
		c.dialEvent(l, DialEventTerminal)
	}
}

// callerLeft handles the caller's channel going down. A command still in
// flight gets a bounded wait for its result (FreeSWITCH sends it, though
// possibly after the hang-up event) before the flow hears of the hang-up.
func (c *call) callerLeft(cause string) {
	if c.left() {
		return
	}
	c.caller = callerLeaving
	c.hangupCause = cause
	if c.pending.kind != waitNone {
		c.armSettle()
		return
	}
	c.step(flows.HungUp{At: c.now().UTC(), Cause: cause})
}

func (c *call) armSettle() {
	if c.settle == settleWaiting {
		return
	}
	c.settle = settleWaiting
	c.settleTimer = c.after(c.env.cfg.Settle, c.onSettle)
}

// onSettle gives up waiting: a lost result is dropped, a dial result goes
// out with what is known, legs without a final record are closed from the
// bridge's own account of them.
func (c *call) onSettle() {
	c.settleTimer = 0
	c.settle = settleGaveUp
	if d := c.pending.dial; d != nil && d.result != nil {
		c.deliverDial()
	}
	if c.left() && c.pending.kind != waitNone {
		c.log.Warn("call: no result for the command in flight after hang-up", "wait", c.pending.kind)
		c.pending = pending{}
		c.step(flows.HungUp{At: c.now().UTC(), Cause: c.hangupCause})
	}
}

// complete turns the awaited EXECUTE_COMPLETE into the flow's event.
func (c *call) complete(ev esl.Event) {
	p := c.pending
	now := c.now().UTC()
	var result flows.Event
	switch p.kind {
	case waitPlay:
		result = flows.PlaybackDone{At: now}
	case waitDigits:
		digits := ev.Var(p.variable)
		if digits == "" {
			digits = ev.Var(p.variable + "_invalid")
		}
		if digits != "" && c.rowCreated {
			c.emit(SetDigits{SID: c.sid, Digits: digits})
		}
		result = flows.DigitsCollected{At: now, Digits: digits}
	case waitRecord:
		result = c.recorded(p.rec, ev)
	case waitDial:
		c.dialed(ev)
		return
	case waitQueue:
		c.queueBroken(ev.Get("Application-Response"))
		return
	default:
		return
	}
	c.pending = pending{}
	c.deliver(result, p.kind == waitRecord)
}

// deliver feeds a command's result to the flow, then the hang-up if the
// caller is gone. After a hang-up only results that stand on their own
// (a voicemail, a finished conversation) are worth telling the flow.
func (c *call) deliver(result flows.Event, standsAlone bool) {
	if !c.left() || standsAlone {
		c.step(result)
	}
	if c.left() {
		c.step(flows.HungUp{At: c.now().UTC(), Cause: c.hangupCause})
	}
}

func (c *call) recorded(rec *store.Recording, ev esl.Event) flows.Event {
	secs := int(ev.Int("variable_record_seconds"))
	if ms := ev.Int("variable_record_ms"); secs == 0 && ms > 0 {
		secs = int((ms + 500) / 1000)
	}
	rec.Duration = secs
	c.emit(SaveRecording{Recording: *rec})
	c.recordingURL = rec.URL
	return flows.RecordingDone{At: c.now().UTC(), URL: rec.URL, Duration: secs}
}

// dialed handles the end of a bridge: how it went comes from the A-leg's
// variables; the talk time from the winning leg's own final record, which
// may still be on its way.
func (c *call) dialed(ev esl.Event) {
	d := c.pending.dial
	causes := originateCauses(ev.Var("originate_causes"))
	res := flows.DialResult{At: c.now().UTC()}
	winner := ev.Var("last_bridge_to")
	for _, dl := range d.legs {
		if dl.uuid == winner {
			d.winner = winner
			res.AnsweredBy = dl.dest
		}
	}
	if d.winner != "" {
		res.Status = flows.DialCompleted
	} else {
		res.Status = dialStatus(ev.Var("originate_disposition"), ev.Var("DIALSTATUS"))
	}
	sequential := c.conn != nil && c.conn.d.Strategy != flows.Parallel
	afterWinner := false
	for _, dl := range d.legs {
		l, cause := c.legs[dl.uuid], causes[dl.uuid]
		if dl.uuid == d.winner {
			afterWinner = true
		}
		if l == nil || l.final != nil {
			continue
		}
		if cause == "NONE" {
			cause = ""
		}
		if cause != "" {
			l.hangup = cause
		}
		if l.lastSeq != 0 {
			continue
		}
		// Not one event: the channel was never created (a bad endpoint,
		// INVALID_PROFILE ...). FreeSWITCH sends only a CHANNEL_DESTROY
		// without a cause for its UUID and leaves it out of
		// originate_causes; a bridge of that leg alone names the cause in
		// originate_disposition. Otherwise the cause is unknown, and left
		// empty rather than made up.
		if cause == "" && d.winner == "" && len(d.legs) == 1 {
			cause = ev.Var("originate_disposition")
		}
		f := store.LegFinal{HangupCause: cause, EndTime: c.wall(), Status: LegStatus(false, cause, "", 0)}
		// A sequential destination after the one who answered was never
		// dialled at all: canceled, without a cause.
		if sequential && afterWinner {
			f.Status = store.Canceled
		}
		l.final, l.status = &f, f.Status
		c.finishLeg(l)
	}
	d.result = &res
	if w := c.legs[d.winner]; d.winner != "" && (w == nil || w.final == nil) && c.settle != settleGaveUp {
		c.armSettle() // wait for the winner's record for the talk time
		return
	}
	c.deliverDial()
}

func (c *call) deliverDial() {
	// The wait for the winner's record (if that is what the settle timer
	// was armed for) is over; done arms it again if a leg still lacks one.
	if c.settle == settleWaiting {
		c.stopTimer(c.settleTimer)
		c.settle, c.settleTimer = settleIdle, 0
	}
	d := c.pending.dial
	res := *d.result
	if w := c.legs[d.winner]; w != nil {
		res.TalkTime = w.billsec
	}
	c.dialDone(res)
}

// dialStatus maps a failed bridge's outcome to the Connect applet's.
func dialStatus(disposition, dialStatus string) flows.DialStatus {
	switch disposition {
	case "USER_BUSY", "BUSY_EVERYWHERE", "CALL_REJECTED", "DECLINE":
		return flows.DialBusy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT", "ORIGINATOR_CANCEL":
		return flows.DialNoAnswer
	}
	switch dialStatus {
	case "BUSY", "DONTCALL":
		return flows.DialBusy
	case "NOANSWER":
		return flows.DialNoAnswer
	}
	return flows.DialFailed
}

// step runs the interpreter on one event and executes its commands.
func (c *call) step(ev flows.Event) {
	if c.flow == nil {
		return
	}
	var cmds []flows.Command
	c.state, cmds = flows.Step(c.flow, c.state, ev)
	c.walked()
	if len(cmds) > 0 {
		// A counter, not I/O: the machine's effects stay the same.
		c.env.cfg.Metrics.AppletStep(c.appletType())
	}
	// What was sent ahead is the answer to the prompt's end; any other
	// input leaves it (the flow takes none while it plays, but a hang-up).
	if _, played := ev.(flows.PlaybackDone); played && c.ahead != nil {
		a := c.ahead
		c.ahead = nil
		if reflect.DeepEqual(cmds, a.cmds) {
			c.pending = a.pending
			c.sendAhead()
			return
		}
		// Only applets whose next step the time and the world cannot
		// change are sent ahead (aheadApplets): a flow package bug.
		c.log.Error("call: the flow did not do what was sent ahead of its prompt's end", "applet", c.state.Applet)
	}
	for _, cmd := range cmds {
		c.exec(cmd)
	}
	c.sendAhead()
}

// ahead is a command sent behind the prompt the flow plays, and what the
// call awaits of it once the prompt has ended.
type ahead struct {
	cmds    []flows.Command
	pending pending
}

// sendAhead sends, behind the prompt the flow is playing, what the flow
// will do once it ends, when that is another prompt or a menu: the
// channel goes from one to the next as the native dialplan does, with no
// round trip to Switchyard between them (the event's way to Switchyard,
// the call's step and the command's way back: tens of milliseconds of
// silence for the caller, and of the node's time with the channel
// parked). The next step is worked out now, on the prompt's end as it
// would come; the real one, when the prompt ends, must match it (step).
// A caller who hangs up during the prompt never hears what was sent
// ahead: FreeSWITCH drops the applications queued on a channel that
// hangs up, and the call no longer awaits it.
func (c *call) sendAhead() {
	if c.pending.kind != waitPlay || c.ahead != nil || c.left() {
		return
	}
	next, cmds := flows.Step(c.flow, c.state, flows.PlaybackDone{At: c.now().UTC()})
	if len(cmds) != 1 || len(next.Entered) == 0 {
		return
	}
	for _, id := range next.Entered {
		if a := c.flow.Applets[id]; a == nil || !aheadApplets[a.Type] {
			return
		}
	}
	p, ok := c.play(cmds[0])
	if !ok {
		return
	}
	c.ahead = &ahead{cmds: cmds, pending: p}
}

// aheadApplets are the applets whose first step depends only on the flow
// and the call (never on the time, as business hours does, or on an
// answer from outside): a prompt, a menu, a gather of digits. A greeting
// or gather that asks a URL first steps to a Fetch, which is never sent
// ahead (play).
var aheadApplets = map[flows.Type]bool{
	flows.TypeGreeting: true, flows.TypeIVR: true, flows.TypeGather: true,
}

// walked adds the applets the last Step entered to the call's path, each
// at the wall-clock time it was entered, in the flow the state is in
// (a Step never crosses flows). The path keeps the first
// store.MaxAppletPath-1 applets and the last one entered: a longer walk
// (a loop through a menu) overwrites its final step.
func (c *call) walked() {
	if len(c.state.Entered) == 0 {
		return
	}
	// The wall clock, as the call record's own times (the flow's clock
	// may be a node's, faster in tests).
	at := c.wall()
	for _, id := range c.state.Entered {
		st := store.AppletStep{Flow: c.state.FlowID, Applet: id, At: at}
		if a := c.flow.Applets[id]; a != nil {
			st.Type = string(a.Type)
		}
		if len(c.path) < store.MaxAppletPath {
			c.path = append(c.path, st)
			continue
		}
		if !c.pathFull {
			c.pathFull = true
			c.log.Warn("call: applet path is full; from now on only its last applet is kept", "max", store.MaxAppletPath)
		}
		c.path[len(c.path)-1] = st
	}
}

// appletType is the type of the applet the flow is in ("" before the
// flow starts), a metrics label.
func (c *call) appletType() string {
	if c.flow != nil {
		if a := c.flow.Applets[c.state.Applet]; a != nil {
			return string(a.Type)
		}
	}
	return ""
}

// direction is the call's Exotel direction, a metrics label.
func (c *call) direction() string {
	if c.outbound != nil {
		return store.DirectionOutboundAPI
	}
	return store.DirectionInbound
}

func (c *call) exec(cmd flows.Command) {
	if p, ok := c.play(cmd); ok {
		c.pending = p
		return
	}
	switch cmd := cmd.(type) {
	case flows.Record:
		if cmd.Prompt != nil {
			c.fire(c.m.play(*cmd.Prompt))
		}
		if cmd.Beep {
			c.fire("playback", beep)
		}
		rec := c.newRecording("single")
		c.await(pending{kind: waitRecord, rec: rec}, "record", record(rec.Path, cmd))
	case flows.Dial:
		c.connect(cmd)
	case flows.Fetch:
		c.fetch(cmd)
	case flows.Send:
		c.send(cmd)
	case flows.LoadFlow:
		c.loadFlow(cmd)
	case flows.Hangup:
		if c.left() {
			return // the caller's channel is gone already
		}
		c.log.Info("call: flow hangs up", "cause", cmd.Cause, "reason", cmd.Reason)
		c.emit(Kill{Cause: cmd.Cause})
	}
}

// play sends a command that plays to the caller or collects digits
// from them, and returns what the call is to await of it; false for any
// other command, which it leaves alone.
func (c *call) play(cmd flows.Command) (pending, bool) {
	switch cmd := cmd.(type) {
	case flows.Play:
		app, arg := c.m.play(cmd.Prompt)
		return c.run(pending{kind: waitPlay}, app, arg), true
	case flows.CollectDigits:
		if v := c.m.menuVoice(cmd.Prompts); v != "" && v != c.voice {
			c.fire("set", "tts_voice="+v)
			c.voice = v
		}
		c.digitVars++
		v := fmt.Sprintf("switchyard_input_%d", c.digitVars)
		return c.run(pending{kind: waitDigits, variable: v}, "play_and_get_digits", c.m.collect(cmd, v)), true
	}
	return pending{}, false
}

// await runs a blocking application and remembers what it waits for.
func (c *call) await(p pending, app, arg string) {
	c.pending = c.run(p, app, arg)
}

// run sends a blocking application and returns p with the id of the
// completion that ends it.
func (c *call) run(p pending, app, arg string) pending {
	p.app = c.env.newApp()
	c.emit(Execute{App: app, Arg: arg, AppUUID: p.app, Awaited: true,
		// A bridge lasts the whole conversation: event-locked, it would
		// hold back a start-of-call uuid_broadcast to the caller until
		// the call is over. Nothing is queued behind it on this channel.
		Unlocked: p.kind == waitDial})
	return p
}

func (c *call) newRecording(channels string) *store.Recording {
	c.recordings++
	id := fmt.Sprintf("re%s%02d", c.sid[:24], c.recordings)
	return &store.Recording{
		ID: id, AccountSID: c.account, CallSID: c.sid,
		Path:     path.Join(c.env.cfg.RecordingsDir, id+".wav"),
		URL:      c.env.cfg.RecordingURL(c.account, id),
		Channels: channels, Format: "wav",
		// Archived (transcoded, moved to the blob store) once the call
		// is over and its file closed; see recarchive.
		ArchiveStatus: store.ArchivePending, ArchiveFormat: c.recordingFormat(),
	}
}

// recordingFormat is what the call's recordings are archived as: the
// API request's RecordingFormat, else the runtime's default.
func (c *call) recordingFormat() string {
	if c.outbound != nil && c.outbound.RecordingFormat != "" {
		return c.outbound.RecordingFormat
	}
	return c.env.cfg.RecordingFormat
}

func (c *call) info() Info {
	return Info{CallSid: c.sid, AccountSID: c.account, State: c.state}
}

// fetch asks for a passthru request; a synchronous one answers through
// fetched.
func (c *call) fetch(f flows.Fetch) {
	if !c.env.fetcher {
		c.log.Warn("call: passthru is not configured on this server", "url", f.URL)
		if !f.Async {
			c.deferred = append(c.deferred, func() {
				c.step(flows.FetchResult{At: c.now().UTC(), Err: "passthru is not configured"})
			})
		}
		return
	}
	c.emit(Fetch{Info: c.info(), Request: f})
}

// send asks for an SMS or email; failures are logged and never block the
// call.
func (c *call) send(m flows.Send) {
	if !c.env.messenger {
		c.log.Info("call: message (no messenger configured)", "channel", m.Channel, "to", m.To, "subject", m.Subject)
		return
	}
	c.emit(Send{Info: c.info(), Message: m})
}

// loadFlow answers a Transfer with the target's live version.
func (c *call) loadFlow(l flows.LoadFlow) {
	res := flows.FlowLoaded{FlowID: l.Flow}
	v, err := c.look.liveVersion(c.account, l.Flow)
	var next *flows.Flow
	if err == nil {
		next, err = c.env.flows.get(v.FlowID, v.Version, []byte(v.Document))
	}
	if err != nil {
		c.log.Warn("call: transfer failed", "flow", l.Flow, "err", err)
		res.Err = err.Error()
	} else {
		c.log.Info("call: transferred", "flow", l.Flow, "version", v.Version)
	}
	c.deferred = append(c.deferred, func() {
		res.At = c.now().UTC()
		if next != nil {
			c.flow = next
		}
		c.step(res)
	})
}

// kill hangs the caller up from outside the flow.
func (c *call) kill(cause, reason string) {
	c.log.Warn("call: hanging up", "cause", cause, "reason", reason)
	c.emit(Kill{Cause: cause})
}

// finish writes the call's final record once every leg has one.
func (c *call) finish() {
	if !c.rowCreated {
		return
	}
	for _, l := range c.order {
		if l.final != nil {
			continue
		}
		// The leg's own record never came (a lost event, a dropped
		// socket): close it from what the bridge and the caller's leg said.
		cause := l.hangup
		if cause == "" {
			cause = c.hangupCause
		}
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		f := store.LegFinal{HangupCause: cause, EndTime: c.wall(), Status: LegStatus(l.answered, cause, "", 0)}
		if l.answered {
			t := l.answerAt
			f.AnswerTime = &t
		}
		l.final = &f
		c.finishLeg(l)
	}
	a := c.a.final
	final := store.CallFinal{
		Status:               c.finalStatus(),
		AnswerTime:           a.AnswerTime,
		EndTime:              a.EndTime,
		Duration:             a.Duration,
		ConversationDuration: c.talk,
		HangupCause:          a.HangupCause,
		RecordingURL:         c.recordingURL,
		// A copy: the effect is the record's, whatever the call does next.
		AppletPath: slices.Clone(c.path),
	}
	if final.Duration == 0 && !final.EndTime.IsZero() {
		final.Duration = seconds(final.EndTime.Sub(c.created))
	}
	c.emit(FinishCall{SID: c.sid, Final: final, Callbacks: c.callbacks, Legs: len(c.order), Reason: c.state.Reason})
}

// seconds is d in whole seconds, rounded: the records' durations.
func seconds(d time.Duration) int { return int(d.Round(time.Second) / time.Second) }

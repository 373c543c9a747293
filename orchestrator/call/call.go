package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Events the call's socket subscribes to: its own channel's and, through
// per-leg filters, those of every leg it dials.
var subscribed = []string{
	"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
	"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
	"CHANNEL_EXECUTE_COMPLETE", "RECORD_STOP",
}

// Subscribed lists the events a call's socket subscribes to; a queued call
// adds PLAYBACK_START to follow its hold music.
func Subscribed() []string { return append([]string(nil), subscribed...) }

// inboxSize bounds a call's queued events; a call that falls this far
// behind is hung up rather than allowed to slow the connection down.
const inboxSize = 512

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

// call is one live call, owned by the goroutine running call.run; nothing
// else touches it.
type call struct {
	rt  *Runtime
	s   *esl.Session
	log *slog.Logger
	m   media

	sid, account string
	from, to     string
	created      time.Time
	flow         *flows.Flow
	state        flows.State
	rowCreated   bool

	a        *leg
	legs     map[string]*leg
	order    []*leg
	inbox    chan arrival
	overflow atomic.Bool
	results  chan func()
	stop     chan struct{}
	deferred []func()
	routes   []func() // event routes to remove when the call ends

	pending      pending
	hungUp       bool
	hangupCause  string
	aFinal       bool
	settle       *time.Timer
	settleC      <-chan time.Time
	settled      bool
	digitVars    int
	arrived      time.Time // when the event being handled reached the call
	recordings   int
	talk         int
	recordingURL string

	// outbound is set on API calls (Place): their first leg was
	// originated by Switchyard and the call row already exists.
	outbound *outboundSpec
	// callbacks: the call has a status callback URL.
	callbacks bool
	// conn is the Connect in progress.
	conn *connecting
}

func newCall(rt *Runtime, s *esl.Session) *call {
	from, to := callerFrom(s.Data)
	c := &call{
		rt: rt, s: s,
		m:       media{ttsEngine: rt.cfg.TTSEngine, ttsVoice: rt.cfg.TTSVoice},
		sid:     store.NewSID(),
		from:    from,
		to:      to,
		created: createdAt(s.Data),
		legs:    map[string]*leg{},
		inbox:   make(chan arrival, inboxSize),
		results: make(chan func()),
		stop:    make(chan struct{}),
	}
	c.log = rt.log.With("call_sid", c.sid, "uuid", s.UUID, "from", from, "to", to)
	c.a = &leg{uuid: s.UUID, seq: 1, to: to, status: store.Ringing, createdAt: c.created}
	c.legs[s.UUID] = c.a
	c.order = append(c.order, c.a)
	return c
}

func createdAt(data esl.Event) time.Time {
	if us := data.Int("Caller-Channel-Created-Time"); us > 0 {
		return time.UnixMicro(us).UTC()
	}
	return time.Now().UTC()
}

// arrival is an event and when it reached the call.
type arrival struct {
	ev esl.Event
	at time.Time
}

// sink queues an event for the owner goroutine; it never blocks.
func (c *call) sink(ev esl.Event) {
	select {
	case c.inbox <- arrival{ev, time.Now()}:
	default:
		if c.overflow.CompareAndSwap(false, true) {
			c.log.Error("call: event inbox full; hanging up")
		}
	}
}

// dbctx bounds a store write; it outlives the call's own context so the
// record is written even during shutdown.
func (c *call) dbctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

func (c *call) run(ctx context.Context) {
	defer close(c.stop)
	c.routes = append(c.routes, c.s.Route(c.s.UUID, c.sink))
	defer func() {
		for _, remove := range c.routes {
			remove()
		}
	}()
	if err := c.setup(ctx); err != nil {
		// The call still gets its record, closed as lost, with its
		// terminal callback: the commands below fail at once on a dead
		// socket, and a poisoned one was closed, which makes FreeSWITCH
		// run the dialplan's fallback after the socket application.
		c.log.Error("call: socket setup failed", "err", err)
		c.lost(err)
	}
	if c.begin(ctx) {
		c.rt.track(c)
	}
	c.loop(ctx)
	// A socket that died while the call was busy (a slow store) may
	// still have queued its last events, the final records among them.
	c.drain(ctx)
	if c.rowCreated {
		c.finish(ctx)
	}
}

// setup keeps the socket open past hangup and subscribes to this channel.
// The filter goes first: a subscription without one delivers every
// channel event on the node to this socket until the filter lands, which
// costs O(N²) events when N calls start together.
func (c *call) setup(ctx context.Context) error {
	if err := c.s.Linger(ctx, c.rt.cfg.Linger); err != nil {
		return err
	}
	if err := c.s.Filter(ctx, "Unique-ID", c.s.UUID); err != nil {
		return err
	}
	return c.s.Subscribe(ctx, subscribed...)
}

// begin routes the dialed number, writes the call before the first
// command, answers and starts the flow. It returns false when the call was
// refused (it is then being hung up).
func (c *call) begin(ctx context.Context) bool {
	if c.s.Data.Var("switchyard_outbound") == "true" {
		return c.beginOutbound(ctx)
	}
	dctx, cancel := c.dbctx(ctx)
	route, err := c.rt.routes.route(dctx, c.rt.store, c.log, c.to, time.Now())
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.refuse(ctx, "UNALLOCATED_NUMBER", "The number you have dialled is not in service.", "unknown ExoPhone", err)
		return false
	case errors.Is(err, store.ErrNoFlow), errors.Is(err, store.ErrNotPublished):
		c.refuse(ctx, "SERVICE_UNAVAILABLE", "This number is not in service at the moment. Please try again later.", "no published flow", err)
		return false
	case err != nil:
		c.refuse(ctx, "NORMAL_TEMPORARY_FAILURE", "", "store unavailable", err)
		return false
	}
	c.account = route.AccountSID
	c.flow, err = c.rt.flows.get(route.FlowID, route.Version, route.Document)
	if err != nil {
		c.refuse(ctx, "SERVICE_UNAVAILABLE", "This number is not in service at the moment. Please try again later.", "published flow does not load", err)
		return false
	}
	c.log = c.log.With("account", c.account, "flow", route.FlowID, "version", route.Version)
	flowID := route.FlowID
	row := &store.Call{
		SID: c.sid, AccountSID: c.account, Direction: store.DirectionInbound,
		From: c.from, To: c.to, PhoneNumber: route.Number, FlowID: &flowID, FlowVersion: route.Version,
		Status: store.Ringing, StartTime: c.created, Node: c.rt.cfg.Node,
	}
	dctx, cancel = c.dbctx(ctx)
	defer cancel()
	// A row still queued (a slow database) will land: the call goes on.
	if err := c.rt.store.CreateCall(dctx, row); err != nil && !errors.Is(err, store.ErrQueued) {
		c.refuse(ctx, "NORMAL_TEMPORARY_FAILURE", "", "cannot record the call", err)
		return false
	}
	c.rowCreated = true
	aLeg := &store.Leg{CallSID: c.sid, AccountSID: c.account, Seq: 1, UUID: c.s.UUID,
		Direction: store.LegInbound, From: c.from, To: c.to, Status: store.Ringing, StartTime: c.created}
	if err := c.rt.persist(ctx, c.log, "caller's leg", func(dctx context.Context) error {
		return c.rt.store.CreateLeg(dctx, aLeg)
	}); err != nil {
		c.log.Error("call: cannot record the caller's leg", "err", err)
	}
	// Channel settings and the answer go out without waiting: FreeSWITCH
	// runs them in order before the first applet's command.
	if !c.fire(ctx, "multiset", c.settings()) || !c.fire(ctx, "answer", "") {
		return true
	}
	c.step(ctx, flows.Started{At: c.rt.now().UTC(), Call: flows.CallInfo{
		CallSid: c.sid, From: c.from, To: c.to, Direction: "incoming",
		ExoPhone: route.Number, FlowID: route.FlowID,
	}})
	return true
}

// settings are the channel variables every call runs with, as one
// multiset argument.
func (c *call) settings() string {
	return "^^;continue_on_fail=true;hangup_after_bridge=false;tts_engine=" + c.m.ttsEngine +
		";tts_voice=" + c.m.ttsVoice + ";transfer_ringback=%(2000,4000,440,480);switchyard_call=" + c.sid
}

// refuse ends a call Switchyard cannot run: an announcement (or a tone),
// then a hang-up with a cause, with the reason logged.
func (c *call) refuse(ctx context.Context, cause, say, reason string, err error) {
	c.log.Warn("call: refused", "reason", reason, "cause", cause, "err", err)
	c.fire(ctx, "answer", "")
	if say != "" {
		app, arg := c.m.play(flows.Prompt{Text: say})
		c.fire(ctx, app, arg)
	} else {
		c.fire(ctx, "playback", "tone_stream://%(250,250,480,620);loops=4")
	}
	c.fire(ctx, "hangup", cause)
	c.state.Await = flows.AwaitHangup
	c.state.Reason = reason
}

// fire queues an application without waiting for it.
func (c *call) fire(ctx context.Context, app, arg string) bool {
	if _, err := c.s.Execute(ctx, c.s.UUID, app, arg); err != nil {
		c.log.Error("call: command failed", "app", app, "err", err)
		c.lost(err)
		return false
	}
	return true
}

// CauseLostControl closes a call whose socket died before FreeSWITCH said
// how the channel ended.
const CauseLostControl = "SWITCHYARD_LOST_CONTROL"

// lost handles a dead socket: nothing more can be commanded.
func (c *call) lost(err error) {
	if !c.hungUp {
		c.log.Warn("call: lost control of the channel", "err", err)
	}
	c.hungUp = true
	c.aFinal = true
	if c.hangupCause == "" {
		c.hangupCause = CauseLostControl
	}
	c.pending = pending{}
	// No event can come any more: nothing is worth waiting for.
	c.settled = true
	if !c.state.Done() && c.flow != nil {
		c.state, _ = flows.Step(c.flow, c.state, flows.HungUp{At: c.rt.now().UTC(), Cause: CauseLostControl})
	}
	c.state.Await = flows.AwaitNothing
}

func (c *call) done() bool {
	if !c.aFinal || !(c.state.Done() || c.flow == nil) {
		return false
	}
	if c.settled {
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

func (c *call) loop(ctx context.Context) {
	shutdown := ctx.Done()
	// Once the socket is gone its Done channel stays ready: it is
	// watched until then only, or the loop would spin.
	gone := c.s.Done()
	if c.aFinal {
		gone = nil
	}
	for !c.done() {
		if c.overflow.Load() {
			c.kill("NORMAL_TEMPORARY_FAILURE", "event inbox overflow")
			c.overflow.Store(false)
		}
		for len(c.deferred) > 0 {
			fn := c.deferred[0]
			c.deferred = c.deferred[1:]
			fn()
		}
		if c.done() {
			return
		}
		select {
		case a := <-c.inbox:
			c.arrived = a.at
			c.onEvent(ctx, a.ev)
			c.arrived = time.Time{}
		case fn := <-c.results:
			fn()
		case <-c.settleC:
			c.onSettle(ctx)
		case <-gone:
			gone = nil
			// The socket's reader queued every event it read before
			// closing: take them first, so a hang-up FreeSWITCH reported
			// is not mistaken for a lost socket.
			c.drain(ctx)
			if !c.aFinal {
				c.lost(c.s.Err())
			}
		case <-shutdown:
			shutdown = nil
			c.kill("SYSTEM_SHUTDOWN", "switchyard is shutting down")
		}
	}
}

// drain handles the events already queued.
func (c *call) drain(ctx context.Context) {
	for {
		select {
		case a := <-c.inbox:
			c.arrived = a.at
			c.onEvent(ctx, a.ev)
			c.arrived = time.Time{}
		default:
			return
		}
	}
}

func (c *call) onEvent(ctx context.Context, ev esl.Event) {
	l := c.legs[ev.UniqueID()]
	if l == nil {
		return
	}
	if l == c.a {
		c.onCaller(ctx, ev)
		return
	}
	c.onLeg(ctx, l, ev)
}

func (c *call) onCaller(ctx context.Context, ev esl.Event) {
	changed := c.a.apply(ev)
	switch ev.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		if ev.AppUUID() != "" && ev.AppUUID() == c.pending.app {
			c.complete(ctx, ev)
		}
	case "CHANNEL_ANSWER":
		if changed && c.rowCreated {
			c.answered(ctx)
		}
	case "CHANNEL_BRIDGE":
		c.bridged(ctx, ev)
	case "PLAYBACK_START":
		c.musicStarted(ctx, ev)
	case "CHANNEL_HANGUP":
		c.callerGone(ctx, ev.Get("Hangup-Cause"))
	case "CHANNEL_HANGUP_COMPLETE":
		c.aFinal = true
		c.finishLeg(ctx, c.a)
		c.callerGone(ctx, c.a.final.HangupCause)
	}
	if changed && c.rowCreated && c.a.final == nil {
		c.legStatus(ctx, c.a)
	}
}

// answered records the call's answer, with its "answered" status
// callback when one is asked for.
func (c *call) answered(ctx context.Context) {
	var out store.OutboxFunc
	if c.callbacks {
		out = c.rt.cfg.AnsweredCallbacks
	}
	dctx, cancel := c.dbctx(ctx)
	defer cancel()
	if err := c.rt.store.CallAnswered(dctx, c.sid, c.a.answerAt, out); err != nil {
		c.log.Error("call: store answer", "err", err)
		return
	}
	if out != nil {
		c.rt.notifyCallbacks()
	}
}

func (c *call) onLeg(ctx context.Context, l *leg, ev esl.Event) {
	changed := l.apply(ev)
	switch name := ev.Name(); {
	case l.events == "":
	case (name == "CHANNEL_PROGRESS" || name == "CHANNEL_PROGRESS_MEDIA") && !l.rang && l.final == nil:
		l.rang = true
		c.dialEvent(ctx, l, DialEventRinging)
	case name == "CHANNEL_ANSWER" && changed && l.final == nil:
		c.dialEvent(ctx, l, DialEventAnswered)
	}
	if !changed {
		return
	}
	if l.final != nil {
		c.finishLeg(ctx, l)
		if d := c.pending.dial; d != nil && d.result != nil && l.uuid == d.winner {
			c.deliverDial(ctx)
		}
		return
	}
	c.legStatus(ctx, l)
}

func (c *call) legStatus(ctx context.Context, l *leg) {
	dctx, cancel := c.dbctx(ctx)
	defer cancel()
	if err := c.rt.store.LegStatus(dctx, l.uuid, l.status, time.Now().UTC()); err != nil {
		c.log.Error("call: store leg status", "leg", l.uuid, "err", err)
	}
}

func (c *call) finishLeg(ctx context.Context, l *leg) {
	if !c.rowCreated || l.final == nil {
		return
	}
	if l.answered && l.uuid != c.a.uuid {
		c.talk += l.billsec
	}
	final := *l.final
	if err := c.rt.persist(ctx, c.log, "leg record", func(dctx context.Context) error {
		return c.rt.store.FinishLeg(dctx, l.uuid, final)
	}); err != nil {
		c.log.Error("call: store leg record", "leg", l.uuid, "err", err)
	}
	dctx, cancel := c.dbctx(ctx)
	defer cancel()
	if l.held {
		l.held = false
		if err := c.rt.store.Release(dctx, l.uuid); err != nil {
			c.log.Error("call: release destination", "leg", l.uuid, "err", err)
		}
		c.rt.wakeQueues()
	}
	if l.events != "" && l.uuid != c.a.uuid {
		c.dialEvent(ctx, l, DialEventTerminal)
	}
}

// callerGone handles the caller's channel going down. A command still in
// flight gets a bounded wait for its result (FreeSWITCH sends it, though
// possibly after the hang-up event) before the flow hears of the hang-up.
func (c *call) callerGone(ctx context.Context, cause string) {
	if c.hungUp {
		return
	}
	c.hungUp = true
	c.hangupCause = cause
	if c.pending.kind != waitNone {
		c.armSettle()
		return
	}
	c.step(ctx, flows.HungUp{At: c.rt.now().UTC(), Cause: cause})
}

func (c *call) armSettle() {
	if c.settle != nil {
		return
	}
	c.settled = false
	c.settle = time.NewTimer(c.rt.cfg.Settle)
	c.settleC = c.settle.C
}

// onSettle gives up waiting: a lost result is dropped, a dial result goes
// out with what is known, legs without a final record are closed from the
// bridge's own account of them.
func (c *call) onSettle(ctx context.Context) {
	c.settle, c.settleC = nil, nil
	c.settled = true
	if d := c.pending.dial; d != nil && d.result != nil {
		c.deliverDial(ctx)
	}
	if c.hungUp && c.pending.kind != waitNone {
		c.log.Warn("call: no result for the command in flight after hang-up", "wait", c.pending.kind)
		c.pending = pending{}
		c.step(ctx, flows.HungUp{At: c.rt.now().UTC(), Cause: c.hangupCause})
	}
}

// complete turns the awaited EXECUTE_COMPLETE into the flow's event.
func (c *call) complete(ctx context.Context, ev esl.Event) {
	p := c.pending
	now := c.rt.now().UTC()
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
			dctx, cancel := c.dbctx(ctx)
			if err := c.rt.store.CallDigits(dctx, c.sid, digits); err != nil {
				c.log.Error("call: store digits", "err", err)
			}
			cancel()
		}
		result = flows.DigitsCollected{At: now, Digits: digits}
	case waitRecord:
		result = c.recorded(ctx, p.rec, ev)
	case waitDial:
		c.dialed(ctx, ev)
		return
	case waitQueue:
		c.queueBroken(ctx, ev.Get("Application-Response"))
		return
	default:
		return
	}
	c.pending = pending{}
	c.deliver(ctx, result, p.kind == waitRecord)
}

// deliver feeds a command's result to the flow, then the hang-up if the
// caller is gone. After a hang-up only results that stand on their own
// (a voicemail, a finished conversation) are worth telling the flow.
func (c *call) deliver(ctx context.Context, result flows.Event, standsAlone bool) {
	if !c.hungUp || standsAlone {
		c.step(ctx, result)
	}
	if c.hungUp {
		c.step(ctx, flows.HungUp{At: c.rt.now().UTC(), Cause: c.hangupCause})
	}
}

func (c *call) recorded(ctx context.Context, rec *store.Recording, ev esl.Event) flows.Event {
	secs := int(ev.Int("variable_record_seconds"))
	if ms := ev.Int("variable_record_ms"); secs == 0 && ms > 0 {
		secs = int((ms + 500) / 1000)
	}
	rec.Duration = secs
	dctx, cancel := c.dbctx(ctx)
	defer cancel()
	if err := c.rt.store.CreateRecording(dctx, rec); err != nil {
		c.log.Error("call: store recording", "err", err)
	}
	c.recordingURL = rec.URL
	return flows.RecordingDone{At: c.rt.now().UTC(), URL: rec.URL, Duration: secs}
}

// dialed handles the end of a bridge: how it went comes from the A-leg's
// variables; the talk time from the winning leg's own final record, which
// may still be on its way.
func (c *call) dialed(ctx context.Context, ev esl.Event) {
	d := c.pending.dial
	causes := originateCauses(ev.Var("originate_causes"))
	res := flows.DialResult{At: c.rt.now().UTC()}
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
		f := store.LegFinal{HangupCause: cause, EndTime: time.Now().UTC(), Status: LegStatus(false, cause, "", 0)}
		// A sequential destination after the one who answered was never
		// dialled at all: canceled, without a cause.
		if sequential && afterWinner {
			f.Status = store.Canceled
		}
		l.final, l.status = &f, f.Status
		c.finishLeg(ctx, l)
	}
	d.result = &res
	if w := c.legs[d.winner]; d.winner != "" && (w == nil || w.final == nil) && !c.settled {
		c.armSettle() // wait for the winner's record for the talk time
		return
	}
	c.deliverDial(ctx)
}

func (c *call) deliverDial(ctx context.Context) {
	d := c.pending.dial
	res := *d.result
	if w := c.legs[d.winner]; w != nil {
		res.TalkTime = w.billsec
	}
	c.dialDone(ctx, res)
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
func (c *call) step(ctx context.Context, ev flows.Event) {
	if c.flow == nil {
		return
	}
	var cmds []flows.Command
	c.state, cmds = flows.Step(c.flow, c.state, ev)
	for _, cmd := range cmds {
		c.exec(ctx, cmd)
	}
}

func (c *call) exec(ctx context.Context, cmd flows.Command) {
	uuid := c.s.UUID
	switch cmd := cmd.(type) {
	case flows.Play:
		app, arg := c.m.play(cmd.Prompt)
		c.await(ctx, pending{kind: waitPlay}, app, arg)
	case flows.CollectDigits:
		c.digitVars++
		v := fmt.Sprintf("switchyard_input_%d", c.digitVars)
		c.await(ctx, pending{kind: waitDigits, variable: v}, "play_and_get_digits", c.m.collect(cmd, v))
	case flows.Record:
		if cmd.Prompt != nil {
			app, arg := c.m.play(*cmd.Prompt)
			if !c.fire(ctx, app, arg) {
				return
			}
		}
		if cmd.Beep && !c.fire(ctx, "playback", beep) {
			return
		}
		rec := c.newRecording("single")
		c.await(ctx, pending{kind: waitRecord, rec: rec}, "record", record(rec.Path, cmd))
	case flows.Dial:
		c.connect(ctx, cmd)
	case flows.Fetch:
		c.fetch(ctx, cmd)
	case flows.Send:
		c.send(ctx, cmd)
	case flows.LoadFlow:
		c.loadFlow(ctx, cmd)
	case flows.Hangup:
		c.log.Info("call: flow hangs up", "cause", cmd.Cause, "reason", cmd.Reason)
		if err := c.s.Kill(ctx, uuid, cmd.Cause); err != nil {
			// A closed socket means FreeSWITCH let go of a channel that
			// is gone: nothing left to hang up.
			if !c.hungUp && !errors.Is(err, esl.ErrClosed) {
				c.log.Error("call: hangup", "err", err)
			}
			c.lost(err)
		}
	}
}

// await runs a blocking application and remembers what it waits for.
func (c *call) await(ctx context.Context, p pending, app, arg string) {
	execute := c.s.Execute
	if p.kind == waitDial {
		// A bridge lasts the whole conversation: event-locked, it would
		// hold back a start-of-call uuid_broadcast to the caller until the
		// call is over. Nothing is queued behind it on this channel.
		execute = c.s.ExecuteUnlocked
	}
	appUUID, err := execute(ctx, c.s.UUID, app, arg)
	if err != nil {
		c.log.Error("call: command failed", "app", app, "err", err)
		c.lost(err)
		return
	}
	if c.rt.cfg.OnStep != nil && !c.arrived.IsZero() {
		c.rt.cfg.OnStep(time.Since(c.arrived))
		c.arrived = time.Time{}
	}
	p.app = appUUID
	c.pending = p
}

func (c *call) newRecording(channels string) *store.Recording {
	c.recordings++
	id := fmt.Sprintf("re%s%02d", c.sid[:24], c.recordings)
	return &store.Recording{
		ID: id, AccountSID: c.account, CallSID: c.sid,
		Path:     path.Join(c.rt.cfg.RecordingsDir, id+".wav"),
		URL:      c.rt.cfg.RecordingURL(c.account, id),
		Channels: channels, Format: "wav",
	}
}

func (c *call) info() *Info {
	return &Info{CallSid: c.sid, AccountSID: c.account, State: c.state}
}

// fetch runs a passthru request off the owner goroutine; a synchronous one
// reports back through results.
func (c *call) fetch(ctx context.Context, f flows.Fetch) {
	if c.rt.fetcher == nil {
		c.log.Warn("call: passthru is not configured on this server", "url", f.URL)
		if !f.Async {
			c.deferred = append(c.deferred, func() {
				c.step(ctx, flows.FetchResult{At: c.rt.now().UTC(), Err: "passthru is not configured"})
			})
		}
		return
	}
	info := c.info()
	go func() {
		status, err := c.rt.fetcher.Fetch(context.WithoutCancel(ctx), info, f)
		if f.Async {
			if err != nil {
				c.log.Warn("call: async passthru failed", "url", f.URL, "err", err)
			}
			return
		}
		res := flows.FetchResult{At: c.rt.now().UTC(), StatusCode: status}
		if err != nil {
			res.Err = err.Error()
		}
		select {
		case c.results <- func() { c.step(ctx, res) }:
		case <-c.stop:
		}
	}()
}

// send delivers an SMS or email off the call path; failures are logged and
// never block the call.
func (c *call) send(ctx context.Context, m flows.Send) {
	if c.rt.messenger == nil {
		c.log.Info("call: message (no messenger configured)", "channel", m.Channel, "to", m.To, "subject", m.Subject)
		return
	}
	info := c.info()
	go func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.rt.messenger.Send(sctx, info, m); err != nil {
			c.log.Warn("call: message not sent", "channel", m.Channel, "to", m.To, "err", err)
		}
	}()
}

// loadFlow answers a Transfer with the target's live version.
func (c *call) loadFlow(ctx context.Context, l flows.LoadFlow) {
	res := flows.FlowLoaded{FlowID: l.Flow}
	dctx, cancel := c.dbctx(ctx)
	v, err := c.rt.store.LiveVersion(dctx, c.account, l.Flow)
	cancel()
	var next *flows.Flow
	if err == nil {
		next, err = c.rt.flows.get(v.FlowID, v.Version, []byte(v.Document))
	}
	if err != nil {
		c.log.Warn("call: transfer failed", "flow", l.Flow, "err", err)
		res.Err = err.Error()
	} else {
		c.log.Info("call: transferred", "flow", l.Flow, "version", v.Version)
	}
	c.deferred = append(c.deferred, func() {
		res.At = c.rt.now().UTC()
		if next != nil {
			c.flow = next
		}
		c.step(ctx, res)
	})
}

// kill hangs the caller up from outside the flow.
func (c *call) kill(cause, reason string) {
	c.log.Warn("call: hanging up", "cause", cause, "reason", reason)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.s.Kill(ctx, c.s.UUID, cause); err != nil {
		c.lost(err)
	}
}

// finish writes the call's final record once every leg has one.
func (c *call) finish(ctx context.Context) {
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
		f := store.LegFinal{HangupCause: cause, EndTime: time.Now().UTC(), Status: LegStatus(l.answered, cause, "", 0)}
		if l.answered {
			t := l.answerAt
			f.AnswerTime = &t
		}
		l.final = &f
		c.finishLeg(ctx, l)
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
	}
	if final.Duration == 0 && !final.EndTime.IsZero() {
		final.Duration = int(final.EndTime.Sub(c.created).Round(time.Second) / time.Second)
	}
	if c.callbacks {
		final.Outbox = c.rt.cfg.TerminalCallbacks
	}
	if err := c.rt.persist(ctx, c.log, "final record", func(dctx context.Context) error {
		return c.rt.store.FinishCall(dctx, c.sid, final)
	}); err != nil {
		c.log.Error("call: store final record; the reconciler will close the call", "err", err)
		return
	}
	if final.Outbox != nil {
		c.rt.notifyCallbacks()
	}
	c.log.Info("call: ended", "status", final.Status, "cause", final.HangupCause, "duration", final.Duration,
		"legs", len(c.order), "reason", c.state.Reason)
}

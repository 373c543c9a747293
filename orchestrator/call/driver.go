package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// driver runs one call: it owns the goroutine, the socket and the timers,
// feeds the call its inputs one at a time, executes the effects each
// leaves, and answers its lookups. Every goroutine it starts (timers,
// queue polls) ends before run returns; requests that outlive the call
// (passthru, messages, plans) are joined by Runtime.Wait.
type driver struct {
	rt  *Runtime
	s   *esl.Session
	c   *call
	ctx context.Context

	inbox    *inbox
	overflow atomic.Bool
	inputs   chan func() // answers of requests and timers, run on the owner goroutine
	stop     chan struct{}
	wg       sync.WaitGroup
	timers   map[int]*time.Timer
	polls    map[int]chan struct{}
	routes   []func() // event routes to remove when the call ends
	// wants are the releases of the event types a handed-off call holds
	// on its node's connection (want), by type.
	wants map[string]func()

	// failed is the channel command that failed in this input: the
	// socket is dead, the input's later commands are skipped (those in
	// the same pipeline went out with it) and the call hears of it once
	// the input's effects are done.
	failed error
	// refused is a posted command FreeSWITCH refused, set on the socket's
	// reader goroutine; the owner takes it as its next input.
	refused atomic.Pointer[error]
	// cmds are channel commands (applications, leg filters) waiting to go
	// out together: consecutive ones among an input's effects share one
	// write (Post), and the call does not wait for their replies.
	cmds []queuedCmd
	// arrived is when the event being handled reached the call.
	arrived time.Time
	// held: the call asked for an agent lock or a queue place, so its
	// final record must release whatever it still holds.
	held bool
	// node is the node's connection once the call let go of its socket
	// (Detach): the call's last events come through it, and its hang-ups
	// go out on it. gone is the connection whose end the call watches:
	// the socket's, then the node connection's.
	node *esl.Conn
	gone <-chan struct{}
	// detached: the socket was let go of (the end-of-call log says so).
	detached bool
	// handedOff: the socket was let go of before the first command
	// (handoff); the node's connection carries the whole call.
	handedOff bool
	// parked: the dialplan parked the call for this instance; it never
	// had a socket (Runtime.Parked), and is handed off from the start.
	parked bool
	// away holds a handed-off call's commands while it waits for its
	// node's next connection (reattach): they go out on it.
	away []awayCmds
}

// awayCmds are commands that wait for the node's next connection; took,
// if set, gets their replies.
type awayCmds struct {
	cmds []string
	took func([]esl.Reply)
}

func newDriver(ctx context.Context, rt *Runtime, s *esl.Session) *driver {
	d := &driver{
		rt: rt, s: s, ctx: ctx,
		inbox:  newInbox(),
		inputs: make(chan func()),
		stop:   make(chan struct{}),
		timers: map[int]*time.Timer{},
		polls:  map[int]chan struct{}{},
	}
	d.c = newCall(rt.env, d, s.UUID, s.Data)
	return d
}

// sink queues an event for the owner goroutine; it never blocks.
func (d *driver) sink(ev esl.Event) {
	if !d.inbox.put(arrival{ev, time.Now()}) && d.overflow.CompareAndSwap(false, true) {
		d.c.log.Error("call: event inbox full; hanging up")
	}
}

func (d *driver) run() {
	defer d.join()
	defer func() {
		if r := recover(); r != nil {
			d.c.log.Error("call: runtime panic; hanging up", "panic", r, "stack", string(debug.Stack()))
			kctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = d.ctl().Kill(kctx, d.s.UUID, "NORMAL_TEMPORARY_FAILURE")
			d.c.log.Warn("call: hanging up", "cause", "NORMAL_TEMPORARY_FAILURE", "reason", fmt.Sprint("internal error: ", r))
		}
	}()
	if !d.parked { // a parked call's route was there before run
		d.routes = append(d.routes, d.s.Route(d.s.UUID, d.sink))
		if !d.rt.claimFirstLeg(d.s.UUID) {
			d.c.log.Warn("call: an API call's first leg reached its socket after the call was ended as gone; letting go")
			return
		}
	}
	var early []arrival
	switch {
	case d.parked:
		if !d.startParked() {
			return
		}
	case !d.handsOff():
		d.c.start(d.setup())
	default:
		if admitted := d.c.admit(); admitted && d.handoff() {
			var answered bool
			early, answered = d.awaitPark()
			d.c.startHandedOff(answered)
		} else {
			// A refused call keeps its socket for its announcement, and so
			// does one the node's connection could not take.
			d.c.startOnSocket(admitted, d.setup())
		}
	}
	if d.c.rowCreated && d.c.outbound == nil {
		// An API call was counted when Place wrote it.
		d.rt.cfg.Metrics.CallStarted(store.DirectionInbound)
	}
	d.settle()
	for _, a := range early {
		d.event(a)
	}
	if d.c.running {
		d.rt.track(d.c)
	}
	shutdown := d.ctx.Done()
	// Once the socket is gone its Done channel stays ready: it is
	// watched until then only, or the loop would spin.
	d.gone = d.s.Done()
	if d.handedOff {
		d.gone = d.node.Done()
	}
	if d.c.caller == callerGone {
		d.gone = nil
	}
	for !d.c.over {
		if d.overflow.Load() {
			d.overflow.Store(false)
			d.c.overflowed()
			d.settle()
			continue
		}
		select {
		case <-d.inbox.ready:
			for !d.c.over && !d.overflow.Load() {
				a, ok := d.inbox.take()
				if !ok {
					break
				}
				d.event(a)
			}
			if d.overflow.Load() {
				d.inbox.wake() // the rest waits for the overflow's hang-up
			} else if !d.c.over {
				d.settle() // a refused command wakes the inbox too
			}
		case fn := <-d.inputs:
			fn()
			d.settle()
		case <-d.gone:
			d.gone = nil
			// The socket's reader queued every event it read before
			// closing: take them first, so a hang-up FreeSWITCH reported
			// is not mistaken for a lost socket.
			d.drain()
			if d.node != nil {
				d.reattach(d.node.Err())
				continue
			}
			d.c.socketGone(d.s.Err())
			d.settle()
		case <-shutdown:
			shutdown = nil
			d.c.shutdown()
			d.settle()
		}
	}
	// A socket that died while the call was busy (a slow store) may
	// still have queued its last events, the final records among them.
	d.drain()
	d.c.finish()
	d.settle()
}

// setup keeps the socket open past hangup and subscribes to this channel
// (one round trip).
func (d *driver) setup() error {
	return d.s.Follow(d.ctx, d.rt.cfg.Linger, quiet, subscribed...)
}

func (d *driver) event(a arrival) {
	d.arrived = a.at
	d.c.event(a.ev)
	a.ev.Release() // the call keeps no event past its input
	d.settle()
	d.arrived = time.Time{}
}

// drain takes the events already queued.
func (d *driver) drain() {
	for {
		a, ok := d.inbox.take()
		if !ok {
			return
		}
		d.event(a)
	}
}

// settle executes the effects of an input; a channel command that failed,
// or that FreeSWITCH refused since, is the next input.
func (d *driver) settle() {
	for {
		d.flush()
		if d.failed == nil {
			if err := d.refused.Swap(nil); err != nil {
				d.failed = *err
			}
		}
		if d.failed == nil {
			return
		}
		err := d.failed
		d.failed = nil
		d.c.lostControl(err)
	}
}

func (d *driver) flush() {
	for _, e := range d.c.effects() {
		if d.queue(e) {
			continue
		}
		// Every other effect keeps its place after the commands before it.
		d.sendCmds()
		d.do(e)
	}
	d.sendCmds()
}

// queuedCmd is a channel command waiting in driver.cmds.
type queuedCmd struct {
	cmd  string
	exec *Execute // nil: a leg's filter
	leg  string
}

// queue takes an effect that is a channel command for the next send.
func (d *driver) queue(e Effect) bool {
	switch e := e.(type) {
	case Execute:
		if d.failed == nil {
			cmd := d.ctl().ExecuteCmd(d.s.UUID, e.App, e.Arg, e.AppUUID, !e.Unlocked)
			d.cmds = append(d.cmds, queuedCmd{cmd: cmd, exec: &e})
		}
	case Watch:
		if d.handedOff {
			// The leg carries the call's mark (legMark): the node's
			// connection lets its events through without a filter.
			if d.node != nil {
				d.routes = append(d.routes, d.node.Route(e.UUID, d.sink))
			}
			return true
		}
		d.routes = append(d.routes, d.s.Route(e.UUID, d.sink))
		if d.failed == nil {
			d.cmds = append(d.cmds, queuedCmd{cmd: esl.FilterCmd("Unique-ID", e.UUID), leg: e.UUID})
		}
	default:
		return false
	}
	return true
}

// sendCmds writes the queued commands in one go and goes on: their
// replies only mean "queued", so the socket's reader takes them. A
// command FreeSWITCH refuses (the channel is gone) comes back as the
// call's next input; the commands after it went out already, and
// whatever they did is moot. The step an awaited application ends is
// timed twice: to the write (Switchyard's own part) and to the reply.
func (d *driver) sendCmds() {
	if len(d.cmds) == 0 {
		return
	}
	batch := slices.Clone(d.cmds)
	d.cmds = d.cmds[:0]
	cmds := make([]string, len(batch))
	var step func(time.Duration) // the awaited application's, if any
	applet, m := "", d.rt.cfg.Metrics
	for i, q := range batch {
		cmds[i] = q.cmd
		if q.exec != nil && q.exec.Awaited && !d.arrived.IsZero() && step == nil {
			applet = d.c.appletType()
			onStep := d.rt.cfg.OnStep
			step = func(took time.Duration) {
				if onStep != nil {
					onStep(took)
				}
				m.AppletStepLatency(applet, took)
			}
		}
	}
	arrived, log := d.arrived, d.c.log
	if step != nil {
		d.arrived = time.Time{}
	}
	took := func(replies []esl.Reply) {
		for i, q := range batch {
			if rerr := esl.ReplyErr(q.cmd, replies[i]); rerr != nil {
				commandFailed(log, q, rerr)
				d.refused.CompareAndSwap(nil, &rerr)
				d.inbox.wake()
				return
			}
		}
		if step != nil {
			step(time.Since(arrived))
		}
	}
	var err error
	if d.handedOff {
		if perr := d.postNode(cmds, took); perr != nil {
			// The node's connection failed as they were written: the
			// call follows it onto the next one (reattach). Whether
			// they reached the node cannot be known; they are not sent
			// twice.
			d.unsure(batch[0].exec, perr)
		}
	} else {
		err = d.s.Post(cmds, took)
	}
	switch {
	case err != nil && d.failed == nil:
		d.failed = err
		commandFailed(log, batch[0], err)
	case err == nil && step != nil:
		m.AppletDispatch(applet, time.Since(arrived))
	}
}

func commandFailed(log *slog.Logger, q queuedCmd, err error) {
	if q.exec != nil {
		log.Error("call: command failed", "app", q.exec.App, "err", err)
	} else {
		log.Error("call: cannot follow a leg", "leg", q.leg, "err", err)
	}
}

// post runs fn on the owner goroutine, unless the call is over.
func (d *driver) post(fn func()) {
	select {
	case d.inputs <- fn:
	case <-d.stop:
	}
}

// join stops the timers and polls and waits for their goroutines.
func (d *driver) join() {
	close(d.stop)
	for id, t := range d.timers {
		if t.Stop() {
			d.wg.Done()
		}
		delete(d.timers, id)
	}
	for id, quit := range d.polls {
		close(quit)
		delete(d.polls, id)
	}
	d.wg.Wait()
	for _, remove := range d.routes {
		remove()
	}
	for _, release := range d.wants {
		release()
	}
}

// want subscribes the node's connection that carries a handed-off call
// to event types beyond HandoffEvents, for as long as the call holds
// them (see esl.Node.Want).
func (d *driver) want(events []string) {
	if d.wants == nil {
		d.wants = map[string]func(){}
	}
	for _, ev := range events {
		if d.wants[ev] != nil {
			continue
		}
		ctx, cancel := d.cmdCtx()
		release, err := d.rt.cfg.Detach.Want(ctx, d.s.Data.Get("Core-UUID"), ev)
		cancel()
		if release != nil {
			d.wants[ev] = release
		}
		if err != nil {
			d.c.log.Warn("call: cannot subscribe the node's connection", "event", ev, "err", err)
		}
	}
}

// cmdCtx bounds a command the call waits for, on its socket or its
// node's connection; shutdown does not end it: a command given up on
// leaves its reply to the connection's next one, so the connection is
// closed, and a handed-off call's is the node's, every call's.
func (d *driver) cmdCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(d.ctx), esl.DefaultTimeout)
}

// dbctx bounds a store operation of the call (storeCtx).
func (d *driver) dbctx() (context.Context, context.CancelFunc) { return storeCtx(d.ctx) }

// do executes one effect.
func (d *driver) do(e Effect) {
	log := d.c.log
	switch e := e.(type) {
	case API:
		if d.failed != nil || d.holdAway("api "+e.Cmd) {
			return
		}
		ctx, cancel := d.cmdCtx()
		if _, err := d.ctl().API(ctx, e.Cmd); err != nil {
			log.Warn("call: api command failed", "cmd", e.Cmd, "err", err)
		}
		cancel()
	case Kill:
		if d.failed != nil || d.holdAway("api uuid_kill "+d.s.UUID+" "+e.Cause) {
			return
		}
		// Its own deadline: a call is also killed when the process shuts
		// down and its context has ended.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), 2*time.Second)
		defer cancel()
		if err := d.ctl().Kill(kctx, d.s.UUID, e.Cause); err != nil {
			if d.node != nil {
				// The node's connection failed, not the call: it goes on
				// (or follows the connection's end, see reattach).
				log.Warn("call: hangup over the node's connection", "err", err)
				return
			}
			// A closed socket means FreeSWITCH let go of a channel that
			// is gone: nothing left to hang up.
			if !errors.Is(err, esl.ErrClosed) {
				log.Error("call: hangup", "err", err)
			}
			d.failed = err
		}
	case Detach:
		if d.failed == nil {
			d.detach(e)
		}
	case Subscribe:
		if d.failed != nil {
			return
		}
		if d.handedOff {
			d.want(e.Events)
			return
		}
		if err := d.s.Subscribe(d.ctx, e.Events...); err != nil {
			log.Warn("call: cannot subscribe", "events", e.Events, "err", err)
		}
	case Unsubscribe:
		for _, ev := range e.Events {
			if release := d.wants[ev]; release != nil {
				release()
				delete(d.wants, ev)
			}
		}
	case StartTimer:
		d.wg.Add(1)
		d.timers[e.ID] = time.AfterFunc(e.After, func() {
			defer d.wg.Done()
			d.post(func() {
				delete(d.timers, e.ID)
				d.c.timer(e.ID)
			})
		})
	case StopTimer:
		if t := d.timers[e.ID]; t != nil {
			if t.Stop() {
				d.wg.Done()
			}
			delete(d.timers, e.ID)
		}
		if quit := d.polls[e.ID]; quit != nil {
			close(quit)
			delete(d.polls, e.ID)
		}
	case PollQueue:
		quit := make(chan struct{})
		d.polls[e.ID] = quit
		d.wg.Add(1)
		go d.poll(e.ID, e.Every, quit)
	case PostDialEvent:
		if d.rt.events != nil {
			d.rt.events.Post(d.ctx, &e.Info, e.URL, e.Event)
		}
	case Fetch:
		if d.failed == nil {
			d.fetch(e)
		}
	case AskPlan:
		if d.failed == nil {
			d.plan(e)
		}
	case Send:
		if d.failed == nil {
			d.send(e)
		}
	default:
		d.write(e)
	}
}

// write executes a store write. Every write goes through the store's
// queue, which retries it until it lands (persist).
func (d *driver) write(e Effect) {
	rt, log := d.rt, d.c.log
	land := func(what string, write func(context.Context) error) error {
		err := rt.persist(d.ctx, write)
		if err != nil {
			log.Error("call: store "+what, "err", err)
		}
		return err
	}
	switch e := e.(type) {
	case CreateLeg:
		_ = land("leg", func(ctx context.Context) error { return rt.store.CreateLeg(ctx, &e.Leg) })
	case SetLegStatus:
		_ = land("leg status", func(ctx context.Context) error { return rt.store.LegStatus(ctx, e.UUID, e.Status, e.At) })
	case FinishLeg:
		_ = land("leg record", func(ctx context.Context) error { return rt.store.FinishLeg(ctx, e.UUID, e.Final) })
	case AnswerCall:
		var out store.OutboxFunc
		var committed func()
		if e.Callbacks {
			out, committed = rt.cfg.AnsweredCallbacks, rt.notifyCallbacks
		}
		_ = land("answer", func(ctx context.Context) error { return rt.store.CallAnswered(ctx, e.SID, e.At, out, committed) })
	case SetDigits:
		_ = land("digits", func(ctx context.Context) error { return rt.store.CallDigits(ctx, e.SID, e.Digits) })
	case SaveRecording:
		_ = land("recording", func(ctx context.Context) error { return rt.store.CreateRecording(ctx, &e.Recording) })
	case Release:
		_ = land("release of a destination", func(ctx context.Context) error { return rt.store.Release(ctx, e.UUID, rt.wakeQueues) })
	case Stick:
		_ = land("sticky agent", func(ctx context.Context) error {
			return rt.store.Stick(ctx, e.Account, e.Scope, e.Caller, e.Contact, e.Until)
		})
	case Dequeue:
		_ = land("queue exit", func(ctx context.Context) error { return rt.store.Dequeue(ctx, e.SID) })
	case FinishCall:
		final := e.Final
		final.Released = !d.held
		if e.Callbacks {
			final.Outbox = rt.cfg.TerminalCallbacks
		}
		d.s.Over() // the record may wait for the store's next batch
		if err := rt.persist(d.ctx, func(ctx context.Context) error {
			return rt.store.FinishCall(ctx, e.SID, final)
		}); err != nil {
			log.Error("call: store final record; the reconciler will close the call", "err", err)
			return
		}
		rt.cfg.Metrics.CallEnded(d.c.direction(), string(final.Status), final.HangupCause)
		if final.Outbox != nil {
			rt.notifyCallbacks()
		}
		log.Info("call: ended", "status", final.Status, "cause", final.HangupCause, "duration", final.Duration,
			"legs", e.Legs, "reason", e.Reason, "detached", d.detached, "handed_off", d.handedOff)
	default:
		panic(fmt.Sprintf("call: effect %T has no driver", e))
	}
}

// ctl is the connection commands go out on: the call's socket, or the
// node's connection once the call let go of it (a call that detached
// sends no application: nothing after its bridge needs the channel).
func (d *driver) ctl() *esl.Conn {
	if d.node != nil {
		return d.node
	}
	return d.s.Conn
}

// postNode posts a handed-off call's commands on the node's connection,
// as a socket's are: the call goes on at once, and took gets their
// replies on the connection's reader. While the call waits for the
// node's next connection they wait too. A connection that closes before
// the replies never calls took: the call follows it onto the next one,
// and the commands are not sent twice (unsure).
func (d *driver) postNode(cmds []string, took func([]esl.Reply)) error {
	if d.node == nil {
		d.away = append(d.away, awayCmds{cmds, took})
		return nil
	}
	return d.node.Post(cmds, took)
}

// holdAway keeps a handed-off call's command for the node's next
// connection while it waits for one; false when it can go out now.
func (d *driver) holdAway(cmd string) bool {
	if !d.handedOff || d.node != nil {
		return false
	}
	d.away = append(d.away, awayCmds{cmds: []string{cmd}})
	return true
}

// sendAway sends the commands held while the call waited for the node's
// connection, in order.
func (d *driver) sendAway() {
	held := d.away
	d.away = nil
	for i, a := range held {
		took := a.took
		if took == nil {
			took = func([]esl.Reply) {}
		}
		if err := d.postNode(a.cmds, took); err != nil {
			d.unsure(nil, err)
			d.away = append(held[i+1:], d.away...) // for the next connection
			return
		}
	}
}

// unsure logs a handed-off call's commands the node's connection failed
// under (a command that times out closes it too): the call follows the
// connection onto the next one (reattach). Whether they reached the node
// cannot be known, and they are not sent twice.
func (d *driver) unsure(exec *Execute, err error) {
	what := "api"
	if exec != nil {
		what = exec.App
	}
	d.c.log.Warn("call: the node's connection failed under a command; it may not have run", "app", what, "err", err)
}

// parkWait bounds how long a handed-off call waits for the dialplan to
// park its channel before the first command.
const parkWait = 10 * time.Second

// awaitPark waits until the dialplan has parked the handed-off channel
// (its CHANNEL_PARK, on the node's connection, from the park
// application): a command that reaches the channel while the socket
// application is still ending runs inside that application's own park
// (FreeSWITCH 1.10 parks an async socket's channel in CS_RESET, and
// fires a CHANNEL_PARK of its own there, marked by then), and is cut
// short when the state moves on (on the real node, a bridge sent then
// ended ORIGINATOR_CANCEL at once).
// The events that come first (a hang-up) are the call's, after its
// start. It stops waiting after parkWait, at a hang-up, or when the
// node's connection or the process goes away: the call then starts
// anyway, and finds out. answered reports whether the channel was
// answered when it was parked (the dialplan answers before parking).
func (d *driver) awaitPark() (early []arrival, answered bool) {
	t := time.NewTimer(parkWait)
	defer t.Stop()
	defer d.inbox.wake() // events behind the park wait for the loop
	for {
		select {
		case <-d.inbox.ready:
			for {
				a, ok := d.inbox.take()
				if !ok {
					break
				}
				switch name := a.ev.Name(); {
				case name == "CHANNEL_PARK" && a.ev.UniqueID() == d.s.UUID && a.ev.Var("current_application") == "park":
					answered = a.ev.Get("Answer-State") == "answered"
					a.ev.Release()
					return early, answered
				case name == "CHANNEL_HANGUP_COMPLETE":
					return append(early, a), false
				}
				early = append(early, a)
			}
		case <-t.C:
			d.c.log.Warn("call: the dialplan did not park the handed-off call; going on", "waited", parkWait)
			return early, false
		case <-d.node.Done():
			return early, false
		case <-d.ctx.Done():
			return early, false
		}
	}
}

// startParked starts a call the dialplan parked for this instance, once
// it is claimed: refused (an unknown number), it hears why and is hung up
// over the node's connection; admitted, its variables are set and it is
// answered, and its flow starts. false: the call is not this instance's.
func (d *driver) startParked() bool {
	if !d.claim() {
		return false
	}
	admitted := d.c.admit()
	if !admitted {
		d.c.startOnSocket(false, nil)
		return true
	}
	d.c.legMark = DetachVar + "=" + detachTag(d.rt.cfg.Instance)
	d.setVars()
	d.c.startHandedOff(false)
	return true
}

// claim cancels the dialplan's fallback of a call it parked for this
// instance (the channel's scheduled transfer to the socket path): the
// call is this instance's once the node says it deleted the transfer. No
// transfer left to delete means it ran (the call waited past
// parking.FallbackAfter): the call is on its way down the socket path
// and this instance lets go of it, having sent it nothing.
func (d *driver) claim() bool {
	m, log := d.rt.cfg.Metrics, d.c.log
	ctx, cancel := d.cmdCtx()
	defer cancel()
	out, err := d.node.API(ctx, "sched_del "+d.s.UUID)
	if err != nil {
		// Without the node's connection the call cannot be run; the
		// node's fallback takes it.
		m.ParkedCall(metrics.ParkedUnhandled)
		log.Warn("call: cannot claim a parked call; the dialplan's fallback takes it", "err", err)
		return false
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "+OK Deleted:"))); n < 1 {
		m.ParkedCall(metrics.ParkedLate)
		log.Warn("call: a parked call waited past its fallback; it goes to the sockets", "reply", out)
		return false
	}
	m.ParkedCall(metrics.ParkedTaken)
	return true
}

// setVars sets the variables of a parked call the flow's commands read
// (Call.handoffVars), with the command after the claim: a handed-off
// call's socket sets them as it lets go.
func (d *driver) setVars() {
	cmd := "api uuid_setvar_multi " + d.s.UUID + " " + d.c.handoffVars()
	log := d.c.log
	if err := d.postNode([]string{cmd}, func(rs []esl.Reply) {
		if err := esl.ReplyErr(cmd, rs[0]); err != nil {
			log.Warn("call: cannot set the parked call's variables", "err", err)
		}
	}); err != nil {
		log.Warn("call: cannot set the parked call's variables", "err", err)
	}
}

// handsOff reports whether the call is one to hand off (Config.Handoff):
// one the dialplan handed over (switchyard_exophone set), not an API
// call's leg, whose socket application has no dialplan to return to.
func (d *driver) handsOff() bool {
	cfg, data := &d.rt.cfg, d.s.Data
	return cfg.Handoff && cfg.Detach != nil && cfg.Instance != "" &&
		data.Var("switchyard_exophone") != "" && data.Var("switchyard_outbound") != "true"
}

// handoff lets go of the socket of an admitted call before its first
// command and runs the whole call over the node's connection: a live
// socket costs the node for every second of the call, and every event
// it sends costs it once more than the one connection that is there
// anyway. The socket sets resume (the dialplan goes on when it closes),
// then, in one command, the call's variables, its tag (the node
// connection's filter) and ParkVar (the dialplan's next extension
// answers and parks it), and exits; the channel's events come through the node's
// connection from then on. When the node has no connection, or any of
// it fails before the exit, the call keeps its socket.
func (d *driver) handoff() bool {
	cfg, log := &d.rt.cfg, d.c.log
	node, err := cfg.Detach.NodeConn(d.s.Data.Get("Core-UUID"))
	if err != nil {
		log.Info("call: keeping the socket", "err", err)
		return false
	}
	remove := node.Route(d.s.UUID, d.sink)
	mark := DetachVar + "=" + detachTag(cfg.Instance)
	cmds := []string{"resume", "api uuid_setvar_multi " + d.s.UUID + " " + ParkVar + "=true;" + mark + ";" + d.c.handoffVars()}
	rs, err := d.s.Pipeline(d.ctx, cmds)
	for i := 0; err == nil && i < len(rs); i++ {
		err = esl.ReplyErr(cmds[i], rs[i])
	}
	if err != nil {
		remove()
		log.Info("call: keeping the socket", "err", err)
		return false
	}
	if _, err := d.s.Send(d.ctx, "exit"); err != nil && !errors.Is(err, esl.ErrClosed) {
		log.Info("call: the socket did not close on request", "err", err)
	}
	d.routes = append(d.routes, remove)
	d.node, d.handedOff = node, true
	d.c.legMark = mark
	d.rt.cfg.Metrics.CallHandedOff()
	return true
}

// detach hands the rest of the call to the node's connection: it routes
// both channels' events to the call there, marks both channels as this
// instance's (the connection's filter lets their events through), tells
// FreeSWITCH to hang the caller up when the bridge ends, and closes the
// socket. Until the socket closes, an event may come both ways; the
// call takes the second copy as the stale one it is. When any of it
// fails, the call keeps its socket.
func (d *driver) detach(e Detach) {
	log := d.c.log
	core := d.s.Data.Get("Core-UUID")
	node, err := d.rt.cfg.Detach.NodeConn(core)
	if err != nil {
		log.Debug("call: keeping the socket through the bridge", "err", err)
		return
	}
	d.routes = append(d.routes, node.Route(e.Caller, d.sink), node.Route(e.Callee, d.sink))
	mark := DetachVar + "=" + detachTag(d.rt.cfg.Instance)
	replies, err := d.s.Pipeline(d.ctx, []string{
		"api uuid_setvar_multi " + e.Callee + " " + mark,
		"api uuid_setvar_multi " + e.Caller + " hangup_after_bridge=true;" + mark,
	})
	for i := 0; err == nil && i < len(replies); i++ {
		err = esl.ReplyErr("api", replies[i])
	}
	if err != nil {
		// A channel is gone (the conversation is ending): its events keep
		// coming on the socket.
		log.Info("call: keeping the socket through the bridge", "err", err)
		return
	}
	if _, err := d.s.Send(d.ctx, "exit"); err != nil && !errors.Is(err, esl.ErrClosed) {
		log.Info("call: the socket did not close on request", "err", err)
	}
	d.node, d.gone, d.detached = node, node.Done(), true
	d.rt.cfg.Metrics.CallDetached()
	if d.rt.cfg.OnDetach != nil {
		d.rt.cfg.OnDetach()
	}
	log.Debug("call: detached from the socket for the rest of the bridge", "callee", e.Callee)
}

// reattach follows a detached call onto the node's next connection when
// the one that carried its events is lost: its routes are added there,
// then the node is asked whether the caller's channel still exists. If
// it does, the call goes on (an event of the gap, if any, is lost, and
// the bridge's own account closes that leg); if it does not, or the node
// is not back within ReattachWait (or came back restarted), the call
// ends as one whose socket died.
func (d *driver) reattach(lost error) {
	d.node = nil
	core, uuid := d.s.Data.Get("Core-UUID"), d.s.UUID
	// Every channel of the call still up: the caller and the callee of
	// a detached call, and the legs a handed-off call still rings.
	others := d.c.liveLegs()
	d.c.log.Warn("call: lost the node's connection that carried the call's events; waiting for it", "err", lost, "handed_off", d.handedOff)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(d.ctx, d.rt.cfg.ReattachWait)
		defer cancel()
		var removes []func()
		conn, err := d.rt.cfg.Detach.WaitConn(ctx, core)
		if err == nil {
			removes = append(removes, conn.Route(uuid, d.sink))
			for _, other := range others {
				removes = append(removes, conn.Route(other, d.sink))
			}
			var out string
			out, err = conn.API(ctx, "uuid_exists "+uuid)
			if err == nil && strings.TrimSpace(out) != "true" {
				err = errors.New("the caller's channel ended while the connection was away")
			}
		}
		back := func() {
			d.routes = append(d.routes, removes...)
			if err != nil {
				d.c.socketGone(fmt.Errorf("the node's connection, which carried the call's events: %w (then: %w)", lost, err))
				d.settle()
				return
			}
			d.node, d.gone = conn, conn.Done()
			d.c.log.Info("call: the call goes on over the node's new connection")
			// Legs a handed-off call dialled meanwhile.
			for _, leg := range d.c.liveLegs() {
				if !slices.Contains(others, leg) {
					d.routes = append(d.routes, conn.Route(leg, d.sink))
				}
			}
			d.sendAway()
		}
		select {
		case d.inputs <- back:
		case <-d.stop:
			for _, remove := range removes {
				remove()
			}
		}
	}()
}

// poll fires a queue's poll every period and at each local release.
func (d *driver) poll(id int, every time.Duration, quit <-chan struct{}) {
	defer d.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		wake := d.rt.queueWake()
		select {
		case <-t.C:
		case <-wake:
		case <-quit:
			return
		case <-d.stop:
			return
		}
		select {
		case d.inputs <- func() { d.c.timer(id) }:
		case <-quit:
			return
		case <-d.stop:
			return
		}
	}
}

// fetch makes a passthru request off the owner goroutine; a synchronous
// one's answer goes back to the call if it is still running.
func (d *driver) fetch(e Fetch) {
	ctx := context.WithoutCancel(d.ctx)
	d.rt.background(func() {
		// The customer's app may read the call over the API while it
		// answers: what the call has recorded so far (a leg's final
		// record, an agent's release) lands first, within a bound.
		fctx, cancel := context.WithTimeout(ctx, fetchFlushWait)
		if err := d.rt.store.Flush(fctx); err != nil {
			d.c.log.Warn("call: request sent before the call's records landed", "url", e.Request.URL, "err", err)
		}
		cancel()
		ans, err := d.rt.fetcher.Fetch(ctx, &e.Info, e.Request)
		if e.Request.Async {
			if err != nil {
				d.c.log.Warn("call: async passthru failed", "url", e.Request.URL, "err", err)
			}
			return
		}
		res := flows.FetchResult{At: d.rt.now().UTC(), StatusCode: ans.Status,
			ContentType: ans.ContentType, Body: ans.Body}
		if err != nil {
			res.Err = err.Error()
		}
		d.post(func() { d.c.fetched(res) })
	})
}

// fetchFlushWait bounds how long a request to the customer's URL waits
// for the call's queued writes (a store that is down holds them far
// longer: the request goes without).
const fetchFlushWait = time.Second

// plan asks a programmable connect's URL off the owner goroutine.
func (d *driver) plan(e AskPlan) {
	ctx := context.WithoutCancel(d.ctx)
	d.rt.background(func() {
		p, err := d.rt.planner.Plan(ctx, &e.Info, e.Dial, e.Last)
		d.post(func() { d.c.planned(e.ID, p, err) })
	})
}

// send delivers a message off the call path.
func (d *driver) send(e Send) {
	ctx := context.WithoutCancel(d.ctx)
	d.rt.background(func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := d.rt.messenger.Send(sctx, &e.Info, e.Message); err != nil {
			d.c.log.Warn("call: message not sent", "channel", e.Message.Channel, "to", e.Message.To, "err", err)
		}
	})
}

// Lookups: the effects emitted before each are executed first.

func (d *driver) route(to string) (*store.Route, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return route(ctx, &d.rt.routes, d.rt.store, d.c.log, to, time.Now())
}

func (d *driver) createCall(row *store.Call) error {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.CreateCall(ctx, row)
}

func (d *driver) callBySID(sid string) (*store.Call, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.CallBySID(ctx, sid)
}

func (d *driver) flowVersion(account, flowID string, version int) (*store.FlowVersion, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.FlowVersion(ctx, account, flowID, version)
}

func (d *driver) liveVersion(account, flowID string) (*store.FlowVersion, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.LiveVersion(ctx, account, flowID)
}

func (d *driver) resolve(account string, dests []string) ([]store.Target, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return resolve(ctx, &d.rt.targets, d.rt.store, d.c.log, account, dests, time.Now())
}

func (d *driver) sticky(account, scope, caller string, at time.Time) (string, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.Sticky(ctx, account, scope, caller, at)
}

func (d *driver) hold(account, key, sid, leg string) error {
	d.held = true
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.Hold(ctx, account, key, sid, leg, d.rt.cfg.HoldLease)
}

func (d *driver) enqueue(account, key, sid string) error {
	d.held = true
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.Enqueue(ctx, account, key, sid, d.rt.cfg.HoldLease)
}

func (d *driver) ahead(sid string) (int, error) {
	d.flush()
	ctx, cancel := d.dbctx()
	defer cancel()
	return d.rt.store.Ahead(ctx, sid)
}

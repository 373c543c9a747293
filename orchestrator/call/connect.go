package call

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// maxFetches bounds the fetch_after_attempt requests of one connect.
const maxFetches = 10

// connecting is a Connect applet in progress: the plan it dials, the
// attempts made, the holds taken and its place in a queue. A plain
// connect (no state management, sticky agent, queue or fetch after
// attempt) is one bridge to every destination; otherwise each attempt is
// its own bridge, so that each destination is held just before it rings.
type connecting struct {
	base       flows.Dial // the applet's own Dial
	d          flows.Dial // what is dialled: base with the customer's plan applied
	scope      string     // sticky agents and queues are per flow and applet
	fetchAfter bool
	fetches    int

	targets    []store.Target
	tried      map[string]bool // hold keys already tried
	sticky     *store.Target
	stickyRead bool
	attempts   bool
	busy       int // destinations skipped: on another call

	last      *flows.DialResult
	lastWhom  []string
	lastStart time.Time

	recording *store.Recording
	ringback  bool
	played    bool
	// bridgedTo is the leg the caller is talking to (CHANNEL_BRIDGE).
	bridgedTo string
	// keepSocket: the flow needs the caller's channel after this
	// connect's conversation (asked once, see detach).
	keepSocket bool
	q          *queueing
	// plan is the id of the plan asked for (0: none).
	plan int
}

// connect starts a Connect: asks the customer's URL first when the applet
// is programmable.
func (c *call) connect(d flows.Dial) {
	flowID := c.state.FlowID
	if flowID == "" {
		flowID = c.state.Call.FlowID
	}
	cn := &connecting{base: d, d: d, scope: flowID + "/" + d.Applet, tried: map[string]bool{}}
	c.conn = cn
	if d.URL != "" {
		c.askPlan(nil)
		return
	}
	c.route()
}

// askPlan asks the planner what to dial; the call waits for planned.
func (c *call) askPlan(last *Attempt) {
	cn := c.conn
	if !c.env.planner {
		c.connectDone(flows.DialResult{Status: flows.DialFailed, Reason: "programmable connect is not configured on this server"})
		return
	}
	c.ids++
	cn.plan = c.ids
	c.pending = pending{kind: waitPlan}
	c.emit(AskPlan{ID: c.ids, Info: c.info(), Dial: cn.base, Last: last})
}

// planned takes the planner's answer to request id.
func (c *call) planned(id int, p *Plan, err error) {
	defer c.afterInput()
	cn := c.conn
	if cn == nil || cn.plan != id || c.pending.kind != waitPlan {
		return // the caller left and the flow moved on
	}
	cn.plan = 0
	c.pending = pending{}
	if err != nil {
		c.connectDone(flows.DialResult{Status: flows.DialFailed, Reason: err.Error()})
		return
	}
	cn.d, cn.fetchAfter = p.Dial, p.FetchAfterAttempt
	if len(p.Dial.Destinations) == 0 {
		if cn.last != nil {
			c.connectDone(*cn.last)
			return
		}
		c.connectDone(flows.DialResult{Status: flows.DialNoAnswer, Reason: "the connect URL returned no destinations"})
		return
	}
	c.route()
}

// route resolves the destinations to users and hold keys and starts the
// first attempt.
func (c *call) route() {
	cn := c.conn
	targets, err := c.look.resolve(c.account, cn.d.Destinations)
	if err != nil {
		c.connectDone(flows.DialResult{Status: flows.DialFailed, Reason: "agent state unavailable: " + err.Error()})
		return
	}
	cn.targets = targets
	users := false
	for _, t := range targets {
		users = users || t.IsUser()
	}
	parallelCap := cn.d.Strategy == flows.Parallel && cn.d.MaxParallel > 0 && cn.d.MaxParallel < len(targets)
	cn.attempts = cn.d.StateManagement || users || cn.d.StickyPeriod > 0 || cn.d.Queue != nil || cn.fetchAfter || parallelCap
	if !cn.attempts {
		legs := make([]dialLeg, len(targets))
		for i, t := range targets {
			legs[i] = dialLeg{uuid: c.env.newUUID(), dest: t.Dest}
		}
		c.ring(legs)
		return
	}
	if cn.d.StickyPeriod > 0 && !cn.stickyRead {
		cn.stickyRead = true
		c.readSticky()
	}
	c.attempt()
}

// readSticky finds the agent the caller last spoke to through this
// applet, to ring first.
func (c *call) readSticky() {
	cn := c.conn
	contact, err := c.look.sticky(c.account, cn.scope, c.from, c.now())
	if err != nil {
		c.log.Warn("call: sticky agent unavailable", "err", err)
		return
	}
	if contact == "" {
		return
	}
	ts, err := c.look.resolve(c.account, []string{contact})
	if err != nil || len(ts) != 1 {
		c.log.Warn("call: sticky agent unavailable", "err", err)
		return
	}
	c.log.Info("call: sticky agent first", "agent", contact)
	cn.sticky = &ts[0]
}

// take reserves one destination for an attempt: a user who is off, or a
// destination on another call (under state management), is skipped.
func (c *call) take(t store.Target) (dialLeg, bool) {
	cn := c.conn
	if cn.tried[t.Key] {
		return dialLeg{}, false
	}
	cn.tried[t.Key] = true
	if t.IsUser() && !t.Available {
		c.log.Info("call: agent unavailable; skipped", "dest", t.Dest)
		return dialLeg{}, false
	}
	l := dialLeg{uuid: c.env.newUUID(), dest: t.Dest}
	if !cn.d.StateManagement && !t.IsUser() {
		return l, true
	}
	err := c.look.hold(c.account, t.Key, c.sid, l.uuid)
	switch {
	case errors.Is(err, store.ErrBusy):
		cn.busy++
		c.log.Info("call: destination busy on another call; skipped", "dest", t.Dest)
		return dialLeg{}, false
	case err != nil:
		// Without the hold the agent could get two calls: skip them.
		cn.busy++
		c.log.Error("call: cannot hold destination; skipped", "dest", t.Dest, "err", err)
		return dialLeg{}, false
	}
	l.held = true
	return l, true
}

// attempt rings the next destinations, or ends the connect (or queues the
// caller) when none is left.
func (c *call) attempt() {
	cn := c.conn
	if c.left() {
		c.connectDone(c.lastOr(flows.DialNoAnswer, ""))
		return
	}
	if s := cn.sticky; s != nil {
		cn.sticky = nil
		if l, ok := c.take(*s); ok {
			c.ring([]dialLeg{l})
			return
		}
	}
	size := 1
	if cn.d.Strategy == flows.Parallel {
		size = len(cn.targets)
		if cn.d.MaxParallel > 0 {
			size = cn.d.MaxParallel
		}
	}
	var batch []dialLeg
	for _, t := range cn.targets {
		if len(batch) >= size {
			break
		}
		if l, ok := c.take(t); ok {
			batch = append(batch, l)
		}
	}
	if len(batch) > 0 {
		c.ring(batch)
		return
	}
	switch {
	case cn.fetchAfter && cn.last != nil && cn.fetches < maxFetches:
		cn.fetches++
		c.askPlan(&Attempt{Status: cn.last.Status, Whom: strings.Join(cn.lastWhom, ","),
			Duration: seconds(c.now().Sub(cn.lastStart))})
	case cn.busy > 0 && cn.d.Queue != nil:
		c.enqueue()
	case cn.last != nil:
		c.connectDone(*cn.last)
	case cn.busy > 0:
		c.connectDone(flows.DialResult{Status: flows.DialBusy, Reason: "every destination is on another call"})
	default:
		c.connectDone(flows.DialResult{Status: flows.DialNoAnswer, Reason: "no destination available to dial"})
	}
}

func (c *call) lastOr(status flows.DialStatus, reason string) flows.DialResult {
	if l := c.conn.last; l != nil {
		return *l
	}
	return flows.DialResult{Status: status, Reason: reason}
}

// dialDone takes the result of one bridge: the connect ends when someone
// answered, the caller left or it was its only attempt; otherwise the next
// attempt goes.
func (c *call) dialDone(res flows.DialResult) {
	cn := c.conn
	c.pending = pending{}
	cn.last = &res
	switch {
	case res.Status == flows.DialCompleted || !cn.attempts || c.left():
		c.connectDone(res)
	case cn.q != nil:
		c.queueRingDone()
	default:
		c.attempt()
	}
}

// connectDone ends the connect and tells the flow.
func (c *call) connectDone(res flows.DialResult) {
	cn := c.conn
	c.conn = nil
	c.pending = pending{}
	res.At = c.now().UTC()
	if cn.q != nil {
		c.leaveQueue(cn.q)
	}
	if cn.recording != nil {
		cn.recording.Duration = res.TalkTime
		c.emit(SaveRecording{Recording: *cn.recording})
		c.recordingURL = cn.recording.URL
		res.RecordingURL = cn.recording.URL
	}
	if res.Status == flows.DialCompleted && cn.d.StickyPeriod > 0 && res.AnsweredBy != "" {
		c.emit(Stick{Account: c.account, Scope: cn.scope, Caller: c.from, Contact: res.AnsweredBy,
			Until: c.now().Add(time.Duration(cn.d.StickyPeriod) * time.Second)})
	}
	if res.Reason != "" {
		c.log.Info("call: connect ended", "status", res.Status, "reason", res.Reason)
	}
	c.deliver(res, res.Status == flows.DialCompleted)
}

// ring bridges the caller to legs: each gets a row and a filter on this
// socket (so its own events, losers' included, arrive here) before the
// bridge starts.
func (c *call) ring(legs []dialLeg) {
	cn := c.conn
	d := cn.d
	d.Destinations = make([]string, len(legs))
	for i, x := range legs {
		d.Destinations[i] = x.dest
	}
	dl := &dialing{legs: legs}
	start := c.wall()
	for _, x := range legs {
		l := &leg{uuid: x.uuid, seq: len(c.order) + 1, to: x.dest, status: store.Queued, createdAt: start,
			held: x.held, events: d.DialEventURL}
		c.legs[x.uuid] = l
		c.order = append(c.order, l)
		c.emit(CreateLeg{Leg: store.Leg{CallSID: c.sid, AccountSID: c.account, Seq: l.seq, UUID: x.uuid,
			Direction: store.LegOutbound, From: d.CallerID, To: x.dest, Status: store.Queued, StartTime: l.createdAt}})
		c.emit(Watch{UUID: x.uuid})
	}
	cn.lastWhom, cn.lastStart = d.Destinations, c.now()
	if d.MusicOnHold != "" && !cn.ringback {
		cn.ringback = true
		c.fire("set", "transfer_ringback="+audio(d.MusicOnHold))
	}
	if d.Record && cn.recording == nil {
		cn.recording = c.newRecording(d.RecordingChannels)
		if d.RecordingChannels == "dual" {
			c.fire("set", "RECORD_STEREO=true")
		}
		c.fire("record_session", cn.recording.Path)
	}
	for _, x := range legs {
		c.dialEvent(c.legs[x.uuid], DialEventDial)
	}
	c.await(pending{kind: waitDial, dial: dl}, "bridge", dialStringFor(c.env.cfg.Endpoints, d, legs, c.sid, c.trunkUser(), c.legMark, c.m))
}

// trunkUser is what a SIP trunk destination dials on its gateway: the
// number the call came in on (its ExoPhone).
func (c *call) trunkUser() string {
	if n := c.state.Call.ExoPhone; n != "" {
		return n
	}
	return c.to
}

// dialEvent posts one event of a dialled leg to the connect's event URL.
func (c *call) dialEvent(l *leg, typ string) {
	if l == nil || l.events == "" || !c.env.events {
		return
	}
	ev := DialEvent{Type: typ, Whom: l.to, Status: "busy", At: c.now().UTC()}
	if typ == DialEventTerminal {
		ev.Status = "free"
		ev.LegStatus = string(l.status)
	}
	c.emit(PostDialEvent{Info: c.info(), URL: l.events, Event: ev})
}

// bridged plays the connect's start-of-call playback once the callee is
// bridged: to the callee alone, or to both parties.
func (c *call) bridged(ev esl.Event) {
	cn := c.conn
	if cn == nil {
		return
	}
	callee := ev.Get("Bridge-B-Unique-ID")
	if callee == "" || callee == c.uuid {
		callee = ev.Get("Other-Leg-Unique-ID")
	}
	if callee == "" {
		return
	}
	cn.bridgedTo = callee
	if cn.played || cn.d.StartPlayback == nil {
		return
	}
	cn.played = true
	p := cn.d.StartPlayback
	app, arg := c.m.play(p.Prompt)
	path := arg
	if app != "playback" {
		path = app + "::" + arg
	}
	to := "aleg" // the callee's own channel
	if p.To == "both" {
		to = "both"
	}
	c.emit(API{Cmd: fmt.Sprintf("uuid_broadcast %s '%s' %s", callee, path, to)})
}

// detach lets go of the socket once the conversation is all that is
// left of the call: the caller is bridged to a leg this connect dialled,
// every other leg of the bridge has its record (or never existed), and
// whatever the flow does after the conversation never needs the caller's
// channel (flows.ChannelAfter). A queue's connect detaches too: once its
// agent answered, its timers and polls wait for the bridge's result
// (they act only while the caller waits in line), and the caller leaves
// the queue when the conversation ends. A call detaches once.
func (c *call) detach() {
	cn := c.conn
	if !c.env.detach || c.legMark != "" || c.detached || cn == nil || cn.keepSocket || cn.bridgedTo == "" ||
		c.left() || c.flow == nil || c.pending.kind != waitDial {
		return
	}
	w := c.legs[cn.bridgedTo]
	if w == nil || w == c.a || w.final != nil {
		return
	}
	for _, dl := range c.pending.dial.legs {
		// A leg without a single event was never created (or never
		// dialled, after the winner of a sequential list): the bridge's
		// result closes it.
		if l := c.legs[dl.uuid]; l != nil && l != w && l.final == nil && l.lastSeq != 0 {
			return
		}
	}
	if c.flow.ChannelAfter(c.state.Applet, flows.OutAnswered) {
		cn.keepSocket = true
		return
	}
	c.detached = true
	c.emit(Detach{Caller: c.uuid, Callee: w.uuid})
}

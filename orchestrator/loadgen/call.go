package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// inboxSize bounds a call's unread events; a call gets about eight in
// all, one more for each further digit collection.
const inboxSize = 64

// killTimeout bounds the hang-up of an abandoned call.
const killTimeout = 5 * time.Second

// simCall is one simulated caller. Its state belongs to the goroutine in
// run; the router reaches it only through post.
type simCall struct {
	g          *generator
	script     Script
	from       string
	to         string // the number dialled
	callerUUID string // the caller's phone: the parked loopback -a leg

	inbox        chan esl.Event
	overflow     chan struct{}
	overflowOnce sync.Once

	// Owned by run.
	controlled      string // the channel Switchyard controls (loopback -b)
	callSID         string
	took            bool // the socket application ran on it
	answered        bool
	sentAt          time.Time
	answeredAt      time.Time
	dtmfAt          time.Time
	bridgedAt       time.Time
	collections     int
	hungUp          bool // the caller hung up on cue
	callerDone      bool
	controlledDone  bool
	controlledCause string
	jobDone         bool
	jobErr          string
	cmdErr          string
	stop            string // why the call was abandoned, if it was
	answerTimer     *time.Timer
	bridgeTimer     *time.Timer
}

func (g *generator) newCall(n int, to string) *simCall {
	return &simCall{
		g:          g,
		script:     g.cfg.Script,
		from:       fmt.Sprintf("%s%06d", CallerPrefix, (g.first+n)%MaxCalls),
		to:         to,
		callerUUID: esl.NewUUID(),
		inbox:      make(chan esl.Event, inboxSize),
		overflow:   make(chan struct{}),
	}
}

// post queues an event for the call without blocking; a call that cannot
// keep up is abandoned (CauseOverflow) rather than run on partial events.
func (c *simCall) post(ev esl.Event) {
	select {
	case c.inbox <- ev:
	default:
		c.overflowOnce.Do(func() { close(c.overflow) })
	}
}

// run places the call, plays the script until both channels are gone (or
// the call is abandoned) and returns its outcome.
func (c *simCall) run(ctx context.Context) outcome {
	g := c.g
	// Commands must not be cut by ctx: a command abandoned mid-flight
	// poisons its connection (see esl.ErrPoisoned). Each is bounded by
	// esl.DefaultTimeout instead.
	cmdCtx := context.WithoutCancel(ctx)
	g.routes.add(c)
	defer g.routes.remove(c)
	timeout := time.NewTimer(g.cfg.CallTimeout)
	defer timeout.Stop()
	defer func() {
		for _, t := range []*time.Timer{c.answerTimer, c.bridgeTimer} {
			if t != nil {
				t.Stop()
			}
		}
	}()

	c.sentAt = time.Now()
	job, err := g.events.BgAPI(cmdCtx, fmt.Sprintf(
		"originate {origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s}loopback/%s/%s &park()",
		c.callerUUID, c.from, c.from, c.to, g.cfg.Context))
	if err != nil {
		g.log.WarnContext(ctx, "loadgen: originate not sent", "from", c.from, "err", err)
		// A reply that timed out may hide an originate the node runs
		// later: the sweep hangs the caller up if it exists by then
		// (hanging it up now would find nothing).
		c.stop = CauseConnLost
		g.leftUp(c.callerUUID)
		return c.outcome()
	}
	for !c.finished() {
		select {
		case j, ok := <-job:
			job = nil
			c.jobDone = true
			if !ok {
				c.abandon(cmdCtx, CauseConnLost)
				break
			}
			if _, err := j.Result(); err != nil {
				c.jobErr = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(j.Body), "-ERR"))
			}
		case ev := <-c.inbox:
			c.onEvent(cmdCtx, ev)
		case <-timerC(c.answerTimer):
			c.answerTimer = nil
			c.hangUp(cmdCtx)
		case <-timerC(c.bridgeTimer):
			c.bridgeTimer = nil
			c.hangUp(cmdCtx)
		case <-c.overflow:
			g.log.WarnContext(ctx, "loadgen: call's events overflowed; hanging it up", "from", c.from)
			c.abandon(cmdCtx, CauseOverflow)
		case <-timeout.C:
			c.abandon(cmdCtx, CauseTimeout)
		case <-ctx.Done():
			c.abandon(cmdCtx, CauseInterrupted)
		case <-g.events.Done():
			c.abandon(cmdCtx, CauseConnLost)
		}
	}
	o := c.outcome()
	if o.cause != "" {
		g.log.DebugContext(ctx, "loadgen: call failed", "cause", o.cause, "from", c.from, "caller", c.callerUUID,
			"controlled", c.controlled, "call_sid", c.callSID, "answered", c.answered, "collections", c.collections,
			"bridged", !c.bridgedAt.IsZero(), "hung_up", c.hungUp, "controlled_cause", c.controlledCause, "originate", c.jobErr)
	}
	return o
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// finished: the call was abandoned, or the originate has answered and
// every channel seen has hung up.
func (c *simCall) finished() bool {
	switch {
	case c.stop != "":
		return true
	case !c.jobDone:
		return false
	case c.jobErr == "" && !c.callerDone:
		return false
	}
	return c.controlled == "" || c.controlledDone
}

// onEvent advances the call on one of its events. Events arrive in any
// order (eslgo delivers each on its own goroutine), so each is read for
// what it proves rather than as a step of a sequence.
func (c *simCall) onEvent(ctx context.Context, ev esl.Event) {
	now := time.Now()
	uuid := ev.UniqueID()
	if uuid == c.callerUUID {
		if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
			c.callerDone = true
		}
		return
	}
	if c.controlled == "" && ev.Get("Call-Direction") == "inbound" {
		c.controlled = uuid
	}
	if uuid != c.controlled {
		return
	}
	if sid := ev.Var("switchyard_call"); sid != "" {
		c.callSID, c.took = sid, true
	}
	if ev.Name() == "CHANNEL_ANSWER" || ev.Get("Answer-State") == "answered" {
		c.markAnswered(now)
	}
	switch ev.Name() {
	case "CHANNEL_EXECUTE":
		c.executed(ctx, ev)
	case "CHANNEL_BRIDGE":
		if c.bridgedAt.IsZero() {
			c.bridgedAt = now
			if c.script.HangupAfterBridge > 0 && !c.callerDone && !c.hungUp {
				c.bridgeTimer = time.NewTimer(c.script.HangupAfterBridge)
			}
		}
	case "CHANNEL_HANGUP_COMPLETE":
		c.controlledDone = true
		c.controlledCause = ev.Get("Hangup-Cause")
		if ev.Int("variable_answer_epoch") > 0 {
			c.answered = true // answered, though its CHANNEL_ANSWER was not seen in time to be timed
		}
	}
}

func (c *simCall) markAnswered(now time.Time) {
	if !c.answeredAt.IsZero() {
		return
	}
	c.answered, c.answeredAt = true, now
	if c.script.HangupAfterAnswer > 0 && !c.callerDone && !c.hungUp {
		c.answerTimer = time.NewTimer(c.script.HangupAfterAnswer)
	}
}

// executed reacts to an application starting on the controlled channel:
// the socket application means Switchyard has the call; a digit
// collection gets the script's digits.
func (c *simCall) executed(ctx context.Context, ev esl.Event) {
	switch ev.Get("Application") {
	case "socket":
		// The native twin behind a socket (sim node) marks its channels:
		// that socket is not Switchyard's.
		if ev.Var("native_basic_support") == "" {
			c.took = true
		}
		return
	case "play_and_get_digits", "read":
	default:
		return
	}
	n := c.collections
	c.collections++
	digits := c.script.digitsAt(n)
	if digits == "" || c.controlledDone {
		return
	}
	c.dtmfAt = time.Now()
	if _, err := c.g.cmd().API(ctx, "uuid_recv_dtmf "+c.controlled+" "+digits); err != nil {
		c.g.log.WarnContext(ctx, "loadgen: sending digits", "from", c.from, "err", err)
		c.cmdErr = "uuid_recv_dtmf failed"
	}
}

// hangUp puts the caller's phone down, as the script says.
func (c *simCall) hangUp(ctx context.Context) {
	if c.callerDone || c.hungUp {
		return
	}
	c.hungUp = true
	if err := c.g.cmd().Kill(ctx, c.callerUUID, "NORMAL_CLEARING"); err != nil {
		c.g.log.WarnContext(ctx, "loadgen: hanging up", "from", c.from, "err", err)
		c.cmdErr = "uuid_kill failed"
	}
}

// abandon gives up on the call and makes sure its caller is gone from the
// node (uuid_kill of a channel that no longer exists succeeds).
func (c *simCall) abandon(ctx context.Context, why string) {
	c.stop = why
	if c.callerDone {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	if err := c.g.cmd().Kill(ctx, c.callerUUID, "NORMAL_CLEARING"); err != nil {
		c.g.log.DebugContext(ctx, "loadgen: hanging up an abandoned call", "from", c.from, "err", err)
		if !errors.Is(err, esl.ErrCommand) { // not "no such channel": the caller may be up still
			c.g.leftUp(c.callerUUID)
		}
	}
}

// outcome judges the call.
func (c *simCall) outcome() outcome {
	o := outcome{cause: c.cause(), callSID: c.callSID, took: c.took, channel: c.controlled}
	if !c.answeredAt.IsZero() {
		o.setup = c.answeredAt.Sub(c.sentAt)
	}
	if !c.dtmfAt.IsZero() && c.bridgedAt.After(c.dtmfAt) {
		o.dtmfBridge = c.bridgedAt.Sub(c.dtmfAt)
	}
	return o
}

// cause is why the call failed, "" if it completed: Switchyard answered,
// bridged it if the script expects that, and the caller hung up on cue
// (or, for a script that never hangs up, Switchyard ended it).
func (c *simCall) cause() string {
	switch {
	case c.stop == CauseInterrupted || c.stop == CauseConnLost || c.stop == CauseOverflow:
		return c.stop
	case !c.answered && c.jobErr != "" && !c.took:
		// The call never reached Switchyard.
		return "originate: " + c.jobErr
	case !c.answered:
		return CauseNoAnswer
	case c.script.expectsBridge() && c.bridgedAt.IsZero():
		return CauseNoBridge
	case c.stop == CauseTimeout:
		return CauseTimeout
	case c.script.hangsUp() && !c.hungUp:
		// Switchyard (or the node) ended the call before the caller did.
		return "hangup: " + cmp.Or(c.controlledCause, "unknown")
	case c.cmdErr != "":
		return c.cmdErr
	}
	return ""
}

// Package testphone places simulated inbound calls on a FreeSWITCH node,
// real or emulated, over its inbound Event Socket, and plays the caller: it
// presses digits when the flow asks for them and hangs up on cue. It is how
// `switchyard sim call` and the end-to-end scenario suite drive calls, so
// the same scenarios run against the emulator and a real node.
//
// A call is a loopback pair: `originate loopback/<number>/public &park()`.
// The parked "-a" channel is the caller's phone; the "-b" channel runs the
// node's public dialplan, which hands managed numbers to Switchyard. On a
// real node a call can come over SIP instead (Script.Carrier): the caller's
// phone is the outbound sofia channel, and the flow runs on the inbound
// one, as for a carrier's call.
package testphone

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// Script is what the caller does.
type Script struct {
	From, To string
	// Context is the dialplan context the call enters (default "public").
	Context string
	// Carrier, if set, places the call over SIP instead of loopback: from
	// the node's switchyard_testnet profile to sip:public<To>@<Carrier>
	// (fsnode.Node.Carrier), so it enters the public context on the sofia
	// channel that took the INVITE, as a carrier's call does, and a hang-up
	// reaches it as a BYE. Only the public context.
	Carrier string
	// Digits are entered at each digit collection the flow starts, in
	// order; "" lets that one time out. Collections past the list get
	// nothing.
	Digits []string
	// HangupOnApp hangs the caller up (driver.hangUp) when the
	// HangupOnAppN-th (1-based) execution of this application starts on
	// the controlled channel, e.g. "speak", 1: during the greeting.
	HangupOnApp  string
	HangupOnAppN int
	// HangupAfter hangs the caller up this long after the call is
	// answered (0: the caller never hangs up first).
	HangupAfter time.Duration
	// Message is how long the caller speaks into each recording the flow
	// starts (record): a tone sent from the caller's phone, so the node
	// records real audio, then silence. 0: the caller stays silent, and a
	// real node records nothing.
	Message time.Duration
	// Hangup, if set, hangs the caller up when it is closed.
	Hangup <-chan struct{}
	// Timeout bounds the whole call (default 2 minutes).
	Timeout time.Duration
	// OnApp, if set, is told of each application the flow starts on the
	// controlled channel, as it starts (plumbing such as set excluded).
	// It runs on the phone's goroutine and must not block.
	OnApp func(app, arg string)
}

// Step is one application the flow ran on the caller's channel.
type Step struct {
	App, Arg string
	// Seq and EndSeq are the node's Event-Sequence of the application's
	// start and end (0: its end was not seen), to order steps against
	// each other: a step that ran inside another has a Seq between the
	// other's Seq and EndSeq.
	Seq, EndSeq uint64
}

func (s Step) String() string {
	if s.Arg == "" {
		return s.App
	}
	return s.App + " " + s.Arg
}

// Result is what the caller saw.
type Result struct {
	// CallerUUID is the caller's phone; ChannelUUID the channel Switchyard
	// controlled.
	CallerUUID, ChannelUUID string
	// CallSid is Switchyard's id for the call, from the channel variable
	// it sets (empty if Switchyard never took the call).
	CallSid string
	// Path lists the applications run on the controlled channel.
	Path []Step
	// Answered reports whether the controlled channel was answered.
	Answered bool
	// HangupCause is the controlled channel's.
	HangupCause string
	// DigitsSent lists what was pressed, per collection.
	DigitsSent []string
}

// Phone is a connection to one node's inbound Event Socket.
type Phone struct {
	addr, password string
}

// New makes a phone for the node at addr.
func New(addr, password string) *Phone { return &Phone{addr: addr, password: password} }

var subscribed = []string{"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"}

// Call places one call and plays the script until both channels are gone.
func (p *Phone) Call(ctx context.Context, s Script) (*Result, error) {
	if s.Context == "" {
		s.Context = "public"
	}
	if s.Carrier != "" && s.Context != "public" {
		return nil, fmt.Errorf("testphone: a carrier's call enters the public context, not %q", s.Context)
	}
	if s.Timeout == 0 {
		s.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	// One connection per call keeps the filters per call.
	conn, err := esl.DialInbound(ctx, p.addr, p.password, nil)
	if err != nil {
		return nil, fmt.Errorf("testphone: %w", err)
	}
	defer conn.Close()

	d := &driver{conn: conn, script: s, res: &Result{CallerUUID: esl.NewUUID()},
		events: make(chan esl.Event, 1024)}
	conn.SetFallback(func(ev esl.Event) {
		select {
		case d.events <- ev:
		default: // a test phone that cannot keep up drops events
		}
	})
	// Only this call: the caller's phone by its UUID, and the controlled
	// channel by the caller id it inherits (legs Switchyard dials carry
	// the ExoPhone as caller id instead).
	// A leading + or - in a filter value is FreeSWITCH filter syntax, so
	// the caller id is matched with a regular expression instead.
	callerRe := "/^\\+?" + regexp.QuoteMeta(strings.TrimPrefix(s.From, "+")) + "$/"
	for _, f := range [][2]string{{"Unique-ID", d.res.CallerUUID}, {"Caller-Caller-ID-Number", callerRe}, {"Event-Name", "BACKGROUND_JOB"}} {
		if err := conn.Filter(ctx, f[0], f[1]); err != nil {
			return nil, fmt.Errorf("testphone: filter: %w", err)
		}
	}
	if err := conn.Subscribe(ctx, subscribed...); err != nil {
		return nil, fmt.Errorf("testphone: subscribe: %w", err)
	}
	dest := "loopback/" + s.To + "/" + s.Context
	if s.Carrier != "" {
		dest = "sofia/switchyard_testnet/public" + s.To + "@" + s.Carrier
	}
	job, err := conn.BgAPI(ctx, fmt.Sprintf("originate {origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s}%s &park()",
		d.res.CallerUUID, s.From, s.From, dest))
	if err != nil {
		return nil, fmt.Errorf("testphone: originate: %w", err)
	}
	return d.run(ctx, job)
}

type driver struct {
	conn   *esl.Conn
	script Script
	res    *Result
	events chan esl.Event

	collections int
	apps        map[string]int
	steps       map[string]int // Application-UUID -> its index in Path
	ends        map[string]uint64
	hangupTimer <-chan time.Time
	callerDone  bool
	channelDone bool
	jobDone     bool
}

func (d *driver) run(ctx context.Context, job <-chan esl.Job) (*Result, error) {
	d.apps, d.steps, d.ends = map[string]int{}, map[string]int{}, map[string]uint64{}
	hangup := d.script.Hangup
	for !(d.callerDone && (d.channelDone || d.res.ChannelUUID == "")) || !d.jobDone {
		select {
		case <-d.hangupTimer:
			d.hangupTimer = nil
			d.hangUp(ctx)
		case <-hangup:
			hangup = nil
			d.hangUp(ctx)
		case j, ok := <-job:
			job = nil
			d.jobDone = true
			if !ok {
				return d.res, errors.New("testphone: connection lost before the originate finished")
			}
			if _, err := j.Result(); err != nil {
				// The call never connected (no answer, rejected):
				// nothing more will happen.
				d.res.HangupCause = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(j.Body), "-ERR"))
				return d.res, nil
			}
		case ev := <-d.events:
			d.onEvent(ctx, ev)
		case <-ctx.Done():
			return d.res, fmt.Errorf("testphone: call did not end: %w", ctx.Err())
		}
	}
	d.sortPath()
	return d.res, nil
}

// sortPath puts the steps in the order FreeSWITCH ran them (events
// arrive out of order) and gives each its end.
func (d *driver) sortPath() {
	for id, i := range d.steps {
		d.res.Path[i].EndSeq = d.ends[id]
	}
	sort.SliceStable(d.res.Path, func(a, b int) bool { return d.res.Path[a].Seq < d.res.Path[b].Seq })
}

func (d *driver) onEvent(ctx context.Context, ev esl.Event) {
	uuid := ev.UniqueID()
	if uuid == d.res.CallerUUID {
		if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
			d.callerDone = true
		}
		return
	}
	if d.res.ChannelUUID == "" && ev.Get("Call-Direction") == "inbound" {
		d.res.ChannelUUID = uuid
	}
	if uuid != d.res.ChannelUUID {
		return
	}
	if sid := ev.Var("switchyard_call"); sid != "" {
		d.res.CallSid = sid
	}
	switch ev.Name() {
	case "CHANNEL_ANSWER":
		d.res.Answered = true
		if d.script.HangupAfter > 0 && d.hangupTimer == nil {
			d.hangupTimer = time.After(d.script.HangupAfter)
		}
	case "CHANNEL_HANGUP_COMPLETE":
		d.channelDone = true
		d.res.HangupCause = ev.Get("Hangup-Cause")
		if ev.Int("variable_answer_epoch") > 0 {
			d.res.Answered = true
		}
	case "CHANNEL_EXECUTE":
		d.executed(ctx, ev)
	case "CHANNEL_EXECUTE_COMPLETE":
		if id := ev.AppUUID(); id != "" {
			d.ends[id] = ev.Seq()
		}
	}
}

func (d *driver) executed(ctx context.Context, ev esl.Event) {
	app := ev.Get("Application")
	switch app {
	case "park", "socket", "execute_extension", "multiset", "set", "export", "sched_transfer":
		return // plumbing, not the flow's path
	}
	if id := ev.AppUUID(); id != "" {
		d.steps[id] = len(d.res.Path)
	}
	d.res.Path = append(d.res.Path, Step{App: app, Arg: ev.Get("Application-Data"), Seq: ev.Seq()})
	if d.script.OnApp != nil {
		d.script.OnApp(app, ev.Get("Application-Data"))
	}
	d.apps[app]++
	if app == d.script.HangupOnApp && d.apps[app] == max(d.script.HangupOnAppN, 1) {
		d.hangUp(ctx)
		return
	}
	if app == "record" && d.script.Message > 0 {
		d.speak(ctx)
		return
	}
	if app != "play_and_get_digits" && app != "read" {
		return
	}
	n := d.collections
	d.collections++
	digits := ""
	if n < len(d.script.Digits) {
		digits = d.script.Digits[n]
	}
	d.res.DigitsSent = append(d.res.DigitsSent, digits)
	if digits == "" {
		return
	}
	if _, err := d.conn.API(ctx, "uuid_recv_dtmf "+d.res.ChannelUUID+" "+digits); err != nil {
		d.res.HangupCause = "testphone: " + err.Error()
	}
}

// speak sends Message worth of audio from the caller's phone: a 440 Hz
// tone played on the parked caller leg, which its loopback peer (the
// channel the flow records) receives.
func (d *driver) speak(ctx context.Context) {
	tone := fmt.Sprintf("tone_stream://%%(%d,0,440)", d.script.Message.Milliseconds())
	if _, err := d.conn.API(ctx, "uuid_broadcast "+d.res.CallerUUID+" "+tone+" aleg"); err != nil {
		d.res.HangupCause = "testphone: " + err.Error()
	}
}

// hangUp hangs the caller up as a caller putting the phone down does. A
// call over SIP (Script.Carrier): the phone's leg, whose BYE reaches the
// flow's channel. A loopback call: the channel the flow runs on first, as
// a BYE would, and the loopback takes the phone's half down after it.
// Killing the phone's half instead ends the flow's media a moment before
// its hang-up arrives, an order no SIP caller produces: in that moment
// the node starts whatever Switchyard had queued behind the running
// prompt (on a real node, a menu queued behind its greeting started on 51
// of 480 loopback calls hung up so, on none of 880 SIP calls). Before the
// flow's channel is known, the phone's half is hung up.
func (d *driver) hangUp(ctx context.Context) {
	uuid := cmp.Or(d.res.ChannelUUID, d.res.CallerUUID)
	if d.script.Carrier != "" {
		uuid = d.res.CallerUUID
	}
	if _, err := d.conn.API(ctx, "uuid_kill "+uuid+" NORMAL_CLEARING"); err != nil {
		d.res.HangupCause = "testphone: " + err.Error()
	}
}

// ParseDigits reads the --digits form: collections separated by commas,
// e.g. "1" (press 1 at the first menu) or ",3" (say nothing at the first,
// press 3 at the second).
func ParseDigits(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

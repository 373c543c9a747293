package fsim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// CallScript describes a simulated inbound call placed in-process with
// PlaceCall: the caller (From) dials To. The script drives the caller's
// side: the digits entered and when the caller hangs up.
type CallScript struct {
	From, To string
	// Digits are what the caller types at the 1st, 2nd, ... digit
	// collection (each execution of play_and_get_digits or read) on the
	// controlled leg, as soon as it starts: the first digit cuts the prompt,
	// and digits beyond a failed try are kept for the next try (so "92"
	// answers 9, hears the invalid prompt, then answers 2). "" lets that
	// collection time out; once they run out the caller types nothing.
	// These are the semantics of orchestrator/testphone on a real node.
	Digits []string
	// HangupAfter (simulated, from call start) makes the caller hang up;
	// 0 = never hang up first.
	HangupAfter time.Duration
	// HangupOnApp/HangupOnAppN hang the caller up when the N-th (1-based)
	// execution of this application starts on the controlled leg, e.g.
	// "playback",1 = in the middle of the greeting.
	HangupOnApp  string
	HangupOnAppN int
	// Talk is how long the caller speaks when the controlled leg starts
	// `record` (default 5 s): the caller's phone plays a 440 Hz tone that
	// long, as orchestrator/testphone does on a real node with
	// uuid_broadcast <caller> playback::tone_stream://... aleg; then it is
	// silent, and silence detection (or the limit) ends the recording.
	Talk time.Duration
}

// Call is a call placed with PlaceCall.
type Call struct {
	s      *Server
	script CallScript
	a, b   *channel // a: the caller's phone (loopback/<to>-a), b: the leg the dialplan runs (-b)

	mu       sync.Mutex
	apps     []string
	cause    string
	done     chan struct{}
	closed   bool
	digitIdx int
	counts   map[string]int
	killNext bool
	downs    int
}

var errClosed = errors.New("fsim: server closed")

// PlaceCall places a simulated inbound call, exactly as the test driver
// does over ESL with
//
//	originate {origination_caller_id_number=<From>}loopback/<To>/public &park()
//
// The -b half runs the dialplan (a managed number goes to the socket
// application towards SocketAddr); the -a half is the caller's phone.
func (s *Server) PlaceCall(ctx context.Context, c CallScript) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.To) == "" {
		return nil, errors.New("fsim: CallScript.To is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errClosed
	}
	call := &Call{s: s, script: c, done: make(chan struct{}), counts: make(map[string]int)}
	from := c.From
	if from == "" {
		from = "0000000000"
	}
	ds := &dialString{
		global: []kv{{"origination_caller_id_number", from}, {"origination_caller_id_name", from}},
		groups: []dialGroup{{legs: []dialLeg{{endpoint: "loopback/" + c.To + "/public"}}}},
	}
	o := s.newOrigination(nil, ds, 0, func(w *origLeg, cause string) {
		if w != nil && !w.ch.hungup {
			w.ch.hitDialplan = true
			w.ch.flipCID()
			s.runOriginateTarget(w.ch, "&park()", "")
		}
	}).start()
	if len(o.all) == 0 || o.all[0].ch == nil {
		return nil, errors.New("fsim: could not create the call")
	}
	call.a = o.all[0].ch
	call.b = call.a.pair
	call.a.call = call
	if call.b != nil {
		call.b.call = call
	}
	if c.HangupAfter > 0 {
		s.afterSim(c.HangupAfter, func() { call.callerHangup() })
	}
	return call, nil
}

// UUID is the Unique-ID of the leg the dialplan (and Switchyard) controls.
func (c *Call) UUID() string {
	if c.b == nil {
		return c.a.uuid
	}
	return c.b.uuid
}

// CallerUUID is the Unique-ID of the caller's phone (the loopback -a half).
func (c *Call) CallerUUID() string { return c.a.uuid }

// Done is closed when both halves of the call have hung up.
func (c *Call) Done() <-chan struct{} { return c.done }

// Apps lists "app arg" of every application its controller executed on the
// controlled leg, in order (the dialplan's own steps, such as the socket
// application hosting it, are not listed).
func (c *Call) Apps() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.apps...)
}

// HangupCause is the controlled leg's hangup cause ("" while up).
func (c *Call) HangupCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Hangup makes the caller hang up now (NORMAL_CLEARING).
func (c *Call) Hangup() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.callerHangup()
}

// callerHangup: the caller puts the phone down. Caller holds s.mu.
func (c *Call) callerHangup() {
	switch {
	case !c.a.hungup:
		c.a.hangup("NORMAL_CLEARING")
	case c.b != nil && !c.b.hungup:
		c.b.hangup("NORMAL_CLEARING")
	}
}

// ---- hooks, called under s.mu ----

func (c *Call) appStarted(ch *channel, r *appRun) {
	if ch != c.b || r.app == "socket" || (r.msg != nil && r.msg.dialplan) {
		return
	}
	entry := r.app
	if r.arg != "" {
		entry += " " + r.arg
	}
	c.mu.Lock()
	c.apps = append(c.apps, entry)
	c.counts[r.app]++
	n := c.counts[r.app]
	c.mu.Unlock()
	want := c.script.HangupOnAppN
	if want <= 0 {
		want = 1
	}
	if c.script.HangupOnApp == r.app && n == want {
		c.killNext = true
	}
	if r.app == "record" {
		talk := c.script.Talk
		if talk <= 0 {
			talk = 5 * time.Second
		}
		tone := fmt.Sprintf("tone_stream://%%(%d,0,440)", talk.Milliseconds())
		c.s.post(func() {
			if !c.a.hungup {
				c.a.runSide("playback", tone)
			}
		})
	}
	if r.app == "play_and_get_digits" || r.app == "read" {
		i := c.digitIdx
		c.digitIdx++
		if i < len(c.script.Digits) && c.script.Digits[i] != "" {
			ch.queueDigits(c.script.Digits[i], "RTP", 2080, 0, 20*time.Millisecond)
		}
	}
}

func (c *Call) appRunning(ch *channel, _ *appRun) {
	if ch != c.b || !c.killNext {
		return
	}
	c.killNext = false
	c.callerHangup()
}

func (c *Call) legDown(ch *channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch == c.b || (c.b == nil && ch == c.a) {
		c.cause = ch.cause
	}
	c.downs++
	total := 2
	if c.b == nil {
		total = 1
	}
	if c.downs >= total && !c.closed {
		c.closed = true
		close(c.done)
	}
}

func (c *Call) legDestroyed(*channel) {}

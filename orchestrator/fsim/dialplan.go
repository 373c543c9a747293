package fsim

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// step is one dialplan action.
type step struct{ app, arg string }

// route runs the dialplan for dest on an inbound channel. A test-network
// number behaves as in DESIGN.md §6; the lab destinations of the reference
// transcripts (ansNNNN, noanswer, busy, rejectCAUSE, park, sockNNNN) behave
// as in fs-config-notes.md; any other number is a managed number and goes to
// `socket <SocketAddr> async full` when toSocket, else answers like a
// test-network 0001–0099 number.
func (ch *channel) route(dest string, toSocket bool) {
	ch.hitDialplan = true
	ch.runDialplan(ch.dialplanSteps(dest, toSocket))
}

func (ch *channel) dialplanSteps(dest string, toSocket bool) []step {
	s := ch.s
	if class, nn, ok := testNumber(dest); ok {
		return testSteps(class, nn)
	}
	switch {
	case dest == "park":
		return []step{{"park", ""}}
	case dest == "noanswer":
		return []step{{"ring_ready", ""}, {"sleep", "300000"}}
	case dest == "busy":
		return []step{{"respond", "486 Busy Here"}, {"hangup", "USER_BUSY"}}
	case strings.HasPrefix(dest, "ans") && allDigits(dest[3:]):
		return []step{{"ring_ready", ""}, {"sleep", dest[3:]}, {"answer", ""}, {"playback", "tone_stream://%(1000,0,350);loops=-1"}}
	case strings.HasPrefix(dest, "reject"):
		if c, ok := parseCause(dest[6:]); ok {
			return []step{{"hangup", c}}
		}
	case strings.HasPrefix(dest, "sock") && allDigits(dest[4:]):
		return []step{{"socket", "127.0.0.1:" + dest[4:] + " async full"}}
	}
	if toSocket && dest == parkUnclaimed {
		// freeswitch-conf's switchyard_unclaimed extension: a parked call
		// no instance took goes down the socket path.
		return []step{{"set", "switchyard_unclaimed=true"}, {"unset", "switchyard_detached"},
			{"transfer", ch.getVar("switchyard_exophone") + " XML public"}}
	}
	if toSocket {
		// freeswitch-conf/dialplan/public/00_switchyard.xml
		steps := []step{{"set", "switchyard_exophone=" + dest}, {"set", "continue_on_fail=true"}, {"set", "hangup_after_bridge=false"}}
		if tag := s.parkOwner(); tag != "" && ch.getVar("switchyard_unclaimed") == "" {
			// Parked for the instance that owns the node's parked calls.
			return append(steps, step{"multiset", "switchyard_detached=" + tag},
				step{"sched_transfer", "+5 " + parkUnclaimed + " XML public"}, step{"park", ""})
		}
		if s.socketAddr == "" {
			return []step{{"hangup", "NORMAL_TEMPORARY_FAILURE"}}
		}
		return append(steps, step{"socket", s.socketAddr + " async full"})
	}
	return testSteps(netAnswer, 0)
}

// parkUnclaimed is the extension a parked call's fallback transfers it to.
const parkUnclaimed = "switchyard_unclaimed"

// parkOwner is the tag of the instance that owns the node's parked calls:
// the part of the global switchyard_park_to ("<tag>.<beat>") before its
// dot; "" when there is none. Caller holds s.mu.
func (s *Server) parkOwner() string {
	tag, _, ok := strings.Cut(s.globals["switchyard_park_to"], ".")
	if !ok {
		return ""
	}
	return tag
}

// testSteps is the test-network dialplan, the actions
// freeswitch-conf/dialplan/switchyard_testnet.xml runs on a real node.
func testSteps(class netClass, nn int) []step {
	steps := []step{{"unset", "switchyard_detached"}, {"set", "playback_terminators=none"}, {"set", "sleep_eat_digits=true"}}
	switch class {
	case netBusy:
		return append(steps, step{"respond", "486 Busy Here"}, step{"hangup", "USER_BUSY"})
	case netNoAnswer:
		return append(steps, step{"ring_ready", ""}, step{"sleep", "300000"}, step{"hangup", "NO_ANSWER"})
	case netReject:
		return append(steps, step{"hangup", "CALL_REJECTED"})
	case netTimed:
		return append(steps, step{"ring_ready", ""}, step{"sleep", "1000"}, step{"answer", ""},
			step{"sleep", fmt.Sprintf("%02d000", nn)}, step{"hangup", "NORMAL_CLEARING"})
	}
	return append(steps, step{"ring_ready", ""}, step{"sleep", "1000"}, step{"answer", ""},
		step{"playback", answerTone}, step{"park", ""})
}

// answerTone is what an answered test-network number plays until the other
// side hangs up.
const answerTone = "tone_stream://%(1000,0,350);loops=-1"

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// runDialplan queues the steps; they run back to back (no media tick wait)
// and the channel hangs up when they are exhausted.
func (ch *channel) runDialplan(steps []step) {
	ch.endOnIdle = true
	for _, st := range steps {
		ch.queue = append(ch.queue, &execMsg{app: st.app, arg: st.arg, dialplan: true})
	}
	ch.s.post(func() { ch.service() })
}

// runHost starts a hosting application (park, socket) directly.
func (ch *channel) runHost(app, arg string) {
	impl := ch.s.appFor(app)
	if impl == nil || ch.hungup {
		return
	}
	r := &appRun{ch: ch, app: app, arg: arg, loop: 1, impl: impl, slot: slotHost}
	ch.host = r
	r.begin()
}

// ---- the socket application (outbound ESL) ----

// socketApp is `socket host:port [async] [full]`: it hosts the channel while
// the outbound ESL session controls it.
type socketApp struct{}

func (socketApp) start(r *appRun) {
	ch := r.ch
	if r.slot == slotMain {
		ch.running = nil
		r.slot = slotHost
		ch.host = r
	}
	f := strings.Fields(r.arg)
	if len(f) == 0 {
		ch.socketFailed(r)
		return
	}
	addr := f[0]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "8084")
	}
	host, _, _ := net.SplitHostPort(addr)
	async, full := false, false
	for _, x := range f[1:] {
		switch x {
		case "async":
			async = true
		case "full":
			full = true
		}
	}
	ch.setVar("socket_host", host)
	ch.s.dialSocket(ch, r, addr, async, full)
}

func (socketApp) stop(r *appRun, why stopReason) {
	if why != stopBreak {
		r.finish("")
	}
}
func (socketApp) dtmf(*appRun, byte) {}

func (s *Server) dialSocket(ch *channel, r *appRun, addr string, async, full bool) {
	if s.closing {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		d := net.Dialer{Timeout: 5 * time.Second}
		nc, err := d.DialContext(s.ctx, "tcp", addr)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Warn("fsim: socket application cannot connect", "addr", addr, "uuid", ch.uuid, "err", err)
			ch.socketFailed(r)
			return
		}
		if s.closing || ch.hungup || ch.host != r {
			nc.Close()
			return
		}
		c := s.newConn(nc, true, ch)
		c.full, c.async = full, async
		ch.socketOwn = c
		ch.socks = append(ch.socks, c)
		ch.holds++
	}()
}

// socketFailed: every socket target failed; the dialplan fallback hangs up.
func (ch *channel) socketFailed(r *appRun) {
	if ch.hungup || ch.host != r {
		return
	}
	ch.host = nil
	r.done = true
	r.complete("")
	ch.hangup("NORMAL_TEMPORARY_FAILURE")
}

// socketDetached: the controlling socket sent exit or closed. The socket
// application returns once the running application ends, and with nothing
// left in the dialplan the call is hung up (NORMAL_CLEARING), unless
// Switchyard asked for it to be parked (switchyard_park).
func (ch *channel) socketDetached(c *conn) {
	for i, x := range ch.socks {
		if x == c {
			ch.socks = append(ch.socks[:i], ch.socks[i+1:]...)
			ch.holds--
			break
		}
	}
	if ch.socketOwn == c {
		ch.socketOwn = nil
	}
	if ch.hungup {
		ch.maybeDestroy()
		return
	}
	if h := ch.host; h != nil && h.app == "socket" && ch.socketOwn == nil {
		ch.s.post(ch.releaseSocketHost)
	}
}

func (ch *channel) releaseSocketHost() {
	h := ch.host
	if ch.hungup || h == nil || h.app != "socket" || ch.socketOwn != nil {
		return
	}
	if ch.running != nil || len(ch.queue) > 0 {
		// service() calls back when the channel is idle. It polled every
		// 20 ms before: a call that let go of its socket at a final bridge
		// kept a timer going for the whole conversation, and the
		// emulator's scheduler gave way at about 7,000 such calls.
		ch.releaseOnIdle = true
		return
	}
	ch.endHost(h)
	if ch.getVar("switchyard_park") == "true" {
		// freeswitch-conf's switchyard_unavailable extension, which the
		// dialplan runs after the socket application: a call Switchyard
		// handed off to the node's connection is answered and parked, and
		// runs the commands that come through it. The extension's second
		// park is not here: it only runs when the first ends with the call
		// up, which on a real node the socket's thread can cause as it
		// finishes closing; here nothing does (and the dialplan's steps
		// share the channel's queue with the commands sent to it, so it
		// would hold them back).
		ch.runDialplan([]step{{"answer", ""}, {"park", ""}})
		return
	}
	ch.endOnIdle = true
	ch.idleCheck()
}

// endHost finishes the dialplan application that hosts the channel (park
// or socket): it unparks the channel and completes the application.
func (ch *channel) endHost(h *appRun) {
	ch.host = nil
	if ch.parked {
		ch.parked = false
		ch.s.fireChan("CHANNEL_UNPARK", ch, evOpts{vars: true})
	}
	h.done = true
	h.complete(ch.getVar("current_application_response"))
}

// ---- transfer ----

// transfer re-routes the channel: `<dest> [XML <context>]` through the
// dialplan, or `'app:arg,app2:arg' inline`.
func (ch *channel) transfer(args string) {
	if ch.hungup {
		return
	}
	f := splitArgs(args)
	if len(f) == 0 {
		return
	}
	if l := ch.bridge; l != nil {
		l.end(ch)
	}
	if r := ch.running; r != nil {
		r.stop(stopTransfer)
	}
	ch.queue = nil
	if h := ch.host; h != nil {
		ch.endHost(h)
		if h.app == "socket" {
			for _, c := range append([]*conn(nil), ch.socks...) {
				c.finishSession()
			}
		}
	}
	if len(f) >= 2 && f[1] == "inline" {
		var steps []step
		for _, part := range strings.Split(f[0], ",") {
			app, arg, _ := strings.Cut(strings.TrimSpace(part), ":")
			if app != "" {
				steps = append(steps, step{app, arg})
			}
		}
		ch.runDialplan(steps)
		return
	}
	ch.profile.dest = f[0]
	if len(f) >= 3 {
		ch.profile.context = f[2]
	}
	ch.route(f[0], ch.direction == "inbound")
}

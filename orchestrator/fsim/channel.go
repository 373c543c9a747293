package fsim

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// channel kinds: they decide naming, codecs and SIP-specific variables.
const (
	kindLoopback = iota
	kindSofia
	kindNull
)

type kv struct{ name, value string }

type profile struct {
	username, dialplan     string
	cidName, cidNumber     string
	origCidName            string
	origCidNumber          string
	calleeName             string
	calleeNumber           string
	networkAddr, ani, dest string
	source, context        string
	transferSource         string
	index                  int
	createdUS              int64
}

// channel is one simulated FreeSWITCH session (one call leg).
type channel struct {
	s         *Server
	uuid      string
	name      string
	kind      int
	direction string // inbound | outbound
	callUUID  string // Channel-Call-UUID
	codec     string

	stateName   string // CS_*
	stateNum    int
	callState   string // DOWN RINGING EARLY ACTIVE HANGUP
	hitDialplan bool
	ringing     bool
	early       bool
	answered    bool
	hungup      bool
	destroyed   bool
	cause       string

	profile     profile
	vars        []kv
	pendingAddr string

	createdUS, progressUS, progressMediaUS, answeredUS, hangupUS, bridgedUS int64

	other     *legView // Other-Leg-* partner (a snapshot, as in FreeSWITCH)
	otherType string   // originator | originatee

	// loopback / self-call pair partner (the other half of loopback/x-a|-b)
	pair     *channel
	pairKind int  // kindLoopback or kindSofia: how hangups propagate
	pairIsA  bool // this is the -a (originated) half

	// execution
	queue        []*execMsg
	running      *appRun // current sendmsg/dialplan application
	side         *appRun // uuid_broadcast run beside it
	host         *appRun // park / socket: the application the channel sits in
	parked       bool
	serviceTimer *timer
	endOnIdle    bool // hang up NORMAL_CLEARING once the dialplan has nothing left to run
	// releaseOnIdle: the socket application's session went while an
	// application ran or waited; the socket application ends once the
	// channel has nothing left to run (releaseSocketHost).
	releaseOnIdle bool
	lastApp       string
	lastArg       string

	// control
	socks     []*conn // sessions bound to this channel (outbound socket, inbound myevents)
	holds     int     // sessions that still hold the channel (lingering)
	socketOwn *conn   // the outbound socket controlling it

	// bridging / originating
	bridge  *bridgeLink
	orig    *origination // set on a B-leg while its origination is pending
	origLeg *origLeg

	// media
	remoteEnd  bool     // the far end ended it (SIP: a final response or BYE received)
	killed     bool     // hung up by uuid_kill, from outside its own thread
	sending    int      // audible playbacks / speak running on it (media.go)
	remoteTone bool     // a far-end phone that answered and plays its tone
	meters     []*meter // recordings running on this channel (media.go)
	recordings []*sessionRecording
	// ringback: the tones a bridge played to this (answered) channel while
	// its legs rang (transfer_ringback), for its session recordings.
	ringback []toneSpan
	exports  []kv

	// in-process script (PlaceCall)
	call *Call

	timers []*timer // behaviour timers to cancel at hangup
	sched  []*timer // sched_transfer's, which sched_del <uuid> cancels
}

// execMsg is a queued sendmsg (or dialplan step).
type execMsg struct {
	hangup   bool
	cause    string
	app, arg string
	uuid     string
	uuidName string
	loops    int
	sendmsg  bool   // came through sendmsg: sets current_loop/total_loops
	lock     bool   // event-lock: while it runs, the channel's private events wait
	private  bool   // a private event (sendmsg, uuid_broadcast): uuid_break all drops it
	dialplan bool   // a step of the channel's own dialplan: runs back to back, no tick wait
	onDone   func() // static (non-async) socket: reply once the application has run
}

// done reports the end of the message to a waiting static socket.
func (m *execMsg) done() {
	if m != nil && m.onDone != nil {
		f := m.onDone
		m.onDone = nil
		f()
	}
}

// newChannel registers a channel. Caller holds s.mu.
func (s *Server) newChannel(uuid, name, direction string, kind int) *channel {
	if uuid == "" || s.chans[uuid] != nil {
		uuid = newUUID()
	}
	now := s.simUS()
	ch := &channel{
		s:         s,
		uuid:      uuid,
		name:      name,
		kind:      kind,
		direction: direction,
		callUUID:  uuid,
		codec:     "PCMU",
		stateName: "CS_NEW",
		callState: "DOWN",
		createdUS: now,
	}
	if kind == kindLoopback {
		ch.codec = "L16"
	}
	ch.profile.createdUS = now
	ch.profile.index = 1
	ch.profile.dialplan = "XML"
	ch.profile.context = "default"
	s.chans[uuid] = ch
	s.sessionSeq++
	if len(s.chans) > s.peak {
		s.peak = len(s.chans)
	}
	return ch
}

// mediaUp: an outbound SIP leg gets its codec with the first SDP (183/200).
func (ch *channel) mediaUp() {
	if ch.codec == "" {
		ch.codec = "PCMU"
	}
}

func (ch *channel) codecBitRate() string {
	if ch.codec == "L16" {
		return "128000"
	}
	return "64000"
}

func (ch *channel) answerState() string {
	switch {
	case ch.hungup:
		return "hangup"
	case ch.answered:
		return "answered"
	case ch.early:
		return "early"
	}
	return "ringing"
}

// ---- variables (ordered like FreeSWITCH: a re-set variable moves to the end) ----

func (ch *channel) getVar(name string) string {
	for _, v := range ch.vars {
		if v.name == name {
			return v.value
		}
	}
	switch name {
	case "uuid":
		return ch.uuid
	case "channel_name":
		return ch.name
	case "hangup_cause":
		return ch.cause
	}
	return ""
}

func (ch *channel) hasVar(name string) bool {
	for _, v := range ch.vars {
		if v.name == name {
			return true
		}
	}
	return false
}

func (ch *channel) setVar(name, value string) {
	if value == "" {
		ch.unsetVar(name)
		return
	}
	ch.unsetVar(name)
	ch.vars = append(ch.vars, kv{name, value})
}

func (ch *channel) unsetVar(name string) {
	for i, v := range ch.vars {
		if v.name == name {
			ch.vars = append(ch.vars[:i], ch.vars[i+1:]...)
			return
		}
	}
}

func (ch *channel) varTrue(name string) bool {
	switch strings.ToLower(ch.getVar(name)) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

// ---- state ----

var stateNums = map[string]int{
	"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
	"CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
	"CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12,
}

func (ch *channel) setState(name string) {
	if ch.stateName == name {
		return
	}
	ch.stateName = name
	ch.stateNum = stateNums[name]
	ch.s.fireChan("CHANNEL_STATE", ch, evOpts{})
}

var callStateNums = map[string]string{"DOWN": "0", "DIALING": "1", "RINGING": "2", "EARLY": "3", "ACTIVE": "4", "HELD": "5", "RING_WAIT": "6", "HANGUP": "7", "UNHELD": "8"}

func (ch *channel) setCallState(cs string) {
	if ch.callState == cs {
		return
	}
	orig := ch.callState
	ch.callState = cs
	ch.s.fireChan("CHANNEL_CALLSTATE", ch, evOpts{pre: []hdr{
		{"Original-Channel-Call-State", orig},
		{"Channel-Call-State-Number", callStateNums[cs]},
	}})
}

// markRinging is 180 Ringing: CHANNEL_PROGRESS.
func (ch *channel) markRinging() {
	if ch.hungup || ch.ringing || ch.answered {
		return
	}
	ch.ringing = true
	ch.progressUS = ch.s.simUS()
	// switch_channel_perform_mark_ring_ready_value also gives the
	// originator (the bridging A-leg) its progress time, if it has none,
	// without an event: an answered caller's progresssec is how long it
	// waited for its first ringing leg.
	if o := ch.orig; o != nil && o.a != nil && o.a.progressUS == 0 {
		o.a.progressUS = ch.progressUS
	}
	// switch_channel_perform_mark_ring_ready_value fires CHANNEL_PROGRESS
	// before it sets the call state: an outbound leg still says DOWN
	ch.s.fireChan("CHANNEL_PROGRESS", ch, evOpts{vars: true})
	ch.setCallState("RINGING")
	if p := ch.pair; p != nil && !p.hungup {
		p.markRinging()
	}
	ch.notifyOrig(legRinging)
}

// markEarly is 183 early media: CHANNEL_PROGRESS_MEDIA.
func (ch *channel) markEarly() {
	if ch.hungup || ch.early || ch.answered {
		return
	}
	ch.early = true
	ch.progressMediaUS = ch.s.simUS()
	ch.mediaUp()
	ch.setVar("endpoint_disposition", "EARLY MEDIA")
	ch.s.fireChan("CHANNEL_PROGRESS_MEDIA", ch, evOpts{vars: true})
	ch.setCallState("EARLY")
	if p := ch.pair; p != nil && !p.hungup {
		p.markEarly()
	}
	ch.notifyOrig(legEarly)
}

// markAnswered answers the channel; a loopback half answers its -a partner
// first, as mod_loopback does.
func (ch *channel) markAnswered() {
	if ch.hungup || ch.answered {
		return
	}
	if p := ch.pair; p != nil && !p.hungup && !p.answered && !ch.pairIsA {
		p.markAnswered()
	}
	if ch.answered || ch.hungup {
		return
	}
	ch.answered = true
	ch.answeredUS = ch.s.simUS()
	ch.mediaUp()
	if ch.kind == kindSofia && ch.profile.networkAddr == "" && ch.pendingAddr != "" {
		ch.profile.networkAddr = ch.pendingAddr // learnt from the 200 OK
	}
	ch.s.fireChan("CHANNEL_ANSWER", ch, evOpts{vars: true})
	ch.setVar("endpoint_disposition", "ANSWER") // not yet on CHANNEL_ANSWER (1.10.12)
	ch.setCallState("ACTIVE")
	if p := ch.pair; p != nil && !p.hungup && !p.answered {
		p.markAnswered()
	}
	ch.notifyOrig(legAnswered)
	ch.executeOnAnswer()
}

// executeOnAnswer runs the execute_on_answer variable's application, as
// FreeSWITCH does when a channel is answered. Only sched_hangup (the
// conversation limit Switchyard sets on dialled legs) is emulated.
func (ch *channel) executeOnAnswer() {
	v := strings.Trim(ch.getVar("execute_on_answer"), "'")
	app, arg, _ := strings.Cut(v, " ")
	switch app {
	case "":
	case "sched_hangup":
		// the core executes it inline: CHANNEL_EXECUTE / _COMPLETE right
		// after CHANNEL_ANSWER (seen on 1.10.12)
		r := &appRun{ch: ch, app: app, arg: arg, uuid: newUUID(), loop: 1, impl: ch.s.appFor(app), slot: slotInline}
		r.begin()
	default:
		ch.s.log.Debug("fsim: execute_on_answer not emulated", "app", app)
	}
}

// ---- execution queue ----

// enqueue adds a sendmsg or dialplan step and makes sure the channel gets
// serviced on its next media tick.
func (ch *channel) enqueue(m *execMsg) {
	if ch.hungup {
		return
	}
	ch.queue = append(ch.queue, m)
	ch.scheduleService()
}

// scheduleService arranges a service pass on the channel's next media tick.
func (ch *channel) scheduleService() {
	if ch.serviceTimer != nil || ch.hungup {
		return
	}
	s := ch.s
	d := time.Duration(0)
	if s.tick > 0 {
		// tick boundaries are aligned to the channel's creation, like a
		// per-session 20 ms timer
		el := time.Since(s.realStart) - s.realDelay(time.Duration(ch.createdUS-s.simStart.UnixMicro())*time.Microsecond)
		d = s.tick - el%s.tick
	}
	ch.serviceTimer = s.afterReal(d, func() {
		ch.serviceTimer = nil
		ch.service()
	})
}

// service runs on a media tick: it starts the next queued application if
// none is running, or processes a queued hangup at once.
func (ch *channel) service() {
	if ch.hungup {
		return
	}
	if !ch.parked && ch.host != nil && ch.host.app == "socket" && ch.socketOwn != nil && ch.socketOwn.async {
		ch.parkInSocket()
	}
	if len(ch.queue) == 0 {
		if ch.releaseOnIdle && ch.running == nil {
			ch.releaseOnIdle = false
			ch.releaseSocketHost()
			return
		}
		ch.idleCheck()
		return
	}
	m := ch.queue[0]
	if r := ch.running; r != nil && r.msg != nil && r.msg.lock {
		return // event-lock: private events wait until it returns
	}
	if m.hangup {
		ch.queue = ch.queue[1:]
		ch.hangup(m.cause)
		m.done()
		return
	}
	if ch.running != nil {
		return // resumes when the running application completes
	}
	ch.queue = ch.queue[1:]
	ch.startApp(m)
	if len(ch.queue) > 0 && ch.running == nil {
		ch.scheduleService()
	}
}

// privateExec queues app as a private event on the channel, the way
// uuid_broadcast and bridge_pre_execute_*_app do. It runs on the channel's
// next media tick inside whatever runs there (as a playback nested in a
// non-event-locked application), unless the running application was sent
// with event-lock: then it waits in the queue, in order with the channel's
// other private events, until that application returns (for a bridge, the
// whole conversation).
func (ch *channel) privateExec(app, arg string) {
	s := ch.s
	s.afterReal(s.tick, func() {
		if ch.hungup {
			return
		}
		if r := ch.running; (r != nil && r.msg != nil && r.msg.lock) || ch.privateQueued() {
			ch.queue = append(ch.queue, &execMsg{app: app, arg: arg, private: true})
			ch.scheduleService()
			return
		}
		ch.runSide(app, arg)
	})
}

// privateQueued reports whether private events wait in the queue.
func (ch *channel) privateQueued() bool {
	for _, m := range ch.queue {
		if m.private {
			return true
		}
	}
	return false
}

// flushPrivate drops the private events queued on the channel and not yet
// started (switch_core_session_flush_private_events): uuid_break all.
func (ch *channel) flushPrivate() {
	keep := ch.queue[:0]
	var dropped []*execMsg
	for _, m := range ch.queue {
		if m.private {
			dropped = append(dropped, m)
			continue
		}
		keep = append(keep, m)
	}
	for i := len(keep); i < len(ch.queue); i++ {
		ch.queue[i] = nil
	}
	ch.queue = keep
	for _, m := range dropped {
		ch.s.log.Debug("fsim: uuid_break all drops a queued command", "uuid", ch.uuid, "app", m.app, "hangup", m.hangup)
		m.done()
	}
}

// breakMedia is uuid_break on one channel: a running uuid_broadcast is
// stopped (CF_BROADCAST), else the running application is broken (a
// playback, sleep, speak or record ends; endless_playback restarts its
// file; play_and_get_digits loses its prompt). Nothing is remembered when
// nothing plays: a later playback is not broken (seen on 1.10.12).
func (ch *channel) breakMedia(all bool) {
	if all {
		ch.flushPrivate()
	}
	if r := ch.side; r != nil {
		r.stop(stopBreak)
		if !r.done {
			r.finish("")
		}
		return
	}
	if r := ch.running; r != nil {
		r.stop(stopBreak)
	}
}

// parkInSocket is the async socket application parking the channel.
func (ch *channel) parkInSocket() {
	if ch.parked || ch.hungup {
		return
	}
	ch.parked = true
	ch.s.fireChan("CHANNEL_PARK", ch, evOpts{vars: true})
}

// idleCheck ends the call when the dialplan has nothing left to run.
func (ch *channel) idleCheck() {
	if ch.hungup || ch.running != nil || len(ch.queue) > 0 || ch.host != nil || ch.bridge != nil {
		return
	}
	if ch.endOnIdle {
		ch.hangup("NORMAL_CLEARING")
	}
}

// ---- hangup ----

// hangup tears the channel down with cause, emitting the events in the order
// FreeSWITCH does: HANGUP, the running application's stop events and
// EXECUTE_COMPLETE, UNPARK + EXECUTE_COMPLETE of the hosting application
// (park/socket), CS_HANGUP, CALLSTATE, RECORD_STOP of session recordings,
// CS_REPORTING, HANGUP_COMPLETE, then the socket's notice and DESTROY.
func (ch *channel) hangup(cause string) {
	if ch.hungup {
		return
	}
	s := ch.s
	if _, ok := causeCodes[cause]; !ok {
		cause = "NORMAL_CLEARING"
	}
	ch.hungup = true
	ch.cause = cause
	ch.hangupUS = s.simUS()
	s.mediaChanged(ch) // it neither sends nor receives audio any more
	ch.stateNum = stateNums["CS_HANGUP"]
	for _, m := range ch.queue {
		defer m.done()
	}
	ch.queue = nil
	if ch.serviceTimer != nil {
		s.cancelTimer(ch.serviceTimer)
		ch.serviceTimer = nil
	}
	for _, t := range ch.timers {
		s.cancelTimer(t)
	}
	ch.timers = nil
	if ch.kind == kindSofia {
		ch.setSIPTermVars()
	}
	s.fireChan("CHANNEL_HANGUP", ch, evOpts{vars: true})

	// the partner of a loopback/self-call pair follows
	if p := ch.pair; p != nil && !p.hungup {
		pc := pairCause(ch, p)
		s.post(func() {
			if !p.hungup {
				p.remoteEnd = true
				p.hangup(pc)
			}
		})
	}
	if r := ch.side; r != nil {
		r.stop(stopHangup)
	}
	if r := ch.running; r != nil {
		r.stop(stopHangup)
	}
	if b := ch.bridge; b != nil {
		b.end(ch)
	}
	if o := ch.orig; o != nil {
		o.legHungup(ch)
	}
	if h := ch.host; h != nil {
		ch.host = nil
		if ch.parked {
			ch.parked = false
			s.fireChan("CHANNEL_UNPARK", ch, evOpts{vars: true})
		}
		h.done = true
		h.complete(ch.getVar("current_application_response"))
	}
	ch.setState("CS_HANGUP")
	ch.setCallState("HANGUP")
	for _, r := range ch.recordings {
		r.stopAt(ch.hangupUS)
	}
	ch.recordings = nil
	ch.setState("CS_REPORTING")
	ch.setHangupVars()
	s.fireChan("CHANNEL_HANGUP_COMPLETE", ch, evOpts{vars: true, pre: []hdr{{"Hangup-Cause", cause}}})
	if ch.call != nil {
		ch.call.legDown(ch)
	}
	for _, c := range append([]*conn(nil), ch.socks...) {
		c.sessionDown()
	}
	ch.maybeDestroy()
}

// pairCause is the cause the other half of a pair hangs up with.
func pairCause(from, to *channel) string {
	if from.pairKind == kindLoopback && from.killed && from.bridge != nil && to.answered && to.parked && to.bridge == nil {
		// mod_loopback's kill unlinks both halves at once: the partner's
		// park reads no more media and ends while the killed half is
		// still leaving its bridge, before that half's hang-up passes its
		// cause on, so the partner, with nothing after its park, hangs up
		// NORMAL_CLEARING ("executed the last dialplan instruction";
		// TestDetachedCallHungUpAtShutdown on 1.10.12). A half that hangs
		// itself up passes its cause on first.
		return "NORMAL_CLEARING"
	}
	if from.pairKind == kindSofia && from.pairIsA {
		// the calling SIP side went away: CANCEL before answer, BYE after
		if !to.answered {
			return "ORIGINATOR_CANCEL"
		}
		return "NORMAL_CLEARING"
	}
	return from.cause
}

func (ch *channel) maybeDestroy() {
	if !ch.hungup || ch.destroyed || ch.holds > 0 {
		return
	}
	ch.destroyed = true
	ch.stateNum = stateNums["CS_DESTROY"]
	ch.s.fireChan("CHANNEL_DESTROY", ch, evOpts{vars: true})
	delete(ch.s.chans, ch.uuid)
	if ch.call != nil {
		ch.call.legDestroyed(ch)
	}
}

// setSIPTermVars adds the SIP hang-up variables of a sofia leg. The side
// that receives the final response or BYE gets sip_term_status,
// sip_term_cause and proto_specific_hangup_cause (recv_refuse, recv_bye,
// recv_cancel); the side that sends it only sip_hangup_disposition
// (send_refuse, send_bye, send_cancel), as the node shows.
func (ch *channel) setSIPTermVars() {
	code := sipCodeFor(ch.cause, ch.answered)
	disp := "send_bye"
	switch {
	case ch.remoteEnd && ch.answered:
		disp = "recv_bye"
	case ch.remoteEnd && ch.direction == "outbound":
		disp = "recv_refuse"
	case ch.remoteEnd:
		disp, code = "recv_cancel", 487
	case ch.answered:
	case ch.direction == "outbound":
		disp = "send_cancel"
	default:
		disp = "send_refuse"
	}
	if ch.remoteEnd || disp == "send_cancel" {
		// a CANCEL is answered with 487 Request Terminated, received
		if disp == "send_cancel" {
			code = 487
		}
		ch.setVar("sip_term_status", strconv.Itoa(code))
		ch.setVar("proto_specific_hangup_cause", "sip:"+strconv.Itoa(code))
		if q, ok := causeCodes[ch.cause]; ok {
			ch.setVar("sip_term_cause", strconv.Itoa(q))
		}
	}
	ch.setVar("sip_hangup_disposition", disp)
}

func sipCodeFor(cause string, answered bool) int {
	if answered {
		return 200
	}
	switch cause {
	case "USER_BUSY":
		return 486
	case "CALL_REJECTED":
		return 603
	case "NO_USER_RESPONSE":
		return 480
	case "UNALLOCATED_NUMBER":
		return 404
	case "NORMAL_TEMPORARY_FAILURE":
		return 503
	case "INVALID_NUMBER_FORMAT":
		return 484
	case "INCOMPATIBLE_DESTINATION":
		return 488
	case "RECOVERY_ON_TIMER_EXPIRE":
		return 408
	case "NORMAL_CLEARING":
		return 200
	}
	return 487
}

// setHangupVars computes the billing variables of CHANNEL_HANGUP_COMPLETE
// the way switch_channel_set_timestamps does.
func (ch *channel) setHangupVars() {
	set := ch.setVar
	set("hangup_cause", ch.cause)
	set("hangup_cause_q850", strconv.Itoa(causeCodes[ch.cause]))
	set("digits_dialed", "none")
	set("start_stamp", simStamp(ch.createdUS))
	set("profile_start_stamp", simStamp(ch.createdUS))
	if ch.answeredUS > 0 {
		set("answer_stamp", simStamp(ch.answeredUS))
	}
	if ch.bridgedUS > 0 {
		set("bridge_stamp", simStamp(ch.bridgedUS))
	}
	if ch.progressUS > 0 {
		set("progress_stamp", simStamp(ch.progressUS))
	}
	if ch.progressMediaUS > 0 {
		set("progress_media_stamp", simStamp(ch.progressMediaUS))
	}
	set("end_stamp", simStamp(ch.hangupUS))
	ep := func(us int64) string { return strconv.FormatInt(us/1e6, 10) }
	ue := func(us int64) string { return strconv.FormatInt(us, 10) }
	set("start_epoch", ep(ch.createdUS))
	set("start_uepoch", ue(ch.createdUS))
	set("profile_start_epoch", ep(ch.createdUS))
	set("profile_start_uepoch", ue(ch.createdUS))
	set("answer_epoch", ep(ch.answeredUS))
	set("answer_uepoch", ue(ch.answeredUS))
	set("bridge_epoch", ep(ch.bridgedUS))
	set("bridge_uepoch", ue(ch.bridgedUS))
	set("last_hold_epoch", "0")
	set("last_hold_uepoch", "0")
	set("hold_accum_seconds", "0")
	set("hold_accum_usec", "0")
	set("hold_accum_ms", "0")
	set("resurrect_epoch", "0")
	set("resurrect_uepoch", "0")
	set("progress_epoch", ep(ch.progressUS))
	set("progress_uepoch", ue(ch.progressUS))
	set("progress_media_epoch", ep(ch.progressMediaUS))
	set("progress_media_uepoch", ue(ch.progressMediaUS))
	set("end_epoch", ep(ch.hangupUS))
	set("end_uepoch", ue(ch.hangupUS))
	if ch.lastApp != "" {
		set("last_app", ch.lastApp)
		set("last_arg", ch.lastArg)
	}
	cid := ch.profile.cidNumber
	if ch.profile.cidName != "" {
		cid = "\"" + ch.profile.cidName + "\" <" + ch.profile.cidNumber + ">"
	}
	set("caller_id", cid)

	start, end := ch.createdUS, ch.hangupUS
	secDiff := func(a, b int64) int64 { // whole-second epoch difference
		if a == 0 || b == 0 {
			return 0
		}
		return b/1e6 - a/1e6
	}
	usDiff := func(a, b int64) int64 {
		if a == 0 || b == 0 {
			return 0
		}
		return b - a
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	set("duration", i(secDiff(start, end)))
	set("billsec", i(secDiff(ch.answeredUS, end)))
	set("progresssec", i(secDiff(start, ch.progressUS)))
	set("answersec", i(secDiff(start, ch.answeredUS)))
	set("waitsec", i(secDiff(start, ch.bridgedUS)))
	set("progress_mediasec", i(secDiff(start, ch.progressMediaUS)))
	set("flow_billsec", i(secDiff(start, end)))
	set("mduration", i(usDiff(start, end)/1000))
	set("billmsec", i(usDiff(ch.answeredUS, end)/1000))
	set("progressmsec", i(usDiff(start, ch.progressUS)/1000))
	set("answermsec", i(usDiff(start, ch.answeredUS)/1000))
	set("waitmsec", i(usDiff(start, ch.bridgedUS)/1000))
	set("progress_mediamsec", i(usDiff(start, ch.progressMediaUS)/1000))
	set("flow_billmsec", i(usDiff(start, end)/1000))
	set("uduration", i(usDiff(start, end)))
	set("billusec", i(usDiff(ch.answeredUS, end)))
	set("progressusec", i(usDiff(start, ch.progressUS)))
	set("answerusec", i(usDiff(start, ch.answeredUS)))
	set("waitusec", i(usDiff(start, ch.bridgedUS)))
	set("progress_mediausec", i(usDiff(start, ch.progressMediaUS)))
	set("flow_billusec", i(usDiff(start, end)))
	if ch.kind == kindLoopback {
		set("is_loopback", "1")
	}
}

// ---- DTMF ----

// dtmf delivers one digit: a DTMF event, then the running collector.
func (ch *channel) dtmf(digit byte, source string, durationSamples int) {
	if ch.hungup {
		return
	}
	ch.s.fireChan("DTMF", ch, evOpts{post: []hdr{
		{"DTMF-Digit", string(digit)},
		{"DTMF-Duration", strconv.Itoa(durationSamples)},
		{"DTMF-Source", source},
	}})
	if r := ch.running; r != nil && r.impl != nil {
		r.impl.dtmf(r, digit)
	}
	if r := ch.side; r != nil && r.impl != nil && !ch.hungup {
		r.impl.dtmf(r, digit)
	}
}

// queueDigits delivers digits one after another, gap apart (simulated).
// The first digit arrives after first.
func (ch *channel) queueDigits(digits string, source string, duration int, first, gap time.Duration) {
	delay := first
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		switch d {
		case 'w':
			delay += 500 * time.Millisecond
			continue
		case 'W':
			delay += time.Second
			continue
		}
		if !isDTMF(d) {
			continue
		}
		ch.addTimer(ch.s.afterSim(delay, func() { ch.dtmf(d, source, duration) }))
		delay += gap
	}
}

func isDTMF(d byte) bool {
	return (d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D') || (d >= 'a' && d <= 'd')
}

func (ch *channel) addTimer(t *timer) {
	if t == nil {
		return
	}
	// drop timers that already ran, so the slice stays short
	live := ch.timers[:0]
	for _, x := range ch.timers {
		if x.idx >= 0 {
			live = append(live, x)
		}
	}
	ch.timers = append(live, t)
}

// after schedules fn on the simulated clock, cancelled if the channel hangs up.
func (ch *channel) after(d time.Duration, fn func()) *timer {
	t := ch.s.afterSim(d, func() {
		if !ch.hungup {
			fn()
		}
	})
	ch.addTimer(t)
	return t
}

// post runs fn on the scheduler as soon as possible (after the current
// step), like a message handed to another session's thread.
func (s *Server) post(fn func()) { s.afterReal(0, fn) }

func (s *Server) sortedChannels() []*channel {
	out := make([]*channel, 0, len(s.chans))
	for _, ch := range s.chans {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].createdUS < out[j].createdUS })
	return out
}

// q.850 codes of the hangup causes FreeSWITCH knows.
var causeCodes = map[string]int{
	"NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
	"CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
	"NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
	"NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
	"DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
	"RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
	"NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
	"ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
	"FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
	"BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
	"BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
	"SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
	"INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
	"WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
	"RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
	"INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 700,
	"SYSTEM_SHUTDOWN": 701, "LOSE_RACE": 702, "MANAGER_REQUEST": 703, "BLIND_TRANSFER": 800,
	"ATTENDED_TRANSFER": 801, "ALLOTTED_TIMEOUT": 802, "USER_CHALLENGE": 803, "MEDIA_TIMEOUT": 804,
	"PICKED_OFF": 805, "USER_NOT_REGISTERED": 806, "PROGRESS_TIMEOUT": 807, "INVALID_GATEWAY": 808,
	"GATEWAY_DOWN": 809, "INVALID_URL": 810, "INVALID_PROFILE": 811, "NO_PICKUP": 812,
	"SRTP_READ_ERROR": 813, "BOWOUT": 814, "BUSY_EVERYWHERE": 815, "DECLINE": 816,
	"DOES_NOT_EXIST_ANYWHERE": 817, "NOT_ACCEPTABLE": 818, "UNWANTED": 819, "NO_IDENTITY": 820,
	"BAD_IDENTITY_INFO": 821, "UNSUPPORTED_CERTIFICATE": 822, "INVALID_IDENTITY": 823,
	"STALE_DATE": 824, "REJECT_ALL": 825,
}

// parseCause accepts a cause name (any case) or its number.
func parseCause(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	u := upper(s)
	if _, ok := causeCodes[u]; ok && u != "NONE" {
		return u, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		for name, code := range causeCodes {
			if code == n && name != "NONE" {
				return name, true
			}
		}
	}
	return "", false
}

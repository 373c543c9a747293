package fsim

import (
	"strconv"
	"strings"
	"time"
)

// ---- origination: ringing the legs of a dial string ----

// origination rings the legs of a dial string for the bridge application
// (a != nil) or the originate API (a == nil), group after group, and reports
// the first leg to answer or the failure cause of the last leg tried.
type origination struct {
	s          *Server
	a          *channel
	ds         *dialString
	group      int
	legs       []*origLeg
	all        []*origLeg
	gtimer     *timer
	contOnTime bool
	done       bool
	cause      string
	proto      string
	legCause   string // cause of the last leg that had a channel
	apiTimeout time.Duration
	apiCID     [2]string // originate API positional cid name / number
	onDone     func(winner *origLeg, cause string)
}

type origLeg struct {
	o        *origination
	endpoint string
	vars     []kv
	ch       *channel
	failed   bool
	cause    string
	t        *timer
	delay    *timer
	launched bool
	// confirmed: the leg's group_confirm exec has run.
	confirmed bool
}

// leg notifications from a B-leg channel
const (
	legRinging = iota
	legEarly
	legAnswered
)

func (s *Server) newOrigination(a *channel, ds *dialString, apiTimeout time.Duration, onDone func(*origLeg, string)) *origination {
	return &origination{s: s, a: a, ds: ds, apiTimeout: apiTimeout, onDone: onDone}
}

// start rings the first group; onDone may run before it returns.
func (o *origination) start() *origination {
	o.startGroup(0)
	return o
}

func (o *origination) startGroup(i int) {
	s := o.s
	o.group = i
	o.legs = nil
	g := o.ds.groups[i]
	vars := append(append([]kv(nil), o.ds.global...), g.vars...)
	timeout := 60 * time.Second
	if v, ok := lookup(vars, "originate_timeout"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	} else if o.a != nil && o.a.getVar("call_timeout") != "" {
		if n, err := strconv.Atoi(o.a.getVar("call_timeout")); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	} else if o.apiTimeout > 0 {
		timeout = o.apiTimeout
	}
	v, _ := lookup(vars, "originate_continue_on_timeout")
	o.contOnTime = isTrue(v)
	o.gtimer = s.afterSim(timeout, o.groupTimeout)
	for _, l := range g.legs {
		ol := &origLeg{o: o, endpoint: l.endpoint, vars: append(append([]kv(nil), vars...), l.vars...)}
		o.legs = append(o.legs, ol)
		o.all = append(o.all, ol)
	}
	// like switch_ivr_originate: every leg of the group is created first
	// (CHANNEL_OUTGOING), then their sessions start (CREATE, ORIGINATE)
	var starts []func()
	for _, ol := range o.legs {
		if o.done {
			return
		}
		d := 0
		if v, ok := lookup(ol.vars, "leg_delay_start"); ok {
			d, _ = strconv.Atoi(v)
		}
		if d > 0 {
			ol := ol
			ol.delay = s.afterSim(time.Duration(d)*time.Second, func() {
				if run := o.launch(ol); run != nil {
					run()
				}
				o.checkGroup()
			})
			continue
		}
		if run := o.launch(ol); run != nil {
			starts = append(starts, run)
		}
	}
	for _, run := range starts {
		if !o.done {
			run()
		}
	}
	o.checkGroup()
}

// launch creates one leg's channel and returns what starts its session
// (nil when no channel could be created: the leg failed at once).
func (o *origination) launch(ol *origLeg) func() {
	if o.done || ol.launched {
		return nil
	}
	ol.launched = true
	ep, err := parseEndpoint(ol.endpoint)
	if err != nil {
		cause := "INVALID_NUMBER_FORMAT"
		if ep.tech != "" && !strings.Contains(err.Error(), "bad") {
			cause = "CHAN_NOT_IMPLEMENTED"
		}
		ol.failed, ol.cause, o.cause = true, cause, cause
		return nil
	}
	if ep.tech == "error" {
		// mod_loopback's error/ endpoint creates no session: no event at all
		c, ok := parseCause(ep.number)
		if !ok {
			c = "NORMAL_TEMPORARY_FAILURE"
		}
		ol.failed, ol.cause, o.cause = true, c, c
		return nil
	}
	if ep.tech == "sofia" && !o.s.sipProfile(ep.profile) {
		// mod_sofia allocates the session, finds no profile and destroys
		// it: only a bare CHANNEL_DESTROY for a pre-assigned uuid
		if u, ok := lookup(ol.vars, "origination_uuid"); ok && u != "" {
			o.s.fireStillborn(u)
		}
		ol.failed, ol.cause, o.cause = true, "INVALID_PROFILE", "INVALID_PROFILE"
		return nil
	}
	ch, run := o.s.createOutboundLeg(ep, ol.vars, o.a, o.apiCID)
	ch.orig, ch.origLeg = o, ol
	ol.ch = ch
	return func() {
		if ch.hungup {
			return
		}
		if v, ok := lookup(ol.vars, "leg_timeout"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				ol.t = ch.after(time.Duration(n)*time.Second, func() { ch.hangup("ALLOTTED_TIMEOUT") })
			}
		}
		run()
	}
}

// fireStillborn sends the CHANNEL_DESTROY of a session that was allocated
// for uuid and destroyed before it was set up (an unknown SIP profile).
func (s *Server) fireStillborn(uuid string) {
	s.sessionSeq++
	if !s.anyListener("CHANNEL_DESTROY", uuid) {
		s.seq++
		return
	}
	g := &channel{s: s, uuid: uuid, name: "N/A", direction: "outbound", callUUID: uuid, stateName: "CS_NONE", callState: "DOWN"}
	ev := s.newEvent("CHANNEL_DESTROY", nil)
	ev.uuid = uuid
	g.appendChannelHeaders(ev)
	ev.add("variable_direction", "outbound")
	ev.add("variable_is_outbound", "true")
	ev.add("variable_uuid", uuid)
	ev.add("variable_call_uuid", uuid)
	ev.add("variable_session_id", strconv.Itoa(s.sessionSeq))
	s.fire(ev)
}

// sipProfile reports whether the node has SIP profile name.
func (s *Server) sipProfile(name string) bool {
	for _, p := range s.cfg.SIPProfiles {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	return false
}

// notifyOrig tells the pending origination about this leg (asynchronously,
// like the originate thread polling its legs).
func (ch *channel) notifyOrig(kind int) {
	o, ol := ch.orig, ch.origLeg
	if o == nil || o.done {
		return
	}
	switch kind {
	case legAnswered:
		o.s.post(func() { o.legAnswered(ol) })
	case legEarly:
		// the originate API returns on early media unless ignore_early_media
		// is set (the bridge application waits for an answer here)
		if v, _ := lookup(ol.vars, "ignore_early_media"); o.a == nil && !isTrue(v) {
			o.s.post(func() { o.legAnswered(ol) })
		}
	}
}

// legHungup is called from the leg's hangup.
func (o *origination) legHungup(ch *channel) {
	ol := ch.origLeg
	cause := ch.cause
	code := ""
	if ch.kind == kindSofia {
		code = ch.getVar("sip_term_status")
	}
	o.s.post(func() {
		if o.done || ol.failed {
			return
		}
		ol.failed, ol.cause, o.cause = true, cause, cause
		o.legCause = cause
		if code != "" && code != "200" {
			o.proto = "sip:" + code
		}
		o.checkGroup()
	})
}

// checkGroup moves on when every leg of the group has failed.
func (o *origination) checkGroup() {
	if o.done {
		return
	}
	for _, ol := range o.legs {
		if !ol.failed {
			return
		}
	}
	o.s.cancelTimer(o.gtimer)
	if o.group+1 < len(o.ds.groups) {
		o.startGroup(o.group + 1)
		return
	}
	o.finish(nil, o.cause)
}

func (o *origination) legAnswered(ol *origLeg) {
	if ol.ch == nil || ol.ch.hungup {
		return
	}
	if o.done {
		return
	}
	if o.confirm(ol) {
		return
	}
	o.done = true
	o.s.cancelTimer(o.gtimer)
	for _, x := range o.legs {
		if x == ol || x.failed {
			continue
		}
		o.s.cancelTimer(x.delay)
		x.failed, x.cause = true, "LOSE_RACE"
		if x.ch != nil {
			o.legCause = "LOSE_RACE"
			x.ch.orig = nil
			x.ch.setVar("group_dial_status", "loser")
			x.ch.hangup("LOSE_RACE")
		}
		o.cause = "LOSE_RACE"
	}
	o.finish(ol, "")
}

// confirm runs group_confirm_file on an answered leg when
// group_confirm_key is "exec" (a whisper): FreeSWITCH executes the
// application on the leg (CHANNEL_EXECUTE / _COMPLETE on it, seen on
// 1.10.12) while the other legs ring on, and the leg wins once it
// returns with the leg still up. It reports whether the leg must wait for
// that.
func (o *origination) confirm(ol *origLeg) bool {
	if ol.confirmed || o.a == nil {
		return false
	}
	key, _ := lookup(ol.vars, "group_confirm_key")
	file, _ := lookup(ol.vars, "group_confirm_file")
	if key != "exec" || file == "" {
		return false
	}
	app, arg, _ := strings.Cut(strings.Trim(file, "'"), " ")
	impl := o.s.appFor(app)
	if impl == nil {
		ol.ch.hangup("DESTINATION_OUT_OF_ORDER")
		return true
	}
	ch := ol.ch
	r := &appRun{ch: ch, app: app, arg: arg, uuid: newUUID(), loop: 1, impl: impl, slot: slotInline}
	r.then = func() {
		ol.confirmed = true
		if !ch.hungup && ch.orig != nil {
			o.legAnswered(ol)
		}
	}
	r.begin()
	return true
}

func (o *origination) groupTimeout() {
	if o.done {
		return
	}
	for _, x := range o.legs {
		if x.failed {
			continue
		}
		o.s.cancelTimer(x.delay)
		x.failed, x.cause = true, "NO_ANSWER"
		if x.ch != nil {
			o.legCause = "NO_ANSWER"
			x.ch.orig = nil
			x.ch.hangup("NO_ANSWER")
		}
	}
	o.cause = "NO_ANSWER"
	if o.contOnTime && o.group+1 < len(o.ds.groups) {
		o.startGroup(o.group + 1)
		return
	}
	o.finish(nil, "NO_ANSWER")
}

// cancel aborts the origination because the originating channel went away.
func (o *origination) cancel(cause string) {
	if o.done {
		return
	}
	o.s.cancelTimer(o.gtimer)
	for _, x := range o.legs {
		if x.failed {
			continue
		}
		o.s.cancelTimer(x.delay)
		x.failed, x.cause = true, cause
		if x.ch != nil {
			o.legCause = cause
			x.ch.orig = nil
			x.ch.hangup(cause)
		}
	}
	o.finish(nil, cause)
}

func (o *origination) finish(w *origLeg, cause string) {
	o.done = true
	o.s.cancelTimer(o.gtimer)
	for _, x := range o.all {
		o.s.cancelTimer(x.t)
		o.s.cancelTimer(x.delay)
		if x.ch != nil {
			x.ch.orig = nil
		}
	}
	o.onDone(w, cause)
}

// causesArray renders originate_causes for the legs tried.
func (o *origination) causesArray(winner *origLeg) []string {
	var out []string
	for _, x := range o.all {
		if x.ch == nil {
			continue
		}
		c := x.cause
		if x == winner {
			c = "NONE"
		}
		if c == "" {
			c = "NONE"
		}
		out = append(out, x.ch.uuid+";"+c)
	}
	return out
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

// dialStatus maps a failure cause to DIALSTATUS.
func dialStatus(cause string) string {
	switch cause {
	case "NO_ANSWER":
		return "NOANSWER"
	case "USER_BUSY":
		return "BUSY"
	case "CALL_REJECTED":
		return "DONTCALL"
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	case "INVALID_NUMBER_FORMAT", "INVALID_PROFILE", "INVALID_GATEWAY":
		return "INVALIDARGS"
	case "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "NO_ROUTE_TRANSIT_NET", "CHAN_NOT_IMPLEMENTED":
		return "CHANUNAVAIL"
	case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION":
		return "CONGESTION"
	}
	return cause
}

// continueOnFail reports whether a failed bridge leaves the caller up.
func continueOnFail(ch *channel, cause string) bool {
	switch cause {
	case "NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL":
		return true
	}
	v := strings.TrimSpace(ch.getVar("continue_on_fail"))
	if v == "" {
		return false
	}
	if isTrue(v) {
		return true
	}
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if strings.EqualFold(c, cause) {
			return true
		}
		if n, err := strconv.Atoi(c); err == nil && causeCodes[cause] == n {
			return true
		}
	}
	return false
}

// ---- creating B-legs ----

// createOutboundLeg creates the channel(s) for one dial target and starts
// the far end's behaviour. For loopback/ and sofia/<profile>/ targets it
// creates a pair (the -a outbound half is returned; the -b half runs the
// dialplan for the number), for sofia/gateway/, user/ and null/ a single
// far-end channel whose behaviour is the test phone network.
//
// It fires CHANNEL_OUTGOING and returns the channel and the function that
// starts its session (CHANNEL_CREATE, CHANNEL_ORIGINATE, the far end).
func (s *Server) createOutboundLeg(ep endpoint, vars []kv, a *channel, apiCID [2]string) (*channel, func()) {
	uuid, _ := lookup(vars, "origination_uuid")
	kind, name, source := kindSofia, "", "mod_sofia"
	pair := false
	switch ep.tech {
	case "loopback":
		kind, name, source, pair = kindLoopback, "loopback/"+ep.number+"-a", "mod_loopback", true
	case "sofia":
		// mod_sofia escapes the user part in the channel name (seen on
		// 1.10.12: sofia/switchyard_testnet/%2B15550100101@127.0.0.1:5090).
		name, pair = "sofia/"+ep.profile+"/"+strings.ReplaceAll(ep.number, "+", "%2B")+"@"+ep.host, true
	case "gateway":
		name = "sofia/gateway/" + ep.gateway + "/" + ep.number
	case "user":
		name = "sofia/internal/" + ep.number + "@" + ep.host
	case "null":
		kind, name, source = kindNull, "null/"+ep.number, "mod_loopback"
	}
	ch := s.newChannel(uuid, name, "outbound", kind)
	if a != nil {
		ch.codec = a.codec
		ch.callUUID = a.uuid
		v := a.view()
		ch.other, ch.otherType = &v, "originator"
	}
	// caller id presented to the far end
	num, _ := lookup(vars, "origination_caller_id_number")
	cname, _ := lookup(vars, "origination_caller_id_name")
	if a != nil {
		if num == "" {
			num = a.getVar("effective_caller_id_number")
		}
		if num == "" {
			num = a.profile.cidNumber
		}
		if cname == "" {
			cname = a.getVar("effective_caller_id_name")
		}
		if cname == "" {
			cname = a.profile.cidName
		}
	} else {
		if num == "" {
			num = apiCID[1]
		}
		if cname == "" {
			cname = apiCID[0]
		}
	}
	if num == "" {
		num = "0000000000"
	}
	p := &ch.profile
	p.cidNumber, p.cidName = num, cname
	p.origCidNumber, p.origCidName = num, cname
	p.ani = num
	p.dest = ep.number
	p.source = source
	if ep.context != "" {
		p.context = ep.context
	}
	switch {
	case kind == kindLoopback:
		p.calleeName, p.calleeNumber = "Outbound Call", p.context
	case ep.tech == "sofia":
		// a SIP self-call leg: media and the remote address come later
		p.calleeName, p.calleeNumber = "Outbound Call", ep.number
		if a == nil {
			p.dialplan = ""
		}
		host, _, _ := strings.Cut(ep.host, ":")
		ch.pendingAddr = host
		ch.codec = ""
	}
	if a != nil {
		p.username = a.profile.username
		if a.profile.networkAddr != "" {
			p.networkAddr = a.profile.networkAddr
		}
	}
	// variables
	ch.setVar("direction", "outbound")
	ch.setVar("is_outbound", "true")
	ch.setVar("uuid", ch.uuid)
	ch.setVar("call_uuid", ch.callUUID)
	ch.setVar("session_id", strconv.Itoa(s.sessionSeq))
	ch.setVar("read_codec", ch.codec)
	ch.setVar("read_rate", "8000")
	ch.setVar("write_codec", ch.codec)
	ch.setVar("write_rate", "8000")
	ch.setVar("channel_name", ch.name)
	if a != nil {
		ch.setVar("originator", a.uuid)
		ch.setVar("originator_codec", a.codec+"@8000h@20i")
	}
	for _, v := range vars {
		if v.name == "origination_uuid" && ch.uuid != v.value {
			continue
		}
		ch.setVar(v.name, v.value)
	}
	if a != nil {
		for _, e := range a.exports {
			ch.setVar(e.name, e.value)
		}
		ch.setVar("originating_leg_uuid", a.uuid)
	}
	ch.setVar("originate_early_media", "true")
	epName := "sofia"
	if ep.tech == "loopback" || ep.tech == "null" {
		epName = ep.tech
	}
	ch.setVar("originate_endpoint", epName)
	if kind == kindSofia {
		ch.setVar("sip_to_user", ep.number)
		ch.setVar("sip_req_user", ep.number)
		ch.setVar("sofia_profile_name", firstNonEmpty(ep.profile, "external"))
		if ep.gateway != "" {
			ch.setVar("sip_gateway_name", ep.gateway)
		}
		ch.setVar("sip_call_id", newUUID())
	}
	ch.stateName, ch.stateNum = "CS_INIT", stateNums["CS_INIT"]
	s.fireChan("CHANNEL_OUTGOING", ch, evOpts{vars: true})
	return ch, func() {
		if ch.hungup {
			return
		}
		s.fireChan("CHANNEL_CREATE", ch, evOpts{vars: true})
		s.fireChan("CHANNEL_ORIGINATE", ch, evOpts{vars: true})
		ch.setState("CS_ROUTING")
		ch.setState("CS_CONSUME_MEDIA")
		switch {
		case ep.tech == "sofia" && a != nil && !sipCodecOK(a, ep.profile, vars):
			// the originator's codec (L16 on a loopback leg) is not among
			// the SIP profile's codecs: the far end answers 488
			s.log.Debug("fsim: SIP leg refused (488): the caller's codec is not offered", "uuid", ch.uuid, "codec", a.codec)
			ch.after(0, func() {
				ch.remoteEnd = true
				ch.hangup("INCOMPATIBLE_DESTINATION")
			})
		case pair:
			s.createPairB(ch, ep, kind, a == nil, append(vars, exportsOf(a)...))
		default:
			ch.farEnd(ep)
		}
	}
}

// sipCodecOK reports whether a SIP leg through profile, bridged from a, can
// agree on a codec with the far end: the leg's absolute_codec_string /
// codec_string, else a's own codec. freeswitch-conf's switchyard_testnet
// profile takes PCMU, PCMA and L16 (what a loopback caller offers); other
// profiles are taken to offer PCMU/PCMA but not L16 (a loopback caller
// bridged to such a profile got 488 on the 1.10.12 node).
func sipCodecOK(a *channel, profile string, vars []kv) bool {
	if strings.EqualFold(profile, "switchyard_testnet") {
		return true
	}
	for _, n := range []string{"absolute_codec_string", "codec_string"} {
		if v, ok := lookup(vars, n); ok {
			u := upper(v)
			return strings.Contains(u, "PCMU") || strings.Contains(u, "PCMA")
		}
	}
	return a.codec != "L16"
}

// exportsOf is what a channel exports to the legs it originates.
func exportsOf(a *channel) []kv {
	if a == nil {
		return nil
	}
	return a.exports
}

func firstNonEmpty(v ...string) string {
	for _, x := range v {
		if x != "" {
			return x
		}
	}
	return ""
}

// createPairB creates the inbound half of a loopback (or SIP self-call) pair
// and runs the dialplan for the number on it.
//
// vars are the originate variables of the leg (dial string and exports):
// mod_loopback sets them all on the -b half too (__loopback_vars__), so it
// also runs execute_on_answer and carries e.g. switchyard_call.
func (s *Server) createPairB(a *channel, ep endpoint, kind int, fromAPI bool, vars []kv) *channel {
	var name string
	if kind == kindLoopback {
		name = "loopback/" + ep.number + "-b"
	} else {
		host, _, _ := strings.Cut(ep.host, ":")
		name = "sofia/" + ep.profile + "/" + a.profile.cidNumber + "@" + host
	}
	b := s.newChannel("", name, "inbound", kind)
	if a.codec != "" {
		b.codec = a.codec
	}
	b.pair, a.pair = a, b
	b.pairKind, a.pairKind = kind, kind
	a.pairIsA = true
	p := &b.profile
	p.cidNumber, p.cidName = a.profile.cidNumber, a.profile.cidName
	p.origCidNumber, p.origCidName = a.profile.cidNumber, a.profile.cidName
	p.ani = a.profile.cidNumber
	p.dest = ep.number
	p.context = a.profile.context
	if kind == kindLoopback {
		p.calleeName, p.calleeNumber = a.profile.calleeName, a.profile.calleeNumber
		p.source = "mod_loopback"
		p.dialplan = "xml"
		p.username, p.networkAddr = a.profile.username, a.profile.networkAddr
		if a.callUUID == a.uuid {
			a.profile.dialplan = "xml" // originated by the API (not a bridge)
		}
	} else {
		p.source = "mod_sofia"
		p.username = a.profile.cidNumber
		host, _, _ := strings.Cut(ep.host, ":")
		p.networkAddr = host
	}
	b.setVar("direction", "inbound")
	b.setVar("uuid", b.uuid)
	b.setVar("session_id", strconv.Itoa(s.sessionSeq))
	b.setVar("channel_name", b.name)
	b.setVar("read_codec", b.codec)
	b.setVar("read_rate", "8000")
	b.setVar("write_codec", b.codec)
	b.setVar("write_rate", "8000")
	if kind == kindLoopback {
		for _, v := range a.vars {
			if strings.HasPrefix(v.name, "origination_caller_id_") {
				b.setVar(v.name, v.value)
			}
		}
		for _, v := range vars {
			if v.name != "origination_uuid" {
				b.setVar(v.name, v.value)
			}
		}
		b.setVar("other_loopback_leg_uuid", a.uuid)
		b.setVar("loopback_leg", "B")
		a.setVar("other_loopback_leg_uuid", b.uuid)
		a.setVar("loopback_leg", "A")
	} else {
		host, _, _ := strings.Cut(ep.host, ":")
		from := a.profile.cidNumber
		b.setVar("sip_from_user", from)
		b.setVar("sip_from_uri", from+"@"+host)
		b.setVar("sip_from_host", host)
		b.setVar("sip_call_id", newUUID())
		b.setVar("sip_network_ip", host)
		b.setVar("sofia_profile_name", ep.profile)
		if a.profile.cidName != "" {
			b.setVar("sip_from_display", a.profile.cidName)
		}
		b.setVar("sip_req_user", ep.number)
		b.setVar("sip_req_uri", ep.number+"@"+ep.host)
		b.setVar("sip_req_host", host)
		b.setVar("sip_to_user", ep.number)
		b.setVar("sip_to_uri", ep.number+"@"+ep.host)
		b.setVar("sip_to_host", host)
		b.setVar("dtmf_type", "rfc2833")
	}
	b.setVar("call_uuid", b.uuid)
	b.stateName, b.stateNum = "CS_INIT", stateNums["CS_INIT"]
	s.fireChan("CHANNEL_CREATE", b, evOpts{vars: true})
	b.setState("CS_ROUTING")
	b.setCallState("RINGING")
	b.route(ep.number, fromAPI)
	return b
}

// farEnd drives a single far-end channel (a PSTN phone behind a gateway, a
// registered user, a null channel) by the test phone network.
func (ch *channel) farEnd(ep endpoint) {
	if ep.tech == "null" {
		if c, ok := strings.CutPrefix(ep.number, "cause-"); ok {
			cause, ok := parseCause(c)
			if !ok {
				cause = "NORMAL_TEMPORARY_FAILURE"
			}
			ch.after(0, func() { ch.hangup(cause) })
			return
		}
		if c := ch.getVar("null_hangup_cause"); c != "" {
			cause, ok := parseCause(c)
			if !ok {
				cause = "NORMAL_TEMPORARY_FAILURE"
			}
			ch.after(0, func() { ch.hangup(cause) })
			return
		}
		if strings.EqualFold(ch.getVar("null_enable_auto_answer"), "false") {
			ch.after(0, ch.markRinging)
			return
		}
		delay, _ := strconv.Atoi(ch.getVar("null_auto_answer_delay"))
		ch.after(time.Duration(delay)*time.Millisecond, ch.markAnswered)
		return
	}
	class, nn, ok := testNumber(ep.number)
	if !ok {
		class = netAnswer
	}
	switch class {
	case netAnswer:
		// rings 1 s, answers and plays the test network's answer tone
		ch.after(0, ch.markRinging)
		ch.after(time.Second, func() {
			ch.markAnswered()
			ch.remoteTone = true
			ch.s.mediaChanged(ch)
		})
	case netBusy:
		ch.after(0, func() { ch.remoteEnd = true; ch.hangup("USER_BUSY") })
	case netNoAnswer:
		ch.after(0, ch.markRinging)
	case netReject:
		ch.after(0, func() { ch.remoteEnd = true; ch.hangup("CALL_REJECTED") })
	case netTimed:
		ch.after(0, ch.markRinging)
		ch.after(time.Second, ch.markAnswered)
		ch.after(time.Second+time.Duration(nn)*time.Second, func() { ch.remoteEnd = true; ch.hangup("NORMAL_CLEARING") })
	}
}

// ---- the bridge application ----

type bridgeApp struct {
	o    *origination
	link *bridgeLink
}

func (a *bridgeApp) start(r *appRun) {
	ch := r.ch
	ds, err := parseDialString(r.arg)
	ch.setVar("originate_disposition", "failure")
	ch.setVar("DIALSTATUS", "INVALIDARGS")
	if err != nil {
		r.finish("")
		return
	}
	if !ch.answered && !ch.early {
		ch.markEarly() // ringback towards the unanswered caller
	}
	if ch.answered {
		ch.setCallState("RING_WAIT") // CF_ORIGINATOR set on an answered channel
		ch.startRingback()
	}
	a.o = ch.s.newOrigination(ch, ds, 0, func(w *origLeg, cause string) { ch.stopRingback(); a.result(r, w, cause) })
	a.o.start()
}

func (a *bridgeApp) result(r *appRun, w *origLeg, cause string) {
	ch := r.ch
	o := a.o
	if cs := o.causesArray(w); len(cs) > 0 {
		// a variable pushed once is a plain string; from the second value on
		// it is an array (ARRAY::a|:b, a JSON array in event-json)
		if prev := strings.TrimPrefix(ch.getVar("originate_causes"), "ARRAY::"); prev != "" {
			cs = append(strings.Split(prev, "|:"), cs...)
		}
		v := cs[0]
		if len(cs) > 1 {
			v = "ARRAY::" + strings.Join(cs, "|:")
		}
		ch.setVar("originate_causes", v)
	}
	if o.proto != "" {
		ch.setVar("last_bridge_proto_specific_hangup_cause", o.proto)
	}
	if ch.callState == "RING_WAIT" && !ch.hungup {
		ch.setCallState("ACTIVE") // CF_ORIGINATOR cleared
	}
	if w == nil {
		ch.setVar("originate_disposition", cause)
		ch.setVar("DIALSTATUS", dialStatus(cause))
		ch.setVar("originate_failed_cause", cause)
		if o.legCause != "" {
			// only a leg that had a channel hangs up with a cause
			ch.setVar("last_bridge_hangup_cause", o.legCause)
		}
		if ch.hungup || r.done {
			r.finish("")
			return
		}
		if continueOnFail(ch, cause) {
			r.finish("")
			return
		}
		ch.hangup(cause)
		return
	}
	b := w.ch
	if ch.hungup || r.done {
		b.hangup("NORMAL_CLEARING")
		return
	}
	var legs []string
	for _, x := range o.all {
		if x.ch != nil {
			legs = append(legs, x.ch.uuid+";"+x.ch.profile.cidName+";"+x.ch.profile.dest)
		}
	}
	// the caller now sees the answering leg as the callee
	if b.profile.calleeName != "" || b.profile.calleeNumber != "" {
		ch.profile.calleeName, ch.profile.calleeNumber = b.profile.calleeName, b.profile.calleeNumber
	} else {
		ch.profile.calleeName, ch.profile.calleeNumber = b.profile.dest, b.profile.dest
	}
	if !ch.answered {
		ch.markAnswered()
		if ch.hungup {
			return
		}
	}
	ch.setVar("originated_legs", "ARRAY::"+strings.Join(legs, "|:"))
	if o.cause != "" {
		ch.setVar("last_bridge_hangup_cause", o.cause)
	}
	ch.setVar("originate_disposition", "SUCCESS")
	ch.setVar("DIALSTATUS", "SUCCESS")
	a.link = ch.s.bridgeChannels(ch, b, r)
}

func (a *bridgeApp) stop(r *appRun, why stopReason) {
	if why == stopBreak {
		return
	}
	if a.o != nil && !a.o.done {
		a.o.cancel("ORIGINATOR_CANCEL")
	}
	if a.link != nil && !a.link.ended {
		a.link.end(r.ch)
	}
	if !r.done {
		r.finish("")
	}
}

func (a *bridgeApp) dtmf(*appRun, byte) {}

// ---- bridged pairs ----

type bridgeLink struct {
	a, b  *channel
	app   *appRun // the bridge application on a (nil for uuid_bridge)
	ended bool
}

// bridgeChannels connects a and b and fires CHANNEL_BRIDGE on a.
func (s *Server) bridgeChannels(a, b *channel, app *appRun) *bridgeLink {
	l := &bridgeLink{a: a, b: b, app: app}
	a.bridge, b.bridge = l, l
	now := s.simUS()
	a.bridgedUS, b.bridgedUS = now, now
	if a.other == nil || a.other.uuid != b.uuid {
		v := b.view()
		a.other, a.otherType = &v, "originatee"
	}
	if b.other == nil {
		v := a.view()
		b.other, b.otherType = &v, "originator"
	}
	a.setVar("bridge_channel", b.name)
	a.setVar("bridge_uuid", b.uuid)
	a.setVar("signal_bond", b.uuid)
	b.setVar("bridge_channel", a.name)
	b.setVar("bridge_uuid", a.uuid)
	b.setVar("signal_bond", a.uuid)
	o := origins["CHANNEL_BRIDGE"]
	s.fireChan("CHANNEL_BRIDGE", a, evOpts{vars: true, origin: &o, pre: []hdr{
		{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid},
	}})
	s.mediaChanged(a, b)
	if b.hungup {
		l.end(b)
	}
	return l
}

// end breaks the bridge because `by` hung up or left (transfer).
func (l *bridgeLink) end(by *channel) {
	if l.ended {
		return
	}
	l.ended = true
	a, b := l.a, l.b
	if a.bridge == l {
		a.bridge = nil
	}
	if b.bridge == l {
		b.bridge = nil
	}
	a.s.mediaChanged(a, b)
	// the originatee learns whom it was bridged to before it is hung up
	b.setVar("last_bridge_to", a.uuid)
	if by == a && l.app != nil && !b.hungup {
		// the originator leaves: the originatee is hung up
		b.hangup("NORMAL_CLEARING")
	}
	cause := "NORMAL_CLEARING"
	switch {
	case by == b && b.hungup:
		cause = b.cause
	case by == a && b.hungup:
		cause = b.cause
	}
	a.setVar("last_bridge_to", b.uuid)
	a.setVar("bridge_channel", b.name)
	a.setVar("bridge_uuid", b.uuid)
	a.setVar("signal_bond", b.uuid)
	a.setVar("last_sent_callee_id_name", "Outbound Call")
	a.setVar("last_sent_callee_id_number", b.profile.dest)
	a.setVar("last_bridge_hangup_cause", cause)
	a.setVar("bridge_hangup_cause", cause)
	b.setVar("last_bridge_to", a.uuid)
	b.setVar("bridge_hangup_cause", cause)
	s := a.s
	o := origins["CHANNEL_UNBRIDGE"]
	s.fireChan("CHANNEL_UNBRIDGE", a, evOpts{vars: true, origin: &o, pre: []hdr{
		{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid},
	}})
	if l.app != nil {
		if by == a {
			return // a's own hangup/transfer finishes the bridge application
		}
		if a.hungup {
			return
		}
		if a.varTrue("hangup_after_bridge") {
			// with the cause the other side ended with (switch_ivr_bridge.c:
			// switch_channel_hangup(originator, cause of the originatee))
			a.hangup(cause)
			return
		}
		l.app.finish("")
		return
	}
	// uuid_bridge: a leg with nothing left to run hangs up
	for _, x := range []*channel{a, b} {
		if x == by || x.hungup {
			continue
		}
		x := x
		s.post(func() {
			if !x.hungup && x.host == nil && x.running == nil && x.bridge == nil && len(x.queue) == 0 {
				x.hangup("NORMAL_CLEARING")
			}
		})
	}
}

// uuidBridge implements the uuid_bridge API on two existing channels.
func (s *Server) uuidBridge(a, b *channel) {
	va, vb := a.view(), b.view()
	a.other, a.otherType = &vb, "originatee"
	b.other, b.otherType = &va, "originator"
	now := strconv.FormatInt(s.simUS()/1e6, 10)
	a.profile.transferSource = now + ":" + newUUID() + ":uuid_br:" + b.uuid
	b.profile.transferSource = now + ":" + newUUID() + ":uuid_br:" + a.uuid
	for _, x := range []*channel{a, b} {
		if l := x.bridge; l != nil {
			l.end(x)
		}
		if r := x.running; r != nil {
			r.stop(stopTransfer)
		}
		if h := x.host; h != nil && h.app == "park" {
			x.host = nil
			if x.parked {
				x.parked = false
				s.fireChan("CHANNEL_UNPARK", x, evOpts{vars: true})
			}
			h.done = true
			h.complete(x.getVar("current_application_response"))
		}
	}
	s.afterReal(s.tick, func() {
		if a.hungup || b.hungup {
			return
		}
		o1 := originUUIDBridge
		o2 := origin{o1.file, o1.fn, "1243"}
		for i, x := range []*channel{a, b} {
			peer := b
			o := &o1
			if i == 1 {
				peer, o = a, &o2
			}
			x.unsetVar("current_application_response")
			x.setVar("current_application", "uuid_bridge")
			x.setVar("current_application_data", peer.uuid)
			x.setState("CS_SOFT_EXECUTE")
			x.s.fireChan("CHANNEL_EXECUTE", x, evOpts{vars: true, origin: o, post: []hdr{
				{"Application", "uuid_bridge"}, {"Application-Data", peer.uuid}, {"Application-UUID", newUUID()},
			}})
		}
		if !a.answered {
			a.markAnswered()
		}
		if !b.answered {
			b.markAnswered()
		}
		s.bridgeChannels(a, b, nil)
	})
}

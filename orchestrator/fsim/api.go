package fsim

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// execAPI runs an API command line and calls done with its output (once).
// Most APIs answer at once; originate answers when its leg answers or fails.
// Caller holds s.mu; done runs under s.mu.
func (s *Server) execAPI(line string, c *conn, done func(string)) {
	line = strings.TrimSpace(line)
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(name) {
	case "originate":
		s.apiOriginate(arg, done)
		return
	}
	done(s.apiSync(strings.ToLower(name), name, arg))
}

func (s *Server) apiSync(lname, name, arg string) string {
	args := splitArgs(arg)
	get := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	chanArg := func() *channel { return s.chans[get(0)] }
	switch lname {
	case "status":
		return s.statusText()
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit (fsim emulator)\n"
	case "hostname":
		return s.cfg.Hostname
	case "create_uuid":
		return newUUID()
	case "show":
		return s.apiShow(args)
	case "uuid_exists":
		if ch := chanArg(); ch != nil {
			return "true"
		}
		return "false"
	case "uuid_kill":
		ch := chanArg()
		if ch == nil || ch.hungup {
			return "-ERR No such channel!\n"
		}
		cause, ok := parseCause(get(1))
		if !ok {
			cause = "NORMAL_CLEARING"
		}
		ch.killed = true
		ch.hangup(cause)
		return "+OK\n"
	case "uuid_getvar":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		if get(1) == "" {
			return "-USAGE: <uuid> <var>\n"
		}
		v := ch.getVar(get(1))
		if v == "" {
			return "_undef_"
		}
		return v
	case "uuid_setvar":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		if get(1) == "" {
			return "-USAGE: <uuid> <var> [value]\n"
		}
		_, rest, _ := strings.Cut(arg, " ")
		_, value, _ := strings.Cut(strings.TrimSpace(rest), " ")
		ch.setVar(get(1), strings.TrimSpace(value))
		return "+OK\n"
	case "uuid_setvar_multi":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		_, rest, _ := strings.Cut(arg, " ")
		for _, p := range strings.Split(rest, ";") {
			k, v, _ := strings.Cut(p, "=")
			if k = strings.TrimSpace(k); k != "" {
				ch.setVar(k, v)
			}
		}
		return "+OK\n"
	case "uuid_answer":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		ch.markAnswered()
		return "+OK\n"
	case "uuid_pre_answer":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		ch.markEarly()
		return "+OK\n"
	case "uuid_park":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		s.post(func() { ch.transfer("park") })
		return "+OK\n"
	case "uuid_hold":
		if chanArg() == nil {
			return "-ERR No such channel!\n"
		}
		return "+OK\n"
	case "uuid_bridge":
		a, b := s.chans[get(0)], s.chans[get(1)]
		if a == nil || b == nil || a.hungup || b.hungup || a == b {
			return "-ERR Invalid uuid\n"
		}
		s.uuidBridge(a, b)
		return "+OK " + b.uuid + "\n"
	case "uuid_transfer":
		ch := chanArg()
		if ch == nil || ch.hungup {
			return "-ERR No such channel!\n"
		}
		rest := args[1:]
		target := []*channel{ch}
		if len(rest) > 0 && (rest[0] == "-bleg" || rest[0] == "-both") {
			var peer *channel
			if ch.bridge != nil {
				peer = ch.bridge.a
				if peer == ch {
					peer = ch.bridge.b
				}
			}
			if rest[0] == "-bleg" {
				target = nil
			}
			if peer != nil {
				target = append(target, peer)
			}
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
		}
		spec := strings.Join(quoteEach(rest), " ")
		for _, t := range target {
			t := t
			s.post(func() { t.transfer(spec) })
		}
		return "+OK\n"
	case "uuid_broadcast":
		return s.apiBroadcast(args)
	case "uuid_break":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		flags := strings.ToLower(get(1))
		all := strings.Contains(flags, "all")
		var peer *channel
		if strings.Contains(flags, "both") && ch.bridge != nil {
			peer = ch.bridge.a
			if peer == ch {
				peer = ch.bridge.b
			}
		}
		ch.breakMedia(all)
		if peer != nil && !peer.hungup {
			peer.breakMedia(all)
		}
		return "+OK\n"
	case "uuid_recv_dtmf":
		ch := chanArg()
		if ch == nil {
			return "-ERR no such session\n"
		}
		digits := get(1)
		ch.queueDigits(digits, "APP", 2000, 0, 20*time.Millisecond)
		return "+OK " + ch.uuid + " received DTMF " + digits + ".\n"
	case "uuid_send_dtmf":
		ch := chanArg()
		if ch == nil {
			return "-ERR no such session\n"
		}
		digits := get(1)
		// the digits travel to whoever is on the other end of this leg
		var to *channel
		switch {
		case ch.bridge != nil && ch.bridge.a == ch:
			to = ch.bridge.b
		case ch.bridge != nil:
			to = ch.bridge.a
		case ch.pair != nil:
			to = ch.pair
		}
		if to != nil && !to.hungup {
			to.queueDigits(digits, "RTP", 2080, 260*time.Millisecond, 520*time.Millisecond)
		}
		return "+OK " + ch.uuid + " sent DTMF " + digits + ".\n"
	case "uuid_record":
		ch := chanArg()
		if ch == nil {
			return "-ERR Cannot locate session!\n"
		}
		path := get(2)
		switch strings.ToLower(get(1)) {
		case "start":
			spec := path
			if lim := get(3); lim != "" {
				spec += " +" + strings.TrimPrefix(lim, "+")
			}
			ch.startSessionRecording(spec)
		case "stop":
			ch.stopSessionRecording(path)
		case "mask", "unmask":
		default:
			return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
		}
		return "+OK Success\n"
	case "uuid_dump":
		ch := chanArg()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		ev := s.chanEvent("CHANNEL_DATA", ch, evOpts{vars: true})
		if strings.EqualFold(get(1), "json") {
			b := ev.frameJSON()
			_, body, _ := bytes.Cut(b, []byte("\n\n"))
			return string(body)
		}
		var b strings.Builder
		for _, h := range ev.hdrs {
			b.WriteString(h.name + ": " + h.value + "\n")
		}
		return b.String()
	case "hupall":
		cause, ok := parseCause(get(0))
		if !ok {
			cause = "MANAGER_REQUEST"
		}
		varName, varVal := get(1), get(2)
		for _, ch := range s.sortedChannels() {
			if varName != "" && ch.getVar(varName) != varVal {
				continue
			}
			ch.hangup(cause)
		}
		return "+OK hangup all channels with cause " + cause + "\n"
	case "fsctl":
		return "+OK\n"
	case "reloadxml":
		return "+OK [Success]\n"
	case "echo":
		return arg
	case "global_setvar":
		return s.setGlobal(arg)
	case "sched_del":
		return fmt.Sprintf("+OK Deleted: %d\n", s.schedDel(arg))
	case "global_getvar":
		if v, ok := s.globals[get(0)]; ok {
			return v
		}
		switch get(0) {
		case "hostname":
			return s.cfg.Hostname
		case "recordings_dir":
			return s.cfg.RecordingsDir
		case "core_uuid":
			// As FreeSWITCH: a client tells a restarted node by it at once.
			return s.coreUUID
		}
		return ""
	case "sofia":
		if strings.HasPrefix(strings.ToLower(arg), "status") {
			return "                     Name\t   Type\t                                      Data\tState\n=================================================================================================\n=================================================================================================\n0 profiles 0 aliases\n"
		}
		return "+OK\n"
	}
	return "-ERR " + name + " Command not found!\n"
}

func quoteEach(v []string) []string {
	out := make([]string, len(v))
	for i, x := range v {
		if strings.ContainsAny(x, " ") {
			x = "'" + x + "'"
		}
		out[i] = x
	}
	return out
}

// apiBroadcast is `uuid_broadcast <uuid> <path> [aleg|bleg|both]`; the path
// may be `app::args`.
func (s *Server) apiBroadcast(args []string) string {
	if len(args) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
	}
	ch := s.chans[args[0]]
	if ch == nil || ch.hungup {
		return "-ERR Cannot locate session!\n"
	}
	path := args[1]
	leg := "aleg"
	if len(args) > 2 {
		leg = strings.ToLower(args[2])
	}
	app, appArg := "playback", path
	if a, b, ok := strings.Cut(path, "::"); ok {
		app, appArg = a, b
	}
	var targets []*channel
	var peer *channel
	if l := ch.bridge; l != nil {
		peer = l.b
		if peer == ch {
			peer = l.a
		}
	}
	switch leg {
	case "bleg":
		if peer != nil {
			targets = append(targets, peer)
		}
	case "both":
		targets = append(targets, ch)
		if peer != nil {
			targets = append(targets, peer)
		}
	default:
		targets = append(targets, ch)
	}
	for _, t := range targets {
		t.privateExec(app, appArg)
	}
	return "+OK Message sent\n"
}

func (s *Server) statusText() string {
	up := s.simNow().Sub(s.simStart)
	d := up / (24 * time.Hour)
	h := (up % (24 * time.Hour)) / time.Hour
	m := (up % time.Hour) / time.Minute
	sec := (up % time.Minute) / time.Second
	ms := (up % time.Second) / time.Millisecond
	us := (up % time.Millisecond) / time.Microsecond
	y := d / 365
	d %= 365
	n := len(s.chans)
	var b strings.Builder
	fmt.Fprintf(&b, "UP %d years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n", y, d, h, m, sec, ms, us)
	b.WriteString("FreeSWITCH (Version 1.10.12-release  64bit) is ready\n")
	fmt.Fprintf(&b, "%d session(s) since startup\n", s.sessionSeq)
	fmt.Fprintf(&b, "%d session(s) - peak %d, last 5min %d \n", n, s.peak, s.peak)
	b.WriteString("0 session(s) per Sec out of max 100, peak 0, last 5min 0 \n")
	fmt.Fprintf(&b, "%d session(s) max\n", s.cfg.MaxSessions)
	b.WriteString("min idle cpu 0.00/99.00\n")
	b.WriteString("Current Stack Size/Max 240K/8192K\n")
	return b.String()
}

var showColumns = []string{"uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest", "initial_dialplan", "initial_context"}

// apiShow implements `show channels|calls [count] [as json] [like <x>]`.
func (s *Server) apiShow(args []string) string {
	if len(args) == 0 {
		return "-USAGE: show channels|calls [count|as json|like <match>]\n"
	}
	what := strings.ToLower(args[0])
	rest := args[1:]
	count, asJSON, like := false, false, ""
	for i := 0; i < len(rest); i++ {
		switch strings.ToLower(rest[i]) {
		case "count":
			count = true
		case "as":
			if i+1 < len(rest) && strings.EqualFold(rest[i+1], "json") {
				asJSON = true
				i++
			}
		case "like":
			if i+1 < len(rest) {
				like = rest[i+1]
				i++
			}
		}
	}
	var rows []*channel
	for _, ch := range s.sortedChannels() {
		switch what {
		case "channels":
		case "calls", "bridged_calls", "detailed_calls":
			if ch.callUUID != ch.uuid {
				continue
			}
			if what == "bridged_calls" && ch.bridge == nil {
				continue
			}
		default:
			return "-USAGE: show channels|calls [count|as json|like <match>]\n"
		}
		if like != "" && !strings.Contains(ch.uuid+ch.name+ch.profile.cidNumber+ch.profile.dest, like) {
			continue
		}
		rows = append(rows, ch)
	}
	if count {
		if asJSON {
			return `{"row_count": ` + strconv.Itoa(len(rows)) + "}\n"
		}
		return "\n" + strconv.Itoa(len(rows)) + " total.\n"
	}
	if asJSON {
		if len(rows) == 0 {
			return "{\"row_count\": 0}\n"
		}
		var b bytes.Buffer
		b.WriteString(`{"row_count":` + strconv.Itoa(len(rows)) + `,"rows":[`)
		for i, ch := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, col := range showColumns {
				if j > 0 {
					b.WriteByte(',')
				}
				jsonString(&b, col)
				b.WriteByte(':')
				jsonString(&b, showValue(s, ch, col))
			}
			b.WriteByte('}')
		}
		b.WriteString("]}\n")
		return b.String()
	}
	if len(rows) == 0 {
		return "\n0 total.\n"
	}
	var b strings.Builder
	b.WriteString(strings.Join(showColumns, ","))
	b.WriteByte('\n')
	for _, ch := range rows {
		vals := make([]string, len(showColumns))
		for j, col := range showColumns {
			vals[j] = showValue(s, ch, col)
		}
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	b.WriteString("\n" + strconv.Itoa(len(rows)) + " total.\n")
	return b.String()
}

func showValue(s *Server, ch *channel, col string) string {
	p := &ch.profile
	switch col {
	case "uuid":
		return ch.uuid
	case "direction":
		return ch.direction
	case "created":
		return simStamp(ch.createdUS)
	case "created_epoch":
		return strconv.FormatInt(ch.createdUS/1e6, 10)
	case "name":
		return ch.name
	case "state":
		return ch.stateName
	case "cid_name", "initial_cid_name":
		return p.cidName
	case "cid_num", "initial_cid_num":
		return p.cidNumber
	case "ip_addr", "initial_ip_addr":
		return p.networkAddr
	case "dest", "initial_dest":
		return p.dest
	case "application":
		if ch.running != nil {
			return ch.running.app
		}
		if ch.host != nil {
			return ch.host.app
		}
	case "application_data":
		if ch.running != nil {
			return ch.running.arg
		}
		if ch.host != nil {
			return ch.host.arg
		}
	case "dialplan", "initial_dialplan":
		return p.dialplan
	case "context", "initial_context":
		return p.context
	case "read_codec", "write_codec":
		return ch.codec
	case "read_rate", "write_rate":
		return "8000"
	case "read_bit_rate", "write_bit_rate":
		return ch.codecBitRate()
	case "hostname":
		return s.cfg.Hostname
	case "callstate":
		return ch.callState
	case "call_uuid":
		if ch.callUUID == ch.uuid && ch.direction == "outbound" {
			return ch.uuid
		}
		if ch.callUUID != ch.uuid {
			return ch.callUUID
		}
	}
	return ""
}

// ---- originate ----

// apiOriginate: originate <dial string> <exten>|&app(args) [dialplan] [context] [cid_name] [cid_num] [timeout]
func (s *Server) apiOriginate(arg string, done func(string)) {
	args := splitArgs(arg)
	if len(args) < 2 {
		done("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n")
		return
	}
	ds, err := parseDialString(args[0])
	if err != nil {
		done("-ERR INVALID_NUMBER_FORMAT\n")
		return
	}
	target := args[1]
	opt := func(i int) string {
		if i < len(args) && args[i] != "undef" {
			return args[i]
		}
		return ""
	}
	dpContext := opt(3)
	var cid [2]string
	cid[0], cid[1] = opt(4), opt(5)
	timeout := time.Duration(0)
	if t, err := strconv.Atoi(opt(6)); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	s.newOrigination(nil, ds, timeout, func(w *origLeg, cause string) {
		if w == nil {
			done("-ERR " + cause + "\n")
			return
		}
		ch := w.ch
		done("+OK " + ch.uuid + "\n")
		if ch.hungup {
			return
		}
		ch.hitDialplan = true
		ch.flipCID()
		s.runOriginateTarget(ch, target, dpContext)
	}).start()
}

// flipCID: once an originated leg runs its application, FreeSWITCH shows
// the far end as its caller id and the originator as the callee.
func (ch *channel) flipCID() {
	p := &ch.profile
	if ch.hasVar("channel_cid_flipped") {
		return
	}
	if p.cidName != "" {
		ch.setVar("pre_transfer_caller_id_name", p.cidName)
	}
	ch.setVar("pre_transfer_caller_id_number", p.cidNumber)
	oldName, oldNum := p.cidName, p.cidNumber
	if ch.kind == kindLoopback {
		p.cidName, p.cidNumber = "Outbound Call", p.context
	} else {
		p.cidName, p.cidNumber = p.dest, p.dest
	}
	p.calleeName, p.calleeNumber = oldName, oldNum
	ch.setVar("channel_cid_flipped", "yes")
}

// runOriginateTarget runs `&app(args)` or routes an extension on an
// answered originate leg.
func (s *Server) runOriginateTarget(ch *channel, target, context string) {
	if rest, ok := strings.CutPrefix(target, "&"); ok {
		app, appArg := rest, ""
		if i := strings.IndexByte(rest, '('); i >= 0 {
			app = rest[:i]
			appArg = rest[i+1:]
			if j := strings.IndexByte(appArg, ')'); j >= 0 {
				appArg = appArg[:j] // cut at the first ')', as FreeSWITCH does
			}
		}
		switch app {
		case "park", "socket":
			ch.runHost(app, appArg)
		default:
			ch.runDialplan([]step{{app, appArg}})
		}
		return
	}
	if context != "" {
		ch.profile.context = context
	}
	ch.profile.dest = target
	ch.route(target, true)
}

// ---- HEARTBEAT ----

func (s *Server) scheduleHeartbeat() {
	s.afterSim(s.cfg.HeartbeatInterval, func() {
		s.heartbeat()
		s.scheduleHeartbeat()
	})
}

func (s *Server) heartbeat() {
	if !s.anyListener("HEARTBEAT", "") && !s.anyListener("RE_SCHEDULE", "") {
		s.seq += 2
		return
	}
	up := s.simNow().Sub(s.simStart)
	ev := s.newEvent("HEARTBEAT", nil)
	st := strings.SplitN(s.statusText(), "\n", 2)[0]
	ev.add("Event-Info", "System Ready")
	ev.add("Up-Time", strings.TrimPrefix(st, "UP "))
	ev.add("FreeSWITCH-Version", "1.10.12-release~64bit")
	ev.add("Uptime-msec", strconv.FormatInt(up.Milliseconds(), 10))
	ev.add("Session-Count", strconv.Itoa(len(s.chans)))
	ev.add("Max-Sessions", strconv.Itoa(s.cfg.MaxSessions))
	ev.add("Session-Per-Sec", "100")
	ev.add("Session-Per-Sec-Last", "0")
	ev.add("Session-Per-Sec-Max", "0")
	ev.add("Session-Per-Sec-FiveMin", "0")
	ev.add("Session-Since-Startup", strconv.Itoa(s.sessionSeq))
	ev.add("Session-Peak-Max", strconv.Itoa(s.peak))
	ev.add("Session-Peak-FiveMin", strconv.Itoa(s.peak))
	ev.add("Idle-CPU", "99.000000")
	s.fire(ev)
	rs := s.newEvent("RE_SCHEDULE", nil)
	rs.add("Task-ID", "1")
	rs.add("Task-Desc", "heartbeat")
	rs.add("Task-Group", "core")
	rs.add("Task-Runtime", strconv.FormatInt(s.simNow().Add(s.cfg.HeartbeatInterval).Unix(), 10))
	s.fire(rs)
}

// setGlobal is global_setvar "name=value[=expected]": with expected, a
// compare-and-set (switch_core_set_var_conditional): the variable is set
// only if it now reads expected; an empty value unsets it. Always +OK,
// as FreeSWITCH answers whether or not it set anything.
func (s *Server) setGlobal(arg string) string {
	f := strings.SplitN(arg, "=", 3)
	if len(f) < 1 || f[0] == "" {
		return "-USAGE: <var>=<value> [=<value2>]\n"
	}
	name, value := f[0], ""
	if len(f) > 1 {
		value = f[1]
	}
	if len(f) == 3 && f[2] != "" { // an empty third field counts as none
		if cur, ok := s.globals[name]; !ok || cur != f[2] {
			return "+OK"
		}
	}
	if value == "" {
		delete(s.globals, name)
	} else {
		s.globals[name] = value
	}
	return "+OK"
}

// schedDel is sched_del <group>: the channel's scheduled transfers
// (sched_transfer, whose group is the channel's UUID) are cancelled; it
// returns how many.
func (s *Server) schedDel(group string) int {
	ch := s.chans[strings.TrimSpace(group)]
	if ch == nil {
		return 0
	}
	n := 0
	for _, t := range ch.sched {
		if t.idx >= 0 && t.idx < len(s.timers) && s.timers[t.idx] == t {
			s.cancelTimer(t)
			n++
		}
	}
	ch.sched = nil
	return n
}

package fsim

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type stopReason int

const (
	stopHangup stopReason = iota
	stopBreak
	stopTransfer
)

const (
	slotMain = iota
	slotSide
	slotHost
	slotInline // run inline by the core (execute_on_answer), not a queued step
)

// appRun is one execution of an application on a channel, from
// CHANNEL_EXECUTE to CHANNEL_EXECUTE_COMPLETE.
type appRun struct {
	ch        *channel
	app, arg  string
	uuid      string
	uuidName  string
	msg       *execMsg
	loop      int
	impl      appImpl
	slot      int
	done      bool
	startedUS int64
	// then runs when an inline run ends (a group_confirm exec).
	then func()
}

// appImpl is an application's behaviour. start may finish the run at once;
// stop must finish it (synchronously) when the channel hangs up, is
// transferred or gets uuid_break.
type appImpl interface {
	start(r *appRun)
	stop(r *appRun, why stopReason)
	dtmf(r *appRun, d byte)
}

// instant is an application that completes immediately.
type instant struct{ fn func(r *appRun) string }

func (a instant) start(r *appRun) {
	resp := ""
	if a.fn != nil {
		resp = a.fn(r)
	}
	if !r.done {
		r.finish(resp)
	}
}
func (instant) stop(r *appRun, _ stopReason) { r.finish("") }
func (instant) dtmf(*appRun, byte)           {}

// startApp runs a queued message on the main slot.
func (ch *channel) startApp(m *execMsg) {
	impl := ch.s.appFor(m.app)
	if impl == nil {
		ch.s.log.Warn("fsim: invalid application", "app", m.app, "uuid", ch.uuid)
		m.done()
		if m.dialplan {
			ch.hangup("DESTINATION_OUT_OF_ORDER")
		} else {
			ch.scheduleService()
		}
		return
	}
	r := &appRun{ch: ch, app: m.app, arg: m.arg, uuid: m.uuid, uuidName: m.uuidName, msg: m, loop: 1, impl: impl, slot: slotMain}
	ch.running = r
	r.begin()
}

// runSide runs an application beside the main one (uuid_broadcast).
func (ch *channel) runSide(app, arg string) {
	impl := ch.s.appFor(app)
	if impl == nil || ch.hungup {
		return
	}
	if ch.side != nil {
		ch.side.stop(stopBreak)
	}
	r := &appRun{ch: ch, app: app, arg: arg, uuid: newUUID(), msg: &execMsg{app: app, arg: arg}, loop: 1, impl: impl, slot: slotSide}
	ch.side = r
	r.begin()
}

// begin fires CHANNEL_EXECUTE and starts the application.
func (r *appRun) begin() {
	ch := r.ch
	if r.uuid == "" {
		r.uuid = newUUID()
	}
	r.startedUS = ch.s.simUS()
	ch.unsetVar("current_application_response")
	if r.msg != nil && r.msg.sendmsg {
		ch.setVar("current_loop", strconv.Itoa(r.loop))
		total := r.msg.loops
		if total == 0 {
			total = 1
		}
		ch.setVar("total_loops", strconv.Itoa(total))
	}
	if r.arg != "" {
		ch.setVar("current_application_data", r.arg)
	} else {
		ch.unsetVar("current_application_data")
	}
	ch.setVar("current_application", r.app)
	ch.lastApp, ch.lastArg = r.app, r.arg
	if r.slot != slotInline && ch.stateName != "CS_EXECUTE" && ch.stateName != "CS_HANGUP" && ch.stateName != "CS_REPORTING" {
		ch.setState("CS_EXECUTE")
	}
	ch.hitDialplan = true
	ch.s.fireChan("CHANNEL_EXECUTE", ch, evOpts{vars: true, post: r.appHeaders("")})
	if ch.call != nil && r.slot != slotHost && r.slot != slotInline {
		ch.call.appStarted(ch, r)
	}
	r.impl.start(r)
	if ch.call != nil && r.slot != slotHost && r.slot != slotInline && !ch.hungup {
		ch.call.appRunning(ch, r)
	}
}

func (r *appRun) appHeaders(resp string) []hdr {
	h := make([]hdr, 0, 5)
	h = append(h, hdr{"Application", r.app})
	if r.arg != "" {
		h = append(h, hdr{"Application-Data", r.arg})
	}
	if resp != "" {
		h = append(h, hdr{"Application-Response", resp})
	}
	h = append(h, hdr{"Application-UUID", r.uuid})
	if r.uuidName != "" {
		h = append(h, hdr{"Application-UUID-Name", r.uuidName})
	}
	return h
}

// complete fires CHANNEL_EXECUTE_COMPLETE with resp (or _none_).
func (r *appRun) complete(resp string) {
	if resp == "" {
		resp = "_none_"
	}
	r.ch.s.fireChan("CHANNEL_EXECUTE_COMPLETE", r.ch, evOpts{vars: true, post: r.appHeaders(resp)})
}

// finish ends the run: it records the application response, fires
// EXECUTE_COMPLETE, repeats the application for `loops`, and lets the
// channel move on to its next queued step.
func (r *appRun) finish(resp string) {
	if r.done {
		return
	}
	r.done = true
	ch := r.ch
	if resp != "" {
		ch.setVar("current_application_response", resp)
	}
	r.complete(ch.getVar("current_application_response"))
	switch r.slot {
	case slotInline:
		if r.then != nil {
			r.then()
		}
		return
	case slotSide:
		if ch.side == r {
			ch.side = nil
		}
		return
	case slotHost:
		if ch.host == r {
			ch.host = nil
		}
		if !ch.hungup {
			ch.endOnIdle = true
			ch.scheduleService()
		}
		return
	}
	if ch.running == r {
		ch.running = nil
	}
	if ch.hungup {
		r.msg.done()
		return
	}
	// loops: repeat unless an iteration took less than 0.5 s
	if m := r.msg; m != nil && (m.loops < 0 || r.loop < m.loops) {
		if time.Duration(ch.s.simUS()-r.startedUS)*time.Microsecond >= 500*time.Millisecond {
			n := &appRun{ch: ch, app: r.app, arg: r.arg, uuid: r.uuid, uuidName: r.uuidName, msg: m, loop: r.loop + 1, impl: ch.s.appFor(r.app), slot: slotMain}
			ch.running = n
			n.begin()
			return
		}
	}
	r.msg.done()
	if len(ch.queue) > 0 {
		// The next queued step runs at once: FreeSWITCH's
		// switch_ivr_parse_all_events takes a channel's private events
		// one after the other (the media tick is for a step that
		// reaches an idle channel: package doc).
		ch.s.post(func() { ch.service() })
		return
	}
	ch.scheduleService()
}

// stop interrupts the run. On hangup and transfer every application ends;
// uuid_break (stopBreak) only cuts media, and the application decides.
func (r *appRun) stop(why stopReason) {
	if r.done {
		return
	}
	r.impl.stop(r, why)
	if !r.done && why != stopBreak {
		r.finish("")
	}
}

// appFor returns the implementation of an application, nil if unknown.
func (s *Server) appFor(name string) appImpl {
	switch name {
	case "answer":
		return instant{func(r *appRun) string { r.ch.markAnswered(); return "" }}
	case "pre_answer":
		return instant{func(r *appRun) string { r.ch.markEarly(); return "" }}
	case "ring_ready":
		return instant{func(r *appRun) string { r.ch.markRinging(); return "" }}
	case "set":
		return instant{func(r *appRun) string { appSet(r.ch, r.arg); return "" }}
	case "export":
		return instant{func(r *appRun) string { appExport(r.ch, r.arg); return "" }}
	case "multiset":
		return instant{func(r *appRun) string { appMultiset(r.ch, r.arg); return "" }}
	case "unset":
		return instant{func(r *appRun) string { r.ch.unsetVar(strings.TrimSpace(r.arg)); return "" }}
	case "info", "log", "event", "verbose_events", "privacy", "set_user", "ring_ready_value", "sched_cancel", "flush_dtmf", "send_display":
		return instant{}
	case "hangup":
		return instant{func(r *appRun) string {
			c, ok := parseCause(r.arg)
			if !ok {
				c = "NORMAL_CLEARING"
			}
			r.ch.hangup(c)
			return ""
		}}
	case "respond":
		return instant{func(r *appRun) string {
			code, _ := strconv.Atoi(strings.Fields(r.arg + " 0")[0])
			switch {
			case r.ch.kind != kindSofia:
				// a SIP response means nothing to a loopback/null channel
			case code >= 300:
				r.ch.hangup(causeForSIP(code))
			case code == 183:
				r.ch.markEarly()
			case code == 180:
				r.ch.markRinging()
			case code == 200:
				r.ch.markAnswered()
			}
			return ""
		}}
	case "sched_hangup":
		return instant{func(r *appRun) string { appSchedHangup(r.ch, r.arg); return "" }}
	case "sched_transfer":
		return instant{func(r *appRun) string { appSchedTransfer(r.ch, r.arg); return "" }}
	case "sleep":
		return &sleepApp{}
	case "playback", "endless_playback":
		return &playbackApp{endless: name == "endless_playback"}
	case "speak":
		return &speakApp{}
	case "play_and_get_digits":
		return &collectApp{pagd: true}
	case "read":
		return &collectApp{}
	case "record":
		return &recordApp{}
	case "record_session":
		return instant{func(r *appRun) string { r.ch.startSessionRecording(r.arg); return "" }}
	case "stop_record_session":
		return instant{func(r *appRun) string { r.ch.stopSessionRecording(r.arg); return "" }}
	case "bridge":
		return &bridgeApp{}
	case "park":
		return &parkApp{}
	case "echo", "delay_echo":
		return &waitApp{}
	case "transfer":
		return instant{func(r *appRun) string {
			if strings.TrimSpace(r.arg) != "" {
				// The channel goes back to routing: run from the
				// dialplan, it does not end with the dialplan's last step.
				r.ch.endOnIdle = false
			}
			r.ch.s.post(func() { r.ch.transfer(r.arg) })
			return ""
		}}
	case "socket":
		return socketApp{}
	}
	return nil
}

func causeForSIP(code int) string {
	switch code {
	case 486, 600:
		return "USER_BUSY"
	case 480:
		return "NO_USER_RESPONSE"
	case 408, 504:
		return "RECOVERY_ON_TIMER_EXPIRE"
	case 404:
		return "UNALLOCATED_NUMBER"
	case 401, 402, 403, 407, 603, 608:
		return "CALL_REJECTED"
	case 607:
		return "UNWANTED"
	case 485, 604:
		return "NO_ROUTE_DESTINATION"
	case 410:
		return "NUMBER_CHANGED"
	case 484:
		return "INVALID_NUMBER_FORMAT"
	case 488, 606:
		return "INCOMPATIBLE_DESTINATION"
	case 400, 481, 500, 503:
		return "NORMAL_TEMPORARY_FAILURE"
	case 502:
		return "NETWORK_OUT_OF_ORDER"
	case 405:
		return "SERVICE_UNAVAILABLE"
	case 406, 415, 501:
		return "SERVICE_NOT_IMPLEMENTED"
	case 482, 483:
		return "EXCHANGE_ROUTING_ERROR"
	case 487:
		return "ORIGINATOR_CANCEL"
	}
	return "NORMAL_UNSPECIFIED"
}

// ---- variable applications ----

func appSet(ch *channel, arg string) {
	name, value, _ := strings.Cut(arg, "=")
	name = strings.TrimSpace(name)
	if name == "" {
		return
	}
	ch.setVar(name, value)
}

func appExport(ch *channel, arg string) {
	nolocal := false
	if rest, ok := strings.CutPrefix(arg, "nolocal:"); ok {
		arg, nolocal = rest, true
	}
	name, value, _ := strings.Cut(arg, "=")
	name = strings.TrimSpace(name)
	if name == "" {
		return
	}
	if !nolocal {
		ch.setVar(name, value)
	}
	for i, e := range ch.exports {
		if e.name == name {
			ch.exports = append(ch.exports[:i], ch.exports[i+1:]...)
			break
		}
	}
	ch.exports = append(ch.exports, kv{name, value})
	names := make([]string, 0, len(ch.exports))
	for _, e := range ch.exports {
		names = append(names, e.name)
	}
	ch.setVar("export_vars", strings.Join(names, ","))
}

// appMultiset handles "a=1 b=2" and the "^^<d>a=1<d>b=2" delimiter form.
func appMultiset(ch *channel, arg string) {
	var parts []string
	if rest, ok := strings.CutPrefix(arg, "^^"); ok && len(rest) > 0 {
		parts = strings.Split(rest[1:], rest[:1])
	} else {
		parts = splitArgs(arg)
	}
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			appSet(ch, p)
		}
	}
}

func appSchedHangup(ch *channel, arg string) {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return
	}
	secs, err := strconv.Atoi(strings.TrimPrefix(f[0], "+"))
	if err != nil {
		return
	}
	cause := "ALLOTTED_TIMEOUT"
	if len(f) > 1 {
		if c, ok := parseCause(f[1]); ok {
			cause = c
		}
	}
	ch.after(time.Duration(secs)*time.Second, func() { ch.hangup(cause) })
}

// appSchedTransfer is `sched_transfer +<secs> <ext> [<dialplan> <context>]`:
// the channel is transferred then, unless sched_del <uuid> comes first.
func appSchedTransfer(ch *channel, arg string) {
	secs, dest, ok := strings.Cut(strings.TrimSpace(arg), " ")
	n, err := strconv.Atoi(strings.TrimPrefix(secs, "+"))
	if !ok || err != nil {
		return
	}
	ch.sched = append(ch.sched, ch.after(time.Duration(n)*time.Second, func() { ch.transfer(dest) }))
}

// ---- sleep / wait ----

type sleepApp struct{ t *timer }

func (a *sleepApp) start(r *appRun) {
	ms, _ := strconv.Atoi(strings.TrimSpace(r.arg))
	if ms <= 0 {
		r.finish("")
		return
	}
	a.t = r.ch.after(time.Duration(ms)*time.Millisecond, func() { r.finish("") })
}
func (a *sleepApp) stop(r *appRun, _ stopReason) {
	// switch_ivr_sleep returns on CF_BREAK too: uuid_break ends a sleep
	r.ch.s.cancelTimer(a.t)
	r.finish("")
}
func (a *sleepApp) dtmf(*appRun, byte) {}

// waitApp runs until the channel hangs up (echo).
type waitApp struct{}

func (waitApp) start(*appRun) {}
func (waitApp) stop(r *appRun, why stopReason) {
	if why != stopBreak {
		r.finish("")
	}
}
func (waitApp) dtmf(*appRun, byte) {}

// parkApp parks the channel until it is hung up, transferred or bridged.
type parkApp struct{}

func (parkApp) start(r *appRun) {
	ch := r.ch
	if ch.host == nil && r.slot == slotMain {
		// park becomes the hosting application; sendmsg steps run inside it
		ch.running = nil
		r.slot = slotHost
		ch.host = r
	}
	if !ch.parked {
		ch.parked = true
		ch.s.fireChan("CHANNEL_PARK", ch, evOpts{vars: true})
	}
	if len(ch.queue) > 0 {
		ch.scheduleService()
	}
}
func (parkApp) stop(r *appRun, why stopReason) {
	if why != stopBreak {
		r.finish("")
	}
}
func (parkApp) dtmf(*appRun, byte) {}

// ---- playback ----

// player plays one file: PLAYBACK_START, then PLAYBACK_STOP when the file
// ends, is broken by a terminator digit / uuid_break, or the channel hangs up.
// A source the node cannot open (see Server.playable) fires no PLAYBACK_*
// event at all: onDone gets status "notfound" at once.
type player struct {
	ch      *channel
	path    string
	started int64
	t       *timer
	done    bool
	audible bool // counted in ch.sending: the far side receives audio
	// silentEvents: say: (TTS) fires no PLAYBACK_* events and sets no playback_* variables
	silentEvents bool
	terms        string // digits that stop it
	onDone       func(status string, term byte)
	anyDigit     bool
}

func (ch *channel) play(path string, terms string, anyDigit bool, onDone func(status string, term byte)) *player {
	p := &player{ch: ch, path: path, terms: terms, anyDigit: anyDigit, onDone: onDone, started: ch.s.simUS()}
	if !ch.s.playable(path) {
		ch.s.log.Debug("fsim: cannot play (FILE NOT FOUND)", "path", path, "uuid", ch.uuid)
		p.done = true
		if onDone != nil {
			onDone("notfound", 0)
		}
		return p
	}
	// say: is spoken by switch_ivr_speak_text: no PLAYBACK_* events
	p.silentEvents = strings.HasPrefix(path, "say:")
	if !p.silentEvents {
		post := []hdr{}
		if t := fileType(path); t != "" {
			post = append(post, hdr{"Playback-File-Type", t})
		}
		post = append(post, hdr{"Playback-File-Path", path})
		ch.s.fireChan("PLAYBACK_START", ch, evOpts{vars: true, post: post})
	}
	if audible(path) {
		p.audible = true
		ch.sending++
		ch.s.mediaChangedAt(p.started, ch)
	}
	if d, endless := ch.s.mediaLength(path); !endless {
		p.t = ch.after(d, func() { p.finish("done", 0) })
	}
	return p
}

func (p *player) finish(status string, term byte) {
	if p.done {
		return
	}
	p.done = true
	ch := p.ch
	ch.s.cancelTimer(p.t)
	ms := (ch.s.simUS() - p.started) / 1000
	if d, endless := ch.s.mediaLength(p.path); !endless && status == "done" && !ch.hungup {
		ms = d.Milliseconds()
	}
	if p.audible {
		p.audible = false
		ch.sending--
		ch.s.mediaChangedAt(p.started+ms*1000, ch)
	}
	if p.silentEvents {
		if p.onDone != nil {
			p.onDone(status, term)
		}
		return
	}
	samples := ms * 8
	ch.setVar("playback_last_offset_pos", strconv.FormatInt(samples, 10))
	ch.setVar("playback_seconds", strconv.FormatInt(ms/1000, 10))
	ch.setVar("playback_ms", strconv.FormatInt(ms, 10))
	ch.setVar("playback_samples", strconv.FormatInt(samples, 10))
	post := []hdr{}
	if t := fileType(p.path); t != "" {
		post = append(post, hdr{"Playback-File-Type", t})
	}
	post = append(post, hdr{"Playback-File-Path", p.path}, hdr{"Playback-Status", status})
	ch.s.fireChan("PLAYBACK_STOP", ch, evOpts{vars: true, post: post})
	if p.onDone != nil {
		p.onDone(status, term)
	}
}

// digit offers a DTMF digit; it reports whether the playback stopped.
func (p *player) digit(d byte) bool {
	if p.done {
		return false
	}
	if p.anyDigit || strings.IndexByte(p.terms, d) >= 0 {
		p.finish("break", d)
		return true
	}
	return false
}

// fileType is Playback-File-Type: switch_ivr_play_file adds it only for
// local_stream:// and tone_stream://.
func fileType(path string) string {
	for _, t := range []string{"tone_stream", "local_stream"} {
		if len(path) > len(t) && strings.EqualFold(path[:len(t)+1], t+":") {
			return t
		}
	}
	return ""
}

// audible reports whether playing path sends audio (not just silence) to
// the other side of the channel.
func audible(path string) bool {
	switch {
	case strings.HasPrefix(path, "silence_stream://"):
		return false
	case strings.HasPrefix(path, "file_string://"):
		for _, part := range strings.Split(strings.TrimPrefix(path, "file_string://"), "!") {
			if part != "" && audible(part) {
				return true
			}
		}
		return false
	}
	return true
}

// playable reports whether the node can open path, like the project's
// FreeSWITCH archive: tone_stream://, silence_stream://, say: (TTS) and
// files that exist play; file_string:// plays if one of its parts does (the
// others are skipped). Anything else fails at once with FILE NOT FOUND:
// local_stream:// (no mod_local_stream: "Invalid file format
// [local_stream]"), http(s):// (no mod_httapi / mod_http_cache), other
// URL schemes, and missing or relative paths (no sound packs).
func (s *Server) playable(path string) bool {
	if _, ok := s.cfg.Media[path]; ok {
		return true
	}
	switch {
	case strings.HasPrefix(path, "tone_stream://"), strings.HasPrefix(path, "silence_stream://"), strings.HasPrefix(path, "say:"):
		return true
	case strings.HasPrefix(path, "file_string://"):
		for _, part := range strings.Split(strings.TrimPrefix(path, "file_string://"), "!") {
			if part != "" && s.playable(part) {
				return true
			}
		}
		return false
	case strings.Contains(path, "://"), path == "", !filepath.IsAbs(path):
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// playbackTerminators returns the digits that stop playback/record
// (playback_terminators; default "*", "none" for none, "any" for all).
func (ch *channel) playbackTerminators() (string, bool) {
	t := ch.getVar("playback_terminators")
	switch strings.ToLower(t) {
	case "":
		return "*", false
	case "none":
		return "", false
	case "any":
		return "", true
	}
	return t, false
}

// mediaLength is how long a playback source lasts on the simulated clock.
func (s *Server) mediaLength(path string) (time.Duration, bool) {
	switch {
	case strings.HasPrefix(path, "tone_stream://"):
		return toneLength(strings.TrimPrefix(path, "tone_stream://"))
	case strings.HasPrefix(path, "silence_stream://"):
		v := strings.TrimPrefix(path, "silence_stream://")
		v, _, _ = strings.Cut(v, ",")
		ms, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || ms < 0 {
			return 0, true
		}
		if ms == 0 {
			return 0, true
		}
		return time.Duration(ms) * time.Millisecond, false
	case strings.HasPrefix(path, "file_string://"):
		var total time.Duration
		for _, part := range strings.Split(strings.TrimPrefix(path, "file_string://"), "!") {
			if part == "" || !s.playable(part) {
				continue // the node logs "Can't open file" and plays the rest
			}
			d, endless := s.mediaLength(part)
			if endless {
				return 0, true
			}
			total += d
		}
		return total, false
	case strings.HasPrefix(path, "say:"):
		return speakLength(strings.TrimPrefix(path, "say:")), false
	}
	if d, ok := s.cfg.Media[path]; ok {
		return d, false
	}
	if d, ok := wavLength(path); ok {
		return d, false
	}
	return s.cfg.PlaybackLength, false
}

// toneLength computes a tone_stream's length: the sum of its %(on,off,...)
// segments times loops (loops=-1 is endless).
func toneLength(spec string) (time.Duration, bool) {
	loops := 1
	var cycle time.Duration
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "loops="); ok {
			n, err := strconv.Atoi(v)
			if err == nil {
				loops = n
			}
			continue
		}
		for {
			i := strings.Index(part, "%(")
			if i < 0 {
				break
			}
			j := strings.IndexByte(part[i:], ')')
			if j < 0 {
				break
			}
			f := strings.Split(part[i+2:i+j], ",")
			if len(f) >= 2 {
				on, _ := strconv.Atoi(strings.TrimSpace(f[0]))
				off, _ := strconv.Atoi(strings.TrimSpace(f[1]))
				cycle += time.Duration(on+off) * time.Millisecond
			}
			part = part[i+j+1:]
		}
	}
	if loops < 0 {
		return 0, true
	}
	if loops == 0 {
		loops = 1
	}
	if cycle <= 0 {
		cycle = 20 * time.Millisecond
	}
	return cycle * time.Duration(loops), false
}

type playbackApp struct {
	p       *player
	endless bool
}

// start plays the file. A plain playback ends with FILE PLAYED when the
// file ends or is broken (uuid_break, a playback_terminators digit);
// endless_playback loops switch_ivr_play_file while it returns SUCCESS or
// BREAK, so uuid_break (even "all") only restarts the file, and it takes
// no digits. Both end at once with FILE NOT FOUND on a source the node
// cannot open, and with PLAYBACK ERROR when the channel hangs up.
func (a *playbackApp) start(r *appRun) {
	if !r.ch.s.playable(r.arg) {
		r.ch.s.log.Debug("fsim: playback: FILE NOT FOUND", "app", r.app, "path", r.arg, "uuid", r.ch.uuid)
		r.finish("FILE NOT FOUND")
		return
	}
	terms, any := r.ch.playbackTerminators()
	if a.endless {
		terms, any = "", false
	} else {
		r.ch.unsetVar("playback_terminator_used")
	}
	a.p = r.ch.play(r.arg, terms, any, func(status string, term byte) {
		if term != 0 {
			r.ch.setVar("playback_terminator_used", string(term))
		}
		if r.ch.hungup {
			r.finish("PLAYBACK ERROR")
			return
		}
		if a.endless {
			a.start(r)
			return
		}
		r.finish("FILE PLAYED")
	})
}

func (a *playbackApp) stop(r *appRun, why stopReason) {
	if a.p != nil && !a.p.done {
		status := "done"
		if why == stopBreak {
			status = "break"
		}
		a.p.finish(status, 0) // its callback ends (or, endless, restarts) the run
	}
	if !r.done && why != stopBreak {
		r.finish("PLAYBACK ERROR")
	}
}

func (a *playbackApp) dtmf(_ *appRun, d byte) {
	if a.p != nil {
		a.p.digit(d)
	}
}

// speakApp: TTS produces no PLAYBACK_* events; ~60 ms per character, min 500 ms.
type speakApp struct {
	t       *timer
	talking bool
}

func (a *speakApp) start(r *appRun) {
	text := r.arg
	if f := strings.SplitN(r.arg, "|", 3); len(f) == 3 {
		text = f[2]
	}
	a.talking = true
	r.ch.sending++
	r.ch.s.mediaChanged(r.ch)
	d := speakLength(text)
	start := r.ch.s.simUS()
	a.t = r.ch.after(d, func() { a.quiet(r, start+d.Microseconds()); r.finish("") })
}

func (a *speakApp) quiet(r *appRun, atUS int64) {
	if a.talking {
		a.talking = false
		r.ch.sending--
		r.ch.s.mediaChangedAt(atUS, r.ch)
	}
}

func (a *speakApp) stop(r *appRun, _ stopReason) {
	r.ch.s.cancelTimer(a.t)
	a.quiet(r, r.ch.s.simUS())
	r.finish("")
}

// speakLength is how long TTS of text lasts: 60 ms a character, min 500 ms.
func speakLength(text string) time.Duration {
	d := time.Duration(len(text)) * 60 * time.Millisecond
	if d < 500*time.Millisecond {
		d = 500 * time.Millisecond
	}
	return d
}
func (a *speakApp) dtmf(*appRun, byte) {}

// ---- digit collection: play_and_get_digits and read ----

type collectApp struct {
	pagd bool

	min, max, tries int
	timeout         time.Duration
	digitTimeout    time.Duration
	terminators     string
	prompt, invalid string
	varName         string
	re              *regexp.Regexp
	try             int
	buf             string
	term            byte
	p               *player
	t               *timer
	phase           int    // 0 prompt, 1 waiting for digits, 2 invalid prompt, 3 done
	ahead           []byte // digits typed during the invalid prompt, kept for the next try
}

func (a *collectApp) start(r *appRun) {
	f := splitArgs(r.arg)
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	atoi := func(s string, def int) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			return def
		}
		return n
	}
	if a.pagd {
		// <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var> <regex> [<digit_timeout>] [<failure_ext>]
		a.min, a.max, a.tries = atoi(get(0), 0), atoi(get(1), 0), atoi(get(2), 1)
		a.timeout = time.Duration(atoi(get(3), 0)) * time.Millisecond
		a.terminators = get(4)
		a.prompt, a.invalid, a.varName = get(5), get(6), get(7)
		if rx := get(8); rx != "" {
			a.re, _ = regexp.Compile(rx)
		}
		a.digitTimeout = time.Duration(atoi(get(9), 0)) * time.Millisecond
	} else {
		// <min> <max> <file> <var> <timeout> <terminators> [<digit_timeout>]
		a.min, a.max, a.tries = atoi(get(0), 0), atoi(get(1), 0), 1
		a.prompt, a.varName = get(2), get(3)
		a.timeout = time.Duration(atoi(get(4), 0)) * time.Millisecond
		a.terminators = get(5)
		a.digitTimeout = time.Duration(atoi(get(6), 0)) * time.Millisecond
	}
	if a.max < a.min {
		a.max = a.min
	}
	if a.max <= 0 {
		a.max = 128
	}
	if a.tries <= 0 {
		a.tries = 1
	}
	if a.timeout < time.Second {
		a.timeout = time.Second
	}
	if a.digitTimeout <= 0 {
		a.digitTimeout = a.timeout
	}
	if a.terminators == "" && a.pagd {
		a.terminators = "#"
	}
	if strings.EqualFold(a.terminators, "none") {
		a.terminators = ""
	}
	a.attempt(r)
}

// attempt plays the prompt and collects one try's worth of digits.
func (a *collectApp) attempt(r *appRun) {
	a.try++
	a.buf, a.term = "", 0
	a.phase = 0
	if a.prompt == "" || a.prompt == "silence_stream://0" {
		a.waitDigits(r)
		return
	}
	a.p = r.ch.play(a.prompt, "", false, func(status string, _ byte) {
		if r.done || r.ch.hungup {
			return
		}
		if a.phase == 0 {
			a.waitDigits(r)
		}
	})
	// digits the caller typed ahead sit in the channel's DTMF queue and
	// cut the new prompt at once
	ahead := a.ahead
	a.ahead = nil
	for _, d := range ahead {
		if r.done || a.phase > 1 {
			break
		}
		a.dtmf(r, d)
	}
}

func (a *collectApp) waitDigits(r *appRun) {
	a.phase = 1
	d := a.timeout
	if a.buf != "" {
		d = a.digitTimeout
	}
	a.arm(r, d)
}

func (a *collectApp) arm(r *appRun, d time.Duration) {
	r.ch.s.cancelTimer(a.t)
	a.t = r.ch.after(d, func() { a.endAttempt(r) })
}

func (a *collectApp) dtmf(r *appRun, d byte) {
	if r.done || a.phase > 2 {
		return
	}
	if a.phase == 2 {
		a.ahead = append(a.ahead, d)
		return
	}
	if strings.IndexByte(a.terminators, d) >= 0 {
		a.term = d
		a.stopPrompt()
		a.endAttempt(r)
		return
	}
	a.buf += string(d)
	if a.phase == 0 {
		a.stopPrompt() // a digit breaks the prompt
		a.phase = 1
	}
	if len(a.buf) >= a.max {
		a.endAttempt(r)
		return
	}
	a.arm(r, a.digitTimeout)
}

func (a *collectApp) stopPrompt() {
	if a.p != nil && !a.p.done {
		p := a.p
		a.phase = 1
		p.finish("break", 0)
	}
}

func (a *collectApp) endAttempt(r *appRun) {
	if r.done || a.phase > 1 {
		return
	}
	ch := r.ch
	ch.s.cancelTimer(a.t)
	a.stopPrompt()
	a.phase = 2
	if a.term != 0 {
		ch.setVar("read_terminator_used", string(a.term))
	}
	ok := len(a.buf) >= a.min && (a.buf == "" || a.re == nil || a.re.MatchString(a.buf))
	if !a.pagd {
		switch {
		case ok:
			ch.setVar(a.varName, a.buf)
			ch.setVar("read_result", "success")
		case a.buf == "" && a.term == 0:
			ch.setVar("read_result", "timeout")
		default:
			ch.setVar("read_result", "failure")
		}
		r.finish("")
		return
	}
	if ok {
		if a.varName != "" {
			ch.setVar(a.varName, a.buf)
		}
		ch.setVar("read_result", "success")
		r.finish("")
		return
	}
	if a.varName != "" {
		ch.unsetVar(a.varName)
		if a.buf != "" {
			ch.setVar(a.varName+"_invalid", a.buf)
		}
	}
	next := func() {
		if r.done || ch.hungup {
			return
		}
		if a.try >= a.tries {
			ch.setVar("read_result", "failure")
			r.finish("")
			return
		}
		a.attempt(r)
	}
	if a.invalid != "" {
		a.p = ch.play(a.invalid, "", false, func(string, byte) { next() })
		return
	}
	next()
}

func (a *collectApp) stop(r *appRun, why stopReason) {
	if why == stopBreak {
		// uuid_break only cuts the prompt; collection goes on
		if a.p != nil && !a.p.done {
			a.p.finish("break", 0)
		}
		return
	}
	r.ch.s.cancelTimer(a.t)
	a.phase = 3
	if a.p != nil && !a.p.done {
		a.p.finish("done", 0)
	}
	if !r.done {
		r.ch.setVar("read_result", "failure")
		r.finish("")
	}
}

// ---- record ----

// recordApp is `record <path> [<max secs>] [<silence thresh>] [<silence
// hits>]`. Like switch_ivr_record_file it writes only the audio that
// arrives (a silent caller sends no frames: a 44-byte WAV, record_ms 0);
// with a threshold, silence_hits seconds without audio (counted from the
// start, or since audio last arrived) end it with silence_hits_exhausted.
type recordApp struct {
	path    string
	started int64
	m       *meter
	limit   *timer
	quiet   *timer
}

func (a *recordApp) start(r *appRun) {
	ch := r.ch
	f := splitArgs(r.arg)
	if len(f) == 0 {
		r.finish("")
		return
	}
	a.path = ch.s.recordingPath(f[0])
	limit, thresh, hits := 0, 0, 0
	if len(f) > 1 {
		limit, _ = strconv.Atoi(strings.TrimPrefix(f[1], "+"))
	}
	if len(f) > 2 {
		thresh, _ = strconv.Atoi(f[2])
	}
	if len(f) > 3 {
		hits, _ = strconv.Atoi(f[3])
	}
	if thresh > 0 && hits <= 0 {
		hits = 3
	}
	if err := prepareRecording(a.path); err != nil {
		ch.s.log.Warn("fsim: cannot record", "path", a.path, "err", err)
		ch.hangup("DESTINATION_OUT_OF_ORDER")
		return
	}
	a.started = ch.s.simUS()
	ch.setVar("silence_hits_exhausted", "false")
	ch.s.fireChan("RECORD_START", ch, evOpts{vars: true, post: []hdr{{"Record-File-Path", a.path}}})
	a.m = ch.s.newMeter(ch, false, a.started)
	if limit > 0 {
		d := time.Duration(limit) * time.Second
		a.limit = ch.after(d, func() { a.end(r, 0, a.started+d.Microseconds(), false) })
	}
	if thresh > 0 {
		wait := time.Duration(hits) * time.Second
		arm := func(fromUS int64) {
			ch.s.cancelTimer(a.quiet)
			left := wait - time.Duration(ch.s.simUS()-fromUS)*time.Microsecond
			at := fromUS + wait.Microseconds()
			a.quiet = ch.after(left, func() { a.end(r, 0, at, true) })
		}
		a.m.onChange = func(on bool, atUS int64) {
			if on {
				ch.s.cancelTimer(a.quiet)
				return
			}
			arm(atUS)
		}
		if !a.m.on {
			arm(a.started)
		}
	}
}

// end stops the recording at atUS (simulated).
func (a *recordApp) end(r *appRun, term byte, atUS int64, silence bool) {
	if r.done || a.m == nil {
		return
	}
	ch := r.ch
	ch.s.cancelTimer(a.limit)
	ch.s.cancelTimer(a.quiet)
	ms := a.m.stop(atUS)
	size, err := writeWAV(a.path, ms, ms)
	if err != nil {
		ch.s.log.Warn("fsim: writing recording", "path", a.path, "err", err)
	}
	if silence {
		ch.setVar("silence_hits_exhausted", "true")
	}
	ch.setVar("record_file_size", strconv.FormatInt(size, 10))
	ch.setVar("record_seconds", strconv.FormatInt(ms/1000, 10))
	ch.setVar("record_ms", strconv.FormatInt(ms, 10))
	ch.setVar("record_samples", strconv.FormatInt(ms*8, 10))
	if term != 0 {
		ch.setVar("playback_terminator_used", string(term))
	}
	ch.s.fireChan("RECORD_STOP", ch, evOpts{vars: true, post: []hdr{{"Record-File-Path", a.path}}})
	r.finish("")
}

func (a *recordApp) stop(r *appRun, _ stopReason) {
	if a.m == nil {
		r.finish("")
		return
	}
	a.end(r, 0, r.ch.s.simUS(), false)
}

func (a *recordApp) dtmf(r *appRun, d byte) {
	terms, any := r.ch.playbackTerminators()
	if any || strings.IndexByte(terms, d) >= 0 {
		a.end(r, d, r.ch.s.simUS(), false)
	}
}

// recordingPath resolves a relative path under RecordingsDir.
func (s *Server) recordingPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.cfg.RecordingsDir, p)
}

// ---- record_session ----

// sessionRecording is record_session / uuid_record: a media bug that
// writes every frame (its length is the time it ran); the audio in it is
// what arrived at or left the channel meanwhile, silence otherwise.
type sessionRecording struct {
	ch      *channel
	path    string
	started int64
	m       *meter
	t       *timer
	stopped bool
}

func (ch *channel) startSessionRecording(arg string) {
	f := splitArgs(arg)
	if len(f) == 0 {
		return
	}
	path := ch.s.recordingPath(f[0])
	if err := prepareRecording(path); err != nil {
		ch.s.log.Warn("fsim: cannot record session", "path", path, "err", err)
		return
	}
	now := ch.s.simUS()
	rec := &sessionRecording{ch: ch, path: path, started: now, m: ch.s.newMeter(ch, true, now)}
	ch.recordings = append(ch.recordings, rec)
	o := originSessionRecord["RECORD_START"]
	ch.s.fireChan("RECORD_START", ch, evOpts{vars: true, origin: &o, post: []hdr{{"Record-File-Path", path}}})
	if len(f) > 1 {
		if secs, err := strconv.Atoi(strings.TrimPrefix(f[1], "+")); err == nil && secs > 0 {
			rec.t = ch.after(time.Duration(secs)*time.Second, func() { ch.stopSessionRecording(path) })
		}
	}
}

func (ch *channel) stopSessionRecording(arg string) {
	path := strings.TrimSpace(arg)
	all := path == "" || path == "all"
	if !all {
		path = ch.s.recordingPath(path)
	}
	keep := ch.recordings[:0]
	var stop []*sessionRecording
	for _, r := range ch.recordings {
		if all || r.path == path {
			stop = append(stop, r)
		} else {
			keep = append(keep, r)
		}
	}
	ch.recordings = keep
	for _, r := range stop {
		r.stopAt(ch.s.simUS())
	}
}

func (r *sessionRecording) stopAt(nowUS int64) {
	if r.stopped {
		return
	}
	r.stopped = true
	ch := r.ch
	ch.s.cancelTimer(r.t)
	ms := (nowUS - r.started) / 1000
	audio := r.m.stop(nowUS)
	var tones []toneSpan
	for _, t := range ch.ringback {
		end := t.toUS
		if end == 0 {
			end = nowUS
		}
		if end > r.started && t.fromUS < nowUS {
			tones = append(tones, toneSpan{fromUS: max(t.fromUS, r.started) - r.started, toUS: min(end, nowUS) - r.started, freq: t.freq})
		}
	}
	size, err := writeWAVTones(r.path, ms, audio, tones)
	if err != nil {
		ch.s.log.Warn("fsim: writing session recording", "path", r.path, "err", err)
	}
	ch.setVar("record_seconds", strconv.FormatInt(ms/1000, 10))
	ch.setVar("record_ms", strconv.FormatInt(ms, 10))
	ch.setVar("record_samples", strconv.FormatInt(ms*8, 10))
	ch.setVar("record_file_size", strconv.FormatInt(size, 10))
	o := originSessionRecord["RECORD_STOP"]
	ch.s.fireChan("RECORD_STOP", ch, evOpts{vars: true, origin: &o, post: []hdr{{"Record-File-Path", r.path}}})
}

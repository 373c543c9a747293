package fsim

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"time"
)

type hdr struct{ name, value string }

// event is one fired event. It is immutable once fired, so it can be shared
// by every connection that receives it; each format is rendered at most once.
type event struct {
	name     string // Event-Name
	subclass string // Event-Subclass for CUSTOM
	uuid     string // Unique-ID, "" when absent
	jobOwner string // Job-Owner-UUID of BACKGROUND_JOB
	hdrs     []hdr
	body     string

	plainOnce sync.Once
	plain     []byte
	jsonOnce  sync.Once
	json      []byte
	xmlOnce   sync.Once
	xml       []byte
}

// get returns a header value (case-insensitive name) and whether it exists.
func (e *event) get(name string) (string, bool) {
	switch {
	case strings.EqualFold(name, "Unique-ID") && e.uuid != "":
		return e.uuid, true
	case strings.EqualFold(name, "Event-Name"):
		return e.name, true
	}
	for _, h := range e.hdrs {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

func (e *event) add(name, value string) { e.hdrs = append(e.hdrs, hdr{name, value}) }

// framePlain renders the text/event-plain frame.
func (e *event) framePlain() []byte {
	e.plainOnce.Do(func() {
		// size the inner block first, then render once into an exact buffer
		n := 1
		for _, h := range e.hdrs {
			n += len(h.name) + 3 + urlEncodedLen(h.value)
		}
		bodyLen := ""
		if e.body != "" {
			bodyLen = strconv.Itoa(len(e.body))
			n += len("Content-Length: ") + len(bodyLen) + 1 + len(e.body)
		}
		outer := "Content-Length: " + strconv.Itoa(n) + "\nContent-Type: text/event-plain\n\n"
		b := make([]byte, 0, len(outer)+n)
		b = append(b, outer...)
		for _, h := range e.hdrs {
			b = append(b, h.name...)
			b = append(b, ": "...)
			b = appendURLEncoded(b, h.value)
			b = append(b, '\n')
		}
		if e.body != "" {
			b = append(b, "Content-Length: "...)
			b = append(b, bodyLen...)
			b = append(b, "\n\n"...)
			b = append(b, e.body...)
		} else {
			b = append(b, '\n')
		}
		e.plain = b
	})
	return e.plain
}

// frameJSON renders the text/event-json frame: one flat JSON object, values
// not URL-encoded, the body under "_body", no trailing newline.
func (e *event) frameJSON() []byte {
	e.jsonOnce.Do(func() {
		var in bytes.Buffer
		in.WriteByte('{')
		for i, h := range e.hdrs {
			if i > 0 {
				in.WriteByte(',')
			}
			jsonString(&in, h.name)
			in.WriteByte(':')
			if arr, ok := strings.CutPrefix(h.value, "ARRAY::"); ok {
				// array headers are JSON arrays in text/event-json
				in.WriteByte('[')
				for j, v := range strings.Split(arr, "|:") {
					if j > 0 {
						in.WriteByte(',')
					}
					jsonString(&in, v)
				}
				in.WriteByte(']')
				continue
			}
			jsonString(&in, h.value)
		}
		if e.body != "" {
			in.WriteString(`,"Content-Length":`)
			jsonString(&in, strconv.Itoa(len(e.body)))
			in.WriteString(`,"_body":`)
			jsonString(&in, e.body)
		}
		in.WriteByte('}')
		e.json = []byte("Content-Length: " + strconv.Itoa(in.Len()) + "\nContent-Type: text/event-json\n\n" + in.String())
	})
	return e.json
}

// frameXML renders the text/event-xml frame.
func (e *event) frameXML() []byte {
	e.xmlOnce.Do(func() {
		var in bytes.Buffer
		in.WriteString("<event>\n  <headers>\n")
		for _, h := range e.hdrs {
			in.WriteString("    <")
			in.WriteString(h.name)
			in.WriteByte('>')
			xmlEscape(&in, urlEncode(h.value))
			in.WriteString("</")
			in.WriteString(h.name)
			in.WriteString(">\n")
		}
		if e.body != "" {
			in.WriteString("    <Content-Length>" + strconv.Itoa(len(e.body)) + "</Content-Length>\n")
		}
		in.WriteString("  </headers>\n")
		if e.body != "" {
			in.WriteString("  <body>")
			xmlEscape(&in, e.body)
			in.WriteString("</body>\n")
		}
		in.WriteString("</event>\n")
		e.xml = []byte("Content-Length: " + strconv.Itoa(in.Len()) + "\nContent-Type: text/event-xml\n\n" + in.String())
	})
	return e.xml
}

// where an event is raised in FreeSWITCH: Event-Calling-File/-Function/-Line-Number.
type origin struct{ file, fn, line string }

var origins = map[string]origin{
	"API":                      {"switch_loadable_module.c", "switch_api_execute", "2954"},
	"BACKGROUND_JOB":           {"mod_event_socket.c", "api_exec", "1572"},
	"CHANNEL_ANSWER":           {"switch_channel.c", "switch_channel_perform_mark_answered", "3846"},
	"CHANNEL_BRIDGE":           {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"},
	"CHANNEL_UNBRIDGE":         {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"},
	"CHANNEL_CALLSTATE":        {"switch_channel.c", "switch_channel_perform_set_callstate", "301"},
	"CHANNEL_CREATE":           {"switch_core_state_machine.c", "switch_core_session_run", "626"},
	"CHANNEL_ORIGINATE":        {"switch_core_state_machine.c", "switch_core_session_run", "632"},
	"CHANNEL_DATA":             {"mod_event_socket.c", "parse_command", "2021"},
	"CHANNEL_DESTROY":          {"switch_core_session.c", "switch_core_session_perform_destroy", "1584"},
	"CHANNEL_EXECUTE":          {"switch_core_session.c", "switch_core_session_exec", "2944"},
	"CHANNEL_EXECUTE_COMPLETE": {"switch_core_session.c", "switch_core_session_exec", "2967"},
	"CHANNEL_HANGUP":           {"switch_channel.c", "switch_channel_perform_hangup", "3445"},
	"CHANNEL_HANGUP_COMPLETE":  {"switch_core_state_machine.c", "switch_core_session_reporting_state", "943"},
	"CHANNEL_OUTGOING":         {"switch_core_session.c", "switch_core_session_outgoing_channel", "768"},
	"CHANNEL_PARK":             {"switch_ivr.c", "switch_ivr_park", "1002"},
	"CHANNEL_UNPARK":           {"switch_ivr.c", "switch_ivr_park", "1213"},
	"CHANNEL_PROGRESS":         {"switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3505"},
	"CHANNEL_PROGRESS_MEDIA":   {"switch_channel.c", "switch_channel_perform_mark_pre_answered", "3560"},
	"CHANNEL_STATE":            {"switch_channel.c", "switch_channel_perform_set_running_state", "2408"},
	"DTMF":                     {"switch_channel.c", "switch_channel_dequeue_dtmf", "677"},
	"HEARTBEAT":                {"switch_core.c", "send_heartbeat", "95"},
	"RE_SCHEDULE":              {"switch_scheduler.c", "switch_scheduler_execute", "73"},
	"PLAYBACK_START":           {"switch_ivr_play_say.c", "switch_ivr_play_file", "1646"},
	"PLAYBACK_STOP":            {"switch_ivr_play_say.c", "switch_ivr_play_file", "2020"},
	"RECORD_START":             {"switch_ivr_play_say.c", "switch_ivr_record_file_event", "767"},
	"RECORD_STOP":              {"switch_ivr_play_say.c", "switch_ivr_record_file_event", "1030"},
	"CUSTOM":                   {"mod_event_socket.c", "parse_command", "2312"},
}

var originSessionRecord = map[string]origin{
	"RECORD_START": {"switch_ivr_async.c", "record_callback", "1481"},
	"RECORD_STOP":  {"switch_ivr_async.c", "send_record_stop_event", "1240"},
}

var originUUIDBridge = origin{"switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236"}

// newEvent creates an event with the core headers every FreeSWITCH event
// carries, and takes the next Event-Sequence. Caller holds s.mu.
func (s *Server) newEvent(name string, o *origin) *event {
	s.seq++
	ev := &event{name: name, hdrs: make([]hdr, 0, 16)}
	now := s.simNow()
	if o == nil {
		or := origins[name]
		o = &or
	}
	ev.hdrs = append(ev.hdrs,
		hdr{"Event-Name", name},
		hdr{"Core-UUID", s.coreUUID},
		hdr{"FreeSWITCH-Hostname", s.cfg.Hostname},
		hdr{"FreeSWITCH-Switchname", s.cfg.Hostname},
		hdr{"FreeSWITCH-IPv4", "127.0.0.1"},
		hdr{"FreeSWITCH-IPv6", "::1"},
		hdr{"Event-Date-Local", now.Local().Format("2006-01-02 15:04:05")},
		hdr{"Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
		hdr{"Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10)},
		hdr{"Event-Calling-File", o.file},
		hdr{"Event-Calling-Function", o.fn},
		hdr{"Event-Calling-Line-Number", o.line},
		hdr{"Event-Sequence", strconv.FormatUint(s.seq, 10)},
	)
	return ev
}

// evOpts selects the optional parts of a channel event.
type evOpts struct {
	vars   bool    // include variable_* headers
	pre    []hdr   // headers between the core headers and the channel headers
	post   []hdr   // headers after everything else
	origin *origin // override Event-Calling-*
}

// chanEvent builds a channel event in FreeSWITCH's header order: core,
// pre, channel state, Caller-* profile, Other-Leg-* profile, variables, post.
func (s *Server) chanEvent(name string, ch *channel, o evOpts) *event {
	ev := s.newEvent(name, o.origin)
	n := len(ev.hdrs) + len(o.pre) + len(o.post) + 17 + 34
	if ch.other != nil {
		n += 32
	}
	if o.vars {
		n += len(ch.vars)
	}
	hs := make([]hdr, len(ev.hdrs), n)
	copy(hs, ev.hdrs)
	ev.hdrs = hs
	ev.uuid = ch.uuid
	ev.hdrs = append(ev.hdrs, o.pre...)
	ch.appendChannelHeaders(ev)
	ch.appendProfile(ev, "Caller-", true)
	if ch.other != nil {
		ev.add("Other-Type", ch.otherType)
		appendView(ev, "Other-Leg-", ch.other, false)
	}
	if o.vars {
		ch.appendVars(ev)
	}
	ev.hdrs = append(ev.hdrs, o.post...)
	return ev
}

// fireChan builds and fires a channel event if anyone can receive it.
func (s *Server) fireChan(name string, ch *channel, o evOpts) {
	if !s.anyListener(name, ch.uuid) {
		s.seq++ // the real switch numbers every event, listened to or not
		return
	}
	s.fire(s.chanEvent(name, ch, o))
}

func (ch *channel) appendChannelHeaders(ev *event) {
	ev.hdrs = append(ev.hdrs,
		hdr{"Channel-State", ch.stateName},
		hdr{"Channel-Call-State", ch.callState},
		hdr{"Channel-State-Number", strconv.Itoa(ch.stateNum)},
		hdr{"Channel-Name", ch.name},
		hdr{"Unique-ID", ch.uuid},
		hdr{"Call-Direction", ch.direction},
		hdr{"Presence-Call-Direction", ch.direction},
		hdr{"Channel-HIT-Dialplan", strconv.FormatBool(ch.hitDialplan)},
		hdr{"Channel-Call-UUID", ch.callUUID},
		hdr{"Answer-State", ch.answerState()},
	)
	if ch.cause != "" {
		ev.add("Hangup-Cause", ch.cause)
	}
	// an outbound SIP leg has no codec before its first media
	if ch.codec != "" {
		rate := "8000"
		ev.hdrs = append(ev.hdrs,
			hdr{"Channel-Read-Codec-Name", ch.codec},
			hdr{"Channel-Read-Codec-Rate", rate},
			hdr{"Channel-Read-Codec-Bit-Rate", ch.codecBitRate()},
			hdr{"Channel-Write-Codec-Name", ch.codec},
			hdr{"Channel-Write-Codec-Rate", rate},
			hdr{"Channel-Write-Codec-Bit-Rate", ch.codecBitRate()},
		)
	}
}

// legView is a copy of a leg's identity and caller profile. FreeSWITCH
// copies the partner's profile when legs are linked (originator /
// originatee), so Other-Leg-* headers show that snapshot.
type legView struct {
	uuid, name, direction                                                   string
	p                                                                       profile
	createdUS, answeredUS, progressUS, progressMediaUS, hangupUS, bridgedUS int64
}

func (ch *channel) view() legView {
	return legView{uuid: ch.uuid, name: ch.name, direction: ch.direction, p: ch.profile,
		createdUS: ch.createdUS, answeredUS: ch.answeredUS, progressUS: ch.progressUS,
		progressMediaUS: ch.progressMediaUS, hangupUS: ch.hangupUS, bridgedUS: ch.bridgedUS}
}

// appendProfile writes the channel's caller profile with the given prefix
// ("Caller-", or "Channel-" in CHANNEL_DATA).
func (ch *channel) appendProfile(ev *event, prefix string, withIndex bool) {
	v := ch.view()
	appendView(ev, prefix, &v, withIndex)
}

func appendView(ev *event, prefix string, v *legView, withIndex bool) {
	p := &v.p
	add := func(n, val string) { ev.hdrs = append(ev.hdrs, hdr{prefix + n, val}) }
	addOpt := func(n, val string) {
		if val != "" {
			add(n, val)
		}
	}
	add("Direction", v.direction)
	add("Logical-Direction", v.direction)
	addOpt("Username", p.username)
	addOpt("Dialplan", p.dialplan)
	addOpt("Caller-ID-Name", p.cidName)
	add("Caller-ID-Number", p.cidNumber)
	addOpt("Orig-Caller-ID-Name", p.origCidName)
	add("Orig-Caller-ID-Number", p.origCidNumber)
	addOpt("Callee-ID-Name", p.calleeName)
	addOpt("Callee-ID-Number", p.calleeNumber)
	addOpt("Network-Addr", p.networkAddr)
	add("ANI", p.ani)
	add("Destination-Number", p.dest)
	add("Unique-ID", v.uuid)
	add("Source", p.source)
	addOpt("Transfer-Source", p.transferSource)
	add("Context", p.context)
	add("Channel-Name", v.name)
	if withIndex {
		add("Profile-Index", strconv.Itoa(p.index))
	}
	us := func(t int64) string { return strconv.FormatInt(t, 10) }
	add("Profile-Created-Time", us(p.createdUS))
	add("Channel-Created-Time", us(v.createdUS))
	add("Channel-Answered-Time", us(v.answeredUS))
	add("Channel-Progress-Time", us(v.progressUS))
	add("Channel-Progress-Media-Time", us(v.progressMediaUS))
	add("Channel-Hangup-Time", us(v.hangupUS))
	add("Channel-Transfer-Time", "0")
	add("Channel-Resurrect-Time", "0")
	add("Channel-Bridged-Time", us(v.bridgedUS))
	add("Channel-Last-Hold", "0")
	add("Channel-Hold-Accum", "0")
	add("Screen-Bit", "true")
	add("Privacy-Hide-Name", "false")
	add("Privacy-Hide-Number", "false")
}

func (ch *channel) appendVars(ev *event) {
	for _, kv := range ch.vars {
		ev.hdrs = append(ev.hdrs, hdr{"variable_" + kv.name, kv.value})
	}
}

// simStamp formats a simulated time like FreeSWITCH's *_stamp variables.
func simStamp(us int64) string {
	return time.UnixMicro(us).Local().Format("2006-01-02 15:04:05")
}

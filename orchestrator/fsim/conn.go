package fsim

import (
	"bufio"
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxQueuedFrames mirrors FreeSWITCH dropping a listener whose event queue
// overflows.
const maxQueuedFrames = 100000

type filter struct {
	header   string
	value    string // as given
	cmp      string // without the +/- sign
	positive bool
	re       *regexp.Regexp
}

type outFrame struct {
	b  []byte
	ev *event
	fm byte // event format: 'p' plain, 'j' json, 'x' xml
}

func (f outFrame) bytes() []byte {
	if f.ev == nil {
		return f.b
	}
	switch f.fm {
	case 'j':
		return f.ev.frameJSON()
	case 'x':
		return f.ev.frameXML()
	}
	return f.ev.framePlain()
}

// conn is one ESL connection: an inbound client, or an outbound socket
// session FreeSWITCH opened towards the orchestrator.
type conn struct {
	s        *Server
	nc       net.Conn
	outbound bool
	session  *channel // controlled channel (outbound, or inbound after myevents <uuid>)
	full     bool
	async    bool
	authed   bool

	format   byte
	all      bool
	events   map[string]bool
	custom   map[string]bool
	myevents bool
	myUUID   string
	filters  []filter

	linger       bool
	lingerSecs   int
	lingerTimer  *timer
	parkTimer    *timer
	sessionEnded bool
	dead         bool // closing: no more frames
	gone         bool // reader finished
	idxUUIDs     []string
	idxEvents    []string

	omu      sync.Mutex
	q        []outFrame
	writing  bool
	closeReq bool
	closed   bool
	held     bool
	pending  []outFrame
}

// newConn registers a connection and starts its reader. Caller holds s.mu.
func (s *Server) newConn(nc net.Conn, outbound bool, session *channel) *conn {
	c := &conn{s: s, nc: nc, outbound: outbound, session: session, format: 'p', authed: outbound}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.readLoop()
	return c
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	r := bufio.NewReaderSize(c.nc, 1024)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			c.s.connGone(c)
			return
		}
		if c.outbound {
			c.s.sockCmd.Add(1)
			c.s.sockHdr.Add(int64(cmd.headerBytes))
		} else {
			c.s.countConnCommand(cmd)
		}
		if wait := c.s.handle(c, cmd); wait != nil {
			select {
			case <-wait:
			case <-c.s.ctx.Done():
				c.s.connGone(c)
				return
			}
		}
	}
}

// connGone cleans up after the reader stopped (peer closed, error, shutdown).
func (s *Server) connGone(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gone {
		return
	}
	c.gone = true
	c.dead = true
	delete(s.conns, c)
	s.reindex(c)
	s.cancelTimer(c.lingerTimer)
	s.cancelTimer(c.parkTimer)
	c.omu.Lock()
	c.q, c.pending = nil, nil
	if !c.writing {
		c.closed = true
	} else {
		c.closeReq = true
	}
	c.omu.Unlock()
	c.nc.Close()
	if ch := c.session; ch != nil {
		ch.socketDetached(c)
	}
}

// ---- output ----

func (c *conn) send(b []byte) { c.push(outFrame{b: b}) }

func (c *conn) sendEvent(ev *event) { c.push(outFrame{ev: ev, fm: c.format}) }

func (c *conn) push(f outFrame) {
	if c.dead {
		return
	}
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.closeReq || c.closed {
		return
	}
	if c.held || (f.ev != nil && c.outbound && !c.async) {
		// held behind a blocking api; or a static (non-async) socket, whose
		// listener runs in the session thread and delivers queued events
		// only after it answers a command
		c.pending = append(c.pending, f)
		return
	}
	if f.ev == nil && len(c.pending) > 0 {
		c.q = append(c.q, f)
		c.q = append(c.q, c.pending...)
		c.pending = nil
		c.startWriter()
		return
	}
	if len(c.q) >= maxQueuedFrames {
		c.s.log.Warn("fsim: event queue overflow, dropping connection")
		c.q = nil
		c.closeReq = true
		c.dead = true
	} else {
		c.q = append(c.q, f)
	}
	c.startWriter()
}

// startWriter starts the writer if it is not running. Caller holds c.omu.
func (c *conn) startWriter() {
	if c.writing {
		return
	}
	c.writing = true
	c.s.wg.Add(1)
	go c.writeLoop()
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	for {
		c.omu.Lock()
		if len(c.q) == 0 {
			if c.closeReq && !c.closed {
				c.closed = true
				c.writing = false
				c.omu.Unlock()
				c.nc.Close()
				return
			}
			c.writing = false
			c.omu.Unlock()
			return
		}
		batch := c.q
		c.q = nil
		c.omu.Unlock()
		bufs := make(net.Buffers, 0, len(batch))
		for _, f := range batch {
			bufs = append(bufs, f.bytes())
		}
		d := 30 * time.Second
		if c.s.ctx.Err() != nil {
			d = time.Second // shutting down: do not wait long for a slow reader
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.omu.Lock()
			c.closed = true
			c.q = nil
			c.writing = false
			c.omu.Unlock()
			c.nc.Close()
			return
		}
	}
}

// closeAfterFlush closes the connection once queued frames are written.
func (c *conn) closeAfterFlush() {
	c.dead = true
	c.s.reindex(c)
	c.omu.Lock()
	c.held = false
	c.q = append(c.q, c.pending...)
	c.pending = nil
	c.closeReq = true
	if !c.closed {
		c.startWriter()
	}
	c.omu.Unlock()
}

// hold parks outgoing frames while a blocking api runs (FreeSWITCH runs
// `api` on the listener thread, so events wait behind the response).
func (c *conn) hold() {
	c.omu.Lock()
	c.held = true
	c.omu.Unlock()
}

// releaseHold sends the api response, then the frames held meanwhile.
func (c *conn) releaseHold(reply []byte) {
	c.omu.Lock()
	defer c.omu.Unlock()
	c.held = false
	if c.closeReq || c.closed || c.dead {
		c.pending = nil
		return
	}
	c.q = append(c.q, outFrame{b: reply})
	c.q = append(c.q, c.pending...)
	c.pending = nil
	c.startWriter()
}

// ---- subscriptions and filters ----

func (c *conn) hasSubscriptions() bool { return c.all || len(c.events) > 0 }

func (c *conn) subscribedName(name string) bool { return c.all || c.events[name] }

func (c *conn) subscribed(ev *event) bool {
	if c.all {
		return true
	}
	if !c.events[ev.name] {
		return false
	}
	if ev.name == "CUSTOM" && ev.subclass != "" {
		return c.custom[ev.subclass]
	}
	return true
}

// wants applies mod_event_socket's rules: subscription, then filters, then
// the myevents restriction (BACKGROUND_JOB of a job this session started
// always passes).
func (c *conn) wants(ev *event) bool {
	if c.dead {
		return false
	}
	send := c.subscribed(ev)
	if send && len(c.filters) > 0 {
		send = c.passFilters(ev)
	}
	if c.myevents {
		if send && ev.uuid != c.myUUID {
			send = false
		}
		if ev.jobOwner != "" && ev.jobOwner == c.myUUID {
			send = true
		}
	}
	return send
}

func (c *conn) passFilters(ev *event) bool {
	send := false
	for _, f := range c.filters {
		hval, ok := ev.get(f.header)
		if !ok {
			continue
		}
		if send && f.positive {
			continue
		}
		var match bool
		if f.re != nil {
			match = f.re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, f.cmp)
		}
		if match {
			if f.positive {
				send = true
			} else {
				return false
			}
		}
	}
	return send
}

func newFilter(header, value string) filter {
	f := filter{header: header, value: value, positive: true}
	v := value
	for len(v) > 0 {
		if v[0] == '+' {
			f.positive = true
		} else if v[0] == '-' {
			f.positive = false
		} else if v[0] != ' ' {
			break
		}
		v = v[1:]
	}
	f.cmp = v
	// FreeSWITCH takes a value as a pattern only when the value as sent
	// starts with '/': "-/x/" is a negative filter on the text "/x/".
	if strings.HasPrefix(value, "/") {
		pat := strings.TrimPrefix(v, "/")
		pat = strings.TrimSuffix(pat, "/")
		if re, err := regexp.Compile(pat); err == nil {
			f.re = re
		}
	}
	return f
}

// myeventsSet is the event list `myevents` subscribes.
var myeventsSet = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
	"CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_OUTGOING", "CHANNEL_PARK",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE",
	"CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
}

// ---- sessions ----

// sessionDown runs after the bound channel's CHANNEL_HANGUP_COMPLETE: with
// linger the linger notice is sent and events keep flowing until exit or
// the linger time; without it the session ends now.
func (c *conn) sessionDown() {
	if c.dead || c.sessionEnded {
		return
	}
	c.sessionEnded = true
	ch := c.session
	if c.linger {
		c.send(frameLinger(ch.uuid, ch.name, c.lingerSecs))
		if c.lingerSecs > 0 {
			// Linger is a socket timer, on the wall clock: scaling it
			// with Speed would close sockets before the app is done.
			c.lingerTimer = c.s.afterReal(time.Duration(c.lingerSecs)*time.Second, c.finishSession)
		}
		return
	}
	c.finishSession()
}

// finishSession sends the final disconnect notice and closes.
func (c *conn) finishSession() {
	if c.dead {
		return
	}
	uuid := ""
	if c.session != nil {
		uuid = c.session.uuid
	}
	if c.outbound && !c.async {
		c.omu.Lock()
		c.pending = nil // a static listener leaves without flushing its queue
		c.omu.Unlock()
	}
	c.send(frameDisconnect(uuid))
	c.closeAfterFlush()
	c.s.cancelTimer(c.lingerTimer)
	c.s.cancelTimer(c.parkTimer)
	if ch := c.session; ch != nil {
		ch.socketDetached(c)
	}
}

// ---- command handling ----

// handle executes one client command under s.mu. It returns a channel to
// wait on when the command blocks the connection (api originate).
func (s *Server) handle(c *conn, cmd *command) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || c.dead {
		return nil
	}
	line := strings.TrimSpace(cmd.line)
	verb, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	lverb := strings.ToLower(verb)

	if lverb == "exit" || lverb == "...bye" {
		c.send(frameReply("+OK bye"))
		c.finishSession()
		return nil
	}
	if !c.authed {
		switch lverb {
		case "auth":
			if rest == s.cfg.Password {
				c.authed = true
				c.send(frameReply("+OK accepted"))
			} else {
				c.send(frameReply("-ERR invalid"))
				c.finishSession()
			}
		case "userauth":
			_, pass, _ := strings.Cut(rest, ":")
			if pass == s.cfg.Password {
				c.authed = true
				c.send(frameReply("+OK accepted"))
			} else {
				c.send(frameReply("-ERR invalid"))
				c.finishSession()
			}
		default:
			c.send(frameReply("-ERR command not found"))
		}
		return nil
	}
	if c.outbound && !c.full {
		switch lverb {
		case "connect", "myevents", "getvar", "filter", "sendmsg", "resume", "divert_events":
		default:
			c.send(frameReply("-ERR command not found"))
			return nil
		}
	}
	switch lverb {
	case "connect":
		if !c.outbound || c.session == nil {
			c.send(frameReply("-ERR command not found"))
			return nil
		}
		c.send(s.channelData(c.session, c.async, c.full))
		if ch := c.session; !ch.parked && c.async {
			// A client that queues a step parks the channel at once (see
			// service); one that only subscribes sees CHANNEL_PARK after
			// its subscription, as on FreeSWITCH, if it gets there within
			// a second of real time. (100 ms was too short on a loaded
			// machine: the park fired before the subscription and the
			// event was never delivered.)
			d := s.tick
			if d < time.Second {
				d = time.Second
			}
			c.parkTimer = s.afterReal(d, func() {
				if !ch.hungup && ch.host != nil && ch.host.app == "socket" {
					ch.parkInSocket()
				}
			})
		}
	case "event":
		s.cmdEvent(c, rest)
	case "nixevent":
		for _, n := range strings.Fields(rest) {
			u := upper(n)
			if u == "ALL" {
				c.all = false
				c.events = nil
				continue
			}
			delete(c.events, u)
		}
		s.reindex(c)
		c.send(frameReply("+OK events nixed"))
	case "noevents":
		c.all = false
		c.events = nil
		c.custom = nil
		s.reindex(c)
		c.send(frameReply("+OK no longer listening for events"))
	case "filter":
		s.cmdFilter(c, rest)
	case "myevents":
		s.cmdMyevents(c, rest)
	case "divert_events":
		if strings.EqualFold(rest, "on") {
			c.send(frameReply("+OK events diverted"))
		} else {
			c.send(frameReply("+OK events not diverted"))
		}
	case "linger":
		if c.session == nil {
			c.send(frameReply("-ERR not controlling a session"))
			return nil
		}
		c.linger = true
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			c.lingerSecs = n
			c.send(frameReply("+OK will linger " + strconv.Itoa(n) + " seconds"))
		} else {
			c.lingerSecs = -1
			c.send(frameReply("+OK will linger"))
		}
	case "nolinger":
		if c.session == nil {
			c.send(frameReply("-ERR not controlling a session"))
			return nil
		}
		c.linger = false
		c.send(frameReply("+OK will not linger"))
	case "resume":
		if c.session == nil {
			c.send(frameReply("-ERR not controlling a session"))
			return nil
		}
		c.send(frameReply("+OK"))
	case "getvar":
		v := ""
		if c.session != nil {
			v = c.session.getVar(rest)
		}
		if v == "" {
			c.send(frameReply("-ERR command not found"))
		} else {
			c.send(frameReply(v))
		}
	case "sendmsg":
		return s.cmdSendmsg(c, rest, cmd)
	case "api":
		return s.cmdAPI(c, rest)
	case "bgapi":
		s.cmdBgapi(c, rest, cmd)
	case "log":
		lvl := rest
		if lvl == "" {
			lvl = "debug"
		}
		c.send(frameReply("+OK log level " + lvl + " [7]"))
	case "nolog":
		c.send(frameReply("+OK no longer logging"))
	case "sendevent":
		s.cmdSendevent(c, rest, cmd)
	default:
		c.send(frameReply("-ERR command not found"))
	}
	return nil
}

func (s *Server) cmdEvent(c *conn, rest string) {
	args := strings.Fields(rest)
	format := "plain"
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(args[0])
			args = args[1:]
		}
	}
	if len(args) == 0 {
		c.send(frameReply("-ERR no keywords supplied"))
		return
	}
	c.format = format[0]
	if c.events == nil {
		c.events = make(map[string]bool)
	}
	custom := false
	for _, a := range args {
		if custom {
			if c.custom == nil {
				c.custom = make(map[string]bool)
			}
			c.custom[a] = true
			continue
		}
		switch u := upper(a); u {
		case "ALL":
			c.all = true
		case "CUSTOM":
			custom = true
			c.events["CUSTOM"] = true
		default:
			c.events[u] = true
		}
	}
	s.reindex(c)
	c.send(frameReply("+OK event listener enabled " + format))
}

func (s *Server) cmdFilter(c *conn, rest string) {
	name, value, _ := strings.Cut(rest, " ")
	value = strings.TrimSpace(value)
	if name == "" {
		c.send(frameReply("-ERR invalid syntax"))
		return
	}
	if strings.EqualFold(name, "delete") {
		if value == "" {
			c.send(frameReply("-ERR invalid syntax"))
			return
		}
		if strings.EqualFold(value, "all") {
			c.filters = nil
			s.reindex(c)
			c.send(frameReply("+OK filter deleted."))
			return
		}
		h, v, _ := strings.Cut(value, " ")
		v = strings.TrimSpace(v)
		keep := c.filters[:0]
		for _, f := range c.filters {
			if strings.EqualFold(f.header, h) && (v == "" || f.value == v) {
				continue
			}
			keep = append(keep, f)
		}
		c.filters = keep
		s.reindex(c)
		c.send(frameReply("+OK filter deleted. [" + h + "][" + v + "]"))
		return
	}
	if value == "" {
		c.send(frameReply("-ERR invalid syntax"))
		return
	}
	c.filters = append(c.filters, newFilter(name, value))
	s.reindex(c)
	c.send(frameReply("+OK filter added. [" + name + "]=[" + value + "]"))
}

func (s *Server) cmdMyevents(c *conn, rest string) {
	args := strings.Fields(rest)
	if c.myevents {
		c.send(frameReply("-ERR aready enabled."))
		return
	}
	format := "plain"
	if c.session == nil {
		if len(args) == 0 {
			c.send(frameReply("-ERR invalid uuid"))
			return
		}
		ch := s.chans[args[0]]
		if ch == nil || ch.hungup {
			c.send(frameReply("-ERR invalid uuid"))
			return
		}
		args = args[1:]
		c.session = ch
		ch.socks = append(ch.socks, c)
		ch.holds++
	} else if len(args) > 0 && args[0] == c.session.uuid {
		args = args[1:]
	}
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "json", "xml", "plain":
			format = strings.ToLower(args[0])
		}
	}
	c.format = format[0]
	c.myevents = true
	c.myUUID = c.session.uuid
	if c.events == nil {
		c.events = make(map[string]bool)
	}
	for _, e := range myeventsSet {
		c.events[e] = true
	}
	s.reindex(c)
	c.send(frameReply("+OK Events Enabled"))
}

func (s *Server) cmdSendmsg(c *conn, rest string, cmd *command) <-chan struct{} {
	uuid := strings.TrimSpace(rest)
	if uuid == "" && c.session != nil {
		uuid = c.session.uuid
	}
	ch := s.chans[uuid]
	if ch == nil {
		c.send(frameReply("-ERR invalid session id [" + uuid + "]"))
		return nil
	}
	// a static socket runs the application itself and replies when it ends
	static := c.outbound && !c.async && ch == c.session
	var wait chan struct{}
	cc, _ := cmd.header("call-command")
	switch strings.ToLower(strings.TrimSpace(cc)) {
	case "execute":
		app, _ := cmd.header("execute-app-name")
		arg, ok := cmd.header("execute-app-arg")
		if !ok && cmd.body != "" {
			arg = cmd.body
		}
		m := &execMsg{app: strings.TrimSpace(app), arg: arg, sendmsg: true, private: true, loops: 1}
		if v, ok := cmd.header("event-lock"); ok && isTrue(v) {
			m.lock = true
		}
		m.uuid, _ = cmd.header("Event-UUID")
		m.uuidName, _ = cmd.header("Event-UUID-Name")
		if v, ok := cmd.header("loops"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n != 0 {
				m.loops = n
			}
		}
		if static && !ch.hungup {
			wait = make(chan struct{})
			c.hold()
			m.onDone = func() {
				c.releaseHold(frameReply("+OK"))
				close(wait)
			}
			ch.enqueue(m)
			return wait
		}
		ch.enqueue(m)
	case "hangup":
		cause, _ := cmd.header("hangup-cause")
		cn, ok := parseCause(cause)
		if !ok {
			cn = "NORMAL_CLEARING"
		}
		ch.enqueue(&execMsg{hangup: true, cause: cn, private: true})
	}
	c.send(frameReply("+OK"))
	return nil
}

func (s *Server) cmdAPI(c *conn, rest string) <-chan struct{} {
	done := make(chan struct{})
	c.hold()
	s.execAPI(rest, c, func(out string) {
		c.releaseHold(frameAPI(out))
		s.fireAPIEvent(rest)
		close(done)
	})
	return done
}

func (s *Server) cmdBgapi(c *conn, rest string, cmd *command) {
	job, _ := cmd.header("Job-UUID")
	job = strings.TrimSpace(job)
	if job == "" {
		job = newUUID()
	}
	c.send(frameReply("+OK Job-UUID: "+job, hdr{"Job-UUID", job}))
	owner := ""
	if c.session != nil {
		owner = c.session.uuid
	}
	s.execAPI(rest, c, func(out string) {
		name, arg, _ := strings.Cut(rest, " ")
		ev := s.newEvent("BACKGROUND_JOB", nil)
		ev.add("Job-UUID", job)
		if owner != "" {
			ev.add("Job-Owner-UUID", owner)
			ev.jobOwner = owner
		}
		ev.add("Job-Command", name)
		if arg = strings.TrimSpace(arg); arg != "" {
			ev.add("Job-Command-Arg", arg)
		}
		ev.body = out
		s.fire(ev)
	})
	s.fireAPIEvent(rest)
}

func (s *Server) fireAPIEvent(line string) {
	if !s.anyListener("API", "") {
		s.seq++
		return
	}
	name, arg, _ := strings.Cut(line, " ")
	ev := s.newEvent("API", nil)
	ev.add("API-Command", name)
	if arg = strings.TrimSpace(arg); arg != "" {
		ev.add("API-Command-Argument", arg)
	}
	s.fire(ev)
}

func (s *Server) cmdSendevent(c *conn, rest string, cmd *command) {
	name := upper(strings.TrimSpace(rest))
	if name == "" {
		c.send(frameReply("-ERR invalid event"))
		return
	}
	ev := s.newEvent(name, &origin{"mod_event_socket.c", "parse_command", "2312"})
	id := newUUID()
	for _, h := range cmd.headers {
		if strings.EqualFold(h.name, "Content-Length") {
			continue
		}
		ev.add(h.name, h.value)
		switch {
		case strings.EqualFold(h.name, "Event-Subclass"):
			ev.subclass = h.value
		case strings.EqualFold(h.name, "Unique-ID"):
			ev.uuid = h.value
		case strings.EqualFold(h.name, "Event-UUID"):
			id = h.value
		}
	}
	ev.body = cmd.body
	s.fire(ev)
	c.send(frameReply("+OK " + id))
}

// channelData renders the reply to `connect`: the channel dump as one
// header block (CHANNEL_DATA), with the reply headers last.
func (s *Server) channelData(ch *channel, async, full bool) []byte {
	ev := s.newEvent("CHANNEL_DATA", nil)
	ch.appendProfile(ev, "Channel-", true)
	ch.appendChannelHeaders(ev)
	ch.appendProfile(ev, "Caller-", true)
	if ch.other != nil {
		ev.add("Other-Type", ch.otherType)
		appendView(ev, "Other-Leg-", ch.other, false)
	}
	if full {
		ch.appendVars(ev)
	}
	mode, control := "static", "single-channel"
	if async {
		mode = "async"
	}
	if full {
		control = "full"
	}
	ev.hdrs = append(ev.hdrs,
		hdr{"Content-Type", "command/reply"},
		hdr{"Reply-Text", "+OK\n"},
		hdr{"Socket-Mode", mode},
		hdr{"Control", control},
	)
	var b bytes.Buffer
	encodeHeaderBlock(&b, ev.hdrs)
	b.WriteByte('\n')
	return b.Bytes()
}

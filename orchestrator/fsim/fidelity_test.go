package fsim

// Fidelity test: replay what the application sent to a real FreeSWITCH
// 1.10.12 in each reference transcript against the emulator, and compare
// what comes back.
//
// How the replay works
//   - Inbound connections (NOTE "... TCP connected to 127.0.0.1:8021") dial
//     the emulator; outbound socket connections (NOTE "FreeSWITCH connected
//     to our listener 127.0.0.1:PORT") are accepted on a test listener that
//     stands in for that port. Destinations `sockPORT` and `&socket(...:PORT)`
//     in the APP->FS bytes are rewritten to the test listener's port.
//   - UUIDs FreeSWITCH generated are learned as frames are matched (a
//     channel's first key event binds its transcript Unique-ID to the
//     emulator's channel of the same Channel-Name; uuids in matched replies,
//     Bridge-*-Unique-ID, Job-UUID ... bind pairwise) and substituted in
//     later APP->FS bytes.
//   - Before sending an APP->FS record, the replayer waits until, on every
//     connection, the emulator has produced as many frames as the transcript
//     shows before that record, per stream. This keeps the transcript's
//     causality (e.g. uuid_kill after CHANNEL_BRIDGE) with a fast clock.
//
// What is compared, per connection
//   - the sequence of non-event frames (auth/request, command/reply with its
//     Reply-Text, api/response bodies, disconnect notices with their
//     Content-Disposition), UUIDs normalised;
//   - for each channel, the sequence of key events (noiseEvents excluded)
//     and their key headers: Event-Name, Application, Application-Data,
//     Application-Response, Hangup-Cause, Answer-State, Call-Direction,
//     DTMF-Digit, DTMF-Source, Record-File-Path (base name), and the body of
//     BACKGROUND_JOB.
//   Events of different channels interleave differently (FreeSWITCH runs a
//   thread per session), so only the per-channel order is compared.
//   - for every byte-exact event of the transcript, the names and order of
//     all its headers except variable_* (channel state, Caller-*,
//     Other-Leg-*, codec, Bridge-*, Application-*, Playback-*, DTMF-* ...).
//
// What is not compared (and why) is listed in noiseEvents and per scenario
// in the specs below.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// noiseEvents are not compared in any scenario.
var noiseEvents = map[string]string{
	"CODEC":             "media negotiation; the emulator has no codecs to negotiate",
	"CALL_UPDATE":       "SIP display/caller-id updates; no SIP in the emulator",
	"RECV_INFO":         "SIP INFO; no SIP in the emulator",
	"PRESENCE_IN":       "presence; not emulated",
	"PRIVATE_COMMAND":   "internal message plumbing",
	"RE_SCHEDULE":       "timing of the core scheduler",
	"HEARTBEAT":         "timing (interval), checked by its own unit test",
	"API":               "optional; emitted, but its position relative to other events is timing",
	"CHANNEL_STATE":     "state-machine noise: FreeSWITCH emits several per transition depending on thread timing",
	"CHANNEL_CALLSTATE": "state-machine noise, as CHANNEL_STATE",
}

type replaySpec struct {
	file  string
	speed float64
	// heartbeat interval used by the capture
	heartbeat time.Duration
	// skipEvents: event names not compared in this scenario, and why
	skipEvents map[string]string
	// looseReplies: commands whose reply value is not compared (only its kind), and why
	looseReplies map[string]string
	// skipConns: connections not compared at all, and why
	skipConns map[string]string
}

var fidelitySpecs = []replaySpec{
	{
		file: "01-inbound-basics.txt", heartbeat: 10 * time.Second,
		looseReplies: map[string]string{
			"api status":        "uptime and counters differ; first line checked",
			"bgapi status":      "uptime differs",
			"api show channels": "created times and lab-specific columns differ; row count checked",
		},
	},
	{file: "02-outbound-greeting-hangup.txt"},
	// The replayer injects each digit as soon as the prompt before it has
	// stopped; the collector gives up 2–3 simulated seconds later. At the
	// default ×40 that is 50–75 ms of real time, which a loaded CI box has
	// overrun (the digit then lands after the try timed out). ×10 gives the
	// replayer 200–300 ms.
	{file: "03-outbound-ivr-dtmf.txt", speed: 10},
	{file: "04-bridge-parallel.txt"},
	{file: "05-bridge-sequential.txt"},
	{
		file: "06-record-voicemail.txt",
		looseReplies: map[string]string{
			"getvar record_seconds": "depends on how long the caller talks (scripted in the emulator, a tone in the lab)",
			"getvar record_ms":      "as record_seconds",
			"getvar record_samples": "as record_seconds",
		},
	},
	{file: "07-originate-to-socket.txt"},
	{file: "08-inbound-call-control.txt"},
}

func TestFidelity(t *testing.T) {
	for _, sp := range fidelitySpecs {
		sp := sp
		t.Run(strings.TrimSuffix(sp.file, ".txt"), func(t *testing.T) {
			t.Parallel()
			runReplay(t, sp)
		})
	}
}

var uuidRe = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

var keyHeaders = []string{"Event-Name", "Application", "Application-Data", "Application-Response", "Hangup-Cause",
	"Answer-State", "Call-Direction", "DTMF-Digit", "DTMF-Source", "Job-Command"}

type rconn struct {
	label string
	nc    net.Conn
	got   []*tframe
	eof   bool
}

type replayer struct {
	t       *testing.T
	sp      replaySpec
	s       *Server
	recs    []trec
	exp     map[string][]*xframe
	conns   map[string]*rconn
	lns     map[string]*socketServer // by original port
	portMap map[string]string        // original port -> test port

	mu      sync.Mutex
	cond    *sync.Cond
	u2e     map[string]string // transcript uuid -> emulator uuid
	e2u     map[string]string
	expUUID map[string]bool // uuids present in expected frames
}

func runReplay(t *testing.T, sp replaySpec) {
	data, err := os.ReadFile(transcriptPath(t, sp.file))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := parseTranscript(data)
	if err != nil {
		t.Fatal(err)
	}
	if sp.speed == 0 {
		sp.speed = 40
	}
	rp := &replayer{t: t, sp: sp, recs: recs, exp: map[string][]*xframe{}, conns: map[string]*rconn{},
		lns: map[string]*socketServer{}, portMap: map[string]string{}, u2e: map[string]string{}, e2u: map[string]string{}, expUUID: map[string]bool{}}
	rp.cond = sync.NewCond(&rp.mu)
	lastCmd := map[string]string{}
	for i, r := range recs {
		switch r.dir {
		case "APP->FS":
			line, _, _ := strings.Cut(strings.TrimLeft(string(r.data), "\r\n"), "\n")
			lastCmd[r.conn] = strings.TrimSpace(line)
		case "FS->APP":
			x, err := parseExpected(r, i)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			x.cmd = lastCmd[r.conn]
			rp.exp[r.conn] = append(rp.exp[r.conn], x)
			for _, u := range uuidRe.FindAllString(string(r.data), -1) {
				rp.expUUID[strings.ToLower(u)] = true
			}
		case "NOTE":
			if m := regexp.MustCompile(`FreeSWITCH connected to our listener 127\.0\.0\.1:(\d+)`).FindStringSubmatch(r.note); m != nil {
				if rp.lns[m[1]] == nil {
					ss := newSocketServerRaw(t)
					rp.lns[m[1]] = ss
					_, port, _ := net.SplitHostPort(ss.addr())
					rp.portMap[m[1]] = port
				}
			}
		}
	}
	hb := sp.heartbeat
	if hb == 0 {
		hb = 20 * time.Second
	}
	rp.s = newTestServer(t, func(c *Config) {
		// a file of the lab node the transcripts were captured on
		c.Media = map[string]time.Duration{"/usr/freeswitch/share/freeswitch/sounds/ref/greeting.wav": 2 * time.Second}
		c.Speed = sp.speed
		c.HeartbeatInterval = hb
		c.Hostname = "vm"
	})
	for i, r := range recs {
		switch r.dir {
		case "NOTE":
			rp.note(r)
		case "APP->FS":
			rp.syncBefore(i)
			rp.send(r)
		}
	}
	rp.syncBefore(len(recs))
	time.Sleep(50 * time.Millisecond) // let stray extra frames arrive, so they are reported
	rp.compare()
}

// newSocketServerRaw listens like newSocketServer but hands out raw conns.
func newSocketServerRaw(t testing.TB) *socketServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &socketServer{t: t, ln: ln}
}

var (
	inboundNoteRe  = regexp.MustCompile(`conn=(\S+) TCP connected to 127\.0\.0\.1:8021`)
	outboundNoteRe = regexp.MustCompile(`conn=(\S+) FreeSWITCH connected to our listener 127\.0\.0\.1:(\d+)`)
)

func (rp *replayer) note(r trec) {
	t := rp.t
	if m := inboundNoteRe.FindStringSubmatch(r.note); m != nil {
		nc, err := net.Dial("tcp", rp.s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		rp.startConn(m[1], nc)
		return
	}
	if m := outboundNoteRe.FindStringSubmatch(r.note); m != nil {
		ss := rp.lns[m[2]]
		type res struct {
			nc  net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			nc, err := ss.ln.Accept()
			ch <- res{nc, err}
		}()
		select {
		case x := <-ch:
			if x.err != nil {
				t.Fatal(x.err)
			}
			rp.startConn(m[1], x.nc)
		case <-time.After(waitTimeout):
			rp.fail("conn %s: the emulator did not connect to the socket listener for port %s", m[1], m[2])
		}
	}
}

func (rp *replayer) startConn(label string, nc net.Conn) {
	c := &rconn{label: label, nc: nc}
	rp.mu.Lock()
	rp.conns[label] = c
	rp.mu.Unlock()
	rp.t.Cleanup(func() { nc.Close() })
	go func() {
		r := bufio.NewReader(nc)
		for {
			f, err := readFrame(r)
			rp.mu.Lock()
			if err != nil {
				c.eof = true
				rp.cond.Broadcast()
				rp.mu.Unlock()
				return
			}
			c.got = append(c.got, f)
			if f.isEvent() && rp.keyEvent(f.name()) {
				rp.autoBind(label, f)
			}
			rp.cond.Broadcast()
			rp.mu.Unlock()
		}
	}()
}

func (rp *replayer) keyEvent(name string) bool {
	if _, skip := noiseEvents[name]; skip {
		return false
	}
	if _, skip := rp.sp.skipEvents[name]; skip {
		return false
	}
	return true
}

// normName maps an emulator channel name back to the transcript's ports.
func (rp *replayer) normText(s string) string {
	for orig, np := range rp.portMap {
		s = strings.ReplaceAll(s, "sock"+np, "sock"+orig)
		s = strings.ReplaceAll(s, "127.0.0.1:"+np, "127.0.0.1:"+orig)
	}
	return s
}

// autoBind binds an emulator channel seen for the first time on a
// connection to the transcript channel of the same name that appears first.
// Caller holds rp.mu.
func (rp *replayer) autoBind(label string, f *tframe) {
	v := strings.ToLower(f.ev["Unique-ID"])
	if v == "" || rp.e2u[v] != "" {
		return
	}
	if rp.expUUID[v] && rp.u2e[v] == "" {
		rp.bindLocked(v, v)
		return
	}
	name := rp.normText(f.ev["Channel-Name"])
	for _, x := range rp.exp[label] {
		if !x.isEvent() || !rp.keyEvent(x.ev["Event-Name"]) {
			continue
		}
		u := strings.ToLower(x.ev["Unique-ID"])
		if u == "" || rp.u2e[u] != "" || x.ev["Channel-Name"] != name {
			continue
		}
		rp.bindLocked(u, v)
		return
	}
}

func (rp *replayer) bindLocked(u, e string) {
	u, e = strings.ToLower(u), strings.ToLower(e)
	if rp.u2e[u] != "" || rp.e2u[e] != "" {
		return
	}
	rp.u2e[u] = e
	rp.e2u[e] = u
}

// stream keys: "reply" or "ev:<uuid>" (transcript uuid for expected
// frames, emulator uuid for actual ones).
func (rp *replayer) expKey(x *xframe) (string, bool) {
	if !x.isEvent() {
		return "reply", true
	}
	if !rp.keyEvent(x.ev["Event-Name"]) {
		return "", false
	}
	return "ev:" + strings.ToLower(x.ev["Unique-ID"]), true
}

func (rp *replayer) actKey(f *tframe) (string, bool) {
	if !f.isEvent() {
		return "reply", true
	}
	if !rp.keyEvent(f.name()) {
		return "", false
	}
	return "ev:" + strings.ToLower(f.ev["Unique-ID"]), true
}

// mapKey converts an expected stream key to the actual one ("" if unbound).
func (rp *replayer) mapKey(k string) string {
	if k == "reply" || k == "ev:" {
		return k
	}
	e := rp.u2e[strings.TrimPrefix(k, "ev:")]
	if e == "" {
		return ""
	}
	return "ev:" + e
}

// syncBefore waits until every connection has produced, per stream, as
// many frames as the transcript shows before record idx.
func (rp *replayer) syncBefore(idx int) {
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() {
		rp.mu.Lock()
		rp.cond.Broadcast()
		rp.mu.Unlock()
	})
	defer timer.Stop()
	rp.mu.Lock()
	for {
		missing := rp.missingLocked(idx)
		if missing == "" {
			rp.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			rp.mu.Unlock()
			rp.fail("before record %d (%s): still waiting for %s", idx, rp.describeRec(idx), missing)
			return
		}
		rp.cond.Wait()
	}
}

func (rp *replayer) describeRec(idx int) string {
	if idx >= len(rp.recs) {
		return "end of transcript"
	}
	r := rp.recs[idx]
	line, _, _ := strings.Cut(string(r.data), "\n")
	return r.conn + " " + r.dir + " " + line
}

func (rp *replayer) missingLocked(idx int) string {
	for label, xs := range rp.exp {
		c := rp.conns[label]
		want := map[string]int{}
		order := []string{}
		for _, x := range xs {
			if x.rec >= idx {
				break
			}
			k, ok := rp.expKey(x)
			if !ok {
				continue
			}
			if want[k] == 0 {
				order = append(order, k)
			}
			want[k]++
		}
		if len(want) == 0 {
			continue
		}
		if c == nil {
			return "connection " + label
		}
		have := map[string]int{}
		for _, f := range c.got {
			if k, ok := rp.actKey(f); ok {
				have[k]++
			}
		}
		rp.bindPrefixLocked(label)
		for _, k := range order {
			ak := rp.mapKey(k)
			if ak == "" {
				return fmt.Sprintf("%s: a channel for %s (%s)", label, k, rp.firstName(label, k))
			}
			if have[ak] < want[k] {
				if c.eof {
					return fmt.Sprintf("%s: stream %s has %d frames, transcript %d, and the connection is closed", label, k, have[ak], want[k])
				}
				return fmt.Sprintf("%s: stream %s has %d frames, transcript %d", label, k, have[ak], want[k])
			}
		}
	}
	return ""
}

func (rp *replayer) firstName(label, k string) string {
	for _, x := range rp.exp[label] {
		if kk, ok := rp.expKey(x); ok && kk == k {
			return x.ev["Channel-Name"] + " " + x.ev["Event-Name"]
		}
	}
	return ""
}

// bindPrefixLocked binds uuids found in frames matched so far.
func (rp *replayer) bindPrefixLocked(label string) {
	c := rp.conns[label]
	if c == nil {
		return
	}
	exp, act := rp.streams(label)
	for k, xs := range exp {
		ys := act[rp.mapKey(k)]
		for i := 0; i < len(xs) && i < len(ys); i++ {
			rp.bindFrames(xs[i], ys[i])
		}
	}
}

func (rp *replayer) streams(label string) (map[string][]*xframe, map[string][]*tframe) {
	exp := map[string][]*xframe{}
	for _, x := range rp.exp[label] {
		if k, ok := rp.expKey(x); ok {
			exp[k] = append(exp[k], x)
		}
	}
	act := map[string][]*tframe{}
	if c := rp.conns[label]; c != nil {
		for _, f := range c.got {
			if k, ok := rp.actKey(f); ok {
				act[k] = append(act[k], f)
			}
		}
	}
	return exp, act
}

var bindHeaders = []string{"Unique-ID", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Other-Leg-Unique-ID", "Job-UUID",
	"Controlled-Session-UUID", "variable_signal_bond", "variable_last_bridge_to", "variable_originating_leg_uuid", "variable_bridge_uuid"}

func (rp *replayer) bindFrames(x *xframe, y *tframe) {
	get := func(m map[string]string, k string) string { return m[k] }
	for _, h := range bindHeaders {
		xv, yv := get(x.ev, h), get(y.ev, h)
		if xv == "" {
			xv = x.outer[h]
		}
		if yv == "" {
			yv = y.get(h)
		}
		if uuidRe.MatchString(xv) && uuidRe.MatchString(yv) {
			rp.bindLocked(xv, yv)
		}
	}
	pair := func(a, b string) {
		xu, yu := uuidRe.FindAllString(a, -1), uuidRe.FindAllString(b, -1)
		if len(xu) == len(yu) {
			for i := range xu {
				rp.bindLocked(xu[i], yu[i])
			}
		}
	}
	pair(urlDecode(x.outer["Reply-Text"]), urlDecode(y.get("Reply-Text")))
	if x.isEvent() {
		pair(x.body, y.evBody)
	} else {
		pair(x.body, y.body)
	}
}

// send writes an APP->FS record with uuids and ports substituted.
func (rp *replayer) send(r trec) {
	rp.mu.Lock()
	c := rp.conns[r.conn]
	data := string(r.data)
	for _, u := range uuidRe.FindAllString(data, -1) {
		lu := strings.ToLower(u)
		if e := rp.u2e[lu]; e != "" {
			data = strings.ReplaceAll(data, u, e)
		} else if rp.expUUID[lu] && !rp.appChosen(lu, r) {
			rp.mu.Unlock()
			rp.fail("%s: uuid %s used before it was learned", rp.describeRec(rp.recIndex(r)), u)
			return
		}
	}
	rp.mu.Unlock()
	for orig, np := range rp.portMap {
		data = strings.ReplaceAll(data, "sock"+orig, "sock"+np)
		data = strings.ReplaceAll(data, "127.0.0.1:"+orig, "127.0.0.1:"+np)
	}
	if c == nil {
		rp.fail("no connection %s", r.conn)
		return
	}
	if _, err := c.nc.Write([]byte(data)); err != nil {
		rp.fail("%s: write: %v", r.conn, err)
	}
}

// appChosen: the uuid first appears in what the application sent
// (origination_uuid, Job-UUID), so the emulator uses it as is.
func (rp *replayer) appChosen(u string, upto trec) bool {
	for _, r := range rp.recs {
		if strings.Contains(strings.ToLower(string(r.data)), u) {
			return r.dir == "APP->FS"
		}
	}
	return false
}

func (rp *replayer) recIndex(r trec) int {
	for i := range rp.recs {
		if rp.recs[i].at == r.at && rp.recs[i].conn == r.conn && rp.recs[i].dir == r.dir {
			return i
		}
	}
	return len(rp.recs)
}

func (rp *replayer) fail(format string, args ...any) {
	rp.t.Helper()
	rp.mu.Lock()
	dump := rp.dumpLocked()
	rp.mu.Unlock()
	rp.t.Fatalf(format+"\n%s", append(args, dump)...)
}

func (rp *replayer) dumpLocked() string {
	var b strings.Builder
	labels := make([]string, 0, len(rp.conns))
	for l := range rp.conns {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		c := rp.conns[l]
		fmt.Fprintf(&b, "--- %s received (eof=%v):\n", l, c.eof)
		for _, f := range c.got {
			if f.isEvent() {
				if rp.keyEvent(f.name()) {
					fmt.Fprintf(&b, "   %s {%s} %s %s %s\n", f.name(), f.ev["Channel-Name"], f.ev["Application"], f.ev["Hangup-Cause"], f.ev["Application-Response"])
				}
			} else {
				fmt.Fprintf(&b, "   [%s] %q %q\n", f.ctype, f.get("Reply-Text"), trunc(f.body, 80))
			}
		}
	}
	return b.String()
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ---- comparison ----

func (rp *replayer) normValue(s string) string {
	return uuidRe.ReplaceAllString(rp.normText(s), "<uuid>")
}

func (rp *replayer) compare() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	t := rp.t
	var errs []string
	labels := make([]string, 0, len(rp.exp))
	for l := range rp.exp {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, label := range labels {
		if why, ok := rp.sp.skipConns[label]; ok {
			t.Logf("conn %s not compared: %s", label, why)
			continue
		}
		exp, act := rp.streams(label)
		used := map[string]bool{}
		keys := make([]string, 0, len(exp))
		for k := range exp {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ak := rp.mapKey(k)
			used[ak] = true
			xs, ys := exp[k], act[ak]
			n := len(xs)
			if len(ys) > n {
				n = len(ys)
			}
			for i := 0; i < n; i++ {
				var x *xframe
				var y *tframe
				if i < len(xs) {
					x = xs[i]
				}
				if i < len(ys) {
					y = ys[i]
				}
				if msg := rp.diff(x, y); msg != "" {
					errs = append(errs, fmt.Sprintf("%s %s #%d: %s", label, k, i, msg))
				}
				if msg := rp.shapeDiff(x, y); msg != "" {
					errs = append(errs, fmt.Sprintf("%s %s #%d: header names: %s", label, k, i, msg))
				}
			}
		}
		nrep, nev := len(exp["reply"]), 0
		for k, xs := range exp {
			if k != "reply" {
				nev += len(xs)
			}
		}
		t.Logf("conn %s: compared %d replies and %d key events on %d channels", label, nrep, nev, len(exp)-1)
		for k, ys := range act {
			if used[k] {
				continue
			}
			for _, y := range ys {
				errs = append(errs, fmt.Sprintf("%s: unexpected %s on channel %s (%s)", label, y.name(), y.ev["Channel-Name"], k))
			}
		}
	}
	if len(errs) > 0 {
		if len(errs) > 40 {
			errs = append(errs[:40], fmt.Sprintf("... and %d more", len(errs)-40))
		}
		t.Errorf("%d differences from %s:\n%s\n%s", len(errs), rp.sp.file, strings.Join(errs, "\n"), rp.dumpLocked())
	}
	for l, x := range rp.sp.looseReplies {
		t.Logf("reply to %q compared loosely: %s", l, x)
	}
	for l, x := range rp.sp.skipEvents {
		t.Logf("event %s not compared: %s", l, x)
	}
}

// headerShape lists an event's non-variable header names in order.
func headerShape(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, "variable_") {
			continue
		}
		out = append(out, n)
	}
	return out
}

func (rp *replayer) shapeDiff(x *xframe, y *tframe) string {
	if x == nil || y == nil || x.condensed || !x.isEvent() || x.ctype != "text/event-plain" {
		return ""
	}
	var xn, yn []string
	xn = append(xn, x.order...)
	for _, h := range y.evOrder {
		yn = append(yn, h.name)
	}
	xs, ys := headerShape(xn), headerShape(yn)
	if strings.Join(xs, ",") == strings.Join(ys, ",") {
		return ""
	}
	in := func(v []string) map[string]bool {
		m := map[string]bool{}
		for _, n := range v {
			m[n] = true
		}
		return m
	}
	xm, ym := in(xs), in(ys)
	var missing, extra, cx, cy []string
	for _, n := range xs {
		if !ym[n] {
			missing = append(missing, n)
		} else {
			cx = append(cx, n)
		}
	}
	for _, n := range ys {
		if !xm[n] {
			extra = append(extra, n)
		} else {
			cy = append(cy, n)
		}
	}
	order := ""
	if strings.Join(cx, ",") != strings.Join(cy, ",") {
		order = " ORDER"
	}
	return fmt.Sprintf("%s {%s} missing=%v extra=%v%s", x.ev["Event-Name"], x.ev["Channel-Name"], missing, extra, order)
}

func (rp *replayer) diff(x *xframe, y *tframe) string {
	switch {
	case x == nil:
		return fmt.Sprintf("extra %s", y)
	case y == nil:
		if x.isEvent() {
			return fmt.Sprintf("missing event %s {%s} %s", x.ev["Event-Name"], x.ev["Channel-Name"], x.ev["Application"])
		}
		return fmt.Sprintf("missing %s %q %q", x.ctype, x.outer["Reply-Text"], trunc(x.body, 60))
	}
	if x.ctype != y.ctype {
		return fmt.Sprintf("content-type %q, want %q (%s)", y.ctype, x.ctype, y)
	}
	if x.isEvent() {
		for _, h := range keyHeaders {
			xv, ok := x.ev[h]
			if !ok {
				continue
			}
			yv := y.ev[h]
			if h == "Application-Data" {
				xv, yv = rp.normValue(xv), rp.normValue(yv)
			}
			if xv != yv {
				return fmt.Sprintf("%s %s: %s=%q, want %q", x.ev["Event-Name"], x.ev["Application"], h, yv, xv)
			}
		}
		if x.ev["Event-Name"] == "BACKGROUND_JOB" && !x.condensed && !strings.Contains(x.ev["Job-Command"], "status") {
			if rp.normValue(x.body) != rp.normValue(y.evBody) {
				return fmt.Sprintf("BACKGROUND_JOB body %q, want %q", y.evBody, x.body)
			}
		}
		if p := x.ev["Record-File-Path"]; p != "" && rp.normValue(filepath.Base(p)) != rp.normValue(filepath.Base(y.ev["Record-File-Path"])) {
			return fmt.Sprintf("%s Record-File-Path %q, want base %q", x.ev["Event-Name"], y.ev["Record-File-Path"], filepath.Base(p))
		}
		return ""
	}
	loose := ""
	for prefix, why := range rp.sp.looseReplies {
		if strings.HasPrefix(x.cmd, prefix) {
			loose = why
		}
	}
	switch x.ctype {
	case "command/reply":
		if x.outer["Event-Name"] == "CHANNEL_DATA" {
			for _, h := range []string{"Reply-Text", "Socket-Mode", "Control", "Event-Name"} {
				if x.outer[h] != y.get(h) {
					return fmt.Sprintf("connect reply %s=%q, want %q", h, y.get(h), x.outer[h])
				}
			}
			for _, h := range []string{"Call-Direction", "Answer-State", "Channel-Call-State", "Caller-Caller-ID-Number", "Caller-Destination-Number", "Channel-Name"} {
				if xv, yv := x.ev[h], rp.normText(y.ev[h]); xv != yv {
					return fmt.Sprintf("connect data %s=%q, want %q", h, yv, xv)
				}
			}
			return ""
		}
		xv, yv := urlDecode(x.outer["Reply-Text"]), urlDecode(y.get("Reply-Text"))
		if loose != "" {
			if strings.HasPrefix(xv, "-ERR") != strings.HasPrefix(yv, "-ERR") {
				return fmt.Sprintf("reply to %q: %q, want %q", x.cmd, yv, xv)
			}
			return ""
		}
		if rp.normValue(xv) != rp.normValue(yv) {
			return fmt.Sprintf("reply to %q: %q, want %q", x.cmd, yv, xv)
		}
	case "api/response":
		if loose != "" {
			xl, _, _ := strings.Cut(x.body, " ")
			yl, _, _ := strings.Cut(y.body, " ")
			if strings.HasPrefix(x.cmd, "api show") {
				xl, yl = fmt.Sprint(strings.Count(x.body, "\n")), fmt.Sprint(strings.Count(y.body, "\n"))
			}
			if xl != yl {
				return fmt.Sprintf("api %q: %q, want %q", x.cmd, trunc(y.body, 80), trunc(x.body, 80))
			}
			return ""
		}
		if rp.normValue(x.body) != rp.normValue(y.body) {
			return fmt.Sprintf("api %q: %q, want %q", x.cmd, y.body, x.body)
		}
	case "text/disconnect-notice":
		for _, h := range []string{"Content-Disposition", "Linger-Time"} {
			if x.outer[h] != y.get(h) {
				return fmt.Sprintf("disconnect-notice %s=%q, want %q", h, y.get(h), x.outer[h])
			}
		}
		if x.body != y.body {
			return fmt.Sprintf("disconnect-notice body %q, want %q", y.body, x.body)
		}
	}
	return ""
}

package fsim

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ocall is the app side of an outbound socket session, as Switchyard runs it.
type ocall struct {
	t    *testing.T
	c    *tclient
	data *tframe
	uuid string
	n    atomic.Int64
}

// acceptCall accepts the emulator's socket connection and sets it up:
// connect, myevents, linger, plus any extra commands.
func acceptCall(t *testing.T, ss *socketServer, extra ...string) *ocall {
	t.Helper()
	c := ss.accept()
	data := c.cmd("connect")
	if data.get("Reply-Text") != "%2BOK%0A" {
		t.Fatalf("connect: %v", data)
	}
	o := &ocall{t: t, c: c, data: data, uuid: data.ev["Unique-ID"]}
	c.okCmd("+OK Events Enabled", "myevents")
	c.okCmd("+OK will linger", "linger")
	for _, e := range extra {
		c.cmd(e)
	}
	return o
}

// exec sends sendmsg execute and returns the Event-UUID used.
func (o *ocall) exec(app, arg string) string {
	o.t.Helper()
	id := fmt.Sprintf("step-%d", o.n.Add(1))
	lines := []string{"sendmsg", "call-command: execute", "execute-app-name: " + app}
	if arg != "" {
		lines = append(lines, "execute-app-arg: "+arg)
	}
	lines = append(lines, "Event-UUID: "+id)
	o.c.okCmd("+OK", lines...)
	return id
}

// run executes an application and waits for its EXECUTE_COMPLETE,
// returning every event up to it.
func (o *ocall) run(app, arg string) ([]*tframe, *tframe) {
	o.t.Helper()
	id := o.exec(app, arg)
	evs := o.c.collectUntil(func(f *tframe) bool {
		return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application-UUID"] == id
	})
	return evs, evs[len(evs)-1]
}

func (o *ocall) getvar(name string) string {
	o.t.Helper()
	return o.c.cmd("getvar " + name).get("Reply-Text")
}

func (o *ocall) hangup(cause string) {
	o.t.Helper()
	o.c.okCmd("+OK", "sendmsg", "call-command: hangup", "hangup-cause: "+cause)
}

// waitHangupComplete waits for this channel's CHANNEL_HANGUP_COMPLETE.
func (o *ocall) waitHangupComplete() *tframe {
	o.t.Helper()
	return o.c.waitEvent("HANGUP_COMPLETE", func(f *tframe) bool {
		return f.name() == "CHANNEL_HANGUP_COMPLETE" && f.ev["Unique-ID"] == o.uuid
	})
}

// setupCall places an inbound call with PlaceCall and accepts its socket.
func setupCall(t *testing.T, script CallScript, mut ...func(*Config)) (*Server, *Call, *ocall) {
	t.Helper()
	ss := newSocketServer(t)
	s := newTestServer(t, append([]func(*Config){func(c *Config) { c.SocketAddr = ss.addr() }}, mut...)...)
	if script.To == "" {
		script.To = "+918000000001"
	}
	if script.From == "" {
		script.From = "+919800000001"
	}
	call, err := s.PlaceCall(context.Background(), script)
	if err != nil {
		t.Fatal(err)
	}
	return s, call, acceptCall(t, ss)
}

func waitDone(t *testing.T, c *Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("call not done within %v", waitTimeout)
	}
}

// ---- play_and_get_digits / read ----

func TestPlayAndGetDigits(t *testing.T) {
	const prompt, invalid = "tone_stream://%(300,0,800)", "tone_stream://%(150,100,300);loops=2"
	pagd := func(min, max, tries, timeout int, v, re string) string {
		return fmt.Sprintf("%d %d %d %d # %s %s %s %s 1000", min, max, tries, timeout, prompt, invalid, v, re)
	}
	countPlaybacks := func(evs []*tframe) int {
		n := 0
		for _, f := range evs {
			if f.name() == "PLAYBACK_START" {
				n++
			}
		}
		return n
	}
	t.Run("valid with terminator", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{Digits: []string{"1234#"}})
		o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
		o.run("answer", "")
		evs, done := o.run("play_and_get_digits", pagd(1, 6, 2, 5000, "pin_digits", `^\d{1,4}$`))
		if done.ev["variable_pin_digits"] != "1234" || done.ev["variable_read_result"] != "success" || done.ev["Application-Response"] != "_none_" {
			t.Fatalf("complete: pin=%q result=%q", done.ev["variable_pin_digits"], done.ev["variable_read_result"])
		}
		digits := ""
		for _, f := range evs {
			if f.name() == "DTMF" {
				digits += f.ev["DTMF-Digit"]
				if f.ev["DTMF-Source"] != "RTP" || f.ev["DTMF-Duration"] != "2080" {
					t.Fatalf("dtmf headers %v", f.ev)
				}
			}
		}
		if digits != "1234#" || countPlaybacks(evs) != 1 {
			t.Fatalf("digits %q playbacks %d: %v", digits, countPlaybacks(evs), names(evs))
		}
		if got := o.getvar("read_terminator_used"); got != "#" {
			t.Fatalf("read_terminator_used %q", got)
		}
	})
	t.Run("timeout plays invalid on every try", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{})
		o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
		o.run("answer", "")
		evs, _ := o.run("play_and_get_digits", pagd(1, 4, 2, 500 /* clamped to 1000 */, "pin2", `^\d{1,4}$`))
		if n := countPlaybacks(evs); n != 4 {
			t.Fatalf("want prompt+invalid twice (4 playbacks), got %d: %v", n, names(evs))
		}
		if got := o.getvar("pin2"); got != "-ERR command not found" {
			t.Fatalf("pin2 = %q", got)
		}
		if got := o.getvar("read_result"); got != "failure" {
			t.Fatalf("read_result = %q", got)
		}
	})
	t.Run("invalid then valid", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{Digits: []string{"92"}})
		o.run("answer", "")
		o.run("play_and_get_digits", pagd(1, 1, 3, 4000, "menu_choice", `^[12]$`))
		if a, b := o.getvar("menu_choice"), o.getvar("menu_choice_invalid"); a != "2" || b != "9" {
			t.Fatalf("menu_choice=%q invalid=%q", a, b)
		}
	})
	t.Run("all invalid", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{Digits: []string{"78"}})
		o.run("answer", "")
		o.run("play_and_get_digits", pagd(1, 1, 2, 3000, "menu2", `^[12]$`))
		if a, b, r := o.getvar("menu2"), o.getvar("menu2_invalid"), o.getvar("read_result"); a != "-ERR command not found" || b != "8" || r != "failure" {
			t.Fatalf("menu2=%q invalid=%q result=%q", a, b, r)
		}
	})
	t.Run("uuid_recv_dtmf feeds the collector", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{})
		o.run("answer", "")
		id := o.exec("play_and_get_digits", pagd(2, 2, 1, 10000, "two", `^\d+$`))
		o.c.waitEvent("EXECUTE", func(f *tframe) bool { return f.ev["Application-UUID"] == id })
		if got := o.c.cmd("api uuid_recv_dtmf " + o.uuid + " 42").body; got != "+OK "+o.uuid+" received DTMF 42.\n" {
			t.Fatalf("recv_dtmf reply %q", got)
		}
		done := o.c.waitEvent("COMPLETE", func(f *tframe) bool { return f.ev["Application-UUID"] == id && f.name() == "CHANNEL_EXECUTE_COMPLETE" })
		if done.ev["variable_two"] != "42" {
			t.Fatalf("two = %q", done.ev["variable_two"])
		}
	})
	t.Run("read", func(t *testing.T) {
		_, _, o := setupCall(t, CallScript{Digits: []string{"55#", ""}})
		o.run("answer", "")
		_, done := o.run("read", "1 4 "+prompt+" acct 3000 #")
		if done.ev["variable_acct"] != "55" || done.ev["variable_read_result"] != "success" {
			t.Fatalf("read: %q %q", done.ev["variable_acct"], done.ev["variable_read_result"])
		}
		_, done = o.run("read", "1 4 "+prompt+" acct2 1000 #")
		if done.ev["variable_read_result"] != "timeout" {
			t.Fatalf("read timeout: %q", done.ev["variable_read_result"])
		}
	})
}

// ---- greeting, hangup, linger ----

func TestGreetingAndHangupSequence(t *testing.T) {
	_, call, o := setupCall(t, CallScript{})
	o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
	evs, _ := o.run("answer", "")
	if got := strings.Join(names(evs), " "); got != "CHANNEL_PARK CHANNEL_EXECUTE(answer) CHANNEL_ANSWER CHANNEL_EXECUTE_COMPLETE(answer)" {
		t.Fatalf("answer events: %s", got)
	}
	greeting := testWAV(t, "greeting.wav", 2000)
	evs, done := o.run("playback", greeting)
	if done.ev["Application-Response"] != "FILE PLAYED" || done.ev["variable_playback_ms"] != "2000" {
		t.Fatalf("playback: %q %q", done.ev["Application-Response"], done.ev["variable_playback_ms"])
	}
	if evs[1].name() != "PLAYBACK_START" || evs[1].ev["Playback-File-Path"] != greeting || evs[2].ev["Playback-Status"] != "done" {
		t.Fatalf("playback events: %v", names(evs))
	}
	evs, _ = o.run("speak", "flite|slt|Thank you for calling. Goodbye.")
	if got := strings.Join(names(evs), " "); got != "CHANNEL_EXECUTE(speak) CHANNEL_EXECUTE_COMPLETE(speak)" {
		t.Fatalf("speak events (no PLAYBACK_*): %s", got)
	}
	o.hangup("NORMAL_CLEARING")
	evs = o.c.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_HANGUP_COMPLETE" })
	want := "CHANNEL_HANGUP CHANNEL_UNPARK CHANNEL_EXECUTE_COMPLETE(socket) CHANNEL_STATE CHANNEL_STATE CHANNEL_HANGUP_COMPLETE"
	if got := strings.Join(names(evs), " "); got != want {
		t.Fatalf("hangup events:\n got %s\nwant %s", got, want)
	}
	hc := evs[len(evs)-1]
	for k, v := range map[string]string{"Hangup-Cause": "NORMAL_CLEARING", "variable_hangup_cause_q850": "16", "variable_last_app": "speak",
		"Caller-Caller-ID-Number": "+919800000001", "Caller-Destination-Number": "+918000000001", "Call-Direction": "inbound"} {
		if hc.ev[k] != v {
			t.Errorf("HANGUP_COMPLETE %s = %q, want %q", k, hc.ev[k], v)
		}
	}
	if hc.ev["variable_answer_epoch"] == "0" || hc.ev["variable_billsec"] == "" || hc.ev["variable_duration"] == "" {
		t.Errorf("billing vars missing: %v", hc.ev)
	}
	n := o.c.reply()
	if n.ctype != "text/disconnect-notice" || n.get("Content-Disposition") != "linger" || n.get("Linger-Time") != "-1" || n.get("Controlled-Session-UUID") != o.uuid {
		t.Fatalf("linger notice: %v", n.outer)
	}
	o.c.okCmd("+OK bye", "exit")
	if d := o.c.reply(); d.get("Content-Disposition") != "disconnect" {
		t.Fatalf("final notice: %v", d.outer)
	}
	o.c.waitClosed()
	waitDone(t, call)
	if call.HangupCause() != "NORMAL_CLEARING" {
		t.Fatalf("cause %q", call.HangupCause())
	}
}

func TestLinger(t *testing.T) {
	t.Run("no linger: disconnect right after HANGUP_COMPLETE", func(t *testing.T) {
		ss := newSocketServer(t)
		s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
		if _, err := s.PlaceCall(context.Background(), CallScript{To: "+918000000002"}); err != nil {
			t.Fatal(err)
		}
		c := ss.accept()
		c.cmd("connect")
		c.okCmd("+OK Events Enabled", "myevents")
		c.okCmd("+OK", "sendmsg", "call-command: hangup", "hangup-cause: USER_BUSY")
		c.waitName("CHANNEL_HANGUP_COMPLETE")
		n := c.reply()
		if n.get("Content-Disposition") != "disconnect" {
			t.Fatalf("want disconnect notice, got %v", n.outer)
		}
		c.waitClosed()
	})
	t.Run("linger N expires", func(t *testing.T) {
		ss := newSocketServer(t)
		s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
		if _, err := s.PlaceCall(context.Background(), CallScript{To: "+918000000003"}); err != nil {
			t.Fatal(err)
		}
		c := ss.accept()
		c.cmd("connect")
		c.okCmd("+OK Events Enabled", "myevents")
		c.okCmd("+OK will linger 2 seconds", "linger 2")
		c.okCmd("+OK", "sendmsg", "call-command: execute", "execute-app-name: hangup", "execute-app-arg: USER_BUSY")
		hc := c.waitName("CHANNEL_HANGUP_COMPLETE")
		if hc.ev["Hangup-Cause"] != "USER_BUSY" {
			t.Fatalf("cause %q", hc.ev["Hangup-Cause"])
		}
		if n := c.reply(); n.get("Content-Disposition") != "linger" || n.get("Linger-Time") != "2" {
			t.Fatalf("linger notice %v", n.outer)
		}
		if n := c.reply(); n.get("Content-Disposition") != "disconnect" {
			t.Fatalf("after linger: %v", n.outer)
		}
		c.waitClosed()
	})
	t.Run("exit before hangup ends the call", func(t *testing.T) {
		_, call, o := setupCall(t, CallScript{})
		o.run("answer", "")
		o.c.okCmd("+OK bye", "exit")
		if d := o.c.reply(); d.get("Content-Disposition") != "disconnect" {
			t.Fatalf("notice %v", d.outer)
		}
		waitDone(t, call)
		if call.HangupCause() != "NORMAL_CLEARING" {
			t.Fatalf("cause %q", call.HangupCause())
		}
	})
	t.Run("nolinger and inbound linger", func(t *testing.T) {
		s := newTestServer(t)
		c := authed(t, s)
		c.okCmd("-ERR not controlling a session", "linger")
		c.okCmd("-ERR not controlling a session", "nolinger")
	})
}

// ---- caller script ----

func TestCallScript(t *testing.T) {
	t.Run("hang up mid-greeting", func(t *testing.T) {
		_, call, o := setupCall(t, CallScript{HangupOnApp: "playback", HangupOnAppN: 2})
		a, b := testWAV(t, "a.wav", 1000), testWAV(t, "b.wav", 3000)
		o.run("answer", "")
		o.run("playback", a)
		id := o.exec("playback", b)
		done := o.c.waitEvent("COMPLETE", func(f *tframe) bool { return f.ev["Application-UUID"] == id && f.name() == "CHANNEL_EXECUTE_COMPLETE" })
		if done.ev["Application-Response"] != "PLAYBACK ERROR" {
			t.Fatalf("response %q", done.ev["Application-Response"])
		}
		waitDone(t, call)
		want := []string{"answer", "playback " + a, "playback " + b}
		if got := call.Apps(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("apps %q", got)
		}
	})
	t.Run("hang up after", func(t *testing.T) {
		// 30 s of simulated time (0.3 s real at Speed 100): the socket
		// must be set up before the caller hangs up, even on a loaded machine.
		_, call, o := setupCall(t, CallScript{HangupAfter: 30 * time.Second})
		o.run("answer", "")
		o.exec("playback", "tone_stream://%(1000,0,440);loops=-1")
		hc := o.waitHangupComplete()
		if hc.ev["Hangup-Cause"] != "NORMAL_CLEARING" {
			t.Fatalf("cause %q", hc.ev["Hangup-Cause"])
		}
		waitDone(t, call)
	})
}

// ---- recording ----

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	_, _, o := setupCall(t, CallScript{Talk: 2 * time.Second}, func(c *Config) { c.RecordingsDir = dir })
	o.c.okCmd("+OK event listener enabled plain", "event plain RECORD_START RECORD_STOP")
	o.run("answer", "")
	evs, done := o.run("record", "vm/msg1.wav 20 200 2")
	if got := strings.Join(names(evs), " "); got != "CHANNEL_EXECUTE(record) RECORD_START RECORD_STOP CHANNEL_EXECUTE_COMPLETE(record)" {
		t.Fatalf("record events %s", got)
	}
	path := filepath.Join(dir, "vm/msg1.wav")
	if evs[1].ev["Record-File-Path"] != path {
		t.Fatalf("path %q", evs[1].ev["Record-File-Path"])
	}
	if done.ev["variable_record_ms"] != "2000" || done.ev["variable_silence_hits_exhausted"] != "true" || done.ev["variable_record_seconds"] != "2" {
		t.Fatalf("vars ms=%q silence=%q", done.ev["variable_record_ms"], done.ev["variable_silence_hits_exhausted"])
	}
	checkWAV(t, path, 2000)

	// time limit: the caller starts talking just after the recording starts
	_, done = o.run("record", filepath.Join(dir, "limit.wav")+" 1")
	ms, _ := strconv.Atoi(done.ev["variable_record_ms"])
	if ms <= 0 || ms > 1000 || done.ev["variable_silence_hits_exhausted"] != "false" { // the gap depends on scheduling (fast clock)
		t.Fatalf("limit record_ms %q silence %q", done.ev["variable_record_ms"], done.ev["variable_silence_hits_exhausted"])
	}
	checkWAV(t, filepath.Join(dir, "limit.wav"), ms)

	// record_session until hangup
	evs, _ = o.run("record_session", "sess.wav")
	if got := strings.Join(names(evs), " "); got != "CHANNEL_EXECUTE(record_session) RECORD_START CHANNEL_EXECUTE_COMPLETE(record_session)" {
		t.Fatalf("record_session events %s", got)
	}
	o.run("sleep", "1500")
	o.hangup("NORMAL_CLEARING")
	evs = o.c.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_HANGUP_COMPLETE" })
	got := strings.Join(names(evs), " ")
	if !strings.Contains(got, "CHANNEL_EXECUTE_COMPLETE(socket) CHANNEL_STATE RECORD_STOP CHANNEL_STATE CHANNEL_HANGUP_COMPLETE") {
		t.Fatalf("RECORD_STOP must come after COMPLETE(socket), before HANGUP_COMPLETE: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "sess.wav")); err != nil {
		t.Fatal(err)
	}
}

// testWAV writes a WAV of ms milliseconds in a temporary folder.
func testWAV(t *testing.T, name string, ms int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if _, err := writeWAV(p, ms, ms); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkWAV(t *testing.T, path string, ms int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 44+ms*16 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " ||
		binary.LittleEndian.Uint16(b[22:]) != 1 || binary.LittleEndian.Uint32(b[24:]) != 8000 || binary.LittleEndian.Uint16(b[34:]) != 16 ||
		binary.LittleEndian.Uint32(b[40:]) != uint32(ms*16) {
		t.Fatalf("%s: not an 8 kHz mono 16-bit WAV of %d ms (%d bytes)", path, ms, len(b))
	}
}

// ---- socket failures ----

func TestSocketRefused(t *testing.T) {
	ss := newSocketServer(t)
	addr := ss.addr()
	ss.ln.Close() // nothing listens any more
	s := newTestServer(t, func(c *Config) { c.SocketAddr = addr })
	call, err := s.PlaceCall(context.Background(), CallScript{To: "+918000000009"})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, call)
	if call.HangupCause() != "NORMAL_TEMPORARY_FAILURE" {
		t.Fatalf("cause %q", call.HangupCause())
	}
}

// TestMediaTick: a command that reaches a channel with nothing to run
// starts on its next 20 ms media tick, so a round trip costs the caller
// up to a tick; commands queued behind a running application start as it
// ends, one after the other (switch_ivr_parse_all_events), with no tick
// between them.
func TestMediaTick(t *testing.T) {
	_, _, o := setupCall(t, CallScript{}, func(c *Config) { c.Tick, c.Speed = DefaultTick, 1 })
	o.run("answer", "")
	o.run("set", "a=1")
	start := time.Now()
	o.run("set", "b=2")
	if el := time.Since(start); el < DefaultTick/2 {
		t.Fatalf("a set sent once the last ended took %v, want the wait for the next tick (%v)", el, DefaultTick)
	}

	ids := []string{o.execLocked("playback", "tone_stream://%(100,0,440)"), o.execLocked("set", "c=3"), o.execLocked("set", "d=4")}
	ended := map[string]int64{}
	for len(ended) < len(ids) {
		f := o.c.waitEvent("the queued steps", func(f *tframe) bool { return f.name() == "CHANNEL_EXECUTE_COMPLETE" })
		ts, _ := strconv.ParseInt(f.ev["Event-Date-Timestamp"], 10, 64)
		ended[f.ev["Application-UUID"]] = ts
	}
	for _, id := range ids[1:] {
		if gap := time.Duration(ended[id]-ended[ids[0]]) * time.Microsecond; gap < 0 || gap > DefaultTick/4 {
			t.Errorf("%s ended %v after the playback it was queued behind, want at once", id, gap)
		}
	}
	if o.getvar("d") != "4" {
		t.Fatal("set d")
	}
}

func TestVariableApps(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	o.run("answer", "")
	o.run("multiset", "x_a=1 'x_b=two words'")
	o.run("multiset", "^^:x_c=3:x_d=4,5")
	o.run("set", "x_e=5=6")
	o.run("unset", "x_a")
	for k, want := range map[string]string{"x_a": "-ERR command not found", "x_b": "two words", "x_c": "3", "x_d": "4,5", "x_e": "5=6"} {
		if got := o.getvar(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	o.run("export", "x_exported=yes")
	o.run("export", "nolocal:x_remote_only=1")
	if got := o.getvar("x_remote_only"); got != "-ERR command not found" {
		t.Errorf("nolocal export set locally: %q", got)
	}
	b := "e2000000-0000-4000-8000-000000000001"
	o.exec("bridge", "{continue_on_fail=true}[origination_uuid="+b+"]sofia/gateway/gw/+15550100001")
	o.c.waitName("CHANNEL_BRIDGE")
	c := authed(t, s)
	for k, want := range map[string]string{"x_exported": "yes", "x_remote_only": "1", "originating_leg_uuid": o.uuid, "continue_on_fail": "true"} {
		if got := c.api("uuid_getvar " + b + " " + k); got != want {
			t.Errorf("B-leg %s = %q, want %q", k, got, want)
		}
	}
}

package fsim

import (
	"strings"
	"testing"
)

func TestSmokeInboundCallToSocket(t *testing.T) {
	ss := newSocketServer(t)
	s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
	ctl := authed(t, s)
	ctl.okCmd("+OK event listener enabled plain", "event plain BACKGROUND_JOB")
	r := ctl.cmd("bgapi originate {origination_uuid=11111111-1111-4111-8111-111111111111,origination_caller_id_number=+919800000001}loopback/+918000000001/public &park()")
	if !strings.HasPrefix(r.get("Reply-Text"), "+OK Job-UUID: ") {
		t.Fatalf("bgapi reply %v", r)
	}
	out := ss.accept()
	data := out.cmd("connect")
	if data.ev["Caller-Caller-ID-Number"] != "+919800000001" || data.ev["Caller-Destination-Number"] != "+918000000001" {
		t.Fatalf("connect data: %v", data.evOrder)
	}
	if data.get("Reply-Text") != "%2BOK%0A" || data.get("Control") != "full" || data.get("Socket-Mode") != "async" {
		t.Fatalf("connect reply headers: %v", data.outer[len(data.outer)-4:])
	}
	out.okCmd("+OK Events Enabled", "myevents")
	out.okCmd("+OK will linger", "linger")
	out.okCmd("+OK", "sendmsg", "call-command: execute", "execute-app-name: answer", "Event-UUID: a1")
	out.okCmd("+OK", "sendmsg", "call-command: execute", "execute-app-name: playback", "execute-app-arg: /tmp/x.wav", "Event-UUID: a2")
	evs := out.collectUntil(func(f *tframe) bool {
		return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application-UUID"] == "a2"
	})
	t.Logf("events: %v", names(evs))
	bg := ctl.waitName("BACKGROUND_JOB")
	if bg.evBody != "+OK 11111111-1111-4111-8111-111111111111\n" {
		t.Fatalf("bg job body %q", bg.evBody)
	}
	out.okCmd("+OK", "sendmsg", "call-command: hangup", "hangup-cause: NORMAL_CLEARING")
	evs = out.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_HANGUP_COMPLETE" })
	t.Logf("events: %v", names(evs))
	n := out.reply()
	if n.ctype != "text/disconnect-notice" || n.get("Content-Disposition") != "linger" {
		t.Fatalf("linger notice %v", n)
	}
	out.okCmd("+OK bye", "exit")
	d := out.reply()
	if d.get("Content-Disposition") != "disconnect" {
		t.Fatalf("disconnect %v", d)
	}
	out.waitClosed()
}

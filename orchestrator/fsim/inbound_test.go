package fsim

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Password = "s3cret" })
	bad := dialESL(t, s.Addr())
	bad.okCmd("-ERR command not found", "api status") // not authenticated yet
	bad.okCmd("-ERR invalid", "auth ClueCon")
	if d := bad.reply(); d.ctype != "text/disconnect-notice" || d.body != goodbyeBody {
		t.Fatalf("notice %v", d)
	}
	bad.waitClosed()

	good := dialESL(t, s.Addr())
	good.okCmd("+OK accepted", "auth s3cret")
	good.okCmd("-ERR command not found", "bogus")
	good.okCmd("+OK bye", "exit")
	if d := good.reply(); d.ctype != "text/disconnect-notice" || d.get("Controlled-Session-UUID") != "" {
		t.Fatalf("notice %v", d.outer)
	}
	good.waitClosed()
}

func TestFilters(t *testing.T) {
	s := newTestServer(t)
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_HANGUP BACKGROUND_JOB")
	a, b := "a1000000-0000-4000-8000-000000000001", "b1000000-0000-4000-8000-000000000002"
	c.okCmd("+OK filter added. [Unique-ID]=["+a+"]", "filter Unique-ID "+a)
	c.okCmd("+OK filter added. [Event-Name]=[BACKGROUND_JOB]", "filter Event-Name BACKGROUND_JOB")
	c.okCmd("+OK filter added. [Event-Name]=[-CHANNEL_EXECUTE]", "filter Event-Name -CHANNEL_EXECUTE")
	for _, u := range []string{a, b} {
		c.cmd("bgapi originate {origination_uuid=" + u + "}sofia/gateway/gw/+15550100001 &park()")
	}
	seen := map[string]int{}
	bg := 0
	for bg < 2 || seen[a+"CHANNEL_PARK"] == 0 {
		f := c.waitEvent("any", func(*tframe) bool { return true })
		if f.name() == "BACKGROUND_JOB" {
			bg++
			continue
		}
		seen[f.ev["Unique-ID"]+f.name()]++
		if f.ev["Unique-ID"] != a {
			t.Fatalf("event of an unfiltered channel: %s %s", f.name(), f.ev["Unique-ID"])
		}
		if f.name() == "CHANNEL_EXECUTE" {
			t.Fatal("negative filter did not drop CHANNEL_EXECUTE")
		}
	}
	if seen[a+"CHANNEL_ANSWER"] != 1 {
		t.Fatalf("seen %v", seen)
	}
	c.okCmd("+OK filter deleted. [Unique-ID]["+a+"]", "filter delete Unique-ID "+a)
	c.okCmd("-ERR invalid syntax", "filter delete")
	c.okCmd("+OK filter added. [unique-id]=["+strings.ToUpper(b)+"]", "filter unique-id "+strings.ToUpper(b)) // case-insensitive
	c.cmd("api uuid_kill " + b)
	h := c.waitName("CHANNEL_HANGUP")
	if h.ev["Unique-ID"] != b {
		t.Fatalf("hangup of %s", h.ev["Unique-ID"])
	}
	c.okCmd("+OK filter deleted.", "filter delete all")
	c.okCmd("+OK events nixed", "nixevent CHANNEL_HANGUP")
	c.okCmd("+OK no longer listening for events", "noevents")
	c.okCmd("-ERR no keywords supplied", "event plain")
}

// EventsSent counts an event once for every connection it is delivered
// to, and not at all where no subscription takes it.
func TestEventsSentCountsDeliveries(t *testing.T) {
	s := newTestServer(t)
	one, two := authed(t, s), authed(t, s)
	one.okCmd("+OK event listener enabled plain", "event plain CHANNEL_PARK")
	one.cmd("bgapi originate sofia/gateway/gw/+15550100001 &park()")
	one.waitName("CHANNEL_PARK")
	if got := s.EventsSent(); got["CHANNEL_PARK"] != 1 || len(got) != 1 {
		t.Fatalf("one subscriber: events sent %v, want one CHANNEL_PARK", got)
	}
	two.okCmd("+OK event listener enabled plain", "event plain CHANNEL_PARK")
	one.cmd("bgapi originate sofia/gateway/gw/+15550100002 &park()")
	one.waitName("CHANNEL_PARK")
	two.waitName("CHANNEL_PARK")
	if got := s.EventsSent(); got["CHANNEL_PARK"] != 3 || len(got) != 1 {
		t.Fatalf("two subscribers: events sent %v, want three CHANNEL_PARK", got)
	}
}

func TestAPIs(t *testing.T) {
	s := newTestServer(t)
	c := authed(t, s)
	if got := c.api("status"); !strings.HasPrefix(got, "UP 0 years, 0 days") || !strings.Contains(got, "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n") {
		t.Fatalf("status %q", got)
	}
	for cmd, want := range map[string]string{
		"show calls count":      "\n0 total.\n",
		"show channels":         "\n0 total.\n",
		"show channels as json": "{\"row_count\": 0}\n",
		"no_such_command foo":   "-ERR no_such_command Command not found!\n",
		"uuid_kill 00000000-0000-0000-0000-000000000000":     "-ERR No such channel!\n",
		"uuid_exists 00000000-0000-0000-0000-000000000000":   "false",
		"uuid_getvar 00000000-0000-0000-0000-000000000000 x": "-ERR No such channel!\n",
		"uuid_bridge 00000000-0000-0000-0000-000000000000 x": "-ERR Invalid uuid\n",
	} {
		if got := c.api(cmd); got != want {
			t.Errorf("api %s = %q, want %q", cmd, got, want)
		}
	}
	if u := c.api("create_uuid"); !uuidRe.MatchString(u) || len(u) != 36 {
		t.Errorf("create_uuid %q", u)
	}
	u := "e1000000-0000-4000-8000-000000000001"
	if got := c.api("originate {origination_uuid=" + u + ",origination_caller_id_number=1001}loopback/+15550100001/default &park()"); got != "+OK "+u+"\n" {
		t.Fatalf("api originate %q", got)
	}
	for _, x := range [][2]string{
		{"uuid_exists " + u, "true"},
		{"uuid_setvar " + u + " orchestrator_call_id call-42", "+OK\n"},
		{"uuid_getvar " + u + " orchestrator_call_id", "call-42"},
		{"uuid_getvar " + u + " no_such_var", "_undef_"},
		{"uuid_recv_dtmf " + u + " 42", "+OK " + u + " received DTMF 42.\n"},
		{"uuid_send_dtmf " + u + " 7", "+OK " + u + " sent DTMF 7.\n"},
		{"show calls count", "\n2 total.\n"},
		{"uuid_broadcast " + u + " /x.wav aleg", "+OK Message sent\n"},
		{"uuid_break " + u + " all", "+OK\n"},
	} {
		if got := c.api(x[0]); got != x[1] {
			t.Errorf("api %s = %q, want %q", x[0], got, x[1])
		}
	}
	var js struct {
		RowCount int                 `json:"row_count"`
		Rows     []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(c.api("show channels as json")), &js); err != nil || js.RowCount != 2 || js.Rows[0]["uuid"] != u {
		t.Fatalf("show channels as json: %+v %v", js, err)
	}
	if got := c.api("hupall MANAGER_REQUEST"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("hupall %q", got)
	}
	deadline := time.Now().Add(waitTimeout)
	for s.Channels() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.Channels(); n != 0 {
		t.Fatalf("%d channels left after hupall", n)
	}
}

func TestOriginateForms(t *testing.T) {
	ss := newSocketServer(t)
	s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain BACKGROUND_JOB")
	job := func(cmd string) string {
		t.Helper()
		id := newUUID()
		r := c.cmd("bgapi originate "+cmd, "Job-UUID: "+id)
		if r.get("Reply-Text") != "+OK Job-UUID: "+id || r.get("Job-UUID") != id {
			t.Fatalf("bgapi reply %v", r.outer)
		}
		f := c.waitEvent("BACKGROUND_JOB", func(f *tframe) bool { return f.ev["Job-UUID"] == id })
		if f.ev["Job-Command"] != "originate" || f.ev["Job-Command-Arg"] == "" {
			t.Fatalf("job headers %v", f.ev)
		}
		return f.evBody
	}
	gw := "sofia/gateway/carrier/"
	for n, want := range map[string]string{
		"+15550100101": "-ERR USER_BUSY\n",
		"+15550100301": "-ERR CALL_REJECTED\n",
	} {
		if got := job(gw + n + " &park()"); got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
	if got := job("{originate_timeout=2}" + gw + "+15550100201 &park()"); got != "-ERR NO_ANSWER\n" {
		t.Errorf("no answer: %q", got)
	}
	if got := job("error/NORMAL_TEMPORARY_FAILURE &park()"); got != "-ERR NORMAL_TEMPORARY_FAILURE\n" {
		t.Errorf("error/: %q", got)
	}
	// click-to-call: the answered leg goes to the socket
	u := "f1000000-0000-4000-8000-000000000001"
	if got := job("{origination_uuid=" + u + ",origination_caller_id_number=+918000000001}" + gw + "+15550100001 '&socket(" + ss.addr() + " async full)'"); got != "+OK "+u+"\n" {
		t.Fatalf("&socket: %q", got)
	}
	o := acceptCall(t, ss)
	if o.uuid != u || o.data.ev["Call-Direction"] != "outbound" || o.data.ev["Answer-State"] != "answered" {
		t.Fatalf("socket leg %s %s %s", o.uuid, o.data.ev["Call-Direction"], o.data.ev["Answer-State"])
	}
	// the extension form routes through the dialplan: a managed number goes to the socket
	if got := job(gw + "+15550100002 +918000000002 XML default"); !strings.HasPrefix(got, "+OK ") {
		t.Fatalf("exten form: %q", got)
	}
	o2 := acceptCall(t, ss)
	if o2.data.ev["Caller-Destination-Number"] != "+918000000002" {
		t.Fatalf("exten form routed to %q", o2.data.ev["Caller-Destination-Number"])
	}
}

func TestJSONEvents(t *testing.T) {
	s := newTestServer(t)
	c := authed(t, s)
	c.okCmd("+OK event listener enabled json", "event json CHANNEL_ANSWER BACKGROUND_JOB")
	c.cmd("bgapi originate {origination_caller_id_number=1000,origination_caller_id_name=Alice}loopback/ans500/default &park()")
	ans := c.waitName("CHANNEL_ANSWER")
	if ans.ctype != "text/event-json" || ans.ev["Caller-Caller-ID-Name"] != "Alice" {
		t.Fatalf("json event %v", ans.ev)
	}
	bg := c.waitName("BACKGROUND_JOB")
	if !strings.HasPrefix(bg.evBody, "+OK ") || !strings.HasSuffix(bg.evBody, "\n") {
		t.Fatalf("json body %q", bg.evBody)
	}
}

func TestHeartbeat(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.HeartbeatInterval = 10 * time.Second; c.Hostname = "node7" })
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain HEARTBEAT")
	if _, err := s.PlaceCall(context.Background(), CallScript{To: "+15550100201"}); err != nil {
		t.Fatal(err)
	}
	hb := c.waitName("HEARTBEAT")
	for _, h := range []string{"Event-Info", "Up-Time", "FreeSWITCH-Version", "Uptime-msec", "Session-Count", "Max-Sessions",
		"Session-Per-Sec", "Session-Since-Startup", "Session-Peak-Max", "Idle-CPU", "Core-UUID", "Event-Sequence"} {
		if hb.ev[h] == "" {
			t.Errorf("HEARTBEAT without %s", h)
		}
	}
	if hb.ev["FreeSWITCH-Hostname"] != "node7" || hb.ev["Session-Count"] != "2" || hb.ev["FreeSWITCH-Version"] != "1.10.12-release~64bit" {
		t.Errorf("HEARTBEAT %v", hb.ev)
	}
}

// TestEventSequence: Event-Sequence strictly increases on a connection.
func TestEventSequence(t *testing.T) {
	s := newTestServer(t)
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain ALL")
	c.cmd("bgapi originate loopback/+15550100405/default &park()")
	evs := c.collectUntil(func(f *tframe) bool {
		return f.name() == "CHANNEL_DESTROY" && strings.HasSuffix(f.ev["Channel-Name"], "-a")
	})
	last := int64(-1)
	for _, f := range evs {
		var n int64
		for _, ch := range f.ev["Event-Sequence"] {
			n = n*10 + int64(ch-'0')
		}
		if n <= last {
			t.Fatalf("Event-Sequence %d after %d", n, last)
		}
		last = n
	}
}

// TestStrayNewlinesAndBodies drives the server the way eslgo writes.
func TestStrayNewlinesAndBodies(t *testing.T) {
	ss := newSocketServer(t)
	s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := newTClient(t, nc)
	c.reply()
	c.write("auth ClueCon\r\n\r\n")
	if r := c.reply(); r.get("Reply-Text") != "+OK accepted" {
		t.Fatal(r)
	}
	call, err := s.PlaceCall(context.Background(), CallScript{To: "+918000000005"})
	if err != nil {
		t.Fatal(err)
	}
	o := ss.accept()
	o.write("connect\r\n\r\n")
	o.reply()
	o.write("myevents\r\n\r\n")
	o.reply()
	// eslgo's Set: the argument travels in a text/plain body
	body := "my_var=hello world"
	o.write("sendmsg " + call.UUID() + "\r\ncall-command: execute\r\nexecute-app-name: set\r\nloops: 1\r\nContent-Type: text/plain\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body + "\r\n\r\n")
	if r := o.reply(); r.get("Reply-Text") != "+OK" {
		t.Fatal(r)
	}
	done := o.waitEvent("set complete", func(f *tframe) bool { return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application"] == "set" })
	if done.ev["variable_my_var"] != "hello world" || done.ev["Application-Data"] != body {
		t.Fatalf("set via body: %q %q", done.ev["variable_my_var"], done.ev["Application-Data"])
	}
	o.write("getvar my_var\n\n")
	if r := o.reply(); r.get("Reply-Text") != "hello world" {
		t.Fatal(r)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

package fsim

import (
	"strings"
	"testing"
)

// TestGlobalSetvarCompareAndSet: global_setvar's third field makes it a
// compare-and-set, as switch_core_set_var_conditional on FreeSWITCH
// 1.10.12 (the same commands ran on the real node, where an unset
// variable reads as an empty output, "-ERR no reply" on the wire).
func TestGlobalSetvarCompareAndSet(t *testing.T) {
	c := authed(t, newTestServer(t))
	get := func() string {
		t.Helper()
		return c.api("global_getvar switchyard_park_to")
	}
	for _, step := range []struct{ cmd, want string }{
		{"global_setvar switchyard_park_to=aaaa.1", "aaaa.1"},
		{"global_setvar switchyard_park_to=bbbb.1=zzzz", "aaaa.1"}, // expected differs: nothing set
		{"global_setvar switchyard_park_to=aaaa.2=aaaa.1", "aaaa.2"},
		{"global_setvar switchyard_park_to==aaaa.1", "aaaa.2"}, // stale expectation: not cleared
		{"global_setvar switchyard_park_to=cccc.1=", "cccc.1"}, // an empty third field: unconditional
		{"global_setvar switchyard_park_to==cccc.1", "-ERR no reply\n"},
	} {
		if got := c.api(step.cmd); got != "+OK" {
			t.Fatalf("%s: %q, want +OK whatever it did", step.cmd, got)
		}
		if got := get(); got != step.want {
			t.Fatalf("after %s: %q, want %q", step.cmd, got, step.want)
		}
	}
}

// TestManagedNumberParkedForTheOwner: with switchyard_park_to set, the
// managed-number dialplan marks a call with the owner's tag, schedules its
// fallback and parks it, unanswered; sched_del <uuid> cancels the fallback
// (once: a second finds nothing), and a call nobody claims is transferred
// by its fallback to switchyard_unclaimed, then to the socket.
func TestManagedNumberParkedForTheOwner(t *testing.T) {
	ss := newSocketServer(t)
	s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain CHANNEL_PARK")
	c.api("global_setvar switchyard_park_to=abcd1234.7")

	c.cmd("bgapi originate loopback/+15550000100/public &park()")
	park := c.waitEvent("the managed number's park", func(f *tframe) bool {
		return f.name() == "CHANNEL_PARK" && f.ev["variable_switchyard_detached"] != ""
	})
	if got := park.ev["variable_switchyard_detached"]; got != "abcd1234" {
		t.Fatalf("parked for %q, want the owner's tag", got)
	}
	if park.ev["variable_current_application"] != "park" || park.ev["Answer-State"] == "answered" {
		t.Fatalf("park: application %q, answer state %q; want the dialplan's park, unanswered",
			park.ev["variable_current_application"], park.ev["Answer-State"])
	}
	uuid := park.ev["Unique-ID"]
	if got := c.api("sched_del " + uuid); got != "+OK Deleted: 1\n" {
		t.Fatalf("sched_del: %q, want the fallback deleted", got)
	}
	if got := c.api("sched_del " + uuid); got != "+OK Deleted: 0\n" {
		t.Fatalf("second sched_del: %q, want nothing left", got)
	}

	// Another call, unclaimed: its fallback sends it to the socket.
	c.cmd("bgapi originate loopback/+15550000101/public &park()")
	c.waitEvent("the second call's park", func(f *tframe) bool {
		return f.name() == "CHANNEL_PARK" && f.ev["variable_switchyard_detached"] == "abcd1234" && f.ev["Unique-ID"] != uuid
	})
	sock := ss.accept()
	data := sock.cmd("connect")
	if got := data.ev["variable_switchyard_unclaimed"]; got != "true" {
		t.Errorf("the socket's call: switchyard_unclaimed %q, want true", got)
	}
	if got := data.ev["variable_switchyard_detached"]; got != "" {
		t.Errorf("the socket's call still carries the gone owner's mark %q", got)
	}
	if got := data.ev["Caller-Destination-Number"]; !strings.HasSuffix(got, "+15550000101") {
		t.Errorf("the socket's call dialled %q, want the managed number again", got)
	}
}

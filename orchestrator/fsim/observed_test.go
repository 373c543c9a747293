package fsim

// Behaviours observed on the project's FreeSWITCH 1.10.12 node (fsnode,
// freeswitch-conf/) with throwaway probes, and modelled by the emulator.
// Every test drives the emulator over the wire and waits on events.

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execLocked is exec with event-lock: true.
func (o *ocall) execLocked(app, arg string) string {
	o.t.Helper()
	id := "locked-" + strconv.FormatInt(o.n.Add(1), 10)
	lines := []string{"sendmsg", "call-command: execute", "execute-app-name: " + app, "event-lock: true"}
	if arg != "" {
		lines = append(lines, "execute-app-arg: "+arg)
	}
	lines = append(lines, "Event-UUID: "+id)
	o.c.okCmd("+OK", lines...)
	return id
}

func completeOf(id string) func(*tframe) bool {
	return func(f *tframe) bool { return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application-UUID"] == id }
}

func isEv(name, uuid string) func(*tframe) bool {
	return func(f *tframe) bool { return f.name() == name && f.ev["Unique-ID"] == uuid }
}

// Item 1: uuid_break restarts endless_playback's file (PLAYBACK_STOP break,
// PLAYBACK_START), with or without "all"; it ends a plain playback.
func TestEndlessPlaybackBreak(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	ctl := authed(t, s)
	o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
	o.run("answer", "")
	const tone = "tone_stream://%(10000,0,440)"
	id := o.exec("endless_playback", tone)
	o.c.waitName("PLAYBACK_START")
	for _, brk := range []string{"uuid_break " + o.uuid, "uuid_break " + o.uuid + " all"} {
		if got := ctl.api(brk); got != "+OK\n" {
			t.Fatalf("%s: %q", brk, got)
		}
		evs := o.c.collectUntil(func(f *tframe) bool { return f.name() == "PLAYBACK_START" })
		got := strings.Join(names(evs), " ")
		if got != "PLAYBACK_STOP PLAYBACK_START" || evs[0].ev["Playback-Status"] != "break" || evs[0].ev["Playback-File-Type"] != "tone_stream" {
			t.Fatalf("%s: %s (status %q)", brk, got, evs[0].ev["Playback-Status"])
		}
	}
	// DTMF does not stop it either (endless_playback takes no digits)
	ctl.api("uuid_recv_dtmf " + o.uuid + " *")
	o.c.waitName("DTMF")
	// it ends only with the channel: PLAYBACK ERROR
	ctl.api("uuid_kill " + o.uuid)
	evs := o.c.collectUntil(completeOf(id))
	if got := strings.Join(names(evs), " "); got != "CHANNEL_HANGUP PLAYBACK_STOP CHANNEL_EXECUTE_COMPLETE(endless_playback)" {
		t.Fatalf("hangup: %s", got)
	}
	if r := evs[len(evs)-1].ev["Application-Response"]; r != "PLAYBACK ERROR" {
		t.Fatalf("response %q", r)
	}

	// a plain playback is ended by uuid_break: FILE PLAYED, status break
	s2, _, o2 := setupCall(t, CallScript{})
	o2.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
	o2.run("answer", "")
	id = o2.exec("playback", tone)
	o2.c.waitName("PLAYBACK_START")
	authed(t, s2).api("uuid_break " + o2.uuid)
	evs = o2.c.collectUntil(completeOf(id))
	stop := evs[len(evs)-2]
	if stop.name() != "PLAYBACK_STOP" || stop.ev["Playback-Status"] != "break" || evs[len(evs)-1].ev["Application-Response"] != "FILE PLAYED" {
		t.Fatalf("playback break: %v %q", names(evs), stop.ev["Playback-Status"])
	}
}

// Item 2: uuid_break all drops the queued, not yet started commands; a
// plain uuid_break leaves them queued. A break sent while nothing plays is
// not remembered, and uuid_break ends a sleep.
func TestBreakAllFlushesQueue(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	ctl := authed(t, s)
	o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
	o.run("answer", "")
	for _, tc := range []struct {
		brk     string
		flushed bool
	}{{"uuid_break " + o.uuid + " all", true}, {"uuid_break " + o.uuid, false}} {
		first := o.execLocked("playback", "tone_stream://%(3000,0,440)")
		second := o.execLocked("playback", "tone_stream://%(300,0,440)")
		third := o.execLocked("set", "queued=1")
		o.c.waitName("PLAYBACK_START")
		ctl.api(tc.brk)
		o.c.waitEvent("first playback", completeOf(first))
		marker := o.exec("set", "marker=1")
		evs := o.c.collectUntil(completeOf(marker))
		ran := map[string]bool{}
		for _, f := range evs {
			if f.name() == "CHANNEL_EXECUTE" {
				ran[f.ev["Application-UUID"]] = true
			}
		}
		if ran[second] == tc.flushed || ran[third] == tc.flushed {
			t.Fatalf("%s: queued commands ran=%v,%v, want %v: %v", tc.brk, ran[second], ran[third], !tc.flushed, names(evs))
		}
	}
	// nothing plays: the break is lost, the next playback plays in full
	ctl.api("uuid_break " + o.uuid)
	evs, done := o.run("playback", "tone_stream://%(500,0,440)")
	if evs[len(evs)-2].ev["Playback-Status"] != "done" || done.ev["variable_playback_ms"] != "500" {
		t.Fatalf("idle break broke the next playback: %q", evs[len(evs)-2].ev["Playback-Status"])
	}
	// uuid_break ends a sleep; the playback queued behind it plays in full
	sl := o.execLocked("sleep", "60000")
	pb := o.execLocked("playback", "tone_stream://%(500,0,440)")
	o.c.waitEvent("sleep", func(f *tframe) bool { return f.name() == "CHANNEL_EXECUTE" && f.ev["Application-UUID"] == sl })
	ctl.api("uuid_break " + o.uuid)
	o.c.waitEvent("sleep complete", completeOf(sl))
	evs = o.c.collectUntil(completeOf(pb))
	if evs[len(evs)-2].ev["Playback-Status"] != "done" {
		t.Fatalf("playback after the broken sleep: %v", names(evs))
	}
}

// Item 3: what the node cannot open fails at once with FILE NOT FOUND and
// no PLAYBACK_* event; file_string skips the parts it cannot open.
func TestUnplayableMedia(t *testing.T) {
	_, _, o := setupCall(t, CallScript{})
	o.c.okCmd("+OK event listener enabled plain", "event plain PLAYBACK_START PLAYBACK_STOP")
	o.run("answer", "")
	wav := testWAV(t, "ok.wav", 700)
	missing := wav + ".missing.wav"
	for _, tc := range []struct {
		app, arg string
		resp     string
		ms       string // playback_ms when it played
		typ      string // Playback-File-Type
	}{
		{"playback", "local_stream://moh", "FILE NOT FOUND", "", ""},
		{"endless_playback", "local_stream://moh", "FILE NOT FOUND", "", ""},
		{"playback", "http://127.0.0.1:1/x.wav", "FILE NOT FOUND", "", ""},
		{"playback", "https://cdn.example/x.wav", "FILE NOT FOUND", "", ""},
		{"playback", missing, "FILE NOT FOUND", "", ""},
		{"endless_playback", missing, "FILE NOT FOUND", "", ""},
		{"playback", "greeting.wav", "FILE NOT FOUND", "", ""},
		{"playback", "file_string://" + missing + "!local_stream://moh", "FILE NOT FOUND", "", ""},
		{"playback", "file_string://silence_stream://300!" + missing + "!silence_stream://200", "FILE PLAYED", "500", ""},
		{"playback", wav, "FILE PLAYED", "700", ""},
		{"playback", "silence_stream://100", "FILE PLAYED", "100", ""},
		{"playback", "tone_stream://%(100,0,440)", "FILE PLAYED", "100", "tone_stream"},
	} {
		evs, done := o.run(tc.app, tc.arg)
		if r := done.ev["Application-Response"]; r != tc.resp {
			t.Errorf("%s %s: response %q, want %q", tc.app, tc.arg, r, tc.resp)
		}
		got := strings.Join(names(evs), " ")
		if tc.ms == "" {
			if got != "CHANNEL_EXECUTE("+tc.app+") CHANNEL_EXECUTE_COMPLETE("+tc.app+")" {
				t.Errorf("%s %s: events %s", tc.app, tc.arg, got)
			}
			continue
		}
		if got != "CHANNEL_EXECUTE(playback) PLAYBACK_START PLAYBACK_STOP CHANNEL_EXECUTE_COMPLETE(playback)" {
			t.Errorf("%s: events %s", tc.arg, got)
			continue
		}
		if p := evs[1].ev["Playback-File-Path"]; p != tc.arg {
			t.Errorf("%s: Playback-File-Path %q", tc.arg, p)
		}
		if ft := evs[1].ev["Playback-File-Type"]; ft != tc.typ {
			t.Errorf("%s: Playback-File-Type %q, want %q", tc.arg, ft, tc.typ)
		}
		if ms := done.ev["variable_playback_ms"]; ms != tc.ms {
			t.Errorf("%s: playback_ms %q, want %s", tc.arg, ms, tc.ms)
		}
	}
	// say: is TTS: it plays, without PLAYBACK_* events
	if evs, done := o.run("playback", "say:hello"); done.ev["Application-Response"] != "FILE PLAYED" || len(evs) != 2 {
		t.Errorf("say: %q %v", done.ev["Application-Response"], names(evs))
	}
	// Config.Media: a node that can play a URL
	_, _, o2 := setupCall(t, CallScript{}, func(c *Config) {
		c.Media = map[string]time.Duration{"https://cdn.example/hi.wav": 1500 * time.Millisecond}
	})
	o2.run("answer", "")
	if _, done := o2.run("playback", "https://cdn.example/hi.wav"); done.ev["Application-Response"] != "FILE PLAYED" || done.ev["variable_playback_ms"] != "1500" {
		t.Fatalf("Config.Media: %q %q", done.ev["Application-Response"], done.ev["variable_playback_ms"])
	}
}

// Item 4: an event-locked bridge holds the A-leg's private events (a
// uuid_broadcast) until it returns; without event-lock they run during the
// bridge. The callee's own part of "both" always plays at once.
func TestEventLockHoldsBroadcastDuringBridge(t *testing.T) {
	for _, locked := range []bool{true, false} {
		s, _, o := setupCall(t, CallScript{})
		obs := authed(t, s)
		obs.okCmd("+OK event listener enabled plain", "event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE PLAYBACK_START")
		o.run("answer", "")
		b := "b1000000-0000-4000-8000-00000000000" + map[bool]string{true: "1", false: "2"}[locked]
		dial := "{origination_uuid=" + b + "}loopback/+15550100002/switchyard_testnet"
		var id string
		if locked {
			id = o.execLocked("bridge", dial)
		} else {
			id = o.exec("bridge", dial)
		}
		obs.waitEvent("bridge", isEv("CHANNEL_BRIDGE", o.uuid))
		if got := obs.api("uuid_broadcast " + b + " 'tone_stream://%(1000,0,500)' both"); got != "+OK Message sent\n" {
			t.Fatalf("uuid_broadcast: %q", got)
		}
		calleeDone, aDone := false, false
		evs := obs.collectUntil(func(f *tframe) bool {
			if f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application"] == "playback" {
				calleeDone = calleeDone || f.ev["Unique-ID"] == b
				aDone = aDone || f.ev["Unique-ID"] == o.uuid
			}
			return calleeDone && (locked || aDone)
		})
		obs.api("uuid_kill " + b)
		evs = append(evs, obs.collectUntil(func(f *tframe) bool {
			if f.ev["Unique-ID"] != o.uuid || f.name() != "CHANNEL_EXECUTE_COMPLETE" {
				return false
			}
			if locked {
				return f.ev["Application"] == "playback"
			}
			return f.ev["Application-UUID"] == id
		})...)
		var seq []string
		for _, f := range evs {
			if f.ev["Unique-ID"] == o.uuid && (f.name() == "CHANNEL_UNBRIDGE" || f.ev["Application-UUID"] == id || f.ev["Application"] == "playback") {
				seq = append(seq, names([]*tframe{f})[0])
			}
		}
		got := strings.Join(seq, " ")
		want := "CHANNEL_EXECUTE(playback) CHANNEL_EXECUTE_COMPLETE(playback) CHANNEL_UNBRIDGE CHANNEL_EXECUTE_COMPLETE(bridge)"
		if locked {
			want = "CHANNEL_UNBRIDGE CHANNEL_EXECUTE_COMPLETE(bridge) CHANNEL_EXECUTE(playback) CHANNEL_EXECUTE_COMPLETE(playback)"
		}
		if !strings.HasSuffix(got, want) {
			t.Fatalf("event-lock=%v: A-leg %s, want %s", locked, got, want)
		}
	}
}

// Item 5: record writes only the audio that arrives. The probe's setup: a
// loopback pair whose -b is answered and parked; -b records while the -a
// plays (uuid_broadcast ... aleg) or stays silent.
func TestRecordWritesOnlyArrivingAudio(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Speed = 20 })
	c := authed(t, s)
	c.okCmd("+OK event listener enabled plain", "event plain CHANNEL_PROGRESS CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE RECORD_START RECORD_STOP")
	const a = "c1000000-0000-4000-8000-000000000001"
	c.cmd("bgapi originate {origination_uuid=" + a + ",originate_timeout=3600}loopback/+15550100201/switchyard_testnet &park()")
	c.waitEvent("ringing", isEv("CHANNEL_PROGRESS", a))
	x := strings.TrimSpace(c.api("uuid_getvar " + a + " other_loopback_leg_uuid"))
	c.api("uuid_transfer " + x + " answer,park inline")
	c.waitEvent("park", func(f *tframe) bool {
		return f.name() == "CHANNEL_EXECUTE" && f.ev["Unique-ID"] == x && f.ev["Application"] == "park"
	})
	dir := t.TempDir()
	record := func(arg string, talk string) (start, stop *tframe) {
		t.Helper()
		c.okCmd("+OK", "sendmsg "+x, "call-command: execute", "execute-app-name: record", "execute-app-arg: "+dir+"/"+arg)
		start = c.waitEvent("RECORD_START", isEv("RECORD_START", x))
		if talk != "" {
			c.api("uuid_broadcast " + a + " playback::" + talk + " aleg")
		}
		stop = c.waitEvent("RECORD_STOP", isEv("RECORD_STOP", x))
		return start, stop
	}
	simMS := func(a, b *tframe) int64 {
		x, _ := strconv.ParseInt(a.ev["Event-Date-Timestamp"], 10, 64)
		y, _ := strconv.ParseInt(b.ev["Event-Date-Timestamp"], 10, 64)
		return (y - x) / 1000
	}
	size := func(name string) int64 {
		st, err := os.Stat(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// nothing arrives: silence detection ends it after 2 s; nothing written
	start, stop := record("none.wav 6 200 2", "")
	if stop.ev["variable_record_ms"] != "0" || stop.ev["variable_record_seconds"] != "0" || stop.ev["variable_silence_hits_exhausted"] != "true" ||
		stop.ev["variable_record_file_size"] != "44" || size("none.wav") != 44 {
		t.Fatalf("silent caller: ms=%q exhausted=%q size=%q", stop.ev["variable_record_ms"], stop.ev["variable_silence_hits_exhausted"], stop.ev["variable_record_file_size"])
	}
	if d := simMS(start, stop); d < 1900 || d > 2300 {
		t.Fatalf("silent caller: recorded for %d ms, want ~2000", d)
	}
	// a 3 s tone, then silence: 3000 ms of audio, ended by silence
	_, stop = record("talk.wav 10 200 2", "tone_stream://%(1000,0,440);loops=3")
	if stop.ev["variable_record_ms"] != "3000" || stop.ev["variable_record_seconds"] != "3" || stop.ev["variable_silence_hits_exhausted"] != "true" || size("talk.wav") != 48044 {
		t.Fatalf("3 s talk: ms=%q exhausted=%q size=%d", stop.ev["variable_record_ms"], stop.ev["variable_silence_hits_exhausted"], size("talk.wav"))
	}
	checkWAV(t, dir+"/talk.wav", 3000)
	// the limit ends a recording the caller talks through
	_, stop = record("limit.wav 3", "tone_stream://%(1000,0,440);loops=10")
	ms, _ := strconv.Atoi(stop.ev["variable_record_ms"])
	// the broadcast starts a moment after RECORD_START reached the test
	// (the node gave 2900 ms for a 0.3 s gap); the clock runs fast here
	if ms <= 0 || ms > 3000 || stop.ev["variable_silence_hits_exhausted"] != "false" {
		t.Fatalf("limit: ms=%q exhausted=%q", stop.ev["variable_record_ms"], stop.ev["variable_silence_hits_exhausted"])
	}
}

// Item 6: a leg whose channel is never created. An unknown SIP profile
// sends only a bare CHANNEL_DESTROY for its origination_uuid; error/<cause>
// sends nothing. Neither is added to originate_causes.
func TestLegsWithoutChannel(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	obs := authed(t, s)
	obs.okCmd("+OK event listener enabled plain", "event plain ALL")
	o.run("answer", "")
	o.run("set", "continue_on_fail=true")
	const b, c = "d1000000-0000-4000-8000-000000000001", "d1000000-0000-4000-8000-000000000002"
	_, done := o.run("bridge", "{origination_uuid="+b+"}sofia/nosuchprofile/x")
	if done.ev["variable_originate_disposition"] != "INVALID_PROFILE" || done.ev["variable_DIALSTATUS"] != "INVALIDARGS" ||
		done.ev["variable_originate_failed_cause"] != "INVALID_PROFILE" || done.ev["variable_originate_causes"] != "" || done.ev["variable_last_bridge_hangup_cause"] != "" {
		t.Fatalf("INVALID_PROFILE result: %q %q %q causes=%q last=%q", done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"],
			done.ev["variable_originate_failed_cause"], done.ev["variable_originate_causes"], done.ev["variable_last_bridge_hangup_cause"])
	}
	_, done = o.run("bridge", "[origination_uuid="+c+"]error/USER_BUSY")
	if done.ev["variable_originate_disposition"] != "USER_BUSY" || done.ev["variable_DIALSTATUS"] != "BUSY" || done.ev["variable_originate_causes"] != "" {
		t.Fatalf("error/USER_BUSY result: %q %q causes=%q", done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"], done.ev["variable_originate_causes"])
	}
	if got := obs.api("originate {origination_uuid=d1000000-0000-4000-8000-000000000003}sofia/nosuchprofile/x &park()"); got != "-ERR INVALID_PROFILE\n" {
		t.Fatalf("originate: %q", got)
	}
	obs.api("originate [origination_uuid=d1000000-0000-4000-8000-000000000004]error/USER_BUSY &park()")
	marker := obs.api("create_uuid")
	obs.cmd("sendevent CUSTOM", "Event-Subclass: fsim::marker", "Unique-ID: "+marker)
	evs := obs.collectUntil(func(f *tframe) bool { return f.ev["Unique-ID"] == marker })
	per := map[string][]string{}
	for _, f := range evs {
		per[f.ev["Unique-ID"]] = append(per[f.ev["Unique-ID"]], f.name())
	}
	for u, want := range map[string]string{b: "CHANNEL_DESTROY", c: "", "d1000000-0000-4000-8000-000000000003": "CHANNEL_DESTROY", "d1000000-0000-4000-8000-000000000004": ""} {
		if got := strings.Join(per[u], " "); got != want {
			t.Errorf("%s: events %q, want %q", u, got, want)
		}
	}
	for _, f := range evs {
		if f.name() == "CHANNEL_DESTROY" && f.ev["Unique-ID"] == b {
			if f.ev["Channel-Name"] != "N/A" || f.ev["Channel-State"] != "CS_NONE" || f.ev["Channel-Call-State"] != "DOWN" || f.ev["variable_is_outbound"] != "true" || f.ev["Caller-Unique-ID"] != "" {
				t.Errorf("stillborn DESTROY: %v", f.ev)
			}
		}
	}
}

// Item 7: B-leg event order and call states of a bridge to a test number.
func TestBridgeLegEventOrder(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	obs := authed(t, s)
	obs.okCmd("+OK event listener enabled plain", "event plain CHANNEL_OUTGOING CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_PROGRESS CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_BRIDGE")
	o.run("answer", "")
	const b, c, d = "e1000000-0000-4000-8000-000000000001", "e1000000-0000-4000-8000-000000000002", "e1000000-0000-4000-8000-000000000003"
	o.exec("bridge", "{origination_uuid="+b+"}loopback/+15550100001/switchyard_testnet")
	evs := obs.collectUntil(isEv("CHANNEL_BRIDGE", o.uuid))
	var seq, aSeq []string
	for _, f := range evs {
		if f.ev["Unique-ID"] == b {
			seq = append(seq, f.name()+"/"+f.ev["Channel-Call-State"])
			if f.name() == "CHANNEL_ANSWER" && f.ev["variable_endpoint_disposition"] != "" {
				t.Errorf("CHANNEL_ANSWER carries endpoint_disposition %q", f.ev["variable_endpoint_disposition"])
			}
		}
		if f.ev["Unique-ID"] == o.uuid {
			aSeq = append(aSeq, f.name()+"/"+f.ev["Channel-Call-State"])
		}
	}
	want := "CHANNEL_OUTGOING/DOWN CHANNEL_CREATE/DOWN CHANNEL_ORIGINATE/DOWN CHANNEL_PROGRESS/DOWN CHANNEL_CALLSTATE/RINGING CHANNEL_ANSWER/RINGING CHANNEL_CALLSTATE/ACTIVE"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("B-leg:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(aSeq, " "); !strings.HasSuffix(got, "CHANNEL_CALLSTATE/ACTIVE CHANNEL_CALLSTATE/RING_WAIT CHANNEL_CALLSTATE/ACTIVE CHANNEL_BRIDGE/ACTIVE") {
		t.Errorf("A-leg: %s", got)
	}
	obs.api("uuid_kill " + b)
	o.c.waitEvent("bridge done", func(f *tframe) bool { return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application"] == "bridge" })

	// parallel: every leg is created (OUTGOING) before any session starts
	o.exec("bridge", "[origination_uuid="+c+"]loopback/+15550100002/switchyard_testnet,[origination_uuid="+d+"]loopback/+15550100201/switchyard_testnet")
	evs = obs.collectUntil(isEv("CHANNEL_BRIDGE", o.uuid))
	seq = nil
	for _, f := range evs {
		if (f.ev["Unique-ID"] == c || f.ev["Unique-ID"] == d) && f.name() != "CHANNEL_CALLSTATE" && f.name() != "CHANNEL_PROGRESS" {
			seq = append(seq, f.name()+"/"+map[string]string{c: "C", d: "D"}[f.ev["Unique-ID"]])
		}
	}
	if got := strings.Join(seq[:6], " "); got != "CHANNEL_OUTGOING/C CHANNEL_OUTGOING/D CHANNEL_CREATE/C CHANNEL_ORIGINATE/C CHANNEL_CREATE/D CHANNEL_ORIGINATE/D" {
		t.Errorf("parallel legs: %s", got)
	}
}

// Item 8: originate_causes is a JSON array in event-json, ARRAY::a|:b in
// event-plain.
func TestOriginateCausesArray(t *testing.T) {
	for _, format := range []string{"plain", "json"} {
		s, _, o := setupCall(t, CallScript{})
		obs := authed(t, s)
		obs.okCmd("+OK event listener enabled "+format, "event "+format+" CHANNEL_EXECUTE_COMPLETE")
		o.run("answer", "")
		o.run("set", "continue_on_fail=true")
		// one value is a plain string (seen on 1.10.12) ...
		o.run("bridge", "loopback/+15550100103/switchyard_testnet")
		f := obs.waitEvent("bridge complete", func(f *tframe) bool { return f.ev["Application"] == "bridge" })
		if v := f.ev["variable_originate_causes"]; strings.HasPrefix(v, "ARRAY::") || !strings.HasSuffix(v, ";USER_BUSY") {
			t.Fatalf("%s: one originate_causes %q", format, v)
		}
		// ... more make an array
		o.run("bridge", "loopback/+15550100101/switchyard_testnet,loopback/+15550100102/switchyard_testnet")
		f = obs.waitEvent("bridge complete", func(f *tframe) bool { return f.ev["Application"] == "bridge" })
		v := f.ev["variable_originate_causes"]
		if !strings.HasPrefix(v, "ARRAY::") || strings.Count(v, "USER_BUSY") != 3 || !strings.Contains(v, "|:") {
			t.Fatalf("%s: originate_causes %q", format, v)
		}
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal([]byte(f.body), &m); err != nil {
				t.Fatal(err)
			}
			if arr, ok := m["variable_originate_causes"].([]any); !ok || len(arr) != 3 {
				t.Fatalf("json originate_causes is %T %v, want an array of 3", m["variable_originate_causes"], m["variable_originate_causes"])
			}
		} else if !strings.Contains(f.body, "variable_originate_causes: ARRAY%3A%3A") || !strings.Contains(f.body, "%7C%3A") {
			t.Fatalf("plain originate_causes not ARRAY::")
		}
	}
}

// Item 9: sofia/<profile>/sip:<number>@host reaches the test network like
// loopback/<number>/switchyard_testnet, with the node's causes and SIP
// variables. A profile that does not take L16 refuses a loopback caller
// with 488 unless PCMU/PCMA is offered.
func TestSIPTestNetwork(t *testing.T) {
	s, _, o := setupCall(t, CallScript{})
	obs := authed(t, s)
	obs.okCmd("+OK event listener enabled plain", "event plain CHANNEL_HANGUP_COMPLETE")
	o.run("answer", "")
	o.run("set", "continue_on_fail=true")
	for i, tc := range []struct {
		dial                  string
		cause, status, tcause string
		disp, dialstatus      string
	}{
		{"[absolute_codec_string=PCMU]sofia/switchyard_testnet/sip:+15550100101@127.0.0.1:5090", "USER_BUSY", "486", "17", "recv_refuse", "BUSY"},
		{"[absolute_codec_string=PCMU]sofia/switchyard_testnet/sip:+15550100301@127.0.0.1:5090", "CALL_REJECTED", "603", "21", "recv_refuse", "DONTCALL"},
		// the switchyard_testnet profile takes the L16 a loopback caller offers
		{"sofia/switchyard_testnet/sip:+15550100101@127.0.0.1:5090", "USER_BUSY", "486", "17", "recv_refuse", "BUSY"},
		{"sofia/switchyard_testnet/+15550100301@127.0.0.1:5090", "CALL_REJECTED", "603", "21", "recv_refuse", "DONTCALL"},
		// a profile without L16: 488 unless PCMU/PCMA is offered
		{"sofia/external/sip:+15550100101@127.0.0.1:5090", "INCOMPATIBLE_DESTINATION", "488", "88", "recv_refuse", "INCOMPATIBLE_DESTINATION"},
	} {
		u := "f1000000-0000-4000-8000-00000000000" + strconv.Itoa(i)
		dial := "[origination_uuid=" + u + "]" + tc.dial
		if strings.HasPrefix(tc.dial, "[") {
			dial = "[origination_uuid=" + u + "," + tc.dial[1:]
		}
		_, done := o.run("bridge", dial)
		hc := obs.waitEvent("leg hangup", isEv("CHANNEL_HANGUP_COMPLETE", u))
		if hc.ev["Hangup-Cause"] != tc.cause || hc.ev["variable_sip_term_status"] != tc.status || hc.ev["variable_sip_term_cause"] != tc.tcause ||
			hc.ev["variable_proto_specific_hangup_cause"] != "sip:"+tc.status || hc.ev["variable_sip_hangup_disposition"] != tc.disp {
			t.Errorf("%s: leg %s %s %s %s %s", tc.dial, hc.ev["Hangup-Cause"], hc.ev["variable_sip_term_status"], hc.ev["variable_sip_term_cause"],
				hc.ev["variable_proto_specific_hangup_cause"], hc.ev["variable_sip_hangup_disposition"])
		}
		if done.ev["variable_originate_disposition"] != tc.cause || done.ev["variable_DIALSTATUS"] != tc.dialstatus ||
			done.ev["variable_last_bridge_proto_specific_hangup_cause"] != "sip:"+tc.status {
			t.Errorf("%s: A-leg %q %q %q", tc.dial, done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"], done.ev["variable_last_bridge_proto_specific_hangup_cause"])
		}
	}
	// the originate API has no caller codec to impose
	if got := obs.api("originate sofia/switchyard_testnet/sip:+15550100101@127.0.0.1:5090 &park()"); got != "-ERR USER_BUSY\n" {
		t.Fatalf("originate busy: %q", got)
	}
	if got := obs.api("originate sofia/switchyard_testnet/sip:+15550100301@127.0.0.1:5090 &park()"); got != "-ERR CALL_REJECTED\n" {
		t.Fatalf("originate rejected: %q", got)
	}
}

package fsim

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDialString(t *testing.T) {
	type leg struct {
		vars string
		ep   string
	}
	flat := func(ds *dialString) (string, [][]leg, []string) {
		g := kvString(ds.global)
		var groups [][]leg
		var gvars []string
		for _, gr := range ds.groups {
			var ls []leg
			for _, l := range gr.legs {
				ls = append(ls, leg{kvString(l.vars), l.endpoint})
			}
			groups = append(groups, ls)
			gvars = append(gvars, kvString(gr.vars))
		}
		return g, groups, gvars
	}
	cases := []struct {
		in     string
		global string
		groups [][]leg
		gvars  []string
	}{
		{"loopback/100", "", [][]leg{{{"", "loopback/100"}}}, []string{""}},
		{
			"{ignore_early_media=false,x_group=parallel-test}[leg_timeout=15,x_leg=fast]loopback/ans1500/default,[leg_timeout=15,x_leg=slow]loopback/ans6000/default,[leg_timeout=15,x_leg=sip,origination_caller_id_number=15550007777]sofia/lo/noanswer@127.0.0.1:5060",
			"ignore_early_media=false;x_group=parallel-test",
			[][]leg{{
				{"leg_timeout=15;x_leg=fast", "loopback/ans1500/default"},
				{"leg_timeout=15;x_leg=slow", "loopback/ans6000/default"},
				{"leg_timeout=15;x_leg=sip;origination_caller_id_number=15550007777", "sofia/lo/noanswer@127.0.0.1:5060"},
			}},
			[]string{""},
		},
		{
			"{x_group=seq-a}[leg_timeout=3,x_leg=noanswer]loopback/noanswer/default|[x_leg=busy]sofia/lo/busy@127.0.0.1:5060|[leg_timeout=10,x_leg=answers]loopback/ans1000/default",
			"x_group=seq-a",
			[][]leg{{{"leg_timeout=3;x_leg=noanswer", "loopback/noanswer/default"}}, {{"x_leg=busy", "sofia/lo/busy@127.0.0.1:5060"}}, {{"leg_timeout=10;x_leg=answers", "loopback/ans1000/default"}}},
			[]string{"", "", ""},
		},
		{
			"{^^;a=1,2;name='Acme Support'}sofia/gateway/gw/+15550100001,user/1000|{originate_timeout=5}error/USER_BUSY :_: null/x",
			"a=1,2;name=Acme Support",
			[][]leg{{{"", "sofia/gateway/gw/+15550100001"}, {"", "user/1000"}}, {{"", "error/USER_BUSY"}, {"", "null/x"}}},
			[]string{"", "originate_timeout=5"},
		},
		{
			`{cid='A\,B',x=y}[v='a|b,c']loopback/1`,
			`cid=A,B;x=y`,
			[][]leg{{{"v=a|b,c", "loopback/1"}}},
			[]string{""},
		},
	}
	for _, c := range cases {
		ds, err := parseDialString(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		g, groups, gvars := flat(ds)
		if g != c.global || !reflect.DeepEqual(groups, c.groups) || !reflect.DeepEqual(gvars, c.gvars) {
			t.Errorf("%q:\n got %q %v %q\nwant %q %v %q", c.in, g, groups, gvars, c.global, c.groups, c.gvars)
		}
	}
	for _, bad := range []string{"", "{a=1", "[x=1", "{a=1}", "  "} {
		if _, err := parseDialString(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func kvString(vs []kv) string {
	var p []string
	for _, v := range vs {
		p = append(p, v.name+"="+v.value)
	}
	return strings.Join(p, ";")
}

func TestParseEndpoint(t *testing.T) {
	cases := map[string]endpoint{
		"loopback/+15550100001":              {tech: "loopback", number: "+15550100001", context: "default"},
		"loopback/ans500/public":             {tech: "loopback", number: "ans500", context: "public"},
		"sofia/gateway/carrier/+15550100101": {tech: "gateway", number: "+15550100101", gateway: "carrier"},
		"sofia/lo/noanswer@127.0.0.1:5060":   {tech: "sofia", number: "noanswer", profile: "lo", host: "127.0.0.1:5060"},
		"sofia/external/sip:15550100201@pbx": {tech: "sofia", number: "15550100201", profile: "external", host: "pbx"},
		"user/1000@example.com":              {tech: "user", number: "1000", host: "example.com"},
		"error/USER_BUSY":                    {tech: "error", number: "USER_BUSY"},
		"null/cause-CALL_REJECTED":           {tech: "null", number: "cause-CALL_REJECTED"},
	}
	for in, want := range cases {
		got, err := parseEndpoint(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		got.raw = ""
		if got != want {
			t.Errorf("%q: got %+v want %+v", in, got, want)
		}
	}
	for _, bad := range []string{"loopback", "foo/bar", "sofia/gateway/gw", "sofia/lo"} {
		if _, err := parseEndpoint(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestTestNumber(t *testing.T) {
	cases := map[string]netClass{"+15550100001": netAnswer, "15550100099": netAnswer, "+15550100150": netBusy,
		"+15550100201": netNoAnswer, "+15550100399": netReject, "+15550100425": netTimed}
	for n, want := range cases {
		c, _, ok := testNumber(n)
		if !ok || c != want {
			t.Errorf("%s: %v %v", n, c, ok)
		}
	}
	if _, nn, _ := testNumber("+15550100425"); nn != 25 {
		t.Errorf("nn %d", nn)
	}
	for _, n := range []string{"+15550100000", "+15550100100", "+15550100500", "+919999999999", "ans1000"} {
		if _, _, ok := testNumber(n); ok {
			t.Errorf("%s should not be a test number", n)
		}
	}
}

// bridgeEnv gives a call under socket control plus an observer on the
// emulator that sees every B-leg event.
type bridgeEnv struct {
	s   *Server
	o   *ocall
	obs *tclient
}

func newBridgeEnv(t *testing.T, answer bool) *bridgeEnv {
	t.Helper()
	s, _, o := setupCall(t, CallScript{})
	obs := authed(t, s)
	obs.okCmd("+OK event listener enabled plain", "event plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE")
	if answer {
		o.run("answer", "")
	}
	return &bridgeEnv{s: s, o: o, obs: obs}
}

// legEvents gathers (from the observer) the B-legs' HANGUP_COMPLETE causes
// by Caller-Destination-Number, until n legs are done.
func (e *bridgeEnv) legCauses(t *testing.T, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for len(out) < n {
		f := e.obs.waitEvent("B-leg HANGUP_COMPLETE", func(f *tframe) bool {
			return f.name() == "CHANNEL_HANGUP_COMPLETE" && f.ev["Call-Direction"] == "outbound"
		})
		out[f.ev["Caller-Destination-Number"]] = f.ev["Hangup-Cause"] + "/" + f.ev["variable_sip_term_status"]
		if f.ev["variable_originating_leg_uuid"] != e.o.uuid {
			t.Errorf("B-leg without variable_originating_leg_uuid: %q", f.ev["variable_originating_leg_uuid"])
		}
	}
	return out
}

func TestBridgeTestNetwork(t *testing.T) {
	gw := func(n string) string { return "sofia/gateway/carrier/" + n }
	t.Run("parallel: first to answer wins, others LOSE_RACE", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		id := e.o.exec("bridge", "{continue_on_fail=true}[origination_uuid=b0000000-0000-4000-8000-000000000001]"+gw("+15550100001")+",[leg_timeout=30]"+gw("+15550100201")+","+gw("+15550100202"))
		br := e.o.c.waitName("CHANNEL_BRIDGE")
		if br.ev["Bridge-B-Unique-ID"] != "b0000000-0000-4000-8000-000000000001" || br.ev["Other-Leg-Destination-Number"] != "+15550100001" || br.ev["Other-Type"] != "originatee" {
			t.Fatalf("bridge %v", br.ev["Bridge-B-Unique-ID"])
		}
		causes := e.legCauses(t, 2)
		if causes["+15550100201"] != "LOSE_RACE/487" || causes["+15550100202"] != "LOSE_RACE/487" {
			t.Fatalf("losers: %v", causes)
		}
		if got := e.o.c.cmd("api uuid_kill b0000000-0000-4000-8000-000000000001").body; got != "+OK\n" {
			t.Fatalf("uuid_kill %q", got)
		}
		e.o.c.waitName("CHANNEL_UNBRIDGE")
		done := e.o.c.waitEvent("bridge complete", func(f *tframe) bool {
			return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev["Application-UUID"] == id
		})
		for k, v := range map[string]string{"variable_bridge_hangup_cause": "NORMAL_CLEARING", "variable_last_bridge_to": "b0000000-0000-4000-8000-000000000001",
			"variable_originate_disposition": "SUCCESS", "variable_DIALSTATUS": "SUCCESS", "Application-Response": "_none_"} {
			if done.ev[k] != v {
				t.Errorf("%s = %q, want %q", k, done.ev[k], v)
			}
		}
		if !strings.HasPrefix(done.ev["variable_originate_causes"], "ARRAY::b0000000-0000-4000-8000-000000000001;NONE|:") {
			t.Errorf("originate_causes %q", done.ev["variable_originate_causes"])
		}
	})
	t.Run("sequential: busy then answer", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		e.o.exec("bridge", gw("+15550100101")+"|"+gw("+15550100002"))
		br := e.o.c.waitName("CHANNEL_BRIDGE")
		if br.ev["Other-Leg-Destination-Number"] != "+15550100002" {
			t.Fatalf("bridged to %q", br.ev["Other-Leg-Destination-Number"])
		}
		if c := e.legCauses(t, 1); c["+15550100101"] != "USER_BUSY/486" {
			t.Fatalf("busy leg %v", c)
		}
	})
	t.Run("all fail with continue_on_fail: transcript 05 result variables", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		e.o.run("set", "continue_on_fail=true")
		e.o.run("set", "hangup_after_bridge=false")
		type want struct{ disp, dial, failed, last string }
		cases := []struct {
			dial string
			want want
		}{
			// the caller here is a loopback leg (L16): a SIP leg must be
			// offered PCMU, or the far end refuses it with 488 (seen on 1.10.12)
			{"[leg_timeout=3]loopback/noanswer/default|[absolute_codec_string=PCMU]sofia/lo/busy@127.0.0.1:5060", want{"USER_BUSY", "BUSY", "USER_BUSY", "USER_BUSY"}},
			{"loopback/busy/default|[leg_timeout=3]loopback/noanswer/default", want{"ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT"}},
			{"{originate_timeout=2}loopback/noanswer/default", want{"NO_ANSWER", "NOANSWER", "NO_ANSWER", "NO_ANSWER"}},
			{"loopback/rejectCALL_REJECTED/default", want{"CALL_REJECTED", "DONTCALL", "CALL_REJECTED", "CALL_REJECTED"}},
			{gw("+15550100301"), want{"CALL_REJECTED", "DONTCALL", "CALL_REJECTED", "CALL_REJECTED"}},
			{"[leg_timeout=2]" + gw("+15550100250"), want{"ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT"}},
			// error/ creates no channel: last_bridge_hangup_cause keeps the
			// previous bridge's value (seen on 1.10.12)
			{"error/USER_BUSY", want{"USER_BUSY", "BUSY", "USER_BUSY", "ALLOTTED_TIMEOUT"}},
		}
		for _, c := range cases {
			evs, done := e.o.run("bridge", c.dial)
			got := want{done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"], done.ev["variable_originate_failed_cause"], done.ev["variable_last_bridge_hangup_cause"]}
			if got != c.want {
				t.Errorf("%s: got %+v want %+v", c.dial, got, c.want)
			}
			if done.ev["Application-Response"] != "_none_" {
				t.Errorf("%s: response %q", c.dial, done.ev["Application-Response"])
			}
			for _, f := range evs {
				if f.name() == "CHANNEL_HANGUP" {
					t.Errorf("%s: the A-leg must not hang up (continue_on_fail)", c.dial)
				}
			}
			for _, v := range []string{"bridge_hangup_cause", "hangup_cause", "sip_term_status"} {
				if r := e.o.getvar(v); r != "-ERR command not found" {
					t.Errorf("%s: %s = %q, want unset", c.dial, v, r)
				}
			}
		}
		if got := e.o.getvar("last_bridge_proto_specific_hangup_cause"); got != "sip:487" { // stale from the last SIP leg (the leg_timeout CANCEL), as in transcript 05
			t.Errorf("last_bridge_proto_specific_hangup_cause %q", got)
		}
	})
	t.Run("busy without continue_on_fail hangs up the caller", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		e.o.run("unset", "continue_on_fail") // the public dialplan sets it for managed numbers
		e.o.exec("bridge", gw("+15550100101"))
		evs := e.o.c.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_HANGUP_COMPLETE" })
		got := strings.Join(names(evs), " ")
		if !strings.HasPrefix(got, "CHANNEL_EXECUTE(bridge) CHANNEL_HANGUP CHANNEL_EXECUTE_COMPLETE(bridge) CHANNEL_UNPARK CHANNEL_EXECUTE_COMPLETE(socket)") {
			t.Fatalf("events %s", got)
		}
		if evs[len(evs)-1].ev["Hangup-Cause"] != "USER_BUSY" {
			t.Fatalf("cause %q", evs[len(evs)-1].ev["Hangup-Cause"])
		}
	})
	t.Run("no answer without continue_on_fail keeps the caller", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		_, done := e.o.run("bridge", "{originate_timeout=2}"+gw("+15550100201"))
		if done.ev["variable_DIALSTATUS"] != "NOANSWER" || done.ev["Answer-State"] != "answered" {
			t.Fatalf("dialstatus %q state %q", done.ev["variable_DIALSTATUS"], done.ev["Answer-State"])
		}
	})
	t.Run("timed number hangs up after NN s; hangup_after_bridge", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		e.o.run("set", "hangup_after_bridge=true")
		e.o.exec("bridge", gw("+15550100403"))
		e.o.c.waitName("CHANNEL_BRIDGE")
		e.o.c.waitName("CHANNEL_UNBRIDGE")
		hc := e.o.waitHangupComplete()
		if hc.ev["variable_bridge_hangup_cause"] != "NORMAL_CLEARING" || hc.ev["Hangup-Cause"] != "NORMAL_CLEARING" {
			t.Fatalf("bridge_hangup_cause %q cause %q", hc.ev["variable_bridge_hangup_cause"], hc.ev["Hangup-Cause"])
		}
		leg := e.legCauses(t, 1)
		if leg["+15550100403"] != "NORMAL_CLEARING/200" {
			t.Fatalf("leg %v", leg)
		}
	})
	// The node hangs the caller up with the cause the other side ended
	// with (the capture of TestMaxConversationEndsTheBridge on 1.10.12).
	t.Run("hangup_after_bridge passes the other side's cause on", func(t *testing.T) {
		e := newBridgeEnv(t, true)
		e.o.run("set", "hangup_after_bridge=true")
		e.o.exec("bridge", "[origination_uuid=c0000000-0000-4000-8000-000000000003]"+gw("+15550100003"))
		e.o.c.waitName("CHANNEL_BRIDGE")
		e.o.c.cmd("api uuid_kill c0000000-0000-4000-8000-000000000003 ALLOTTED_TIMEOUT")
		hc := e.o.waitHangupComplete()
		if hc.ev["Hangup-Cause"] != "ALLOTTED_TIMEOUT" || hc.ev["variable_bridge_hangup_cause"] != "ALLOTTED_TIMEOUT" {
			t.Fatalf("cause %q bridge_hangup_cause %q", hc.ev["Hangup-Cause"], hc.ev["variable_bridge_hangup_cause"])
		}
	})
	t.Run("unanswered caller is answered by the bridge; caller hangs up while ringing", func(t *testing.T) {
		e := newBridgeEnv(t, false)
		e.o.exec("bridge", gw("+15550100003"))
		evs := e.o.c.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_BRIDGE" })
		got := strings.Join(names(evs), " ")
		if got != "CHANNEL_PARK CHANNEL_EXECUTE(bridge) CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_BRIDGE" {
			t.Fatalf("events %s", got)
		}

		e2 := newBridgeEnv(t, true)
		e2.o.exec("bridge", "[origination_uuid=c0000000-0000-4000-8000-000000000002]"+gw("+15550100204")+",loopback/+15550100205")
		e2.obs.waitEvent("ringing", func(f *tframe) bool {
			return f.name() == "CHANNEL_PROGRESS" && f.ev["Unique-ID"] == "c0000000-0000-4000-8000-000000000002"
		})
		e2.o.c.cmd("api uuid_kill " + e2.o.uuid)
		causes := e2.legCauses(t, 2)
		if causes["+15550100204"] != "ORIGINATOR_CANCEL/487" || causes["+15550100205"] != "ORIGINATOR_CANCEL/" {
			t.Fatalf("causes %v", causes)
		}
	})
	t.Run("B-leg events on the call's own socket via filter Unique-ID", func(t *testing.T) {
		ss := newSocketServer(t)
		s := newTestServer(t, func(c *Config) { c.SocketAddr = ss.addr() })
		if _, err := s.PlaceCall(t.Context(), CallScript{To: "+918000000001"}); err != nil {
			t.Fatal(err)
		}
		c := ss.accept()
		data := c.cmd("connect")
		a := data.ev["Unique-ID"]
		c.okCmd("+OK event listener enabled plain", "event plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE_COMPLETE")
		c.okCmd("+OK filter added. [Unique-ID]=["+a+"]", "filter Unique-ID "+a)
		b := "d0000000-0000-4000-8000-000000000003"
		c.okCmd("+OK filter added. [Unique-ID]=["+b+"]", "filter Unique-ID "+b)
		c.okCmd("+OK will linger", "linger")
		c.okCmd("+OK", "sendmsg", "call-command: execute", "execute-app-name: answer")
		c.okCmd("+OK", "sendmsg", "call-command: execute", "execute-app-name: bridge", "execute-app-arg: [origination_uuid="+b+"]sofia/gateway/gw/+15550100404")
		evs := c.collectUntil(func(f *tframe) bool { return f.name() == "CHANNEL_HANGUP_COMPLETE" && f.ev["Unique-ID"] == b })
		var seq []string
		for _, f := range evs {
			if f.ev["Unique-ID"] == b {
				seq = append(seq, f.name())
				if f.ev["Call-Direction"] != "outbound" || f.ev["Other-Leg-Unique-ID"] != a {
					t.Errorf("%s: direction %q other %q", f.name(), f.ev["Call-Direction"], f.ev["Other-Leg-Unique-ID"])
				}
			}
			if u := f.ev["Unique-ID"]; u != a && u != b {
				t.Errorf("event of another channel leaked through the filter: %s %s", f.name(), u)
			}
		}
		if got := strings.Join(seq, " "); got != "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE" {
			t.Fatalf("B-leg lifecycle %s", got)
		}
	})
}

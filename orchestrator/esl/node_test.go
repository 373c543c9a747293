package esl

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// What FreeSWITCH 1.10.12 answers to `api status` (seen on the real node).
const realStatus = `UP 0 years, 0 days, 0 hours, 0 minutes, 17 seconds, 20 milliseconds, 189 microseconds
FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready
12 session(s) since startup
3 session(s) - peak 7, last 5min 5 
0 session(s) per Sec out of max 1000, peak 0, last 5min 0 
4000 session(s) max
min idle cpu 0.00/53.37
Current Stack Size/Max 240K/8192K
`

func TestParseStatus(t *testing.T) {
	st, ok := parseStatus(realStatus)
	if !ok || st.sessions != 3 || st.maxSessions != 4000 {
		t.Errorf("parseStatus = %+v %v, want 3 sessions of 4000", st, ok)
	}
	if _, ok := parseStatus("-ERR no such command\n"); ok {
		t.Error("an error answer parsed as a status")
	}
}

// A node that stops answering is taken out within a probe's timeout: it
// is no longer connected (the pool skips it) and OnDown gets its
// Core-UUID, so that the calls whose sockets went silent with it can be
// checked.
func TestNodeProbeTakesOutSilentNode(t *testing.T) {
	srv := newInboundServer(t)
	down := make(chan string, 1)
	n := NewNode(NodeConfig{Addr: srv.addr(), Password: "ClueCon", Logger: discard(),
		ProbeInterval: 20 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, MinBackoff: time.Hour,
		OnDown: func(core string) { down <- core }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	p := <-srv.conns
	p.nodeConnects("", "core-7")
	if _, err := n.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	// The first probe: its session figures replace the heartbeat's.
	if cmd := p.mustRead(); cmd.Line != "api status" {
		t.Fatalf("probe: %q", cmd.Line)
	}
	p.api(realStatus)
	// The second probe finds the node frozen: no answer.
	if cmd := p.mustRead(); cmd.Line != "api status" {
		t.Fatalf("probe: %q", cmd.Line)
	}
	select {
	case core := <-down:
		if core != "core-7" {
			t.Errorf("OnDown(%q), want core-7", core)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a node that stopped answering was never taken out")
	}
	h := n.Health()
	if h.Connected || h.SessionCount != 3 || h.MaxSessions != 4000 {
		t.Errorf("health after the probe went unanswered: %+v", h)
	}
	if _, err := n.Conn(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Conn() = %v, want ErrNotConnected", err)
	}
}

func TestPoolPicksLeastLoadedSkipsDrainedAndFull(t *testing.T) {
	mk := func(name string, h Health) *Node {
		n := NewNode(NodeConfig{Addr: name})
		n.health = h
		return n
	}
	a := mk("a", Health{Connected: true, SessionCount: 5})
	b := mk("b", Health{Connected: true, SessionCount: 2})
	c := mk("c", Health{Connected: false})
	d := mk("d", Health{Connected: true, SessionCount: 10, MaxSessions: 10})
	p := NewPool(a, b, c, d)

	// b is the least loaded; the calls placed there since its last
	// report count until they are released.
	var releases []func()
	var got []string
	for range 4 {
		n, release, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n.Name())
		releases = append(releases, release)
	}
	if want := "b b b a"; strings.Join(got, " ") != want {
		t.Errorf("picks %v, want %s: b until its load reaches a's", got, want)
	}
	for _, r := range releases {
		r()
		r() // twice is harmless
	}

	if !b.SetDrained(true) || b.SetDrained(true) {
		t.Error("SetDrained does not tell whether it changed anything")
	}
	if n, _, err := p.Pick(); err != nil || n != a {
		t.Errorf("with b drained: %v %v, want a", n, err)
	}
	a.SetDrained(true)
	_, _, err := p.Pick()
	if !errors.Is(err, ErrNoNode) || err.Error() != "pool of 4 nodes, 2 connected ones drained: "+ErrNoNode.Error() {
		t.Errorf("all usable nodes drained: %v", err)
	}
	b.SetDrained(false)
	if n, _, err := p.Pick(); err != nil || n != b {
		t.Errorf("b undrained: %v %v", n, err)
	}
}

// A node sets its filters before it subscribes (otherwise every channel
// event of the node would come until they land): the node's heartbeats
// and its own bgapi jobs pass, and then the caller's filters or, without
// any, every event of the caller's types. Other clients' jobs do not:
// FreeSWITCH sends every job's result to every connection subscribed to
// BACKGROUND_JOB.
func TestNodeFiltersBeforeItSubscribes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		filters []Filter
		want    []string
	}{
		{"the caller's filters", []Filter{{"variable_mark", "me"}}, []string{"filter Event-Name HEARTBEAT", "filter variable_mark me"}},
		{"none: the subscribed types", nil, []string{"filter Event-Name HEARTBEAT", "filter Event-Name CHANNEL_HANGUP_COMPLETE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newInboundServer(t)
			n := NewNode(NodeConfig{Addr: srv.addr(), Password: "ClueCon", Logger: discard(), MinBackoff: time.Hour,
				Events: []string{"CHANNEL_HANGUP_COMPLETE"}, Filters: tc.filters})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go n.Run(ctx)
			p := <-srv.conns
			got := p.nodeConnects("event plain BACKGROUND_JOB HEARTBEAT CHANNEL_HANGUP_COMPLETE", "core-7")
			conn, err := n.WaitConnected(ctx)
			if err != nil {
				t.Fatal(err)
			}
			own := "filter Job-UUID " + conn.OwnJobs().Value
			if want := append([]string{own}, tc.want...); !slices.Equal(got, want) {
				t.Fatalf("filters %q, want %q", got, want)
			}
			// A job's Job-UUID matches the filter, and is a UUID's length
			// (FreeSWITCH keeps 36 characters of it).
			go func() { _, _ = conn.BgAPI(ctx, "status") }()
			cmd := p.mustRead()
			id := cmd.Headers["Job-UUID"]
			re := regexp.MustCompile(strings.Trim(conn.OwnJobs().Value, "/"))
			if cmd.Line != "bgapi status" || len(id) != 36 || !re.MatchString(id) {
				t.Errorf("bgapi %q with Job-UUID %q: not one %s lets through", cmd.Line, id, own)
			}
		})
	}
}

// An event type wanted by some calls for a while is subscribed on the
// node's connection by its first holder and dropped by its last, and a
// connection made while it is held subscribes to it with the rest.
func TestNodeWantCountsHolders(t *testing.T) {
	srv := newInboundServer(t)
	n := NewNode(NodeConfig{Addr: srv.addr(), Password: "ClueCon", Logger: discard(),
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, ProbeInterval: time.Hour,
		Events: []string{"CHANNEL_HANGUP_COMPLETE"}, Filters: []Filter{{"variable_mark", "me"}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	p := <-srv.conns
	p.nodeConnects("event plain BACKGROUND_JOB HEARTBEAT CHANNEL_HANGUP_COMPLETE", "core-7")
	if _, err := n.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}

	type wanted struct {
		release func()
		err     error
	}
	want := func() <-chan wanted {
		out := make(chan wanted, 1)
		go func() {
			release, err := n.Want(ctx, "PLAYBACK_START")
			out <- wanted{release, err}
		}()
		return out
	}
	// subscribes: a holder whose Want subscribes the connection, which
	// answers reply.
	subscribes := func(who, reply string) wanted {
		t.Helper()
		w := want()
		p.expectLines("event plain PLAYBACK_START")
		p.reply(reply)
		got := <-w
		if refused := strings.HasPrefix(reply, "-ERR"); (got.err != nil) != refused {
			t.Fatalf("%s: %v, after the node's %q", who, got.err, reply)
		}
		return got
	}
	// drops: the release of the last holder sends nixevent.
	drops := func(release func()) {
		t.Helper()
		released := make(chan struct{})
		go func() { release(); close(released) }()
		p.expectLines("nixevent PLAYBACK_START")
		p.reply("+OK events nixed")
		<-released
	}
	w1 := subscribes("first holder", "+OK event listener enabled json")
	// The second holder sends nothing; neither does the first's release
	// while the second holds it, nor a second call of the same release.
	w2 := <-want()
	if w2.err != nil {
		t.Fatalf("second holder: %v", w2.err)
	}
	w1.release()
	w1.release()
	drops(w2.release)

	// Held across a reconnect: the new connection subscribes to it, and
	// the last release drops it there.
	w3 := subscribes("third holder", "+OK event listener enabled json")
	p.conn.Close()
	p = <-srv.conns
	p.nodeConnects("event plain BACKGROUND_JOB HEARTBEAT CHANNEL_HANGUP_COMPLETE PLAYBACK_START", "core-7")
	drops(w3.release)

	// A subscription the node refused is tried again by the next
	// holder; its release drops it once, and only the holders' last.
	w4 := subscribes("a refused holder", "-ERR no")
	w5 := subscribes("the holder after a refusal", "+OK event listener enabled json")
	w4.release()
	drops(w5.release)

	// A type the connection takes for good is neither subscribed again
	// nor dropped: the next command the node reads is the next holder's.
	base, err := n.Want(ctx, "CHANNEL_HANGUP_COMPLETE")
	if err != nil {
		t.Fatalf("a subscribed type: %v", err)
	}
	base()
	drops(subscribes("a holder after one of a subscribed type", "+OK event listener enabled json").release)
}

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

// Faults: what Switchyard promises when it is stopped, killed or cut off
// (see the README's "What Switchyard guarantees"). Each test asserts that
// every call gets its final record and its terminal callback.

// A SIGTERM drain refuses new API calls with 503, and a call placed just
// before it still reaches this instance when its first leg answers: it
// runs to its end, with its final record and terminal callback.
func TestServeDrainKeepsPlacedCalls(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		db := dsn(t)
		rc := newReceiver(t)
		draining, resume := make(chan struct{}), make(chan struct{})
		s := startServe(t, db, func(c *Config) {
			c.drainStarted = func() {
				close(draining)
				<-resume
			}
		})
		// Rings 1 s, then talks to +15550100405, which hangs up after 5 s.
		placed := s.connect(url.Values{"From": {"+15550100001"}, "To": {"+15550100405"}, "CallerId": {demoPhone},
			"StatusCallback": {rc.url}})
		go s.stop()
		<-draining
		code, body, _ := s.do("POST", "/v1/Accounts/"+demoAccount+"/Calls/connect.json",
			url.Values{"From": {"+15550100002"}, "To": {"+15550100001"}, "CallerId": {demoPhone}})
		close(resume)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "shutting down") {
			t.Errorf("Calls/connect while draining: %d %s, want 503", code, body)
		}
		s.stop()

		// The callback may have been delivered before the stop, or is
		// left in the outbox for the next instance: either way it arrives.
		s2 := startServe(t, db)
		if got := terminalStatus(rc.terminal(placed.Sid)); got != "completed" {
			t.Errorf("terminal callback status %q, want completed", got)
		}
		var out struct{ Call v1Call }
		s2.getJSON("/v1/Accounts/"+demoAccount+"/Calls/"+placed.Sid+".json", &out)
		if out.Call.Status != "completed" {
			t.Errorf("call placed before the drain: status %q, want completed", out.Call.Status)
		}
	})
}

// kill -9 of an instance with live calls: the calls still up on the node
// go on; once their channels are gone, the instance that comes back (or
// any other) closes each one, with its final record and its terminal
// callback, within seconds of noticing the dead instance.
func TestServeKilledInstanceCallsClosedAfterRestart(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		db := dsn(t)
		rc := newReceiver(t)
		// The node outlives the instances: it runs in this process.
		emu := testNode(t, "127.0.0.1:0")
		first := startChild(t, db, "-fs", emu.Addr())
		emu.SetSocketAddr(first.socket)
		// Ten click-to-calls, each in conversation when the instance dies;
		// the callee hangs up 60 s (3 s here) after answering.
		const calls = 10
		var sids []string
		for i := range calls {
			c := first.connect(url.Values{"From": {fmt.Sprintf("+155501000%02d", 10+i)}, "To": {"+15550100460"},
				"CallerId": {demoPhone}, "StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal", "answered"}})
			sids = append(sids, c.Sid)
		}
		for _, sid := range sids {
			rc.answered(sid)
		}
		first.kill()

		restarted := time.Now()
		second := startChild(t, db, "-fs", emu.Addr())
		emu.SetSocketAddr(second.socket)
		for _, sid := range sids {
			status := terminalStatus(rc.terminal(sid))
			var out struct{ Call v1Call }
			second.getJSON("/v1/Accounts/"+demoAccount+"/Calls/"+sid+".json", &out)
			if out.Call.Status != "completed" || status != "completed" {
				t.Errorf("call %s of the killed instance: record %q, terminal callback %q; want completed",
					sid, out.Call.Status, status)
			}
		}
		took := time.Since(restarted)
		t.Logf("%d calls of the killed instance closed, with their callbacks, %s after the restart began", calls, took.Round(10*time.Millisecond))
		// The promise (README): within 10 s of the instance being noticed
		// dead (its beats stale: 6 s); the slack is for -race on 2 cores.
		if took > 20*time.Second {
			t.Errorf("closing the killed instance's calls took %s", took)
		}
	})
}

// A database outage: calls that end while the database is away keep
// their final records in the write queue, which lands them (with their
// terminal callbacks) once it is back; meanwhile new calls get 503, not
// 500. PostgreSQL goes away behind a proxy that cuts every connection; a
// SQLite file cannot go away, but another process can hold its write lock
// (a backup, a stuck tool), which serve sees the same way.
func TestServeDatabaseOutage(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		dsn := storetest.SQLiteDSN(t)
		s := startServe(t, dsn)
		locker := storetest.Open(t, dsn)
		var held *sql.Conn
		databaseOutage(t, s, true, func() {
			pool, err := locker.Gorm().DB()
			if err != nil {
				t.Fatal(err)
			}
			if held, err = pool.Conn(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := held.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
		}, func() {
			if _, err := held.ExecContext(t.Context(), "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			_ = held.Close()
		})
	})
	t.Run("postgres", func(t *testing.T) {
		proxy, dsn := proxyDSN(t, storetest.PostgresDSN(t))
		s := startServe(t, dsn)
		databaseOutage(t, s, false, func() { proxy.setDown(true) }, func() { proxy.setDown(false) })
	})
}

// readable says reads still work meanwhile (a SQLite file whose write
// lock another process holds; not a PostgreSQL server that went away).
func databaseOutage(t *testing.T, s *server, readable bool, takeAway, giveBack func()) {
	rc := newReceiver(t)
	// The node's hang-ups tell when the calls have ended on it.
	hungUp := make(chan string, 64)
	node := esl.NewNode(esl.NodeConfig{Addr: s.esl, Password: "ClueCon", Events: []string{"CHANNEL_HANGUP_COMPLETE"},
		OnEvent: func(_ *esl.Conn, ev esl.Event) {
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
				hungUp <- ev.Get("Unique-ID")
			}
		}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go node.Run(ctx)
	if _, err := node.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	// Five click-to-calls that talk for 3 s (60 s on the emulator's clock).
	const calls = 5
	var sids []string
	for i := range calls {
		c := s.connect(url.Values{"From": {fmt.Sprintf("+155501000%02d", 30+i)}, "To": {"+15550100460"},
			"CallerId": {demoPhone}, "StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal", "answered"}})
		sids = append(sids, c.Sid)
	}
	for _, sid := range sids {
		rc.answered(sid)
	}
	takeAway()
	for range 2 * calls { // both legs of every call
		<-hungUp
	}
	code, body, _ := s.do("POST", "/v1/Accounts/"+demoAccount+"/Calls/connect.json",
		url.Values{"From": {"+15550100040"}, "To": {"+15550100001"}, "CallerId": {demoPhone}})
	if code != http.StatusServiceUnavailable {
		t.Errorf("Calls/connect while the database is away: %d %s, want 503", code, body)
	}
	if readable {
		// Reads do not need the write lock: a call's details answer, as
		// last committed (answered; its end waits in the write queue).
		var out struct{ Call v1Call }
		code, body, _ := s.do("GET", "/v1/Accounts/"+demoAccount+"/Calls/"+sids[0]+".json?details=true", nil)
		if err := json.Unmarshal(body, &out); code != http.StatusOK || err != nil || out.Call.Status != "in-progress" {
			t.Errorf("call details while another process holds the write lock: %d %s, want 200 and in-progress", code, body)
		}
		// So do the management API's: the account's flows and ExoPhones,
		// what is known of a call.
		for _, path := range []string{"/flows", "/exophones", "/calls/" + sids[0] + "/callbacks",
			"/calls/" + sids[0] + "/recordings", "/calls/" + sids[0] + "/requests", "/calls/" + sids[0] + "/messages"} {
			if code, body, _ := s.do("GET", "/v2/accounts/"+demoAccount+path, nil); code != http.StatusOK {
				t.Errorf("GET %s while another process holds the write lock: %d %s, want 200", path, code, body)
			}
		}
	}
	back := time.Now()
	giveBack()
	for _, sid := range sids {
		if got := terminalStatus(rc.terminal(sid)); got != "completed" {
			t.Errorf("call %s ended during the outage: terminal callback status %q, want completed", sid, got)
		}
		var out struct{ Call v1Call }
		s.getJSON("/v1/Accounts/"+demoAccount+"/Calls/"+sid+".json", &out)
		if out.Call.Status != "completed" {
			t.Errorf("call %s ended during the outage: record %q, want completed", sid, out.Call.Status)
		}
	}
	t.Logf("%d calls ended during the outage: records and terminal callbacks landed %s after the database came back",
		calls, time.Since(back).Round(10*time.Millisecond))
}

// A media node that goes down with calls on it, and comes back (a new
// Core-UUID): every call it had gets its final record and terminal
// callback, and the node takes new calls once it is back.
func TestServeNodeDroppedAndBack(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		node := testNode(t, "127.0.0.1:0")
		reconciled := make(chan string, 4)
		s := startServe(t, dsn(t), func(c *Config) {
			c.FSNodes = node.Addr()
			c.nodeReconciled = func(n string) { reconciled <- n }
		})
		rc := newReceiver(t)
		// The node's bridges tell when both legs of a call talk: the
		// answered callback comes with the first leg, before the second
		// is rung.
		bridged := make(chan string, 16)
		watch := esl.NewNode(esl.NodeConfig{Addr: node.Addr(), Password: "ClueCon", Events: []string{"CHANNEL_BRIDGE"},
			OnEvent: func(_ *esl.Conn, ev esl.Event) {
				if ev.Name() == "CHANNEL_BRIDGE" {
					bridged <- ev.Get("Unique-ID")
				}
			}})
		wctx, stopWatch := context.WithCancel(t.Context())
		defer stopWatch()
		go watch.Run(wctx)
		if _, err := watch.WaitConnected(wctx); err != nil {
			t.Fatal(err)
		}
		const calls = 5
		var sids []string
		for i := range calls {
			c := s.connect(url.Values{"From": {fmt.Sprintf("+155501000%02d", 50+i)}, "To": {"+15550100460"},
				"CallerId": {demoPhone}, "StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal", "answered"}})
			sids = append(sids, c.Sid)
		}
		for _, sid := range sids {
			rc.answered(sid)
		}
		for range calls {
			<-bridged
		}
		stopWatch()
		addr := node.Addr()
		if err := node.Close(); err != nil {
			t.Fatal(err)
		}
		for _, sid := range sids {
			if got := terminalStatus(rc.terminal(sid)); got != "completed" {
				t.Errorf("call %s on the node that went down: terminal callback %q, want completed", sid, got)
			}
			var out struct{ Call v1Call }
			s.getJSON("/v1/Accounts/"+demoAccount+"/Calls/"+sid+".json", &out)
			if out.Call.Status != "completed" {
				t.Errorf("call %s on the node that went down: record %q, want completed", sid, out.Call.Status)
			}
		}
		testNode(t, addr)
		if got := <-reconciled; got != addr {
			t.Fatalf("reconciled node %q, want %q", got, addr)
		}
		c := s.connect(url.Values{"From": {"+15550100060"}, "To": {"+15550100402"}, "CallerId": {demoPhone}, "StatusCallback": {rc.url}})
		if got := terminalStatus(rc.terminal(c.Sid)); got != "completed" {
			t.Errorf("call placed once the node was back: %q, want completed", got)
		}
	})
}

// A hostile peer on the socket port (even from an allowed address) costs
// only its own connection: frames that lie about their size or never end
// are cut, and calls go on.
func TestServeSurvivesHostilePeerOnSocketPort(t *testing.T) {
	t.Parallel()
	s := startServe(t, storetest.SQLiteDSN(t))
	rc := newReceiver(t)
	c := s.connect(url.Values{"From": {"+15550100070"}, "To": {"+15550100402"}, "CallerId": {demoPhone}, "StatusCallback": {rc.url}})
	for _, attack := range []string{
		"Content-Type: command/reply\nContent-Length: -1\n\n",
		"Content-Type: command/reply\nContent-Length: 99999999999999\n\n",
		"Content-Type: text/event-json\nContent-Length: 1\n\n{",
		strings.Repeat("A", 1<<20), // a header line without end
	} {
		conn, err := net.Dial("tcp", s.socket)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte(attack))
		// The server cuts the connection: reading ends.
		_, _ = io.Copy(io.Discard, conn)
		_ = conn.Close()
	}
	if got := terminalStatus(rc.terminal(c.Sid)); got != "completed" {
		t.Errorf("call beside the hostile peer: %q, want completed", got)
	}
	code, _, _ := s.do("GET", "/v1/Accounts/"+demoAccount+"/Calls/"+c.Sid+".json", nil)
	if code != http.StatusOK {
		t.Errorf("API after the attack: %d", code)
	}
}

// A status callback being delivered when its instance is killed is
// delivered by the instance that notices the death, seconds later, not
// after the queue's rescue delay (minutes).
func TestServeKilledInstanceCallbackRescued(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		db := dsn(t)
		arrived, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		delivered := make(chan string, 4)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseMultipartForm(1 << 20)
			first := false
			once.Do(func() { first = true })
			if first {
				close(arrived)
				select { // hang until the instance delivering it dies
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			delivered <- r.FormValue("CallSid")
		}))
		defer srv.Close()
		defer close(release)
		emu := testNode(t, "127.0.0.1:0")
		first := startChild(t, db, "-fs", emu.Addr())
		c := first.connect(url.Values{"From": {"+15550100080"}, "To": {"+15550100402"}, "CallerId": {demoPhone},
			"StatusCallback": {srv.URL}})
		<-arrived
		first.kill()
		restarted := time.Now()
		startChild(t, db, "-fs", emu.Addr())
		select {
		case got := <-delivered:
			if got != c.Sid {
				t.Fatalf("delivered a callback of %q, want %q", got, c.Sid)
			}
		case <-time.After(60 * time.Second): // the queue's own rescue comes after 2 min
			t.Fatal("the callback the killed instance was delivering did not arrive within 60s")
		}
		took := time.Since(restarted)
		t.Logf("the callback the killed instance was delivering arrived %s after the restart began", took.Round(10*time.Millisecond))
		if took > 30*time.Second {
			t.Errorf("rescue took %s", took)
		}
	})
}

// testNode runs an emulated node in the test process (so it outlives the
// instances under test), at speed 20, listening on addr.
func testNode(t *testing.T, addr string) *fsim.Server {
	t.Helper()
	emu := fsim.New(fsim.Config{Tick: fsim.DefaultTick, Speed: 20, RecordingsDir: t.TempDir(),
		Logger: testlog.New(t, slog.LevelWarn)})
	if err := emu.Listen(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	return emu
}

// terminalStatus is the Status of the terminal callback among cbs.
func terminalStatus(cbs []received) string {
	for _, cb := range cbs {
		if et := cb.fields["EventType"]; et == "" || et == "terminal" {
			return cb.fields["Status"]
		}
	}
	return ""
}

package loadgen

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

const (
	account    = "acme"
	supportNum = "+15550000100"
)

// rig is Switchyard (the call runtime behind the outbound-socket server,
// on SQLite, with the Basic Support Flow on supportNum) and the emulator,
// in this process, talking ESL over loopback TCP.
type rig struct {
	fs  *fsim.Server
	db  *store.DB
	met *metrics.Set // the runtime's and the store queue's
}

func newRig(t *testing.T) *rig {
	t.Helper()
	log := testlog.New(t, slog.LevelWarn)
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	doc, err := examples.Read(examples.BasicSupport)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ServeFlow(t, db, account, supportNum, "support", doc)
	met := metrics.New("test")
	writes := store.NewQueue(db, store.QueueConfig{Metrics: met})
	t.Cleanup(func() { writes.Close(context.Background()) })
	rt := call.New(call.NewQueuedStore(db, writes), call.Config{RecordingsDir: t.TempDir(), Metrics: met}, nil, nil, log)
	srv := esl.NewServer(rt.Handle, log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("socket server shutdown: %v", err)
		}
		<-served
	})
	// Speed 5: prompts, rings and menu timeouts run 5 times faster, while
	// Switchyard's work and the caller's timers stay real. Faster, a
	// menu's timeout (5 s) would end before a loaded -race run answers it.
	fs := fsim.New(fsim.Config{Speed: 5, SocketAddr: l.Addr().String(), RecordingsDir: t.TempDir(),
		Logger: log.With("component", "emulator")})
	if err := fs.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return &rig{fs: fs, db: db, met: met}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunBasicSupport(t *testing.T) {
	r := newRig(t)
	script, err := ParseScript("digits=1;hangup-after-bridge=100ms")
	if err != nil {
		t.Fatal(err)
	}
	progress := &syncBuffer{}
	serveMetrics := httptest.NewServer(r.met.Handler())
	defer serveMetrics.Close()
	rep, err := Run(context.Background(), Config{
		Addr: r.fs.Addr(), To: supportNum, Calls: 20, CPS: 200, Concurrency: 20,
		Script: script, CallTimeout: 30 * time.Second,
		Measure: Measure{Records: DBRecords(r.db), Grace: 10 * time.Second, Poll: 20 * time.Millisecond,
			ServePID: os.Getpid(), Metrics: serveMetrics.URL, Progress: progress, ProgressEvery: 100 * time.Millisecond,
			Logger: testlog.New(t, slog.LevelDebug)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	if rep.Placed != 20 || rep.Completed != 20 || rep.Failed != 0 || len(rep.FailedByCause) != 0 {
		t.Errorf("placed %d, completed %d, failed %d %v; want 20, 20, 0", rep.Placed, rep.Completed, rep.Failed, rep.FailedByCause)
	}
	if rep.Lost == nil || *rep.Lost != 0 || rep.TookWithoutCallSID != 0 {
		t.Errorf("lost %v (%v), took without CallSid %d; want 0", rep.Lost, rep.LostCallSIDs, rep.TookWithoutCallSID)
	}
	for name, v := range map[string]*float64{"setup p50": rep.SetupMsP50, "setup p99": rep.SetupMsP99,
		"dtmf->bridge p50": rep.DTMFBridgeMsP50, "dtmf->bridge p99": rep.DTMFBridgeMsP99} {
		if v == nil || *v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if *rep.SetupMsP50 > *rep.SetupMsP99 || *rep.SetupMsP99 > *rep.SetupMsMax {
		t.Errorf("setup quantiles out of order: %v %v %v", *rep.SetupMsP50, *rep.SetupMsP99, *rep.SetupMsMax)
	}
	if rep.ServeCPUMsPerCall == nil || *rep.ServeCPUMsPerCall < 0 || rep.NodeCPUMsPerCall != nil {
		t.Errorf("cpu per call: serve %v node %v; want a figure and nil", rep.ServeCPUMsPerCall, rep.NodeCPUMsPerCall)
	}
	// Two timed steps a call (the menu, the connect), each of them
	// written before the node's reply; the store wrote every call.
	for name, v := range map[string]*float64{"step p50": rep.StepMsP50, "step p99": rep.StepMsP99,
		"dispatch p50": rep.DispatchMsP50, "dispatch p99": rep.DispatchMsP99, "store tx/call": rep.StoreTxPerCall} {
		if v == nil || *v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if rep.StoreWritesPerCall == nil || rep.StoreTxPerCall == nil || *rep.StoreWritesPerCall < *rep.StoreTxPerCall {
		t.Errorf("store writes/call %v, transactions/call %v: want at least a write a transaction", rep.StoreWritesPerCall, rep.StoreTxPerCall)
	}
	if rep.PeakInFlight < 1 || rep.PeakInFlight > 20 || rep.AchievedCPS <= 0 || rep.ElapsedS <= 0 {
		t.Errorf("peak %d, cps %v, elapsed %v", rep.PeakInFlight, rep.AchievedCPS, rep.ElapsedS)
	}
	if !strings.Contains(progress.String(), "load: placed ") && rep.ElapsedS > 0.2 {
		t.Errorf("no progress line in %q", progress.String())
	}
}

// TestRunFailures: a number with no flow, and a script whose bridge never
// comes (the caller stays silent, so the menu goes nowhere near an agent).
func TestRunFailures(t *testing.T) {
	r := newRig(t)
	t.Run("unknown number", func(t *testing.T) {
		rep, err := Run(context.Background(), Config{
			Addr: r.fs.Addr(), To: "+15550000999", Calls: 3, CPS: 100, Concurrency: 3,
			Script: DefaultScript(), CallTimeout: 20 * time.Second,
			Measure: Measure{Records: DBRecords(r.db), Grace: 5 * time.Second, Poll: 20 * time.Millisecond,
				Logger: testlog.New(t, slog.LevelInfo)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Placed != 3 || rep.Failed != 3 || rep.Completed != 0 {
			t.Fatalf("placed %d failed %d completed %d", rep.Placed, rep.Failed, rep.Completed)
		}
		for cause := range rep.FailedByCause {
			if cause == "" || cause == CauseTimeout {
				t.Errorf("cause %q", cause)
			}
		}
		// Switchyard refuses the calls (an announcement, then a hang-up)
		// and keeps no record of them: with the database checked, each
		// counts as lost too.
		if rep.Lost == nil || *rep.Lost != 3 || rep.TookWithoutCallSID != 3 || rep.Bad() != 6 {
			t.Errorf("lost %v, took without CallSid %d, bad %d; want 3, 3, 6", rep.Lost, rep.TookWithoutCallSID, rep.Bad())
		}
	})
	t.Run("no bridge", func(t *testing.T) {
		// 9 is no choice of the menu: the flow says so and asks again,
		// never ringing anyone; the caller gives up a second after the
		// answer.
		rep, err := Run(context.Background(), Config{
			Addr: r.fs.Addr(), To: supportNum, Calls: 2, CPS: 100, Concurrency: 2,
			Script: Script{Digits: []string{"9"}, HangupAfterAnswer: time.Second, HangupAfterBridge: time.Second}, CallTimeout: 20 * time.Second,
			Measure: Measure{Logger: testlog.New(t, slog.LevelInfo)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 2 || rep.FailedByCause[CauseNoBridge] != 2 || rep.Lost != nil {
			t.Errorf("failed %d %v lost %v; want 2 %s, lost not checked", rep.Failed, rep.FailedByCause, rep.Lost, CauseNoBridge)
		}
		if rep.DTMFBridgeMsP50 != nil || rep.SetupMsP50 == nil {
			t.Errorf("dtmf->bridge %v setup %v", rep.DTMFBridgeMsP50, rep.SetupMsP50)
		}
	})
}

func TestRunConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]Config{
		"no addr":        {To: "1", Calls: 1, CPS: 1, Concurrency: 1},
		"no number":      {Addr: "x:1", Calls: 1, CPS: 1, Concurrency: 1},
		"no calls":       {Addr: "x:1", To: "1", CPS: 1, Concurrency: 1},
		"no rate":        {Addr: "x:1", To: "1", Calls: 1, Concurrency: 1},
		"no concurrency": {Addr: "x:1", To: "1", Calls: 1, CPS: 1},
		"negative pid":   {Addr: "x:1", To: "1", Calls: 1, CPS: 1, Concurrency: 1, Measure: Measure{ServePID: -1}},
		"negative baseline": {Addr: "x:1", To: "1", Calls: 1, CPS: 1, Concurrency: 1,
			Measure: Measure{ServePID: 1, Baseline: -time.Second}},
	} {
		if _, err := Run(ctx, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := Run(ctx, Config{Addr: addr, To: "1", Calls: 1, CPS: 1, Concurrency: 1}); err == nil {
		t.Error("closed port: no error")
	}
}

// TestSweepHangsUpCallersLeftUp: callers the tool gave up on but could
// not hang up (its connections had died) are hung up over a new
// connection before lost calls are counted; a caller already gone counts
// for nothing and is no error.
func TestSweepHangsUpCallersLeftUp(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	conn, err := esl.DialInbound(ctx, r.fs.Addr(), "ClueCon", testlog.New(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A caller that stays up: the test network's +15550100001 answers
	// and waits for the other side to hang up.
	up := esl.NewUUID()
	if _, err := conn.API(ctx, "originate {origination_uuid="+up+"}loopback/+15550100001/switchyard_testnet &park()"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Addr: r.fs.Addr(), To: supportNum, Calls: 1, CPS: 1, Concurrency: 1,
		Measure: Measure{Logger: testlog.New(t, slog.LevelWarn)}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g := &generator{cfg: cfg, log: cfg.Logger}
	g.leftUp(up)
	g.leftUp(esl.NewUUID()) // never existed
	n, err := g.sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1 caller hung up", n, err)
	}
	if out, err := conn.API(ctx, "uuid_exists "+up); err != nil || out != "false" {
		t.Errorf("uuid_exists after the sweep = %q, %v; want false", out, err)
	}
	if n, err := (&generator{cfg: cfg, log: cfg.Logger}).sweep(ctx); n != 0 || err != nil {
		t.Errorf("a sweep with nobody left up = %d, %v", n, err)
	}
}

package scenario

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/parking"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
	"github.com/switchyard/switchyard/orchestrator/testphone"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// The ExoPhones of the scenario tenant.
const (
	account    = "acme"
	supportNum = "+15550000100"
	afterHours = "+15550000200"
	unknownNum = "+15550000999"
)

// harness is Switchyard (runtime, socket server, store) and a node to call
// through: the emulator, or a real FreeSWITCH given by SWITCHYARD_FS_ESL.
type harness struct {
	t      *testing.T
	db     *store.DB
	writes *store.Queue // the calls' writes, as serve's
	phone  *testphone.Phone
	sent   chan flows.Send
	real   bool
	// handoff: the calls are handed off to the node's connection at once
	// (SWITCHYARD_SCENARIO_CONTROL=node, or a subtest of TestHandoff).
	handoff bool
	// park: the dialplan parks the calls for this instance, which takes
	// them with no socket (parkIn); intake takes them, and sockets counts
	// the calls to ExoPhones that came over a socket all the same.
	park    bool
	intake  *parking.Intake
	tag     string
	sockets atomic.Int64
	// socketsLet is how many calls a park scenario lets come over a
	// socket (the parked call's fallback).
	socketsLet int64
	sip        string // the borrowed node's SIP test network ("" on the emulator)
	carrier    string // where a SIP call enters its public context (node.carrier)
	rt         *call.Runtime
	met        *metrics.Set
	node       *esl.Node
	srv        *esl.Server
	// detaching gets a value each time a call lets go of its socket.
	detaching chan struct{}
	// fsAddr and fsPassword reach the node's inbound Event Socket.
	fsAddr, fsPassword string

	mu    sync.Mutex
	ended map[string]chan struct{}
}

func newHarness(t *testing.T) *harness { return newHarnessOpts(t, options{}) }

// localHTTP is the client of a Switchyard run with -egress-allow
// loopback, for the planner and passthru of scenarios whose CRM is an
// httptest server on 127.0.0.1.
func localHTTP() *http.Client {
	return webhttp.Client(webhttp.NewPolicy(webhttp.Loopback()...), 0)
}

// newHarnessWith is newHarness with a passthru client (nil: none).
func newHarnessWith(t *testing.T, fetcher call.Fetcher) *harness {
	return newHarnessOpts(t, options{fetcher: fetcher})
}

// options are the harness's optional parts.
type options struct {
	fetcher call.Fetcher
	planner call.Planner
	events  call.DialEvents
	clock   func() time.Time
	// sipEndpoint replaces the test network's SIP endpoint.
	sipEndpoint string
	// parkFull: under park control, the instance is at capacity for
	// parked calls (as if -max-calls were reached by calls elsewhere).
	parkFull bool
	// placeSocket replaces where API calls' first legs connect back to
	// (default: the harness's socket server).
	placeSocket string
	// realTime runs the emulator at real speed with FreeSWITCH's 20 ms
	// media tick, so it cannot hide what takes real time on a node (such
	// scenarios run in parallel with each other).
	realTime bool
}

// newHarnessOpts is newHarness with optional parts.
func newHarnessOpts(t *testing.T, o options) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, db: storetest.OpenMigrated(t, storetest.SQLiteDSN(t)), handoff: handoffIn(t), park: parkIn(t),
		sent: make(chan flows.Send, 16), ended: map[string]chan struct{}{}, detaching: make(chan struct{}, 16)}
	h.seed(ctx)

	log := testLogger(t)
	track(t, o.realTime)
	var (
		l                net.Listener
		fsAddr, password string
		recordings       = t.TempDir()
		sipEndpoint      = "sofia/switchyard_testnet/{uri}"
	)
	if o.sipEndpoint != "" {
		sipEndpoint = o.sipEndpoint
	}
	if suite.real {
		h.real = true
		var n *node
		n, l = borrow(t)
		fsAddr, password, h.sip, h.carrier = n.esl, n.password, n.sip, n.carrier
		if n.recordings != "" {
			recordings = n.recordings // the node's own folder, on this host
		}
	} else {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("socket server: %v", err)
		}
		cfg := fsim.Config{Speed: 50, SocketAddr: l.Addr().String(), RecordingsDir: t.TempDir(), Logger: log}
		if o.realTime {
			cfg.Speed, cfg.Tick = 1, fsim.DefaultTick
		}
		fs := fsim.New(cfg)
		if err := fs.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		fsAddr, password = fs.Addr(), "ClueCon"
	}
	// Fidelity capture / comparison (capture_test.go): the captures are of
	// calls that keep their sockets.
	if !h.handoff {
		startCapture(t, fsAddr, password, !suite.real && !o.realTime)
	}
	// The node API calls are placed on; it also carries the last events
	// of calls that let go of their sockets (as serve's does).
	instance := store.NewSID()
	events, filters := call.NodeSubscription(instance, h.handoff)
	h.tag = call.Tag(instance)
	var intake atomic.Pointer[parking.Intake]
	node := esl.NewNode(esl.NodeConfig{Addr: fsAddr, Password: password, Logger: log,
		Events: events, Filters: filters, OnEvent: func(conn *esl.Conn, ev esl.Event) {
			if in := intake.Load(); in != nil {
				in.Take(conn, ev)
			}
		}})
	nodeCtx, stopNode := context.WithCancel(context.Background())
	go node.Run(nodeCtx)
	t.Cleanup(stopNode)
	h.node = node
	// Writes go through a queue, as serve's do.
	writes := store.NewQueue(h.db, store.QueueConfig{Logger: log})
	t.Cleanup(func() { writes.Close(context.Background()) })
	h.writes = writes
	h.met = metrics.New("scenario")
	pool := esl.NewPool(node)
	h.rt = call.New(call.NewQueuedStore(h.db, writes), call.Config{
		Metrics:       h.met,
		RecordingsDir: recordings,
		Node:          "scenario",
		OnEnd:         h.onEnd,
		Nodes:         call.PoolNodes(pool),
		Instance:      instance,
		OnDetach: func() {
			select {
			case h.detaching <- struct{}{}:
			default:
			}
		},
		Detach:            call.PoolDetacher(pool),
		Handoff:           h.handoff,
		SocketAddr:        cmp.Or(o.placeSocket, l.Addr().String()),
		SocketWait:        time.Second,
		TerminalCallbacks: h.terminalCallback,
		Planner:           o.planner,
		DialEvents:        o.events,
		Clock:             o.clock,
		Endpoints:         call.Endpoints{SIP: sipEndpoint},
	}, messenger{h.sent}, o.fetcher, log)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := node.WaitConnected(wctx); err != nil {
		t.Fatalf("node: %v", err)
	}
	srv := esl.NewServer(func(ctx context.Context, s *esl.Session) {
		if s.Data.Var("switchyard_exophone") != "" && s.Data.Var("switchyard_outbound") != "true" {
			h.sockets.Add(1) // a call to an ExoPhone (API calls' legs have sockets anyway)
		}
		h.rt.Handle(ctx, s)
	}, log)
	h.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if h.park {
		h.startParking(&intake, o.parkFull, log)
	}
	h.phone = testphone.New(fsAddr, password)
	h.fsAddr, h.fsPassword = fsAddr, password
	return h
}

// shutdown stops the harness's Switchyard taking calls and waits for its
// live ones, as serve's drain does: the socket server's and, under park
// control, the parked ones. The error says calls were live at ctx's end.
func (h *harness) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if h.intake != nil {
		err = errors.Join(err, h.intake.Shutdown(ctx))
	}
	return err
}

// startParking makes the harness's instance own the node's parked calls,
// as serve -control park does, and waits until the node names it; at the
// end it withdraws and waits for its parked calls.
func (h *harness) startParking(intake *atomic.Pointer[parking.Intake], full bool, log *slog.Logger) {
	t := h.t
	cfg := parking.IntakeConfig{Tag: h.tag, Start: h.rt.Parked, Metrics: h.met, Logger: log}
	if full {
		cfg.MaxCalls, cfg.Others = 1, func() int { return 1 }
	}
	in := parking.NewIntake(cfg)
	h.intake = in
	intake.Store(in)
	owned := make(chan struct{})
	var once sync.Once
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		parking.Advertise(ctx, h.node, parking.AdvertiseConfig{Tag: h.tag, Take: true, Every: 50 * time.Millisecond, Logger: log,
			Owned: func(_ string, yes bool) {
				if yes {
					once.Do(func() { close(owned) })
				}
			}})
	}()
	t.Cleanup(func() {
		// Every call was parked: none needed a socket (the fallback's
		// own test lets one through).
		if n := h.sockets.Load(); n > h.socketsLet {
			t.Errorf("park: %d calls came over a socket, want %d", n, h.socketsLet)
		}
		stop()
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := parking.Withdraw(ctx, h.node, h.tag); err != nil {
			t.Logf("park: withdraw: %v", err)
		}
		if err := in.Shutdown(ctx); err != nil {
			t.Errorf("park: shutdown: %v", err)
		}
	})
	select {
	case <-owned:
	case <-time.After(10 * time.Second):
		t.Fatal("park: the node never named this instance the owner of its parked calls")
	}
}

// seed makes the scenario tenant: the support flow on supportNum, the
// After-Hours Flow on afterHours.
func (h *harness) seed(ctx context.Context) {
	t := h.t
	if _, _, err := h.db.Accounts().CreateWithSID(ctx, account, "Acme"); err != nil {
		t.Fatal(err)
	}
	support, err := os.ReadFile("testdata/support-scenarios.json")
	if err != nil {
		t.Fatal(err)
	}
	after, err := examples.Read(examples.AfterHours)
	if err != nil {
		t.Fatal(err)
	}
	for number, doc := range map[string][]byte{supportNum: support, afterHours: after} {
		if _, err := flows.Parse(doc); err != nil {
			t.Fatalf("%s: %v", number, err)
		}
		f, err := h.db.Flows().Create(ctx, account, "flow for "+number, doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.db.Flows().Publish(ctx, account, f.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.db.Numbers().Create(ctx, account, number, ""); err != nil {
			t.Fatal(err)
		}
		if err := h.db.Numbers().AssignFlow(ctx, account, number, &f.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) endedChan(sid string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.ended[sid]
	if ch == nil {
		ch = make(chan struct{})
		h.ended[sid] = ch
	}
	return ch
}

func (h *harness) onEnd(sid string) {
	if sid != "" {
		close(h.endedChan(sid))
	}
}

// call places a call and waits until Switchyard has written its final
// record.
func (h *harness) call(s testphone.Script) (*testphone.Result, *store.Call, []store.Leg) {
	h.t.Helper()
	if s.From == "" {
		s.From = "+15550109999"
	}
	res, err := h.phone.Call(context.Background(), s)
	if err != nil {
		h.t.Fatalf("call: %v", err)
	}
	h.t.Logf("path: %v", res.Path)
	if res.CallSid == "" {
		return res, nil, nil
	}
	select {
	case <-h.endedChan(res.CallSid):
	case <-time.After(30 * time.Second):
		h.t.Fatalf("call %s: no final record 30s after the caller's side ended", res.CallSid)
	}
	ctx := context.Background()
	c, err := h.db.Calls().Get(ctx, account, res.CallSid)
	if err != nil {
		h.t.Fatalf("call record: %v", err)
	}
	legs, err := h.db.Legs().ByCall(ctx, account, res.CallSid)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range legs {
		h.t.Logf("leg %d %s -> %s: %s cause=%s sip=%s duration=%d talk=%d", l.Seq, l.From, l.To, l.Status, l.HangupCause, l.SIPTermStatus, l.Duration, l.TalkTime)
	}
	return res, c, legs
}

// terminalCallback writes one outbox row per call with a callback URL,
// its payload the call's status: enough to see the runtime writes it
// with the final record.
func (h *harness) terminalCallback(c *store.Call, _ []store.Leg) ([]store.Callback, error) {
	if c.StatusCallback == "" {
		return nil, nil
	}
	return []store.Callback{{Event: store.CallbackTerminal, URL: c.StatusCallback,
		ContentType: store.ContentJSON, Payload: `{"Status":"` + string(c.Status) + `"}`}}, nil
}

type messenger struct{ sent chan flows.Send }

func (m messenger) Send(_ context.Context, _ *call.Info, s flows.Send) error {
	select {
	case m.sent <- s:
		return nil
	default:
		return errors.New("test messenger full")
	}
}

// testLogger logs to t until t's cleanups are over (testlog).
func testLogger(t *testing.T) *slog.Logger { return testlog.New(t, slog.LevelInfo) }

package parking

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// Unclaimed is the dialplan extension (context public) that sends a
// parked call down the socket path: the scheduled fallback's target, and
// where an instance passes a parked call it will not take.
const Unclaimed = "switchyard_unclaimed"

// Start takes a parked call from its CHANNEL_PARK on conn; run runs it
// until it is over (call.Runtime.Parked). It is called on conn's reader.
type Start func(ctx context.Context, conn *esl.Conn, park esl.Event) (run func())

// IntakeConfig tunes an Intake.
type IntakeConfig struct {
	// Tag is this instance's tag: the calls parked for it carry it in
	// their mark (call.DetachVar).
	Tag   string
	Start Start
	// MaxCalls passes parked calls to the sockets while this many calls
	// run (0: no limit), counting Others' too (the socket server's).
	MaxCalls int
	Others   func() int
	Metrics  *metrics.Set
	Logger   *slog.Logger
}

// Intake takes the calls a node's dialplan parked for this instance, from
// the CHANNEL_PARK its nodes' connections deliver (Take, the nodes'
// esl.NodeConfig.OnEvent), and runs each on its own goroutine, as the
// outbound-socket server runs a socket's call. A call it will not take
// (at capacity, draining) goes down the socket path at once.
type Intake struct {
	cfg IntakeConfig
	log *slog.Logger

	// calls is what the calls run under: cancelling it asks them to hang
	// up (Shutdown past its deadline).
	calls       context.Context
	cancelCalls context.CancelFunc
	// mu orders a call's start (running.Add) before Shutdown's wait:
	// once draining is set, no call starts.
	mu       sync.Mutex
	draining bool
	running  sync.WaitGroup
	live     atomic.Int64

	// passes are the calls sent down the socket path, by a goroutine of
	// their own (Take must not block its connection's reader).
	passes  chan pass
	done    chan struct{} // closed by Shutdown: the passer stops
	passing sync.WaitGroup
	stop    sync.Once
}

type pass struct {
	conn *esl.Conn
	uuid string
}

// NewIntake makes an Intake; Shutdown ends it.
func NewIntake(cfg IntakeConfig) *Intake {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Intake{cfg: cfg, log: cfg.Logger, passes: make(chan pass, 256), done: make(chan struct{})}
	in.calls, in.cancelCalls = context.WithCancel(context.Background())
	in.passing.Add(1)
	go func() {
		defer in.passing.Done()
		for {
			select {
			case p := <-in.passes:
				in.sendOn(p)
			case <-in.done:
				return
			}
		}
	}()
	return in
}

// Live is the number of parked calls running.
func (in *Intake) Live() int { return int(in.live.Load()) }

// Take is a node connection's OnEvent: it takes the CHANNEL_PARK of a
// call the dialplan parked for this instance and ignores every other
// event. It never blocks.
func (in *Intake) Take(conn *esl.Conn, ev esl.Event) {
	if !in.parkedHere(ev) {
		return
	}
	uuid, m := ev.UniqueID(), in.cfg.Metrics
	if conn == nil {
		m.ParkedCall(metrics.ParkedUnhandled)
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.draining {
		m.ParkedCall(metrics.ParkedPassed)
		in.log.Warn("park: call passed to the sockets: draining", "cause", "SWITCHYARD_DRAINING", "uuid", uuid)
		in.pass(conn, uuid)
		return
	}
	if max := in.cfg.MaxCalls; max > 0 {
		live := in.live.Load()
		if in.cfg.Others != nil {
			live += int64(in.cfg.Others())
		}
		if live >= int64(max) {
			m.ParkedCall(metrics.ParkedPassed)
			in.log.Warn("park: call passed to the sockets: at capacity", "cause", "SWITCHYARD_AT_CAPACITY",
				"live", live, "max_calls", max, "uuid", uuid)
			in.pass(conn, uuid)
			return
		}
	}
	run := in.cfg.Start(in.calls, conn, ev)
	in.live.Add(1)
	in.running.Add(1)
	go func() {
		defer func() {
			in.live.Add(-1)
			in.running.Done()
		}()
		defer func() {
			if r := recover(); r != nil {
				in.log.Error("park: call panicked", "uuid", uuid, "panic", r)
			}
		}()
		run()
	}()
}

// parkedHere: ev is the dialplan's park of a new call, parked for this
// instance. A handed-off call's park (the socket path's) names its
// CallSid already, and is routed to its call anyway.
func (in *Intake) parkedHere(ev esl.Event) bool {
	return ev.Name() == "CHANNEL_PARK" && ev.Var("current_application") == "park" &&
		ev.Var("switchyard_detached") == in.cfg.Tag && ev.Var("switchyard_call") == ""
}

// pass sends a parked call down the socket path now rather than at its
// fallback; the fallback then finds nothing to do (the channel left its
// park). A full backlog leaves the call to the fallback.
func (in *Intake) pass(conn *esl.Conn, uuid string) {
	select {
	case in.passes <- pass{conn, uuid}:
	case <-in.done: // shut down: the fallback takes it
	default:
		in.log.Warn("park: too many calls being passed; the dialplan's fallback takes this one", "uuid", uuid)
	}
}

func (in *Intake) sendOn(p pass) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The scheduled transfer goes first: it would transfer the call a
	// second time, out of wherever the socket path has taken it.
	if _, err := p.conn.API(ctx, "sched_del "+p.uuid); err != nil {
		in.log.Warn("park: cannot pass the call to the sockets; the dialplan's fallback takes it", "uuid", p.uuid, "err", err)
		return
	}
	if _, err := p.conn.API(ctx, fmt.Sprintf("uuid_transfer %s %s XML public", p.uuid, Unclaimed)); err != nil {
		in.log.Warn("park: cannot pass the call to the sockets", "uuid", p.uuid, "err", err)
	}
}

// Shutdown stops taking parked calls (those that still come go down the
// socket path, where the socket server refuses them too, and the node
// tries the next address) and waits for the live ones to end, up to ctx's
// deadline; then it asks them to hang up and gives them a moment.
func (in *Intake) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	in.draining = true
	in.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		in.running.Wait()
		close(idle)
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("park: %d parked calls still live at shutdown: %w", in.Live(), ctx.Err())
		in.cancelCalls()
		select {
		case <-idle:
		case <-time.After(5 * time.Second):
		}
	}
	in.cancelCalls()
	in.stop.Do(func() { close(in.done) })
	in.passing.Wait()
	return err
}

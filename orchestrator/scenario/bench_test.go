package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// benchRig is Switchyard and the emulator in one process, talking ESL over
// loopback TCP, with the demo's Basic Support Flow on supportNum.
type benchRig struct {
	fs    *fsim.Server
	rt    *call.Runtime
	steps *latencies
	ended atomic.Int64
	done  chan struct{}
	// detached counts the calls that let go of their sockets.
	detached atomic.Int64
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func newBenchRig(b testing.TB, tick time.Duration) *benchRig {
	b.Helper()
	return newRig(b, tick, false)
}

// newRig is newBenchRig whose calls, with handoff, are handed off to the
// node's connection at once (serve -control node).
func newRig(b testing.TB, tick time.Duration, handoff bool) *benchRig {
	b.Helper()
	return newFlowRig(b, tick, handoff, examples.BasicSupport)
}

// newFlowRig is newRig with another example flow on the support number.
func newFlowRig(b testing.TB, tick time.Duration, handoff bool, flow string) *benchRig {
	b.Helper()
	db := storetest.OpenMigrated(b, storetest.SQLiteDSN(b))
	doc, err := examples.Read(flow)
	if err != nil {
		b.Fatal(err)
	}
	storetest.ServeFlow(b, db, account, supportNum, "support", doc)
	r := &benchRig{steps: &latencies{}, done: make(chan struct{}, 1<<16)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// Writes go through a queue, as serve's do.
	writes := store.NewQueue(db, store.QueueConfig{})
	b.Cleanup(func() { writes.Close(context.Background()) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// Speed 20: rings, prompts and talk run 20 times faster than real
	// time, while Switchyard's own work (socket setup, the store) stays
	// real; faster clocks make callers hang up before setup is done.
	r.fs = fsim.New(fsim.Config{Tick: tick, Speed: 20, SocketAddr: l.Addr().String(), RecordingsDir: b.TempDir()})
	if err := r.fs.Listen("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.fs.Close() })
	// The node's connection carries detached calls' last events, as
	// serve's does.
	instance := store.NewSID()
	events, filters := call.NodeSubscription(instance, handoff)
	node := esl.NewNode(esl.NodeConfig{Addr: r.fs.Addr(), Password: "ClueCon", Logger: log,
		Events: events, Filters: filters})
	nodeCtx, stopNode := context.WithCancel(context.Background())
	b.Cleanup(stopNode)
	go node.Run(nodeCtx)
	wctx, cancel := context.WithTimeout(nodeCtx, 10*time.Second)
	defer cancel()
	if _, err := node.WaitConnected(wctx); err != nil {
		b.Fatal(err)
	}
	r.rt = call.New(call.NewQueuedStore(db, writes), call.Config{RecordingsDir: b.TempDir(), OnStep: r.steps.add,
		Instance: instance, Detach: call.PoolDetacher(esl.NewPool(node)), OnDetach: func() { r.detached.Add(1) }, Handoff: handoff,
		OnEnd: func(string) { r.ended.Add(1); r.done <- struct{}{} }}, nil, nil, log)
	srv := esl.NewServer(r.rt.Handle, log)
	go srv.Serve(l)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return r
}

// BenchmarkBasicSupportCall runs whole Basic Support Flow calls (greeting,
// menu, key 2, the billing agent answers and talks, the caller hangs up 30
// simulated seconds in) through the emulator with 64 calls in flight, and reports calls per
// second and the flow-step latency (event in -> command out).
func BenchmarkBasicSupportCall(b *testing.B) {
	for _, tick := range []time.Duration{0, fsim.DefaultTick} {
		b.Run(fmt.Sprintf("tick=%s", tick), func(b *testing.B) {
			r := newBenchRig(b, tick)
			// Calls are counted done at their final record: the socket's
			// linger tail after that costs no work.
			const inFlight = 64
			var failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for int64(i)-r.ended.Load()-failed.Load() >= inFlight {
					<-r.done
				}
				_, err := r.fs.PlaceCall(context.Background(), fsim.CallScript{
					From: fmt.Sprintf("+1555020%04d", i%10000), To: supportNum,
					Digits: []string{"2"}, HangupAfter: 30 * time.Second,
				})
				if err != nil {
					failed.Add(1)
				}
			}
			for r.ended.Load() < int64(b.N)-failed.Load() {
				<-r.done
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d calls failed to start", failed.Load())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
			b.ReportMetric(float64(r.steps.quantile(0.50).Microseconds()), "p50-step-µs")
			b.ReportMetric(float64(r.steps.quantile(0.99).Microseconds()), "p99-step-µs")
			// What the calls' commands cost the node (a real one reads
			// header bytes one system call apiece).
			cmds, hdr := r.fs.SocketTraffic()
			b.ReportMetric(float64(cmds)/float64(b.N), "node-cmds/call")
			b.ReportMetric(float64(hdr)/float64(b.N), "node-header-B/call")
			b.ReportMetric(float64(callEvents(r.fs.EventsSent()))/float64(b.N), "node-events/call")
		})
	}
}

// BenchmarkConcurrentCalls holds many calls at once (the billing agent
// answers and nobody hangs up) and reports the memory each live call
// costs once in conversation: Switchyard's share and the emulator's
// together, heap and stacks.
func BenchmarkConcurrentCalls(b *testing.B) {
	const live = 300
	r := newBenchRig(b, fsim.DefaultTick)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	calls := make([]*fsim.Call, 0, live)
	for i := 0; i < live; i++ {
		c, err := r.fs.PlaceCall(context.Background(), fsim.CallScript{
			From: fmt.Sprintf("+1555030%04d", i), To: supportNum, Digits: []string{"2"},
		})
		if err != nil {
			b.Fatal(err)
		}
		calls = append(calls, c)
	}
	// Wait until every call is in conversation, bridged for good: it has
	// let go of its socket (its flow ends with the conversation).
	deadline := time.Now().Add(2 * time.Minute)
	for r.fs.Channels() < 2*live || r.rt.Live() < live || r.detached.Load() < live {
		if time.Now().After(deadline) {
			b.Fatalf("only %d channels, %d calls live, %d detached", r.fs.Channels(), r.rt.Live(), r.detached.Load())
		}
		time.Sleep(50 * time.Millisecond) // a benchmark ramp, not a test assertion
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse-before.HeapInuse) / live
	stack := float64(after.StackInuse-before.StackInuse) / live
	b.ReportMetric(float64(r.rt.Live()), "live-calls")
	b.ReportMetric(heap/1024, "heap-KiB/call")
	b.ReportMetric(stack/1024, "stack-KiB/call")
	b.ReportMetric(float64(runtime.NumGoroutine())/live, "goroutines/call")
	for i := 0; i < b.N; i++ {
		// The measurement is the state above; b.N loops add nothing.
	}
	for _, c := range calls {
		c.Hangup()
	}
}

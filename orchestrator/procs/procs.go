// Package procs sizes the Go scheduler to the process's load.
//
// With one scheduler slot (P) per core, every event that readies a
// goroutine while a slot is idle wakes another thread to look for work;
// on a lightly loaded process that thread mostly finds none and sleeps
// again. On the 2-core VM Switchyard is measured on, where serve shares
// the box with FreeSWITCH, those wake-ups were a fifth of serve's CPU:
// with GOMAXPROCS=1 serve spent 20 % less CPU a call at 10 calls/s on the
// real node, and 21-30 % less at 100-200 calls/s on the emulator, with
// no worse latency. One slot caps the process at one core, though, so a
// Governor runs it on one slot while it uses little CPU, and on all of
// them once it needs more than one slot gives well.
package procs

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"
)

// Config tunes a Governor. The zero value of a field is its default.
type Config struct {
	// Max is the slots the process runs with under load (default: the
	// GOMAXPROCS the process started with). With Max 1 there is nothing
	// to govern.
	Max int
	// Every is how often the process's CPU use is sampled (default
	// 250 ms): a burst runs on one slot at most this long.
	Every time.Duration
	// Up: on one slot, a sample above Up cores moves to Max (default
	// 0.7: one slot is getting busy, and queueing on it would grow).
	Up float64
	// Down: on Max slots, DownAfter samples in a row below Down cores
	// move back to one (defaults 0.35 and 8, i.e. 2 s). Down is well
	// below Up, so a load between the two stays where it is.
	Down      float64
	DownAfter int
	Logger    *slog.Logger

	// Test hooks: the process's CPU time so far (default: getrusage),
	// setting GOMAXPROCS (default runtime.GOMAXPROCS), and the sampling
	// ticks, each the time it was sent (default a time.Ticker of Every).
	cpu  func() (time.Duration, error)
	set  func(int)
	tick <-chan time.Time
}

func (c *Config) defaults() {
	if c.Max <= 0 {
		c.Max = runtime.GOMAXPROCS(0)
	}
	if c.Every <= 0 {
		c.Every = 250 * time.Millisecond
	}
	if c.Up <= 0 {
		c.Up = 0.7
	}
	if c.Down <= 0 {
		c.Down = 0.35
	}
	if c.DownAfter <= 0 {
		c.DownAfter = 8
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.cpu == nil {
		c.cpu = processCPU
	}
	if c.set == nil {
		c.set = func(n int) { runtime.GOMAXPROCS(n) }
	}
}

// governor decides the slots from one sample at a time.
type governor struct {
	cfg Config
	cur int
	low int // samples in a row below Down, on Max slots
}

// next takes one sample (cores used since the last) and returns the
// slots to run with.
func (g *governor) next(cores float64) int {
	switch {
	case g.cur == 1 && cores > g.cfg.Up:
		g.cur, g.low = g.cfg.Max, 0
	case g.cur > 1 && cores < g.cfg.Down:
		g.low++
		if g.low >= g.cfg.DownAfter {
			g.cur, g.low = 1, 0
		}
	case g.cur > 1:
		g.low = 0
	}
	return g.cur
}

// running: one Governor per process, since GOMAXPROCS is the process's.
var running atomic.Bool

// ErrRunning: another Governor already runs in this process.
var ErrRunning = errors.New("procs: a governor already runs in this process")

// Run governs GOMAXPROCS until ctx ends, then puts back Max. It starts
// on one slot. It returns at once when there is nothing to govern (Max
// 1), when the process's CPU time cannot be read, or when another Run
// is under way (ErrRunning).
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if cfg.Max <= 1 {
		return nil
	}
	if !running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer running.Store(false)
	last, err := cfg.cpu()
	if err != nil {
		return err
	}
	if cfg.tick == nil {
		t := time.NewTicker(cfg.Every)
		defer t.Stop()
		cfg.tick = t.C
	}
	g := &governor{cfg: cfg, cur: 1}
	cfg.set(1)
	defer cfg.set(cfg.Max)
	cfg.Logger.Info("procs: one scheduler slot while the load is light", "max", cfg.Max)
	at := time.Now()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return nil
		case now = <-cfg.tick:
		}
		used, err := cfg.cpu()
		if err != nil || !now.After(at) {
			continue
		}
		cores := float64(used-last) / float64(now.Sub(at))
		last, at = used, now
		was := g.cur
		if n := g.next(cores); n != was {
			cfg.set(n)
			cfg.Logger.Debug("procs: scheduler slots", "from", was, "to", n, "cores", cores)
		}
	}
}

package procs

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGovernorRisesAtOnceAndFallsAfterAQuietSpell(t *testing.T) {
	cfg := Config{Max: 4, DownAfter: 3}
	cfg.defaults()
	g := &governor{cfg: cfg, cur: 1}
	steps := []struct {
		cores float64
		want  int
	}{
		{0.1, 1}, {0.69, 1}, // light: one slot
		{0.71, 4},          // one slot getting busy: all of them
		{0.2, 4}, {0.2, 4}, // quiet, not for long enough yet
		{0.5, 4},                      // a busy sample starts the count again
		{0.2, 4}, {0.2, 4}, {0.34, 1}, // three quiet samples in a row
		{0.5, 1}, // between Down and Up: stays
		{1.0, 4},
	}
	for i, s := range steps {
		if got := g.next(s.cores); got != s.want {
			t.Fatalf("sample %d (%.2f cores): %d slots, want %d", i, s.cores, got, s.want)
		}
	}
}

// fakeProcess is a process whose CPU time and clock the test moves:
// each tick is a second after the one before, and the governor then
// reads the CPU time the test hands it.
type fakeProcess struct {
	tick chan time.Time
	cpu  chan time.Duration
	set  chan int
	used time.Duration
	now  time.Time
}

func newFakeProcess() *fakeProcess {
	return &fakeProcess{tick: make(chan time.Time), cpu: make(chan time.Duration), set: make(chan int, 16),
		now: time.Now().Add(time.Hour)} // after Run starts, whatever the delay
}

func (p *fakeProcess) config() Config {
	return Config{Max: 2, DownAfter: 2,
		cpu:  func() (time.Duration, error) { return <-p.cpu, nil },
		set:  func(n int) { p.set <- n },
		tick: p.tick,
	}
}

// run starts Run on p and hands it its starting CPU time; cancel ends
// it, and done has what it returned.
func (p *fakeProcess) run() (cancel func(), done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- Run(ctx, p.config()) }()
	p.cpu <- p.used // the CPU time it starts from
	return cancel, ended
}

// sample is a second in which the process used cores.
func (p *fakeProcess) sample(cores float64) {
	p.now = p.now.Add(time.Second)
	p.used += time.Duration(cores * float64(time.Second))
	p.tick <- p.now
	p.cpu <- p.used
}

func TestRunFollowsTheLoadAndPutsBackMaxWhenDone(t *testing.T) {
	p := newFakeProcess()
	cancel, done := p.run()
	if n := <-p.set; n != 1 {
		t.Fatalf("started on %d slots, want 1", n)
	}
	p.sample(0.5)
	p.sample(0.9)
	if n := <-p.set; n != 2 {
		t.Fatalf("after a busy second: %d slots, want 2", n)
	}
	p.sample(0.1)
	p.sample(0.1)
	if n := <-p.set; n != 1 {
		t.Fatalf("after two quiet seconds: %d slots, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := <-p.set; n != 2 {
		t.Fatalf("on the way out: %d slots, want Max (2)", n)
	}
	select {
	case n := <-p.set:
		t.Fatalf("an extra change to %d slots", n)
	default:
	}
}

func TestOneGovernorPerProcess(t *testing.T) {
	p := newFakeProcess()
	cancel, done := p.run()
	<-p.set // the first one runs
	second := newFakeProcess()
	if err := Run(context.Background(), second.config()); !errors.Is(err, ErrRunning) {
		t.Fatalf("a second governor: %v, want ErrRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-p.set
	if err := Run(context.Background(), Config{Max: 1}); err != nil {
		t.Fatalf("nothing to govern: %v", err)
	}
}

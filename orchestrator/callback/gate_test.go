package callback

import (
	"fmt"
	"testing"
	"time"
)

// testGate is a gate on a clock the test moves, without jitter.
type testGate struct {
	*gate
	clock time.Time
}

func newTestGate(cfg Config) *testGate {
	tg := &testGate{gate: newGate(cfg), clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tg.now = func() time.Time { return tg.clock }
	tg.jitter = func(d time.Duration) time.Duration { return d }
	return tg
}

func (tg *testGate) advance(d time.Duration) { tg.clock = tg.clock.Add(d) }

// admit acquires a slot that the gate must grant.
func (tg *testGate) admit(t *testing.T, dest, account string) *ticket {
	t.Helper()
	v := tg.acquire(dest, account, false)
	if v.ticket == nil {
		t.Fatalf("%s of %s turned away by the %s limit, want it let through", dest, account, v.limit)
	}
	return v.ticket
}

// refuse acquires a slot that the gate must refuse with limit, and
// returns the delay it gave.
func (tg *testGate) refuse(t *testing.T, dest, account, limit string) time.Duration {
	t.Helper()
	v := tg.acquire(dest, account, false)
	if v.ticket != nil {
		v.ticket.done(outcomeNotSent, 0)
		t.Fatalf("%s of %s let through, want it turned away by the %s limit", dest, account, limit)
	}
	if v.limit != limit {
		t.Fatalf("%s of %s turned away by the %s limit, want %s", dest, account, v.limit, limit)
	}
	if limit != limitBreaker && (v.after < minDefer || v.after > maxDefer) {
		t.Fatalf("turned away for %s, want within [%s, %s]", v.after, minDefer, maxDefer)
	}
	return v.after
}

// prove makes dest a destination known to answer promptly.
func (tg *testGate) prove(t *testing.T, dest, account string) {
	t.Helper()
	tg.admit(t, dest, account).done(outcomeAnswered, 10*time.Millisecond)
}

func gateConfig(workers, host, account int) Config {
	return Config{Workers: workers, HostConcurrency: host, AccountConcurrency: account, Timeout: 15 * time.Second}
}

func TestDestination(t *testing.T) {
	for raw, want := range map[string]string{
		"http://Example.COM/status?x=1":      "example.com:80",
		"https://example.com/cb":             "example.com:443",
		"HTTPS://example.com/cb":             "example.com:443",
		"http://example.com:8080/cb":         "example.com:8080",
		"https://user:pw@hooks.example.com/": "hooks.example.com:443",
		"http://[::1]:9000/cb":               "[::1]:9000",
		"http://10.0.0.7/cb":                 "10.0.0.7:80",
		"ftp://example.com/cb":               "",
		"/relative/path":                     "",
		"http://":                            "",
		"://bad":                             "",
	} {
		if got := destination(raw); got != want {
			t.Errorf("destination(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestGateDestinationLimit(t *testing.T) {
	g := newTestGate(gateConfig(20, 2, 10))
	first := g.admit(t, "a.example:443", "acc1")
	g.admit(t, "a.example:443", "acc1")
	g.refuse(t, "a.example:443", "acc1", limitHost)
	g.refuse(t, "a.example:443", "acc2", limitHost) // the limit is the destination's, whoever sends
	g.admit(t, "b.example:443", "acc1")

	first.done(outcomeAnswered, 20*time.Millisecond)
	g.admit(t, "a.example:443", "acc1")
	if host, acct, _ := g.inFlight("a.example:443", "acc1"); host != 2 || acct != 3 {
		t.Errorf("in flight: destination %d, account %d; want 2 and 3", host, acct)
	}
}

func TestGateTimeoutsHalveTheDestinationLimit(t *testing.T) {
	const dest, acc = "slow.example:443", "acc1"
	g := newTestGate(gateConfig(20, 4, 20))
	var tks []*ticket
	for range 4 {
		tks = append(tks, g.admit(t, dest, acc))
	}
	g.advance(15 * time.Second)

	c, changed := tks[0].done(outcomeTimedOut, 15*time.Second)
	if !changed || c.from != 4 || c.to != 2 || c.timeouts != 1 {
		t.Fatalf("after one timeout: %+v, %v; want 4 → 2", c, changed)
	}
	// Three in flight, two allowed: turned away, not failed yet.
	g.refuse(t, dest, acc, limitHost)

	c, changed = tks[1].done(outcomeTimedOut, 15*time.Second)
	if !changed || c.from != 2 || c.to != 1 {
		t.Fatalf("after two timeouts: %+v, %v; want 2 → 1", c, changed)
	}
	// Down to one with attempts in flight: the breaker is open.
	g.refuse(t, dest, acc, limitBreaker)
	if _, changed := tks[2].done(outcomeTimedOut, 15*time.Second); changed {
		t.Error("a third timeout changed the limit below one")
	}
	// A refused connection is no answer: the limit stays at one.
	tks[3].done(outcomeFailed, time.Millisecond)

	probe := g.admit(t, dest, acc)
	g.refuse(t, dest, acc, limitBreaker)
	g.admit(t, "other.example:443", acc) // other destinations of the account are not held back

	c, changed = probe.done(outcomeAnswered, 20*time.Millisecond)
	if !changed || c.from != 1 || c.to != 4 || c.timeouts != 0 {
		t.Fatalf("after an answer: %+v, %v; want 1 → 4", c, changed)
	}
	for range 4 {
		g.admit(t, dest, acc)
	}
	g.refuse(t, dest, acc, limitHost)
}

func TestGateAccountLimit(t *testing.T) {
	g := newTestGate(gateConfig(20, 4, 2))
	g.admit(t, "a.example:443", "acc1")
	g.admit(t, "b.example:443", "acc1")
	g.refuse(t, "c.example:443", "acc1", limitAccount)
	g.admit(t, "c.example:443", "acc2")
}

func TestGateProbation(t *testing.T) {
	g := newTestGate(gateConfig(6, 4, 6)) // probation: 3
	g.prove(t, "fast.example:443", "good")

	for i := range 3 {
		g.admit(t, fmt.Sprintf("new%d.example:443", i), fmt.Sprintf("acc%d", i))
	}
	g.refuse(t, "new9.example:443", "acc9", limitProbation)
	// A destination known to answer does not wait for probation.
	fast := g.admit(t, "fast.example:443", "good")
	if _, _, probation := g.inFlight("", ""); probation != 3 {
		t.Errorf("%d on probation, want 3", probation)
	}

	// Its attempt running longer than slowAfter puts its next ones on
	// probation.
	g.advance(g.slowAfter + time.Millisecond)
	g.refuse(t, "fast.example:443", "good", limitProbation)

	// So does a slow answer, until a prompt one.
	fast.done(outcomeAnswered, g.slowAfter+time.Millisecond)
	g.refuse(t, "fast.example:443", "good", limitProbation)
}

func TestGateProbationAfterTimeoutOrFailure(t *testing.T) {
	for _, o := range []outcome{outcomeTimedOut, outcomeFailed} {
		g := newTestGate(gateConfig(2, 4, 4)) // probation: 1
		g.prove(t, "fast.example:443", "good")
		tk := g.admit(t, "fast.example:443", "good")
		tk.done(o, time.Second)
		g.admit(t, "new.example:443", "other")
		g.refuse(t, "fast.example:443", "good", limitProbation)
	}
}

func TestGateWorkersLimit(t *testing.T) {
	g := newTestGate(gateConfig(2, 4, 4))
	for _, d := range []string{"a", "b", "c"} {
		g.prove(t, d+".example:443", "acc-"+d)
	}
	g.admit(t, "a.example:443", "acc-a")
	g.admit(t, "b.example:443", "acc-b")
	g.refuse(t, "c.example:443", "acc-c", limitWorkers)
}

// The callbacks waiting on a busy limit are spread a slot's expected
// length apart.
func TestGatePacesTheTurnedAway(t *testing.T) {
	const dest, acc = "busy.example:443", "acc1"
	g := newTestGate(gateConfig(20, 2, 20))
	g.admit(t, dest, acc)
	g.admit(t, dest, acc)
	// Nothing has ended yet: the estimate of a slot is the age of the
	// oldest attempt in flight (4 s), so one of the two frees every 2 s.
	g.advance(4 * time.Second)
	for i := 1; i <= 3; i++ {
		if got, want := g.refuse(t, dest, acc, limitHost), time.Duration(i)*2*time.Second; got != want {
			t.Errorf("turned-away callback %d waits %s, want %s", i, got, want)
		}
	}
	// 6 s later the three are due; the oldest attempt has run 10 s, so
	// the next one waits 5 s.
	g.advance(6 * time.Second)
	if got, want := g.refuse(t, dest, acc, limitHost), 5*time.Second; got != want {
		t.Errorf("once the others are due: waits %s, want %s", got, want)
	}
	// The estimate never exceeds the timeout (here 15 s, 7.5 s a slot).
	g.advance(time.Minute)
	if got, want := g.refuse(t, dest, acc, limitHost), 7500*time.Millisecond; got != want {
		t.Errorf("with attempts older than the timeout: waits %s, want %s", got, want)
	}
	// Nor is a wait longer than maxDefer.
	for range 1000 {
		g.refuse(t, dest, acc, limitHost)
	}
	if got := g.refuse(t, dest, acc, limitHost); got != maxDefer {
		t.Errorf("at the back of a long queue: waits %s, want %s", got, maxDefer)
	}
}

// A burst turned away by a receiver whose attempts are young is spaced by
// their age, not by minDefer: it comes back together after minDefer,
// when the receiver's pace is known, instead of minDefer/n apart (1,000
// calls' callbacks to one receiver answering in milliseconds trickled at
// 16 a second for 10 s).
func TestGateSpacesABurstByTheReceiversPace(t *testing.T) {
	const dest, acc = "fast.example:443", "acc1"
	g := newTestGate(gateConfig(20, 2, 20))
	g.admit(t, dest, acc)
	g.admit(t, dest, acc)
	g.advance(10 * time.Millisecond) // nothing has ended; the oldest is 10 ms old
	for i := 1; i <= 40; i++ {
		if got := g.refuse(t, dest, acc, limitHost); got != minDefer {
			t.Fatalf("turned-away callback %d of a burst waits %s, want %s", i, got, minDefer)
		}
	}
	// Past minDefer's worth of 5 ms slots, the crowd queues at the
	// receiver's pace: the 50 before it took 250 ms.
	for range 10 {
		g.refuse(t, dest, acc, limitHost)
	}
	if got, want := g.refuse(t, dest, acc, limitHost), 255*time.Millisecond; got != want {
		t.Errorf("callback 51 of the burst waits %s, want %s", got, want)
	}
}

func TestGateForgetsIdleKeys(t *testing.T) {
	g := newTestGate(gateConfig(20, 4, 4))
	g.admit(t, "busy.example:443", "acc1") // stays in flight
	g.prove(t, "idle.example:443", "acc2")
	for range 2 {
		g.admit(t, "down.example:443", "acc4").done(outcomeTimedOut, 15*time.Second)
	}

	g.advance(idleTTL + sweepEvery)
	g.admit(t, "new.example:443", "acc3")
	if _, ok := g.hosts["idle.example:443"]; ok {
		t.Error("an idle destination is remembered after idleTTL")
	}
	if _, ok := g.accounts["acc2"]; ok {
		t.Error("an idle account is remembered after idleTTL")
	}
	if host, acct, _ := g.inFlight("busy.example:443", "acc1"); host != 1 || acct != 1 {
		t.Errorf("a destination with an attempt in flight was forgotten: %d, %d", host, acct)
	}
	// A destination timing out is remembered between its retries...
	probe := g.admit(t, "down.example:443", "acc4")
	g.refuse(t, "down.example:443", "acc4", limitBreaker)
	probe.done(outcomeTimedOut, 15*time.Second)
	// ...for timingOutTTL.
	g.advance(timingOutTTL + sweepEvery)
	g.admit(t, "new.example:443", "acc3")
	if _, ok := g.hosts["down.example:443"]; ok {
		t.Error("a destination timing out is remembered after timingOutTTL")
	}
}

// A ticket released twice (by the deferred release after the explicit
// one) frees its own slot only.
func TestTicketDoneOnce(t *testing.T) {
	g := newTestGate(gateConfig(20, 1, 20))
	first := g.admit(t, "a.example:443", "acc1")
	first.done(outcomeAnswered, 20*time.Millisecond)
	g.admit(t, "a.example:443", "acc1")
	if _, changed := first.done(outcomeTimedOut, 15*time.Second); changed {
		t.Error("a second release changed the destination's limit")
	}
	g.refuse(t, "a.example:443", "acc1", limitHost)
}

// A callback turned away by a destination or an account whose attempts
// end within promptUnder may wait for a slot: its verdict carries a
// channel closed when an attempt ends. One turned away by a slow limit is
// deferred as before, and so is any that may not wait.
func TestGateLetsCallbacksWaitForAPromptLimit(t *testing.T) {
	tg := newTestGate(gateConfig(10, 2, 4))
	fast, slow := "fast.example:443", "slow.example:443"
	tg.prove(t, fast, "acme")
	tickets := []*ticket{tg.admit(t, fast, "acme"), tg.admit(t, fast, "acme")}
	v := tg.acquire(fast, "acme", true)
	if v.ticket != nil || v.freed == nil || v.limit != limitHost {
		t.Fatalf("verdict %+v, want a wait on the destination", v)
	}
	select {
	case <-v.freed:
		t.Fatal("freed before any attempt ended")
	default:
	}
	tickets[0].done(outcomeAnswered, 5*time.Millisecond)
	<-v.freed // an attempt ended: the waiter looks again
	if w := tg.acquire(fast, "acme", true); w.ticket == nil {
		t.Fatalf("after a slot freed: %+v, want a ticket", w)
	}
	// May not wait: deferred, as the worker does once its wait is over.
	tg.refuse(t, fast, "acme", limitHost)

	// A destination whose attempts take longer is never waited for.
	tg.admit(t, slow, "globex").done(outcomeAnswered, 2*time.Second)
	tg.admit(t, slow, "globex")
	tg.admit(t, slow, "globex")
	if v := tg.acquire(slow, "globex", true); v.freed != nil || v.after < minDefer {
		t.Fatalf("slow destination: %+v, want a delay", v)
	}
	// Nor is one with an attempt in flight for longer than promptUnder.
	tickets[1].done(outcomeAnswered, 5*time.Millisecond)
	tg.admit(t, fast, "acme")
	tg.advance(time.Second)
	if v := tg.acquire(fast, "acme", true); v.freed != nil {
		t.Fatalf("an attempt in flight for 1s: %+v, want a delay", v)
	}
}

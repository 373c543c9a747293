package api

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The limiter runs on the times it is given: these tests move a fake
// clock, never sleep.

var limT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLimiterBurstThenRefill(t *testing.T) {
	l := newLimiter(200, 10)
	for i := range 200 {
		if ok, _ := l.take("acme", limT0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.take("acme", limT0)
	if ok || wait != 300*time.Millisecond {
		t.Fatalf("201st: ok %v, wait %s; want refused, 300ms (60s/200)", ok, wait)
	}
	// Another key has its own bucket.
	if ok, _ := l.take("globex", limT0); !ok {
		t.Error("another key refused")
	}
	// Part of a token back: still refused, and told the rest of the wait.
	if ok, wait := l.take("acme", limT0.Add(100*time.Millisecond)); ok || wait != 200*time.Millisecond {
		t.Errorf("after 100ms: ok %v, wait %s; want refused, 200ms", ok, wait)
	}
	// One token back after 300ms, and only one.
	if ok, _ := l.take("acme", limT0.Add(300*time.Millisecond)); !ok {
		t.Error("after 300ms: refused")
	}
	if ok, _ := l.take("acme", limT0.Add(300*time.Millisecond)); ok {
		t.Error("after 300ms: a second request allowed")
	}
	// A minute refills the whole burst, never more.
	later := limT0.Add(time.Hour)
	for i := range 200 {
		if ok, _ := l.take("acme", later); !ok {
			t.Fatalf("an hour later, request %d refused", i+1)
		}
	}
	if ok, _ := l.take("acme", later); ok {
		t.Error("the bucket held more than its burst")
	}
}

func TestLimiterRefund(t *testing.T) {
	l := newLimiter(2, 10)
	l.take("ip", limT0)
	l.take("ip", limT0)
	if ok, _ := l.take("ip", limT0); ok {
		t.Fatal("third take allowed")
	}
	l.refund("ip", limT0)
	if ok, _ := l.take("ip", limT0); !ok {
		t.Error("refunded token not available")
	}
	// A refund never raises a bucket above its burst.
	l.refund("fresh", limT0)
	l.refund("fresh", limT0)
	for i := range 2 {
		if ok, _ := l.take("fresh", limT0); !ok {
			t.Fatalf("take %d refused", i+1)
		}
	}
	if ok, _ := l.take("fresh", limT0); ok {
		t.Error("refunds lifted the bucket above its burst")
	}
}

func TestLimiterClockGoingBack(t *testing.T) {
	l := newLimiter(1, 10)
	l.take("k", limT0)
	if ok, _ := l.take("k", limT0.Add(-time.Hour)); ok {
		t.Error("a clock going back refilled the bucket")
	}
	if ok, _ := l.take("k", limT0.Add(time.Minute)); !ok {
		t.Error("refused a minute after the last token")
	}
}

func TestLimiterForgetsIdleBuckets(t *testing.T) {
	l := newLimiter(20, 1000)
	for i := range 100 {
		l.take(fmt.Sprintf("10.0.0.%d", i), limT0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.size(); n != 100 {
		t.Fatalf("%d buckets, want 100", n)
	}
	// A minute after the first 50 were last used they are full again and
	// forgotten; the later ones stay.
	l.take("new", limT0.Add(time.Minute+49*time.Millisecond))
	if n := l.size(); n != 51 {
		t.Errorf("%d buckets after the idle sweep, want 51 (50 recent + new)", n)
	}
	// Forgetting changed nothing: a forgotten key starts full.
	for i := range 20 {
		if ok, _ := l.take("10.0.0.0", limT0.Add(2*time.Minute)); !ok {
			t.Fatalf("forgotten key: take %d refused", i+1)
		}
	}
}

func TestLimiterBoundedUnderAFlood(t *testing.T) {
	const maxKeys = 64
	l := newLimiter(20, maxKeys)
	// One key drained and kept busy...
	for range 20 {
		l.take("attacker", limT0)
	}
	// ...then a flood of distinct keys within the same second.
	for i := range 100_000 {
		l.take(fmt.Sprintf("key-%d", i), limT0.Add(time.Duration(i)*time.Microsecond))
		if i%50 == 0 { // more often than maxKeys new keys arrive
			l.take("attacker", limT0.Add(time.Duration(i)*time.Microsecond))
		}
		if n := l.size(); n > maxKeys {
			t.Fatalf("after %d keys: %d buckets, cap %d", i+1, n, maxKeys)
		}
	}
	// The busy key was never the least recently used one: still drained.
	if ok, _ := l.take("attacker", limT0.Add(100*time.Millisecond)); ok {
		t.Error("a key in use lost its state to the flood")
	}
}

func TestLimiterOff(t *testing.T) {
	var l *limiter = newLimiter(0, 10)
	if l != nil {
		t.Fatal("a limit of 0 built a limiter")
	}
	for range 1000 {
		if ok, _ := l.take("k", limT0); !ok {
			t.Fatal("no limiter refused a request")
		}
	}
	l.refund("k", limT0)
	if l.size() != 0 {
		t.Error("no limiter holds buckets")
	}
}

// An attempt that finds no token waits while others of its key are in
// flight: one that succeeds gives its token back to the waiter, and once
// the others have failed, the waiter is refused. Failures never overdraw.
func TestLimiterAttemptsWaitForThoseInFlight(t *testing.T) {
	now := func() time.Time { return limT0 }
	ctx := context.Background()
	l := newLimiter(2, 10)
	for i := range 2 {
		if ok, _ := l.attempt(ctx, "ip", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	third := make(chan bool)
	go func() {
		ok, _ := l.attempt(ctx, "ip", now)
		third <- ok
	}()
	l.settle("ip", limT0, false) // the first succeeded: its token is back
	if !<-third {
		t.Fatal("an attempt was refused while another in flight succeeded")
	}
	l.settle("ip", limT0, true)
	l.settle("ip", limT0, true)
	// Both others failed: no token, none in flight.
	if ok, wait := l.attempt(ctx, "ip", now); ok || wait <= 0 {
		t.Fatalf("attempt after two failures: %v, wait %v; want a refusal", ok, wait)
	}

	// A waiter whose others all fail is refused.
	l2 := newLimiter(1, 10)
	if ok, _ := l2.attempt(ctx, "ip", now); !ok {
		t.Fatal("first attempt refused")
	}
	go func() {
		ok, _ := l2.attempt(ctx, "ip", now)
		third <- ok
	}()
	l2.settle("ip", limT0, true)
	if <-third {
		t.Fatal("a waiter got a token the failed attempt spent")
	}
	var off *limiter
	if ok, _ := off.attempt(ctx, "ip", now); !ok {
		t.Error("no limiter refused an attempt")
	}
	off.settle("ip", limT0, true)
}

package api

import (
	"container/list"
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Rate limits. They are kept in this process's memory, so they hold per
// instance: N instances behind a load balancer let an account make up to
// N times the limit.
const (
	// DefaultRateLimit is each account's budget of requests per minute
	// (Exotel's documented 200/min).
	DefaultRateLimit = 200
	// DefaultAuthFailureLimit is how many failed authentications a
	// client address may make per minute.
	DefaultAuthFailureLimit = 20
	// limiterMaxKeys caps the buckets one limiter keeps, whatever the
	// number of account SIDs or client addresses seen.
	limiterMaxKeys = 1 << 16
)

// limiter is a set of token buckets, one per key (an account SID, a
// client address). Each bucket holds up to burst tokens and refills at
// rate tokens per second; a request takes one.
//
// Memory stays bounded: buckets are kept in least-recently-used order, a
// bucket untouched long enough to have refilled completely is forgotten
// (a fresh one is the same), and when maxKeys buckets are held the least
// recently used one is dropped to make room.
type limiter struct {
	rate    float64 // tokens per second
	burst   float64
	maxKeys int
	// idle is how long an emptied bucket takes to refill: a bucket
	// untouched for that long is full, and forgetting it changes nothing.
	idle time.Duration

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front: most recently used
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
	// pending counts the attempts holding a token they may give back
	// (attempt, settle); settled is closed when one of them settles.
	pending int
	settled chan struct{}
}

// attemptWait bounds how long an attempt waits for others of its key to
// settle: authentications take milliseconds.
const attemptWait = 10 * time.Second

// attempt takes a token for an authentication about to be tried; settle
// gives it back unless the attempt failed. With no token left it waits
// while other attempts of key are pending, since they may succeed and
// give theirs back: 50 concurrent requests with good credentials from one
// address (a customer's backend) used to find the 20 tokens of failures
// all taken by one another, and 30 got 429. Failures still never
// overdraw the budget: once no attempt is pending, an empty bucket is a
// refusal.
func (l *limiter) attempt(ctx context.Context, key string, now func() time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	var deadline <-chan time.Time // armed only when an attempt must wait
	for {
		l.mu.Lock()
		b := l.bucket(key, now())
		if b.tokens >= 1 {
			b.tokens--
			b.pending++
			l.mu.Unlock()
			return true, 0
		}
		if b.pending == 0 {
			l.mu.Unlock()
			return false, l.refill(b)
		}
		if b.settled == nil {
			b.settled = make(chan struct{})
		}
		settled := b.settled
		wait := l.refill(b)
		l.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(attemptWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-settled:
		case <-ctx.Done():
			return false, wait
		case <-deadline:
			return false, wait
		}
	}
}

// settle ends an attempt: a failed one keeps its token spent, any other
// gives it back.
func (l *limiter) settle(key string, now time.Time, failed bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if !failed {
		b.tokens = min(b.tokens+1, l.burst)
	}
	b.pending = max(b.pending-1, 0)
	b.wake()
}

// wake tells the attempts waiting on b to look again.
func (b *bucket) wake() {
	if b.settled != nil {
		close(b.settled)
		b.settled = nil
	}
}

// refill is how long until b has a token again.
func (l *limiter) refill(b *bucket) time.Duration {
	return time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
}

// newLimiter returns a limiter allowing perMinute requests a minute per
// key, in bursts of up to perMinute; nil when perMinute is not positive
// (no limit). A nil *limiter allows everything.
func newLimiter(perMinute, maxKeys int) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{
		rate:    float64(perMinute) / 60,
		burst:   float64(perMinute),
		maxKeys: max(maxKeys, 1),
		idle:    time.Minute, // burst tokens at burst a minute
		buckets: map[string]*list.Element{},
	}
}

// take takes a token from key's bucket at now. When the bucket is empty
// it takes nothing and returns how long until a token is back.
func (l *limiter) take(key string, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.refill(b)
}

// refund gives back a token taken from key's bucket (for a request that
// turned out not to count), never above the burst.
func (l *limiter) refund(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	b.tokens = min(b.tokens+1, l.burst)
}

// size returns how many buckets are held.
func (l *limiter) size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// bucket returns key's bucket refilled up to now, most recently used,
// creating it (full) when there is none. l.mu is held.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	l.forgetIdle(now)
	if el, ok := l.buckets[key]; ok {
		b := el.Value.(*bucket)
		if elapsed := now.Sub(b.last); elapsed > 0 {
			b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
			b.last = now
		}
		l.lru.MoveToFront(el)
		return b
	}
	for len(l.buckets) >= l.maxKeys {
		l.drop(l.lru.Back())
	}
	b := &bucket{key: key, tokens: l.burst, last: now}
	l.buckets[key] = l.lru.PushFront(b)
	return b
}

// forgetIdle drops the buckets untouched for l.idle, oldest first. Each
// bucket is dropped at most once, so the work is constant per request
// on average.
func (l *limiter) forgetIdle(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if now.Sub(el.Value.(*bucket).last) < l.idle {
			return
		}
		l.drop(el)
	}
}

func (l *limiter) drop(el *list.Element) {
	b := el.Value.(*bucket)
	b.wake() // its waiters look again, at a fresh bucket
	delete(l.buckets, b.key)
	l.lru.Remove(el)
}

// tooManyRequests answers 429 with a Retry-After header (whole seconds,
// at least 1) and, on v2/v3, code 10724.
func tooManyRequests(c echo.Context, wait time.Duration, msg string) error {
	secs := max(int64(math.Ceil(wait.Seconds())), 1)
	c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return fail(http.StatusTooManyRequests, CodeTooManyRequests, msg+"; retry in "+strconv.FormatInt(secs, 10)+"s")
}

package callback

import (
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultHostConcurrency is the default of Config.HostConcurrency.
const DefaultHostConcurrency = 4

// Tuning of the gate that does not need to be configured.
const (
	// minDefer is the shortest a callback turned away waits before it is
	// tried again: each turn costs the queue a write and a fetch.
	minDefer = 250 * time.Millisecond
	// maxDefer is the longest, so that callbacks turned away while their
	// destination hung go out within minutes of its recovery; a crowd
	// that must wait longer comes back every maxDefer, which costs the
	// queue a write per callback and maxDefer.
	maxDefer = 5 * time.Minute
	// idleTTL is how long the gate remembers a destination or an account
	// after its last attempt; forgotten, a destination starts over on
	// probation.
	idleTTL = 10 * time.Minute
	// timingOutTTL is how long it remembers a destination whose last
	// attempts timed out: longer than the longest backoff, so that it
	// stays throttled between retries.
	timingOutTTL = 2 * time.Hour
	// skipFactor is how many jobs the queue may hand the workers at once,
	// per attempt allowed in flight: the jobs beyond Config.Workers are
	// the ones the gate turns away, which takes a few milliseconds, and
	// the more of them a fetch brings, the sooner the queue gets past a
	// crowd of callbacks waiting on a busy limit to one that is not.
	skipFactor = 4
	// promptUnder and waitFor: a callback turned away by its destination's
	// or its account's limit while that limit's attempts end within
	// promptUnder waits up to waitFor for a slot to free instead of
	// being deferred. Deferred, the crowd behind a busy receiver that
	// answers in milliseconds came back minDefer/limit apart: with the
	// default 4, about 4 callbacks a second went to one receiver however
	// fast it answered (1,000 calls' terminal callbacks took 4 minutes).
	// A slow or hanging receiver is never waited for: the worker moves
	// on, as before.
	promptUnder = 50 * time.Millisecond
	waitFor     = time.Second
	// sweepEvery is how often the gate forgets what has been idle long
	// enough, which bounds its memory by the destinations and accounts of
	// the last idleTTL and the destinations timing out in the last
	// timingOutTTL.
	sweepEvery = time.Minute
)

// Limits that can turn an attempt away.
const (
	limitHost      = "destination"
	limitAccount   = "account"
	limitProbation = "probation"
	limitWorkers   = "workers"
	limitBreaker   = "breaker"
)

// queueWorkers is how many jobs the queue runs at once for a Config with
// workers attempts in flight: the bound on the delivery goroutines.
func queueWorkers(workers int) int { return workers * skipFactor }

// outcome is how an attempt let by the gate ended, as the gate sees it.
type outcome int

const (
	outcomeNotSent     outcome = iota // nothing went out (callback gone, bad payload)
	outcomeAnswered                   // an HTTP response, whatever its status
	outcomeTimedOut                   // no response within Config.Timeout
	outcomeFailed                     // no response, for another reason (refused, reset, DNS)
	outcomeInterrupted                // cancelled by a hard stop
)

// gate decides whether a due callback's attempt may start now. Its limits,
// checked in this order:
//
//   - destination: at most hostCap attempts in flight to one host:port;
//     halved after each timeout in a row, down to one, and back to
//     hostCap once the destination answers. Once it is down to one, the
//     callbacks beyond the one attempt in flight (the probe) are failed
//     without being sent (limitBreaker): they use up an attempt and back
//     off like any failed attempt, instead of circling in the queue.
//   - account: at most accountCap attempts of one account in flight.
//   - probation: destinations not known to answer promptly (new ones, and
//     those whose last attempt timed out, failed, answered slower than
//     slowAfter or has been running longer than that) share at most
//     probationCap (half the workers) attempts in flight, so the other
//     half is always there for destinations that answer.
//   - workers: at most globalCap (Config.Workers) attempts in flight.
//
// A callback over any but the breaker is turned away with a delay, paced
// by the limit's virtual clock so that the callbacks waiting on a busy
// limit come back about when a slot frees, not all at once.
type gate struct {
	hostCap, accountCap, probationCap, globalCap int
	timeout, slowAfter                           time.Duration
	now                                          func() time.Time
	jitter                                       func(time.Duration) time.Duration

	mu        sync.Mutex
	hosts     map[string]*hostState
	accounts  map[string]*bucket
	probation bucket
	global    bucket
	swept     time.Time
	// freed is closed, and replaced, when an attempt ends: callbacks
	// waiting for a slot look again.
	freed chan struct{}
}

// bucket counts the attempts in flight under one limit.
type bucket struct {
	starts []time.Time   // of the attempts in flight, in the order they started
	avg    time.Duration // smoothed duration of the attempts that ended (0: none yet)
	next   time.Time     // virtual clock: when the last callback turned away should find a slot
	used   time.Time     // last admission or release
}

// hostState is a destination's bucket and health.
type hostState struct {
	bucket
	timeouts int  // attempts in a row that timed out
	proven   bool // the last attempt that ended got an answer within slowAfter
}

// verdict is the gate's answer to one callback.
type verdict struct {
	ticket *ticket       // non-nil: send now, then call ticket.done
	limit  string        // ticket nil: the limit that turned it away
	after  time.Duration // ticket nil and limit not limitBreaker: try again after this long
	// freed, when set, is closed once an attempt ends: the limit is
	// prompt, and the callback may wait for it rather than go away
	// (after is then not set).
	freed chan struct{}
}

// ticket is an admitted attempt; done must be called when it ends.
type ticket struct {
	g         *gate
	dest      string
	host      *hostState
	account   *bucket
	probation bool
	start     time.Time
	released  bool // guarded by g.mu
}

// capChange reports a change of a destination's concurrency.
type capChange struct {
	from, to, timeouts int
}

func newGate(cfg Config) *gate {
	return &gate{
		hostCap:      cfg.HostConcurrency,
		accountCap:   cfg.AccountConcurrency,
		probationCap: max(cfg.Workers/2, 1),
		globalCap:    cfg.Workers,
		timeout:      cfg.Timeout,
		slowAfter:    cfg.Timeout / 4,
		now:          time.Now,
		jitter:       tenPercent,
		hosts:        map[string]*hostState{},
		accounts:     map[string]*bucket{},
	}
}

// tenPercent returns d give or take 10 %.
func tenPercent(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
}

// destination returns the host:port a callback URL is sent to ("" for a
// URL that cannot be sent to): the unit of the per-destination limit.
func destination(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	switch {
	case port != "":
	case strings.EqualFold(u.Scheme, "http"):
		port = "80"
	case strings.EqualFold(u.Scheme, "https"):
		port = "443"
	default:
		return ""
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// hostLimit is how many attempts may be in flight to the destination.
func (g *gate) hostLimit(h *hostState) int {
	return max(g.hostCap>>min(h.timeouts, 30), 1)
}

// acquireWait is acquire that, turned away by a prompt limit, waits for
// a slot (up to waitFor, or until ctx ends) and asks again.
func (g *gate) acquireWait(ctx context.Context, dest, account string) verdict {
	var deadline <-chan time.Time
	for {
		v := g.acquire(dest, account, true)
		if v.freed == nil {
			return v
		}
		if deadline == nil {
			t := time.NewTimer(waitFor)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-v.freed:
			continue
		case <-ctx.Done():
		case <-deadline:
		}
		return g.acquire(dest, account, false)
	}
}

// prompt reports whether b's attempts end soon: one has ended, they
// take under promptUnder, and none in flight is older.
func (b *bucket) prompt(now time.Time) bool {
	return b.avg > 0 && b.avg < promptUnder && b.runningFor(now) < promptUnder
}

// wait is the verdict of a callback that may wait for a slot of a prompt
// limit. Called with g.mu held.
func (g *gate) wait(limit string) verdict {
	if g.freed == nil {
		g.freed = make(chan struct{})
	}
	return verdict{limit: limit, freed: g.freed}
}

// acquire asks to send a callback of account to dest now. With mayWait,
// a callback turned away by a prompt destination or account gets a
// channel to wait on instead of a delay.
func (g *gate) acquire(dest, account string, mayWait bool) verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.sweep(now)

	h := g.hosts[dest]
	if h == nil {
		h = &hostState{}
		g.hosts[dest] = h
	}
	a := g.accounts[account]
	if a == nil {
		a = &bucket{}
		g.accounts[account] = a
	}
	h.used, a.used = now, now

	if limit := g.hostLimit(h); len(h.starts) >= limit {
		if h.timeouts > 0 && limit == 1 {
			return verdict{limit: limitBreaker}
		}
		if mayWait && h.proven && h.prompt(now) {
			return g.wait(limitHost)
		}
		return verdict{limit: limitHost, after: g.turnAway(&h.bucket, limit, now)}
	}
	if len(a.starts) >= g.accountCap {
		if mayWait && a.prompt(now) {
			return g.wait(limitAccount)
		}
		return verdict{limit: limitAccount, after: g.turnAway(a, g.accountCap, now)}
	}
	onProbation := !h.proven || h.runningFor(now) > g.slowAfter
	if onProbation && len(g.probation.starts) >= g.probationCap {
		return verdict{limit: limitProbation, after: g.turnAway(&g.probation, g.probationCap, now)}
	}
	if len(g.global.starts) >= g.globalCap {
		return verdict{limit: limitWorkers, after: g.turnAway(&g.global, g.globalCap, now)}
	}

	h.starts = append(h.starts, now)
	a.starts = append(a.starts, now)
	g.global.starts = append(g.global.starts, now)
	if onProbation {
		g.probation.starts = append(g.probation.starts, now)
	}
	return verdict{ticket: &ticket{g: g, dest: dest, host: h, account: a, probation: onProbation, start: now}}
}

// runningFor is how long the oldest attempt in flight has been running.
func (b *bucket) runningFor(now time.Time) time.Duration {
	if len(b.starts) == 0 {
		return 0
	}
	return now.Sub(b.starts[0])
}

// turnAway returns how long a callback over b's limit of n attempts should
// wait. It expects a slot of b to free every estimate/n, the estimate
// being how long b's attempts take (the longer of their average and the
// age of the oldest one in flight, at most the timeout), and queues the
// callback one such step after the last one turned away, at least
// minDefer and at most maxDefer from now.
//
// The estimate is not raised to minDefer: that floor is the shortest
// wait, not the length of an attempt. Raised, a burst turned away by a
// receiver answering in milliseconds (a momentary stall, or before any
// attempt has ended) was spaced minDefer/n apart: 1,000 calls' callbacks
// to one prompt receiver had a tail of 10 s at 16 a second. Not raised,
// such a crowd comes back together after minDefer, when the receiver's
// pace is known; one that is still slow is spaced by its real pace then.
func (g *gate) turnAway(b *bucket, n int, now time.Time) time.Duration {
	estimate := min(max(b.avg, b.runningFor(now)), g.timeout)
	b.next = later(b.next, now).Add(estimate / time.Duration(n))
	if limit := now.Add(maxDefer); b.next.After(limit) {
		b.next = limit
	}
	return min(max(g.jitter(b.next.Sub(now)), minDefer), maxDefer)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// done releases the ticket's slots and learns from its outcome and the
// time the exchange took (not counting the worker's own work). It reports
// a change of the destination's concurrency, if any. Calls after the
// first do nothing.
func (t *ticket) done(o outcome, took time.Duration) (capChange, bool) {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.released {
		return capChange{}, false
	}
	t.released = true
	now := g.now()
	h := t.host
	before := g.hostLimit(h)
	h.release(t.start, now)
	t.account.release(t.start, now)
	g.global.release(t.start, now)
	if t.probation {
		g.probation.release(t.start, now)
	}
	switch o {
	case outcomeAnswered:
		h.timeouts = 0
		h.proven = took <= g.slowAfter
	case outcomeTimedOut:
		h.timeouts++
		h.proven = false
	case outcomeFailed:
		h.proven = false
	}
	if o == outcomeAnswered || o == outcomeTimedOut || o == outcomeFailed {
		h.learn(took)
		t.account.learn(took)
		g.global.learn(took)
		if t.probation {
			g.probation.learn(took)
		}
	}
	if g.freed != nil {
		close(g.freed)
		g.freed = nil
	}
	after := g.hostLimit(h)
	return capChange{from: before, to: after, timeouts: h.timeouts}, after != before
}

// release removes an attempt started at start from those in flight.
func (b *bucket) release(start, now time.Time) {
	if i := slices.Index(b.starts, start); i >= 0 {
		b.starts = slices.Delete(b.starts, i, i+1)
	}
	b.used = now
}

// learn folds an attempt's duration into the average, a quarter at a time.
func (b *bucket) learn(took time.Duration) {
	if b.avg == 0 {
		b.avg = max(took, time.Nanosecond)
		return
	}
	b.avg += (took - b.avg) / 4
}

// sweep forgets the destinations and accounts idle for idleTTL (a
// destination timing out: timingOutTTL), at most once every sweepEvery.
// Called with g.mu held.
func (g *gate) sweep(now time.Time) {
	if now.Sub(g.swept) < sweepEvery {
		return
	}
	g.swept = now
	for k, h := range g.hosts {
		ttl := idleTTL
		if h.timeouts > 0 {
			ttl = timingOutTTL
		}
		if len(h.starts) == 0 && now.Sub(h.used) > ttl {
			delete(g.hosts, k)
		}
	}
	for k, a := range g.accounts {
		if len(a.starts) == 0 && now.Sub(a.used) > idleTTL {
			delete(g.accounts, k)
		}
	}
}

// inFlight reports the attempts in flight to a destination, of an
// account, and on probation (tests).
func (g *gate) inFlight(dest, account string) (host, acct, probation int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if h := g.hosts[dest]; h != nil {
		host = len(h.starts)
	}
	if a := g.accounts[account]; a != nil {
		acct = len(a.starts)
	}
	return host, acct, len(g.probation.starts)
}

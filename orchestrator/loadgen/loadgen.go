package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// Config configures a run. Zero values select the defaults noted.
type Config struct {
	// Addr and Password reach the node's inbound Event Socket (password
	// default "ClueCon").
	Addr, Password string
	// To is the number dialled: an ExoPhone with a published flow.
	To string
	// Context is the dialplan context the calls enter (default "public",
	// where the node hands managed numbers to Switchyard).
	Context string
	// Calls is how many calls to place; at most MaxCalls.
	Calls int
	// CPS is the target rate of originates, in calls per second.
	CPS float64
	// Concurrency caps the calls in flight.
	Concurrency int
	// Script is what each caller does (zero value: press nothing and wait
	// for Switchyard to end the call; see DefaultScript).
	Script Script
	// CallTimeout bounds each call, from its originate (default 2 min
	// plus the script's hang-up delays, so a script that holds its calls
	// for long is never cut short by the default).
	CallTimeout time.Duration
	// Conns is how many inbound connections to open (default 3): the first
	// receives the events of every call and sends the originates, the
	// others share the per-call commands (uuid_recv_dtmf, uuid_kill).
	Conns int
	// Compare, if set, is a second number the run calls as often as To,
	// in alternating blocks, to set what the node spends on To's calls
	// beside what it spends on Compare's (Comparison): the same flow
	// written natively in the dialplan, say. Its calls play the same
	// Script; they are not counted among the run's own, nor as lost.
	Compare string
	// Rounds is how many blocks of each number a compared run places
	// (default 4), of Calls/Rounds calls each, in the order Compare, To,
	// To, Compare, Compare, To, ...: a drift in the machine's speed
	// weighs on both alike. Each block starts when the one before it has
	// ended, so the node's CPU over a block is that block's calls'.
	Rounds int
	// Measure: lost calls, CPU, serve's figures, progress and logs.
	Measure
}

// Measure is what a run measures beside its calls, and where it reports.
type Measure struct {
	// Records, if set, is read after the run to count lost calls (see
	// Report.Lost); Grace bounds the wait for final records (default
	// 30 s) and Poll spaces the reads (default 250 ms).
	Records Records
	Grace   time.Duration
	Poll    time.Duration
	// ServePID and NodePID, if set, are the processes whose CPU per call
	// is reported (Linux /proc).
	ServePID, NodePID int
	// Baseline, if set with ServePID or NodePID, is how long to watch
	// those processes idle before the first call: their CPU a second
	// then, and the CPU per call above it (ServeFigures). A process's
	// fixed work (timers, polls, heartbeats) is part of what it costs a
	// call at a low rate, and of none at a high one.
	Baseline time.Duration
	// Metrics, if set, is serve's /metrics URL: read before and after the
	// run for its step latencies and store writes per call (ServeFigures).
	Metrics string
	// HTTP reads Metrics, and sends an API run's requests (default: a
	// client with a 30 s timeout).
	HTTP *http.Client
	// Progress, if set, gets a progress line every ProgressEvery
	// (default 1 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Logger receives diagnostics (default: discard).
	Logger *slog.Logger
}

// checkLoad checks what both kinds of run share (how many calls, how
// fast, how many at once) and fills in m's defaults.
func checkLoad(calls int, cps float64, concurrency int, m *Measure) error {
	switch {
	case calls < 1 || calls > MaxCalls:
		return fmt.Errorf("%w: calls must be 1 to %d", ErrConfig, MaxCalls)
	case !(cps > 0):
		return fmt.Errorf("%w: cps must be positive", ErrConfig)
	case concurrency < 1:
		return fmt.Errorf("%w: concurrency must be at least 1", ErrConfig)
	}
	d, err := m.withDefaults()
	if err != nil {
		return err
	}
	*m = d
	return nil
}

// withDefaults checks m and fills in its defaults.
func (m Measure) withDefaults() (Measure, error) {
	if m.ServePID < 0 || m.NodePID < 0 {
		return m, fmt.Errorf("%w: negative pid", ErrConfig)
	}
	if m.Baseline < 0 {
		return m, fmt.Errorf("%w: negative baseline", ErrConfig)
	}
	if m.Grace <= 0 {
		m.Grace = 30 * time.Second
	}
	if m.Poll <= 0 {
		m.Poll = 250 * time.Millisecond
	}
	if m.HTTP == nil {
		m.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if m.ProgressEvery <= 0 {
		m.ProgressEvery = time.Second
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// start begins measuring a run: the processes' CPU, and serve's /metrics.
func (m Measure) start(ctx context.Context) (*meter, error) {
	return startMeter(ctx, m.ServePID, m.NodePID, m.Baseline, m.Metrics, m.HTTP, m.Logger)
}

// MaxCalls is the most calls one run places: each caller has its own
// number, CallerPrefix and six digits.
const MaxCalls = 1_000_000

// CallerPrefix starts every caller's number: +1 555 07 and six digits.
const CallerPrefix = "+155507"

// callerFilter matches the callers' numbers, as a FreeSWITCH filter regex.
const callerFilter = `/^\+?155507[0-9]{6}$/`

// quietApps are applications whose CHANNEL_EXECUTE no caller needs: the
// callers react to socket, play_and_get_digits and read only.
var quietApps = []string{"set", "multiset", "export", "unset", "answer", "pre_answer", "ring_ready",
	"speak", "playback", "park", "record_session", "bridge", "sleep", "hangup"}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("loadgen: bad config")

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Addr == "":
		return c, fmt.Errorf("%w: no node address", ErrConfig)
	case strings.TrimSpace(c.To) == "":
		return c, fmt.Errorf("%w: no number to call", ErrConfig)
	case c.Conns < 0:
		return c, fmt.Errorf("%w: negative conns", ErrConfig)
	case c.Rounds < 0:
		return c, fmt.Errorf("%w: negative rounds", ErrConfig)
	case c.Rounds > 0 && c.Compare == "":
		return c, fmt.Errorf("%w: rounds without a number to compare with", ErrConfig)
	}
	if err := checkLoad(c.Calls, c.CPS, c.Concurrency, &c.Measure); err != nil {
		return c, err
	}
	if c.Compare != "" {
		if c.Rounds == 0 {
			c.Rounds = 4
		}
		switch {
		case strings.TrimSpace(c.Compare) == strings.TrimSpace(c.To):
			return c, fmt.Errorf("%w: the number to compare with is the number called", ErrConfig)
		case c.Calls > MaxCalls/2:
			return c, fmt.Errorf("%w: a compared run places its calls twice: at most %d", ErrConfig, MaxCalls/2)
		case c.Rounds > c.Calls:
			return c, fmt.Errorf("%w: %d rounds need at least as many calls", ErrConfig, c.Rounds)
		}
	}
	if c.Password == "" {
		c.Password = "ClueCon"
	}
	if c.Context == "" {
		c.Context = "public"
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 2*time.Minute + c.Script.HangupAfterAnswer + c.Script.HangupAfterBridge
	}
	if c.Conns == 0 {
		c.Conns = 3
	}
	return c, nil
}

// Run places cfg.Calls calls on the node and reports how they went. It
// returns an error only when the run could not start (bad config, node
// unreachable, unreadable pid); failed and lost calls are in the Report.
// Cancelling ctx stops placing calls and hangs up those in flight (they
// count as failed, CauseInterrupted); the report is still returned.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer g.close()
	m, err := cfg.start(ctx)
	if err != nil {
		return nil, err
	}

	rep := &Report{Script: cfg.Script.String(), Calls: cfg.Calls}
	stopProgress := g.progress()
	var outs []outcome
	if cfg.Compare == "" {
		b := g.place(ctx, cfg.To, cfg.Calls, 0)
		outs = b.outs
		rep.ElapsedS, rep.AchievedCPS = pace([]block{b})
		m.cpu(ctx, &rep.ServeFigures, len(outs))
	} else {
		outs = g.compare(ctx, m, rep)
	}
	stopProgress()
	rep.PeakInFlight = int(g.peak.Load())
	summarize(rep, outs)
	if rep.Compare != nil {
		rep.Compare.setDTMFOver(rep.DTMFBridgeMsP50)
	}
	if rep.HungUpLate, err = g.sweep(ctx); err != nil {
		cfg.Logger.WarnContext(ctx, "loadgen: callers left up", "err", err)
	}
	if cfg.Records != nil && ctx.Err() == nil {
		if err := g.countLost(ctx, rep, outs); err != nil {
			cfg.Logger.WarnContext(ctx, "loadgen: lost calls not counted", "err", err)
		}
	}
	// After the final records (countLost waits for them), so the store's
	// figures hold the run's last writes.
	m.serveMetrics(ctx, &rep.ServeFigures, rep.Placed)
	return rep, nil
}

// generator is one run: its connections, its calls and their outcomes.
type generator struct {
	cfg    Config
	log    *slog.Logger
	events *esl.Conn   // every call's events; originates (their jobs come back here)
	cmds   []*esl.Conn // per-call commands, round robin
	next   atomic.Uint32
	routes router
	first  int // the first caller's index among the CallerPrefix numbers

	placed, inFlight, completed, failed, peak atomic.Int64
	// total is how many calls the run places in all (progress lines).
	total int

	mu sync.Mutex
	// left are callers the tool gave up on but could not hang up.
	left []string
}

func dial(ctx context.Context, cfg Config) (*generator, error) {
	g := &generator{cfg: cfg, log: cfg.Logger, routes: router{byUUID: map[string]*simCall{}, byNumber: map[string]*simCall{}},
		first: rand.IntN(MaxCalls), total: cfg.Calls}
	if cfg.Compare != "" {
		g.total *= 2
	}
	for range cfg.Conns {
		c, err := esl.DialInbound(ctx, cfg.Addr, cfg.Password, cfg.Logger)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		if g.events == nil {
			g.events = c
		} else {
			g.cmds = append(g.cmds, c)
		}
	}
	if len(g.cmds) == 0 {
		g.cmds = []*esl.Conn{g.events}
	}
	g.events.SetFallback(g.routes.deliver)
	// Only the callers' channels: the controlled channel by the caller id
	// it inherits, the caller's phone by the originate variable it keeps
	// after its caller id flips on answer. The legs Switchyard dials carry
	// the ExoPhone and stay out.
	filters := [][2]string{{"Caller-Caller-ID-Number", callerFilter},
		{"variable_origination_caller_id_number", callerFilter}, {"Event-Name", "BACKGROUND_JOB"}}
	// Negative filters drop the executions of applications the callers
	// never react to (FreeSWITCH's "-value" filters; a regex cannot be
	// negative): half of a call's events, and most of the cost of reading
	// them.
	for _, app := range quietApps {
		filters = append(filters, [2]string{"Application", "-" + app})
	}
	for _, f := range filters {
		if err := g.events.Filter(ctx, f[0], f[1]); err != nil {
			g.close()
			return nil, fmt.Errorf("loadgen: filter: %w", err)
		}
	}
	if err := g.events.Subscribe(ctx, "CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
		"CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"); err != nil {
		g.close()
		return nil, fmt.Errorf("loadgen: subscribe: %w", err)
	}
	return g, nil
}

func (g *generator) close() {
	if g.events != nil {
		g.events.Close()
	}
	for _, c := range g.cmds {
		c.Close()
	}
}

// leftUp notes a caller the tool gave up on but could not hang up.
func (g *generator) leftUp(uuid string) {
	g.mu.Lock()
	g.left = append(g.left, uuid)
	g.mu.Unlock()
}

// sweep hangs up, over a new connection, the callers the tool gave up on
// but could not hang up (its connections to a saturated node had died),
// so that Switchyard hears those calls end and the lost calls counted
// afterwards are only the ones Switchyard lost. It returns how many it
// hung up; a caller already gone is no error.
func (g *generator) sweep(ctx context.Context) (int, error) {
	g.mu.Lock()
	uuids := slices.Clone(g.left)
	g.mu.Unlock()
	if len(uuids) == 0 {
		return 0, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := esl.DialInbound(dctx, g.cfg.Addr, g.cfg.Password, g.log)
	if err != nil {
		return 0, fmt.Errorf("loadgen: %d callers left up: %w", len(uuids), err)
	}
	defer c.Close()
	hungUp := 0
	for _, uuid := range uuids {
		kctx, kcancel := context.WithTimeout(ctx, killTimeout)
		_, err := c.API(kctx, "uuid_kill "+uuid+" NORMAL_CLEARING")
		kcancel()
		switch {
		case err == nil:
			hungUp++
		case errors.Is(err, esl.ErrCommand): // gone already ("No such channel")
		default:
			return hungUp, fmt.Errorf("loadgen: %d callers left up: %w", len(uuids)-hungUp, err)
		}
	}
	g.log.WarnContext(ctx, "loadgen: hung up callers the tool had lost control of", "callers", hungUp)
	return hungUp, nil
}

// cmd picks the connection for a call's next command: the command
// connections in turn, skipping closed ones (a command whose reply timed
// out closes its connection), then the event connection.
func (g *generator) cmd() *esl.Conn {
	n := int(g.next.Add(1))
	for i := range g.cmds {
		c := g.cmds[(n+i)%len(g.cmds)]
		select {
		case <-c.Done():
		default:
			return c
		}
	}
	return g.events
}

// block is the calls one place placed.
type block struct {
	outs []outcome
	// first and last are when the first and the last originate went
	// out, end when the last call ended.
	first, last, end time.Time
}

// pace is how long blocks took, from the first's first originate to the
// last's end, and the rate their calls were placed at: calls placed
// after a block's first, over the time from its first originate to its
// last.
func pace(blocks []block) (elapsedS, cps float64) {
	var calls, placed int
	var span, alone time.Duration
	for _, b := range blocks {
		if len(b.outs) == 0 {
			continue
		}
		placed++
		calls += len(b.outs) - 1
		span += b.last.Sub(b.first)
		alone += b.end.Sub(b.first)
	}
	if placed == 0 || blocks[0].first.IsZero() {
		return 0, 0
	}
	elapsedS = round(blocks[len(blocks)-1].end.Sub(blocks[0].first).Seconds(), 3)
	switch {
	case calls > 0 && span > 0:
		cps = round(float64(calls)/span.Seconds(), 2)
	case alone > 0: // one call a block
		cps = round(float64(placed)/alone.Seconds(), 2)
	}
	return elapsedS, cps
}

// place originates calls calls to to at the target rate, at most
// Concurrency in flight, and waits for all of them to end. The callers'
// numbers are the run's from index offset on.
func (g *generator) place(ctx context.Context, to string, calls, offset int) block {
	var b block
	var mu sync.Mutex
	slots := make(chan struct{}, g.cfg.Concurrency)
	bucket := newTokenBucket(g.cfg.CPS, 1, time.Now())
	var wg sync.WaitGroup
loop:
	for n := range calls {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		case <-g.events.Done():
			break loop
		}
		if wait := bucket.reserve(time.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				break loop
			case <-g.events.Done():
				t.Stop()
				break loop
			}
		}
		c := g.newCall(offset+n, to)
		b.last = time.Now()
		if n == 0 {
			b.first = b.last
		}
		g.placed.Add(1)
		g.notePeak(g.inFlight.Add(1))
		wg.Go(func() {
			o := c.run(ctx)
			mu.Lock()
			b.outs = append(b.outs, o)
			mu.Unlock()
			g.finish(o)
			<-slots
		})
	}
	wg.Wait()
	b.end = time.Now()
	return b
}

func (g *generator) notePeak(n int64) {
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *generator) finish(o outcome) {
	if o.cause == "" {
		g.completed.Add(1)
	} else {
		g.failed.Add(1)
	}
	g.inFlight.Add(-1)
}

// progress writes a line every ProgressEvery until the function it
// returns is called.
func (g *generator) progress() (stop func()) {
	if g.cfg.Progress == nil {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(g.cfg.ProgressEvery)
		defer t.Stop()
		lastPlaced, lastAt := int64(0), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				placed := g.placed.Load()
				rate := float64(placed-lastPlaced) / now.Sub(lastAt).Seconds()
				lastPlaced, lastAt = placed, now
				fmt.Fprintf(g.cfg.Progress, "load: placed %d/%d  in flight %d  completed %d  failed %d  rate %.1f/s\n",
					placed, g.total, g.inFlight.Load(), g.completed.Load(), g.failed.Load(), rate)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// countLost checks the records of every call Switchyard took. A call
// whose CallSid the tool never saw is found by the channel Switchyard
// controlled; one with no channel known, or no call on it, is lost.
func (g *generator) countLost(ctx context.Context, rep *Report, outs []outcome) error {
	var sids, channels []string
	blind := 0
	for _, o := range outs {
		switch {
		case o.callSID != "":
			sids = append(sids, o.callSID)
		case o.took && o.channel != "":
			channels = append(channels, o.channel)
		case o.took:
			blind++
		}
	}
	found, unknown, err := channelCalls(ctx, g.cfg.Records, channels, g.log)
	if err != nil {
		return err
	}
	lost, err := findLost(ctx, g.cfg.Records, append(sids, found...), g.cfg.Grace, g.cfg.Poll, g.log)
	if err != nil {
		return err
	}
	n := len(lost) + unknown + blind
	rep.Lost, rep.LostCallSIDs = &n, lost
	return nil
}

// router hands events to the calls they belong to: the caller's phone by
// its Unique-ID, the controlled channel by the caller's number.
type router struct {
	mu       sync.RWMutex
	byUUID   map[string]*simCall
	byNumber map[string]*simCall
}

func (r *router) add(c *simCall) {
	r.mu.Lock()
	r.byUUID[c.callerUUID] = c
	r.byNumber[strings.TrimPrefix(c.from, "+")] = c
	r.mu.Unlock()
}

func (r *router) remove(c *simCall) {
	r.mu.Lock()
	delete(r.byUUID, c.callerUUID)
	delete(r.byNumber, strings.TrimPrefix(c.from, "+"))
	r.mu.Unlock()
}

// deliver is the event connection's sink: it runs on eslgo's delivery
// goroutines and never blocks.
func (r *router) deliver(ev esl.Event) {
	r.mu.RLock()
	c := r.byUUID[ev.UniqueID()]
	if c == nil {
		c = r.byNumber[strings.TrimPrefix(ev.Get("Caller-Caller-ID-Number"), "+")]
	}
	r.mu.RUnlock()
	if c != nil {
		c.post(ev)
	}
}

// tokenBucket paces originates: rate tokens a second, holding at most
// burst.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// reserve takes a token and says how long to wait before using it.
func (b *tokenBucket) reserve(now time.Time) time.Duration {
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

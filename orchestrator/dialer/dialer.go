package dialer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// LeaseName is the lease the leading dialer holds.
const LeaseName = "dialer"

// Placer places a campaign's call (call.Runtime).
type Placer interface {
	Place(ctx context.Context, req call.OutboundRequest) (*store.Call, bool, error)
}

// Config tunes a Dialer.
type Config struct {
	// Instance identifies this process: the lease holder and the owner of
	// the attempts it begins (the instances table's ID).
	Instance string
	// Now is the campaigns' clock: schedules, pacing, windows, retries
	// (default time.Now). Speed is how many seconds of it pass in a real
	// second (default 1), for waits; tests run campaigns faster with both.
	Now   func() time.Time
	Speed float64
	// Poll is how often (real time) the dialer looks for new campaigns
	// and ended calls when nothing wakes it (default 1 s).
	Poll time.Duration
	// LeaseTTL is how long the lead outlives its holder (default 10 s).
	LeaseTTL time.Duration
	// Dead lists instances known dead, whose lease and unplaced attempts
	// are taken over at once (nil: wait for the lease to expire).
	Dead func(ctx context.Context) ([]string, error)
	// Callbacks builds the campaign callbacks; NotifyCallbacks wakes their
	// delivery after the dialer wrote some.
	Callbacks       campaign.Callbacks
	NotifyCallbacks func()
	// Retry is how long (on Now's clock) a number waits when its call
	// could not be placed (no media node, draining): default 30 s.
	Retry  time.Duration
	Logger *slog.Logger
	// Metrics counts the calls placed and those the runtime refused to
	// place (nil: nowhere).
	Metrics *metrics.Set
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Speed <= 0 {
		c.Speed = 1
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.Retry <= 0 {
		c.Retry = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Dialer runs the campaigns of every account (see the package doc).
type Dialer struct {
	db     *store.DB
	placer Placer
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}
	placed sync.WaitGroup
	calls  sync.Map // SIDs of the calls this dialer placed that have not ended

	// The loop's state: only Run's goroutine touches it.
	lease       store.Lease
	leading     bool
	renewed     time.Time // real time of the last renewal
	refreshed   time.Time // real time of the last full look
	reclaimed   time.Time
	campaigns   []store.Campaign
	live        map[string]int // dialing attempts by campaign
	liveAcct    map[string]int // and by account
	limits      map[string]store.DialLimits
	slot        map[string]time.Time // next dial time by campaign (Now's clock)
	slotAcct    map[string]time.Time // and by account
	zones       map[string]*time.Location
	extended    map[string]time.Time // real time a dynamic campaign's list was last read
	extendEvery time.Duration

	mu     sync.Mutex
	broken map[string]error // campaigns whose calls cannot be placed, from place

	// Test hooks: afterTick runs after each round; abandoned makes Run
	// return like a killed process (no release, no waiting).
	afterTick func()
	abandoned atomic.Bool
}

// New returns a dialer placing calls with p.
func New(db *store.DB, p Placer, cfg Config) *Dialer {
	cfg = cfg.withDefaults()
	return &Dialer{
		db: db, placer: p, cfg: cfg, log: cfg.Logger.With("component", "dialer"),
		wake: make(chan struct{}, 1), broken: map[string]error{}, zones: map[string]*time.Location{},
		slot: map[string]time.Time{}, slotAcct: map[string]time.Time{}, extended: map[string]time.Time{}, extendEvery: extendEvery,
	}
}

// CallEnded wakes the dialer if the call that ended is one it placed
// (its outcome frees a slot); other calls' ends cost it nothing. Calls
// other instances placed are taken in at the next poll.
func (d *Dialer) CallEnded(callSID string) {
	if _, ok := d.calls.LoadAndDelete(callSID); ok {
		d.Notify()
	}
}

// Notify wakes the dialer: a campaign changed, or a call ended.
func (d *Dialer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dials until ctx is done, then waits for the calls it is placing
// and gives up the lead.
func (d *Dialer) Run(ctx context.Context) {
	defer func() {
		if d.abandoned.Load() {
			return
		}
		d.placed.Wait()
		if d.leading {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := d.db.Leases().Release(rctx, d.lease); err != nil {
				d.log.Warn("dialer: release the lead", "err", err)
			}
			cancel()
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			d.refreshed = time.Time{}
		case <-timer.C:
		}
		wait := d.tick(ctx)
		if d.afterTick != nil {
			d.afterTick()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// real converts a span of the campaigns' clock to real time.
func (d *Dialer) real(span time.Duration) time.Duration {
	return time.Duration(float64(span) / d.cfg.Speed)
}

// lead takes or renews the lease; it reports whether this instance
// leads.
func (d *Dialer) lead(ctx context.Context) bool {
	if d.leading && time.Since(d.renewed) < d.cfg.LeaseTTL/4 {
		return true
	}
	var dead []string
	if d.cfg.Dead != nil {
		var err error
		if dead, err = d.cfg.Dead(ctx); err != nil {
			d.log.Warn("dialer: dead instances", "err", err)
		}
	}
	l, ok, err := d.db.Leases().Acquire(ctx, LeaseName, d.cfg.Instance, d.cfg.LeaseTTL, dead...)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("dialer: lead", "err", err)
		}
		d.leading = false
		return false
	}
	if ok && (!d.leading || l.Epoch != d.lease.Epoch) {
		d.log.Info("dialer: leading", "epoch", l.Epoch)
		clear(d.slot)
		clear(d.slotAcct)
		d.refreshed, d.reclaimed = time.Time{}, time.Time{}
	}
	if !ok && d.leading {
		d.log.Info("dialer: lost the lead", "holder", l.Holder)
	}
	d.leading, d.lease, d.renewed = ok, l, time.Now()
	return ok
}

// fenced handles an error of a fenced write: a lost lease ends the lead.
func (d *Dialer) fenced(what string, err error) {
	if errors.Is(err, store.ErrLeaseLost) {
		d.log.Info("dialer: lost the lead", "during", what)
		d.leading = false
		return
	}
	d.log.Warn("dialer: "+what, "err", err)
}

func (d *Dialer) notifyCallbacks() {
	if d.cfg.NotifyCallbacks != nil {
		d.cfg.NotifyCallbacks()
	}
}

func (d *Dialer) zone(name string) *time.Location {
	if loc, ok := d.zones[name]; ok {
		return loc
	}
	loc, err := campaign.Zone(name)
	if err != nil {
		d.log.Warn("dialer: unknown time zone; using the default", "zone", name, "err", err)
		loc, _ = campaign.Zone("")
	}
	d.zones[name] = loc
	return loc
}

package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// How often (real time) the leader looks again at what changes rarely:
// the campaigns and the live counts, and attempts that were never placed.
const (
	refreshEvery = 500 * time.Millisecond
	reclaimEvery = 5 * time.Second
	// extendEvery is how often a dynamic campaign's list is read for
	// contacts added since.
	extendEvery = 5 * time.Second
	// unplacedAfter is how old an attempt without a call must be before it
	// is taken back even though its instance lives: placing a call writes
	// its row within seconds, or fails.
	unplacedAfter = 2 * time.Minute
	// batch bounds the numbers read per campaign per tick.
	batch = 100
)

// tick does one round of the leader's work and returns how long (real
// time) to wait for the next.
func (d *Dialer) tick(ctx context.Context) time.Duration {
	if !d.lead(ctx) {
		return d.cfg.LeaseTTL / 4
	}
	now := d.cfg.Now()
	if d.mayHaveLive() {
		d.conclude(ctx, now)
	}
	if time.Since(d.reclaimed) >= reclaimEvery {
		d.reclaim(ctx, now)
	}
	if time.Since(d.refreshed) >= refreshEvery {
		if err := d.refresh(ctx, now); err != nil {
			if ctx.Err() == nil {
				d.log.Warn("dialer: read campaigns", "err", err)
			}
			return d.cfg.Poll
		}
	}
	wait := d.cfg.Poll
	for i := range d.campaigns {
		if !d.leading || ctx.Err() != nil {
			break
		}
		c := &d.campaigns[i]
		next := d.run(ctx, c, now)
		if !next.IsZero() {
			wait = min(wait, max(d.real(next.Sub(now)), time.Millisecond))
		}
	}
	return wait
}

// mayHaveLive reports whether a campaign's call may be live: the last
// read of the live counts found one, or there was none yet. Only the
// leader places campaign calls (and counts each), so with none live an
// idle dialer need not look for ended ones every poll.
func (d *Dialer) mayHaveLive() bool {
	if d.refreshed.IsZero() {
		return true
	}
	for _, n := range d.live {
		if n > 0 {
			return true
		}
	}
	return false
}

// refresh reads the campaigns to look after, the live counts and the
// accounts' limits.
func (d *Dialer) refresh(ctx context.Context, now time.Time) error {
	cs, err := d.db.Campaigns().Active(ctx, now)
	if err != nil {
		return err
	}
	live, liveAcct, err := d.db.Campaigns().Dialing(ctx)
	if err != nil {
		return err
	}
	var accounts []string
	seen := map[string]bool{}
	for _, c := range cs {
		if !seen[c.AccountSID] {
			seen[c.AccountSID] = true
			accounts = append(accounts, c.AccountSID)
		}
	}
	limits, err := d.db.Accounts().DialLimits(ctx, accounts)
	if err != nil {
		return err
	}
	d.campaigns, d.live, d.liveAcct, d.limits = cs, live, liveAcct, limits
	d.refreshed = time.Now()
	return nil
}

// run looks after one campaign: start it, spawn its run, end it, or dial
// its due numbers. It returns when it wants to be called again (zero for
// the next poll).
func (d *Dialer) run(ctx context.Context, c *store.Campaign, now time.Time) time.Time {
	if c.Recurrence != "" {
		d.spawn(ctx, c, now)
		return time.Time{}
	}
	if c.Status == store.CampaignCreated {
		started, err := d.db.Campaigns().Start(ctx, d.lease, c.SID, now, d.cfg.Callbacks.Started)
		if err != nil {
			d.fenced("start campaign "+c.SID, err)
			return time.Time{}
		}
		if !started {
			return time.Time{}
		}
		d.log.Info("dialer: campaign started", "campaign", c.SID, "account", c.AccountSID, "name", c.Name)
		d.notifyCallbacks()
		c.Status = store.CampaignInProgress
	}
	if c.Status != store.CampaignInProgress {
		return time.Time{}
	}
	d.mu.Lock()
	broken := d.broken[c.SID]
	d.mu.Unlock()
	switch {
	case broken != nil:
		d.finish(ctx, c, store.CampaignFailed, true, broken.Error())
		return time.Time{}
	case c.EndAt != nil && !now.Before(*c.EndAt):
		d.finish(ctx, c, store.CampaignCompleted, true, "end_at passed")
		return time.Time{}
	}
	if c.CampaignType == "dynamic" && time.Since(d.extended[c.SID]) >= d.extendEvery {
		d.extended[c.SID] = time.Now()
		n, err := d.db.Campaigns().Extend(ctx, d.lease, c, now)
		if err != nil {
			d.fenced("take a dynamic campaign's new contacts", err)
			return time.Time{}
		}
		if n > 0 {
			d.log.Info("dialer: dynamic campaign took new contacts", "campaign", c.SID, "numbers", n)
		}
	}
	return d.dial(ctx, c, now)
}

// finish ends a campaign once nothing of it is live.
func (d *Dialer) finish(ctx context.Context, c *store.Campaign, status string, force bool, why string) {
	done, err := d.db.Campaigns().Finish(ctx, d.lease, c.SID, status, force, d.cfg.Callbacks.Ended)
	if err != nil {
		d.fenced("end campaign "+c.SID, err)
		return
	}
	if done {
		d.log.Info("dialer: campaign ended", "campaign", c.SID, "status", status, "why", why)
		c.Status = status
		d.mu.Lock()
		delete(d.broken, c.SID)
		d.mu.Unlock()
		delete(d.slot, c.SID)
		d.notifyCallbacks()
	}
}

// limitsOf returns the campaign's rate (calls a minute) and cap (live
// calls), and its account's.
func (d *Dialer) limitsOf(c *store.Campaign) (rate, capacity, acctRate, acctCap int) {
	l, ok := d.limits[c.AccountSID]
	if !ok || l.Rate < 1 || l.Concurrency < 1 {
		l = store.DialLimits{Rate: 60, Concurrency: 60}
	}
	rate, capacity = l.Rate, l.Concurrency
	if c.Throttle > 0 && c.Throttle < rate {
		rate = c.Throttle
	}
	if c.MaxConcurrent > 0 && c.MaxConcurrent < capacity {
		capacity = c.MaxConcurrent
	}
	return rate, capacity, l.Rate, l.Concurrency
}

// dial places the calls the campaign's pace and caps allow now, and
// returns when its next slot comes (zero if it has nothing to dial).
func (d *Dialer) dial(ctx context.Context, c *store.Campaign, now time.Time) time.Time {
	rate, capacity, acctRate, acctCap := d.limitsOf(c)
	every, acctEvery := time.Minute/time.Duration(rate), time.Minute/time.Duration(acctRate)
	slot, acctSlot := catchUp(d.slot[c.SID], now, every), catchUp(d.slotAcct[c.AccountSID], now, acctEvery)
	defer func() { d.slot[c.SID], d.slotAcct[c.AccountSID] = slot, acctSlot }()
	win, err := campaign.ParseWindow(c.WindowStart, c.WindowEnd)
	if err != nil {
		win = campaign.DefaultWindow
	}
	// A dynamic campaign calls its list's new contacts until its end_at.
	if d.live[c.SID] == 0 && c.CampaignType != "dynamic" {
		left, err := d.db.Campaigns().Left(ctx, c.SID)
		if err != nil {
			d.log.Warn("dialer: numbers left", "campaign", c.SID, "err", err)
			return time.Time{}
		}
		if left == 0 {
			d.finish(ctx, c, store.CampaignCompleted, false, "every number is done")
			return time.Time{}
		}
	}
	for ctx.Err() == nil && d.leading {
		if slot.After(now) || acctSlot.After(now) {
			return later(slot, acctSlot)
		}
		if d.live[c.SID] >= capacity || d.liveAcct[c.AccountSID] >= acctCap {
			return time.Time{} // an ended call wakes the dialer
		}
		ns, err := d.db.Campaigns().Due(ctx, c.SID, now, batch)
		if err != nil {
			d.log.Warn("dialer: due numbers", "campaign", c.SID, "err", err)
			return time.Time{}
		}
		if len(ns) == 0 {
			break
		}
		dnd, err := d.dndOf(ctx, c.AccountSID, ns)
		if err != nil {
			d.log.Warn("dialer: do-not-call list", "campaign", c.SID, "err", err)
			return time.Time{}
		}
		progressed := false
		for i := range ns {
			n := &ns[i]
			if slot.After(now) || acctSlot.After(now) || d.live[c.SID] >= capacity || d.liveAcct[c.AccountSID] >= acctCap || !d.leading {
				break
			}
			tz := n.Timezone
			if tz == "" {
				tz = c.Timezone
			}
			if open := win.Next(now, d.zone(tz)); open.After(now) {
				if err := d.db.Campaigns().Later(ctx, n.ID, open); err != nil {
					d.log.Warn("dialer: defer number", "campaign", c.SID, "err", err)
					return time.Time{}
				}
				progressed = true
				continue
			}
			if dnd[n.NumberKey] {
				if err := d.db.Campaigns().Settle(ctx, d.lease, n, store.NumberFailedDND, d.cfg.Callbacks.Number); err != nil {
					d.fenced("settle number", err)
					return time.Time{}
				}
				d.notifyCallbacks()
				progressed = true
				continue
			}
			sid := store.NewSID()
			ok, err := d.db.Campaigns().Begin(ctx, d.lease, n, sid, d.cfg.Instance)
			if err != nil {
				d.fenced("claim number", err)
				return time.Time{}
			}
			progressed = true
			if !ok {
				continue
			}
			d.live[c.SID]++
			d.liveAcct[c.AccountSID]++
			slot, acctSlot = slot.Add(every), acctSlot.Add(acctEvery)
			d.placed.Add(1)
			go d.place(*c, *n, sid)
		}
		if !progressed {
			break
		}
	}
	return time.Time{}
}

// catchUp returns the next slot. A dialer that woke late (a busy
// machine, a slow database) dials the slots it missed in the last second,
// so each minute still gets its calls; a campaign further behind (it had
// nothing to dial, was capped or paused) starts again from now rather
// than bursting.
func catchUp(slot, now time.Time, every time.Duration) time.Time {
	if slot.IsZero() || slot.Before(now.Add(-max(every, catchUpSpan))) {
		return now
	}
	return slot
}

// catchUpSpan is how far behind the dialer still makes up missed slots.
const catchUpSpan = time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dndOf returns which of the numbers' keys are on the account's
// do-not-call list.
func (d *Dialer) dndOf(ctx context.Context, account string, ns []store.CampaignNumber) (map[string]bool, error) {
	keys := make([]string, 0, len(ns))
	for _, n := range ns {
		keys = append(keys, n.NumberKey)
	}
	return d.db.DND().Listed(ctx, account, keys)
}

// place places one attempt's call. A call that could not be created goes
// back to its number (due again later, same attempt); one the campaign
// cannot place at all (its ExoPhone or flow is gone) fails the campaign.
func (d *Dialer) place(c store.Campaign, n store.CampaignNumber, sid string) {
	defer d.placed.Done()
	defer d.Notify()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := call.OutboundRequest{SID: sid, AccountSID: c.AccountSID, From: n.Number, FlowID: c.FlowID,
		CallerID: c.CallerID, CallType: c.Type, CustomField: c.CustomField, Vars: n.Data}
	d.calls.Store(sid, struct{}{})
	_, _, err := d.placer.Place(ctx, req)
	if err == nil {
		d.cfg.Metrics.CampaignCallPlaced()
		return
	}
	d.cfg.Metrics.CampaignCallNotPlaced()
	d.calls.Delete(sid)
	log := d.log.With("campaign", c.SID, "call_sid", sid, "number", n.Number)
	if err := d.db.Campaigns().Unbegin(ctx, sid, d.cfg.Now().Add(d.cfg.Retry)); err != nil {
		log.Error("dialer: take back an attempt that was not placed; the reclaimer will", "err", err)
	}
	if errors.Is(err, call.ErrNotExoPhone) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotPublished) || errors.Is(err, store.ErrInvalid) {
		log.Warn("dialer: the campaign's calls cannot be placed; it fails", "err", err)
		d.mu.Lock()
		d.broken[c.SID] = fmt.Errorf("calls cannot be placed: %w", err)
		d.mu.Unlock()
		return
	}
	log.Warn("dialer: call not placed; the number is due again later", "err", err, "retry_in", d.cfg.Retry)
}

// conclude takes in the outcome of every attempt whose call ended.
func (d *Dialer) conclude(ctx context.Context, now time.Time) {
	for ctx.Err() == nil && d.leading {
		ended, err := d.db.Campaigns().Ended(ctx, 200)
		if err != nil {
			d.log.Warn("dialer: ended calls", "err", err)
			return
		}
		wrote := false
		for i := range ended {
			e := &ended[i]
			c, err := d.campaign(ctx, e.CampaignSID)
			if err != nil {
				d.log.Warn("dialer: campaign of an ended call", "campaign", e.CampaignSID, "err", err)
				return
			}
			status := campaign.AttemptStatus(e.CallStatus)
			retry := campaign.RetryAt(c.Retries, e.Attempt, status, now)
			if retry != nil && (!c.Open() || (c.EndAt != nil && !retry.Before(*c.EndAt))) {
				retry = nil
			}
			ok, err := d.db.Campaigns().Conclude(ctx, d.lease, &e.CampaignAttempt, status, retry, d.cfg.Callbacks.Number)
			if err != nil {
				d.fenced("take in a call's outcome", err)
				return
			}
			if ok {
				wrote = true
				if d.live[e.CampaignSID] > 0 {
					d.live[e.CampaignSID]--
				}
				if d.liveAcct[e.AccountSID] > 0 {
					d.liveAcct[e.AccountSID]--
				}
			}
		}
		if wrote {
			d.notifyCallbacks()
		}
		if len(ended) < 200 {
			return
		}
	}
}

// campaign returns a campaign from the looked-after ones, or reads it.
func (d *Dialer) campaign(ctx context.Context, sid string) (*store.Campaign, error) {
	for i := range d.campaigns {
		if d.campaigns[i].SID == sid {
			return &d.campaigns[i], nil
		}
	}
	return d.db.Campaigns().BySID(ctx, sid)
}

// reclaim takes back attempts that never became calls: their instance
// died between the claim and the call, or the call failed to be created.
func (d *Dialer) reclaim(ctx context.Context, now time.Time) {
	d.reclaimed = time.Now()
	var dead []string
	if d.cfg.Dead != nil {
		var err error
		if dead, err = d.cfg.Dead(ctx); err != nil {
			d.log.Warn("dialer: dead instances", "err", err)
		}
	}
	// Attempts of this instance placed by an earlier lead of it are
	// covered by the age rule: a live process never leaves one that long.
	stale, err := d.db.Campaigns().Unplaced(ctx, dead, time.Now().Add(-unplacedAfter), 200)
	if err != nil {
		d.log.Warn("dialer: unplaced attempts", "err", err)
		return
	}
	for _, a := range stale {
		if err := d.db.Campaigns().Unbegin(ctx, a.CallSID, now); err != nil {
			d.log.Warn("dialer: take back an unplaced attempt", "call_sid", a.CallSID, "err", err)
			return
		}
		d.log.Info("dialer: took back an attempt that was never placed", "campaign", a.CampaignSID, "number", a.Number, "attempt", a.Attempt, "instance", a.InstanceID)
	}
	if len(stale) > 0 {
		d.refreshed = time.Time{}
	}
}

// spawn starts the run of a recurring campaign that is due.
func (d *Dialer) spawn(ctx context.Context, p *store.Campaign, now time.Time) {
	if p.NextRunAt == nil {
		return
	}
	loc := d.zone(p.Timezone)
	fire := *p.NextRunAt
	next, err := campaign.NextRun(p.Recurrence, loc, fire)
	if err != nil {
		d.log.Warn("dialer: recurring campaign has a bad recurrence", "campaign", p.SID, "err", err)
		return
	}
	// Runs missed while no instance led are not made up: the latest one
	// that is due starts.
	for !next.IsZero() && !next.After(now) {
		fire = next
		next, _ = campaign.NextRun(p.Recurrence, loc, fire)
	}
	var nextRun *time.Time
	if !next.IsZero() && (p.EndAt == nil || next.Before(*p.EndAt)) {
		nextRun = &next
	}
	var run *store.Campaign
	if p.EndAt == nil || fire.Before(*p.EndAt) {
		end := next
		if p.EndAt != nil && (end.IsZero() || p.EndAt.Before(end)) {
			end = *p.EndAt
		}
		r := *p
		r.SID, r.Recurrence, r.NextRunAt, r.Status, r.Skipped = "", "", nil, store.CampaignCreated, 0
		r.DateStarted, r.DateEnded = nil, nil
		r.SendAt, r.EndAt = &fire, &end
		r.Name = fmt.Sprintf("%s #%d", p.Name, p.Run+1)
		run = &r
	}
	ok, err := d.db.Campaigns().Spawn(ctx, d.lease, p, run, nextRun)
	if err != nil {
		d.fenced("spawn a recurring campaign's run", err)
		return
	}
	if ok {
		d.log.Info("dialer: recurring campaign fired", "campaign", p.SID, "run", p.Run+1, "next", nextRun)
		d.refreshed = time.Time{}
	}
}

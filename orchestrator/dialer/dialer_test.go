package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

const (
	account  = "acme"
	exophone = "+15550199999"
)

// forEachDB runs fn on SQLite and, when TEST_DATABASE_URL is set, on
// PostgreSQL.
func forEachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.OpenMigrated(t, dsn(t)))
		})
	}
}

// clock is the campaigns' clock, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// phone stands in for the call runtime: it writes the call row of each
// placed call, as Place does, and the test ends calls.
type phone struct {
	db     *store.DB
	mu     sync.Mutex
	placed []call.OutboundRequest
	// refuse, if set, makes Place fail before the call exists.
	refuse func(call.OutboundRequest) error
	got    chan struct{}
}

func newPhone(db *store.DB) *phone { return &phone{db: db, got: make(chan struct{}, 100000)} }

func (p *phone) Place(ctx context.Context, req call.OutboundRequest) (*store.Call, bool, error) {
	p.mu.Lock()
	refuse := p.refuse
	p.mu.Unlock()
	if refuse != nil {
		if err := refuse(req); err != nil {
			p.got <- struct{}{}
			return nil, false, err
		}
	}
	row := &store.Call{SID: req.SID, AccountSID: req.AccountSID, Direction: store.DirectionOutboundAPI,
		From: req.From, To: req.CallerID, PhoneNumber: req.CallerID, Status: store.Ringing, CustomField: req.CustomField}
	if err := p.db.Calls().Create(ctx, row); err != nil {
		return nil, false, err
	}
	p.mu.Lock()
	p.placed = append(p.placed, req)
	p.mu.Unlock()
	p.got <- struct{}{}
	return row, false, nil
}

func (p *phone) calls() []call.OutboundRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]call.OutboundRequest(nil), p.placed...)
}

// end gives a placed call its final record.
func (p *phone) end(t *testing.T, sid string, status store.Status) {
	t.Helper()
	if _, err := p.db.Calls().Finish(t.Context(), sid, store.CallFinal{Status: status, EndTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// rig is a database with an account, its ExoPhone and a published flow,
// a clock and a phone.
type rig struct {
	db     *store.DB
	clock  *clock
	phone  *phone
	flowID string
}

func newRig(t *testing.T, db *store.DB, start time.Time) *rig {
	doc, err := examples.Read(examples.BasicSupport)
	if err != nil {
		t.Fatal(err)
	}
	id := storetest.ServeFlow(t, db, account, exophone, "support", doc)
	return &rig{db: db, clock: &clock{t: start}, phone: newPhone(db), flowID: id}
}

// running is a dialer under test, with a signal after each of its ticks.
type running struct {
	*Dialer
	ticks  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *rig) dialer(t *testing.T, instance string, p Placer, tweak ...func(*Config)) *running {
	cfg := Config{Instance: instance, Now: r.clock.Now, Poll: 50 * time.Millisecond, LeaseTTL: time.Minute,
		Logger: testlog.New(t, slog.LevelWarn), Callbacks: campaign.Callbacks{PublicURL: "http://switchyard.test"}}
	for _, f := range tweak {
		f(&cfg)
	}
	d := New(r.db, p, cfg)
	d.extendEvery = 0 // tests move the clock, not real time
	ticks := make(chan struct{}, 1)
	d.afterTick = func() {
		select {
		case ticks <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	rd := &running{Dialer: d, ticks: ticks, cancel: cancel, done: done}
	t.Cleanup(rd.stop)
	return rd
}

func (d *running) stop() {
	d.cancel()
	<-d.done
}

// dieHard stops the dialer as kill -9 would: the lead is not given up,
// calls being placed are left behind.
func (d *running) dieHard() {
	d.abandoned.Store(true)
	d.stop()
}

// settle makes the dialer do two whole rounds after now: everything due
// at the clock's time has been claimed when it returns.
func (d *running) settle(t *testing.T) {
	t.Helper()
	for range 2 {
		select {
		case <-d.ticks:
		default:
		}
		d.Notify()
		select {
		case <-d.ticks:
		case <-time.After(10 * time.Second):
			t.Fatal("the dialer did not tick")
		}
	}
}

// await waits until the phone got n calls in all.
func (r *rig) await(t *testing.T, n int) {
	t.Helper()
	for len(r.phone.calls()) < n {
		select {
		case <-r.phone.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d calls, got %d", n, len(r.phone.calls()))
		}
	}
}

func (r *rig) create(t *testing.T, c *store.Campaign) *store.Campaign {
	t.Helper()
	c.AccountSID, c.CallerID, c.FlowID, c.Type = account, exophone, r.flowID, "trans"
	if c.Name == "" {
		c.Name = "test campaign"
	}
	if err := r.db.Campaigns().Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func numbers(n int, first int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1555020%04d", first+i)
	}
	return out
}

func (r *rig) get(t *testing.T, sid string) *store.Campaign {
	t.Helper()
	c, err := r.db.Campaigns().BySID(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *rig) stats(t *testing.T, sid string) store.CampaignStats {
	t.Helper()
	st, err := r.db.Campaigns().Stats(t.Context(), []store.Campaign{*r.get(t, sid)})
	if err != nil {
		t.Fatal(err)
	}
	return st[sid]
}

func (r *rig) attempts(t *testing.T, sid string) []store.CampaignAttempt {
	t.Helper()
	var as []store.CampaignAttempt
	if err := r.db.Gorm().Where("campaign_sid = ?", sid).Order("created_at, call_sid").Find(&as).Error; err != nil {
		t.Fatal(err)
	}
	return as
}

// TestPacingAndCap runs a campaign second by second on the clock: calls
// last 2 s, the throttle is 120 a minute and the cap 6 live calls. Every
// whole minute dials the throttle exactly (the benchmark checks
// ±2 % at scale), the cap is never passed, and every number is called
// once.
func TestPacingAndCap(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		start := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC) // 11:30 in Kolkata
		r := newRig(t, db, start)
		if err := db.Accounts().SetDialLimits(t.Context(), account, store.DialLimits{Rate: 600, Concurrency: 100}); err != nil {
			t.Fatal(err)
		}
		c := r.create(t, &store.Campaign{Numbers: numbers(300, 0), Throttle: 120, MaxConcurrent: 6, Mode: "custom"})
		d := r.dialer(t, "one", r.phone)
		type live struct {
			sid string
			end time.Time
		}
		var calls []live
		perMinute := map[int]int{}
		maxLive, placedSoFar := 0, 0
		for step := 0; r.get(t, c.SID).Status != store.CampaignCompleted; step++ {
			if step > 2000 {
				t.Fatalf("the campaign did not finish: %v, %d calls placed, %d live by the test, clock %s", r.stats(t, c.SID), len(r.phone.calls()), len(calls), r.clock.Now())
			}
			now := r.clock.Now()
			var still []live
			for _, l := range calls {
				if !l.end.After(now) {
					r.phone.end(t, l.sid, store.Completed)
				} else {
					still = append(still, l)
				}
			}
			calls = still
			d.settle(t)
			as := r.attempts(t, c.SID)
			r.await(t, len(as))
			// Calls are placed at the clock's time, whichever tick placed them.
			placed := r.phone.calls()
			fresh := placed[placedSoFar:]
			placedSoFar = len(placed)
			for _, req := range fresh {
				calls = append(calls, live{req.SID, now.Add(2 * time.Second)})
				perMinute[int(now.Sub(start)/time.Minute)]++
			}
			maxLive = max(maxLive, len(calls))
			r.clock.Advance(500 * time.Millisecond)
		}
		if maxLive > 6 {
			t.Fatalf("%d calls live at once; the cap is 6", maxLive)
		}
		for m := 0; m < 2; m++ {
			if perMinute[m] != 120 {
				t.Errorf("minute %d dialled %d calls; the throttle is 120", m, perMinute[m])
			}
		}
		seen := map[string]int{}
		for _, req := range r.phone.calls() {
			seen[req.From]++
		}
		if len(seen) != 300 {
			t.Fatalf("%d numbers called, want 300", len(seen))
		}
		for n, k := range seen {
			if k != 1 {
				t.Fatalf("%s called %d times", n, k)
			}
		}
		st := r.stats(t, c.SID)
		if st["completed"] != 300 || st["created"] != 300 {
			t.Fatalf("stats %v", st)
		}
		t.Logf("max live %d; calls per minute %v", maxLive, perMinute)
	})
}

// TestRetriesWindowsAndDND: a busy number is retried after its interval,
// a number on the do-not-call list is never called, and a contact whose
// night it is (New York, the night the clocks go forward) is called at
// 09:00 their time, not before.
func TestRetriesWindowsAndDND(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		ny, _ := time.LoadLocation("America/New_York")
		start := time.Date(2026, 3, 7, 23, 0, 0, 0, ny) // 04:00 UTC, 09:30 in Kolkata
		r := newRig(t, db, start)
		cts, err := db.Contacts().Create(ctx, account, []store.Contact{{Number: "+15550200003", FirstName: "Owl", Timezone: "America/New_York"}})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := db.Lists().Create(ctx, account, "night owls", "")
		if _, err := db.Lists().Add(ctx, account, l.SID, []string{cts[0].SID}); err != nil {
			t.Fatal(err)
		}
		if err := db.DND().Add(ctx, account, "asked not to be called", "+15550200002"); err != nil {
			t.Fatal(err)
		}
		c := r.create(t, &store.Campaign{Numbers: []string{"+15550200001", "+15550200002"}, Lists: []string{l.SID},
			Retries:              store.RetryPolicy{NumberOfRetries: 2, IntervalMins: 5, Mechanism: campaign.Linear, OnStatus: []string{"busy"}},
			CallScheduleCallback: "http://crm.test/schedule", CallStatusCallback: "http://crm.test/status", StatusCallback: "http://crm.test/campaign"})
		d := r.dialer(t, "one", r.phone)
		d.settle(t)
		r.await(t, 1)
		first := r.phone.calls()
		if len(first) != 1 || first[0].From != "+15550200001" {
			t.Fatalf("first round called %+v", first)
		}
		r.phone.end(t, first[0].SID, store.Busy)
		d.settle(t) // the outcome is taken in at once: the retry is due 5 min from now
		// The next slot (a second later at 60 calls a minute) reaches the
		// number on the do-not-call list and the one whose night it is:
		// neither is called, and neither takes the slot.
		r.clock.Advance(time.Second)
		d.settle(t)
		if st := r.stats(t, c.SID); st["retry"] != 1 || st["failed-dnd"] != 1 || st["pending"] != 1 || len(r.phone.calls()) != 1 {
			t.Fatalf("after a busy attempt: %v, %d calls", st, len(r.phone.calls()))
		}
		r.clock.Advance(4*time.Minute + 58*time.Second) // 1 s before the retry
		d.settle(t)
		if n := len(r.phone.calls()); n != 1 {
			t.Fatalf("retried before the interval: %d calls", n)
		}
		r.clock.Advance(time.Second)
		d.settle(t)
		r.await(t, 2)
		second := r.phone.calls()[1]
		if second.From != "+15550200001" {
			t.Fatalf("second call to %s", second.From)
		}
		r.phone.end(t, second.SID, store.Completed)
		// Just before 09:00 in New York (13:00 UTC after the change): not yet.
		r.clock.Set(time.Date(2026, 3, 8, 12, 59, 59, 0, time.UTC))
		d.settle(t)
		if n := len(r.phone.calls()); n != 2 {
			t.Fatalf("called a contact at night: %d calls", n)
		}
		r.clock.Set(time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC))
		d.settle(t)
		r.await(t, 3)
		third := r.phone.calls()[2]
		if third.From != "+15550200003" || third.Vars["first_name"] != "Owl" {
			t.Fatalf("third call to %s with %v (the contact's fields fill the flow's @@placeholders)", third.From, third.Vars)
		}
		r.phone.end(t, third.SID, store.NoAnswer) // not retried: only busy is
		d.settle(t)
		got := r.get(t, c.SID)
		if got.Status != store.CampaignCompleted {
			t.Fatalf("campaign %s", got.Status)
		}
		st := r.stats(t, c.SID)
		if st["completed"] != 1 || st["failed"] != 1 || st["failed-dnd"] != 1 {
			t.Fatalf("final stats %v", st)
		}
		// Callbacks: 3 call statuses, 3 schedules (one per number), and the
		// campaign's start and end.
		var events []string
		if err := db.Gorm().Model(&store.Callback{}).Where("account_sid = ?", account).Order("created_at, seq").Pluck("event", &events).Error; err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range events {
			count[e]++
		}
		if count[campaign.EventCallStatus] != 3 || count[campaign.EventCallSchedule] != 3 || count[campaign.EventCampaign] != 2 {
			t.Fatalf("callbacks %v", count)
		}
	})
}

// TestPauseResume: a paused campaign dials nothing; resumed, it goes on
// where it stopped.
func TestPauseResume(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC))
		c := r.create(t, &store.Campaign{Numbers: numbers(3, 10)})
		d := r.dialer(t, "one", r.phone)
		d.settle(t)
		r.await(t, 1)
		if _, err := db.Campaigns().Act(t.Context(), account, c.SID, store.ActionPause, nil); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
		d.settle(t)
		if n := len(r.phone.calls()); n != 1 {
			t.Fatalf("a paused campaign dialled: %d calls", n)
		}
		if st := r.stats(t, c.SID); st["paused"] != 2 || st["in-progress"] != 1 {
			t.Fatalf("paused stats %v", st)
		}
		r.phone.end(t, r.phone.calls()[0].SID, store.Completed)
		if _, err := db.Campaigns().Act(t.Context(), account, c.SID, store.ActionResume, nil); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 3; i++ {
			r.clock.Advance(time.Second)
			d.settle(t)
			r.await(t, i+1)
			r.phone.end(t, r.phone.calls()[i].SID, store.Completed)
		}
		d.settle(t)
		if got := r.get(t, c.SID); got.Status != store.CampaignCompleted {
			t.Fatalf("after resume: %s", got.Status)
		}
	})
}

// TestRecurringRuns: "every day at 10:00 in Kolkata" starts a run of its
// own each day, with its own stats.
func TestRecurringRuns(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ist, _ := time.LoadLocation("Asia/Kolkata")
		start := time.Date(2026, 6, 1, 9, 59, 0, 0, ist)
		r := newRig(t, db, start)
		first := time.Date(2026, 6, 1, 10, 0, 0, 0, ist)
		end := time.Date(2026, 6, 3, 0, 0, 0, 0, ist)
		p := r.create(t, &store.Campaign{Numbers: numbers(2, 50), Recurrence: "0 10 * * *", Timezone: "Asia/Kolkata", NextRunAt: &first, EndAt: &end})
		d := r.dialer(t, "one", r.phone)
		d.settle(t)
		if n := len(r.phone.calls()); n != 0 {
			t.Fatalf("dialled before the first run: %d", n)
		}
		for day := range 2 {
			r.clock.Set(first.AddDate(0, 0, day))
			d.settle(t)
			d.settle(t)
			r.await(t, 2*day+1)
			r.clock.Advance(time.Second)
			d.settle(t)
			r.await(t, 2*day+2)
			for _, req := range r.phone.calls()[2*day:] {
				r.phone.end(t, req.SID, store.Completed)
			}
			d.settle(t)
		}
		runs, total, err := db.Campaigns().List(t.Context(), account, store.CampaignFilter{Parent: p.SID})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 {
			t.Fatalf("%d runs", total)
		}
		for _, run := range runs {
			if run.Status != store.CampaignCompleted {
				t.Fatalf("run %s is %s", run.Name, run.Status)
			}
			if st := r.stats(t, run.SID); st["completed"] != 2 {
				t.Fatalf("run %s stats %v", run.Name, st)
			}
		}
		if got := r.get(t, p.SID); got.Status != store.CampaignCompleted || got.Run != 2 {
			t.Fatalf("recurring campaign after its last run: %s, run %d", got.Status, got.Run)
		}
	})
}

// TestTakeoverAfterDeath: the leading dialer dies after claiming numbers
// but before their calls exist; the next one takes the lead at once (the
// dead instance is known), takes those attempts back and calls every
// number exactly once.
func TestTakeoverAfterDeath(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC))
		if err := db.Accounts().SetDialLimits(t.Context(), account, store.DialLimits{Rate: 600, Concurrency: 100}); err != nil {
			t.Fatal(err)
		}
		c := r.create(t, &store.Campaign{Numbers: numbers(10, 100)})
		// The first instance's calls never get placed: it dies first.
		stuck := newPhone(db)
		release := make(chan struct{})
		stuck.refuse = func(call.OutboundRequest) error {
			<-release
			return errors.New("killed")
		}
		a := r.dialer(t, "a", stuck, func(cfg *Config) { cfg.Retry = time.Hour })
		t.Cleanup(func() {
			close(release)
			a.placed.Wait()
		})
		a.settle(t)
		claimed := len(r.attempts(t, c.SID))
		if claimed == 0 {
			t.Fatal("the first dialer claimed nothing")
		}
		// kill -9: no release, no cleanup. Its lease stays until the
		// survivor learns the instance is dead.
		a.dieHard()
		b := r.dialer(t, "b", r.phone, func(cfg *Config) {
			cfg.Dead = func(context.Context) ([]string, error) { return []string{"a"}, nil }
		})
		for i := 0; r.get(t, c.SID).Status != store.CampaignCompleted; i++ {
			if i > 200 {
				t.Fatalf("campaign stuck: %v", r.stats(t, c.SID))
			}
			b.settle(t)
			for _, req := range r.phone.calls() {
				if call, err := db.Calls().BySID(t.Context(), req.SID); err == nil && call.EndTime == nil {
					r.phone.end(t, req.SID, store.Completed)
				}
			}
			r.clock.Advance(time.Second)
		}
		seen := map[string]int{}
		for _, req := range r.phone.calls() {
			seen[req.From]++
		}
		if len(seen) != 10 {
			t.Fatalf("%d numbers called", len(seen))
		}
		for n, k := range seen {
			if k != 1 {
				t.Fatalf("%s called %d times", n, k)
			}
		}
		as := r.attempts(t, c.SID)
		if len(as) != 10 {
			t.Fatalf("%d attempts for 10 numbers", len(as))
		}
		for _, at := range as {
			if at.Attempt != 1 || at.InstanceID != "b" {
				t.Fatalf("attempt %+v", at)
			}
		}
	})
}

// TestTwoDialersShareOneCampaign: two instances run dialers on one
// database; one leads, and when it stops the other takes over; no number
// is called twice.
func TestTwoDialersShareOneCampaign(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC))
		if err := db.Accounts().SetDialLimits(t.Context(), account, store.DialLimits{Rate: 600, Concurrency: 100}); err != nil {
			t.Fatal(err)
		}
		c := r.create(t, &store.Campaign{Numbers: numbers(100, 200), Throttle: 600, Mode: "custom"})
		a := r.dialer(t, "a", r.phone)
		b := r.dialer(t, "b", r.phone)
		endAll := func() {
			for _, req := range r.phone.calls() {
				if call, err := db.Calls().BySID(t.Context(), req.SID); err == nil && call.EndTime == nil {
					r.phone.end(t, req.SID, store.Completed)
				}
			}
		}
		for range 5 {
			a.settle(t)
			b.settle(t)
			r.await(t, len(r.attempts(t, c.SID)))
			endAll()
			r.clock.Advance(time.Second)
		}
		byInstance := map[string]int{}
		for _, at := range r.attempts(t, c.SID) {
			byInstance[at.InstanceID]++
		}
		if len(byInstance) != 1 {
			t.Fatalf("both instances dialled: %v", byInstance)
		}
		leader, other := a, b
		if byInstance["b"] > 0 {
			leader, other = b, a
		}
		leader.stop() // a clean stop gives the lead up
		for i := 0; r.get(t, c.SID).Status != store.CampaignCompleted; i++ {
			if i > 200 {
				t.Fatalf("campaign stuck: %v", r.stats(t, c.SID))
			}
			other.settle(t)
			r.await(t, len(r.attempts(t, c.SID)))
			endAll()
			r.clock.Advance(time.Second)
		}
		seen := map[string]int{}
		for _, req := range r.phone.calls() {
			seen[req.From]++
		}
		if len(seen) != 100 {
			t.Fatalf("%d numbers called", len(seen))
		}
		for n, k := range seen {
			if k != 1 {
				t.Fatalf("%s called %d times", n, k)
			}
		}
		byInstance = map[string]int{}
		for _, at := range r.attempts(t, c.SID) {
			byInstance[at.InstanceID]++
		}
		if len(byInstance) != 2 {
			t.Fatalf("the survivor did not take over: %v", byInstance)
		}
	})
}

// TestDynamicCampaign: a dynamic campaign calls the contacts added to its
// list after it started, and ends at its end_at, not when it runs out.
func TestDynamicCampaign(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		start := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
		r := newRig(t, db, start)
		l, _ := db.Lists().Create(ctx, account, "walk-ins", "")
		if _, err := db.Lists().Import(ctx, account, l.SID, []store.Contact{{Number: "+15550200301"}}); err != nil {
			t.Fatal(err)
		}
		end := start.Add(time.Hour)
		c := r.create(t, &store.Campaign{Lists: []string{l.SID}, CampaignType: "dynamic", EndAt: &end})
		d := r.dialer(t, "one", r.phone)
		d.settle(t)
		r.await(t, 1)
		r.phone.end(t, r.phone.calls()[0].SID, store.Completed)
		r.clock.Advance(time.Minute)
		d.settle(t)
		if got := r.get(t, c.SID); got.Status != store.CampaignInProgress {
			t.Fatalf("a dynamic campaign ended when its list ran out: %s", got.Status)
		}
		// Two more contacts join the list, one of them a number already
		// called (skipped: the campaign does not call duplicates).
		if _, err := db.Lists().Import(ctx, account, l.SID, []store.Contact{{Number: "+15550200302", FirstName: "Late"}, {Number: "+15550200301"}}); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Second)
		d.settle(t)
		r.await(t, 2)
		late := r.phone.calls()[1]
		if late.From != "+15550200302" || late.Vars["first_name"] != "Late" {
			t.Fatalf("second call %s %v", late.From, late.Vars)
		}
		r.phone.end(t, late.SID, store.Completed)
		r.clock.Set(end)
		d.settle(t)
		got := r.get(t, c.SID)
		if got.Status != store.CampaignCompleted {
			t.Fatalf("at end_at: %s, skipped %d", got.Status, got.Skipped)
		}
		if n := len(r.phone.calls()); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
}

// TestCallEndedWakesOnlyForItsCalls: the end of a call the dialer did
// not place does not wake it (serve tells it of every call's end).
func TestCallEndedWakesOnlyForItsCalls(t *testing.T) {
	d := New(nil, nil, Config{})
	d.CallEnded("not-ours")
	select {
	case <-d.wake:
		t.Fatal("woken by another call's end")
	default:
	}
	d.calls.Store("ours", struct{}{})
	d.CallEnded("ours")
	select {
	case <-d.wake:
	default:
		t.Fatal("not woken by its own call's end")
	}
	if _, ok := d.calls.Load("ours"); ok {
		t.Fatal("an ended call is still tracked")
	}
}

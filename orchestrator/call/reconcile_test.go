package call

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/callback"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestReconcilerClosesCallsNoNodeHas(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC()
	answered := start.Add(5 * time.Second)
	mk := func(uuids ...string) string {
		return reconcileCall(t, db, store.Call{Status: store.InProgress, StartTime: start, AnswerTime: &answered}, uuids...)
	}
	gone := mk("gone-a", "gone-b")
	alive := mk("alive-a")
	running := mk("running-a")
	up := map[string]bool{"alive-a": true}
	notified := 0
	r := &Reconciler{DB: db, Log: slog.New(slog.DiscardHandler),
		Terminal: callback.Builder{}.Terminal, Notify: func() { notified++ },
		Exists: func(_ context.Context, uuid string) (bool, error) { return up[uuid], nil },
		Live:   func(sid string) bool { return sid == running }}
	later := time.Now().Add(2 * time.Minute) // past MinAge
	n, err := r.RunOnce(ctx, later)
	if err != nil || n != 1 {
		t.Fatalf("closed %d calls (%v), want 1", n, err)
	}
	c, _ := db.Calls().Get(ctx, "acme", gone)
	if c.EndTime == nil || c.Status != store.Completed || c.HangupCause != CauseLost {
		t.Errorf("gone call = %+v", c)
	}
	legs, _ := db.Legs().ByCall(ctx, "acme", gone)
	for _, l := range legs {
		if l.EndTime == nil || l.HangupCause != CauseLost || l.Status != store.Failed {
			t.Errorf("leg %s = %+v", l.UUID, l)
		}
	}
	// The customer still hears that the call ended.
	cbs, err := db.Callbacks().ByCall(ctx, "acme", gone)
	if err != nil || len(cbs) != 1 || cbs[0].URL != "https://crm.example.com/status" || notified != 1 {
		t.Errorf("terminal callbacks of the closed call = %+v (%v), relay woken %d times", cbs, err, notified)
	}
	for _, sid := range []string{alive, running} {
		if c, _ := db.Calls().Get(ctx, "acme", sid); c.EndTime != nil {
			t.Errorf("call %s was closed though it is still up or running here", sid)
		}
	}
	// A second pass finds nothing more to do.
	if n, err := r.RunOnce(ctx, later); err != nil || n != 0 {
		t.Errorf("second pass closed %d (%v)", n, err)
	}

	// Pages of calls still running never hide a lost one behind them.
	busy := map[string]bool{running: true}
	for range 5 {
		busy[mk()] = true
	}
	lost := mk("lost-a")
	r.Page = 2
	r.Live = func(sid string) bool { return busy[sid] }
	if n, err := r.RunOnce(ctx, later); err != nil || n != 1 {
		t.Fatalf("pass behind 5 running calls, 2 a page, closed %d (%v), want 1", n, err)
	}
	if c, _ := db.Calls().Get(ctx, "acme", lost); c.EndTime == nil || c.HangupCause != CauseLost {
		t.Errorf("call behind the running ones = %+v", c)
	}
}

// The calls of a dead instance (stopped beating, or replaced by a process
// of the same name) are closed with their terminal callbacks; calls of
// live instances are never asked about.
func TestReconcilerClosesOrphansOfDeadInstances(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC()
	self := store.Instance{ID: "i-self", Name: "host-a", StartedAt: start}
	for _, in := range []store.Instance{self, {ID: "i-live", Name: "host-b", StartedAt: start}, {ID: "i-old", Name: "host-a", StartedAt: start}} {
		if err := db.Instances().Beat(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Gorm().Create(&store.Instance{ID: "i-dead", Name: "host-c", StartedAt: start, SeenAt: start}).Error; err != nil {
		t.Fatal(err)
	}
	mk := func(instance string, uuids ...string) string {
		return reconcileCall(t, db, store.Call{Status: store.Ringing, StartTime: start, InstanceID: instance}, uuids...)
	}
	dead := mk("i-dead", "dead-a")
	replaced := mk("i-old", "old-a")
	stillUp := mk("i-dead", "up-a")
	others := []string{mk("i-live", "live-a"), mk("i-self", "self-a"), mk("", "legacy-a"), stillUp}
	asked := map[string]bool{}
	r := &Reconciler{DB: db, Log: slog.New(slog.DiscardHandler), Self: self, Stale: time.Minute,
		Terminal: callback.Builder{}.Terminal,
		Exists: func(_ context.Context, uuid string) (bool, error) {
			asked[uuid] = true
			return uuid == "up-a", nil
		}}
	now := time.Now().Add(10 * time.Second) // past OrphanAge, within Stale of the beats
	n, err := r.RunOrphans(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("closed %d orphans (%v), want 2", n, err)
	}
	for _, sid := range []string{dead, replaced} {
		c, _ := db.Calls().Get(ctx, "acme", sid)
		cbs, _ := db.Callbacks().ByCall(ctx, "acme", sid)
		if c.EndTime == nil || c.HangupCause != CauseLost || len(cbs) != 1 {
			t.Errorf("orphan %s: end %v cause %q, %d callbacks", sid, c.EndTime, c.HangupCause, len(cbs))
		}
	}
	for _, sid := range others {
		if c, _ := db.Calls().Get(ctx, "acme", sid); c.EndTime != nil {
			t.Errorf("call %s of a live instance, this one, no instance or still up was closed", sid)
		}
	}
	if asked["live-a"] || asked["self-a"] || asked["legacy-a"] {
		t.Errorf("the nodes were asked about calls that are no orphans: %v", asked)
	}
	// The minute pass skips the live instance's call without asking.
	clear(asked)
	r.MinAge = time.Second
	if _, err := r.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	if asked["live-a"] {
		t.Error("RunOnce asked the nodes about a call of a live instance")
	}
}

// reconcileCall stores an inbound call of account acme like c (status,
// times, instance), with a status callback URL and a ringing leg for each
// of uuids, and returns its CallSid.
func reconcileCall(t *testing.T, db *store.DB, c store.Call, uuids ...string) string {
	t.Helper()
	ctx := context.Background()
	c.SID, c.AccountSID, c.Direction = store.NewSID(), "acme", store.DirectionInbound
	c.From, c.To, c.StatusCallback = "+15550109999", "+15550000100", "https://crm.example.com/status"
	if err := db.Calls().Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for i, u := range uuids {
		if err := db.Legs().Create(ctx, &store.Leg{CallSID: c.SID, AccountSID: "acme", Seq: i + 1, UUID: u,
			Direction: store.LegInbound, From: c.From, To: c.To, Status: store.Ringing, StartTime: c.StartTime}); err != nil {
			t.Fatal(err)
		}
	}
	return c.SID
}

package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestAgentsSQLite(t *testing.T) {
	t.Parallel()
	testAgents(t, storetest.SQLiteDSN)
}

func TestAgentsPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set: skipping the agent state tests on PostgreSQL")
	}
	t.Parallel()
	testAgents(t, storetest.PostgresDSN)
}

func testAgents(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, fresh(t))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	acct, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	must(err)
	live := func() *store.Call {
		c := &store.Call{AccountSID: acct.SID, Direction: store.DirectionInbound, From: "+15550109001",
			To: "+15550000100", PhoneNumber: "+15550000100", Status: store.InProgress}
		must(db.Calls().Create(ctx, c))
		return c
	}
	ag := db.Agents()

	// Resolve: a user's device is held under the user, whoever's device.
	u, err := db.Users().Create(ctx, acct.SID, store.UserInput{Name: "Asha", Devices: []string{"+15550100001", "sip:asha@pbx.example"}})
	must(err)
	ts, err := ag.Resolve(ctx, acct.SID, []string{"15550100001", "SIP:Asha@PBX.example", "+15550100002"})
	must(err)
	if ts[0].Key != store.UserLockKey(u.SID) || ts[1].Key != ts[0].Key || !ts[0].IsUser() || ts[2].IsUser() || ts[2].Key != "15550100002" {
		t.Fatalf("resolve: %+v", ts)
	}

	// Hold: one live call at a time; the holder may take it again.
	a, b := live(), live()
	must(ag.Hold(ctx, acct.SID, ts[0].Key, a.SID, "leg-a1", time.Minute))
	if err := ag.Hold(ctx, acct.SID, ts[0].Key, b.SID, "leg-b1", time.Minute); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("second hold: %v, want ErrBusy", err)
	}
	must(ag.Hold(ctx, acct.SID, ts[0].Key, a.SID, "leg-a2", time.Minute))
	if h, _ := ag.Holder(ctx, acct.SID, ts[0].Key); h != a.SID {
		t.Fatalf("holder %q, want %s", h, a.SID)
	}
	if busy, _ := db.Users().Busy(ctx, acct.SID, []string{u.SID}); busy[u.SID] != a.SID {
		t.Fatalf("user busy %v", busy)
	}
	// Release by the leg that holds it frees the user; an older leg's
	// release does nothing.
	must(ag.Release(ctx, "leg-a1"))
	if h, _ := ag.Holder(ctx, acct.SID, ts[0].Key); h != a.SID {
		t.Fatalf("released by a stale leg: holder %q", h)
	}
	must(ag.Release(ctx, "leg-a2"))
	if h, _ := ag.Holder(ctx, acct.SID, ts[0].Key); h != "" {
		t.Fatalf("holder %q after release", h)
	}

	// Racing takers: exactly one wins.
	callers := []*store.Call{live(), live(), live(), live()}
	var wg sync.WaitGroup
	wins := make(chan string, len(callers))
	for i, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ag.Hold(ctx, acct.SID, "15550100777", c.SID, "race"+string(rune('a'+i)), time.Minute); err == nil {
				wins <- c.SID
			} else if !errors.Is(err, store.ErrBusy) {
				t.Errorf("race: %v", err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d racing holds won, want 1", n)
	}

	// A dead instance's hold lapses with its lease; a refreshed one does
	// not; one whose call ended is free at once.
	dead, alive, ended, next := live(), live(), live(), live()
	// A lease of a nanosecond has run out by the next statement.
	must(ag.Hold(ctx, acct.SID, "15550100801", dead.SID, "leg-dead", time.Nanosecond))
	must(ag.Hold(ctx, acct.SID, "15550100802", alive.SID, "leg-alive", time.Nanosecond))
	must(ag.Refresh(ctx, []string{alive.SID}, time.Hour))
	must(ag.Hold(ctx, acct.SID, "15550100803", ended.SID, "leg-ended", time.Hour))
	_, err = db.Calls().Finish(ctx, ended.SID, store.CallFinal{Status: store.Completed, EndTime: time.Now()})
	must(err)
	must(ag.Hold(ctx, acct.SID, "15550100801", next.SID, "leg-next1", time.Minute))
	if err := ag.Hold(ctx, acct.SID, "15550100802", next.SID, "leg-next2", time.Minute); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("refreshed hold taken over: %v", err)
	}
	must(ag.Hold(ctx, acct.SID, "15550100803", next.SID, "leg-next3", time.Minute))

	// Sticky agents: per scope and caller, until the period ends; the
	// caller matched in any written form.
	now := time.Now()
	must(ag.Stick(ctx, acct.SID, "fl_1/c", "+15550109001", "+15550100001", now.Add(time.Hour)))
	must(ag.Stick(ctx, acct.SID, "fl_1/c", "+15550109001", "+15550100002", now.Add(time.Hour))) // the latest wins
	must(ag.Stick(ctx, acct.SID, "fl_1/c", "+15550109002", "+15550100003", now.Add(-time.Second)))
	for _, tc := range []struct{ scope, caller, want string }{
		{"fl_1/c", "15550109001", "+15550100002"},
		{"fl_2/c", "+15550109001", ""},
		{"fl_1/c", "+15550109002", ""}, // expired
	} {
		got, err := ag.Sticky(ctx, acct.SID, tc.scope, tc.caller, now)
		must(err)
		if got != tc.want {
			t.Errorf("sticky %s %s = %q, want %q", tc.scope, tc.caller, got, tc.want)
		}
	}

	// Queues: arrival order per key; ended calls and lapsed places do not
	// count; the call's final record takes it out.
	q1, q2, q3, gone := live(), live(), live(), live()
	must(ag.Enqueue(ctx, acct.SID, "fl_1/c", gone.SID, time.Hour))
	must(ag.Enqueue(ctx, acct.SID, "fl_1/c", q1.SID, time.Hour))
	must(ag.Enqueue(ctx, acct.SID, "fl_1/c", q2.SID, time.Hour))
	must(ag.Enqueue(ctx, acct.SID, "fl_9/c", q3.SID, time.Hour))
	must(ag.Enqueue(ctx, acct.SID, "fl_1/c", q1.SID, time.Hour)) // keeps its place
	_, err = db.Calls().Finish(ctx, gone.SID, store.CallFinal{Status: store.Completed, EndTime: time.Now()})
	must(err)
	for _, tc := range []struct {
		sid  string
		want int
	}{{q1.SID, 0}, {q2.SID, 1}, {q3.SID, 0}} {
		n, err := ag.Ahead(ctx, tc.sid)
		must(err)
		if n != tc.want {
			t.Errorf("ahead of %s: %d, want %d", tc.sid, n, tc.want)
		}
	}
	if _, err := ag.Ahead(ctx, gone.SID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ended call still queued: %v", err)
	}
	must(ag.Dequeue(ctx, q1.SID))
	if n, _ := ag.Ahead(ctx, q2.SID); n != 0 {
		t.Errorf("ahead of q2 after q1 left: %d", n)
	}
}

// On a SQLite file, a call's reads do not wait for the writer: a lookup
// answers while a write transaction holds the one read-write connection.
func TestSQLiteCallReadsDoNotWaitForTheWriter(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if err := db.Agents().Stick(ctx, "acme", "flow", "+15550109999", "sip:agent@example.com", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err := db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.Agents().Stick(ctx, "acme", "flow", "+15550108888", "sip:other@example.com", time.Now().Add(time.Hour)); err != nil {
			return err
		}
		// The transaction holds the read-write connection until it returns.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, err := db.Agents().Sticky(rctx, "acme", "flow", "+15550109999", time.Now())
		if err != nil || got != "sip:agent@example.com" {
			t.Errorf("sticky agent read during a write = %q, %v", got, err)
		}
		// It sees what was committed, not what is still being written.
		if got, err := db.Agents().Sticky(rctx, "acme", "flow", "+15550108888", time.Now()); err != nil || got != "" {
			t.Errorf("uncommitted sticky agent read = %q, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.Agents().Sticky(ctx, "acme", "flow", "+15550108888", time.Now()); err != nil || got != "sip:other@example.com" {
		t.Errorf("sticky agent after commit = %q, %v", got, err)
	}
}

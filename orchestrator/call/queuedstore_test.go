package call

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// queuedRig is a queued store on a fresh database with a ringing call of
// account acme that started at start. Nothing commits until Flush: the
// writes a test queues wait in one batch.
func queuedRig(t *testing.T, start time.Time) (*store.DB, *store.Queue, Store, string) {
	t.Helper()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(context.Background(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	sid := reconcileCall(t, db, store.Call{Status: store.Ringing, StartTime: start})
	q := store.NewQueue(db, store.QueueConfig{Linger: time.Hour})
	t.Cleanup(func() { q.Close(context.Background()) })
	return db, q, NewQueuedStore(db, q), sid
}

// A leg's status changes fold into its write still waiting in the queue:
// its row is inserted once, with the newest status. A write that already
// ran, or a final record queued after it, is never folded into.
func TestQueuedStoreFoldsALegsWaitingWrites(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	db, q, s, sid := queuedRig(t, start)
	leg := func(uuid string, seq int) *store.Leg {
		return &store.Leg{CallSID: sid, AccountSID: "acme", Seq: seq, UUID: uuid, Direction: store.LegOutbound,
			From: "+15550109999", To: "+15550000101", StartTime: start}
	}
	answered := start.Add(3 * time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two status changes into a waiting row.
	must(s.CreateLeg(ctx, leg("u1", 1)))
	must(s.LegStatus(ctx, "u1", store.Ringing, start.Add(time.Second)))
	must(s.LegStatus(ctx, "u1", store.InProgress, answered))
	// A status change into a waiting status change; a final record queued
	// after a row takes no more folds.
	must(s.CreateLeg(ctx, leg("u2", 2)))
	must(s.FinishLeg(ctx, "u2", store.LegFinal{Status: store.Busy, EndTime: answered, HangupCause: "USER_BUSY"}))
	must(s.LegStatus(ctx, "u2", store.Ringing, answered))
	must(q.Flush(ctx))
	if got := q.Stats().Writes; got != 4 {
		t.Errorf("%d writes, want 4: u1's row, u2's row, its final record and the late status", got)
	}
	legs, err := db.Legs().ByCall(ctx, "acme", sid)
	must(err)
	if len(legs) != 2 {
		t.Fatalf("%d legs, want 2", len(legs))
	}
	u1, u2 := legs[0], legs[1]
	if u1.Status != store.InProgress || u1.AnswerTime == nil || !u1.AnswerTime.Equal(answered) {
		t.Errorf("u1: %s answered %v, want in-progress answered %v", u1.Status, u1.AnswerTime, answered)
	}
	if u2.Status != store.Busy || u2.HangupCause != "USER_BUSY" {
		t.Errorf("u2: %s %s, want its final record to stand", u2.Status, u2.HangupCause)
	}
	// The row has run: a later change is a write of its own.
	before := q.Stats().Writes
	must(s.LegStatus(ctx, "u1", store.Ringing, answered))
	must(s.FinishLeg(ctx, "u1", store.LegFinal{Status: store.Completed, EndTime: answered.Add(time.Second), AnswerTime: &answered}))
	must(q.Flush(ctx))
	if got := q.Stats().Writes - before; got != 2 {
		t.Errorf("%d writes after the row ran, want 2", got)
	}
	legs, err = db.Legs().ByCall(ctx, "acme", sid)
	must(err)
	if legs[0].Status != store.Completed {
		t.Errorf("u1 ended %s, want completed", legs[0].Status)
	}
}

// A leg's row is stamped when it is queued, not when the queue writes it:
// a leg that ends before that still starts before it ends (a click-to-call
// whose first leg is busy).
func TestQueuedStoreStartsALegWhenQueued(t *testing.T) {
	ctx := context.Background()
	db, q, s, sid := queuedRig(t, time.Now().UTC())
	if err := s.CreateLeg(ctx, &store.Leg{CallSID: sid, AccountSID: "acme", Seq: 1, UUID: "u1",
		Direction: store.LegOutbound, From: "+15550000100", To: "+15550100101"}); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC()
	if err := s.FinishLeg(ctx, "u1", store.LegFinal{Status: store.Busy, EndTime: end, HangupCause: "USER_BUSY"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	legs, err := db.Legs().ByCall(ctx, "acme", sid)
	if err != nil || len(legs) != 1 {
		t.Fatalf("legs %v, %v", legs, err)
	}
	if l := legs[0]; l.StartTime.After(*l.EndTime) {
		t.Errorf("leg starts %v, after it ends %v", l.StartTime, *l.EndTime)
	}
}

// A call's answer folds into its row still waiting in the queue; once the
// row ran, or its final record is queued, a change is a write of its own.
func TestQueuedStoreFoldsTheAnswerIntoTheCallsRow(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	db, q, s, _ := queuedRig(t, start)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	before := q.Stats().Writes
	row := &store.Call{AccountSID: "acme", Direction: store.DirectionInbound, From: "+15550109999",
		To: "+15550000100", Status: store.Ringing, StartTime: start}
	must(s.CreateCall(ctx, row))
	answered := start.Add(2 * time.Second)
	must(s.CallAnswered(ctx, row.SID, answered, nil, nil))
	must(s.CallStatus(ctx, row.SID, store.Ringing, answered)) // no step back
	must(q.Flush(ctx))
	if got := q.Stats().Writes - before; got != 1 {
		t.Errorf("%d writes, want the row alone", got)
	}
	got, err := db.Calls().BySID(ctx, row.SID)
	must(err)
	if got.Status != store.InProgress || got.AnswerTime == nil || !got.AnswerTime.Equal(answered) {
		t.Errorf("call %s answered %v, want in-progress answered %v", got.Status, got.AnswerTime, answered)
	}

	// A final record seals the row: nothing folds over it.
	other := &store.Call{AccountSID: "acme", Direction: store.DirectionInbound, From: "+15550109998",
		To: "+15550000100", Status: store.Ringing, StartTime: start}
	must(s.CreateCall(ctx, other))
	done := make(chan error, 1)
	go func() {
		done <- s.FinishCall(ctx, other.SID, store.CallFinal{Status: store.NoAnswer, EndTime: answered,
			HangupCause: "NO_ANSWER", Released: true})
	}()
	for q.Len() < 2 {
		runtime.Gosched()
	}
	must(s.CallStatus(ctx, other.SID, store.InProgress, answered))
	must(q.Flush(ctx))
	must(<-done)
	got, err = db.Calls().BySID(ctx, other.SID)
	must(err)
	if got.Status != store.NoAnswer || got.AnswerTime != nil {
		t.Errorf("call %s answered %v, want its final record to stand", got.Status, got.AnswerTime)
	}
}

// An answer with callbacks does not wait for the queue: the call goes on
// while the writes queued before it commit, and committed runs once the
// answer and its callback are in the database, for the relay to find.
func TestQueuedStoreAnswersWithCallbacksWithoutWaiting(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	db, q, s, sid := queuedRig(t, start)
	release, running := slowWrite(q)
	out := func(c *store.Call, _ []store.Leg) ([]store.Callback, error) {
		return []store.Callback{{AccountSID: c.AccountSID, CallSID: c.SID, Event: store.CallbackAnswered,
			URL: "http://127.0.0.1:9/cb", ContentType: "application/json", Payload: "{}", Status: store.CallbackPending}}, nil
	}
	committed := make(chan struct{})
	answered := start.Add(2 * time.Second)
	returnsWhileHeld(t, "CallAnswered", release, running, committed, func() error {
		return s.CallAnswered(ctx, sid, answered, out, func() { close(committed) })
	})
	got, err := db.Calls().BySID(ctx, sid)
	if err != nil || got.Status != store.InProgress || got.AnswerTime == nil || !got.AnswerTime.Equal(answered) {
		t.Fatalf("call %+v, %v: want in-progress, answered %v", got, err, answered)
	}
	cbs, err := db.Callbacks().ByCall(ctx, "acme", sid)
	if err != nil || len(cbs) != 1 || cbs[0].Event != store.CallbackAnswered {
		t.Fatalf("callbacks %+v, %v: want the answered one", cbs, err)
	}
}

// A release does not wait either, and the calls waiting for a destination
// are woken once it has landed: the destination is free by then.
func TestQueuedStoreReleasesWithoutWaiting(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	db, q, s, sid := queuedRig(t, start)
	agents := db.Agents()
	const key = "user:alice"
	if err := agents.Hold(ctx, "acme", key, sid, "leg-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if holder, err := agents.Holder(ctx, "acme", key); err != nil || holder != sid {
		t.Fatalf("held by %q (%v), want %s", holder, err, sid)
	}
	release, running := slowWrite(q)
	committed := make(chan struct{})
	returnsWhileHeld(t, "Release", release, running, committed, func() error {
		return s.Release(ctx, "leg-1", func() { close(committed) })
	})
	if holder, err := agents.Holder(ctx, "acme", key); err != nil || holder != "" {
		t.Fatalf("held by %q (%v) once the release committed, want free", holder, err)
	}
}

// slowWrite queues a write that holds its batch, once it runs, until
// release is closed; running is closed when it runs.
func slowWrite(q *store.Queue) (release, running chan struct{}) {
	release, running = make(chan struct{}), make(chan struct{})
	var began sync.Once // a failed batch runs its writes again
	q.Go("slow write", func(context.Context, *store.DB) error {
		began.Do(func() { close(running) })
		<-release
		return nil
	})
	return release, running
}

// returnsWhileHeld runs write, whose batch must start at once behind the
// slow write, and checks that it returns while that batch is held, and
// that committed is closed only after the batch is let go.
func returnsWhileHeld(t *testing.T, what string, release, running, committed chan struct{}, write func() error) {
	t.Helper()
	returned := make(chan error, 1)
	go func() { returned <- write() }()
	<-running // the batch began with the slow write: it did not linger
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-guard.C:
		close(release)
		t.Fatalf("%s still waits for the writes queued before it", what)
	}
	select {
	case <-committed:
		t.Fatal("committed before its batch could commit")
	default:
	}
	close(release)
	<-committed
}

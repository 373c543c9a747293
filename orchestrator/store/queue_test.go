package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestQueueSQLite(t *testing.T)   { exerciseQueue(t, storetest.SQLiteDSN(t)) }
func TestQueuePostgres(t *testing.T) { exerciseQueue(t, storetest.PostgresDSN(t)) }

func exerciseQueue(t *testing.T, dsn string) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, dsn)
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	q := store.NewQueue(db, store.QueueConfig{MaxBatch: 64})
	t.Cleanup(func() { q.Close(context.Background()) })

	t.Run("writes land in order, many per transaction", func(t *testing.T) {
		const n = 300
		sids := make([]string, n)
		for i := range sids {
			sids[i] = store.NewSID()
			call := &store.Call{SID: sids[i], AccountSID: "acme", Direction: store.DirectionInbound,
				From: fmt.Sprintf("+1555010%04d", i), To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
			q.Go("call", func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) })
			// Queued after the create: it finds the row.
			sid := sids[i]
			q.Go("status", func(ctx context.Context, tx *store.DB) error {
				_, err := tx.Calls().UpdateStatus(ctx, sid, store.InProgress, time.Now().UTC())
				return err
			})
		}
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, sid := range sids {
			c, err := db.Calls().BySID(ctx, sid)
			if err != nil || c.Status != store.InProgress {
				t.Fatalf("call %s: %+v, %v", sid, c, err)
			}
		}
	})

	t.Run("a rejected write is reported and the rest of its batch commits", func(t *testing.T) {
		sid := store.NewSID()
		call := &store.Call{SID: sid, AccountSID: "acme", Direction: store.DirectionInbound,
			From: "+15550109999", To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		q.Go("call", func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) })
		err := q.Do(ctx, "unknown", func(ctx context.Context, tx *store.DB) error {
			_, err := tx.Calls().UpdateStatus(ctx, "no-such-call", store.InProgress, time.Now().UTC())
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if err := q.Do(ctx, "finish", func(ctx context.Context, tx *store.DB) error {
			_, err := tx.Calls().Finish(ctx, sid, store.CallFinal{Status: store.Completed, EndTime: time.Now().UTC()})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if c, err := db.Calls().BySID(ctx, sid); err != nil || c.Status != store.Completed {
			t.Fatalf("call = %+v, %v", c, err)
		}
	})

	t.Run("a write that keeps failing on a healthy database is rejected, not retried for ever", func(t *testing.T) {
		sid := store.NewSID()
		call := &store.Call{SID: sid, AccountSID: "acme", Direction: store.DirectionInbound,
			From: "+15550109998", To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		bad := errors.New("a write that always fails")
		q.Go("call", func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) })
		q.Go("bad", func(ctx context.Context, tx *store.DB) error { return bad })
		err := q.Do(ctx, "bad", func(ctx context.Context, tx *store.DB) error { return bad })
		if !errors.Is(err, bad) {
			t.Fatalf("err = %v", err)
		}
		if _, err := db.Calls().BySID(ctx, sid); err != nil {
			t.Fatalf("the good write of the batch was lost: %v", err)
		}
	})

	t.Run("then hears a write's outcome once its batch is done", func(t *testing.T) {
		sid := store.NewSID()
		call := &store.Call{SID: sid, AccountSID: "acme", Direction: store.DirectionInbound,
			From: "+15550109996", To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		landed := make(chan error, 1)
		q.Then("call", func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) }, func(err error) {
			if err == nil {
				// Committed: a reader finds the row.
				_, err = db.Calls().BySID(context.Background(), sid)
			}
			landed <- err
		})
		if err := <-landed; err != nil {
			t.Fatalf("committed write: %v", err)
		}
		q.Then("unknown", func(ctx context.Context, tx *store.DB) error {
			_, err := tx.Calls().UpdateStatus(ctx, "no-such-call", store.InProgress, time.Now().UTC())
			return err
		}, func(err error) { landed <- err })
		if err := <-landed; !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rejected write: %v, want ErrNotFound", err)
		}
	})

	t.Run("close lands what is queued and refuses the rest", func(t *testing.T) {
		q2 := store.NewQueue(db, store.QueueConfig{})
		sid := store.NewSID()
		call := &store.Call{SID: sid, AccountSID: "acme", Direction: store.DirectionInbound,
			From: "+15550109997", To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		q2.Go("call", func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) })
		if err := q2.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Calls().BySID(ctx, sid); err != nil {
			t.Fatalf("queued write lost at Close: %v", err)
		}
		if err := q2.Do(ctx, "late", func(context.Context, *store.DB) error { return nil }); !errors.Is(err, store.ErrQueueClosed) {
			t.Fatalf("write after Close: %v", err)
		}
		var late error
		q2.Then("late", func(context.Context, *store.DB) error { return nil }, func(err error) { late = err })
		if !errors.Is(late, store.ErrQueueClosed) {
			t.Fatalf("then of a write after Close: %v", late)
		}
	})
}

// Writes nobody waits for linger for company; one somebody waits for
// takes them all along at once.
func TestQueueLingers(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	q := store.NewQueue(db, store.QueueConfig{Linger: time.Hour})
	t.Cleanup(func() { q.Close(context.Background()) })

	newCall := func(i int) func(ctx context.Context, tx *store.DB) error {
		call := &store.Call{SID: store.NewSID(), AccountSID: "acme", Direction: store.DirectionInbound,
			From: fmt.Sprintf("+1555011%04d", i), To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		return func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) }
	}
	q.Go("first", newCall(1))
	q.Go("second", newCall(2))
	if n := q.Len(); n != 2 {
		t.Fatalf("%d writes waiting, want both lingering", n)
	}
	if err := q.Do(ctx, "third", newCall(3)); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Writes != 3 || st.Transactions != 1 {
		t.Fatalf("stats %+v, want 3 writes in 1 transaction", st)
	}

	q.Go("fourth", newCall(4))
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Writes != 4 || st.Transactions != 2 {
		t.Fatalf("stats %+v after Flush, want 4 writes in 2 transactions", st)
	}

	// DoBatched waits for its write but does not start a batch: it rides
	// with the next one.
	batched := make(chan error, 1)
	go func() { batched <- q.DoBatched(ctx, "fifth", newCall(5)) }()
	for q.Len() == 0 {
		runtime.Gosched()
	}
	q.Go("sixth", newCall(6))
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-batched; err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Writes != 6 || st.Transactions != 3 {
		t.Fatalf("stats %+v, want the batched write and the next in one transaction", st)
	}
}

// The queue reports its depth, its transactions and its writes, the
// rejected ones apart.
func TestQueueMetrics(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	q := store.NewQueue(db, store.QueueConfig{Linger: time.Hour, Metrics: m})
	t.Cleanup(func() { q.Close(context.Background()) })
	value := func(name string) float64 { return metricstest.Value(t, m, name) }

	newCall := func(i int) func(ctx context.Context, tx *store.DB) error {
		call := &store.Call{SID: store.NewSID(), AccountSID: "acme", Direction: store.DirectionInbound,
			From: fmt.Sprintf("+1555012%04d", i), To: "+15550000100", Status: store.Ringing, StartTime: time.Now().UTC()}
		return func(ctx context.Context, tx *store.DB) error { return tx.Calls().Create(ctx, call) }
	}
	q.Go("first", newCall(1))
	q.Go("second", newCall(2))
	if got := value("switchyard_store_queue_depth"); got != 2 {
		t.Errorf("depth = %v with two writes lingering, want 2", got)
	}
	if err := q.Do(ctx, "third", newCall(3)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"switchyard_store_queue_depth":        0,
		"switchyard_store_writes_total":       3,
		"switchyard_store_write_errors_total": 0,
		"switchyard_store_write_seconds":      1, // one transaction
	} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	err := q.Do(ctx, "unknown", func(ctx context.Context, tx *store.DB) error {
		_, err := tx.Calls().UpdateStatus(ctx, "no-such-call", store.InProgress, time.Now().UTC())
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if got := value("switchyard_store_writes_total"); got != 4 {
		t.Errorf("writes = %v, want 4", got)
	}
	if got := value("switchyard_store_write_errors_total"); got != 1 {
		t.Errorf("write errors = %v, want 1", got)
	}
}

package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A statement first met inside a transaction runs there unprepared, is
// prepared on the database once the transaction ends, and every later
// transaction reuses it: writes are parsed once, not once per batch.
func TestStatementsInTransactionsArePreparedOnce(t *testing.T) {
	ctx := context.Background()
	db := migratedMemory(t)
	if db.stmts == nil {
		t.Fatal("SQLite opened without its statement cache")
	}
	write := func(at time.Time) {
		t.Helper()
		if err := db.InTx(ctx, func(tx *DB) error {
			_, err := tx.Calls().UpdateStatus(ctx, "ca_unknown", InProgress, at)
			return err
		}); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	write(time.Now())
	db.stmts.mu.Lock()
	first := db.stmts.prepares
	db.stmts.mu.Unlock()
	if first == 0 {
		t.Fatal("nothing was prepared after the first transaction")
	}
	for range 3 {
		write(time.Now())
	}
	db.stmts.mu.Lock()
	again := db.stmts.prepares
	db.stmts.mu.Unlock()
	if again != first {
		t.Fatalf("%d statements prepared after the first transaction, %d after three more: transactions do not reuse them", first, again)
	}
}

package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestHandlesSQLite(t *testing.T) {
	db := storetest.Open(t, storetest.SQLiteDSN(t))
	if db.PgxPool() != nil {
		t.Error("SQLite has a pgx pool")
	}
	if db.SQL() == nil {
		t.Fatal("no database/sql handle")
	}
	if n := db.SQL().Stats().MaxOpenConnections; n != 1 {
		t.Errorf("SQLite MaxOpenConnections = %d, want 1", n)
	}
	err := db.InTx(t.Context(), func(tx *store.DB) error {
		if tx.SQL() != nil || tx.PgxPool() != nil {
			t.Error("a transaction's DB exposes pool handles")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandlesPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.PostgresDSN(t), nil, store.WithMaxOpenConns(3))
	if err != nil {
		t.Fatal(err)
	}
	pool := db.PgxPool()
	if pool == nil {
		t.Fatal("no pgx pool")
	}
	if n := db.SQL().Stats().MaxOpenConnections; n != 3 {
		t.Errorf("GORM's MaxOpenConnections = %d, want 3", n)
	}
	if n := pool.Config().MaxConns; n <= 3 {
		t.Errorf("pgx pool MaxConns = %d, want more than GORM's 3", n)
	}

	// The pool's connections scan timestamptz in UTC, like GORM's.
	var now time.Time
	if err := pool.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	if now.Location() != time.UTC {
		t.Errorf("timestamptz scanned in %v, want UTC", now.Location())
	}
	var tz string
	if err := pool.QueryRow(ctx, "SHOW timezone").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("session time zone %q (%v), want UTC", tz, err)
	}
	// Both handles reach the same schema (search_path from the DSN).
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM accounts").Scan(&n); err != nil || n != 1 {
		t.Errorf("accounts through the pool: %d, %v", n, err)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(context.Background()); err == nil {
		t.Error("pool still usable after Close")
	}
}

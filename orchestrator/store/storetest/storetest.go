// Package storetest runs one behavioural suite against any database the
// store supports, and gives other packages' tests ready databases.
//
// The suite (Exercise) always runs on SQLite; it also runs on PostgreSQL
// when TEST_DATABASE_URL names a server (.ci/run starts a throwaway one).
// Every test gets a database of its own: a new SQLite file, or a new
// PostgreSQL schema (t_<random>, selected through search_path and dropped
// at cleanup), so tests and packages can run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL
// the PostgreSQL tests run against.
const EnvPostgres = "TEST_DATABASE_URL"

// SQLiteDSN returns the DSN of a new, empty SQLite database in a temporary
// directory.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "switchyard.db")
}

// PostgresDSN returns the DSN of a new, empty schema in the database named
// by TEST_DATABASE_URL; the schema is dropped when the test ends. The test
// is skipped when the variable is unset, and fails when it is set but the
// server cannot be used.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set: skipping PostgreSQL store tests (.ci/run starts a server and sets it)")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q is not a postgres:// URL", EnvPostgres, base)
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, base, testLogger(t))
	if err != nil {
		t.Fatalf("storetest: connect to %s: %v", EnvPostgres, err)
	}
	schema := "t_" + randomHex(8)
	if err := admin.Gorm().WithContext(ctx).Exec("CREATE SCHEMA " + schema).Error; err != nil {
		_ = admin.Close()
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		defer func() { _ = admin.Close() }()
		if err := admin.Gorm().WithContext(ctx).Exec("DROP SCHEMA " + schema + " CASCADE").Error; err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens dsn without migrating it, logging to t, and closes it when the
// test ends.
func Open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, testLogger(t))
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return db
}

// OpenMigrated is Open followed by Migrate.
func OpenMigrated(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db := Open(t, dsn)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate: %v", err)
	}
	return db
}

// NewDB returns a migrated store on a new SQLite database, for tests of
// packages that use the store.
func NewDB(t testing.TB) *store.DB {
	t.Helper()
	return OpenMigrated(t, SQLiteDSN(t))
}

// testLogger sends warnings and errors to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

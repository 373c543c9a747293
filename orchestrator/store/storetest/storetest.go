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
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// OpenMigrated is Open followed by Migrate. A new SQLite file starts as a
// copy of a database migrated once per test process (see
// migratedSQLite): parsing every migration's statements for each test
// was most of the time of packages with many short tests. Migrate then
// finds nothing to do, as on any current database.
func OpenMigrated(t testing.TB, dsn string) *store.DB {
	t.Helper()
	Premigrate(t, dsn)
	db := Open(t, dsn)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate: %v", err)
	}
	return db
}

// migratedSQLite is the file of a SQLite database with every migration
// applied, made once per process.
var migratedSQLite = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "switchyard-storetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "migrated.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the file and removes it: the file alone is the database.
	if err := db.Close(); err != nil {
		return nil, err
	}
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + side); err == nil {
			return nil, fmt.Errorf("the database's %s file outlived its close", side)
		}
	}
	return os.ReadFile(path)
})

// Premigrate makes a new SQLite file at dsn (a path SQLiteDSN returned,
// not yet created) a migrated database, as OpenMigrated does, for tests
// that hand the DSN to code that migrates it (switchyard serve): their
// migration then finds nothing to do. Any other DSN is left alone.
func Premigrate(t testing.TB, dsn string) {
	t.Helper()
	if !isNewSQLiteFile(dsn) {
		return
	}
	image, err := migratedSQLite()
	if err != nil {
		t.Fatalf("storetest: migrated SQLite image: %v", err)
	}
	if err := os.WriteFile(dsn, image, 0o600); err != nil {
		t.Fatalf("storetest: %v", err)
	}
}

// isNewSQLiteFile reports whether dsn is a plain SQLite file path (as
// SQLiteDSN makes) that does not exist yet.
func isNewSQLiteFile(dsn string) bool {
	if strings.Contains(dsn, "://") || strings.HasPrefix(dsn, "file:") || strings.ContainsAny(dsn, "?:") {
		return false
	}
	_, err := os.Stat(dsn)
	return errors.Is(err, fs.ErrNotExist)
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

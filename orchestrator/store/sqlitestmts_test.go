package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"
)

// preparedOn reports how many statements the SQLite connection of db has
// prepared to keep (an in-memory database has one connection).
func preparedOn(t *testing.T, db *DB) int {
	t.Helper()
	conn, err := db.sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := -1
	if err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stmtConn)
		if !ok {
			return errors.New("the SQLite connection does not keep its statements")
		}
		n = sc.prepared()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// The statements of a transaction are prepared once on their connection
// and reused by every later one: writes are parsed once, not once a batch.
func TestStatementsArePreparedOncePerConnection(t *testing.T) {
	ctx := context.Background()
	db := migratedMemory(t)
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
	first := preparedOn(t, db)
	if first == 0 {
		t.Fatal("nothing was prepared after the first transaction")
	}
	for range 3 {
		write(time.Now())
	}
	if again := preparedOn(t, db); again != first {
		t.Fatalf("%d statements prepared after the first transaction, %d after three more: transactions do not reuse them", first, again)
	}
}

// River's queries begin with a comment ("-- name: ..."): they are kept
// like any other data statement; schema changes and pragmas are not.
func TestCacheableSkipsLeadingComments(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                    true,
		"  (SELECT 1) UNION SELECT 2": true,
		"-- name: JobGetAvailable :many\nWITH x AS (SELECT 1) SELECT * FROM x": true,
		"/* TEMPLATE: schema */ UPDATE river_job SET state = 'x'":              true,
		"-- one\n-- two\n  delete from t":                                      true,
		"-- only a comment":                                                    false,
		"/* unterminated":                                                      false,
		"PRAGMA foreign_keys = ON":                                             false,
		"CREATE TABLE t (n INTEGER)":                                           false,
		"-- name: x\nALTER TABLE t ADD c TEXT":                                 false,
	} {
		if got := cacheable(q); got != want {
			t.Errorf("cacheable(%q) = %v, want %v", q, got, want)
		}
	}
}

// A statement can run again while rows of its last run are still open (a
// transaction reading as it goes): the second run gets a statement of its
// own, and both read what they should. Kept rows keep their column types.
func TestAKeptStatementRunsAgainWhileItsRowsAreOpen(t *testing.T) {
	ctx := t.Context()
	db := migratedMemory(t)
	if _, err := db.sqlDB.ExecContext(ctx, "CREATE TABLE kept_t (n INTEGER, s TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sqlDB.ExecContext(ctx, "INSERT INTO kept_t VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT n, s FROM kept_t WHERE n >= ? ORDER BY n"
	tx, err := db.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	outer, err := tx.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var n int
		var s string
		if err := outer.Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		var inner int
		if err := tx.QueryRowContext(ctx, q, 2).Scan(&inner, &s); err != nil {
			t.Fatal(err)
		}
		if inner != 2 || s != "b" {
			t.Fatalf("inner run read %d %q, want 2 \"b\"", inner, s)
		}
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("outer run read %v, want [1 2]", got)
	}

	rows, err := tx.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ct := range types {
		names = append(names, ct.DatabaseTypeName())
	}
	if !slices.Equal(names, []string{"INTEGER", "TEXT"}) {
		t.Errorf("column types %v, want [INTEGER TEXT]", names)
	}
}

// A failing statement fails with its own error, kept or not, and leaves
// its statement usable.
func TestAKeptStatementThatFailsStaysUsable(t *testing.T) {
	ctx := t.Context()
	db := migratedMemory(t)
	if _, err := db.sqlDB.ExecContext(ctx, "CREATE TABLE kept_u (n INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const ins = "INSERT INTO kept_u (n) VALUES (?)"
	if _, err := db.sqlDB.ExecContext(ctx, ins, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sqlDB.ExecContext(ctx, ins, 1); err == nil {
		t.Fatal("a duplicate key was inserted")
	}
	if _, err := db.sqlDB.ExecContext(ctx, ins, 2); err != nil {
		t.Fatalf("after a failure: %v", err)
	}
	var n int
	if err := db.sqlDB.QueryRowContext(ctx, "SELECT count(*) FROM kept_u").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count %d, %v; want 2", n, err)
	}
	var none int
	if err := db.sqlDB.QueryRowContext(ctx, "SELECT n FROM kept_u WHERE n = ?", 9).Scan(&none); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("a missing row: %v, want sql.ErrNoRows", err)
	}
}

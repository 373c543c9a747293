package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		dsn, dialect, target string
	}{
		{"postgres://u@h/db?sslmode=disable", DialectPostgres, "postgres://u@h/db?sslmode=disable"},
		{"PostgreSQL://u@h/db", DialectPostgres, "PostgreSQL://u@h/db"},
		{"sqlite:/var/lib/switchyard.db", DialectSQLite, "/var/lib/switchyard.db"},
		{"sqlite:///var/lib/switchyard.db", DialectSQLite, "/var/lib/switchyard.db"},
		{"sqlite://rel.db", DialectSQLite, "rel.db"},
		{"sqlite::memory:", DialectSQLite, ":memory:"},
		{":memory:", DialectSQLite, ":memory:"},
		{"file:data.db?mode=rwc", DialectSQLite, "file:data.db?mode=rwc"},
		{"./switchyard.db", DialectSQLite, "./switchyard.db"},
	} {
		d, target, err := parseDSN(c.dsn)
		if err != nil || d != c.dialect || target != c.target {
			t.Errorf("parseDSN(%q) = %q, %q, %v; want %q, %q", c.dsn, d, target, err, c.dialect, c.target)
		}
	}
	for _, bad := range []string{"", "  ", "sqlite:", "sqlite:?x=1"} {
		if _, _, err := parseDSN(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseDSN(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestSQLiteDSN(t *testing.T) {
	got := sqliteDSN("/x/db.sqlite")
	for _, want := range []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "_txlock=immediate", "_timezone=UTC"} {
		if !strings.Contains(got, want) {
			t.Errorf("sqliteDSN = %q, missing %q", got, want)
		}
	}
	if !strings.HasPrefix(got, "/x/db.sqlite?") {
		t.Errorf("sqliteDSN = %q", got)
	}
	// Settings given by the user win; memory databases get no WAL.
	got = sqliteDSN("file::memory:?_pragma=busy_timeout(1)&_txlock=deferred")
	if strings.Contains(got, "busy_timeout(10000)") || strings.Contains(got, "immediate") || strings.Contains(got, "WAL") {
		t.Errorf("sqliteDSN overrode user settings: %q", got)
	}
}

// pragmas opens dsn, migrates, and reads back the connection settings.
func pragmas(t *testing.T, dsn string) (journal string, fk, busy int) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if db.Dialect() != DialectSQLite {
		t.Fatalf("dialect %s", db.Dialect())
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	g := db.Gorm().WithContext(ctx)
	if err := g.Raw("PRAGMA journal_mode").Scan(&journal).Error; err != nil {
		t.Fatal(err)
	}
	if err := g.Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil {
		t.Fatal(err)
	}
	if err := g.Raw("PRAGMA busy_timeout").Scan(&busy).Error; err != nil {
		t.Fatal(err)
	}
	return journal, fk, busy
}

func TestOpenSQLiteFile(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	journal, fk, busy := pragmas(t, dsn)
	if journal != "wal" || fk != 1 || busy != 10000 {
		t.Errorf("journal_mode %q foreign_keys %d busy_timeout %d; want wal 1 10000", journal, fk, busy)
	}
}

func TestOpenMemory(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{":memory:", "sqlite::memory:"} {
		t.Run(dsn, func(t *testing.T) {
			_, fk, _ := pragmas(t, dsn)
			if fk != 1 {
				t.Errorf("foreign_keys = %d", fk)
			}
		})
	}
	// Every Open of :memory: is its own database, and it survives use from
	// many goroutines (one connection, never recycled).
	a, err := Open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := Open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := b.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Applied {
		t.Error("second :memory: database sees the first one's migrations")
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			_, _, err := a.Accounts().CreateWithSID(ctx, "acct"+string(rune('a'+i)), "n")
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	var n int64
	if err := a.Gorm().Model(&Account{}).Count(&n).Error; err != nil || n != 8 {
		t.Errorf("accounts = %d, %v", n, err)
	}
}

func TestOpenPostgresBadURL(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://%zz", nil); err == nil {
		t.Error("Open accepted a malformed URL")
	}
}

func TestTimesStoredUTCText(t *testing.T) {
	ctx := context.Background()
	db := migratedMemory(t)
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 2, 16, 34, 10, 123456789, time.FixedZone("IST", 19800))
	c := &Call{AccountSID: "acme1", Direction: DirectionInbound, CreatedAt: at}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	// hex() so the driver cannot turn the text back into a time.Time.
	var hexed string
	if err := db.Gorm().Raw("SELECT hex(created_at) FROM calls").Scan(&hexed).Error; err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(hexed)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != "2024-05-02 11:04:10.123456+00:00" {
		t.Errorf("stored created_at %q, want UTC with microseconds", raw)
	}
}

func TestStatus(t *testing.T) {
	for _, s := range allStatuses {
		got, err := ParseStatus(" " + strings.ToUpper(string(s)) + " ")
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseStatus("lost"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseStatus(lost) error = %v", err)
	}
	terminal := map[Status]bool{Completed: true, Busy: true, NoAnswer: true, Failed: true, Canceled: true}
	for _, s := range allStatuses {
		if s.Terminal() != terminal[s] {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
		for _, p := range s.predecessors() {
			if Status(p).Terminal() {
				t.Errorf("%s can follow terminal %s", s, p)
			}
		}
	}
	if got := InProgress.predecessors(); strings.Join(got, ",") != "queued,ringing" {
		t.Errorf("in-progress predecessors = %v", got)
	}
	if len(Queued.predecessors()) != 0 {
		t.Error("something precedes queued")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := NewSID()
		if !ValidSID(s) || seen[s] {
			t.Fatalf("NewSID() = %q (valid %v, repeated %v)", s, ValidSID(s), seen[s])
		}
		seen[s] = true
	}
	for _, bad := range []string{"", "0F1E2D3C4B5A69788796A5B4C3D2E1F0", "0f1e2d3c4b5a69788796a5b4c3d2e1f", "0f1e2d3c4b5a69788796a5b4c3d2e1fg"} {
		if ValidSID(bad) {
			t.Errorf("ValidSID(%q) = true", bad)
		}
	}
	if sid := accountSIDFor("Acme Corp!"); !strings.HasPrefix(sid, "acmecorp") || !ValidAccountSID(sid) {
		t.Errorf("accountSIDFor = %q", sid)
	}
	if sid := accountSIDFor("日本"); !ValidAccountSID(sid) {
		t.Errorf("accountSIDFor(non-latin) = %q", sid)
	}
	if !tokenMatches(hashToken("secret"), "secret") || tokenMatches(hashToken("secret"), "Secret") {
		t.Error("tokenMatches")
	}
	for num, ok := range map[string]bool{"+918047000000": true, "+15550100001": true, "918047000000": false, "+0123456": false, "+1 555": false} {
		if ValidE164(num) != ok {
			t.Errorf("ValidE164(%q) = %v", num, !ok)
		}
	}
}

func TestCallCursor(t *testing.T) {
	c := callCursor{created: time.Date(2024, 5, 2, 11, 4, 10, 123456000, time.UTC), sid: NewSID()}
	got, err := parseCallCursor(c.String())
	if err != nil || !got.created.Equal(c.created) || got.sid != c.sid {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range []string{"", "!!", "bm9kb3Q", callCursor{created: c.created, sid: "short"}.String()} {
		if _, err := parseCallCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseCallCursor(%q) error = %v", bad, err)
		}
	}
}

func TestCheckMigrations(t *testing.T) {
	if err := checkMigrations(migrations); err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string][]Migration{
		"out of order": {{Version: 2, Name: "b", SQL: []string{"x"}}, {Version: 1, Name: "a", SQL: []string{"x"}}},
		"duplicate":    {{Version: 1, Name: "a", SQL: []string{"x"}}, {Version: 1, Name: "b", SQL: []string{"x"}}},
		"no name":      {{Version: 1, SQL: []string{"x"}}},
		"empty":        {{Version: 1, Name: "a"}},
	} {
		if checkMigrations(list) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		for _, m := range migrations {
			for _, s := range m.statements(d) {
				if strings.Contains(s, "{{") {
					t.Errorf("migration %d on %s: unexpanded placeholder", m.Version, d)
				}
			}
		}
	}
}

// A migration added later applies on top, and one that fails rolls back
// completely (its DDL included) and is retried next time.
func TestMigrateAppendAndFailure(t *testing.T) {
	ctx := context.Background()
	db := migratedMemory(t)
	next := migrations[len(migrations)-1].Version + 1
	failing := append(migrations[:len(migrations):len(migrations)], Migration{
		Version: next, Name: "half done",
		SQL: []string{`CREATE TABLE extra (id TEXT PRIMARY KEY)`, `THIS IS NOT SQL`},
	})
	if err := db.migrate(ctx, failing); err == nil {
		t.Fatal("failing migration reported success")
	}
	if db.Gorm().Migrator().HasTable("extra") {
		t.Error("failed migration left its table behind")
	}
	fixed := append(migrations[:len(migrations):len(migrations)], Migration{
		Version: next, Name: "extra table",
		SQL: []string{`CREATE TABLE extra (id TEXT PRIMARY KEY)`},
		Func: func(ctx context.Context, tx *gorm.DB, dialect string) error {
			return tx.Exec(`INSERT INTO extra (id) VALUES (?)`, dialect).Error
		},
	})
	if err := db.migrate(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	st, err := db.migrationStatus(ctx, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if last := st[len(st)-1]; last.Version != next || !last.Applied {
		t.Errorf("last migration %+v", last)
	}
	// The older binary sees the newer version as unknown but applied.
	st, err = db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := st[len(st)-1]; last.Version != next || !last.Unknown || !last.Applied || last.Name != "extra table" {
		t.Errorf("unknown migration reported as %+v", last)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Errorf("older binary refused a newer schema: %v", err)
	}
}

func TestGormLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	db, err := Open(ctx, ":memory:", log, WithSlowQueryThreshold(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := db.Accounts().Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "query failed") || strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("record-not-found was logged as a failure: %s", buf.String())
	}
	buf.Reset()
	_ = db.Gorm().WithContext(ctx).Exec("SELECT * FROM no_such_table").Error
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "query failed") {
		t.Errorf("failed query not logged at warn: %s", buf.String())
	}
}

func TestStorable(t *testing.T) {
	for in, want := range map[string]string{
		"ok":               "ok",
		"a\x00b":           "ab",
		"bad \xff utf8":    "bad \uFFFD utf8",
		"\x00\xff\xfe end": "\uFFFD end",
	} {
		if got := storable(in); got != want {
			t.Errorf("storable(%q) = %q, want %q", in, got, want)
		}
	}
}

// migratedMemory is a migrated in-memory SQLite database, closed with the
// test.
func migratedMemory(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

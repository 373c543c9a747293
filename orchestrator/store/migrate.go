package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// migrationLockKey is the PostgreSQL advisory lock key every migration
// transaction takes ("swyd-mig" in ASCII).
const migrationLockKey int64 = 0x737779642d6d6967

// schemaMigration is a row of schema_migrations.
type schemaMigration struct {
	Version   int       `gorm:"column:version;primaryKey;autoIncrement:false"`
	Name      string    `gorm:"column:name"`
	AppliedAt time.Time `gorm:"column:applied_at"`
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// MigrationState is one line of MigrationStatus.
type MigrationState struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero while pending
	// Unknown marks a version recorded in the database that this binary
	// does not know (the schema is newer than the code).
	Unknown bool
}

// checkMigrations verifies the list is usable: positive, strictly
// increasing versions, each with a name and something to do.
func checkMigrations(list []Migration) error {
	prev := 0
	for _, m := range list {
		if m.Version <= prev {
			return fmt.Errorf("store: migration %d (%q) is out of order after %d", m.Version, m.Name, prev)
		}
		if m.Name == "" || (len(m.SQL) == 0 && len(m.Postgres) == 0 && len(m.SQLite) == 0 && m.Func == nil) {
			return fmt.Errorf("store: migration %d has no name or no body", m.Version)
		}
		prev = m.Version
	}
	return nil
}

// Migrate brings the schema up to date: it applies every pending migration
// in version order, each in its own transaction together with its
// schema_migrations row. Running it again does nothing. Several processes
// may run it at once: on PostgreSQL each transaction first takes an
// advisory lock and re-checks whether its migration is still pending; on
// SQLite the immediate transactions serialise the same way.
func (db *DB) Migrate(ctx context.Context) error {
	return db.migrate(ctx, migrations)
}

func (db *DB) migrate(ctx context.Context, list []Migration) error {
	if err := checkMigrations(list); err != nil {
		return err
	}
	if err := db.tx(ctx, func(tx *gorm.DB) error {
		if err := db.lockMigrations(tx); err != nil {
			return err
		}
		return tx.Exec(Migration{SQL: []string{`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at {{timestamp}} NOT NULL
		)`}}.statements(db.dialect)[0]).Error
	}); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}

	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range list {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		did, err := db.applyMigration(ctx, m)
		if err != nil {
			return err
		}
		if did {
			db.log.InfoContext(ctx, "store: applied migration", "version", m.Version, "name", m.Name, "dialect", db.dialect)
		}
	}
	known := make(map[int]bool, len(list))
	for _, m := range list {
		known[m.Version] = true
	}
	for v, row := range applied {
		if !known[v] {
			db.log.WarnContext(ctx, "store: database has a migration this binary does not know", "version", v, "name", row.Name)
		}
	}
	if db.readers != nil {
		pool, err := db.readers.DB()
		if err == nil {
			err = warmReaders(ctx, pool)
		}
		if err != nil {
			return fmt.Errorf("store: sqlite readers after migrating: %w", err)
		}
	}
	return nil
}

// applyMigration runs m unless another process applied it first, and
// reports whether it ran.
func (db *DB) applyMigration(ctx context.Context, m Migration) (bool, error) {
	did := false
	err := db.tx(ctx, func(tx *gorm.DB) error {
		if err := db.lockMigrations(tx); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&schemaMigration{}).Where("version = ?", m.Version).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, stmt := range m.statements(db.dialect) {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		if m.Func != nil {
			if err := m.Func(ctx, tx, db.dialect); err != nil {
				return err
			}
		}
		did = true
		return tx.Create(&schemaMigration{Version: m.Version, Name: m.Name, AppliedAt: now()}).Error
	})
	if err != nil {
		return false, fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
	}
	return did, nil
}

// lockMigrations serialises migration transactions across processes on
// PostgreSQL; the lock is released at commit or rollback.
func (db *DB) lockMigrations(tx *gorm.DB) error {
	if db.dialect != DialectPostgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockKey).Error
}

func (db *DB) appliedMigrations(ctx context.Context) (map[int]schemaMigration, error) {
	var rows []schemaMigration
	if err := db.conn(ctx).Order("version").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	out := make(map[int]schemaMigration, len(rows))
	for _, r := range rows {
		out[r.Version] = r
	}
	return out, nil
}

// MigrationStatus lists every migration this binary knows, applied or
// pending, plus any applied version it does not know, ordered by version.
// It changes nothing; on an empty database everything is pending.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	return db.migrationStatus(ctx, migrations)
}

func (db *DB) migrationStatus(ctx context.Context, list []Migration) ([]MigrationState, error) {
	exists, err := db.hasMigrationsTable(ctx)
	if err != nil {
		return nil, err
	}
	applied := map[int]schemaMigration{}
	if exists {
		if applied, err = db.appliedMigrations(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]MigrationState, 0, len(list))
	seen := map[int]bool{}
	for _, m := range list {
		st := MigrationState{Version: m.Version, Name: m.Name}
		if row, ok := applied[m.Version]; ok {
			st.Applied, st.AppliedAt = true, row.AppliedAt
		}
		seen[m.Version] = true
		out = append(out, st)
	}
	for v, row := range applied {
		if !seen[v] {
			out = append(out, MigrationState{Version: v, Name: row.Name, Applied: true, AppliedAt: row.AppliedAt, Unknown: true})
		}
	}
	slices.SortFunc(out, func(a, b MigrationState) int { return a.Version - b.Version })
	return out, nil
}

// hasMigrationsTable reports whether schema_migrations exists (in the
// current schema on PostgreSQL).
func (db *DB) hasMigrationsTable(ctx context.Context) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.dialect == DialectPostgres {
		q = `SELECT COUNT(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	var n int64
	if err := db.conn(ctx).Raw(q).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("store: look for schema_migrations: %w", err)
	}
	return n > 0, nil
}

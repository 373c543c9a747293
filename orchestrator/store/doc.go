// Package store owns Switchyard's persistent state: accounts and their API
// keys, ExoPhones (the numbers customers call), flows with their drafts and
// immutable published versions, and the call records (one row per call, one
// row per leg, plus recordings).
//
// # Databases
//
// The same code runs on SQLite (the embedded default, through the pure-Go
// github.com/libtnb/sqlite GORM driver) and on PostgreSQL (gorm.io/driver/postgres
// over pgx). [Open] picks the dialect from the DSN. SQLite is opened with a
// single read-write connection, WAL journaling, a busy timeout, foreign keys
// on and immediate transactions, so a second process sharing the file waits
// instead of failing; a file also gets a few read-only connections for the
// reads on a call's path, which WAL lets run beside the writer. The writes
// of live calls, and those reads, are plain prepared SQL (raw.go): GORM's
// builder cost more than the statements. All timestamps are stored and returned in UTC, truncated to
// microseconds so both dialects round-trip them identically.
//
// # Schema
//
// The schema is created by versioned migrations, never by AutoMigrate.
// [DB.Migrate] applies the pending ones, each in its own transaction, and
// records them in schema_migrations. On PostgreSQL every migration
// transaction holds a transaction-scoped advisory lock, so several instances
// starting at once apply each migration exactly once. [DB.MigrationStatus]
// reports what is applied and what is pending.
//
// # Repositories
//
// Access goes through small repositories obtained from a [DB]: [Accounts],
// [Numbers], [Flows], [Calls], [Legs] and [Recordings]. Every method that
// reads or changes tenant data takes the account SID and filters on it, so a
// caller holding one account's SID can never see or change another
// account's rows: a foreign row is reported as [ErrNotFound]. The exceptions
// are deliberate and documented on the method: [Numbers.Route] (the dialed
// number identifies the account) and the runtime writes of [Calls] and
// [Legs], keyed by call SID or FreeSWITCH UUID because the call goroutine
// that owns the call is their only writer.
//
// # Statuses
//
// Call and leg statuses are Exotel's ([Status]). Status updates only move
// forward (queued, ringing, in-progress, then a terminal status), so a late
// or reordered event can never overwrite a terminal status. The final
// record is written by Finish, which is authoritative and idempotent: the
// first Finish for a call or leg wins, later ones change nothing.
//
// # Errors
//
// Methods return the sentinel errors of this package ([ErrNotFound],
// [ErrConflict], [ErrInvalid], [ErrFlowAssigned], [ErrNotPublished],
// [ErrNoFlow], [ErrUnauthorized]) wrapped with context; test them with
// errors.Is. GORM's record-not-found error is never returned.
//
// The package stores flow documents as opaque text: validating them is the
// caller's job (package flows).
package store

package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// stmtCache is GORM's connection pool on SQLite: each statement is parsed
// once, prepared on the database, and reused inside transactions too.
//
// GORM's own PrepareStmt prepares a statement first met inside a
// transaction on that transaction, and caches it there; database/sql never
// reuses a statement bound to a transaction (Tx.StmtContext prepares it
// again), so every write of the queue's transactions was parsed afresh:
// 12 % of serve's CPU under load. Here a statement first met inside a
// transaction runs unprepared there, and is prepared on the database once
// the transaction has ended and given the connection back (SQLite has
// one); from then on transactions run it through Tx.StmtContext, which
// reuses the statement prepared on their connection.
//
// PostgreSQL does not need it: pgx keeps its own per-connection cache of
// prepared statements.
type stmtCache struct {
	db  *sql.DB
	max int

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// prepares counts the statements prepared on the database.
	prepares int
}

// stmtCacheSize bounds the statements kept: the call path uses a few
// dozen; statements whose text varies (IN lists) fill the rest, and past
// the bound new ones run unprepared.
const stmtCacheSize = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, max: stmtCacheSize, stmts: map[string]*sql.Stmt{}}
}

// cacheable reports whether a statement is worth keeping: data statements,
// not schema changes or pragmas.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.EqualFold(q[:5], "WITH ")
}

func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

// prepared returns the statement prepared on the database, preparing it
// now if needed; nil when it is not kept (then the caller runs the query
// unprepared, so a statement that does not prepare fails where it runs,
// with its own error).
func (c *stmtCache) prepared(ctx context.Context, query string) *sql.Stmt {
	if !cacheable(query) {
		return nil
	}
	if s := c.get(query); s != nil {
		return s
	}
	c.mu.Lock()
	full := len(c.stmts) >= c.max
	c.mu.Unlock()
	if full {
		return nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.stmts[query]; old != nil {
		_ = s.Close() // prepared meanwhile by another caller
		return old
	}
	c.stmts[query] = s
	c.prepares++
	return s
}

// close closes the statements kept.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.db.PrepareContext(ctx, query)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := c.prepared(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := c.prepared(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := c.prepared(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// BeginTx starts a transaction that uses the statements kept.
func (c *stmtCache) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &stmtCacheTx{c: c, tx: tx}, nil
}

// GetDBConn gives GORM the database (gorm.DB.DB).
func (c *stmtCache) GetDBConn() (*sql.DB, error) { return c.db, nil }

// stmtCacheTx is a transaction on a stmtCache.
type stmtCacheTx struct {
	c  *stmtCache
	tx *sql.Tx
	// missed are statements this transaction ran unprepared: they are
	// prepared on the database once it ends.
	missed []string
}

// stmt returns the kept statement bound to the transaction, or nil.
func (t *stmtCacheTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if !cacheable(query) {
		return nil
	}
	if s := t.c.get(query); s != nil {
		return t.tx.StmtContext(ctx, s)
	}
	t.missed = append(t.missed, query)
	return nil
}

func (t *stmtCacheTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *stmtCacheTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *stmtCacheTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *stmtCacheTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// StmtContext binds a statement to the transaction (gorm.Tx).
func (t *stmtCacheTx) StmtContext(ctx context.Context, stmt *sql.Stmt) *sql.Stmt {
	return t.tx.StmtContext(ctx, stmt)
}

func (t *stmtCacheTx) Commit() error {
	err := t.tx.Commit()
	t.warm()
	return err
}

func (t *stmtCacheTx) Rollback() error {
	err := t.tx.Rollback()
	t.warm()
	return err
}

// warm prepares on the database what the transaction ran unprepared, now
// that it has given its connection back.
func (t *stmtCacheTx) warm() {
	missed := t.missed
	t.missed = nil
	for _, q := range missed {
		t.c.prepared(context.Background(), q)
	}
}

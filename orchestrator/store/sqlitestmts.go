package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync"

	moderncsqlite "modernc.org/sqlite"
)

// sqliteDriverName is the SQLite driver the store opens: modernc's, with
// each connection keeping the statements it has prepared.
//
// Queries that go straight to database/sql rather than through GORM (River
// and its SQLite driver above all: its fetch, its insert and, per job, its
// completion) were parsed and planned afresh on every run; at 100
// Calls/connect a second that parsing was 8 % of serve's CPU. A connection
// now prepares a data statement (SELECT, INSERT, UPDATE, DELETE, WITH) the
// first time it meets its text and reuses it, reset between runs, until the
// connection closes. SQLite re-prepares a kept statement by itself when the
// schema changes under it. This replaces a cache of database/sql
// statements under GORM, which served GORM alone: GORM's own PrepareStmt
// cannot reuse a statement inside a transaction (database/sql prepares a
// statement bound to one afresh), and every store write is in one.
const sqliteDriverName = "sqlite-switchyard"

// maxConnStmts bounds the statements a connection keeps: the store and
// River run a few dozen; texts that vary (IN lists) fill the rest, and past
// the bound new texts run unprepared.
const maxConnStmts = 512

func init() {
	sql.Register(sqliteDriverName, stmtDriver{base: &moderncsqlite.Driver{}})
}

// stmtDriver opens connections that keep their prepared statements.
type stmtDriver struct{ base driver.Driver }

func (d stmtDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return newStmtConn(c)
}

// sqliteConn is what modernc's connection offers database/sql.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtConn is a connection with its kept statements. database/sql uses a
// connection from one goroutine at a time, but a transaction's rows may be
// closed from another, hence the lock.
type stmtConn struct {
	sqliteConn

	mu    sync.Mutex
	stmts map[string]*keptStmt
	// prepares counts the statements prepared to be kept (tests).
	prepares int
}

// keptStmt is a statement a connection keeps; busy while rows read from it
// are open (another run of the same text meanwhile is not kept).
type keptStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

var errNotSQLiteConn = errors.New("store: the SQLite driver's connection lacks an interface the statement cache needs")

func newStmtConn(c driver.Conn) (driver.Conn, error) {
	sc, ok := c.(sqliteConn)
	if !ok {
		_ = c.Close()
		return nil, errNotSQLiteConn
	}
	return &stmtConn{sqliteConn: sc, stmts: map[string]*keptStmt{}}, nil
}

// take returns the kept statement for query, preparing it if needed, and
// marks it busy; nil when the query is not to be kept or its statement is
// in use (the caller then runs it unprepared).
func (c *stmtConn) take(ctx context.Context, query string) *keptStmt {
	c.mu.Lock()
	k := c.stmts[query]
	if k != nil {
		defer c.mu.Unlock()
		if k.busy {
			return nil
		}
		k.busy = true
		return k
	}
	full := len(c.stmts) >= maxConnStmts
	c.mu.Unlock()
	if full || !cacheable(query) {
		return nil
	}
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil // run unprepared: the query fails there with its own error
	}
	st, ok := s.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = s.Close()
		return nil
	}
	k = &keptStmt{stmt: st, busy: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts[query] != nil {
		_ = st.Close() // kept meanwhile: this run goes unprepared
		return nil
	}
	c.stmts[query] = k
	c.prepares++
	return k
}

// cacheable reports whether a statement is worth keeping: data statements,
// not schema changes or pragmas. Leading comments are skipped: River's
// queries (sqlc's) begin with "-- name: ...".
func cacheable(query string) bool {
	q := skipComments(query)
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.EqualFold(q[:5], "WITH ")
}

// skipComments returns query past its leading blanks, opening
// parentheses and comments (-- to the end of the line, /* to */).
func skipComments(query string) string {
	for {
		q := strings.TrimLeft(query, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "--"):
			_, rest, found := strings.Cut(q, "\n")
			if !found {
				return ""
			}
			query = rest
		case strings.HasPrefix(q, "/*"):
			_, rest, found := strings.Cut(q[2:], "*/")
			if !found {
				return ""
			}
			query = rest
		default:
			return q
		}
	}
}

func (c *stmtConn) release(k *keptStmt) {
	c.mu.Lock()
	k.busy = false
	c.mu.Unlock()
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	k := c.take(ctx, query)
	if k == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	defer c.release(k)
	return k.stmt.ExecContext(ctx, args)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	k := c.take(ctx, query)
	if k == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := k.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(k)
		return nil, err
	}
	return &keptRows{Rows: rows, conn: c, kept: k}, nil
}

// Close closes the kept statements, then the connection.
func (c *stmtConn) Close() error {
	c.mu.Lock()
	stmts := c.stmts
	c.stmts = map[string]*keptStmt{}
	c.mu.Unlock()
	var errs []error
	for _, k := range stmts {
		errs = append(errs, k.stmt.Close())
	}
	errs = append(errs, c.sqliteConn.Close())
	return errors.Join(errs...)
}

// prepared reports how many statements the connection has prepared to
// keep (tests).
func (c *stmtConn) prepared() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prepares
}

// keptRows are rows of a kept statement, which they give back on Close
// (the statement is reset there, ready for its next run). They pass on the
// column types the driver's rows give (GORM reads them).
type keptRows struct {
	driver.Rows
	conn *stmtConn
	kept *keptStmt // nil once given back
}

// Close closes the rows and gives their statement back. database/sql
// closes a driver's rows once, holding their connection.
func (r *keptRows) Close() error {
	err := r.Rows.Close()
	if r.kept != nil {
		r.conn.release(r.kept)
		r.kept = nil
	}
	return err
}

func (r *keptRows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *keptRows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *keptRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if c, is := r.Rows.(driver.RowsColumnTypeNullable); is {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *keptRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if c, is := r.Rows.(driver.RowsColumnTypePrecisionScale); is {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// ColumnTypeScanType falls back to what database/sql assumes of rows
// that do not say.
func (r *keptRows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// The interfaces database/sql looks for must stay visible through the
// wrappers.
var (
	_ sqliteConn                            = (*stmtConn)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*keptRows)(nil)
	_ driver.RowsColumnTypeLength           = (*keptRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*keptRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*keptRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*keptRows)(nil)
)

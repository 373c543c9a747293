package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// The writes of live calls (legs created, statuses moved, final records)
// run as plain SQL on the connection or transaction the DB is bound to,
// not through GORM's builder: it spends more CPU reflecting on the model
// and converting a map of assignments than SQLite spends running the
// statement. The queries keep GORM's logging and error translation.

// exec runs one statement written with ? placeholders and returns the
// rows it changed.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	query = db.bind(query)
	start := time.Now()
	res, err := db.gdb.Statement.ConnPool.ExecContext(ctx, query, args...)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	err = db.translate(err)
	db.trace(ctx, start, query, n, err)
	return n, err
}

// queryRow runs one statement that returns a row and scans it into dest.
func (db *DB) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	query = db.bind(query)
	start := time.Now()
	err := db.gdb.Statement.ConnPool.QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		err = gorm.ErrRecordNotFound
	}
	err = db.translate(err)
	db.trace(ctx, start, query, 1, err)
	return err
}

// query runs one read on a call's path (see DB.read) and hands each row to
// fn, which scans it with the scan it is given.
func (db *DB) query(ctx context.Context, query string, args []any, fn func(scan func(...any) error) error) error {
	query = db.bind(query)
	start := time.Now()
	var n int64
	pool := db.gdb.Statement.ConnPool
	if db.readers != nil {
		pool = db.readers.Statement.ConnPool
	}
	err := func() error {
		rows, err := pool.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n++
			if err := fn(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}()
	err = db.translate(err)
	db.trace(ctx, start, query, n, err)
	return err
}

// placeholders is "?, ?, …", n of them.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// exists reports whether a row matches where (written with ?).
func (db *DB) exists(ctx context.Context, table, where string, args ...any) (bool, error) {
	var one int
	err := db.queryRow(ctx, "SELECT 1 FROM "+table+" WHERE "+where+" LIMIT 1", args, &one)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (db *DB) translate(err error) error {
	if err == nil {
		return nil
	}
	if t, ok := db.gdb.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}

func (db *DB) trace(ctx context.Context, start time.Time, query string, rows int64, err error) {
	db.gdb.Logger.Trace(ctx, start, func() (string, int64) { return query, rows }, err)
}

// bind rewrites ? placeholders for the dialect: PostgreSQL numbers them.
// The queries are few and constant, so each is rewritten once.
func (db *DB) bind(query string) string {
	if db.dialect != DialectPostgres {
		return query
	}
	if q, ok := pgQueries.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	q := b.String()
	pgQueries.Store(query, q)
	return q
}

var pgQueries sync.Map // query with ? → query with $n

// setList builds "a = ?, b = ?" assignments and their arguments, in the
// order they are added.
type setList struct {
	sql  strings.Builder
	args []any
}

func (s *setList) add(column string, value any) {
	s.raw(column+" = ?", value)
}

// raw adds an assignment written by hand, with its arguments.
func (s *setList) raw(assignment string, args ...any) {
	if s.sql.Len() > 0 {
		s.sql.WriteString(", ")
	}
	s.sql.WriteString(assignment)
	s.args = append(s.args, args...)
}

// statusMoves holds, per target status, the SQL list of the statuses a
// row may be in for the move to apply.
var statusMoves = func() map[Status]string {
	m := map[Status]string{}
	for _, s := range allStatuses {
		var quoted []string
		for _, p := range s.predecessors() {
			quoted = append(quoted, "'"+p+"'")
		}
		m[s] = strings.Join(quoted, ", ")
	}
	return m
}()

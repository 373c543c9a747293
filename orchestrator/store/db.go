package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Dialects reported by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DB is an open database. It is safe for concurrent use. Repositories are
// cheap values; get them from the DB each time or keep them.
type DB struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB       // nil for the DB handed to an InTx callback
	pgPool  *pgxpool.Pool // PostgreSQL only; nil on SQLite and in InTx
	dialect string
	log     *slog.Logger
	inTx    bool // bound to a transaction (the DB handed to InTx)
	// readers are read-only connections to a SQLite file, for the reads
	// on a call's path: in WAL mode they never wait for the writer, which
	// the one read-write connection would make them do. nil on PostgreSQL
	// (its pool is shared), for an in-memory database, and in InTx.
	readers *gorm.DB
}

// Option tunes Open.
type Option func(*options)

type options struct {
	slowQuery    time.Duration
	maxOpenConns int
}

// WithSlowQueryThreshold sets the duration above which a query is logged at
// warn level (default 200ms; 0 disables).
func WithSlowQueryThreshold(d time.Duration) Option {
	return func(o *options) { o.slowQuery = d }
}

// WithMaxOpenConns caps the connections GORM (the repositories) may use on
// PostgreSQL (default 16). The pgx pool beneath has pgxPoolReserve more, so
// users of PgxPool (the job queue) are never starved by the repositories.
// SQLite always uses a single connection.
func WithMaxOpenConns(n int) Option {
	return func(o *options) { o.maxOpenConns = n }
}

// Open connects to the database named by dsn:
//
//   - postgres://… or postgresql://… opens PostgreSQL (any pgx URL
//     parameter works, e.g. search_path, sslmode);
//   - sqlite:PATH, file:URI or a bare path opens SQLite; ":memory:" (or
//     "sqlite::memory:") is a private in-memory database that lives as long
//     as the DB.
//
// Open does not migrate; call Migrate. A nil logger discards logs.
func Open(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{slowQuery: 200 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	o.maxOpenConns = cmp.Or(o.maxOpenConns, 16) // also when an option set 0
	dialect, target, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}

	var (
		dialector gorm.Dialector
		pgPool    *pgxpool.Pool
	)
	switch dialect {
	case DialectPostgres:
		pgPool, err = openPostgres(ctx, target, o.maxOpenConns)
		if err != nil {
			return nil, err
		}
		dialector = postgres.New(postgres.Config{Conn: stdlib.OpenDBFromPool(pgPool)})
	default:
		dialector = sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: sqliteDSN(target)})
	}

	gdb, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 newGormLogger(logger, o.slowQuery),
		NowFunc:                now,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		// Statements are parsed once and reused: on the call path the
		// same dozen run for every call. On SQLite each connection keeps
		// its statements (sqliteDriverName; GORM's PrepareStmt cannot
		// reuse a statement inside a transaction, and River's queries do
		// not go through GORM); pgx caches prepared statements per
		// connection.
	})
	if err != nil {
		if pgPool != nil {
			pgPool.Close()
		}
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		if pgPool != nil {
			pgPool.Close()
		}
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	if dialect == DialectSQLite {
		// One connection: SQLite has one writer anyway, and an in-memory
		// database exists only inside its connection, which must never be
		// closed and reopened.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		// Idle connections stay in the pgx pool (OpenDBFromPool keeps
		// none in database/sql), which also retires them after
		// MaxConnIdleTime.
		sqlDB.SetMaxOpenConns(o.maxOpenConns)
	}
	db := &DB{gdb: gdb, sqlDB: sqlDB, pgPool: pgPool, dialect: dialect, log: logger}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", dialect, err)
	}
	if dialect == DialectSQLite && !sqliteMemory(target) {
		if db.readers, err = openReaders(ctx, target, gdb.Config); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	logger.DebugContext(ctx, "store: opened database", "dialect", dialect)
	return db, nil
}

// sqliteReaders is how many read-only connections a SQLite file gets.
const sqliteReaders = 4

// openReaders opens the read-only connections to a SQLite file, with the
// settings of the read-write one.
func openReaders(ctx context.Context, target string, cfg *gorm.Config) (*gorm.DB, error) {
	r, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: sqliteDSN(target) + "&_pragma=query_only(1)"}), &gorm.Config{
		Logger: cfg.Logger, NowFunc: cfg.NowFunc, TranslateError: cfg.TranslateError,
		SkipDefaultTransaction: true, DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite readers: %w", err)
	}
	sqlDB, err := r.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite readers: %w", err)
	}
	sqlDB.SetMaxOpenConns(sqliteReaders)
	sqlDB.SetMaxIdleConns(sqliteReaders)
	if err := warmReaders(ctx, sqlDB); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: connect sqlite readers: %w", err)
	}
	return r, nil
}

// warmReaders opens every read-only connection and has each read the
// schema, so no call's read pays for either (tens of milliseconds under
// load): at Open, and again after migrations change the schema.
func warmReaders(ctx context.Context, pool *sql.DB) error {
	conns := make([]*sql.Conn, 0, sqliteReaders)
	defer func() {
		for _, c := range conns {
			_ = c.Close() // back to the idle pool
		}
	}()
	for range sqliteReaders {
		c, err := pool.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		var n int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			return err
		}
	}
	return nil
}

// pgxPoolReserve is how many connections of the pgx pool are left beyond
// GORM's cap for other users of PgxPool.
const pgxPoolReserve = 4

// now is the clock for every timestamp the store writes itself.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// parseDSN splits dsn into a dialect and what the driver gets.
func parseDSN(dsn string) (dialect, target string, err error) {
	dsn = strings.TrimSpace(dsn)
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return "", "", fmt.Errorf("store: empty DSN: %w", ErrInvalid)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return DialectPostgres, dsn, nil
	case strings.HasPrefix(lower, "sqlite://"):
		target = dsn[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		target = dsn[len("sqlite:"):]
	default:
		target = dsn
	}
	if target == "" || strings.HasPrefix(target, "?") {
		return "", "", fmt.Errorf("store: DSN %q names no SQLite database: %w", dsn, ErrInvalid)
	}
	return DialectSQLite, target, nil
}

// sqliteDSN appends the connection settings Switchyard relies on to a
// SQLite path or file: URI, unless the DSN already sets them.
func sqliteDSN(target string) string {
	path, query, _ := strings.Cut(target, "?")
	params := []string{}
	if query != "" {
		params = append(params, query)
	}
	has := func(s string) bool { return strings.Contains(strings.ToLower(query), s) }
	memory := sqliteMemory(target)
	if !has("busy_timeout") {
		params = append(params, "_pragma=busy_timeout(10000)")
	}
	if !has("foreign_keys") {
		params = append(params, "_pragma=foreign_keys(1)")
	}
	if !memory && !has("journal_mode") {
		params = append(params, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)")
	}
	if !has("_txlock") {
		// Take the write lock at BEGIN: read-then-write transactions
		// (publish, migrate) then wait on busy_timeout instead of failing
		// to upgrade their lock.
		params = append(params, "_txlock=immediate")
	}
	params = append(params, "_timezone=UTC", "_time_format=sqlite")
	return path + "?" + strings.Join(params, "&")
}

// sqliteMemory reports whether a SQLite target is an in-memory database.
func sqliteMemory(target string) bool {
	path, query, _ := strings.Cut(target, "?")
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(strings.ToLower(query), "mode=memory")
}

// openPostgres builds the pgx pool that GORM (through database/sql) and
// PgxPool users share: maxConns for GORM plus pgxPoolReserve. timestamptz
// values are scanned in UTC whatever the server or process time zone. The
// pool connects lazily; Open pings it.
func openPostgres(ctx context.Context, dsn string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: parse postgres DSN: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["timezone"]; !ok {
		cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	}
	cfg.MaxConns = int32(maxConns + pgxPoolReserve)
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres pool: %w", err)
	}
	return pool, nil
}

// Gorm returns the underlying GORM handle, for packages that own tables
// of their own. Prefer the repositories.
func (db *DB) Gorm() *gorm.DB { return db.gdb }

// SQL returns the database/sql handle GORM uses: on SQLite the single
// connection every user of the database must share, on PostgreSQL a view
// of PgxPool. It is nil on a DB passed to an InTx callback. Do not close
// it; Close does.
func (db *DB) SQL() *sql.DB { return db.sqlDB }

// PgxPool returns the pgx pool beneath a PostgreSQL database, for code
// that needs pgx itself (the job queue). It is nil on SQLite and on a DB
// passed to an InTx callback. Do not close it; Close does.
func (db *DB) PgxPool() *pgxpool.Pool { return db.pgPool }

// Dialect returns DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers, for health checks. On a DB
// passed to an InTx callback it runs a trivial query in the transaction.
func (db *DB) Ping(ctx context.Context) error {
	if db.sqlDB != nil {
		if err := db.sqlDB.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s: %w", db.dialect, err)
		}
		return nil
	}
	var one int
	if err := db.conn(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return fmt.Errorf("store: ping %s: %w", db.dialect, err)
	}
	return nil
}

// Close closes the connection pool. On a DB passed to an InTx callback it
// does nothing.
func (db *DB) Close() error {
	if db.sqlDB == nil {
		return nil
	}
	if db.readers != nil {
		if r, err := db.readers.DB(); err == nil {
			_ = r.Close()
		}
	}
	err := db.sqlDB.Close()
	if db.pgPool != nil {
		// After database/sql has returned its connections; Close waits
		// for connections still acquired by other users.
		db.pgPool.Close()
	}
	return err
}

// InTx runs fn in one transaction: fn gets a DB bound to the transaction,
// whose repositories all read and write inside it. The transaction commits
// if fn returns nil and rolls back otherwise (or if fn panics).
//
// On SQLite there is a single connection: inside fn, use only the DB fn
// was given, never the outer one, or the call blocks forever.
func (db *DB) InTx(ctx context.Context, fn func(tx *DB) error) error {
	return db.gdb.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		return fn(&DB{gdb: gtx, dialect: db.dialect, log: db.log, inTx: true})
	})
}

// atomic runs fn in a transaction, or, when db is one already, inside it:
// the outer transaction makes fn atomic, and no caller goes on after a
// failed write, so a savepoint would only cost two more statements.
func (db *DB) atomic(ctx context.Context, fn func(tx *DB) error) error {
	if db.inTx {
		return fn(db)
	}
	return db.InTx(ctx, fn)
}

// conn returns a GORM session bound to ctx.
func (db *DB) conn(ctx context.Context) *gorm.DB {
	return db.gdb.WithContext(ctx)
}

// read returns a session for a read on a call's path or an API request's:
// on the read-only connections when there are, else as conn. It sees every
// committed write, and never waits for the writer (its batches, or another
// process holding the write lock).
func (db *DB) read(ctx context.Context) *gorm.DB {
	if db.readers != nil {
		return db.readers.WithContext(ctx)
	}
	return db.conn(ctx)
}

// tx runs fn in a transaction, or inside db's when it is one (see atomic).
func (db *DB) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if db.inTx {
		return fn(db.gdb.WithContext(ctx))
	}
	return db.gdb.WithContext(ctx).Transaction(fn)
}

// Accounts returns the accounts and API keys repository.
func (db *DB) Accounts() *Accounts { return &Accounts{db: db} }

// Numbers returns the ExoPhones repository.
func (db *DB) Numbers() *Numbers { return &Numbers{db: db} }

// Flows returns the flows repository.
func (db *DB) Flows() *Flows { return &Flows{db: db} }

// Calls returns the calls repository.
func (db *DB) Calls() *Calls { return &Calls{db: db} }

// Legs returns the call legs repository.
func (db *DB) Legs() *Legs { return &Legs{db: db} }

// Recordings returns the recordings repository.
func (db *DB) Recordings() *Recordings { return &Recordings{db: db} }

// errNoRows reports whether a row-returning query found nothing.
func errNoRows(err error) bool {
	return errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows)
}

// notFoundUnlessExists is for conditional updates that touched no row: it
// returns ErrNotFound (wrapped in op) if no row of table matches where
// (written with ?), nil if one does (the update was a deliberate no-op).
func notFoundUnlessExists(ctx context.Context, db *DB, op, table, where string, args ...any) error {
	ok, err := db.exists(ctx, table, where, args...)
	switch {
	case err != nil:
		return dbErr(op, err)
	case !ok:
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

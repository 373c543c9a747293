package callback

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Defaults of Config.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultMaxAttempts  = 8
	DefaultPollInterval = time.Second
	DefaultWorkers      = 10
	DefaultRescueAfter  = 2 * time.Minute
	DefaultUserAgent    = "Switchyard-StatusCallback/1"
)

// queueName is the River queue the deliveries run on.
const queueName = "status_callbacks"

// jobMargin is how much longer than the HTTP timeout a delivery job may
// run: loading the callback and recording the attempt.
const jobMargin = 30 * time.Second

// hardStopTimeout bounds the hard stop Stop falls back to when its context
// ends before the in-flight deliveries do.
const hardStopTimeout = 10 * time.Second

// Config tunes a Service. Zero fields take the defaults.
type Config struct {
	// HTTPClient sends the callbacks; it is used as given. The default
	// (webhttp.Client with the default egress policy) follows no
	// redirects (a 3xx is a failed attempt), connects only to public
	// addresses and has no timeout of its own.
	HTTPClient *http.Client
	// Timeout bounds one attempt, from connecting to reading the status
	// (default 15 s, what Exotel gives a receiver).
	Timeout time.Duration
	// MaxAttempts is how many attempts a callback gets before it is marked
	// failed (default 8: Exotel retries twice, but a receiver that is down
	// for a few minutes should not lose a call's outcome; the default
	// backoff spreads 8 attempts over about 20 minutes). It is fixed on
	// each callback's job when the job is queued.
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1-based) before the next
	// one (default DefaultBackoff).
	Backoff func(attempt int) time.Duration
	// PollInterval is how often the relay looks for callbacks no Notify
	// announced (left by a crash) and the queue looks for due jobs without
	// a notification (default 1 s).
	PollInterval time.Duration
	// Workers is how many callbacks are delivered at once (default 10).
	// At most half of them go to destinations not known to answer
	// promptly (see the package doc, Fairness).
	Workers int
	// HostConcurrency is how many attempts may be in flight to one
	// destination, the host:port of the URL (default 4). A destination
	// gets half as many after each timeout in a row, down to one, until
	// it answers again.
	HostConcurrency int
	// AccountConcurrency is how many attempts of one account may be in
	// flight (default the larger of HostConcurrency and Workers/4).
	AccountConcurrency int
	// RescueAfter is how long a delivery may stay running before it is
	// taken for dead (its process killed) and retried (default 2 min, or
	// Timeout + 90 s if longer). It must exceed Timeout by more than 30 s.
	RescueAfter time.Duration
	// ClientID names this process to the queue (default: random). Give
	// it the instance's ID, so that Rescue can tell the deliveries a dead
	// instance left running.
	ClientID string
	// UserAgent is sent with every callback (default DefaultUserAgent).
	UserAgent string
	// Metrics records every delivery attempt and, every PendingEvery,
	// the backlog (nil: nothing is recorded or counted).
	Metrics *metrics.Set
}

// PendingEvery is how often, at most, the relay counts the callbacks not
// yet delivered or failed for Config.Metrics.
const PendingEvery = 5 * time.Second

// DefaultBackoff waits 10 s · 2^(n−1) after attempt n, at most an hour,
// give or take 10 %.
func DefaultBackoff(attempt int) time.Duration { return ExpBackoff(10 * time.Second)(attempt) }

// ExpBackoff waits first · 2^(n−1) after attempt n, at most an hour, give
// or take 10 % so receivers coming back are not hit all at once.
func ExpBackoff(first time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := min(first, time.Hour)
		for i := 1; i < attempt && d < time.Hour; i++ {
			d *= 2
		}
		d = min(d, time.Hour)
		return d + time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	}
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = webhttp.Client(webhttp.Policy{}, 0)
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	c.PollInterval = cmp.Or(c.PollInterval, DefaultPollInterval)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	// A delivery is taken for dead only well after it must have ended.
	c.RescueAfter = cmp.Or(c.RescueAfter, max(DefaultRescueAfter, c.Timeout+jobMargin+time.Minute))
	c.UserAgent = cmp.Or(c.UserAgent, DefaultUserAgent)
	c.HostConcurrency = cmp.Or(c.HostConcurrency, DefaultHostConcurrency)
	c.AccountConcurrency = cmp.Or(c.AccountConcurrency, max(c.HostConcurrency, c.Workers/4))
	return c
}

func (c Config) validate() error {
	switch {
	case c.Timeout < 0, c.MaxAttempts < 0, c.PollInterval < 0, c.Workers < 0, c.RescueAfter < 0,
		c.HostConcurrency < 0, c.AccountConcurrency < 0:
		return errors.New("negative setting")
	case c.RescueAfter <= c.Timeout+jobMargin:
		return fmt.Errorf("RescueAfter %s must exceed Timeout %s by more than %s", c.RescueAfter, c.Timeout, jobMargin)
	}
	return nil
}

// queue is what the Service needs of a River client, whatever its driver
// (the client type depends on the driver's transaction type).
type queue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Service relays the outbox to the queue and delivers the callbacks. Start
// it once, Stop it before closing the database.
type Service struct {
	db      *store.DB
	cfg     Config
	log     *slog.Logger
	queue   queue
	migrate func(ctx context.Context) error

	wake chan struct{} // Notify → relay; buffered 1, so wake-ups coalesce

	mu          sync.Mutex
	started     bool
	stopped     bool
	stopRelay   context.CancelFunc
	relayDone   chan struct{}
	onAttempt   func(a *store.CallbackAttempt, state string) // tests
	onRelayPass func()                                       // tests
	// lingerWait is the relay's wait for more callbacks once woken
	// (relayLinger); false when ctx ended. Tests replace it.
	lingerWait  func(ctx context.Context) bool
	onStopQueue func()                         // tests: Stop is about to wait for deliveries
	onDefer     func(callbackID, limit string) // tests: the gate turned a callback away

	gate *gate // which due callbacks may be sent now (see gate.go)
}

// New builds a Service on the store's database; it does not touch the
// database until Start. A nil logger discards logs.
func New(db *store.DB, cfg Config, log *slog.Logger) (*Service, error) {
	if db == nil {
		return nil, errors.New("callback: no database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("callback: config: %w", err)
	}
	s := &Service{db: db, cfg: cfg, log: log, wake: make(chan struct{}, 1), gate: newGate(cfg), lingerWait: lingerFor(relayLinger)}

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{s: s}); err != nil {
		return nil, fmt.Errorf("callback: register worker: %w", err)
	}
	jobTimeout := cfg.Timeout + jobMargin
	rc := &river.Config{
		ID:                   cfg.ClientID,
		Logger:               log.With("component", "river"),
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{queueName: {MaxWorkers: queueWorkers(cfg.Workers)}},
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          retryPolicy{cfg.Backoff},
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
	}
	var err error
	switch db.Dialect() {
	case store.DialectPostgres:
		driver := riverpgxv5.New(db.PgxPool())
		s.queue, err = newClient(driver, rc)
		s.migrate = func(ctx context.Context) error { return migratePostgres(ctx, driver, db.PgxPool(), rc.Logger) }
	case store.DialectSQLite:
		// River shares the store's single connection: SQLite has one
		// writer, and River's SQLite driver asks for one connection too.
		driver := riversqlite.New(db.SQL())
		s.queue, err = newClient[*sql.Tx](pollingSQLite{driver}, rc)
		s.migrate = func(ctx context.Context) error { return migrateSQLite(ctx, driver, db.SQL(), rc.Logger) }
	default:
		err = fmt.Errorf("dialect %q", db.Dialect())
	}
	if err != nil {
		return nil, fmt.Errorf("callback: queue: %w", err)
	}
	return s, nil
}

// pollingSQLite is River's SQLite driver without its listener. SQLite has
// no LISTEN: the driver's listener polls a table every 50 ms on the
// store's one connection, which was over a third of an idle serve's CPU.
// Without it River runs poll-only: a callback this process queues is
// fetched at once (River is told of its own inserts), one another process
// queued within the fetch poll interval, and leadership moves within
// seconds.
type pollingSQLite struct{ *riversqlite.Driver }

func (pollingSQLite) SupportsListener() bool { return false }

// newClient builds a River client for a driver.
func newClient[TTx any](driver riverdriver.Driver[TTx], rc *river.Config) (queue, error) {
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, err
	}
	return client, nil
}

// riverMigrationLockKey is the PostgreSQL advisory lock key that
// serialises River migrations of processes starting together (the store's
// own migrations use another key): "swyd-rvq" in ASCII.
const riverMigrationLockKey int64 = 0x737779642d727671

// migratePostgres brings River's schema up to date under a session
// advisory lock. River applies each version in a transaction of its own
// (some cannot share one), so the lock is held on a connection of its own
// for the whole run.
func migratePostgres(ctx context.Context, driver *riverpgxv5.Driver, pool *pgxpool.Pool, log *slog.Logger) (err error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", riverMigrationLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		uctx := context.WithoutCancel(ctx)
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", riverMigrationLockKey); uerr != nil {
			// Never return a connection holding the lock to the pool.
			_ = conn.Conn().Close(uctx)
			err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
		}
	}()
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// migrateSQLite brings River's schema up to date in one transaction,
// which (begun IMMEDIATE, see the store's DSN) also keeps another process
// from migrating the same file at the same time. River deprecates
// MigrateTx because some of its PostgreSQL migrations cannot share a
// transaction; its SQLite migrations can (TestConcurrentStart runs them
// all in one).
func migrateSQLite(ctx context.Context, driver *riversqlite.Driver, db *sql.DB, log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	//lint:ignore SA1019 see above: on SQLite the one transaction is the lock.
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	return tx.Commit()
}

// Start brings River's schema up to date and starts delivering: the queue's
// workers and the relay, which first moves whatever the outbox holds. ctx
// bounds the start only; the Service runs until Stop. A Service starts
// once.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("callback: service already started")
	}
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("callback: migrate river schema: %w", err)
	}
	// A cancelled Start context would make River drop running jobs; the
	// lifetime is Stop's business.
	run := context.WithoutCancel(ctx)
	if err := s.queue.Start(run); err != nil {
		return fmt.Errorf("callback: start queue: %w", err)
	}
	relayCtx, cancel := context.WithCancel(run)
	s.started, s.stopRelay, s.relayDone = true, cancel, make(chan struct{})
	go s.relay(relayCtx, s.relayDone)
	s.log.InfoContext(ctx, "callback: delivery started",
		"workers", s.cfg.Workers, "max_attempts", s.cfg.MaxAttempts, "timeout", s.cfg.Timeout,
		"host_concurrency", s.cfg.HostConcurrency, "account_concurrency", s.cfg.AccountConcurrency)
	return nil
}

// Stop stops relaying, then waits for the deliveries in flight to finish
// (their attempts recorded, their jobs updated) until ctx ends. If ctx
// ends first, the deliveries still running are cancelled: each records
// its interrupted attempt and goes back to the queue without using up an
// attempt, for the next Service to deliver. Nothing undelivered is lost
// either way: the outbox and the queue are in the database.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return nil
	}
	s.stopped = true
	s.stopRelay()
	<-s.relayDone

	if s.onStopQueue != nil {
		s.onStopQueue()
	}
	err := s.queue.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		s.log.WarnContext(ctx, "callback: deliveries still running at stop; cancelling them")
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopTimeout)
		defer cancel()
		err = s.queue.StopAndCancel(hard)
	}
	if err != nil {
		return fmt.Errorf("callback: stop queue: %w", err)
	}
	s.log.InfoContext(ctx, "callback: delivery stopped")
	return nil
}

// Notify tells the relay that the outbox has new callbacks. It never
// blocks; calls made while the relay is busy coalesce into one pass.
// Call it after a transaction that wrote callbacks commits (Calls.Finish
// with an Outbox, Calls.Answer). Without it, the callbacks still go out
// within PollInterval.
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// retryPolicy schedules retries with Config.Backoff.
type retryPolicy struct{ backoff func(int) time.Duration }

// NextRetry implements river.ClientRetryPolicy. job.Attempt is the attempt
// that just failed.
func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().UTC().Add(max(p.backoff(max(job.Attempt, 1)), 0))
}

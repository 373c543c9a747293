package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/loadgen"
	"github.com/switchyard/switchyard/orchestrator/store"
)

const simLoadSynopsis = "sim load --fs ADDR [--fs-password P] --to EXOPHONE --calls N --cps R --concurrency C [--script S] [--compare-to NUMBER [--rounds N]] [--serve-pid PID] [--node-pid PID] [--baseline DUR] [--db DSN] [--metrics URL] [--json]\n" +
	"       switchyard sim load --api URL --account SID --api-key K --api-token T --from PHONE --to PHONE --caller-id EXOPHONE --calls N --cps R --concurrency C [--serve-pid PID] [--node-pid PID] [--baseline DUR] [--db DSN] [--metrics URL] [--json]"

// simLoad places many simulated calls on a node through its inbound event
// socket, measures how Switchyard takes them and prints a summary. Its
// exit status is 1 when any call failed or was lost.
func simLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim load", simLoadSynopsis, stderr)
	node := fs.String("fs", envOr("SWITCHYARD_SIM_ESL", "127.0.0.1:8021"), "the node's event socket (env SWITCHYARD_SIM_ESL)")
	password := fs.String("fs-password", envOr("SWITCHYARD_FS_PASSWORD", "ClueCon"), "event socket password (env SWITCHYARD_FS_PASSWORD)")
	to := fs.String("to", "", "the ExoPhone to call (required); with --api, the number connected second")
	compareTo := fs.String("compare-to", "", "also call this number as often, in blocks alternating with --to's, and compare the node's CPU a call on the two (the same flow written in the dialplan, say)")
	rounds := fs.Int("rounds", 0, "with --compare-to: how many blocks of each number (default 4)")
	apiURL := fs.String("api", "", "place the calls through serve's REST API at this URL (http://HOST:PORT), as Calls/connect requests, instead of on the node")
	account := fs.String("account", envOr("SWITCHYARD_API_ACCOUNT", ""), "with --api: the account SID (env SWITCHYARD_API_ACCOUNT)")
	apiKey := fs.String("api-key", envOr("SWITCHYARD_API_KEY", ""), "with --api: the API key (env SWITCHYARD_API_KEY)")
	apiToken := fs.String("api-token", envOr("SWITCHYARD_API_TOKEN", ""), "with --api: the API token (env SWITCHYARD_API_TOKEN)")
	from := fs.String("from", "", "with --api: the number rung first")
	callerID := fs.String("caller-id", "", "with --api: the ExoPhone the calls show")
	callbackListen := fs.String("callback-listen", "127.0.0.1:0", "with --api: where the tool receives the status callbacks")
	callbackURL := fs.String("callback-url", "", "with --api: the URL serve posts the callbacks to (default http://<callback-listen>/callbacks)")
	wait := fs.Duration("wait", 2*time.Minute, "with --api: how long to wait for the terminal callbacks after the last request")
	calls := fs.Int("calls", 100, "how many calls to place")
	cps := fs.Float64("cps", 10, "target rate of new calls per second")
	concurrency := fs.Int("concurrency", 50, "most calls in flight at once")
	script := fs.String("script", "", loadgen.ScriptHelp)
	servePID := fs.Int("serve-pid", 0, "pid of switchyard serve: report its CPU ms per call (Linux)")
	nodePID := fs.Int("node-pid", 0, "pid of the node (FreeSWITCH or sim node --emulator): report its CPU ms per call (Linux)")
	baseline := fs.Duration("baseline", 0, "with --serve-pid or --node-pid: watch them idle this long before the first call (10s is plenty), and report their CPU a second then and their CPU per call above it")
	metricsURL := fs.String("metrics", "", "serve's /metrics URL (http://HOST:PORT/metrics): report its step latencies and store writes per call")
	dsn := fs.String("db", "", "Switchyard's database (a SQLite path or a postgres:// URL): count the calls it lost")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	callTimeout := fs.Duration("call-timeout", 0, "give up on a call this long after placing it (default 2m plus the script's hang-up delays)")
	grace := fs.Duration("grace", 30*time.Second, "with --db, how long to wait for every call's final record")
	conns := fs.Int("conns", 3, "inbound connections to the node: one for events and originates, the rest for commands")
	logLevel := fs.String("log-level", "warn", "log level: debug (one line per failed call), info, warn or error")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	// Progress lines and logs come from several goroutines.
	stderr = &syncWriter{w: stderr}
	if *to == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "Usage: switchyard %s\n", simLoadSynopsis)
		return errUsage
	}
	sc, err := loadgen.ParseScript(*script)
	if err != nil {
		fmt.Fprintf(stderr, "sim load: --script: %v\n", err)
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "sim load: --log-level %q: %v\n", *logLevel, err)
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	measure := loadgen.Measure{Grace: *grace, ServePID: *servePID, NodePID: *nodePID, Baseline: *baseline, Metrics: *metricsURL,
		Progress: stderr, Logger: log}
	if *apiURL != "" {
		if *compareTo != "" || *rounds != 0 {
			fmt.Fprintln(stderr, "sim load: --compare-to and --rounds call numbers on the node; with --api serve places the calls")
			return errUsage
		}
		if *script != "" {
			fmt.Fprintln(stderr, "sim load: --script plays a caller on the node; with --api the node's numbers play their parts")
			return errUsage
		}
		cfg := loadgen.APIConfig{
			Base: *apiURL, Account: *account, Key: *apiKey, Token: *apiToken, From: *from, To: *to, CallerID: *callerID,
			Calls: *calls, CPS: *cps, Concurrency: *concurrency, Listen: *callbackListen, CallbackURL: *callbackURL,
			Wait: *wait, Measure: measure,
		}
		return simLoadAPI(ctx, cfg, *dsn, *asJSON, stdout, stderr)
	}
	cfg := loadgen.Config{
		Addr: *node, Password: *password, To: *to, Calls: *calls, CPS: *cps, Concurrency: *concurrency,
		Script: sc, CallTimeout: *callTimeout, Conns: *conns, Compare: *compareTo, Rounds: *rounds, Measure: measure,
	}
	if *dsn != "" {
		db, err := openRecords(ctx, *dsn, log)
		if err != nil {
			return err
		}
		defer db.Close()
		cfg.Records = loadgen.DBRecords(db)
	}
	fmt.Fprintf(stderr, "sim load: %d calls to %s via %s at %g/s, at most %d in flight, script %q\n",
		cfg.Calls, cfg.To, cfg.Addr, cfg.CPS, cfg.Concurrency, sc.String())
	if cfg.Compare != "" {
		fmt.Fprintf(stderr, "sim load: as many to %s, in blocks alternating with them\n", cfg.Compare)
	}
	rep, err := loadgen.Run(ctx, cfg)
	if errors.Is(err, loadgen.ErrConfig) {
		fmt.Fprintf(stderr, "sim load: %v\n", err)
		return errUsage
	}
	if err != nil {
		return err
	}
	var bad error
	if rep.Bad() > 0 {
		bad = fmt.Errorf("%d of %d calls failed, %d lost", rep.Failed, rep.Placed, orZero(rep.Lost))
		if c := rep.Compare; c != nil && c.Calls.Failed > 0 {
			bad = fmt.Errorf("%w; %d of %d calls to %s failed", bad, c.Calls.Failed, c.Calls.Placed, c.Baseline)
		}
	}
	return printLoad(ctx, stdout, *asJSON, rep, bad, fmt.Sprintf("%d of %d calls", rep.Placed, rep.Calls))
}

// printLoad prints a run's report, as JSON or for people, and returns
// bad, or the interruption of a run that got through done.
func printLoad(ctx context.Context, stdout io.Writer, asJSON bool, rep interface{ WriteText(io.Writer) }, bad error, done string) error {
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return fmt.Errorf("sim load: %w", err)
		}
	} else {
		rep.WriteText(stdout)
	}
	if bad != nil {
		return bad
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %s: %w", done, ctx.Err())
	}
	return nil
}

func orZero(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// simLoadAPI runs `sim load --api`: Calls/connect requests, the calls'
// terminal callbacks, and with --db their final records.
func simLoadAPI(ctx context.Context, cfg loadgen.APIConfig, dsn string, asJSON bool, stdout, stderr io.Writer) error {
	if dsn != "" {
		db, err := openRecords(ctx, dsn, cfg.Logger)
		if err != nil {
			return err
		}
		defer db.Close()
		cfg.Records = loadgen.DBRecords(db)
	}
	fmt.Fprintf(stderr, "sim load: %d Calls/connect %s -> %s via %s at %g/s, at most %d requests at once\n",
		cfg.Calls, cfg.From, cfg.To, cfg.Base, cfg.CPS, cfg.Concurrency)
	rep, err := loadgen.RunAPI(ctx, cfg)
	if errors.Is(err, loadgen.ErrConfig) {
		fmt.Fprintf(stderr, "sim load: %v\n", err)
		return errUsage
	}
	if err != nil {
		return err
	}
	var bad error
	if rep.Bad() > 0 {
		bad = fmt.Errorf("%d of %d accepted calls without a terminal callback, %d lost", rep.CallbacksMissing, rep.Accepted, orZero(rep.Lost))
	}
	return printLoad(ctx, stdout, asJSON, rep, bad, fmt.Sprintf("%d of %d requests", rep.Sent, rep.Calls))
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// openRecords opens Switchyard's database to read call records. Unlike
// serve, it never creates a SQLite file: a path that does not exist is a
// mistake, not an empty database.
func openRecords(ctx context.Context, dsn string, log *slog.Logger) (*store.DB, error) {
	if path, ok := sqlitePath(dsn); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
	}
	db, err := store.Open(ctx, dsn, log)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	return db, nil
}

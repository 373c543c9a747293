package main

// A second Switchyard as a separate OS process. The test binary re-executes
// itself with SWITCHYARD_E2E_CHILD set to a JSON childSpec; TestMain then
// runs a server instead of the tests. Tests use it to prove that state is
// shared through the database rather than memory, and that a killed
// instance's holds expire.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

const (
	// childEnv holds the JSON childSpec of a child process.
	childEnv = "SWITCHYARD_E2E_CHILD"
	// childReadyPrefix starts the one stdout line a child prints once it
	// serves, followed by a JSON childReady.
	childReadyPrefix = "SWITCHYARD_CHILD_READY "
	// childTimeout bounds a child's start and its graceful stop.
	childTimeout = 30 * time.Second
)

// childSpec is what a child process runs.
type childSpec struct {
	Database      string
	RecordingsDir string
	// EmulatorSpeed is the embedded emulator's clock speed; 0 means 20,
	// as startServe uses.
	EmulatorSpeed float64 `json:",omitempty"`
	// Args are serve's command-line flags (e.g. "-drain=2s"), parsed by
	// the same code as `switchyard serve` after the settings above.
	Args []string `json:",omitempty"`
	// ExitOnStdinEOF shuts the child down gracefully when its stdin
	// closes: the parent test process is gone.
	ExitOnStdinEOF bool `json:",omitempty"`
}

// childReady is the JSON of the ready line.
type childReady struct {
	HTTP   string `json:"http"`
	Socket string `json:"socket"`
	ESL    string `json:"esl"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// childConfig builds the child's Config the way startServe does, then
// applies the spec's flags (and SWITCHYARD_* variables, which startChild
// strips from the child's environment) as serve would.
func childConfig(spec childSpec) (Config, error) {
	cfg := defaultConfig()
	cfg.Database = spec.Database
	cfg.Demo = true
	cfg.DemoCampaign = false // a test that wants campaigns makes its own
	cfg.HTTPAddr, cfg.SocketAddr, cfg.EmulatorAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.RecordingsDir = spec.RecordingsDir
	cfg.emulatorSpeed = 20
	if spec.EmulatorSpeed != 0 {
		cfg.emulatorSpeed = spec.EmulatorSpeed
	}
	cfg.Drain = 10 * time.Second
	cfg.CallbackRetry = 50 * time.Millisecond
	cfg.CallbackTimeout = 5 * time.Second
	// The tests' receivers (callbacks, CRMs, passthru targets) are
	// httptest servers on 127.0.0.1.
	cfg.EgressAllow = "loopback"
	cfg.RateLimit = 100_000 // as startServe
	// Quiet: a bad flag is reported by the returned error, without
	// serve's usage text burying it in the stderr tail.
	fs := newFlagSet("serve", "serve [flags]", io.Discard)
	if err := cfg.parse(fs, spec.Args, true); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, nil
}

// runChild runs a server for the JSON spec until SIGTERM or SIGINT and
// returns the process exit status.
func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "switchyard child: %s: %v\n", childEnv, err)
		return 2
	}
	cfg, err := childConfig(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "switchyard child: %v\n", err)
		return 2
	}
	log := cfg.logger(os.Stderr).With("instance", fmt.Sprintf("child-%d", os.Getpid()))
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithCancel(sigCtx)
	defer cancel()
	if spec.ExitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			log.Warn("stdin closed: the parent is gone, shutting down")
			cancel()
		}()
	}
	cfg.ready = func(s serving) {
		line, err := json.Marshal(childReady{HTTP: s.HTTP, Socket: s.Socket, ESL: s.ESL})
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(os.Stdout, "%s%s\n", childReadyPrefix, line)
	}
	if err := runServe(ctx, cfg, os.Stdout, log); err != nil {
		fmt.Fprintf(os.Stderr, "switchyard child: %v\n", err)
		return 1
	}
	return 0
}

// child is a Switchyard running in another process. The embedded server
// (base: the child's http://host:port; out: its stdout, the demo banner)
// gives it do, getJSON, connect, details and flowID; its stop is child's.
type child struct {
	*server
	socket string // the child's outbound-socket server
	cmd    *exec.Cmd

	stdin   io.WriteCloser // held open: its closing tells the child the parent is gone
	exited  chan struct{}  // closed once the process is waited for
	waitErr error          // cmd.Wait's answer, set before exited closes
	end     sync.Once      // the first of stop and kill

	mu     sync.Mutex
	closed bool     // the test is over: log nothing more
	tail   []string // the last stderr lines, for failure messages
}

const childTailLines = 40

// startChild starts a child serving on dsn with the demo tenant, on free
// loopback ports, with serve's flags args, and stops it when the test
// ends. It waits (30 s at most) until the child serves.
func startChild(t *testing.T, dsn string, args ...string) *child {
	t.Helper()
	return startChildSpec(t, childSpec{Database: dsn, Args: args})
}

// startChildSpec is startChild with a full spec; an empty RecordingsDir
// becomes a temporary one.
func startChildSpec(t *testing.T, spec childSpec) *child {
	t.Helper()
	if spec.RecordingsDir == "" {
		spec.RecordingsDir = t.TempDir()
	}
	spec.ExitOnStdinEOF = true
	storetest.Premigrate(t, spec.Database)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{server: &server{t: t, out: &lockedBuffer{}}, exited: make(chan struct{})}
	ready := make(chan string, 1)
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = childEnviron(string(specJSON))
	c.cmd.Stdout = &lineWriter{line: func(line string) {
		if rest, ok := strings.CutPrefix(line, childReadyPrefix); ok {
			select {
			case ready <- rest:
			default:
			}
		}
		fmt.Fprintln(c.out, line)
		c.logf("child stdout: %s", line)
	}}
	c.cmd.Stderr = &lineWriter{line: func(line string) {
		c.mu.Lock()
		c.tail = append(c.tail, line)
		if len(c.tail) > childTailLines {
			c.tail = c.tail[len(c.tail)-childTailLines:]
		}
		c.mu.Unlock()
		c.logf("child: %s", line)
	}}
	// A grandchild holding the output pipes must not hold Wait forever.
	c.cmd.WaitDelay = 5 * time.Second
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		c.cmd.Stdout.(*lineWriter).flush()
		c.cmd.Stderr.(*lineWriter).flush()
		c.waitErr = err
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
	})

	timeout := time.NewTimer(childTimeout)
	defer timeout.Stop()
	select {
	case line := <-ready:
		var addrs childReady
		if err := json.Unmarshal([]byte(line), &addrs); err != nil || addrs.HTTP == "" {
			c.kill()
			t.Fatalf("child: bad ready line %q (%v)\nstderr tail:\n%s", line, err, c.stderrTail())
		}
		c.base, c.socket, c.server.esl = "http://"+addrs.HTTP, addrs.Socket, addrs.ESL
	case <-c.exited:
		c.end.Do(func() {}) // reported here, not again by stop
		t.Fatalf("child exited before serving: %v\nstderr tail:\n%s", c.waitErr, c.stderrTail())
	case <-timeout.C:
		c.kill()
		t.Fatalf("child did not come up in %s\nstderr tail:\n%s", childTimeout, c.stderrTail())
	}
	return c
}

// childEnviron is this process's environment without SWITCHYARD_*
// settings (the child's configuration is its spec alone), plus the spec.
func childEnviron(spec string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			env = append(env, kv)
		}
	}
	return append(env, childEnv+"="+spec)
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop shuts the child down gracefully (SIGTERM: it drains, then exits)
// and waits for it, killing it after 30 s. A child that exits with an
// error, now or earlier on its own, fails the test. Only the first of
// stop and kill acts.
func (c *child) stop() {
	c.t.Helper()
	c.end.Do(func() {
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.t.Errorf("child %d: SIGTERM: %v", c.pid(), err)
		}
		timeout := time.NewTimer(childTimeout)
		defer timeout.Stop()
		select {
		case <-c.exited:
		case <-timeout.C:
			c.t.Errorf("child %d did not stop within %s of SIGTERM: killing it\nstderr tail:\n%s", c.pid(), childTimeout, c.stderrTail())
			_ = c.cmd.Process.Kill()
			<-c.exited
			return
		}
		if c.waitErr != nil {
			c.t.Errorf("child %d: %v\nstderr tail:\n%s", c.pid(), c.waitErr, c.stderrTail())
		}
	})
}

// kill ends the child at once (SIGKILL: a crashed instance, leaving
// whatever it held in the database) and waits for it. Only the first of
// stop and kill acts.
func (c *child) kill() {
	c.t.Helper()
	c.end.Do(func() {
		if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.t.Errorf("child %d: SIGKILL: %v", c.pid(), err)
		}
		<-c.exited
	})
}

// logf logs to the test until it ends.
func (c *child) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.t.Logf(format, args...)
	}
}

func (c *child) stderrTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// lineWriter calls line for each complete line written to it.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// flush passes on an unterminated last line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

// TestSecondProcessSharesPostgres runs two instances, in two processes,
// on one PostgreSQL database: a call placed through one is read back,
// completed, through the other.
func TestSecondProcessSharesPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	// Both instances seed the demo tenant. Seeding is check-then-insert
	// (idempotent run after run, not safe run concurrently: two seeds can
	// both miss the account and one fail with a conflict, or both create
	// the example flows), so the child starts once the parent serves.
	parent := startServe(t, dsn)
	c := startChild(t, dsn)
	if c.pid() == os.Getpid() {
		t.Fatalf("child pid %d is this process's", c.pid())
	}
	if c.base == parent.base {
		t.Fatalf("child and parent both serve on %s", c.base)
	}

	rc := newReceiver(t)
	// The time limit ends the call (both numbers stay up). 60 s on the
	// emulator's clock is 3 s of real time: room for the second leg to
	// be bridged while other tests load the machine (4 s, 200 ms real,
	// was cut before the bridge under load).
	created := c.connect(url.Values{
		"From": {"+15550100001"}, "To": {"+15550100002"}, "CallerId": {demoPhone},
		"TimeOut": {"10"}, "TimeLimit": {"60"}, "StatusCallback": {rc.url},
	})
	got := rc.terminal(created.Sid)
	if cb := got[len(got)-1]; cb.fields["Status"] != "completed" {
		t.Errorf("terminal callback: %v", cb.fields)
	}
	for name, s := range map[string]*server{"parent": parent, "child": c.server} {
		d := s.details(created.Sid)
		if d.Status != "completed" || d.Direction != "outbound-api" || d.From != "+15550100001" || d.To != "+15550100002" {
			t.Errorf("%s reads the call as %+v", name, d)
		}
	}
}

package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsnode"
	"github.com/switchyard/switchyard/orchestrator/parking"
)

// Where the suite runs (TestMain decides, from the environment):
//
//   - by default, on the in-tree emulator, one scenario at a time (those
//     that run at real speed, options.realTime, in parallel);
//   - with SWITCHYARD_FS=archive, on real FreeSWITCH nodes started from the
//     project's archive (fsnode) and configured from freeswitch-conf/:
//     SWITCHYARD_FS_NODES of them (default 4), each lent to one scenario
//     at a time, so independent scenarios run in parallel;
//   - with SWITCHYARD_FS_ESL=host:port, on that external node, one scenario
//     at a time (its switchyard_sockets must point at SWITCHYARD_TEST_SOCKET,
//     default 127.0.0.1:8084, and SWITCHYARD_TEST_RECORDINGS name its
//     recordings folder as seen from here).
//
// With SWITCHYARD_SCENARIO_CONTROL=node the calls are handed off to the
// node's connection at once (call.Config.Handoff, serve -control node)
// instead of keeping their sockets; with =park the dialplan parks them
// for the harness's instance, which takes them with no socket (serve
// -control park).
//
// SWITCHYARD_SCENARIO_SUMMARY names a file the suite appends its one-line
// result to, for make test to print.
var suite struct {
	real    bool
	handoff bool
	park    bool
	where   string // for the summary
	nodes   *pool  // real nodes, lent one scenario at a time
	sip     string // the test network's SIP address ("" on the emulator)
	mu      sync.Mutex
	ran     map[string]bool // scenario -> passed
	skipped int             // scenarios that skipped themselves
	par     sync.Map        // *testing.T already made parallel
}

// node is a real FreeSWITCH a scenario borrows.
type node struct {
	esl, password, recordings, sip string
	// carrier is where a SIP call enters the public context (fsnode's
	// Node.Carrier; "" on an external node, whose profiles are its own).
	carrier string
	// fixed is the socket address an external node connects to; archive
	// nodes are pointed at each scenario's own listener instead.
	fixed string
	fs    *fsnode.Node
}

func TestMain(m *testing.M) {
	suite.ran = map[string]bool{}
	suite.handoff = os.Getenv("SWITCHYARD_SCENARIO_CONTROL") == "node"
	suite.park = os.Getenv("SWITCHYARD_SCENARIO_CONTROL") == "park"
	stop, err := setupNodes()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		report(fmt.Sprintf("scenario: FAILED to start real FreeSWITCH nodes: %v", err))
		os.Exit(1)
	}
	if stop == nil && os.Getenv("SWITCHYARD_FS") == "archive" {
		os.Exit(0) // skipped, and said why
	}
	code := m.Run()
	stop()
	suite.mu.Lock()
	passed := 0
	var failed []string
	for name, ok := range suite.ran {
		if ok {
			passed++
		} else {
			failed = append(failed, name)
		}
	}
	suite.mu.Unlock()
	sort.Strings(failed)
	where := suite.where
	if suite.handoff {
		where += ", calls handed off to the node's connection"
	}
	line := fmt.Sprintf("scenario: %d of %d scenarios passed on %s", passed, passed+len(failed), where)
	if suite.skipped > 0 {
		line += fmt.Sprintf(" (%d skipped: not for this kind of node)", suite.skipped)
	}
	if len(failed) > 0 {
		line += "; failed: " + strings.Join(failed, ", ")
	}
	println(line)
	report(line)
	os.Exit(code)
}

// report appends line to SWITCHYARD_SCENARIO_SUMMARY, if set.
func report(line string) {
	path := os.Getenv("SWITCHYARD_SCENARIO_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario: summary:", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// setupNodes prepares the nodes the environment asks for. stop is nil when
// the real-node run was asked for but cannot happen (then it says why).
func setupNodes() (stop func(), err error) {
	password := os.Getenv("SWITCHYARD_FS_PASSWORD")
	if password == "" {
		password = "ClueCon"
	}
	if addr := os.Getenv("SWITCHYARD_FS_ESL"); addr != "" {
		socket := os.Getenv("SWITCHYARD_TEST_SOCKET")
		if socket == "" {
			socket = "127.0.0.1:8084"
		}
		suite.real, suite.where = true, "the FreeSWITCH node at "+addr
		suite.nodes = newPool(&node{esl: addr, password: password, fixed: socket,
			recordings: os.Getenv("SWITCHYARD_TEST_RECORDINGS"), sip: os.Getenv("SWITCHYARD_TEST_SIP")})
		return func() {}, nil
	}
	if os.Getenv("SWITCHYARD_FS") != "archive" {
		suite.where = "the emulator"
		return func() {}, nil
	}
	archive, err := fsnode.Locate()
	if errors.Is(err, fsnode.ErrNoArchive) {
		line := fmt.Sprintf("scenario: the real-node half was SKIPPED: %v (set SWITCHYARD_FS_ARCHIVE, or SWITCHYARD_FS_ESL for a node of your own)", err)
		println(line)
		report(line)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	count := 4
	if v, err := strconv.Atoi(os.Getenv("SWITCHYARD_FS_NODES")); err == nil && v > 0 {
		count = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := make(chan *fsnode.Node, count)
	errs := make(chan error, count)
	for range count {
		go func() {
			n, err := fsnode.Start(ctx, fsnode.Config{Archive: archive})
			if err != nil {
				errs <- err
				return
			}
			started <- n
		}()
	}
	var all []*fsnode.Node
	stop = func() { fsnode.StopAll(all...) }
	for range count {
		select {
		case n := <-started:
			all = append(all, n)
		case err := <-errs:
			for range count - len(all) - 1 {
				select {
				case n := <-started:
					all = append(all, n)
				case <-errs:
				}
			}
			stop()
			return nil, err
		}
	}
	suite.real = true
	suite.nodes = newPool()
	for _, n := range all {
		suite.nodes.put(&node{esl: n.ESL, password: n.Password, recordings: n.RecordingsDir, sip: n.SIP, carrier: n.Carrier, fs: n})
	}
	suite.where = fmt.Sprintf("a real node: %s (%d nodes from %s, GOMAXPROCS %d)",
		all[0].Version, count, filepath.Base(archive), runtime.GOMAXPROCS(0))
	return stop, nil
}

// track counts t as a scenario, and lets it run in parallel with the
// others on archive nodes, or on the emulator when it runs in real time.
func track(t *testing.T, realTime bool) {
	if _, again := suite.par.LoadOrStore(t, true); again {
		return
	}
	if onArchiveNodes() || (!suite.real && realTime) {
		t.Parallel()
	}
	t.Cleanup(func() {
		suite.mu.Lock()
		defer suite.mu.Unlock()
		if t.Skipped() && !t.Failed() {
			suite.skipped++ // not run here (a real node's, or the emulator's only)
			return
		}
		suite.ran[t.Name()] = !t.Failed()
	})
}

// onArchiveNodes says whether the suite runs on the archive's nodes,
// where independent scenarios run in parallel.
func onArchiveNodes() bool { return suite.real && os.Getenv("SWITCHYARD_FS_ESL") == "" }

// group lets a test whose subtests are scenarios run in parallel on
// archive nodes: its subtests then wait for a node with all the others
// (pool), not before them.
func group(t *testing.T) {
	if onArchiveNodes() {
		t.Parallel()
	}
}

// borrow lends t a real node until it ends, and a listener the node's
// socket application connects to.
func borrow(t *testing.T) (*node, net.Listener) {
	t.Helper()
	n, err := suite.nodes.get(t.Context(), t.Name())
	if err != nil {
		t.Fatal("no node")
	}
	addr := "127.0.0.1:0"
	if n.fixed != "" {
		addr = n.fixed
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		suite.nodes.put(n)
		t.Fatalf("socket server: %v", err)
	}
	if n.fs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.fs.SetSockets(ctx, l.Addr().String()); err != nil {
			suite.nodes.put(n)
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Whatever the scenario left behind must not reach the next one.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := esl.DialInbound(ctx, n.esl, n.password, nil); err == nil {
			if out, _ := conn.API(ctx, "show channels count"); !strings.HasPrefix(strings.TrimSpace(out), "0 total") {
				t.Logf("node %s: channels left at the end: %s", n.esl, strings.TrimSpace(out))
				_, _ = conn.API(ctx, "hupall MANAGER_REQUEST")
			}
			// The next scenario's calls are not parked for this one's
			// instance (park control).
			_, _ = conn.API(ctx, "global_setvar "+parking.GlobalVar+"=")
			conn.Close()
		}
		suite.nodes.put(n)
	})
	return n, l
}

// testnetSIP is the test phone network's SIP address: the borrowed real
// node's switchyard_testnet profile (each scenario dials its own node), or
// the shipped default on the emulator (which gives any host the test
// network's behaviour).
func (h *harness) testnetSIP() string {
	if h.sip != "" {
		return h.sip
	}
	return "127.0.0.1:5090"
}

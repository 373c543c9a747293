// Package fsnode runs a real FreeSWITCH node for tests, as httptest runs a
// real HTTP server: it unpacks the relocatable FreeSWITCH 1.10 archive the
// project's tests use, configures it from the project's own
// freeswitch-conf/ (the files operators install, adapted only through
// switchyard_vars.xml), starts it on free loopback ports and stops it.
//
// The archive is found through SWITCHYARD_FS_ARCHIVE, else as
// shared/freeswitch/freeswitch-*.tar.zst beside the checkout or one of its
// parents. Without one, Locate says why, and real-node tests skip.
package fsnode

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// ErrNoArchive: no FreeSWITCH archive was given or found.
var ErrNoArchive = errors.New("fsnode: no FreeSWITCH archive")

// Locate finds the FreeSWITCH archive: SWITCHYARD_FS_ARCHIVE, else
// shared/freeswitch/freeswitch-*.tar.zst in a parent of the module root.
func Locate() (string, error) {
	if p := os.Getenv("SWITCHYARD_FS_ARCHIVE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: SWITCHYARD_FS_ARCHIVE: %w", ErrNoArchive, err)
		}
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		matches, _ := filepath.Glob(filepath.Join(dir, "shared", "freeswitch", "freeswitch-*.tar.zst"))
		if len(matches) > 0 {
			if _, err := exec.LookPath("zstd"); err != nil {
				return "", fmt.Errorf("%w: %s is zstd-compressed and zstd is not installed", ErrNoArchive, matches[len(matches)-1])
			}
			return matches[len(matches)-1], nil
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return "", fmt.Errorf("%w: SWITCHYARD_FS_ARCHIVE is unset and no shared/freeswitch/freeswitch-*.tar.zst lies beside the checkout", ErrNoArchive)
}

// ModuleRoot is the folder of the project's go.mod, found from the working
// directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("fsnode: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", errors.New("fsnode: no go.mod above the working directory")
		}
		dir = filepath.Dir(dir)
	}
}

// Config says which archive to run and where.
type Config struct {
	Archive string // the .tar.zst; "" means Locate
	// Project is the freeswitch-conf/ folder to configure the node from
	// ("" means the one in the module root).
	Project string
	// Dir is a folder of the caller's to unpack into and keep state in
	// ("" means a new temporary folder, removed by Stop).
	Dir string
	// Sockets is switchyard_sockets (default: a closed loopback port, so
	// calls to managed numbers fail until SetSockets).
	Sockets string
	// RTPBase is the first of the node's 1000 RTP ports (default: chosen
	// per node from 20000 up, so nodes of one machine do not share ports).
	RTPBase int
	// NativeBasicSupport adds the Basic Support flow with tones, written
	// natively in the dialplan, on +15550009000: the baseline for load
	// tests (see native_basic_support.xml); and on +15550009001 the same
	// flow behind an outbound socket that hands the call straight back
	// (what the socket costs in itself).
	NativeBasicSupport bool
	// Password is the event socket's password (default: a random one).
	// Nodes one serve drives share theirs.
	Password string
	// StartTimeout bounds the start (default 60 s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Node is a running FreeSWITCH.
type Node struct {
	// ESL is the inbound event socket's host:port; Password its password.
	ESL, Password string
	// SIP is the test phone network's SIP address (host:port): a number of
	// the test network dialled as sip:<number>@<SIP> behaves as on loopback.
	SIP string
	// Carrier is where a SIP call enters the public context as a carrier's
	// call does (host:port, the archive's own "lo" profile): dialled as
	// sip:public<number>@<Carrier>, its INVITE arrives on a sofia channel
	// of the node, which the dialplan sends on to <number> in public.
	Carrier string
	// RecordingsDir is switchyard_recordings_dir on the node.
	RecordingsDir string
	// Version is what the node says of itself ("FreeSWITCH Version ...").
	Version string
	// Skipped lists the modules of freeswitch-conf's list the archive lacks.
	Skipped []string

	dir, conf, log string
	lay            layout
	cmd            *exec.Cmd
	exited         chan struct{}
	ownDir         bool
	letGo          *letGo // the native twin's socket; nil without the twin

	mu      sync.Mutex
	stopped bool
}

var rtpNext struct {
	sync.Mutex
	n int
}

// Start unpacks the archive, writes the configuration and starts the node;
// it returns once the event socket answers.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Archive == "" {
		a, err := Locate()
		if err != nil {
			return nil, err
		}
		cfg.Archive = a
	}
	if cfg.Project == "" {
		root, err := ModuleRoot()
		if err != nil {
			return nil, err
		}
		cfg.Project = filepath.Join(root, "freeswitch-conf")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{dir: cfg.Dir, exited: make(chan struct{})}
	if n.dir == "" {
		d, err := os.MkdirTemp("", "switchyard-fsnode-")
		if err != nil {
			return nil, fmt.Errorf("fsnode: %w", err)
		}
		n.dir, n.ownDir = d, true
	}
	if err := n.start(ctx, cfg); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context, cfg Config) error {
	if _, err := exec.LookPath("zstd"); err != nil {
		return fmt.Errorf("fsnode: the archive is zstd-compressed and zstd is not installed: %w", err)
	}
	bundle := filepath.Join(n.dir, "freeswitch")
	if _, err := os.Stat(filepath.Join(bundle, "run.sh")); err != nil {
		tar := exec.CommandContext(ctx, "tar", "-C", n.dir, "-xf", cfg.Archive)
		if out, err := tar.CombinedOutput(); err != nil {
			return fmt.Errorf("fsnode: unpack %s: %w: %s", cfg.Archive, err, out)
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	rtp := cfg.RTPBase
	if rtp == 0 {
		rtpNext.Lock()
		rtp = 20000 + (os.Getpid()%20)*1000 + rtpNext.n*100
		rtpNext.n = (rtpNext.n + 1) % 10
		rtpNext.Unlock()
	}
	secret := make([]byte, 12)
	_, _ = rand.Read(secret)
	sockets := cfg.Sockets
	if sockets == "" {
		closed, err := freePorts(1)
		if err != nil {
			return err
		}
		sockets = "127.0.0.1:" + closed[0]
	}
	state := filepath.Join(n.dir, "state")
	n.conf = filepath.Join(n.dir, "conf")
	n.RecordingsDir = filepath.Join(state, "recordings", "switchyard")
	n.ESL, n.Password = "127.0.0.1:"+ports[0], cmp.Or(cfg.Password, hex.EncodeToString(secret))
	n.SIP = "127.0.0.1:" + ports[2]
	n.Carrier = "127.0.0.1:" + ports[1]
	n.log = filepath.Join(state, "log", "freeswitch.log")
	nativeSocket := ""
	if cfg.NativeBasicSupport {
		if n.letGo, err = startLetGo(cfg.Logger); err != nil {
			return err
		}
		nativeSocket = n.letGo.addr()
	}
	n.lay = layout{nativeSocket: nativeSocket, bundle: bundle, project: cfg.Project, conf: n.conf, sipPort: ports[1], rtp: [2]int{rtp, rtp + 99}, native: cfg.NativeBasicSupport,
		s: Settings{ESLIP: "127.0.0.1", ESLPort: ports[0], ESLPassword: n.Password, Sockets: sockets,
			RecordingsDir: n.RecordingsDir, TestnetSIPIP: "127.0.0.1", TestnetSIPPort: ports[2]}}
	if err := n.lay.write(); err != nil {
		return err
	}
	n.Skipped = n.lay.skipped
	if err := os.MkdirAll(n.RecordingsDir, 0o755); err != nil {
		return fmt.Errorf("fsnode: %w", err)
	}

	// run.sh fg execs FreeSWITCH, so the child is the node itself; it dies
	// with this process even if Stop is never called.
	n.cmd = exec.Command(filepath.Join(bundle, "run.sh"), "fg")
	n.cmd.Env = append(os.Environ(), "FS_STATE="+state, "FS_CONF="+n.conf)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := os.Create(filepath.Join(n.dir, "stdout.log"))
	if err != nil {
		return fmt.Errorf("fsnode: %w", err)
	}
	defer out.Close()
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("fsnode: start: %w", err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	startCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := n.waitUp(startCtx); err != nil {
		return fmt.Errorf("%w\n%s", err, lastLines(n.log, 30))
	}
	cfg.Logger.Info("fsnode: FreeSWITCH started", "esl", n.ESL, "sip", n.SIP, "dir", n.dir, "skipped_modules", n.Skipped)
	return nil
}

// waitUp waits until the node says it is UP over its event socket. The
// node writes its console to the log file only, so the probe is the event
// socket itself, retried until the node answers, exits or ctx ends.
func (n *Node) waitUp(ctx context.Context) error {
	probe := time.NewTicker(100 * time.Millisecond)
	defer probe.Stop()
	for {
		if conn, err := esl.DialInbound(ctx, n.ESL, n.Password, nil); err == nil {
			status, err := conn.API(ctx, "status")
			if err == nil && strings.HasPrefix(status, "UP ") {
				n.Version, err = conn.API(ctx, "version")
				n.Version = strings.TrimSpace(n.Version)
				conn.Close()
				if err != nil {
					return fmt.Errorf("fsnode: version: %w", err)
				}
				return nil
			}
			conn.Close()
		}
		select {
		case <-probe.C:
		case <-n.exited:
			return errors.New("fsnode: FreeSWITCH exited during start")
		case <-ctx.Done():
			return fmt.Errorf("fsnode: FreeSWITCH did not answer on %s: %w", n.ESL, ctx.Err())
		}
	}
}

// lastLines is the end of a log file, for an error that needs it.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// SetSockets points switchyard_sockets at addrs (host:port[|host:port]) and
// reloads the XML, as an operator would: calls placed after it go there.
func (n *Node) SetSockets(ctx context.Context, addrs string) error {
	n.lay.s.Sockets = addrs
	if err := n.lay.write(); err != nil {
		return err
	}
	conn, err := esl.DialInbound(ctx, n.ESL, n.Password, nil)
	if err != nil {
		return fmt.Errorf("fsnode: %w", err)
	}
	defer conn.Close()
	out, err := conn.API(ctx, "reloadxml")
	if err != nil || !strings.HasPrefix(out, "+OK") {
		return fmt.Errorf("fsnode: reloadxml: %q %w", out, err)
	}
	return nil
}

// PID is FreeSWITCH's process id (run.sh fg execs it), for measuring it.
func (n *Node) PID() int { return n.cmd.Process.Pid }

// Log is the path of the node's log file.
func (n *Node) Log() string { return n.log }

// Stop shuts the node down (SIGTERM, then SIGKILL after 10 s) and removes
// a temporary folder.
func (n *Node) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.stopped = true
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.exited
		}
	}
	if n.letGo != nil {
		n.letGo.stop()
	}
	if n.ownDir {
		_ = os.RemoveAll(n.dir)
	}
}

// StopAll stops nodes at once: each takes a few seconds to shut down
// (FreeSWITCH unloads its modules and profiles), so a suite's six
// stopped one after the other held its end some 25 s. Nil entries (nodes
// that failed to start) are skipped.
func StopAll(nodes ...*Node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n != nil {
			wg.Go(n.Stop)
		}
	}
	wg.Wait()
}

// freePorts picks n distinct free loopback TCP ports. They are released
// before FreeSWITCH binds them; another process could take one in between,
// which fails the start loudly, never a call.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fsnode: %w", err)
		}
		ls = append(ls, l)
		_, p, _ := net.SplitHostPort(l.Addr().String())
		ports = append(ports, p)
	}
	return ports, nil
}

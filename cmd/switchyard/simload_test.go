package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// loadReport is the part of `sim load --json` the tests read.
type loadReport struct {
	Placed, Completed, Failed int
	FailedByCause             map[string]int `json:"failed_by_cause"`
	Lost                      *int
	SetupMsP50                *float64 `json:"setup_ms_p50"`
	DTMFBridgeMsP50           *float64 `json:"dtmf_bridge_ms_p50"`
	ServeCPUMsPerCall         *float64 `json:"serve_cpu_ms_per_call"`
	NodeCPUMsPerCall          *float64 `json:"node_cpu_ms_per_call"`
}

// TestSimLoad drives serve's embedded emulator with `sim load`: every
// call completes, none is lost, and a number with no flow fails the run.
func TestSimLoad(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	// Speed 5: a menu's 5 s timeout is a real second, time enough for a
	// -race run to answer it.
	s := startServe(t, dsn, func(c *Config) { c.emulatorSpeed = 5 })
	code, out, errOut := runCmd(t, "sim", "load", "--fs", s.esl, "--to", "+15550000100", "--calls", "10", "--cps", "50",
		"--concurrency", "10", "--script", "digits=1;hangup-after-bridge=200ms", "--db", dsn, "--grace", "20s",
		"--serve-pid", strconv.Itoa(os.Getpid()), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep loadReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Placed != 10 || rep.Completed != 10 || rep.Failed != 0 || rep.Lost == nil || *rep.Lost != 0 {
		t.Errorf("placed %d completed %d failed %d %v lost %v\n%s", rep.Placed, rep.Completed, rep.Failed, rep.FailedByCause, rep.Lost, out)
	}
	if rep.SetupMsP50 == nil || *rep.SetupMsP50 <= 0 || rep.DTMFBridgeMsP50 == nil || *rep.DTMFBridgeMsP50 <= 0 {
		t.Errorf("latencies: %s", out)
	}
	if rep.ServeCPUMsPerCall == nil || rep.NodeCPUMsPerCall != nil {
		t.Errorf("cpu: %s", out)
	}
	if !strings.Contains(errOut, "sim load: 10 calls to +15550000100") {
		t.Errorf("stderr: %s", errOut)
	}

	// Text summary, and a failing run: the number has no flow.
	code, out, errOut = runCmd(t, "sim", "load", "--fs", s.esl, "--to", "+15550000999", "--calls", "2", "--cps", "50",
		"--concurrency", "2", "--call-timeout", "30s")
	if code != 1 || !strings.Contains(out, "2 failed") || !strings.Contains(out, "not checked (no --db)") ||
		!strings.Contains(errOut, "2 of 2 calls failed") {
		t.Errorf("no flow: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestSimLoadAPI places calls through serve's REST API with `sim load
// --api`: every request is accepted, every call's terminal callback
// comes back to the tool with the status its record has, and every call
// has its final record. (Which status depends on the emulator's timing:
// at its speed a loaded run's first leg may hang up before the second
// answers.)
func TestSimLoadAPI(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	s := startServe(t, dsn)
	code, out, errOut := runCmd(t, "sim", "load", "--api", s.base, "--account", demoAccount, "--api-key", demo.APIKey,
		"--api-token", demo.APIToken, "--from", "+15550100402", "--to", "+15550100405", "--caller-id", demoPhone,
		"--calls", "10", "--cps", "50", "--concurrency", "5", "--db", dsn, "--grace", "20s", "--wait", "60s",
		"--metrics", s.base+"/metrics", "--serve-pid", strconv.Itoa(os.Getpid()), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Sent, Accepted, Refused, Ended int
		EndedByStatus                  map[string]int `json:"ended_by_status"`
		CallbacksMissing               int            `json:"callbacks_missing"`
		Lost                           *int
		CallbackLagMsP50               *float64 `json:"callback_lag_ms_p50"`
		ServeCPUMsPerCall              *float64 `json:"serve_cpu_ms_per_call"`
		StoreWritesPerCall             *float64 `json:"store_writes_per_call"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Sent != 10 || rep.Accepted != 10 || rep.Refused != 0 || rep.Ended != 10 ||
		rep.CallbacksMissing != 0 || rep.Lost == nil || *rep.Lost != 0 {
		t.Errorf("report:\n%s", out)
	}
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []struct {
		Status string
		N      int
	}
	if err := db.Gorm().Raw(`SELECT status, count(*) AS n FROM calls GROUP BY status`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	recorded := map[string]int{}
	for _, r := range rows {
		recorded[r.Status] = r.N
	}
	if !maps.Equal(recorded, rep.EndedByStatus) {
		t.Errorf("callbacks' statuses %v, records' %v", rep.EndedByStatus, recorded)
	}
	if rep.CallbackLagMsP50 == nil || rep.ServeCPUMsPerCall == nil || rep.StoreWritesPerCall == nil || *rep.StoreWritesPerCall <= 0 {
		t.Errorf("figures missing:\n%s", out)
	}
	if !strings.Contains(errOut, "sim load: 10 Calls/connect +15550100402 -> +15550100405") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestSimLoadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sim", "load"},
		{"sim", "load", "--to", "+15550000100", "--script", "digits=x"},
		{"sim", "load", "--to", "+15550000100", "--no-such-flag"},
		{"sim", "load", "--to", "+15550000100", "--log-level", "loud"},
		{"sim", "load", "--api", "http://127.0.0.1:1", "--to", "+15550100405", "--script", "digits=1"},
		{"sim", "load", "--api", "http://127.0.0.1:1", "--to", "+15550100405", "--compare-to", "+15550009000"},
		{"sim", "load", "--to", "+15550000100", "--rounds", "2"},
		{"sim", "load", "--to", "+15550000100", "--compare-to", "+15550000100"},
		{"sim", "load", "--to", "+15550000100", "--compare-to", "+15550009000", "--calls", "3", "--rounds", "4"},
		{"sim", "load", "--api", "http://127.0.0.1:1", "--to", "+15550100405", "--account", "a", "--api-key", "k", "--api-token", "t"},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCmd(t, "sim", "load", "-h"); code != 0 || !strings.Contains(errOut, "hangup-after-bridge") {
		t.Errorf("-h: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "sim", "load", "--to", "+15550000100", "--db", t.TempDir()+"/none.db"); code != 1 ||
		!strings.Contains(errOut, "none.db") {
		t.Errorf("missing database: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "sim", "-h"); code != 0 || !strings.Contains(errOut, "sim load --fs ADDR") ||
		!strings.Contains(errOut, "sim node --emulator") {
		t.Errorf("sim -h: exit %d\n%s", code, errOut)
	}
}

// TestSimNodeEmulator runs the emulator as `sim node --emulator` would,
// talks to its event socket, and stops it.
func TestSimNodeEmulator(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	rec := t.TempDir()
	go func() {
		err := simCommand(ctx, []string{"node", "--emulator", "--esl", "127.0.0.1:0", "--socket", "127.0.0.1:18999",
			"--speed", "2", "--recordings", rec}, pw, io.Discard)
		pw.CloseWithError(errors.Join(err, io.EOF))
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var banner strings.Builder
	addrRe := regexp.MustCompile(`event socket  (\S+) \(password ClueCon\)`)
	addr := ""
	for lines.Scan() {
		banner.WriteString(lines.Text() + "\n")
		if m := addrRe.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
		if strings.Contains(lines.Text(), "sim load --fs") {
			break
		}
	}
	if addr == "" {
		t.Fatalf("no event socket in the banner:\n%s", banner.String())
	}
	for _, want := range []string{"speed 2", "serve -demo -fs " + addr + " -fs-password ClueCon -socket 127.0.0.1:18999 -recordings " + rec,
		"sim call --fs " + addr, "sim load --fs " + addr, "--node-pid " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, banner.String())
		}
	}
	dialCtx, cancelDial := context.WithTimeout(ctx, 10*time.Second)
	defer cancelDial()
	conn, err := esl.DialInbound(dialCtx, addr, "ClueCon", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, err := conn.API(dialCtx, "status")
	conn.Close()
	if err != nil || !strings.Contains(status, "UP") {
		t.Errorf("api status: %q %v", status, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sim node: %v", err)
	}
	if code, _, _ := runCmd(t, "sim", "node", "--emulator", "--speed", "0"); code != 1 {
		t.Errorf("--speed 0: exit %d, want 1", code)
	}
	// The native twin is dialplan, which the emulator does not have.
	if code, _, errOut := runCmd(t, "sim", "node", "--emulator", "--native-basic-support"); code != 2 || !strings.Contains(errOut, "needs a real node") {
		t.Errorf("--emulator --native-basic-support: exit %d, %q; want 2 and why", code, errOut)
	}
}

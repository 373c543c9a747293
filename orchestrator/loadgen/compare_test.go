package loadgen

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

// TestComparisonFigures: the node's CPU a call over all blocks of each
// number, their ratio, the ratio round by round, and serve's share.
func TestComparisonFigures(t *testing.T) {
	c := &Comparison{Baseline: "B", Rounds: 3, Blocks: []Block{
		{Round: 1, To: "B", Calls: 10, NodeCPUMs: ptr(500.0)}, // 50 a call
		{Round: 1, To: "A", Calls: 10, NodeCPUMs: ptr(600.0)}, // 60: 1.2×
		{Round: 2, To: "A", Calls: 10, NodeCPUMs: ptr(700.0)}, // 70
		{Round: 2, To: "B", Calls: 10, NodeCPUMs: ptr(700.0)}, // 70: 1.0×
		{Round: 3, To: "B", Calls: 5, NodeCPUMs: ptr(200.0)},  // 40
		{Round: 3, To: "A", Calls: 5, NodeCPUMs: ptr(220.0)},  // 44: 1.1×
	}}
	c.figure("A")
	// A: 1520 ms over 25 calls, 60.8 a call; B: 1400 over 25, 56.
	want := map[string]float64{"A": 60.8, "B": 56, "ratio": 1.086, "p50": 1.1, "min": 1, "max": 1.2}
	got := map[string]*float64{"A": c.NodeCPUMsPerCall, "B": c.BaselineNodeCPUMsPerCall, "ratio": c.NodeCPURatio,
		"p50": c.NodeCPURatioP50, "min": c.NodeCPURatioMin, "max": c.NodeCPURatioMax}
	for k, w := range want {
		if got[k] == nil || *got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	c.setServeShare(ptr(5.6))
	if c.ServeShare == nil || *c.ServeShare != 0.1 {
		t.Errorf("serve share %v, want 0.1", c.ServeShare)
	}
	var text bytes.Buffer
	c.writeText(&text)
	for _, s := range []string{"60.80 ms a call, 56.00 ms on B: 1.086×", "median 1.100×, 1.000× to 1.200×", "serve     10.0 %"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, text.String())
		}
	}

	if c.NodeCPURatioLow != nil {
		t.Errorf("an interval from 3 rounds: %v", *c.NodeCPURatioLow)
	}

	// From 4 rounds on, a 90 % interval from resampling them: as wide as
	// the rounds disagree, and exact when they agree.
	var blocks []Block
	for r, ms := range []float64{55, 60, 50, 70, 62, 58} { // the called number's, against 50 a call
		blocks = append(blocks, Block{Round: r + 1, To: "B", Calls: 10, NodeCPUMs: ptr(500.0)},
			Block{Round: r + 1, To: "A", Calls: 10, NodeCPUMs: ptr(ms * 10)})
	}
	wide := &Comparison{Baseline: "B", Blocks: blocks}
	wide.figure("A")
	lo, hi := wide.NodeCPURatioLow, wide.NodeCPURatioHigh
	if lo == nil || hi == nil || !(*lo >= 1.0 && *lo < *wide.NodeCPURatio && *wide.NodeCPURatio < *hi && *hi <= 1.4) {
		t.Errorf("interval %v to %v around %v, within the rounds' 1.0 to 1.4", lo, hi, wide.NodeCPURatio)
	}
	for i := range blocks {
		if blocks[i].To == "A" {
			blocks[i].NodeCPUMs = ptr(600.0)
		}
	}
	agree := &Comparison{Baseline: "B", Blocks: blocks}
	agree.figure("A")
	if agree.NodeCPURatioLow == nil || *agree.NodeCPURatioLow != 1.2 || *agree.NodeCPURatioHigh != 1.2 {
		t.Errorf("rounds that agree: interval %v to %v, want 1.2 to 1.2", agree.NodeCPURatioLow, agree.NodeCPURatioHigh)
	}
	text.Reset()
	wide.writeText(&text)
	if !strings.Contains(text.String(), "(90 % interval ") {
		t.Errorf("text lacks the interval:\n%s", text.String())
	}

	// An even number of rounds: the median is between the middle two.
	even := &Comparison{Baseline: "B", Blocks: []Block{
		{Round: 1, To: "B", Calls: 1, NodeCPUMs: ptr(10.0)}, {Round: 1, To: "A", Calls: 1, NodeCPUMs: ptr(11.0)},
		{Round: 2, To: "A", Calls: 1, NodeCPUMs: ptr(13.0)}, {Round: 2, To: "B", Calls: 1, NodeCPUMs: ptr(10.0)},
	}}
	even.figure("A")
	if even.NodeCPURatioP50 == nil || *even.NodeCPURatioP50 != 1.2 {
		t.Errorf("even median %v, want 1.2", even.NodeCPURatioP50)
	}

	// A block without the node's CPU: nothing is compared.
	partial := &Comparison{Baseline: "B", Blocks: []Block{
		{Round: 1, To: "B", Calls: 10, NodeCPUMs: ptr(500.0)}, {Round: 1, To: "A", Calls: 10},
	}}
	partial.figure("A")
	partial.setServeShare(ptr(5.0))
	if partial.NodeCPURatio != nil || partial.NodeCPUMsPerCall != nil || partial.ServeShare != nil {
		t.Errorf("partial: ratio %v, a call %v, share %v; want nil", partial.NodeCPURatio, partial.NodeCPUMsPerCall, partial.ServeShare)
	}
	text.Reset()
	partial.writeText(&text)
	if !strings.Contains(text.String(), "not compared") {
		t.Errorf("partial text:\n%s", text.String())
	}
}

// TestRunCompare places a compared run on the emulator: blocks of each
// number in the order B A A B, every caller its own number, the run's
// figures the called number's calls' alone.
func TestRunCompare(t *testing.T) {
	r := newRig(t)
	doc, err := examples.Read(examples.BasicSupport)
	if err != nil {
		t.Fatal(err)
	}
	const twin = "+15550000101"
	storetest.ServeFlow(t, r.db, account, twin, "support-twin", doc)
	script, err := ParseScript("digits=1;hangup-after-bridge=100ms")
	if err != nil {
		t.Fatal(err)
	}
	measure := Measure{Records: DBRecords(r.db), Grace: 10 * time.Second, Poll: 20 * time.Millisecond,
		ServePID: os.Getpid(), NodePID: os.Getpid(), Logger: testlog.New(t, slog.LevelInfo)}
	rep, err := Run(context.Background(), Config{
		Addr: r.fs.Addr(), To: supportNum, Compare: twin, Rounds: 2, Calls: 4, CPS: 200, Concurrency: 4,
		Script: script, CallTimeout: 30 * time.Second, Measure: measure,
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	c := rep.Compare
	if c == nil {
		t.Fatal("no comparison")
	}
	if rep.Placed != 4 || rep.Completed != 4 || c.Calls.Placed != 4 || c.Calls.Completed != 4 || rep.Bad() != 0 {
		t.Errorf("placed %d completed %d; compared number's placed %d completed %d; bad %d: want 4 of each, none bad",
			rep.Placed, rep.Completed, c.Calls.Placed, c.Calls.Completed, rep.Bad())
	}
	if rep.Lost == nil || *rep.Lost != 0 {
		t.Errorf("lost %v, want 0", rep.Lost)
	}
	var order []string
	for _, b := range c.Blocks {
		order = append(order, b.To)
		if b.Calls != 2 || b.NodeCPUMs == nil || b.ServeCPUMs == nil || b.ElapsedS <= 0 {
			t.Errorf("block %+v: want 2 calls, CPU measured, time taken", b)
		}
	}
	if strings.Join(order, " ") != strings.Join([]string{twin, supportNum, supportNum, twin}, " ") {
		t.Errorf("blocks %v, want B A A B", order)
	}
	if c.NodeCPURatio == nil || *c.NodeCPURatio <= 0 || c.NodeCPURatioP50 == nil || c.ServeShare == nil || c.AboveIdle {
		t.Errorf("ratio %v, round by round %v, serve share %v, above idle %v", c.NodeCPURatio, c.NodeCPURatioP50, c.ServeShare, c.AboveIdle)
	}
	if rep.NodeCPUMsPerCall == nil || rep.ServeCPUMsPerCall == nil || c.DTMFBridgeMsP50Over == nil {
		t.Errorf("run's cpu a call: node %v serve %v; dtmf→bridge over %v", rep.NodeCPUMsPerCall, rep.ServeCPUMsPerCall, c.DTMFBridgeMsP50Over)
	}
	if !strings.Contains(text.String(), "compared    with "+twin+", 2 rounds") {
		t.Errorf("text lacks the comparison")
	}

	// The compared number's calls are not the run's: a number Switchyard
	// refuses fails them, and none counts as lost.
	rep, err = Run(context.Background(), Config{
		Addr: r.fs.Addr(), To: supportNum, Compare: "+15550000999", Rounds: 1, Calls: 2, CPS: 200, Concurrency: 2,
		Script: script, CallTimeout: 30 * time.Second, Measure: measure,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != 2 || rep.Lost == nil || *rep.Lost != 0 || rep.Compare.Calls.Failed != 2 || rep.Bad() != 2 {
		t.Errorf("completed %d lost %v, compared number's failed %d, bad %d: want 2, 0, 2, 2",
			rep.Completed, rep.Lost, rep.Compare.Calls.Failed, rep.Bad())
	}
}

func TestRunCompareConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]Config{
		"rounds alone":     {Addr: "x:1", To: "1", Calls: 4, CPS: 1, Concurrency: 1, Rounds: 2},
		"negative rounds":  {Addr: "x:1", To: "1", Compare: "2", Calls: 4, CPS: 1, Concurrency: 1, Rounds: -1},
		"itself":           {Addr: "x:1", To: "1", Compare: " 1", Calls: 4, CPS: 1, Concurrency: 1},
		"too few calls":    {Addr: "x:1", To: "1", Compare: "2", Calls: 3, CPS: 1, Concurrency: 1, Rounds: 4},
		"twice too many":   {Addr: "x:1", To: "1", Compare: "2", Calls: MaxCalls/2 + 1, CPS: 1, Concurrency: 1},
		"default rounds 4": {Addr: "x:1", To: "1", Compare: "2", Calls: 3, CPS: 1, Concurrency: 1},
	} {
		if _, err := Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "bad config") {
			t.Errorf("%s: %v, want a config error", name, err)
		}
	}
}

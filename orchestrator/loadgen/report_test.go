package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestQuantile(t *testing.T) {
	if _, ok := quantile(nil, 0.5); ok {
		t.Error("quantile of nothing")
	}
	one := []time.Duration{ms(7)}
	for _, q := range []float64{0.01, 0.5, 0.99, 1} {
		if v, _ := quantile(one, q); v != ms(7) {
			t.Errorf("one sample, q %v: %v", q, v)
		}
	}
	// 1..100 ms, shuffled: nearest rank gives the q*100-th.
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, ms(float64((i*37)%100+1)))
	}
	for q, want := range map[float64]time.Duration{0.5: ms(50), 0.99: ms(99), 1: ms(100), 0.01: ms(1), 0.001: ms(1)} {
		if v, _ := quantile(d, q); v != want {
			t.Errorf("q %v: %v, want %v", q, v, want)
		}
	}
	if slices.IsSorted(d) {
		t.Error("quantile sorted its input in place")
	}
	// Ten samples: p99 is the largest, p50 the fifth.
	ten := []time.Duration{ms(10), ms(1), ms(9), ms(2), ms(8), ms(3), ms(7), ms(4), ms(6), ms(5)}
	if v, _ := quantile(ten, 0.99); v != ms(10) {
		t.Errorf("p99 of ten: %v", v)
	}
	if v, _ := quantile(ten, 0.5); v != ms(5) {
		t.Errorf("p50 of ten: %v", v)
	}
}

func TestSummarize(t *testing.T) {
	rep := &Report{Calls: 6}
	summarize(rep, []outcome{
		{setup: ms(100), dtmfBridge: ms(1000), callSID: "a", took: true},
		{setup: ms(300), dtmfBridge: ms(1200.04), callSID: "b", took: true},
		{setup: ms(200), callSID: "c", took: true, cause: CauseNoBridge},
		{cause: "originate: NO_ROUTE_DESTINATION"},
		{cause: CauseNoBridge, took: true, setup: ms(50)},
		{setup: ms(400), callSID: "d", took: true},
	})
	if rep.Placed != 6 || rep.Completed != 3 || rep.Failed != 3 || rep.TookWithoutCallSID != 1 {
		t.Errorf("placed %d completed %d failed %d took without sid %d", rep.Placed, rep.Completed, rep.Failed, rep.TookWithoutCallSID)
	}
	if rep.FailedByCause[CauseNoBridge] != 2 || rep.FailedByCause["originate: NO_ROUTE_DESTINATION"] != 1 || len(rep.FailedByCause) != 2 {
		t.Errorf("by cause %v", rep.FailedByCause)
	}
	if *rep.SetupMsP50 != 200 || *rep.SetupMsP99 != 400 || *rep.SetupMsMax != 400 {
		t.Errorf("setup %v %v %v", *rep.SetupMsP50, *rep.SetupMsP99, *rep.SetupMsMax)
	}
	if *rep.DTMFBridgeMsP50 != 1000 || *rep.DTMFBridgeMsP99 != 1200 {
		t.Errorf("dtmf->bridge %v %v", *rep.DTMFBridgeMsP50, *rep.DTMFBridgeMsP99)
	}

	// JSON: every documented field, nulls where nothing was measured.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"placed", "completed", "failed", "failed_by_cause", "lost", "setup_ms_p50", "setup_ms_p99",
		"dtmf_bridge_ms_p50", "dtmf_bridge_ms_p99", "serve_cpu_ms_per_call", "node_cpu_ms_per_call", "elapsed_s", "achieved_cps"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	for _, k := range []string{"lost", "serve_cpu_ms_per_call", "node_cpu_ms_per_call"} {
		if m[k] != nil {
			t.Errorf("%s = %v, want null", k, m[k])
		}
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{"3 completed, 3 failed", "2  no-bridge", "lost        not checked", "p50 200.0 ms", "not measured"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if rep.Bad() != 3 {
		t.Errorf("bad %d", rep.Bad())
	}
	lost := 12
	rep.Lost = &lost
	for i := range 12 {
		rep.LostCallSIDs = append(rep.LostCallSIDs, strings.Repeat(string(rune('a'+i)), 32))
	}
	if rep.Bad() != 15 {
		t.Errorf("bad with lost %d", rep.Bad())
	}
	text.Reset()
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "lost        12\n  CallSids  aaaa") || !strings.Contains(text.String(), "jjjj and 2 more") {
		t.Errorf("lost calls in text:\n%s", text.String())
	}

	empty := &Report{}
	summarize(empty, nil)
	if empty.SetupMsP50 != nil || empty.DTMFBridgeMsP99 != nil || empty.Placed != 0 {
		t.Errorf("empty run: %+v", empty)
	}
}

func TestCause(t *testing.T) {
	bridge := DefaultScript()
	now := time.Now()
	for _, tc := range []struct {
		name string
		c    *simCall
		want string
	}{
		{"completed", &simCall{script: bridge, answered: true, bridgedAt: now, hungUp: true}, ""},
		{"switchyard ended it", &simCall{script: Script{}, answered: true}, ""},
		{"never reached switchyard", &simCall{script: bridge, jobErr: "NORMAL_TEMPORARY_FAILURE"}, "originate: NORMAL_TEMPORARY_FAILURE"},
		{"taken, never answered", &simCall{script: bridge, jobErr: "NO_ANSWER", took: true}, CauseNoAnswer},
		{"timed out unanswered", &simCall{script: bridge, stop: CauseTimeout}, CauseNoAnswer},
		{"no bridge", &simCall{script: bridge, answered: true, controlledCause: "NORMAL_CLEARING"}, CauseNoBridge},
		{"timed out bridged", &simCall{script: Script{Digits: []string{"1"}}, answered: true, bridgedAt: now, stop: CauseTimeout}, CauseTimeout},
		{"hung up early", &simCall{script: bridge, answered: true, bridgedAt: now, controlledCause: "DESTINATION_OUT_OF_ORDER"}, "hangup: DESTINATION_OUT_OF_ORDER"},
		{"interrupted", &simCall{script: bridge, answered: true, stop: CauseInterrupted}, CauseInterrupted},
		{"command failed", &simCall{script: bridge, answered: true, bridgedAt: now, hungUp: true, cmdErr: "uuid_kill failed"}, "uuid_kill failed"},
	} {
		if got := tc.c.cause(); got != tc.want {
			t.Errorf("%s: cause %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTokenBucket(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newTokenBucket(10, 1, start)
	if w := b.reserve(start); w != 0 {
		t.Errorf("first token waits %v", w)
	}
	if w := b.reserve(start); w != 100*time.Millisecond {
		t.Errorf("second token at once waits %v, want 100ms", w)
	}
	// Taken after its wait, the next is 100 ms further on.
	if w := b.reserve(start.Add(100 * time.Millisecond)); w != 100*time.Millisecond {
		t.Errorf("third waits %v", w)
	}
	// A long pause refills only up to the burst: no catching up.
	later := start.Add(10 * time.Second)
	if w := b.reserve(later); w != 0 {
		t.Errorf("after a pause waits %v", w)
	}
	if w := b.reserve(later); w != 100*time.Millisecond {
		t.Errorf("after a pause, second waits %v", w)
	}
	// Half a call per second: two seconds apart.
	slow := newTokenBucket(0.5, 1, start)
	slow.reserve(start)
	if w := slow.reserve(start); w != 2*time.Second {
		t.Errorf("0.5 cps waits %v", w)
	}
}

// CPU above idle: what the process used less its idle rate over the
// same time, per call.
func TestAboveIdle(t *testing.T) {
	for _, tc := range []struct {
		used  time.Duration
		idle  float64
		span  time.Duration
		calls int
		want  float64
	}{
		{1500 * time.Millisecond, 10, 15 * time.Second, 150, 9}, // 1500 ms - 150 ms idle, over 150 calls
		{1500 * time.Millisecond, 0, 15 * time.Second, 150, 10}, // never idle: all of it
		{100 * time.Millisecond, 10, 15 * time.Second, 10, -5},  // less than idle: negative, not hidden
		{2 * time.Millisecond, 0.5, 2 * time.Second, 3, 0.333},  // rounded to µs
	} {
		m := &cpuMeter{idle: tc.idle}
		before, after := time.Duration(0), tc.used
		_, got := m.used(&before, &after, tc.span).perCall(tc.calls)
		if got == nil || *got != tc.want {
			t.Errorf("above idle (%v, %v ms/s, %v, %d calls) = %v, want %v", tc.used, tc.idle, tc.span, tc.calls, got, tc.want)
		}
	}
	// Not watched idle: the total only.
	before, after := time.Duration(0), 1500*time.Millisecond
	if total, above := (&cpuMeter{idle: -1}).used(&before, &after, 15*time.Second).perCall(150); total == nil || *total != 10 || above != nil {
		t.Errorf("not watched idle: total %v above %v, want 10 and none", total, above)
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 7777 123456 789 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	d, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d != 3250*time.Millisecond {
		t.Errorf("cpu %v, want 3.25s (325 ticks)", d)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// This process, twice: a real reading that never goes backwards.
	m, err := startCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	per, above, err := m.perCall(1)
	if err != nil || per == nil || *per < 0 || above != nil {
		t.Errorf("per call %v, above idle %v (not watched idle: want none), %v", per, above, err)
	}
	if m.idleMsPerS() != nil {
		t.Error("an idle rate without watching the process idle")
	}
	// Watched idle: a rate, and the run's measure starts afresh.
	before := m.start
	if err := m.noteIdle(); err != nil {
		t.Fatal(err)
	}
	if idle := m.idleMsPerS(); idle == nil || *idle < 0 || m.start < before {
		t.Errorf("idle %v ms/s, start %v (was %v)", idle, m.start, before)
	}
	if _, above, err := m.perCall(1); err != nil || above == nil {
		t.Errorf("watched idle: above idle %v, %v", above, err)
	}
	if none, _ := startCPU(0); none != nil {
		t.Error("pid 0 measured")
	}
	if _, err := ProcessCPU(-5); err == nil {
		t.Error("bad pid: no error")
	}
}

// fakeRecords serves call records from a map; a record's final version
// shows up after `after` reads.
type fakeRecords struct {
	mu       sync.Mutex
	calls    map[string]store.Call
	after    map[string]int
	reads    map[string]int
	channels map[string]string // channel uuid -> CallSid
}

func (f *fakeRecords) ChannelCall(_ context.Context, uuid string) (string, error) {
	if sid, ok := f.channels[uuid]; ok {
		return sid, nil
	}
	return "", store.ErrNotFound
}

func (f *fakeRecords) BySID(_ context.Context, sid string) (*store.Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[sid]++
	c, ok := f.calls[sid]
	if !ok {
		return nil, store.ErrNotFound
	}
	if f.reads[sid] <= f.after[sid] {
		c.EndTime = nil
	}
	return &c, nil
}

func TestFindLost(t *testing.T) {
	end := time.Now()
	recs := &fakeRecords{
		calls: map[string]store.Call{
			"done":       {SID: "done", EndTime: &end, HangupCause: "NORMAL_CLEARING"},
			"late":       {SID: "late", EndTime: &end, HangupCause: "NORMAL_CLEARING"},
			"reconciled": {SID: "reconciled", EndTime: &end, HangupCause: call.CauseLost},
			"open":       {SID: "open"},
		},
		after: map[string]int{"late": 3},
		reads: map[string]int{},
	}
	lost, err := findLost(context.Background(), recs, []string{"done", "late", "reconciled", "open", "missing"},
		200*time.Millisecond, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"missing", "open", "reconciled"}; !slices.Equal(lost, want) {
		t.Errorf("lost %v, want %v", lost, want)
	}
	recs.mu.Lock()
	defer recs.mu.Unlock()
	if recs.reads["done"] != 1 || recs.reads["late"] != 4 || recs.reads["open"] < 2 {
		t.Errorf("reads %v: finished records are read once, others until the grace ends", recs.reads)
	}

	// Everything final: no waiting for the grace period.
	quick := &fakeRecords{calls: map[string]store.Call{"done": {SID: "done", EndTime: &end}}, reads: map[string]int{}}
	lost, err = findLost(context.Background(), quick, []string{"done"}, time.Hour, time.Hour, slog.New(slog.DiscardHandler))
	if err != nil || len(lost) != 0 {
		t.Errorf("lost %v err %v", lost, err)
	}
}

// TestCountLostFindsCallsByChannel: calls whose CallSid the tool never saw
// (its connection died) are found by the channel Switchyard controlled;
// only those with no call on that channel, or no channel seen, are lost.
func TestCountLostFindsCallsByChannel(t *testing.T) {
	end := time.Now()
	recs := &fakeRecords{
		calls: map[string]store.Call{
			"seen":       {SID: "seen", EndTime: &end, HangupCause: "NORMAL_CLEARING"},
			"unseen":     {SID: "unseen", EndTime: &end, HangupCause: "NORMAL_CLEARING"},
			"reconciled": {SID: "reconciled", EndTime: &end, HangupCause: call.CauseLost},
		},
		reads:    map[string]int{},
		channels: map[string]string{"ch-unseen": "unseen", "ch-reconciled": "reconciled"},
	}
	g := &generator{cfg: Config{Measure: Measure{Records: recs, Grace: 200 * time.Millisecond, Poll: 5 * time.Millisecond}},
		log: slog.New(slog.DiscardHandler)}
	outs := []outcome{
		{callSID: "seen", took: true, channel: "ch-seen"},
		{cause: CauseConnLost, took: true, channel: "ch-unseen"},
		{cause: CauseConnLost, took: true, channel: "ch-reconciled"},
		{cause: CauseConnLost, took: true, channel: "ch-nobody"},
		{cause: CauseConnLost, took: true},
		{cause: CauseConnLost},
	}
	rep := &Report{}
	summarize(rep, outs)
	if err := g.countLost(context.Background(), rep, outs); err != nil {
		t.Fatal(err)
	}
	if rep.TookWithoutCallSID != 4 {
		t.Errorf("took without CallSid %d, want 4", rep.TookWithoutCallSID)
	}
	// Lost: the reconciled one, the channel with no call, and the one
	// with no channel seen.
	if rep.Lost == nil || *rep.Lost != 3 || !slices.Equal(rep.LostCallSIDs, []string{"reconciled"}) {
		t.Errorf("lost %v %v, want 3 [reconciled]", rep.Lost, rep.LostCallSIDs)
	}
	if recs.reads["unseen"] != 1 {
		t.Errorf("the call found by its channel was read %d times, want 1", recs.reads["unseen"])
	}
}

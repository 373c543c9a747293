package loadgen

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// exposition renders a metrics.Set after steps (applet, latency) and
// store transactions of writes each, as serve's /metrics would.
func exposition(t *testing.T, s *metrics.Set) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics handler: %d", rec.Code)
	}
	return rec.Body.String()
}

// The run's figures are what serve observed between the two reads, over
// every applet: the steps before the run do not count.
func TestServeFiguresCountOnlyTheRun(t *testing.T) {
	m := metrics.New("test")
	// Before the run: slow steps that must not count.
	for range 50 {
		m.AppletStepLatency("ivr", 2*time.Second)
		m.AppletDispatch("ivr", 500*time.Millisecond)
	}
	m.StoreTransaction(time.Millisecond)
	m.StoreWrites(7, 0)
	before, err := parseServeMetrics(strings.NewReader(exposition(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	// The run: 100 steps, 98 of them 1.5–2 ms (the 1–2.5 ms bucket for
	// the reply, 1–2.5 ms for the write), 2 slow ones; over two applets.
	for i := range 100 {
		applet, step, dispatch := "ivr", 2*time.Millisecond, 1500*time.Microsecond
		if i%2 == 1 {
			applet = "connect"
		}
		if i >= 98 {
			step, dispatch = 40*time.Millisecond, 20*time.Millisecond
		}
		m.AppletStepLatency(applet, step)
		m.AppletDispatch(applet, dispatch)
	}
	for range 30 {
		m.StoreTransaction(time.Millisecond)
	}
	m.StoreWrites(120, 0)
	after, err := parseServeMetrics(strings.NewReader(exposition(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	r := &ServeFigures{}
	r.fromMetrics(10, before, after)
	// p50: rank 50 of the 98 in (1 ms, 2.5 ms]: 1 + 1.5 × 50/98 ms.
	// p99: rank 99, the first of the 2 in (25 ms, 50 ms] for the reply,
	// (10 ms, 25 ms] for the write: halfway through the bucket.
	for _, c := range []struct {
		name string
		got  *float64
		want float64
	}{
		{"step p50", r.StepMsP50, 1.77}, {"step p99", r.StepMsP99, 37.5},
		{"dispatch p50", r.DispatchMsP50, 1.77}, {"dispatch p99", r.DispatchMsP99, 17.5},
		{"store tx/call", r.StoreTxPerCall, 3}, {"store writes/call", r.StoreWritesPerCall, 12},
	} {
		if c.got == nil || *c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, fmtPtr(c.got), c.want)
		}
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}

// A quantile past the highest finite bound is that bound; no observation
// is no figure.
func TestHistogramQuantileEdges(t *testing.T) {
	m := metrics.New("test")
	h, err := parseServeMetrics(strings.NewReader(exposition(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.step.quantileMs(0.99); got != nil {
		t.Errorf("p99 of nothing = %v, want nil", *got)
	}
	for range 10 {
		m.AppletStepLatency("ivr", time.Minute)
	}
	h, err = parseServeMetrics(strings.NewReader(exposition(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.step.quantileMs(0.5); got == nil || *got != 5000 {
		t.Errorf("p50 past the last bucket = %v, want 5000 (the last finite bound)", fmtPtr(got))
	}
}

// A /metrics URL that does not answer stops the run before it places a
// call: the figures asked for could not be had.
func TestRunStopsWhenServeMetricsDoNotAnswer(t *testing.T) {
	r := newRig(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rep, err := Run(t.Context(), Config{Addr: r.fs.Addr(), To: supportNum, Calls: 1, CPS: 1, Concurrency: 1,
		Measure: Measure{Metrics: srv.URL}})
	if err == nil || !strings.Contains(err.Error(), "503") || rep != nil {
		t.Errorf("Run = %v, %v; want no report and the 503", rep, err)
	}
	if n := r.fs.Channels(); n != 0 {
		t.Errorf("%d channels up on the node, want none placed", n)
	}
}

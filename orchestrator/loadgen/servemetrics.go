package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The series of serve's /metrics a run reads (package metrics documents
// them).
const (
	metricStep       = "switchyard_applet_step_seconds"
	metricDispatch   = "switchyard_applet_dispatch_seconds"
	metricStoreTx    = "switchyard_store_write_seconds"
	metricStoreWrite = "switchyard_store_writes_total"
)

// scrape is what one read of serve's /metrics held: the step histograms
// summed over applets, and the store's counters.
type scrape struct {
	step, dispatch histogram
	storeTx        float64 // transactions of the store's queue
	storeWrites    float64
}

// histogram is a Prometheus histogram's cumulative buckets: upper bound
// (+Inf last) to the count of observations at or below it.
type histogram map[float64]float64

// readServeMetrics reads serve's /metrics at url.
func readServeMetrics(ctx context.Context, client *http.Client, url string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, fmt.Errorf("serve metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("serve metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("serve metrics: %s answered %s", url, resp.Status)
	}
	return parseServeMetrics(resp.Body)
}

// parseServeMetrics reads a text exposition. A series serve does not
// export (an older version) reads as empty.
func parseServeMetrics(r io.Reader) (scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return scrape{}, fmt.Errorf("serve metrics: %w", err)
	}
	s := scrape{step: sumHistograms(mfs[metricStep]), dispatch: sumHistograms(mfs[metricDispatch])}
	if mf := mfs[metricStoreTx]; mf != nil {
		for _, m := range mf.GetMetric() {
			s.storeTx += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if mf := mfs[metricStoreWrite]; mf != nil {
		for _, m := range mf.GetMetric() {
			s.storeWrites += m.GetCounter().GetValue()
		}
	}
	return s, nil
}

// sumHistograms adds up a histogram family's series (every applet).
func sumHistograms(mf *dto.MetricFamily) histogram {
	h := histogram{}
	if mf == nil {
		return h
	}
	for _, m := range mf.GetMetric() {
		hist := m.GetHistogram()
		if hist == nil {
			continue
		}
		for _, b := range hist.GetBucket() {
			if le := b.GetUpperBound(); !math.IsInf(le, 1) { // the text form lists +Inf too
				h[le] += float64(b.GetCumulativeCount())
			}
		}
		h[math.Inf(1)] += float64(hist.GetSampleCount())
	}
	return h
}

// since is what was observed between an earlier read and this one.
func (h histogram) since(before histogram) histogram {
	d := histogram{}
	for le, n := range h {
		d[le] = n - before[le]
	}
	return d
}

// quantileMs estimates the q-quantile in milliseconds as Prometheus's
// histogram_quantile does: linearly within the bucket it falls in (from
// 0 for the first), and the highest finite bound when it falls past it.
// nil when nothing was observed.
func (h histogram) quantileMs(q float64) *float64 {
	total := h[math.Inf(1)]
	if total <= 0 {
		return nil
	}
	rank := q * total
	lower, below := 0.0, 0.0 // the bucket below: its bound and count
	for _, le := range slices.Sorted(maps.Keys(h)) {
		n := h[le]
		if n >= rank && !math.IsInf(le, 1) {
			ms := round((lower+(le-lower)*(rank-below)/(n-below))*1000, 2)
			return &ms
		}
		if n >= rank {
			break
		}
		lower, below = le, n
	}
	// Past the highest finite bound: that bound is all a histogram knows.
	ms := round(lower*1000, 2)
	return &ms
}

// ServeFigures are what a run measured of serve and the node beside its
// calls. Nullable figures are nil when they were not measured.
type ServeFigures struct {
	// With ServePID and NodePID: CPU per call (from /proc/<pid>/stat).
	ServeCPUMsPerCall *float64 `json:"serve_cpu_ms_per_call"`
	NodeCPUMsPerCall  *float64 `json:"node_cpu_ms_per_call"`
	// With Baseline: each process's CPU a second while idle before the
	// run, and its CPU per call above that rate over the run.
	ServeIdleCPUMsPerS         *float64 `json:"serve_idle_cpu_ms_per_s"`
	NodeIdleCPUMsPerS          *float64 `json:"node_idle_cpu_ms_per_s"`
	ServeCPUMsPerCallAboveIdle *float64 `json:"serve_cpu_ms_per_call_above_idle"`
	NodeCPUMsPerCallAboveIdle  *float64 `json:"node_cpu_ms_per_call_above_idle"`

	// From serve's /metrics (Metrics), over the run. Steps run from an
	// event's arrival at a call to the node's reply to the flow's next
	// blocking command; their dispatch, to that command's write
	// (Switchyard's own part). Quantiles are estimated within the
	// histograms' buckets, as Prometheus's histogram_quantile does.
	StepMsP50          *float64 `json:"step_ms_p50"`
	StepMsP99          *float64 `json:"step_ms_p99"`
	DispatchMsP50      *float64 `json:"dispatch_ms_p50"`
	DispatchMsP99      *float64 `json:"dispatch_ms_p99"`
	StoreTxPerCall     *float64 `json:"store_tx_per_call"`
	StoreWritesPerCall *float64 `json:"store_writes_per_call"`
}

// fromMetrics fills the figures of serve's /metrics read before and
// after a run of calls calls.
func (f *ServeFigures) fromMetrics(calls int, before, after scrape) {
	step, dispatch := after.step.since(before.step), after.dispatch.since(before.dispatch)
	f.StepMsP50, f.StepMsP99 = step.quantileMs(0.50), step.quantileMs(0.99)
	f.DispatchMsP50, f.DispatchMsP99 = dispatch.quantileMs(0.50), dispatch.quantileMs(0.99)
	if calls > 0 {
		tx := round((after.storeTx-before.storeTx)/float64(calls), 2)
		writes := round((after.storeWrites-before.storeWrites)/float64(calls), 2)
		f.StoreTxPerCall, f.StoreWritesPerCall = &tx, &writes
	}
}

func (f *ServeFigures) writeText(w io.Writer) {
	fmt.Fprintf(w, "cpu/call    serve %s, node %s\n", cpuText(f.ServeCPUMsPerCall), cpuText(f.NodeCPUMsPerCall))
	if f.ServeIdleCPUMsPerS != nil || f.NodeIdleCPUMsPerS != nil {
		fmt.Fprintf(w, "above idle  serve %s, node %s (idle: serve %s, node %s a second)\n",
			cpuText(f.ServeCPUMsPerCallAboveIdle), cpuText(f.NodeCPUMsPerCallAboveIdle),
			cpuText(f.ServeIdleCPUMsPerS), cpuText(f.NodeIdleCPUMsPerS))
	}
	if f.StoreTxPerCall != nil {
		fmt.Fprintf(w, "steps       %s to the node's reply; %s to the command's write\n",
			msPair(f.StepMsP50, f.StepMsP99), msPair(f.DispatchMsP50, f.DispatchMsP99))
		fmt.Fprintf(w, "store/call  %.2f transactions, %.2f writes\n", *f.StoreTxPerCall, *f.StoreWritesPerCall)
	}
}

// meter measures a run's ServeFigures: CPU from its start, serve's
// /metrics before and after.
type meter struct {
	serve, node *cpuMeter
	metrics     string
	http        *http.Client
	before      scrape
	log         *slog.Logger
}

// startMeter reads the processes' CPU and serve's /metrics (if asked
// for) at the start of a run, after watching the processes idle for
// baseline (if any).
func startMeter(ctx context.Context, servePID, nodePID int, baseline time.Duration, metricsURL string, client *http.Client, log *slog.Logger) (*meter, error) {
	m := &meter{metrics: metricsURL, http: client, log: log}
	var err error
	if m.serve, err = startCPU(servePID); err != nil {
		return nil, fmt.Errorf("serve pid: %w", err)
	}
	if m.node, err = startCPU(nodePID); err != nil {
		return nil, fmt.Errorf("node pid: %w", err)
	}
	if baseline > 0 && (m.serve != nil || m.node != nil) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(baseline):
		}
		if err := m.serve.noteIdle(); err != nil {
			return nil, fmt.Errorf("serve pid: %w", err)
		}
		if err := m.node.noteIdle(); err != nil {
			return nil, fmt.Errorf("node pid: %w", err)
		}
	}
	if metricsURL != "" {
		if m.before, err = readServeMetrics(ctx, client, metricsURL); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// cpu fills the CPU per call of calls calls.
func (m *meter) cpu(ctx context.Context, f *ServeFigures, calls int) {
	var err error
	f.ServeIdleCPUMsPerS, f.NodeIdleCPUMsPerS = m.serve.idleMsPerS(), m.node.idleMsPerS()
	if f.ServeCPUMsPerCall, f.ServeCPUMsPerCallAboveIdle, err = m.serve.perCall(calls); err != nil {
		m.log.WarnContext(ctx, "loadgen: serve CPU not measured", "err", err)
	}
	if f.NodeCPUMsPerCall, f.NodeCPUMsPerCallAboveIdle, err = m.node.perCall(calls); err != nil {
		m.log.WarnContext(ctx, "loadgen: node CPU not measured", "err", err)
	}
}

// serveMetrics reads serve's /metrics again and fills the figures over
// the run. Call it once the run's final records are in.
func (m *meter) serveMetrics(ctx context.Context, f *ServeFigures, calls int) {
	if m.metrics == "" || ctx.Err() != nil {
		return
	}
	after, err := readServeMetrics(ctx, m.http, m.metrics)
	if err != nil {
		m.log.WarnContext(ctx, "loadgen: serve's metrics not read after the run", "err", err)
		return
	}
	f.fromMetrics(calls, m.before, after)
}

package loadgen

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"
)

// Comparison is what a compared run (Config.Compare) found: what the
// node spent a call on the number called and on the number compared
// with, from blocks of each placed in turn.
//
// A machine's speed drifts over minutes (a virtual machine's more), so
// two runs one after the other can differ by more than what they
// compare. Alternating blocks in one run, in the order A B B A A B ...,
// puts both numbers under the same drift; the ratio of the node's CPU
// over all blocks of each is the run's answer, and the ratio round by
// round (two adjacent blocks) shows how far to trust it.
type Comparison struct {
	// Baseline is the number compared with; Rounds, how many blocks of
	// each number the run placed.
	Baseline string `json:"baseline"`
	Rounds   int    `json:"rounds"`
	// Calls are the baseline's calls, counted and timed as the run's own.
	Calls CallFigures `json:"calls"`
	// AboveIdle: the CPU figures below are above the processes' idle
	// rates (the run watched them idle first: Measure.Baseline).
	AboveIdle bool `json:"above_idle"`
	// NodeCPUMsPerCall and BaselineNodeCPUMsPerCall are the node's CPU
	// a call over all blocks of each number; NodeCPURatio is the first
	// over the second, and NodeCPURatioP50, Min and Max the same ratio
	// round by round (each round's two blocks).
	NodeCPUMsPerCall         *float64 `json:"node_cpu_ms_per_call"`
	BaselineNodeCPUMsPerCall *float64 `json:"baseline_node_cpu_ms_per_call"`
	NodeCPURatio             *float64 `json:"node_cpu_ratio"`
	NodeCPURatioP50          *float64 `json:"node_cpu_ratio_p50"`
	NodeCPURatioMin          *float64 `json:"node_cpu_ratio_min"`
	NodeCPURatioMax          *float64 `json:"node_cpu_ratio_max"`
	// NodeCPURatioLow and High are a 90 % interval of NodeCPURatio: the
	// rounds resampled with replacement (a bootstrap), the ratio of sums
	// of each resample; from 4 rounds on.
	NodeCPURatioLow  *float64 `json:"node_cpu_ratio_low"`
	NodeCPURatioHigh *float64 `json:"node_cpu_ratio_high"`
	// ServeShare is serve's CPU a call of the number called over the
	// node's a call of the baseline's.
	ServeShare *float64 `json:"serve_share_of_baseline_node"`
	// DTMFBridgeMsP50Over is the called number's DTMF→bridge p50 less
	// the baseline's.
	DTMFBridgeMsP50Over *float64 `json:"dtmf_bridge_ms_p50_over_baseline"`
	Blocks              []Block  `json:"blocks"`
}

// Block is one block of a compared run: calls to one number, placed
// after the block before it had ended.
type Block struct {
	Round int    `json:"round"`
	To    string `json:"to"`
	Calls int    `json:"calls"`
	// Started is when the block's first call was placed; ElapsedS runs
	// from then to the end of its last call (a profile of the node taken
	// over the run can be cut along them).
	Started  time.Time `json:"started"`
	ElapsedS float64   `json:"elapsed_s"`
	// NodeCPUMs and ServeCPUMs are the process's CPU over the block, less
	// its idle rate over as long when the run watched it idle; nil when
	// not measured.
	NodeCPUMs  *float64 `json:"node_cpu_ms"`
	ServeCPUMs *float64 `json:"serve_cpu_ms"`
}

// compare places a compared run's blocks, fills rep.Compare and rep's CPU
// figures (the called number's blocks only) and returns the called
// number's outcomes.
func (g *generator) compare(ctx context.Context, m *meter, rep *Report) []outcome {
	cfg := g.cfg
	c := &Comparison{Baseline: cfg.Compare, Rounds: cfg.Rounds, AboveIdle: m.serve.watchedIdle() || m.node.watchedIdle()}
	var own, base []outcome
	var ownBlocks, all []block
	var serve, node usage // over the called number's blocks
	offset := 0
	for r := range cfg.Rounds {
		n := cfg.Calls / cfg.Rounds
		if r < cfg.Calls%cfg.Rounds {
			n++
		}
		order := []string{cfg.Compare, cfg.To}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, to := range order {
			if ctx.Err() != nil {
				break
			}
			before := m.read()
			b := g.place(ctx, to, n, offset)
			after := m.read()
			offset += n
			all = append(all, b)
			blk := Block{Round: r + 1, To: to, Calls: len(b.outs)}
			if blk.Calls > 0 {
				blk.Started, blk.ElapsedS = b.first, round(b.end.Sub(b.first).Seconds(), 3)
			}
			span := after.at.Sub(before.at)
			s, nd := m.serve.used(before.serve, after.serve, span), m.node.used(before.node, after.node, span)
			blk.ServeCPUMs, blk.NodeCPUMs = s.blockMs(), nd.blockMs()
			c.Blocks = append(c.Blocks, blk)
			if to == cfg.To {
				own = append(own, b.outs...)
				ownBlocks = append(ownBlocks, b)
				serve.add(s)
				node.add(nd)
			} else {
				base = append(base, b.outs...)
			}
		}
	}
	c.Calls = figures(base)
	c.figure(cfg.To)
	f := &rep.ServeFigures
	f.ServeIdleCPUMsPerS, f.NodeIdleCPUMsPerS = m.serve.idleMsPerS(), m.node.idleMsPerS()
	f.ServeCPUMsPerCall, f.ServeCPUMsPerCallAboveIdle = serve.perCall(len(own))
	f.NodeCPUMsPerCall, f.NodeCPUMsPerCallAboveIdle = node.perCall(len(own))
	if c.AboveIdle {
		c.setServeShare(f.ServeCPUMsPerCallAboveIdle)
	} else {
		c.setServeShare(f.ServeCPUMsPerCall)
	}
	rep.ElapsedS, _ = pace(all)
	_, rep.AchievedCPS = pace(ownBlocks)
	rep.Compare = c
	return own
}

// figure sets the comparison's ratios from its blocks; to is the number
// called. A ratio needs the node's CPU of every block of both numbers.
func (c *Comparison) figure(to string) {
	rounds := map[int]*roundSums{}
	var order []int
	for _, b := range c.Blocks {
		if b.NodeCPUMs == nil {
			return
		}
		if b.Calls == 0 {
			continue
		}
		r := rounds[b.Round]
		if r == nil {
			r = &roundSums{}
			rounds[b.Round] = r
			order = append(order, b.Round)
		}
		if b.To == to {
			r.ownMs, r.ownCalls = r.ownMs+*b.NodeCPUMs, r.ownCalls+b.Calls
		} else {
			r.baseMs, r.baseCalls = r.baseMs+*b.NodeCPUMs, r.baseCalls+b.Calls
		}
	}
	var all roundSums
	var ratios []float64
	var both []roundSums // rounds with blocks of both numbers
	for _, n := range order {
		r := *rounds[n]
		all.add(r)
		if r.ownCalls > 0 && r.baseCalls > 0 && r.baseMs > 0 {
			ratios = append(ratios, r.ratio())
			both = append(both, r)
		}
	}
	if all.ownCalls == 0 || all.baseCalls == 0 {
		return
	}
	own, base := all.ownMs/float64(all.ownCalls), all.baseMs/float64(all.baseCalls)
	c.NodeCPUMsPerCall, c.BaselineNodeCPUMsPerCall = ptr(round(own, 3)), ptr(round(base, 3))
	if base <= 0 {
		return
	}
	c.NodeCPURatio = ptr(round(own/base, 3))
	if len(ratios) > 0 {
		slices.Sort(ratios)
		c.NodeCPURatioP50 = ptr(round(median(ratios), 3))
		c.NodeCPURatioMin, c.NodeCPURatioMax = ptr(round(ratios[0], 3)), ptr(round(ratios[len(ratios)-1], 3))
	}
	if lo, hi, ok := bootstrap(both); ok {
		c.NodeCPURatioLow, c.NodeCPURatioHigh = ptr(round(lo, 3)), ptr(round(hi, 3))
	}
}

// roundSums are one round's blocks (or several rounds') added up: the
// node's CPU and the calls of each number.
type roundSums struct {
	ownMs, baseMs       float64
	ownCalls, baseCalls int
}

func (r *roundSums) add(o roundSums) {
	r.ownMs, r.baseMs = r.ownMs+o.ownMs, r.baseMs+o.baseMs
	r.ownCalls, r.baseCalls = r.ownCalls+o.ownCalls, r.baseCalls+o.baseCalls
}

// ratio is the called number's CPU a call over the baseline's.
func (r roundSums) ratio() float64 {
	return (r.ownMs / float64(r.ownCalls)) / (r.baseMs / float64(r.baseCalls))
}

// Resampling for the ratio's interval: how many times, and from which
// seed (fixed, so a run's report can be computed again from its blocks).
const (
	resamples         = 2000
	resampleSeed      = 1
	minIntervalRounds = 4
)

// bootstrap is a 90 % interval of the ratio of sums over rounds: the
// rounds resampled with replacement resamples times, the 5th and 95th
// percentiles of the ratios. Fewer than minIntervalRounds rounds give none.
func bootstrap(rounds []roundSums) (lo, hi float64, ok bool) {
	if len(rounds) < minIntervalRounds {
		return 0, 0, false
	}
	rng := rand.New(rand.NewPCG(resampleSeed, resampleSeed))
	ratios := make([]float64, 0, resamples)
	for range resamples {
		var sum roundSums
		for range rounds {
			sum.add(rounds[rng.IntN(len(rounds))])
		}
		if sum.baseMs > 0 {
			ratios = append(ratios, sum.ratio())
		}
	}
	if len(ratios) == 0 {
		return 0, 0, false
	}
	slices.Sort(ratios)
	at := func(q float64) float64 { return ratios[min(int(q*float64(len(ratios))), len(ratios)-1)] }
	return at(0.05), at(0.95), true
}

// setDTMFOver sets DTMFBridgeMsP50Over from the called number's p50.
func (c *Comparison) setDTMFOver(p50 *float64) {
	if p50 != nil && c.Calls.DTMFBridgeMsP50 != nil {
		c.DTMFBridgeMsP50Over = ptr(round(*p50-*c.Calls.DTMFBridgeMsP50, 1))
	}
}

// setServeShare sets ServeShare from serve's CPU a call of the number
// called.
func (c *Comparison) setServeShare(serveMsPerCall *float64) {
	if serveMsPerCall == nil || c.BaselineNodeCPUMsPerCall == nil || *c.BaselineNodeCPUMsPerCall <= 0 {
		return
	}
	c.ServeShare = ptr(round(*serveMsPerCall / *c.BaselineNodeCPUMsPerCall, 4))
}

// median of sorted values (at least one).
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func ptr[T any](v T) *T { return &v }

func (c *Comparison) writeText(w io.Writer) {
	fmt.Fprintf(w, "compared    with %s, %d rounds of a block of each\n", c.Baseline, c.Rounds)
	fmt.Fprintf(w, "  its calls %d placed, %d completed, %d failed; setup %s; dtmf→bridge %s\n",
		c.Calls.Placed, c.Calls.Completed, c.Calls.Failed, msTriple(c.Calls.SetupMsP50, c.Calls.SetupMsP99, c.Calls.SetupMsMax),
		msTriple(c.Calls.DTMFBridgeMsP50, c.Calls.DTMFBridgeMsP99, c.Calls.DTMFBridgeMsMax))
	if c.NodeCPURatio == nil {
		fmt.Fprintln(w, "  node      not compared (no --node-pid, or a block without calls)")
		return
	}
	idle := ""
	if c.AboveIdle {
		idle = " above idle"
	}
	fmt.Fprintf(w, "  node      %.2f ms a call, %.2f ms on %s%s: %.3f×", *c.NodeCPUMsPerCall, *c.BaselineNodeCPUMsPerCall, c.Baseline, idle, *c.NodeCPURatio)
	if c.NodeCPURatioLow != nil {
		fmt.Fprintf(w, " (90 %% interval %.3f× to %.3f×)", *c.NodeCPURatioLow, *c.NodeCPURatioHigh)
	}
	if c.NodeCPURatioP50 != nil {
		fmt.Fprintf(w, " (round by round: median %.3f×, %.3f× to %.3f×)", *c.NodeCPURatioP50, *c.NodeCPURatioMin, *c.NodeCPURatioMax)
	}
	fmt.Fprintln(w)
	if c.ServeShare != nil {
		fmt.Fprintf(w, "  serve     %.1f %% of the node's CPU a call on %s\n", *c.ServeShare*100, c.Baseline)
	}
	if c.DTMFBridgeMsP50Over != nil {
		fmt.Fprintf(w, "  dtmf→bridge p50 %+.1f ms against %s\n", *c.DTMFBridgeMsP50Over, c.Baseline)
	}
}

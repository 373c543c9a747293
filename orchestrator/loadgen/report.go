package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Causes of failed calls that are not a node's words.
const (
	// CauseNoAnswer: Switchyard never answered the call.
	CauseNoAnswer = "no-answer-from-switchyard"
	// CauseNoBridge: the script expects a bridge that never happened.
	CauseNoBridge = "no-bridge"
	// CauseTimeout: the call outlived the per-call timeout after it was
	// answered (and bridged, if the script expects that).
	CauseTimeout = "timeout"
	// CauseInterrupted: the run was stopped while the call was up.
	CauseInterrupted = "interrupted"
	// CauseConnLost: the event socket connection closed mid-call.
	CauseConnLost = "connection-lost"
	// CauseOverflow: the call's events came faster than it read them.
	CauseOverflow = "event-overflow"
)

// outcome is one call's result.
type outcome struct {
	// cause is "" for a completed call, else why it failed.
	cause string
	// setup: originate sent -> controlled channel answered (0: never).
	setup time.Duration
	// dtmfBridge: the last digits sent -> CHANNEL_BRIDGE (0: none).
	dtmfBridge time.Duration
	// callSID is Switchyard's id for the call ("" if never seen).
	callSID string
	// took: the socket application ran on the controlled channel.
	took bool
	// channel is the controlled channel's Unique-ID ("" if never seen).
	channel string
}

// CallFigures count a set of calls and time them. Nullable figures are
// nil when no call gave one.
type CallFigures struct {
	Placed        int            `json:"placed"`
	Completed     int            `json:"completed"`
	Failed        int            `json:"failed"`
	FailedByCause map[string]int `json:"failed_by_cause"`

	SetupMsP50      *float64 `json:"setup_ms_p50"`
	SetupMsP99      *float64 `json:"setup_ms_p99"`
	SetupMsMax      *float64 `json:"setup_ms_max"`
	DTMFBridgeMsP50 *float64 `json:"dtmf_bridge_ms_p50"`
	DTMFBridgeMsP99 *float64 `json:"dtmf_bridge_ms_p99"`
	DTMFBridgeMsMax *float64 `json:"dtmf_bridge_ms_max"`
}

// Report is the summary of a run. Nullable figures are nil when they were
// not measured.
type Report struct {
	Script string `json:"script"`
	Calls  int    `json:"calls"` // asked for
	CallFigures
	// Lost is nil when no database was checked.
	Lost         *int     `json:"lost"`
	LostCallSIDs []string `json:"lost_call_sids,omitempty"`
	// TookWithoutCallSID counts calls whose socket application ran but
	// whose CallSid was never seen. With a database checked, each is
	// looked up by the channel Switchyard controlled, and counted lost
	// only when no call has that channel as a leg (or no channel was
	// seen either).
	TookWithoutCallSID int `json:"took_without_call_sid"`
	// HungUpLate counts callers the tool could not hang up when it gave
	// their calls up (its connections to the node had died) and hung up
	// afterwards over a new connection, so that Switchyard heard those
	// calls end before lost calls were counted.
	HungUpLate int `json:"hung_up_late,omitempty"`

	ServeFigures

	PeakInFlight int `json:"peak_in_flight"`
	// ElapsedS runs from the first originate to the end of the last call.
	ElapsedS float64 `json:"elapsed_s"`
	// AchievedCPS is the placement rate: calls placed after the first,
	// over the time from the first originate to the last (of each block,
	// in a compared run).
	AchievedCPS float64 `json:"achieved_cps"`

	// Compare is a compared run's account (Config.Compare); the figures
	// above are To's calls' alone.
	Compare *Comparison `json:"compare,omitempty"`
}

// Bad is the number of calls that failed or were lost, the compared
// number's failed calls included.
func (r *Report) Bad() int {
	n := r.Failed
	if r.Lost != nil {
		n += *r.Lost
	}
	if r.Compare != nil {
		n += r.Compare.Calls.Failed
	}
	return n
}

// summarize fills the call counts and latencies from the outcomes.
func summarize(r *Report, outs []outcome) {
	r.CallFigures = figures(outs)
	for _, o := range outs {
		if o.took && o.callSID == "" {
			r.TookWithoutCallSID++
		}
	}
}

// figures counts and times a set of calls.
func figures(outs []outcome) CallFigures {
	f := CallFigures{Placed: len(outs), FailedByCause: map[string]int{}}
	var setups, bridges []time.Duration
	for _, o := range outs {
		if o.cause == "" {
			f.Completed++
		} else {
			f.Failed++
			f.FailedByCause[o.cause]++
		}
		if o.setup > 0 {
			setups = append(setups, o.setup)
		}
		if o.dtmfBridge > 0 {
			bridges = append(bridges, o.dtmfBridge)
		}
	}
	f.SetupMsP50, f.SetupMsP99, f.SetupMsMax = msQuantile(setups, 0.50), msQuantile(setups, 0.99), msQuantile(setups, 1)
	f.DTMFBridgeMsP50, f.DTMFBridgeMsP99, f.DTMFBridgeMsMax = msQuantile(bridges, 0.50), msQuantile(bridges, 0.99), msQuantile(bridges, 1)
	return f
}

// quantile is the nearest-rank q-quantile (0 < q <= 1) of d: the smallest
// sample with at least q of the samples at or below it. ok is false for no
// samples.
func quantile(d []time.Duration, q float64) (v time.Duration, ok bool) {
	if len(d) == 0 {
		return 0, false
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(q * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1], true
}

func msQuantile(d []time.Duration, q float64) *float64 {
	v, ok := quantile(d, q)
	if !ok {
		return nil
	}
	ms := round(float64(v)/float64(time.Millisecond), 1)
	return &ms
}

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// maxTextSIDs is how many lost CallSids the text summary lists.
const maxTextSIDs = 10

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "script      %s\n", cmp.Or(r.Script, "(none: the caller waits for Switchyard to hang up)"))
	fmt.Fprintf(w, "calls       %d placed of %d, %d completed, %d failed, peak %d in flight\n",
		r.Placed, r.Calls, r.Completed, r.Failed, r.PeakInFlight)
	for _, c := range slices.Sorted(maps.Keys(r.FailedByCause)) {
		fmt.Fprintf(w, "  failed    %5d  %s\n", r.FailedByCause[c], c)
	}
	if r.HungUpLate > 0 {
		fmt.Fprintf(w, "  %d callers hung up late, over a new connection: the tool's had died\n", r.HungUpLate)
	}
	if writeLost(w, r.Lost, r.LostCallSIDs) {
		if r.TookWithoutCallSID > 0 {
			fmt.Fprintf(w, "  %d taken by Switchyard without a CallSid\n", r.TookWithoutCallSID)
		}
	}
	fmt.Fprintf(w, "setup       %s (originate -> Switchyard answers)\n", msTriple(r.SetupMsP50, r.SetupMsP99, r.SetupMsMax))
	fmt.Fprintf(w, "dtmf→bridge %s (digits sent -> bridged)\n", msTriple(r.DTMFBridgeMsP50, r.DTMFBridgeMsP99, r.DTMFBridgeMsMax))
	r.ServeFigures.writeText(w)
	fmt.Fprintf(w, "elapsed     %.1f s, %.2f calls/s placed\n", r.ElapsedS, r.AchievedCPS)
	if r.Compare != nil {
		r.Compare.writeText(w)
	}
}

// writeLost prints the lost calls, or that they were not counted;
// counted reports whether they were.
func writeLost(w io.Writer, lost *int, sids []string) (counted bool) {
	if lost == nil {
		fmt.Fprintln(w, "lost        not checked (no --db)")
		return false
	}
	fmt.Fprintf(w, "lost        %d\n", *lost)
	writeSIDs(w, "CallSids", sids)
	return true
}

// writeSIDs prints the first maxTextSIDs of sids under label.
func writeSIDs(w io.Writer, label string, sids []string) {
	if n := len(sids); n > 0 {
		fmt.Fprintf(w, "  %-9s %s%s\n", label, strings.Join(sids[:min(n, maxTextSIDs)], " "), moreText(n))
	}
}

func msTriple(p50, p99, top *float64) string {
	if p50 == nil {
		return "p50 -, p99 -, max -"
	}
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms", *p50, *p99, *top)
}

func msPair(p50, p99 *float64) string {
	if p50 == nil {
		return "p50 -, p99 -"
	}
	return fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", *p50, *p99)
}

func cpuText(v *float64) string {
	if v == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.2f ms", *v)
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// APIReport is the summary of an API run. Nullable figures are nil when
// they were not measured.
type APIReport struct {
	Mode  string `json:"mode"` // "api"
	Calls int    `json:"calls"`
	Sent  int    `json:"sent"`
	// Accepted requests got a call (HTTP 200 with its Sid); Refused ones
	// did not, by cause ("http 429", "error: timeout", ...).
	Accepted  int            `json:"accepted"`
	Refused   int            `json:"refused"`
	RefusedBy map[string]int `json:"refused_by"`
	// Ended is the accepted calls whose terminal callback came, by the
	// status it gave; CallbacksMissing those whose never came (within
	// APIConfig.Wait).
	Ended              int            `json:"ended"`
	EndedByStatus      map[string]int `json:"ended_by_status"`
	CallbacksMissing   int            `json:"callbacks_missing"`
	MissingCallSIDs    []string       `json:"missing_call_sids,omitempty"`
	DuplicateCallbacks int            `json:"duplicate_callbacks"`
	StrayCallbacks     int            `json:"stray_callbacks"` // for calls this run did not place
	MalformedCallbacks int            `json:"malformed_callbacks"`
	CallbackWaitS      float64        `json:"callback_wait_s,omitempty"`
	LastCallbackAfterS *float64       `json:"last_callback_after_s"` // from the first request
	LastResponseAfterS float64        `json:"last_response_after_s"`
	AchievedCPS        float64        `json:"achieved_cps"`
	RequestMsP50       *float64       `json:"request_ms_p50"`
	RequestMsP99       *float64       `json:"request_ms_p99"`
	RequestMsMax       *float64       `json:"request_ms_max"`
	Lost               *int           `json:"lost"` // accepted without a final record (needs Records)
	LostCallSIDs       []string       `json:"lost_call_sids,omitempty"`
	CallbackLagMsP50   *float64       `json:"callback_lag_ms_p50"` // the call's end -> its callback (needs Records)
	CallbackLagMsP99   *float64       `json:"callback_lag_ms_p99"`
	CallbackLagMsMax   *float64       `json:"callback_lag_ms_max"`
	ServeFigures

	// callbackArrivals: when each ended call's callback came.
	callbackArrivals map[string]time.Time
}

// Bad is the number of accepted calls that were lost or whose terminal
// callback never came. Refused requests are not counted: a refusal in the
// API's own words is an answer.
func (r *APIReport) Bad() int {
	n := r.CallbacksMissing
	if r.Lost != nil {
		n += *r.Lost
	}
	return n
}

// report sums up the requests and what the receiver took.
func (r *apiRun) report(got received, first, last time.Time) *APIReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &APIReport{Mode: "api", Calls: r.cfg.Calls, Sent: int(r.sent.Load()), Accepted: len(got.accepted),
		RefusedBy: maps.Clone(r.refused), EndedByStatus: map[string]int{}, DuplicateCallbacks: got.dupes,
		StrayCallbacks: got.strays, MalformedCallbacks: got.malformed, callbackArrivals: map[string]time.Time{}}
	for _, n := range r.refused {
		rep.Refused += n
	}
	var lastEnd time.Time
	for _, sid := range got.accepted {
		t, ok := got.ends[sid]
		if !ok {
			rep.MissingCallSIDs = append(rep.MissingCallSIDs, sid)
			continue
		}
		rep.Ended++
		rep.EndedByStatus[t.status]++
		rep.callbackArrivals[sid] = t.at
		if t.at.After(lastEnd) {
			lastEnd = t.at
		}
	}
	rep.CallbacksMissing = len(rep.MissingCallSIDs)
	if !first.IsZero() {
		if !lastEnd.IsZero() {
			s := round(lastEnd.Sub(first).Seconds(), 3)
			rep.LastCallbackAfterS = &s
		}
		if span := last.Sub(first); rep.Sent > 1 && span > 0 {
			rep.AchievedCPS = round(float64(rep.Sent-1)/span.Seconds(), 2)
		}
	}
	if !first.IsZero() && !r.lastAnswer.IsZero() {
		rep.LastResponseAfterS = round(r.lastAnswer.Sub(first).Seconds(), 3)
	}
	rep.RequestMsP50, rep.RequestMsP99, rep.RequestMsMax = msQuantile(r.requests, 0.5), msQuantile(r.requests, 0.99), msQuantile(r.requests, 1)
	return rep
}

// countLost reads the accepted calls' records: those without a final
// record after the grace period, or closed by the reconciler, are lost;
// for the others, how long after its end each callback came.
func (r *apiRun) countLost(ctx context.Context, rep *APIReport, sids []string) error {
	lost, err := findLost(ctx, r.cfg.Records, sids, r.cfg.Grace, r.cfg.Poll, r.cfg.Logger)
	if err != nil {
		return err
	}
	n := len(lost)
	rep.Lost, rep.LostCallSIDs = &n, lost
	var lags []time.Duration
	for sid, at := range rep.callbackArrivals {
		c, err := r.cfg.Records.BySID(ctx, sid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("reading call %s: %w", sid, err)
		case c.EndTime == nil:
			continue
		}
		lags = append(lags, max(at.Sub(*c.EndTime), 0))
	}
	rep.CallbackLagMsP50, rep.CallbackLagMsP99, rep.CallbackLagMsMax = msQuantile(lags, 0.5), msQuantile(lags, 0.99), msQuantile(lags, 1)
	return nil
}

// WriteText prints the report for people.
func (r *APIReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "requests    %d sent of %d, %d accepted, %d refused, %.2f/s\n", r.Sent, r.Calls, r.Accepted, r.Refused, r.AchievedCPS)
	for _, c := range slices.Sorted(maps.Keys(r.RefusedBy)) {
		fmt.Fprintf(w, "  refused   %5d  %s\n", r.RefusedBy[c], c)
	}
	fmt.Fprintf(w, "            %s (request -> answer)\n", msTriple(r.RequestMsP50, r.RequestMsP99, r.RequestMsMax))
	fmt.Fprintf(w, "callbacks   %d of %d calls ended, %d missing, %d duplicates, %d for other calls, %d unreadable\n",
		r.Ended, r.Accepted, r.CallbacksMissing, r.DuplicateCallbacks, r.StrayCallbacks, r.MalformedCallbacks)
	for _, s := range slices.Sorted(maps.Keys(r.EndedByStatus)) {
		fmt.Fprintf(w, "  ended     %5d  %s\n", r.EndedByStatus[s], s)
	}
	writeSIDs(w, "missing", r.MissingCallSIDs)
	if writeLost(w, r.Lost, r.LostCallSIDs) {
		fmt.Fprintf(w, "callback    %s (the call's end -> its callback)\n", msTriple(r.CallbackLagMsP50, r.CallbackLagMsP99, r.CallbackLagMsMax))
	}
	r.ServeFigures.writeText(w)
	last := "-"
	if r.LastCallbackAfterS != nil {
		last = fmt.Sprintf("%.1f s", *r.LastCallbackAfterS)
	}
	fmt.Fprintf(w, "elapsed     last answer %.1f s, last callback %s after the first request\n", r.LastResponseAfterS, last)
}

func moreText(n int) string {
	if n > maxTextSIDs {
		return fmt.Sprintf(" and %d more", n-maxTextSIDs)
	}
	return ""
}

package campaign

import (
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Retry limits (Exotel's).
const (
	MaxRetries = 3
	// MaxIntervalMins bounds interval_mins (a week).
	MaxIntervalMins = 7 * 24 * 60
)

// Retry mechanisms.
const (
	Linear      = "Linear"
	Exponential = "Exponential"
)

// RetryStatuses are the attempt outcomes a campaign may retry on.
var RetryStatuses = []string{store.NumberBusy, store.NumberNoAnswer, store.NumberFailed}

// AttemptStatus is a campaign attempt's outcome from its call's final
// status: completed, busy, no-answer or failed (canceled counts as
// failed).
func AttemptStatus(s store.Status) string {
	switch s {
	case store.Completed:
		return store.NumberCompleted
	case store.Busy:
		return store.NumberBusy
	case store.NoAnswer:
		return store.NumberNoAnswer
	}
	return store.NumberFailed
}

// RetryAt returns when a number whose attempt (1-based) ended with status
// at at is called again, or nil if it is not: the policy allows
// NumberOfRetries attempts after the first, on the statuses in OnStatus
// (all of RetryStatuses if none), IntervalMins apart (Linear) or doubling
// from IntervalMins (Exponential: 1, 2, 4 times).
func RetryAt(p store.RetryPolicy, attempt int, status string, at time.Time) *time.Time {
	if attempt > p.NumberOfRetries || status == store.NumberCompleted {
		return nil
	}
	on := p.OnStatus
	if len(on) == 0 {
		on = RetryStatuses
	}
	if !slices.Contains(on, status) {
		return nil
	}
	wait := time.Duration(max(p.IntervalMins, 0)) * time.Minute
	if strings.EqualFold(p.Mechanism, Exponential) {
		wait <<= attempt - 1
	}
	t := at.Add(wait)
	return &t
}

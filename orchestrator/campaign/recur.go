package campaign

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseRecurrence checks a recurring campaign's cron expression: five
// fields (minute hour day-of-month month day-of-week) or a descriptor
// such as @daily, in the campaign's zone.
func ParseRecurrence(expr string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("recurrence %q: %w", expr, err)
	}
	return s, nil
}

// NextRun returns the first time after after that expr fires, read in
// loc's local time (so "0 10 * * 1-5" is 10:00 local on weekdays, across
// daylight saving changes), or the zero time if it never does.
func NextRun(expr string, loc *time.Location, after time.Time) (time.Time, error) {
	s, err := ParseRecurrence(expr)
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(after.In(loc)), nil
}

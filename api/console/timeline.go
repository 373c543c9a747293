package console

import (
	"fmt"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// timelineWidth is the width of a timeline bar's coordinate space (its
// SVG viewBox); bars are stretched to the width of the page.
const timelineWidth = 1000

// timeline is a call and its legs as bars on a common time axis: each
// leg rings from its start to its answer, then talks until its end.
type timeline struct {
	Start, End string
	Rows       []timelineRow
}

type timelineRow struct {
	Label, From, To string
	Status          store.Status
	Ring, Talk      bar
	// Summary says the same as the bars, in words.
	Summary string
}

// bar is a span of the axis: X and W in 0..timelineWidth.
type bar struct{ X, W float64 }

// buildTimeline lays the call and its legs out on one axis from the
// earliest start to the latest end (now for what has not ended).
func buildTimeline(call *store.Call, legs []store.Leg, now time.Time, when func(time.Time) string) timeline {
	end := func(t *time.Time) time.Time {
		if t == nil {
			return now
		}
		return *t
	}
	t0, t1 := call.StartTime, end(call.EndTime)
	for _, l := range legs {
		if l.StartTime.Before(t0) {
			t0 = l.StartTime
		}
		if e := end(l.EndTime); e.After(t1) {
			t1 = e
		}
	}
	span := max(t1.Sub(t0), time.Second)
	x := func(t time.Time) float64 {
		v := float64(t.Sub(t0)) / float64(span) * timelineWidth
		return min(max(v, 0), timelineWidth)
	}
	row := func(label, from, to string, status store.Status, start time.Time, answer, stop *time.Time) timelineRow {
		e := end(stop)
		r := timelineRow{Label: label, From: from, To: to, Status: status}
		ringEnd := e
		if answer != nil {
			ringEnd = *answer
			r.Talk = bar{X: x(*answer), W: x(e) - x(*answer)}
		}
		r.Ring = bar{X: x(start), W: x(ringEnd) - x(start)}
		ring := ringEnd.Sub(start).Round(time.Second)
		r.Summary = fmt.Sprintf("started %s, rang %s", when(start), ring)
		if answer != nil {
			r.Summary += fmt.Sprintf(", talked %s", e.Sub(*answer).Round(time.Second))
		} else {
			r.Summary += ", not answered"
		}
		if stop == nil {
			r.Summary += ", still up"
		}
		return r
	}
	tl := timeline{Start: when(t0), End: when(t1)}
	tl.Rows = append(tl.Rows, row("Call", call.From, call.To, call.Status, call.StartTime, call.AnswerTime, call.EndTime))
	for _, l := range legs {
		tl.Rows = append(tl.Rows, row(fmt.Sprintf("Leg %d (%s)", l.Seq, l.Direction), l.From, l.To, l.Status,
			l.StartTime, l.AnswerTime, l.EndTime))
	}
	return tl
}

package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// The campaign plot's coordinate space (its SVG viewBox) and the area
// the bars take in it.
const (
	plotWidth  = 600
	plotHeight = 200
	plotLeft   = 40
	plotRight  = 590
	plotTop    = 10
	plotBottom = 170
	// plotMaxBars caps the buckets: the bucket grows until the calls fit.
	plotMaxBars = 60
)

// plotBuckets are the bucket sizes tried, smallest first.
var plotBuckets = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// plot is a campaign's calls over time: per bucket, a bar of the calls
// placed and, inside it, of those answered.
type plot struct {
	Bars        []plotBar
	YMax        int
	From, To    string
	Bucket      string
	Summary     string
	Width       int
	Height      int
	Left, Right int
	Top, Bottom int
	LabelY      int
	MaxY, ZeroY int
	Empty       bool
	// RateLine is the answer rate's polyline (SVG points; "" without
	// calls); Keys the legend.
	RateLine   string
	RatePoints []plotPoint
	Keys       []plotKey
}

// plotPoint is a point of the answer-rate line, marked with a dot (one
// bucket alone draws no line).
type plotPoint struct{ X, Y float64 }

// plotKey is a legend entry.
type plotKey struct{ Class, Label string }

type plotBar struct {
	X, W             float64
	PlacedY, PlacedH float64
	// Segments stack the bucket's calls by outcome, answered at the
	// bottom.
	Segments []plotSegment
	// Title is the bar's tooltip: when and how many of each.
	Title string
}

type plotSegment struct {
	Class string
	Y, H  float64
}

// plotOutcome is an outcome the plot stacks, in stacking order.
type plotOutcome struct {
	Status, Class, Label string
}

var plotOutcomes = []plotOutcome{
	{store.NumberCompleted, "answered", "answered"},
	{store.NumberBusy, "busy", "busy"},
	{store.NumberNoAnswer, "noanswer", "no answer"},
	{store.NumberFailed, "failed", "failed"},
	{store.AttemptDialing, "dialing", "in progress"},
}

// callsPlot buckets a campaign's calls by when they were placed: per
// bucket a bar of the calls placed (the dial rate), stacked by outcome,
// and a line of the share answered (the answer rate, on the right axis).
func callsPlot(marks []store.AttemptMark, when func(time.Time) string) plot {
	p := plot{Width: plotWidth, Height: plotHeight, Left: plotLeft, Right: plotRight, Top: plotTop,
		Bottom: plotBottom, LabelY: plotBottom + 16, MaxY: plotTop + 4, ZeroY: plotBottom}
	for _, o := range plotOutcomes {
		p.Keys = append(p.Keys, plotKey{Class: o.Class, Label: o.Label})
	}
	if len(marks) == 0 {
		p.Empty = true
		p.Summary = "No calls placed yet."
		return p
	}
	first, last := marks[0].At, marks[0].At
	for _, m := range marks {
		if m.At.Before(first) {
			first = m.At
		}
		if m.At.After(last) {
			last = m.At
		}
	}
	bucket := plotBuckets[len(plotBuckets)-1]
	for _, b := range plotBuckets {
		if int(last.Sub(first.Truncate(b))/b)+1 <= plotMaxBars {
			bucket = b
			break
		}
	}
	start := first.Truncate(bucket)
	n := min(int(last.Sub(start)/bucket)+1, plotMaxBars)
	placed := make([]int, n)
	byOutcome := make([]map[string]int, n)
	for i := range byOutcome {
		byOutcome[i] = map[string]int{}
	}
	for _, m := range marks {
		i := min(int(m.At.Sub(start)/bucket), n-1)
		placed[i]++
		byOutcome[i][m.Status]++
	}
	for _, v := range placed {
		p.YMax = max(p.YMax, v)
	}
	slot := float64(plotRight-plotLeft) / float64(n)
	height := float64(plotBottom - plotTop)
	var rate []string
	for i := range n {
		x := plotLeft + float64(i)*slot + slot*0.1
		bar := plotBar{X: x, W: slot * 0.8}
		bar.PlacedH = float64(placed[i]) / float64(p.YMax) * height
		bar.PlacedY = plotBottom - bar.PlacedH
		y := float64(plotBottom)
		parts := make([]string, 0, len(plotOutcomes))
		for _, o := range plotOutcomes {
			k := byOutcome[i][o.Status]
			if k == 0 {
				continue
			}
			h := float64(k) / float64(p.YMax) * height
			y -= h
			bar.Segments = append(bar.Segments, plotSegment{Class: o.Class, Y: y, H: h})
			parts = append(parts, fmt.Sprintf("%d %s", k, o.Label))
		}
		at := start.Add(time.Duration(i) * bucket)
		bar.Title = fmt.Sprintf("%s: %d placed", when(at), placed[i])
		if len(parts) > 0 {
			bar.Title += " (" + strings.Join(parts, ", ") + ")"
		}
		if placed[i] > 0 {
			answered := byOutcome[i][store.NumberCompleted]
			share := float64(answered) / float64(placed[i])
			bar.Title += fmt.Sprintf("; %d %% answered", answered*100/placed[i])
			pt := plotPoint{X: x + slot*0.4, Y: plotBottom - share*height}
			p.RatePoints = append(p.RatePoints, pt)
			rate = append(rate, fmt.Sprintf("%.1f,%.1f", pt.X, pt.Y))
		}
		p.Bars = append(p.Bars, bar)
	}
	p.RateLine = strings.Join(rate, " ")
	p.From, p.To = when(start), when(start.Add(time.Duration(n)*bucket))
	p.Bucket = bucketName(bucket)
	p.Summary = fmt.Sprintf("Calls placed per %s by outcome, and the share answered, from %s to %s: at most %d placed in one %s.",
		p.Bucket, p.From, p.To, p.YMax, p.Bucket)
	return p
}

func bucketName(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return "day"
	case d == time.Hour:
		return "hour"
	case d > time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d == time.Minute:
		return "minute"
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}

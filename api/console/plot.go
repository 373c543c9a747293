package console

import (
	"fmt"
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
}

type plotBar struct {
	X, W               float64
	PlacedY, PlacedH   float64
	AnsweredY, AnswerH float64
	// Title is the bar's tooltip: when and how many.
	Title string
}

// callsPlot buckets a campaign's calls by when they were placed.
func callsPlot(rows []store.ReportRow, when func(time.Time) string) plot {
	p := plot{Width: plotWidth, Height: plotHeight, Left: plotLeft, Right: plotRight, Top: plotTop,
		Bottom: plotBottom, LabelY: plotBottom + 16, MaxY: plotTop + 4, ZeroY: plotBottom}
	if len(rows) == 0 {
		p.Empty = true
		p.Summary = "No calls placed yet."
		return p
	}
	first, last := rows[0].CreatedAt, rows[0].CreatedAt
	for _, r := range rows {
		if r.CreatedAt.Before(first) {
			first = r.CreatedAt
		}
		if r.CreatedAt.After(last) {
			last = r.CreatedAt
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
	placed, answered := make([]int, n), make([]int, n)
	for _, r := range rows {
		i := min(int(r.CreatedAt.Sub(start)/bucket), n-1)
		placed[i]++
		if r.Status == store.NumberCompleted {
			answered[i]++
		}
	}
	for _, v := range placed {
		p.YMax = max(p.YMax, v)
	}
	slot := float64(plotRight-plotLeft) / float64(n)
	height := float64(plotBottom - plotTop)
	for i := range n {
		ph := float64(placed[i]) / float64(p.YMax) * height
		ah := float64(answered[i]) / float64(p.YMax) * height
		at := start.Add(time.Duration(i) * bucket)
		p.Bars = append(p.Bars, plotBar{
			X: plotLeft + float64(i)*slot + slot*0.1, W: slot * 0.8,
			PlacedY: plotBottom - ph, PlacedH: ph, AnsweredY: plotBottom - ah, AnswerH: ah,
			Title: fmt.Sprintf("%s: %d placed, %d answered", when(at), placed[i], answered[i]),
		})
	}
	p.From, p.To = when(start), when(start.Add(time.Duration(n)*bucket))
	p.Bucket = bucketName(bucket)
	p.Summary = fmt.Sprintf("Calls placed and answered per %s, from %s to %s: at most %d in one %s.",
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

// Package metricstest reads a metrics.Set in tests.
package metricstest

import (
	"testing"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// Value returns the value of the series of metric name whose labels are
// exactly labels (name, value, name, value...): a counter's or a gauge's
// value, or a histogram's number of observations. A series that does not
// exist is 0.
func Value(t testing.TB, s *metrics.Set, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("metricstest: labels %q are not name/value pairs", labels)
	}
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatalf("metricstest: gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels)/2 {
				continue
			}
			for _, l := range m.GetLabel() {
				if !has(labels, l.GetName(), l.GetValue()) {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
			t.Fatalf("metricstest: %s is neither a counter, a gauge nor a histogram", name)
		}
	}
	return 0
}

func has(pairs []string, name, value string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == name && pairs[i+1] == value {
			return true
		}
	}
	return false
}

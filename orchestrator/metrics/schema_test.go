package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Every applet type of the flow schema keeps its name as a label value:
// one added to the schema and not here would be counted as other.
func TestEveryAppletTypeIsALabel(t *testing.T) {
	for _, typ := range flows.Types() {
		s := metrics.New("test")
		s.AppletStep(string(typ))
		if n, err := testutil.GatherAndCount(s.Gatherer(), "switchyard_applet_steps_total"); err != nil || n != 1 {
			t.Fatalf("%s: %d series, err %v", typ, n, err)
		}
		mfs, err := s.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "switchyard_applet_steps_total" {
				continue
			}
			if got := mf.GetMetric()[0].GetLabel()[0].GetValue(); got != string(typ) {
				t.Errorf("applet type %q is counted as %q", typ, got)
			}
		}
	}
}

// The store's directions and final statuses keep their names too.
func TestStoreValuesAreLabels(t *testing.T) {
	s := metrics.New("test")
	for _, d := range []string{store.DirectionInbound, store.DirectionOutboundAPI, store.DirectionOutboundDial} {
		for _, st := range []store.Status{store.Completed, store.Busy, store.NoAnswer, store.Failed, store.Canceled} {
			s.CallEnded(d, string(st), "NORMAL_CLEARING")
		}
	}
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchyard_calls_ended_total" {
			continue
		}
		if len(mf.GetMetric()) != 15 {
			t.Errorf("%d series, want 15", len(mf.GetMetric()))
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == metrics.Other {
					t.Errorf("a store value became other: %v", m.GetLabel())
				}
			}
		}
	}
}

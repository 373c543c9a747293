package call

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/callback"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Each step of the flow that acted is counted under the type of the
// applet it left the call in: greeting, then the menu, then the connect.
func TestAppletStepsAreCounted(t *testing.T) {
	m := metrics.New("test")
	w := newWorld(t, basicSupport(t))
	w.c.env.cfg.Metrics = m
	w.start()
	w.event("caller", "CHANNEL_ANSWER") // the flow waits for no answer: no step
	w.completes()
	w.completes("variable_switchyard_input_1", "1")
	for applet, want := range map[string]float64{"greeting": 1, "ivr": 1, "connect": 1, metrics.Other: 0} {
		if got := metricstest.Value(t, m, "switchyard_applet_steps_total", "applet", applet); got != want {
			t.Errorf("%s steps = %v, want %v", applet, got, want)
		}
	}
}

// An API call is counted as started when Place writes it, and as ended
// with its final record when its first leg cannot be originated.
func TestPlacedCallIsCountedStartedAndEnded(t *testing.T) {
	rt, _ := placeTestRuntime(t)
	m := metrics.New("test")
	rt.cfg.Metrics = m
	c, _, err := rt.Place(t.Context(), OutboundRequest{AccountSID: "acme", From: "+15550100001", To: "+15550100002",
		CallerID: "+15550000100"})
	if err != nil || c.Status != store.Failed {
		t.Fatalf("Place = %+v, %v; want the failed call", c, err)
	}
	if got := metricstest.Value(t, m, "switchyard_calls_started_total", "direction", "outbound-api"); got != 1 {
		t.Errorf("started = %v, want 1", got)
	}
	if got := metricstest.Value(t, m, "switchyard_calls_ended_total",
		"direction", "outbound-api", "status", "failed", "cause", "NORMAL_TEMPORARY_FAILURE"); got != 1 {
		t.Errorf("ended = %v, want 1", got)
	}
}

// A call the reconciler closes is counted as ended, once.
func TestReconciledCallIsCountedEnded(t *testing.T) {
	ctx := context.Background()
	_, db := placeTestRuntime(t)
	start := time.Now().Add(-time.Hour).UTC()
	reconcileCall(t, db, store.Call{Status: store.Ringing, StartTime: start}, "gone-a")
	m := metrics.New("test")
	r := &Reconciler{DB: db, Log: slog.New(slog.DiscardHandler), Terminal: callback.Builder{}.Terminal, Metrics: m,
		Exists: func(context.Context, string) (bool, error) { return false, nil },
		Live:   func(string) bool { return false }}
	later := time.Now().Add(2 * time.Minute)
	for range 2 {
		if _, err := r.RunOnce(ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := metricstest.Value(t, m, "switchyard_calls_ended_total",
		"direction", "inbound", "status", "failed", "cause", CauseLost); got != 1 {
		t.Errorf("ended = %v, want 1", got)
	}
}

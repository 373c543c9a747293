package routing_test

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/routing"
)

// Each URL a plan asks is timed as a connect request by its HTTP outcome,
// and each dial event as a dial_event.
func TestRequestsAreTimed(t *testing.T) {
	f := newFixture(t)
	m := metrics.New("test")
	d := dial(f.reply("/plan", 503, "text/plain", "down"))
	d.FallbackURL = f.reply("/backup", 200, jsonType, `{"destination": {"numbers": ["+919800000004"]}}`)
	if _, err := f.planner(routing.Config{Metrics: m}).Plan(t.Context(), f.info, d, nil); err != nil {
		t.Fatal(err)
	}
	ev := f.events(routing.Config{Metrics: m})
	t.Cleanup(func() { _ = ev.Close(context.Background()) })
	ev.Post(t.Context(), f.info, f.reply("/events", 200, "text/plain", "ok"),
		call.DialEvent{Type: call.DialEventDial, Whom: "+919800000004", Status: "free"})
	ev.Wait()

	for _, c := range []struct{ kind, outcome string }{
		{"connect", metrics.OutcomeHTTPError},
		{"connect", metrics.OutcomeOK},
		{"dial_event", metrics.OutcomeOK},
	} {
		if got := metricstest.Value(t, m, "switchyard_http_request_seconds", "kind", c.kind, "outcome", c.outcome); got != 1 {
			t.Errorf("%s/%s: %v requests, want 1", c.kind, c.outcome, got)
		}
	}
}

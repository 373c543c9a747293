package passthru_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/passthru"
)

// Requests are timed by kind and outcome: a timeout, a request the egress
// policy refused and an answered dynamic gather each under their own.
func TestRequestsAreTimedByKindAndOutcome(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done(): // the client gave up
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	defer close(release)
	m := metrics.New("test")
	cl := f.client(passthru.Config{MaxTimeout: 50 * time.Millisecond, Metrics: m})
	if _, err := cl.Fetch(t.Context(), f.info, flows.Fetch{Applet: "pt1", URL: f.crm.URL + "/slow", Timeout: 3}); err == nil {
		t.Fatal("the slow request did not time out")
	}
	if _, err := cl.Fetch(t.Context(), f.info, flows.Fetch{Applet: "g1", URL: f.crm.URL + "/gather", Purpose: flows.FetchGather}); err != nil {
		t.Fatal(err)
	}
	// The default egress policy refuses loopback.
	denying := passthru.New(f.db, passthru.Config{Metrics: m}, nil)
	if _, err := denying.Fetch(t.Context(), f.info, flows.Fetch{Applet: "pt1", URL: f.crm.URL + "/admin"}); err == nil {
		t.Fatal("the request to loopback was not refused")
	}

	for _, c := range []struct{ kind, outcome string }{
		{"passthru", metrics.OutcomeTimeout},
		{"gather", metrics.OutcomeOK},
		{"passthru", metrics.OutcomeDenied},
	} {
		if got := metricstest.Value(t, m, "switchyard_http_request_seconds", "kind", c.kind, "outcome", c.outcome); got != 1 {
			t.Errorf("%s/%s: %v requests, want 1", c.kind, c.outcome, got)
		}
	}
}

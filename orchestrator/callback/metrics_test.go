package callback

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Every attempt is counted by what became of its callback, and its HTTP
// request timed under the same outcome.
func TestAttemptsAreCountedByOutcome(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		m := metrics.New("test")
		s := startService(t, db, Config{Metrics: m})

		finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()
		if a := s.nextAttempt(t); a.state != store.CallbackPending {
			t.Fatalf("first attempt %+v", a)
		}
		if a := s.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Fatalf("second attempt %+v", a)
		}
		for _, c := range []struct {
			name, outcome string
			want          float64
		}{
			{"switchyard_callback_attempts_total", metrics.CallbackRetry, 1},
			{"switchyard_callback_attempts_total", metrics.CallbackDelivered, 1},
			{"switchyard_callback_attempts_total", metrics.CallbackFailed, 0},
			{"switchyard_callback_seconds", metrics.CallbackRetry, 1},
			{"switchyard_callback_seconds", metrics.CallbackDelivered, 1},
		} {
			if got := metricstest.Value(t, m, c.name, "outcome", c.outcome); got != c.want {
				t.Errorf("%s{outcome=%q} = %v, want %v", c.name, c.outcome, got, c.want)
			}
		}
	})
}

// A callback waiting to be retried is part of the backlog.
func TestPendingCountsCallbacksWaitingToRetry(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
		m := metrics.New("test")
		s := startService(t, db, Config{Metrics: m, Backoff: func(int) time.Duration { return time.Hour }})

		finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()
		if a := s.nextAttempt(t); a.state != store.CallbackPending {
			t.Fatalf("attempt %+v", a)
		}
		if err := s.countPending(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := metricstest.Value(t, m, "switchyard_callbacks_pending"); got != 1 {
			t.Errorf("pending = %v, want 1", got)
		}
	})
}

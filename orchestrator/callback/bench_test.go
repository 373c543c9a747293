package callback

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

// benchTimeout bounds one attempt in BenchmarkHealthyDelivery: a hanging
// receiver holds its attempt this long, then the attempt is retried at
// once. Production's 15 s would make a run of the unprotected scheduler
// take many minutes; every delay a hanging receiver causes scales with it.
const benchTimeout = 2 * time.Second

// benchHealthy is how many healthy accounts, each with a receiver of its
// own, get one callback per iteration of BenchmarkHealthyDelivery.
const benchHealthy = 4

// benchWait bounds each wait of the benchmark for a callback, so a broken
// scheduler fails the run instead of hanging it.
const benchWait = 10 * time.Minute

// BenchmarkHealthyDelivery measures how long a status callback takes to
// reach a receiver that answers at once, from the commit of its call's end
// to the receiver's handler, with 0 and with 100 receivers that never
// answer (each of an account of its own, none of them the healthy ones').
// Each hanging receiver has a callback that is retried as soon as an
// attempt times out (benchTimeout), so they press on the workers for the
// whole run. An iteration ends a call of each of the benchHealthy accounts
// and waits for their callbacks; p50-ms and p99-ms are over all of them.
// The Service runs with its defaults otherwise (10 workers, 1 s poll).
//
// Run it with make bench, or with
//
//	go test -run '^$' -bench HealthyDelivery ./orchestrator/callback/
//
// which runs the PostgreSQL half only when TEST_DATABASE_URL is set.
func BenchmarkHealthyDelivery(b *testing.B) {
	dbs := []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", storetest.SQLiteDSN}, {"postgres", storetest.PostgresDSN}}
	for _, d := range dbs {
		b.Run("db="+d.name, func(b *testing.B) {
			for _, hanging := range []int{0, 100} {
				b.Run(fmt.Sprintf("hanging=%d", hanging), func(b *testing.B) {
					benchHealthyDelivery(b, d.dsn(b), hanging)
				})
			}
		})
	}
}

// arrival is a benchmark callback reaching its receiver.
type arrival struct {
	tag string // the n query parameter of the callback's URL
	at  time.Time
}

func benchHealthyDelivery(b *testing.B, dsn string, hanging int) {
	ctx := b.Context()
	db := storetest.OpenMigrated(b, dsn)

	// The hanging receivers wait for release (or for the sender to give
	// up); the first hit tells that they are being called.
	release := make(chan struct{})
	arrivals := make(chan arrival, 4*benchHealthy)
	healthyURLs := make([]string, benchHealthy)
	healthyAccounts := make([]string, benchHealthy)
	for i := range benchHealthy {
		healthyAccounts[i] = fmt.Sprintf("healthy%d", i+1)
		addAccount(b, db, healthyAccounts[i])
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at := time.Now()
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case arrivals <- arrival{tag: r.URL.Query().Get("n"), at: at}:
			case <-release: // the run is over
			}
		}))
		b.Cleanup(srv.Close)
		healthyURLs[i] = srv.URL + "/status"
	}

	firstHang := make(chan struct{})
	var once sync.Once
	hangURLs := make([]string, hanging)
	hangAccounts := make([]string, hanging)
	for i := range hanging {
		hangAccounts[i] = fmt.Sprintf("hanging%03d", i+1)
		addAccount(b, db, hangAccounts[i])
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			once.Do(func() { close(firstHang) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		b.Cleanup(srv.Close)
		hangURLs[i] = srv.URL + "/status"
	}

	s, err := New(db, Config{
		// Any client that reaches loopback: what is measured is the
		// scheduling, not the egress policy.
		HTTPClient:  &http.Client{},
		Timeout:     benchTimeout,
		MaxAttempts: 10000, // the hanging receivers' callbacks never give up
		Backoff:     func(int) time.Duration { return 10 * time.Millisecond },
	}, testlog.New(b, slog.LevelError))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		close(release)
		if err := s.Stop(context.Background()); err != nil {
			b.Errorf("stop: %v", err)
		}
	}
	b.Cleanup(stop) // after a Fatal; the servers' cleanups run after it

	// waitFor collects the arrivals of the tagged callbacks sent at the
	// given times and returns their latencies.
	waitFor := func(sent map[string]time.Time) []time.Duration {
		var out []time.Duration
		deadline := time.After(benchWait)
		for len(sent) > 0 {
			select {
			case a := <-arrivals:
				if t0, ok := sent[a.tag]; ok {
					out = append(out, a.at.Sub(t0))
					delete(sent, a.tag)
				}
			case <-deadline:
				b.Fatalf("%d healthy callbacks not delivered within %s", len(sent), benchWait)
			}
		}
		return out
	}
	send := func(account, url, tag string) time.Time {
		endCall(b, db, account, url+"?n="+tag)
		at := time.Now()
		s.Notify()
		return at
	}

	// Warm up: every healthy receiver has answered once.
	warm := map[string]time.Time{}
	for i, acc := range healthyAccounts {
		tag := fmt.Sprintf("warm-%d", i)
		warm[tag] = send(acc, healthyURLs[i], tag)
	}
	waitFor(warm)

	// The hanging receivers' callbacks are queued before any measured one.
	for i, acc := range hangAccounts {
		endCall(b, db, acc, hangURLs[i])
	}
	s.Notify()
	if hanging > 0 {
		select {
		case <-firstHang:
		case <-time.After(benchWait):
			b.Fatal("no hanging receiver was called")
		}
	}

	lat := make([]time.Duration, 0, b.N*benchHealthy)
	b.ResetTimer()
	for i := range b.N {
		sent := make(map[string]time.Time, benchHealthy)
		for h, acc := range healthyAccounts {
			tag := fmt.Sprintf("%d-%d", i, h)
			sent[tag] = send(acc, healthyURLs[h], tag)
		}
		lat = append(lat, waitFor(sent)...)
	}
	b.StopTimer()
	stop()

	slices.Sort(lat)
	b.ReportMetric(msAt(lat, 0.50), "p50-ms")
	b.ReportMetric(msAt(lat, 0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "samples")
}

// msAt returns the q-quantile of sorted latencies, in milliseconds.
func msAt(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(q*float64(len(sorted))))-1, 0)
	return float64(sorted[i].Microseconds()) / 1000
}

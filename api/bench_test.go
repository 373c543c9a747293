package api_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// benchCalls is how many calls the call-details benchmark stores.
const benchCalls = 100_000

// BenchmarkCallDetailsPostgres reads single calls (v1 Calls/<sid>.json,
// with and without details=true) over real HTTP on loopback, from a
// PostgreSQL database holding 100,000 calls of one account (and 200,000
// legs) among 10,000 calls of another. It reports reads per second and
// the p50/p99 latency seen by the clients. It needs TEST_DATABASE_URL
// (make bench starts a throwaway server).
func BenchmarkCallDetailsPostgres(b *testing.B) {
	db := storetest.OpenMigrated(b, storetest.PostgresDSN(b))
	ctx := context.Background()
	sids := seedCalls(b, ctx, db)
	// A limit far above what the benchmark reaches: it measures reads,
	// with the limiter's cost in them, not 429s.
	srv := httptest.NewServer(api.New(api.Options{Store: db, Database: db, RateLimit: 1 << 30}).Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	for _, variant := range []struct{ name, query string }{{"call", ""}, {"details", "?details=true"}} {
		b.Run(variant.name, func(b *testing.B) {
			var (
				mu   sync.Mutex
				lats []time.Duration
			)
			b.SetParallelism(4) // 4 clients per core
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(rand.Uint64(), 7))
				local := make([]time.Duration, 0, 1024)
				for pb.Next() {
					sid := sids[rng.IntN(len(sids))]
					req, _ := http.NewRequest("GET", srv.URL+"/v1/Accounts/bench/Calls/"+sid+".json"+variant.query, nil)
					req.SetBasicAuth("bench_key", "bench_token")
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					local = append(local, time.Since(t0))
					if resp.StatusCode != http.StatusOK {
						b.Errorf("GET %s: %d", sid, resp.StatusCode)
						return
					}
				}
				mu.Lock()
				lats = append(lats, local...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(lats) == 0 {
				return
			}
			slices.Sort(lats)
			b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "reads/s")
			b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// seedCalls stores the benchmark's calls in bulk and returns the SIDs of
// the measured account's.
func seedCalls(b *testing.B, ctx context.Context, db *store.DB) []string {
	b.Helper()
	t0 := time.Now()
	for _, a := range []string{"bench", "noise"} {
		if _, _, err := db.Accounts().CreateWithSID(ctx, a, a); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Accounts().PutAPIKey(ctx, "bench", "bench_key", "bench_token", "benchmark"); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sids []string
	const batch = 1000
	total := benchCalls + benchCalls/10
	for i := 0; i < total; i += batch {
		calls := make([]store.Call, 0, batch)
		legs := make([]store.Leg, 0, 2*batch)
		for j := i; j < min(i+batch, total); j++ {
			acct := "bench"
			if j >= benchCalls {
				acct = "noise"
			}
			created := base.Add(time.Duration(j) * 7 * time.Second)
			answer, end := created.Add(3*time.Second), created.Add(95*time.Second)
			c := store.Call{
				SID: store.NewSID(), AccountSID: acct, Direction: store.DirectionOutboundAPI,
				From: fmt.Sprintf("+1555010%04d", j%10000), To: "+15550100001", PhoneNumber: "+15550000100",
				Status: store.Completed, StartTime: created, AnswerTime: &answer, EndTime: &end,
				Duration: 95, ConversationDuration: 80, HangupCause: "NORMAL_CLEARING", CallType: "trans",
				CreatedAt: created, UpdatedAt: end,
			}
			calls = append(calls, c)
			if acct == "bench" {
				sids = append(sids, c.SID)
			}
			for seq := 1; seq <= 2; seq++ {
				legs = append(legs, store.Leg{
					ID: fmt.Sprintf("lg_%s_%d", c.SID[:20], seq), CallSID: c.SID, AccountSID: acct, Seq: seq,
					UUID: fmt.Sprintf("%s-%d", c.SID, seq), Direction: store.LegOutbound, To: c.From,
					Status: store.Completed, StartTime: created, AnswerTime: &answer, EndTime: &end,
					Duration: 92, TalkTime: 80, HangupCause: "NORMAL_CLEARING", CreatedAt: created, UpdatedAt: end,
				})
			}
		}
		if err := db.Gorm().WithContext(ctx).CreateInBatches(calls, batch).Error; err != nil {
			b.Fatal(err)
		}
		if err := db.Gorm().WithContext(ctx).CreateInBatches(legs, batch).Error; err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Gorm().WithContext(ctx).Exec("ANALYZE").Error; err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d calls (%d measured) and %d legs in %s", total, len(sids), 2*total, time.Since(t0).Round(time.Millisecond))
	return sids
}

package dialer

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// Calls placed and calls the runtime refused are counted apart.
func TestPlacementsAreCounted(t *testing.T) {
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	r := newRig(t, db, time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC))
	if err := db.Accounts().SetDialLimits(t.Context(), account, store.DialLimits{Rate: 600, Concurrency: 100}); err != nil {
		t.Fatal(err)
	}
	nums := numbers(3, 300)
	r.create(t, &store.Campaign{Numbers: nums})
	r.phone.refuse = func(req call.OutboundRequest) error {
		if req.From == nums[0] {
			return errors.New("no media node available")
		}
		return nil
	}
	m := metrics.New("test")
	d := r.dialer(t, "one", r.phone, func(cfg *Config) { cfg.Metrics = m; cfg.Retry = time.Hour })
	for asked, round := 0, 0; asked < 3; round++ {
		if round > 100 {
			t.Fatalf("the phone was asked %d times, want 3", asked)
		}
		d.settle(t)
		for more := true; more; {
			select {
			case <-r.phone.got:
				asked++
			default:
				more = false
			}
		}
		r.clock.Advance(time.Second)
	}
	d.stop() // waits for the placements in flight
	if got := metricstest.Value(t, m, "switchyard_campaign_calls_placed_total"); got != 2 {
		t.Errorf("placed = %v, want 2", got)
	}
	if got := metricstest.Value(t, m, "switchyard_campaign_calls_failed_to_place_total"); got != 1 {
		t.Errorf("failed to place = %v, want 1", got)
	}
}

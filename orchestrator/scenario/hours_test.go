package scenario

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestBusinessHoursAtRunTime routes live calls by the runtime's clock in
// the flow's zone (America/New_York, open 09:00-17:00 Mon-Fri): the same
// UTC instant is closed the Friday before the March DST change and open
// the Monday after; holidays are closed all day; 17:00 is closing time.
func TestBusinessHoursAtRunTime(t *testing.T) {
	var now atomic.Pointer[time.Time]
	clock := func() time.Time { return *now.Load() }
	h := newHarnessOpts(t, options{clock: clock})
	ctx := context.Background()
	const number = "+15550000631"
	h.flowOn(ctx, number, `{"start":"hours","applets":{
		"hours":{"type":"business_hours","config":{"timezone":"America/New_York",
			"windows":[{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"}],
			"holidays":["2026-12-25"]},"outputs":{"open":"open","closed":"closed"}},
		"open":{"type":"greeting","config":{"prompt":{"text":"we are open"}},"outputs":{"next":"bye"}},
		"closed":{"type":"greeting","config":{"prompt":{"text":"we are closed"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`)
	for _, tc := range []struct {
		name string
		at   time.Time
		open bool
	}{
		// 13:30 UTC is 08:30 EST on Friday 6 March 2026 and 09:30 EDT on
		// Monday 9 March (the clocks went forward on Sunday the 8th).
		{"13:30 UTC the Friday before DST", time.Date(2026, 3, 6, 13, 30, 0, 0, time.UTC), false},
		{"13:30 UTC the Monday after DST", time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC), true},
		// 21:30 UTC is 17:30 EDT on Friday 30 October and 16:30 EST on
		// Monday 2 November (the clocks went back on Sunday the 1st).
		{"21:30 UTC the Friday before DST ends", time.Date(2026, 10, 30, 21, 30, 0, 0, time.UTC), false},
		{"21:30 UTC the Monday after DST ends", time.Date(2026, 11, 2, 21, 30, 0, 0, time.UTC), true},
		{"closing time 17:00 local", time.Date(2026, 11, 2, 22, 0, 0, 0, time.UTC), false},
		{"Christmas, a Friday, mid-morning", time.Date(2026, 12, 25, 15, 0, 0, 0, time.UTC), false},
		{"Saturday mid-morning", time.Date(2026, 12, 26, 15, 0, 0, 0, time.UTC), false},
	} {
		at := tc.at
		now.Store(&at)
		res, c, _ := h.call(testphone.Script{To: number})
		want := "we are closed"
		if tc.open {
			want = "we are open"
		}
		if c == nil || c.Status != store.Completed || !pathHas(res, want) {
			t.Errorf("%s: path %v, want %q", tc.name, res.Path, want)
		}
	}
}

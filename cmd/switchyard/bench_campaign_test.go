package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// campaignHoldFlow keeps each campaign call up until the callee hangs up
// (+15550100408 answers after 1 s and hangs up 8 s later): a menu nobody
// answers, with a timeout longer than the call.
const campaignHoldFlow = `{"name": "Hold", "start": "menu", "applets": {
	"menu": {"type": "ivr", "config": {"prompt": {"text": "Press 1 to confirm."}, "timeout": 30, "max_attempts": 1},
		"outputs": {"1": "bye", "timeout": "bye", "invalid": "bye"}},
	"bye": {"type": "hangup", "config": {}}}}`

// BenchmarkCampaignDialer runs the dialer benchmark once per
// database: a campaign of SWITCHYARD_BENCH_CONTACTS contacts (default
// 10,000) at 600 calls a minute with at most 100 live calls, on the
// embedded emulator with its clock (and the dialer's) running
// SWITCHYARD_BENCH_SPEED times faster (default 3: 30 calls a second, what
// 2 cores hold for serve, the emulator and PostgreSQL together). Each call lasts about
// 9 s, so about 90 are live at the throttle. It fails unless every
// minute after the first dials within 2 % of the throttle, no moment has
// more than 100 calls live, and the report holds each contact exactly
// once. Figures: the lowest and highest minute as a share of the
// throttle, the most calls live at once, and the contacts accounted for.
//
//	go test -run '^$' -bench CampaignDialer ./cmd/switchyard/
func BenchmarkCampaignDialer(b *testing.B) {
	contacts := envInt(b, "SWITCHYARD_BENCH_CONTACTS", 10000)
	speed := float64(envInt(b, "SWITCHYARD_BENCH_SPEED", 3))
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", storetest.SQLiteDSN}, {"postgres", storetest.PostgresDSN}} {
		b.Run(db.name, func(b *testing.B) {
			// One campaign is the measurement, whatever b.N is.
			benchCampaign(b, db.dsn(b), contacts, speed)
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

const (
	benchThrottle = 600
	benchCap      = 100
)

func benchCampaign(b *testing.B, dsn string, contacts int, speed float64) {
	s := startServe(b, dsn, func(cfg *Config) {
		cfg.emulatorSpeed = speed
		cfg.LogLevel = "warn"
	})
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"account", "limits", "-db", dsn, "--account", demoAccount,
		"--rate", strconv.Itoa(benchThrottle), "--concurrency", strconv.Itoa(benchCap)}, &out, &errOut); code != 0 {
		b.Fatalf("account limits: %s", errOut.String())
	}
	body, _ := json.Marshal(map[string]any{"name": "Hold", "document": json.RawMessage(campaignHoldFlow)})
	var f struct {
		ID string `json:"id"`
	}
	agentsPost(s, "/v2/accounts/demo/flows", string(body), "flow", &f)
	var pub struct{}
	agentsPost(s, "/v2/accounts/demo/flows/"+f.ID+"/publish", `{}`, "flow", &pub)
	list := s.v2("POST", "/v2/accounts/demo/lists", `{"lists": [{"name": "Bench"}]}`)
	var csv bytes.Buffer
	csv.WriteString("number,first_name\n")
	for i := range contacts {
		fmt.Fprintf(&csv, "+15550100408,c%d\n", i)
	}
	s.uploadCSV(list["sid"].(string), csv.String())
	hooks := newCampaignHooks(b)
	spec := fmt.Sprintf(`{"campaigns": [{"caller_id": %q, "url": "http://my.exotel.com/demo/exoml/start_voice/%s",
		"lists": [%q], "throttle": %d, "max_concurrent": %d, "call_duplicate_numbers": true,
		"calling_window": {"start": "00:00", "end": "24:00"}, "status_callback": %q}]}`,
		demoPhone, f.ID, list["sid"], benchThrottle, benchCap, hooks.url)
	b.ResetTimer()
	id := s.v2("POST", "/v2/accounts/demo/campaigns", spec)["id"].(string)
	simMinutes := float64(contacts)/benchThrottle + 1
	hooks.waitCampaignEnd(b, time.Duration(simMinutes*float64(time.Minute)/speed)+2*time.Minute)
	b.StopTimer()

	// Read what happened from the database: each attempt's call, with the
	// moment its row was written and the moment its final record was (both
	// on this machine's clock; the call's own times are the emulator's).
	db := storetest.Open(b, dsn)
	var rows []struct {
		NumberID  string    `gorm:"column:number_id"`
		Attempt   int       `gorm:"column:attempt"`
		Status    string    `gorm:"column:status"`
		CreatedAt time.Time `gorm:"column:created_at"`
		EndedAt   time.Time `gorm:"column:ended_at"`
	}
	if err := db.Gorm().Raw(`SELECT a.number_id, a.attempt, a.status, c.created_at, c.updated_at AS ended_at
		FROM campaign_attempts a JOIN calls c ON c.sid = a.call_sid WHERE a.campaign_sid = ? ORDER BY c.created_at`, id).
		Scan(&rows).Error; err != nil {
		b.Fatal(err)
	}
	var numbers int64
	if err := db.Gorm().Model(&store.CampaignNumber{}).Where("campaign_sid = ?", id).Count(&numbers).Error; err != nil {
		b.Fatal(err)
	}
	// Every contact exactly once (no retries are configured).
	per := map[string]int{}
	completed := 0
	for _, r := range rows {
		per[r.NumberID]++
		if r.Status == store.NumberCompleted {
			completed++
		}
	}
	twice := 0
	for _, n := range per {
		if n != 1 {
			twice++
		}
	}
	if int(numbers) != contacts || len(per) != contacts || len(rows) != contacts || twice > 0 {
		b.Fatalf("%d contacts: %d numbers, %d called, %d calls, %d called more than once", contacts, numbers, len(per), len(rows), twice)
	}
	// Calls placed per minute of the campaign's clock, from the first.
	first := rows[0].CreatedAt
	perMinute := map[int]int{}
	last := 0
	for _, r := range rows {
		m := int(r.CreatedAt.Sub(first).Seconds() * speed / 60)
		perMinute[m]++
		last = max(last, m)
	}
	lo, hi := 1e9, 0.0
	var outside []string
	for m := 1; m < last; m++ { // the last minute is partial: the list ran out
		share := float64(perMinute[m]) / benchThrottle
		lo, hi = min(lo, share), max(hi, share)
		if share < 0.98 || share > 1.02 {
			outside = append(outside, fmt.Sprintf("minute %d: %d", m, perMinute[m]))
		}
	}
	// The most calls live at once: each call counts from its row to its
	// final record, which spans the channel's whole life on the node.
	type edge struct {
		at time.Time
		d  int
	}
	edges := make([]edge, 0, 2*len(rows))
	for _, r := range rows {
		edges = append(edges, edge{r.CreatedAt, 1}, edge{r.EndedAt, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d // an end before a start at the same instant
	})
	live, peak, above := 0, 0, 0
	for _, e := range edges {
		live += e.d
		if live > peak {
			peak = live
		}
		if e.d > 0 && live > benchCap {
			above++
		}
	}
	b.ReportMetric(lo, "min-minute/throttle")
	b.ReportMetric(hi, "max-minute/throttle")
	b.ReportMetric(float64(peak), "peak-live")
	b.ReportMetric(float64(above), "moments-above-cap")
	b.ReportMetric(float64(len(per)), "contacts")
	b.Logf("%d contacts, %d completed, %d whole minutes at %d/min: %.3f-%.3f of the throttle; peak %d live (cap %d), %d moments above",
		contacts, completed, last-1, benchThrottle, lo, hi, peak, benchCap, above)
	if len(outside) > 0 || above > 0 {
		b.Fatalf("minutes outside ±2%%: %v; moments above the cap: %d", outside, above)
	}
}

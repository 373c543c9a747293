package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestSeedIsIdempotentAndRoutable(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	first, err := demo.Seed(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	second, err := demo.Seed(ctx, db)
	if err != nil {
		t.Fatalf("second seed: %v", err)
	}
	for i, n := range first.Numbers {
		if second.Numbers[i].FlowID != n.FlowID {
			t.Errorf("%s: flow changed on reseed: %s -> %s", n.Number, n.FlowID, second.Numbers[i].FlowID)
		}
		route, err := db.Numbers().Route(ctx, n.Number)
		if err != nil {
			t.Fatalf("%s: %v", n.Number, err)
		}
		f, err := flows.Parse(route.Document)
		if err != nil {
			t.Fatalf("%s: published document: %v", n.Number, err)
		}
		if route.AccountSID != demo.AccountSID || route.Version != 1 {
			t.Errorf("%s: route %+v", n.Number, route)
		}
		// The main line's transfers point at the demo's own flows.
		for _, a := range f.Applets {
			if tr, ok := a.Config.(*flows.Transfer); ok {
				if _, err := db.Flows().Get(ctx, demo.AccountSID, tr.Flow); err != nil {
					t.Errorf("%s: transfer to %q: %v", n.Number, tr.Flow, err)
				}
			}
		}
	}
	list, total, err := db.Flows().List(ctx, demo.AccountSID, store.Page{})
	if err != nil || total != int64(len(demo.Numbers)) || len(list) != len(demo.Numbers) {
		t.Errorf("flows after two seeds: %d (%v)", total, err)
	}
	if _, err := db.Accounts().Authenticate(ctx, demo.APIKey, demo.APIToken); err != nil {
		t.Errorf("demo credentials: %v", err)
	}
}

// An operator who revoked the demo key keeps it revoked: seeding again
// (every serve -demo start) creates nothing over it and says so.
func TestSeedKeepsARevokedKeyRevoked(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	first, err := demo.Seed(ctx, db)
	if err != nil || first.KeyRevoked {
		t.Fatalf("first seed: %+v %v", first, err)
	}
	if err := db.Accounts().RevokeAPIKey(ctx, demo.AccountSID, demo.APIKey); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		again, err := demo.Seed(ctx, db)
		if err != nil {
			t.Fatalf("reseed: %v", err)
		}
		if !again.KeyRevoked {
			t.Error("reseed does not report the revoked key")
		}
		if _, err := db.Accounts().Authenticate(ctx, demo.APIKey, demo.APIToken); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("the revoked demo key authenticates after a reseed: %v", err)
		}
	}
	keys, err := db.Accounts().APIKeys(ctx, demo.AccountSID)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Errorf("keys after reseeding: %+v %v", keys, err)
	}
}

// The demo list and campaign are seeded once: a reseed adds no contacts
// and no campaign, and a campaign the operator deleted is not made again.
func TestSeedListAndCampaignOnce(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	first, err := demo.Seed(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if first.ListSID == "" || first.CampaignSID == "" {
		t.Fatalf("first seed made no list or campaign: %+v", first)
	}
	members, total, err := db.Lists().Members(ctx, demo.AccountSID, first.ListSID, store.Page{})
	if err != nil || total != len(demo.Contacts) {
		t.Fatalf("list members: %d %v", total, err)
	}
	for i, m := range members {
		if m.Number != demo.Contacts[i].Number || m.FirstName != demo.Contacts[i].FirstName {
			t.Errorf("member %d: %+v", i, m)
		}
	}
	c, err := db.Campaigns().Get(ctx, demo.AccountSID, first.CampaignSID)
	if err != nil {
		t.Fatal(err)
	}
	flowID := first.Numbers[0].FlowID
	if c.Name != demo.CampaignName || c.Status != store.CampaignCreated || c.SendAt != nil || c.Recurrence != "" ||
		c.CallerID != "+15550000100" || c.FlowID != flowID || c.URL != "http://localhost/demo/exoml/start_voice/"+flowID ||
		len(c.Lists) != 1 || c.Lists[0] != first.ListSID || len(c.Numbers) != 0 ||
		c.Throttle != demo.CampaignThrottle || c.Mode != "custom" || c.WindowStart != "00:00" || c.WindowEnd != "24:00" {
		t.Errorf("demo campaign: %+v", c)
	}
	if r := c.Retries; r.NumberOfRetries != 1 || r.IntervalMins != 1 || len(r.OnStatus) != 2 ||
		r.OnStatus[0] != store.NumberBusy || r.OnStatus[1] != store.NumberNoAnswer {
		t.Errorf("demo campaign retries: %+v", r)
	}
	// What the dialer will pick up at once.
	if active, err := db.Campaigns().Active(ctx, time.Now()); err != nil || len(active) != 1 || active[0].SID != c.SID {
		t.Errorf("active campaigns: %+v %v", active, err)
	}

	second, err := demo.Seed(ctx, db)
	if err != nil {
		t.Fatalf("reseed: %v", err)
	}
	if second.ListSID != first.ListSID || second.CampaignSID != "" {
		t.Errorf("reseed: list %s (was %s), campaign %q", second.ListSID, first.ListSID, second.CampaignSID)
	}
	if _, total, _ := db.Lists().Members(ctx, demo.AccountSID, first.ListSID, store.Page{}); total != len(demo.Contacts) {
		t.Errorf("reseed changed the list: %d contacts", total)
	}
	if _, total, _ := db.Contacts().List(ctx, demo.AccountSID, store.Page{}); total != len(demo.Contacts) {
		t.Errorf("reseed added contacts: %d", total)
	}
	if err := db.Campaigns().Delete(ctx, demo.AccountSID, c.SID); err != nil {
		t.Fatal(err)
	}
	third, err := demo.Seed(ctx, db)
	if err != nil || third.CampaignSID != "" {
		t.Errorf("reseed after the campaign was deleted: %+v %v", third, err)
	}
}

func TestSeedWithoutCampaign(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	tenant, err := demo.Seed(ctx, db, demo.WithoutCampaign())
	if err != nil || tenant.ListSID == "" || tenant.CampaignSID != "" {
		t.Fatalf("seed without campaign: %+v %v", tenant, err)
	}
	if _, n, err := db.Campaigns().List(ctx, demo.AccountSID, store.CampaignFilter{}); err != nil || n != 0 {
		t.Errorf("campaigns: %d %v", n, err)
	}
}

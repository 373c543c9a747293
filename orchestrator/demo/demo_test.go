package demo_test

import (
	"context"
	"errors"
	"testing"

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

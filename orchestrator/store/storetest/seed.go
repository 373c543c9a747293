package storetest

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// ServeFlow creates the account (if new), a flow from doc, publishes it and
// assigns it to a new ExoPhone number: what a call to number needs. It
// returns the flow's id.
func ServeFlow(t testing.TB, db *store.DB, accountSID, number, name string, doc []byte) string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Accounts().Get(ctx, accountSID); err != nil {
		if _, _, err := db.Accounts().CreateWithSID(ctx, accountSID, accountSID); err != nil {
			t.Fatalf("storetest: account: %v", err)
		}
	}
	f, err := db.Flows().Create(ctx, accountSID, name, doc)
	if err != nil {
		t.Fatalf("storetest: flow: %v", err)
	}
	if _, err := db.Flows().Publish(ctx, accountSID, f.ID); err != nil {
		t.Fatalf("storetest: publish: %v", err)
	}
	if _, err := db.Numbers().Create(ctx, accountSID, number, ""); err != nil {
		t.Fatalf("storetest: number: %v", err)
	}
	if err := db.Numbers().AssignFlow(ctx, accountSID, number, &f.ID); err != nil {
		t.Fatalf("storetest: assign: %v", err)
	}
	return f.ID
}

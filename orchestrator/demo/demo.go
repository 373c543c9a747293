// Package demo seeds a ready-to-call demo tenant for the embedded default
// (`make run`): an account with well-known credentials, the example flows
// published, and ExoPhones pointing at them. Seeding is idempotent.
//
// The credentials are public by design. Never seed the demo on a server
// anyone else can reach.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// The demo tenant's well-known identity.
const (
	AccountSID = "demo"
	APIKey     = "demo_api_key"
	APIToken   = "demo_api_token"
)

// Number is a demo ExoPhone and the flow behind it.
type Number struct {
	Number string
	Flow   string // the example document it runs
	FlowID string
}

// Numbers are the demo ExoPhones, in the fictional +1 555 0000 range (the
// test phone network's agents live in +1 555 01xx).
var Numbers = []Number{
	{Number: "+15550000100", Flow: examples.BasicSupport},
	{Number: "+15550000200", Flow: examples.AfterHours},
	{Number: "+15550000300", Flow: examples.MainLine},
	// For switchyard sim load: the same call as its native twin on a
	// node started with switchyard sim node --native-basic-support.
	{Number: "+15550000400", Flow: examples.BasicSupportTones},
}

// Tenant is what Seed made or found.
type Tenant struct {
	AccountSID, APIKey, APIToken string
	// KeyRevoked: an operator revoked the demo API key; it stays revoked
	// (the account's other credentials are unaffected).
	KeyRevoked bool
	Numbers    []Number
}

// Seed creates whatever part of the demo tenant is missing and returns it.
// It changes nothing that exists: a revoked demo key stays revoked, a
// number's flow stays the operator's choice.
func Seed(ctx context.Context, db *store.DB) (*Tenant, error) {
	accounts := db.Accounts()
	if _, err := accounts.Get(ctx, AccountSID); errors.Is(err, store.ErrNotFound) {
		if _, _, err := accounts.CreateWithSID(ctx, AccountSID, "Demo Co"); err != nil {
			return nil, fmt.Errorf("demo: create account: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("demo: get account: %w", err)
	}
	revoked, err := accounts.SeedAPIKey(ctx, AccountSID, APIKey, APIToken, "demo key: public, local use only")
	if err != nil {
		return nil, fmt.Errorf("demo: api key: %w", err)
	}
	ids, err := seedFlows(ctx, db.Flows())
	if err != nil {
		return nil, err
	}
	t := &Tenant{AccountSID: AccountSID, APIKey: APIKey, APIToken: APIToken, KeyRevoked: revoked}
	for _, n := range Numbers {
		n.FlowID = ids[n.Flow]
		if err := seedNumber(ctx, db.Numbers(), n); err != nil {
			return nil, err
		}
		t.Numbers = append(t.Numbers, n)
	}
	return t, nil
}

// seedFlows publishes each example flow the account lacks (matched by name)
// and returns example name -> flow id.
func seedFlows(ctx context.Context, repo *store.Flows) (map[string]string, error) {
	existing, _, err := repo.List(ctx, AccountSID, store.Page{Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("demo: list flows: %w", err)
	}
	byName := map[string]string{}
	for _, f := range existing {
		byName[f.Name] = f.ID
	}
	ids := map[string]string{}
	// The main line transfers to the other two, so it comes last.
	for _, name := range []string{examples.BasicSupport, examples.AfterHours, examples.BasicSupportTones, examples.MainLine} {
		doc, err := examples.Read(name)
		if err != nil {
			return nil, fmt.Errorf("demo: read example %s: %w", name, err)
		}
		f, err := flows.Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("demo: example %s: %w", name, err)
		}
		if id, ok := byName[f.Name]; ok {
			ids[name] = id
			continue
		}
		// Examples name their transfer targets by example name; point them
		// at the flows just created.
		for _, a := range f.Applets {
			if tr, ok := a.Config.(*flows.Transfer); ok && ids[tr.Flow] != "" {
				tr.Flow = ids[tr.Flow]
			}
		}
		if doc, err = flows.Encode(f); err != nil {
			return nil, fmt.Errorf("demo: example %s: %w", name, err)
		}
		created, err := repo.Create(ctx, AccountSID, f.Name, doc)
		if err != nil {
			return nil, fmt.Errorf("demo: create flow %s: %w", name, err)
		}
		if _, err := repo.Publish(ctx, AccountSID, created.ID); err != nil {
			return nil, fmt.Errorf("demo: publish flow %s: %w", name, err)
		}
		ids[name] = created.ID
	}
	return ids, nil
}

func seedNumber(ctx context.Context, repo *store.Numbers, n Number) error {
	p, err := repo.Get(ctx, AccountSID, n.Number)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := repo.Create(ctx, AccountSID, n.Number, "Demo "+n.Flow); err != nil {
			return fmt.Errorf("demo: create number %s: %w", n.Number, err)
		}
	case err != nil:
		return fmt.Errorf("demo: get number %s: %w", n.Number, err)
	case p.FlowID != nil:
		return nil // already routed; leave the user's choice alone
	}
	flowID := n.FlowID
	if err := repo.AssignFlow(ctx, AccountSID, n.Number, &flowID); err != nil {
		return fmt.Errorf("demo: assign %s: %w", n.Number, err)
	}
	return nil
}

// Package demo seeds a ready-to-call demo tenant for the embedded default
// (`make run`): an account with well-known credentials, the example flows
// published, ExoPhones pointing at them, a contact list on the test phone
// network and a campaign calling it. Seeding is idempotent.
//
// The credentials are public by design. Never seed the demo on a server
// anyone else can reach.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/campaign"
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

// The demo's contact list and campaign.
const (
	ListName     = "Demo customers"
	CampaignName = "Demo reminder"
	// CampaignThrottle is the demo campaign's pace, in calls per minute.
	CampaignThrottle = 30
)

// Contacts are the demo list's people, on the test phone network: three
// answer, one is busy, one never answers.
var Contacts = []store.Contact{
	{Number: "+15550100001", FirstName: "Asha", LastName: "Rao", Tag: "answers"},
	{Number: "+15550100002", FirstName: "Ben", LastName: "Okafor", Tag: "answers"},
	{Number: "+15550100003", FirstName: "Chen", LastName: "Li", Tag: "answers"},
	{Number: "+15550100101", FirstName: "Dev", LastName: "Mehta", Tag: "busy"},
	{Number: "+15550100201", FirstName: "Esha", LastName: "Nair", Tag: "no-answer"},
}

// Tenant is what Seed made or found.
type Tenant struct {
	AccountSID, APIKey, APIToken string
	// KeyRevoked: an operator revoked the demo API key; it stays revoked
	// (the account's other credentials are unaffected).
	KeyRevoked bool
	Numbers    []Number
	// ListSID is the demo contact list's.
	ListSID string
	// CampaignSID is the demo campaign's, if this Seed created it ("" when
	// the account had a campaign already).
	CampaignSID string
}

// Option changes what Seed makes.
type Option func(*options)

type options struct{ noCampaign bool }

// WithoutCampaign leaves the demo campaign out (the list is still made):
// for tests whose demo account must place no calls of its own.
func WithoutCampaign() Option { return func(o *options) { o.noCampaign = true } }

// Seed creates whatever part of the demo tenant is missing and returns it.
// It changes nothing that exists: a revoked demo key stays revoked, a
// number's flow stays the operator's choice, the demo list keeps the
// contacts it has, and the demo campaign is made only for an account that
// never had a campaign.
func Seed(ctx context.Context, db *store.DB, opts ...Option) (*Tenant, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
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
	if t.ListSID, err = seedList(ctx, db); err != nil {
		return nil, err
	}
	if o.noCampaign {
		return t, nil
	}
	if t.CampaignSID, err = seedCampaign(ctx, db, t.ListSID, ids[examples.BasicSupport]); err != nil {
		return nil, err
	}
	return t, nil
}

// seedList creates the demo contact list with its contacts unless the
// account has a list of that name (whatever its contacts are now), and
// returns its SID.
func seedList(ctx context.Context, db *store.DB) (string, error) {
	ls, _, err := db.Lists().List(ctx, AccountSID, store.ListFilter{Name: ListName, Page: store.Page{Limit: 1000}})
	if err != nil {
		return "", fmt.Errorf("demo: lists: %w", err)
	}
	for _, l := range ls {
		if l.Name == ListName {
			return l.SID, nil
		}
	}
	var sid string
	err = db.InTx(ctx, func(tx *store.DB) error {
		l, err := tx.Lists().Create(ctx, AccountSID, ListName, "demo")
		if err != nil {
			return err
		}
		sid = l.SID
		cs := make([]store.Contact, len(Contacts))
		copy(cs, Contacts)
		_, err = tx.Lists().Import(ctx, AccountSID, l.SID, cs)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("demo: list %s: %w", ListName, err)
	}
	return sid, nil
}

// seedCampaign creates the demo campaign when the account has never had
// one (a deleted campaign counts: the operator's choice stands): the demo
// list called from the first demo ExoPhone through its Basic Support
// flow, starting at once, paced at CampaignThrottle calls a minute (or the
// account's rate, if lower), with one retry a minute later for the busy
// and unanswered. It calls at any hour: the test network's people never
// sleep. It returns the campaign's SID, or "" if it made none.
func seedCampaign(ctx context.Context, db *store.DB, listSID, flowID string) (string, error) {
	all := []string{store.CampaignCreated, store.CampaignInProgress, store.CampaignPaused, store.CampaignCompleted,
		store.CampaignFailed, store.CampaignCanceled, store.CampaignDeleted, store.CampaignArchived}
	_, n, err := db.Campaigns().List(ctx, AccountSID, store.CampaignFilter{Statuses: all, Page: store.Page{Limit: 1}})
	if err != nil {
		return "", fmt.Errorf("demo: campaigns: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	look := campaign.StoreLookup(db)
	limits, err := look.Limits(ctx, AccountSID)
	if err != nil {
		return "", fmt.Errorf("demo: dialing limits: %w", err)
	}
	name, callerID := CampaignName, Numbers[0].Number
	url := fmt.Sprintf("http://localhost/%s/exoml/start_voice/%s", AccountSID, flowID)
	lists := []string{listSID}
	throttle := min(CampaignThrottle, limits.Rate)
	retries, interval := 1, 1
	c, err := campaign.Build(ctx, look, AccountSID, campaign.Spec{
		Name: &name, CallerID: &callerID, URL: &url, Lists: &lists, Throttle: &throttle,
		Retries: &campaign.RetrySpec{NumberOfRetries: &retries, IntervalMins: &interval,
			OnStatus: []string{store.NumberBusy, store.NumberNoAnswer}},
		CallingWindow: &campaign.WindowSpec{Start: "00:00", End: "24:00"},
	}, time.Now())
	if err != nil {
		return "", fmt.Errorf("demo: campaign %s: %w", CampaignName, err)
	}
	if err := db.Campaigns().Create(ctx, c); err != nil {
		return "", fmt.Errorf("demo: campaign %s: %w", CampaignName, err)
	}
	return c.SID, nil
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

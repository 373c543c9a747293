package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

func testPhoneBook(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	cs, err := f.db.Contacts().Create(ctx, f.a.SID, []store.Contact{
		{Number: "+15550100001", FirstName: "Asha", CustomField: map[string]string{"plan": "gold"}},
		{Number: "+15550100002", FirstName: "Ben", Timezone: "America/New_York"},
	})
	must(t, err)
	l, err := f.db.Lists().Create(ctx, f.a.SID, "Gold customers", "vip")
	must(t, err)
	_, err = f.db.Lists().Create(ctx, f.a.SID, "Gold customers", "")
	wantErr(t, err, store.ErrConflict)
	res, err := f.db.Lists().Add(ctx, f.a.SID, l.SID, []string{cs[1].SID, "ct_missing", cs[0].SID, cs[1].SID})
	must(t, err)
	if res[0].Err != nil || !errors.Is(res[1].Err, store.ErrNotFound) || res[2].Err != nil || !errors.Is(res[3].Err, store.ErrConflict) {
		t.Fatalf("add results: %+v", res)
	}
	// Another account can neither see the list nor add its contacts.
	_, err = f.db.Lists().Get(ctx, f.b.SID, l.SID)
	wantErr(t, err, store.ErrNotFound)
	imported, err := f.db.Lists().Import(ctx, f.a.SID, l.SID, []store.Contact{{Number: "+15550100003", LastName: "Chen"}})
	must(t, err)
	members, total, err := f.db.Lists().Members(ctx, f.a.SID, l.SID, store.Page{})
	must(t, err)
	if total != 3 || len(members) != 3 || members[0].SID != cs[1].SID || members[1].SID != cs[0].SID || members[2].SID != imported[0].SID {
		t.Fatalf("members in list order: total %d %+v", total, members)
	}
	if members[1].CustomField["plan"] != "gold" {
		t.Fatalf("custom field lost: %+v", members[1])
	}
	got, err := f.db.Lists().Get(ctx, f.a.SID, l.SID)
	must(t, err)
	if got.Contacts != 3 {
		t.Fatalf("list count %d", got.Contacts)
	}
	must(t, f.db.Contacts().Delete(ctx, f.a.SID, cs[0].SID))
	if _, total, _ = f.db.Lists().Members(ctx, f.a.SID, l.SID, store.Page{}); total != 2 {
		t.Fatalf("deleted contact still listed: %d", total)
	}
	must(t, f.db.DND().Add(ctx, f.a.SID, "asked", "+1 555 0100 002"))
	on, err := f.db.DND().Listed(ctx, f.a.SID, []string{"15550100002", "15550100003"})
	must(t, err)
	if !on["15550100002"] || on["15550100003"] {
		t.Fatalf("dnd lookup %v", on)
	}
	if on, _ := f.db.DND().Listed(ctx, f.b.SID, []string{"15550100002"}); on["15550100002"] {
		t.Fatal("dnd leaked to another account")
	}
}

func testLeases(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	l1, ok, err := f.db.Leases().Acquire(ctx, "dialer", "one", time.Minute)
	must(t, err)
	if !ok || l1.Epoch != 1 {
		t.Fatalf("first acquire: %v %+v", ok, l1)
	}
	if _, ok, _ := f.db.Leases().Acquire(ctx, "dialer", "two", time.Minute); ok {
		t.Fatal("second holder took a live lease")
	}
	again, ok, err := f.db.Leases().Acquire(ctx, "dialer", "one", time.Minute)
	must(t, err)
	if !ok || again.Epoch != 1 {
		t.Fatalf("renewal changed the epoch: %+v", again)
	}
	must(t, f.db.Leases().Release(ctx, l1))
	l2, ok, err := f.db.Leases().Acquire(ctx, "dialer", "two", time.Minute)
	must(t, err)
	if !ok || l2.Epoch != 2 {
		t.Fatalf("takeover after release: %v %+v", ok, l2)
	}
	// The old holder's fenced writes fail.
	c := &store.Campaign{AccountSID: f.a.SID, Name: "fenced", CallerID: "+15550199999", Numbers: []string{"+15550100001"}}
	must(t, f.db.Campaigns().Create(ctx, c))
	_, err = f.db.Campaigns().Start(ctx, l1, c.SID, time.Now(), nil)
	wantErr(t, err, store.ErrLeaseLost)
}

func testCampaignDialing(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	lease, ok, err := f.db.Leases().Acquire(ctx, "dialer", "me", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	cs, err := f.db.Contacts().Create(ctx, f.a.SID, []store.Contact{{Number: "+15550100002", FirstName: "Ben"}, {Number: "+15550100003"}})
	must(t, err)
	l, err := f.db.Lists().Create(ctx, f.a.SID, "l", "")
	must(t, err)
	_, err = f.db.Lists().Add(ctx, f.a.SID, l.SID, []string{cs[0].SID, cs[1].SID})
	must(t, err)
	c := &store.Campaign{AccountSID: f.a.SID, Name: "spring", CallerID: "+15550199999",
		Numbers: []string{"+15550100001", "not a number", "+1 555 0100 002"}, Lists: []string{l.SID},
		StatusCallback: "http://example.com/cb"}
	must(t, f.db.Campaigns().Create(ctx, c))
	start := time.Now()
	var startCBs int
	started, err := f.db.Campaigns().Start(ctx, lease, c.SID, start, func(c *store.Campaign, _ []store.CampaignNumber) ([]store.Callback, error) {
		startCBs++
		return []store.Callback{{AccountSID: c.AccountSID, CallSID: c.SID, Event: "campaign", URL: c.StatusCallback, ContentType: "application/json", Payload: `{}`}}, nil
	})
	must(t, err)
	if !started || startCBs != 1 {
		t.Fatalf("start: %v, %d callbacks", started, startCBs)
	}
	if again, err := f.db.Campaigns().Start(ctx, lease, c.SID, start, nil); err != nil || again {
		t.Fatalf("second start: %v %v", again, err)
	}
	got, err := f.db.Campaigns().Get(ctx, f.a.SID, c.SID)
	must(t, err)
	if got.Status != store.CampaignInProgress || got.Skipped != 1 {
		t.Fatalf("after start: %s, skipped %d", got.Status, got.Skipped)
	}
	due, err := f.db.Campaigns().Due(ctx, c.SID, start, 10)
	must(t, err)
	// +15550100001, the invalid one is not due, +15550100002 (the list's
	// copy skipped), +15550100003.
	if len(due) != 3 || due[0].Number != "+15550100001" || due[2].Data["first_name"] != "" || due[1].Number != "+1 555 0100 002" {
		t.Fatalf("due: %+v", due)
	}
	stats, err := f.db.Campaigns().Stats(ctx, []store.Campaign{*got})
	must(t, err)
	if st := stats[c.SID]; st["created"] != 4 || st["pending"] != 3 || st["invalid"] != 1 {
		t.Fatalf("stats %v", st)
	}

	// Attempt 1 of the first number: claimed once only.
	sid := store.NewSID()
	ok, err = f.db.Campaigns().Begin(ctx, lease, &due[0], sid, "inst")
	must(t, err)
	if !ok {
		t.Fatal("begin refused")
	}
	if ok, _ := f.db.Campaigns().Begin(ctx, lease, &due[0], store.NewSID(), "inst"); ok {
		t.Fatal("the same attempt was claimed twice")
	}
	// Never placed: it comes back with its attempt count.
	un, err := f.db.Campaigns().Unplaced(ctx, []string{"inst"}, start.Add(-time.Hour), 10)
	must(t, err)
	if len(un) != 1 || un[0].CallSID != sid {
		t.Fatalf("unplaced %+v", un)
	}
	must(t, f.db.Campaigns().Unbegin(ctx, sid, start))
	due, _ = f.db.Campaigns().Due(ctx, c.SID, start, 10)
	if len(due) != 3 || due[0].Attempts != 0 || due[0].Status != store.NumberPending {
		t.Fatalf("after unbegin: %+v", due[0])
	}
	// Placed this time: the call ends busy and the number is retried.
	sid = store.NewSID()
	if ok, err := f.db.Campaigns().Begin(ctx, lease, &due[0], sid, "inst"); err != nil || !ok {
		t.Fatalf("begin: %v %v", ok, err)
	}
	call := newCall(f.a.SID, start)
	call.SID = sid
	must(t, f.db.Calls().Create(ctx, call))
	if _, err := f.db.Calls().Finish(ctx, sid, store.CallFinal{Status: store.Busy, EndTime: start.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	ended, err := f.db.Campaigns().Ended(ctx, 10)
	must(t, err)
	if len(ended) != 1 || ended[0].CallStatus != store.Busy {
		t.Fatalf("ended %+v", ended)
	}
	retry := start.Add(time.Minute)
	var numberCBs []string
	out := func(c *store.Campaign, n *store.CampaignNumber, a *store.CampaignAttempt, calls []string) ([]store.Callback, error) {
		numberCBs = append(numberCBs, n.Status)
		return []store.Callback{{AccountSID: c.AccountSID, CallSID: n.ID, Event: "call_status", URL: "http://example.com/n", ContentType: "application/json", Payload: "{}"}}, nil
	}
	if ok, err := f.db.Campaigns().Conclude(ctx, lease, &ended[0].CampaignAttempt, "busy", &retry, out); err != nil || !ok {
		t.Fatalf("conclude: %v %v", ok, err)
	}
	if ok, _ := f.db.Campaigns().Conclude(ctx, lease, &ended[0].CampaignAttempt, "busy", &retry, out); ok {
		t.Fatal("concluded twice")
	}
	if due, _ := f.db.Campaigns().Due(ctx, c.SID, start, 10); len(due) != 2 {
		t.Fatalf("retrying number due before its time: %d", len(due))
	}
	due, _ = f.db.Campaigns().Due(ctx, c.SID, retry, 10)
	if due[len(due)-1].Status != store.NumberRetry || due[len(due)-1].Attempts != 1 {
		t.Fatalf("retry not last due: %+v", due)
	}
	// Settle the others without calls; the campaign finishes.
	for i := range due {
		must(t, f.db.Campaigns().Settle(ctx, lease, &due[i], store.NumberFailedDND, out))
	}
	if len(numberCBs) != 4 {
		t.Fatalf("number callbacks %v", numberCBs)
	}
	var endCBs int
	done, err := f.db.Campaigns().Finish(ctx, lease, c.SID, store.CampaignCompleted, false, func(c *store.Campaign, ended []store.CampaignNumber) ([]store.Callback, error) {
		endCBs++
		return []store.Callback{{AccountSID: c.AccountSID, CallSID: c.SID, Event: "campaign", URL: c.StatusCallback, ContentType: "application/json", Payload: `{}`}}, nil
	})
	must(t, err)
	if !done || endCBs != 1 {
		t.Fatalf("finish: %v %d", done, endCBs)
	}
	rows, total, err := f.db.Campaigns().Report(ctx, f.a.SID, c.SID, store.ReportFilter{})
	must(t, err)
	if total != 1 || rows[0].CallSID != sid || rows[0].Status != "busy" || rows[0].CallStatus != string(store.Busy) {
		t.Fatalf("report %d %+v", total, rows)
	}
	marks, err := f.db.Campaigns().Marks(ctx, f.a.SID, c.SID)
	must(t, err)
	if len(marks) != 1 || marks[0].Status != "busy" || !marks[0].At.Equal(rows[0].CreatedAt) {
		t.Fatalf("marks %+v, report %+v", marks, rows)
	}
	if _, err := f.db.Campaigns().Marks(ctx, f.b.SID, c.SID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's marks: %v", err)
	}
	stats, _ = f.db.Campaigns().Stats(ctx, []store.Campaign{*got})
	if st := stats[c.SID]; st["failed-dnd"] != 3 || st["invalid"] != 1 || st["created"] != 4 {
		t.Fatalf("final stats %v", stats[c.SID])
	}
	// The campaign's two callbacks share its key and are numbered.
	var seqs []int
	must(t, f.db.Gorm().Model(&store.Callback{}).Where("call_sid = ?", c.SID).Order("seq").Pluck("seq", &seqs).Error)
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("campaign callbacks %v", seqs)
	}
	if _, err := f.db.Campaigns().Act(ctx, f.a.SID, c.SID, store.ActionPause, nil); !errors.Is(err, store.ErrCampaignState) {
		t.Fatalf("pause of a completed campaign: %v", err)
	}
	if _, err := f.db.Campaigns().Act(ctx, f.a.SID, c.SID, store.ActionArchive, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Campaigns().Get(ctx, f.b.SID, c.SID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other account reads campaign: %v", err)
	}
}

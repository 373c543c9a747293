package store_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestCallRequestsSQLite(t *testing.T) {
	t.Parallel()
	testCallRequests(t, storetest.SQLiteDSN)
}

func TestCallRequestsPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set: skipping the call request tests on PostgreSQL")
	}
	t.Parallel()
	testCallRequests(t, storetest.PostgresDSN)
}

func testCallRequests(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, fresh(t))
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	requestsMust(t, err)
	b, _, err := db.Accounts().CreateWithSID(ctx, "globex2", "Globex")
	requestsMust(t, err)
	c := &store.Call{AccountSID: a.SID, Direction: store.DirectionInbound, From: "+15550100001",
		To: "+918047000001", PhoneNumber: "+918047000001", Status: store.InProgress}
	requestsMust(t, db.Calls().Create(ctx, c))

	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	reqs := db.CallRequests()
	// Created out of order: ByCall sorts by created_at.
	late := &store.CallRequest{AccountSID: a.SID, CallSID: c.SID, Applet: "p2", Method: "POST",
		URL: "https://crm/b", HTTPStatus: 302, LatencyMS: 40, Outcome: "alternate", CreatedAt: base.Add(time.Second)}
	requestsMust(t, reqs.Create(ctx, late))
	early := &store.CallRequest{AccountSID: a.SID, CallSID: c.SID, Applet: "p1", Method: "GET",
		URL: "https://crm/a", HTTPStatus: 200, LatencyMS: 12, Outcome: "success", Response: "ok",
		CreatedAt: base.Add(5 * time.Millisecond)}
	requestsMust(t, reqs.Create(ctx, early))
	noTime := &store.CallRequest{AccountSID: a.SID, CallSID: c.SID, Method: "GET", URL: "ftp://x",
		Outcome: "error", Error: "unsupported scheme"}
	before := time.Now().Add(-time.Minute)
	requestsMust(t, reqs.Create(ctx, noTime))

	if len(late.ID) < 4 || late.ID[:3] != "rq_" || late.ID == early.ID {
		t.Errorf("ids %q, %q", late.ID, early.ID)
	}
	if late.Kind != store.RequestPassthru {
		t.Errorf("default kind = %q", late.Kind)
	}
	if noTime.CreatedAt.Before(before) {
		t.Errorf("CreatedAt not defaulted to now: %v", noTime.CreatedAt)
	}

	got, err := reqs.ByCall(ctx, a.SID, c.SID)
	requestsMust(t, err)
	if len(got) != 3 || got[0].ID != early.ID || got[1].ID != late.ID || got[2].ID != noTime.ID {
		t.Fatalf("ByCall = %+v", got)
	}
	g := got[0]
	if g.Applet != "p1" || g.Method != "GET" || g.URL != "https://crm/a" || g.HTTPStatus != 200 ||
		g.LatencyMS != 12 || g.Outcome != "success" || g.Response != "ok" || g.Kind != "passthru" ||
		!g.CreatedAt.Equal(early.CreatedAt) {
		t.Errorf("ByCall[0] = %+v", g)
	}
	if got[2].Error != "unsupported scheme" || got[2].HTTPStatus != 0 {
		t.Errorf("ByCall[2] = %+v", got[2])
	}

	// Another account sees nothing and cannot log against the call.
	other, err := reqs.ByCall(ctx, b.SID, c.SID)
	requestsMust(t, err)
	if len(other) != 0 {
		t.Errorf("ByCall(other account) = %+v", other)
	}
	requestsWantIs(t, reqs.Create(ctx, &store.CallRequest{AccountSID: b.SID, CallSID: c.SID, Method: "GET", URL: "u"}), store.ErrNotFound)
	requestsWantIs(t, reqs.Create(ctx, &store.CallRequest{AccountSID: a.SID, CallSID: store.NewSID(), Method: "GET", URL: "u"}), store.ErrNotFound)
	requestsWantIs(t, reqs.Create(ctx, &store.CallRequest{AccountSID: a.SID, Method: "GET"}), store.ErrInvalid)
	requestsWantIs(t, reqs.Create(ctx, &store.CallRequest{AccountSID: a.SID, CallSID: c.SID}), store.ErrInvalid)
}

func requestsMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func requestsWantIs(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("error = %v, want %v", err, want)
	}
}

package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Fresh returns the DSN of a new, empty database (SQLiteDSN, PostgresDSN).
type Fresh func(t testing.TB) string

// Exercise runs the store suite on the databases fresh makes. Each subtest
// runs in parallel on a database of its own.
func Exercise(t *testing.T, fresh Fresh) {
	probe := Open(t, fresh(t))
	t.Logf("store suite: running on %s", probe.Dialect())

	tests := []struct {
		name string
		run  func(t *testing.T, fresh Fresh)
	}{
		{"Migrations", testMigrations},
		{"MigrateConcurrently", testMigrateConcurrently},
		{"Accounts", testAccounts},
		{"Numbers", testNumbers},
		{"FlowLifecycle", testFlowLifecycle},
		{"FlowDelete", testFlowDelete},
		{"FlowList", testFlowList},
		{"PublishConcurrently", testPublishConcurrently},
		{"Route", testRoute},
		{"CallCreateGet", testCallCreateGet},
		{"CallListFilters", testCallListFilters},
		{"CallListPaging", testCallListPaging},
		{"CallTerminalStatus", testCallTerminalStatus},
		{"CallAppletPath", testCallAppletPath},
		{"Legs", testLegs},
		{"Recordings", testRecordings},
		{"RecordingArchive", testRecordingArchive},
		{"RecordingArchiveClaimConcurrently", testRecordingArchiveClaimConcurrently},
		{"InTx", testInTx},
		{"TenantScoping", testTenantScoping},
		{"PhoneBook", testPhoneBook},
		{"CampaignDialing", testCampaignDialing},
		{"Leases", testLeases},
		{"SMS", testSMS},
		{"SMSClaimConcurrently", testSMSClaimConcurrently},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, fresh)
		})
	}
}

// fixture is a migrated database with two accounts.
type fixture struct {
	db   *store.DB
	a, b *store.Account
}

func setup(t *testing.T, fresh Fresh) *fixture {
	t.Helper()
	db := OpenMigrated(t, fresh(t))
	a, _, err := db.Accounts().CreateWithSID(t.Context(), "acme1", "Acme")
	must(t, err)
	b, _, err := db.Accounts().CreateWithSID(t.Context(), "globex2", "Globex")
	must(t, err)
	return &fixture{db: db, a: a, b: b}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		t.Fatalf("error %v exposes gorm.ErrRecordNotFound", err)
	}
}

func ptr[T any](v T) *T { return &v }

// flipFirst changes the first character of a hex token.
func flipFirst(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

// base is a fixed instant for call timestamps, so filters and ordering are
// deterministic.
var base = time.Date(2024, 5, 2, 11, 4, 10, 123456000, time.UTC)

func testMigrations(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	db := Open(t, fresh(t))

	before, err := db.MigrationStatus(ctx)
	must(t, err)
	if len(before) == 0 {
		t.Fatal("no migrations known")
	}
	for _, m := range before {
		if m.Applied || !m.AppliedAt.IsZero() || m.Unknown {
			t.Errorf("fresh database: migration %d %q reported %+v, want pending", m.Version, m.Name, m)
		}
	}

	must(t, db.Migrate(ctx))
	applied, err := db.MigrationStatus(ctx)
	must(t, err)
	if len(applied) != len(before) {
		t.Fatalf("status has %d migrations after Migrate, %d before", len(applied), len(before))
	}
	for i, m := range applied {
		if !m.Applied || m.AppliedAt.IsZero() || m.Version != before[i].Version || m.Name != before[i].Name {
			t.Errorf("after Migrate: %+v, want applied %d %q", m, before[i].Version, before[i].Name)
		}
	}

	// Idempotent: a second run changes nothing.
	must(t, db.Migrate(ctx))
	again, err := db.MigrationStatus(ctx)
	must(t, err)
	if !slices.EqualFunc(applied, again, func(a, b store.MigrationState) bool {
		return a.Version == b.Version && a.Applied == b.Applied && a.AppliedAt.Equal(b.AppliedAt)
	}) {
		t.Errorf("second Migrate changed the status:\n%+v\n%+v", applied, again)
	}

	must(t, db.Ping(ctx))
	// The schema works.
	_, _, err = db.Accounts().Create(ctx, "After Migrate")
	must(t, err)
}

func testMigrateConcurrently(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	dsn := fresh(t)
	dbs := []*store.DB{Open(t, dsn), Open(t, dsn), Open(t, dsn)}
	start := make(chan struct{})
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on handle %d: %v", i, err)
		}
	}
	st, err := dbs[0].MigrationStatus(ctx)
	must(t, err)
	var rows int64
	must(t, dbs[0].Gorm().WithContext(ctx).Table("schema_migrations").Count(&rows).Error)
	if int(rows) != len(st) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", rows, len(st))
	}
	for _, m := range st {
		if !m.Applied {
			t.Errorf("migration %d not applied", m.Version)
		}
	}
}

func testAccounts(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	db := OpenMigrated(t, fresh(t))
	accts := db.Accounts()

	a, token, err := accts.Create(ctx, "Acme Corp")
	must(t, err)
	if !store.ValidAccountSID(a.SID) || a.Name != "Acme Corp" || len(token) < 32 {
		t.Fatalf("Create = %+v, token %q", a, token)
	}
	// Only the hash is stored.
	var stored string
	must(t, db.Gorm().WithContext(ctx).Raw("SELECT token_hash FROM accounts WHERE sid = ?", a.SID).Scan(&stored).Error)
	sum := sha256.Sum256([]byte(token))
	if stored != hex.EncodeToString(sum[:]) {
		t.Errorf("stored token hash %q is not sha256(token)", stored)
	}

	got, err := accts.Get(ctx, a.SID)
	must(t, err)
	if got.SID != a.SID || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("Get = %+v, want %+v", got, a)
	}
	_, err = accts.Get(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound)

	_, _, err = accts.CreateWithSID(ctx, a.SID, "Again")
	wantErr(t, err, store.ErrConflict)
	_, _, err = accts.CreateWithSID(ctx, "Bad SID!", "x")
	wantErr(t, err, store.ErrInvalid)
	_, _, err = accts.Create(ctx, "  ")
	wantErr(t, err, store.ErrInvalid)

	// Legacy SID:token.
	who, err := accts.Authenticate(ctx, a.SID, token)
	must(t, err)
	if who.SID != a.SID {
		t.Errorf("Authenticate(sid) = %s, want %s", who.SID, a.SID)
	}
	key, keyToken, err := accts.CreateAPIKey(ctx, a.SID, "ci")
	must(t, err)
	if key.AccountSID != a.SID || key.Description != "ci" || key.RevokedAt != nil || keyToken == token {
		t.Fatalf("CreateAPIKey = %+v", key)
	}
	who, err = accts.Authenticate(ctx, key.Key, keyToken)
	must(t, err)
	if who.SID != a.SID {
		t.Errorf("Authenticate(key) = %s, want %s", who.SID, a.SID)
	}

	// Legacy clients: the account SID with an API key's token.
	who, err = accts.Authenticate(ctx, a.SID, keyToken)
	must(t, err)
	if who.SID != a.SID {
		t.Errorf("Authenticate(sid, key token) = %s, want %s", who.SID, a.SID)
	}

	for _, c := range []struct{ name, user, token string }{
		{"wrong account token", a.SID, token + "x"},
		{"account token for key", key.Key, token},
		{"wrong key token", key.Key, flipFirst(keyToken)},
		{"unknown user", "nobody", token},
		{"empty token", a.SID, ""},
		{"empty user", "", token},
	} {
		_, err := accts.Authenticate(ctx, c.user, c.token)
		if !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("%s: Authenticate error = %v, want ErrUnauthorized", c.name, err)
		}
	}

	_, _, err = accts.CreateAPIKey(ctx, "nobody", "x")
	wantErr(t, err, store.ErrNotFound)

	must(t, accts.RevokeAPIKey(ctx, a.SID, key.Key))
	_, err = accts.Authenticate(ctx, key.Key, keyToken)
	wantErr(t, err, store.ErrUnauthorized)
	must(t, accts.RevokeAPIKey(ctx, a.SID, key.Key)) // idempotent
	wantErr(t, accts.RevokeAPIKey(ctx, a.SID, "nokey"), store.ErrNotFound)

	keys, err := accts.APIKeys(ctx, a.SID)
	must(t, err)
	if len(keys) != 1 || keys[0].Key != key.Key || keys[0].RevokedAt == nil {
		t.Errorf("APIKeys = %+v, want the one revoked key", keys)
	}
	// The account itself still authenticates.
	_, err = accts.Authenticate(ctx, a.SID, token)
	must(t, err)

	// PutAPIKey: seeded well-known credentials, idempotent.
	must(t, accts.PutAPIKey(ctx, a.SID, "demo_api_key", "demo_api_token", "demo"))
	must(t, accts.PutAPIKey(ctx, a.SID, "demo_api_key", "demo_api_token", "demo"))
	who, err = accts.Authenticate(ctx, "demo_api_key", "demo_api_token")
	must(t, err)
	if who.SID != a.SID {
		t.Errorf("Authenticate(put key) = %s", who.SID)
	}
	must(t, accts.RevokeAPIKey(ctx, a.SID, "demo_api_key"))
	must(t, accts.PutAPIKey(ctx, a.SID, "demo_api_key", "new_token", "demo again"))
	if _, err := accts.Authenticate(ctx, "demo_api_key", "demo_api_token"); !errors.Is(err, store.ErrUnauthorized) {
		t.Errorf("old token after PutAPIKey: %v", err)
	}
	_, err = accts.Authenticate(ctx, "demo_api_key", "new_token")
	must(t, err)
	b, _, err := accts.Create(ctx, "Other")
	must(t, err)
	wantErr(t, accts.PutAPIKey(ctx, b.SID, "demo_api_key", "x", ""), store.ErrConflict)
	wantErr(t, accts.PutAPIKey(ctx, "nobody", "fresh_key", "x", ""), store.ErrNotFound)
	wantErr(t, accts.PutAPIKey(ctx, a.SID, "bad key!", "x", ""), store.ErrInvalid)
	wantErr(t, accts.PutAPIKey(ctx, a.SID, "k", "", ""), store.ErrInvalid)
}

func testNumbers(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	nums := f.db.Numbers()

	p, err := nums.Create(ctx, f.a.SID, "+918047000001", " Support ")
	must(t, err)
	if p.FriendlyName != "Support" || p.FlowID != nil || p.AccountSID != f.a.SID {
		t.Errorf("Create = %+v", p)
	}
	_, err = nums.Create(ctx, f.a.SID, "+918047000000", "Sales")
	must(t, err)

	_, err = nums.Create(ctx, f.a.SID, "+918047000001", "dup")
	wantErr(t, err, store.ErrConflict)
	_, err = nums.Create(ctx, f.b.SID, "+918047000001", "dup in another account")
	wantErr(t, err, store.ErrConflict)
	_, err = nums.Create(ctx, f.a.SID, "08047000001", "not e164")
	wantErr(t, err, store.ErrInvalid)
	_, err = nums.Create(ctx, "nobody", "+15550100001", "x")
	wantErr(t, err, store.ErrNotFound)

	got, err := nums.Get(ctx, f.a.SID, "+918047000001")
	must(t, err)
	if got.Number != p.Number || got.FriendlyName != "Support" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("Get = %+v, want %+v", got, p)
	}
	list, err := nums.List(ctx, f.a.SID)
	must(t, err)
	if len(list) != 2 || list[0].Number != "+918047000000" || list[1].Number != "+918047000001" {
		t.Errorf("List = %+v, want both numbers in order", list)
	}

	must(t, nums.Delete(ctx, f.a.SID, "+918047000000"))
	_, err = nums.Get(ctx, f.a.SID, "+918047000000")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, nums.Delete(ctx, f.a.SID, "+918047000000"), store.ErrNotFound)
	wantErr(t, nums.AssignFlow(ctx, f.a.SID, "+918047000000", nil), store.ErrNotFound)
}

func testFlowLifecycle(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	flows := f.db.Flows()

	doc1 := []byte(`{"start":"a","applets":{"a":{"type":"hangup"}}}`)
	doc2 := []byte(`{"start":"b","applets":{"b":{"type":"hangup"}}}`)
	doc3 := []byte(`{"start":"c"}`)

	fl, err := flows.Create(ctx, f.a.SID, "Support", doc1)
	must(t, err)
	if fl.ID == "" || fl.LiveVersion != 0 || fl.Draft != string(doc1) {
		t.Fatalf("Create = %+v", fl)
	}
	_, err = flows.Create(ctx, f.a.SID, "", doc1)
	wantErr(t, err, store.ErrInvalid)
	_, err = flows.Create(ctx, "nobody", "x", doc1)
	wantErr(t, err, store.ErrNotFound)

	versions, err := flows.Versions(ctx, f.a.SID, fl.ID)
	must(t, err)
	if len(versions) != 0 {
		t.Errorf("unpublished flow has versions %+v", versions)
	}

	v1, err := flows.Publish(ctx, f.a.SID, fl.ID)
	must(t, err)
	if v1.Version != 1 || v1.Document != string(doc1) || v1.AccountSID != f.a.SID || v1.PublishedAt.IsZero() {
		t.Fatalf("first Publish = %+v", v1)
	}

	upd, err := flows.UpdateDraft(ctx, f.a.SID, fl.ID, doc2)
	must(t, err)
	if upd.Draft != string(doc2) || upd.LiveVersion != 1 {
		t.Errorf("UpdateDraft = %+v", upd)
	}
	// Editing the draft never touches a published version.
	got1, err := flows.Version(ctx, f.a.SID, fl.ID, 1)
	must(t, err)
	if got1.Document != string(doc1) {
		t.Errorf("version 1 changed with the draft: %s", got1.Document)
	}

	v2, err := flows.Publish(ctx, f.a.SID, fl.ID)
	must(t, err)
	if v2.Version != 2 || v2.Document != string(doc2) {
		t.Fatalf("second Publish = %+v", v2)
	}
	_, err = flows.UpdateDraft(ctx, f.a.SID, fl.ID, doc3)
	must(t, err)

	cur, err := flows.Get(ctx, f.a.SID, fl.ID)
	must(t, err)
	if cur.LiveVersion != 2 || cur.Draft != string(doc3) || cur.Name != "Support" {
		t.Errorf("Get = %+v, want live 2 and the newest draft", cur)
	}
	versions, err = flows.Versions(ctx, f.a.SID, fl.ID)
	must(t, err)
	if len(versions) != 2 || versions[0].Version != 1 || versions[1].Version != 2 ||
		versions[0].Document != string(doc1) || versions[1].Document != string(doc2) {
		t.Errorf("Versions = %+v, want 1 (doc1) and 2 (doc2)", versions)
	}
	_, err = flows.Version(ctx, f.a.SID, fl.ID, 3)
	wantErr(t, err, store.ErrNotFound)

	dup, err := flows.Duplicate(ctx, f.a.SID, fl.ID, "Support (copy)")
	must(t, err)
	if dup.ID == fl.ID || dup.Name != "Support (copy)" || dup.Draft != string(doc3) || dup.LiveVersion != 0 || dup.AccountSID != f.a.SID {
		t.Errorf("Duplicate = %+v", dup)
	}
	dv, err := flows.Versions(ctx, f.a.SID, dup.ID)
	must(t, err)
	if len(dv) != 0 {
		t.Errorf("duplicate has versions %+v", dv)
	}

	_, err = flows.Get(ctx, f.a.SID, "fl_missing")
	wantErr(t, err, store.ErrNotFound)
	_, err = flows.UpdateDraft(ctx, f.a.SID, "fl_missing", doc1)
	wantErr(t, err, store.ErrNotFound)
	_, err = flows.Publish(ctx, f.a.SID, "fl_missing")
	wantErr(t, err, store.ErrNotFound)
}

func testFlowDelete(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	flows, nums := f.db.Flows(), f.db.Numbers()

	fl, err := flows.Create(ctx, f.a.SID, "Main", []byte(`{}`))
	must(t, err)
	_, err = nums.Create(ctx, f.a.SID, "+918047000001", "")
	must(t, err)

	// Unpublished flows cannot be assigned.
	wantErr(t, nums.AssignFlow(ctx, f.a.SID, "+918047000001", &fl.ID), store.ErrNotPublished)
	_, err = flows.Publish(ctx, f.a.SID, fl.ID)
	must(t, err)
	must(t, nums.AssignFlow(ctx, f.a.SID, "+918047000001", &fl.ID))
	p, err := nums.Get(ctx, f.a.SID, "+918047000001")
	must(t, err)
	if p.FlowID == nil || *p.FlowID != fl.ID {
		t.Fatalf("number flow = %v, want %s", p.FlowID, fl.ID)
	}
	wantErr(t, nums.AssignFlow(ctx, f.a.SID, "+918047000001", ptr("fl_missing")), store.ErrNotFound)

	wantErr(t, flows.Delete(ctx, f.a.SID, fl.ID), store.ErrFlowAssigned)
	if _, err := flows.Get(ctx, f.a.SID, fl.ID); err != nil {
		t.Fatalf("refused delete removed the flow: %v", err)
	}
	if vs, err := flows.Versions(ctx, f.a.SID, fl.ID); err != nil || len(vs) != 1 {
		t.Fatalf("refused delete touched the versions: %v %v", vs, err)
	}

	must(t, nums.AssignFlow(ctx, f.a.SID, "+918047000001", nil))
	p, err = nums.Get(ctx, f.a.SID, "+918047000001")
	must(t, err)
	if p.FlowID != nil {
		t.Fatalf("number still has flow %v", *p.FlowID)
	}
	must(t, flows.Delete(ctx, f.a.SID, fl.ID))
	_, err = flows.Get(ctx, f.a.SID, fl.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = flows.Versions(ctx, f.a.SID, fl.ID)
	wantErr(t, err, store.ErrNotFound)
	var left int64
	must(t, f.db.Gorm().WithContext(ctx).Model(&store.FlowVersion{}).Where("flow_id = ?", fl.ID).Count(&left).Error)
	if left != 0 {
		t.Errorf("%d versions left after delete", left)
	}
	wantErr(t, flows.Delete(ctx, f.a.SID, fl.ID), store.ErrNotFound)
}

func testFlowList(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	var ids []string
	for i := range 5 {
		fl, err := f.db.Flows().Create(ctx, f.a.SID, fmt.Sprintf("flow %d", i), []byte(`{}`))
		must(t, err)
		ids = append(ids, fl.ID)
	}
	_, err := f.db.Flows().Create(ctx, f.b.SID, "other", []byte(`{}`))
	must(t, err)

	var seen []string
	for off := 0; off < 6; off += 2 {
		page, total, err := f.db.Flows().List(ctx, f.a.SID, store.Page{Limit: 2, Offset: off})
		must(t, err)
		if total != 5 {
			t.Errorf("total = %d, want 5", total)
		}
		for _, fl := range page {
			seen = append(seen, fl.ID)
		}
	}
	slices.Sort(ids)
	slices.Sort(seen)
	if !slices.Equal(ids, seen) {
		t.Errorf("paging saw %v, want %v", seen, ids)
	}
}

func testPublishConcurrently(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	dsn := fresh(t)
	db1 := OpenMigrated(t, dsn)
	db2 := Open(t, dsn)
	_, _, err := db1.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	must(t, err)
	fl, err := db1.Flows().Create(ctx, "acme1", "Busy flow", []byte(`{}`))
	must(t, err)

	const n = 8
	start := make(chan struct{})
	versions := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		db := db1
		if i%2 == 1 {
			db = db2
		}
		wg.Go(func() {
			<-start
			v, err := db.Flows().Publish(ctx, "acme1", fl.ID)
			errs[i] = err
			if err == nil {
				versions[i] = v.Version
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions = %v, want 1..%d each once", versions, n)
		}
	}
	got, err := db1.Flows().Get(ctx, "acme1", fl.ID)
	must(t, err)
	if got.LiveVersion != n {
		t.Errorf("LiveVersion = %d, want %d", got.LiveVersion, n)
	}
}

func testRoute(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	nums, flows := f.db.Numbers(), f.db.Flows()

	_, err := nums.Route(ctx, "+15550100001")
	wantErr(t, err, store.ErrNotFound)

	_, err = nums.Create(ctx, f.a.SID, "+918047000001", "Support line")
	must(t, err)
	_, err = nums.Route(ctx, "+918047000001")
	wantErr(t, err, store.ErrNoFlow)

	published := []byte(`{"start":"greet"}`)
	fl, err := flows.Create(ctx, f.a.SID, "Support", published)
	must(t, err)
	_, err = flows.Publish(ctx, f.a.SID, fl.ID)
	must(t, err)
	must(t, nums.AssignFlow(ctx, f.a.SID, "+918047000001", &fl.ID))
	// Drafts never reach calls.
	_, err = flows.UpdateDraft(ctx, f.a.SID, fl.ID, []byte(`{"start":"draft"}`))
	must(t, err)

	rt, err := nums.Route(ctx, "+918047000001")
	must(t, err)
	want := store.Route{AccountSID: f.a.SID, Number: "+918047000001", FriendlyName: "Support line", FlowID: fl.ID, Version: 1}
	if rt.AccountSID != want.AccountSID || rt.Number != want.Number || rt.FriendlyName != want.FriendlyName ||
		rt.FlowID != want.FlowID || rt.Version != want.Version || string(rt.Document) != string(published) {
		t.Errorf("Route = %+v (doc %s), want %+v (doc %s)", rt, rt.Document, want, published)
	}

	_, err = flows.Publish(ctx, f.a.SID, fl.ID)
	must(t, err)
	rt, err = nums.Route(ctx, "+918047000001")
	must(t, err)
	if rt.Version != 2 || string(rt.Document) != `{"start":"draft"}` {
		t.Errorf("after republish Route = version %d doc %s", rt.Version, rt.Document)
	}

	// A flow without a live version. AssignFlow refuses unpublished flows,
	// so reach the state directly.
	must(t, f.db.Gorm().WithContext(ctx).Model(&store.Flow{}).Where("id = ?", fl.ID).Update("live_version", 0).Error)
	_, err = nums.Route(ctx, "+918047000001")
	wantErr(t, err, store.ErrNotPublished)
}

// newCall returns a valid call for account with the given creation time.
func newCall(account string, created time.Time) *store.Call {
	return &store.Call{
		AccountSID:  account,
		Direction:   store.DirectionInbound,
		From:        "+15550100001",
		To:          "+918047000001",
		PhoneNumber: "+918047000001",
		Status:      store.Ringing,
		CreatedAt:   created,
	}
}

func testCallCreateGet(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	calls := f.db.Calls()

	answer := base.Add(3 * time.Second)
	end := base.Add(40 * time.Second)
	c := &store.Call{
		SID:                  store.NewSID(),
		AccountSID:           f.a.SID,
		ParentCallSID:        ptr(store.NewSID()),
		Direction:            store.DirectionOutboundAPI,
		From:                 "+15550100001",
		To:                   "+15550100002",
		PhoneNumber:          "+918047000001",
		FlowID:               ptr("fl_x"),
		FlowVersion:          3,
		Status:               store.InProgress,
		StartTime:            base.Add(time.Second).In(time.FixedZone("IST", 19800)),
		AnswerTime:           &answer,
		EndTime:              &end,
		Duration:             39,
		ConversationDuration: 37,
		HangupCause:          "NORMAL_CLEARING",
		RecordingURL:         "https://rec.example/1.wav",
		CustomField:          `{"order":42}`,
		Digits:               "123#",
		Node:                 "fs1",
		Price:                ptr("1.500"),
		CreatedAt:            base,
	}
	must(t, calls.Create(ctx, c))
	got, err := calls.Get(ctx, f.a.SID, c.SID)
	must(t, err)
	sameCall(t, got, c)
	if got.StartTime.Location() != time.UTC || !got.StartTime.Equal(base.Add(time.Second)) {
		t.Errorf("StartTime = %v, want %v in UTC", got.StartTime, base.Add(time.Second))
	}

	// Defaults.
	d := &store.Call{AccountSID: f.a.SID, Direction: store.DirectionInbound}
	must(t, calls.Create(ctx, d))
	if !store.ValidSID(d.SID) || d.Status != store.Queued || d.CreatedAt.IsZero() || !d.StartTime.Equal(d.CreatedAt) {
		t.Errorf("defaults: %+v", d)
	}
	got, err = calls.Get(ctx, f.a.SID, d.SID)
	must(t, err)
	sameCall(t, got, d)

	dup := *c
	wantErr(t, calls.Create(ctx, &dup), store.ErrConflict)
	wantErr(t, calls.Create(ctx, &store.Call{SID: "XYZ", AccountSID: f.a.SID, Direction: store.DirectionInbound}), store.ErrInvalid)
	wantErr(t, calls.Create(ctx, &store.Call{AccountSID: f.a.SID, Direction: "sideways"}), store.ErrInvalid)
	wantErr(t, calls.Create(ctx, &store.Call{AccountSID: f.a.SID, Direction: store.DirectionInbound, Status: "lost"}), store.ErrInvalid)
	wantErr(t, calls.Create(ctx, &store.Call{AccountSID: "nobody", Direction: store.DirectionInbound}), store.ErrNotFound)
	_, err = calls.Get(ctx, f.a.SID, store.NewSID())
	wantErr(t, err, store.ErrNotFound)

	must(t, calls.SetDigits(ctx, d.SID, "42"))
	got, err = calls.Get(ctx, f.a.SID, d.SID)
	must(t, err)
	if got.Digits != "42" {
		t.Errorf("Digits = %q", got.Digits)
	}
	wantErr(t, calls.SetDigits(ctx, store.NewSID(), "1"), store.ErrNotFound)
}

// sameCall compares calls field by field, times by instant.
func sameCall(t *testing.T, got, want *store.Call) {
	t.Helper()
	sameTime := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	sameTimePtr := func(name string, g, w *time.Time) {
		if (g == nil) != (w == nil) || (g != nil && !g.Equal(*w)) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	sameStr := func(name string, g, w *string) {
		if (g == nil) != (w == nil) || (g != nil && *g != *w) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	sameTime("CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	sameTime("StartTime", got.StartTime, want.StartTime)
	sameTimePtr("AnswerTime", got.AnswerTime, want.AnswerTime)
	sameTimePtr("EndTime", got.EndTime, want.EndTime)
	sameStr("ParentCallSID", got.ParentCallSID, want.ParentCallSID)
	sameStr("FlowID", got.FlowID, want.FlowID)
	sameStr("Price", got.Price, want.Price)
	g, w := *got, *want
	for _, c := range []*store.Call{&g, &w} {
		c.CreatedAt, c.UpdatedAt, c.StartTime = time.Time{}, time.Time{}, time.Time{}
		c.AnswerTime, c.EndTime, c.ParentCallSID, c.FlowID, c.Price = nil, nil, nil, nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("call = %+v\nwant   %+v", g, w)
	}
}

func testCallListFilters(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	calls := f.db.Calls()

	type spec struct {
		from, to, number, dir string
		status                store.Status
		dur                   int
	}
	specs := []spec{
		{"+15550000001", "+918047000001", "+918047000001", store.DirectionInbound, store.Completed, 10},
		{"+15550000002", "+918047000001", "+918047000001", store.DirectionInbound, store.NoAnswer, 0},
		{"+918047000002", "+15550000003", "+918047000002", store.DirectionOutboundAPI, store.Completed, 45},
		{"+918047000002", "+15550000004", "+918047000002", store.DirectionOutboundAPI, store.Busy, 0},
		{"+15550000001", "+918047000002", "+918047000002", store.DirectionInbound, store.InProgress, 30},
		{"+918047000001", "+15550000001", "+918047000001", store.DirectionOutboundDial, store.Failed, 5},
	}
	var sids []string
	for i, s := range specs {
		c := &store.Call{
			AccountSID: f.a.SID, Direction: s.dir, From: s.from, To: s.to, PhoneNumber: s.number,
			Status: s.status, Duration: s.dur, CreatedAt: base.Add(time.Duration(i) * time.Minute),
		}
		must(t, calls.Create(ctx, c))
		sids = append(sids, c.SID)
	}
	// Another account's call matches every filter below but must never show.
	other := newCall(f.b.SID, base)
	other.From, other.Status, other.Duration = "+15550000001", store.Completed, 10
	must(t, calls.Create(ctx, other))

	idx := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, sids[i])
		}
		return out
	}
	for _, c := range []struct {
		name   string
		filter store.CallFilter
		want   []string // in ascending creation order
	}{
		{"all", store.CallFilter{}, idx(0, 1, 2, 3, 4, 5)},
		{"sids", store.CallFilter{SIDs: idx(1, 4, 5)}, idx(1, 4, 5)},
		{"sids of another account", store.CallFilter{SIDs: []string{other.SID}}, nil},
		{"from", store.CallFilter{From: []string{"+15550000001"}}, idx(0, 4)},
		{"from several", store.CallFilter{From: []string{"+15550000002", "+918047000001"}}, idx(1, 5)},
		{"to", store.CallFilter{To: []string{"+918047000001"}}, idx(0, 1)},
		{"statuses", store.CallFilter{Statuses: []store.Status{store.Completed, store.Busy}}, idx(0, 2, 3)},
		{"direction", store.CallFilter{Direction: store.DirectionOutboundAPI}, idx(2, 3)},
		{"phone numbers", store.CallFilter{PhoneNumbers: []string{"+918047000002"}}, idx(2, 3, 4)},
		{"created from", store.CallFilter{CreatedFrom: base.Add(4 * time.Minute)}, idx(4, 5)},
		{"created to", store.CallFilter{CreatedTo: base.Add(time.Minute)}, idx(0, 1)},
		{"created range", store.CallFilter{CreatedFrom: base.Add(2 * time.Minute), CreatedTo: base.Add(3 * time.Minute)}, idx(2, 3)},
		{"created range in another zone", store.CallFilter{
			CreatedFrom: base.Add(2 * time.Minute).In(time.FixedZone("IST", 19800)),
			CreatedTo:   base.Add(3 * time.Minute).In(time.FixedZone("PDT", -7*3600)),
		}, idx(2, 3)},
		{"duration min", store.CallFilter{DurationMin: ptr(30)}, idx(2, 4)},
		{"duration max", store.CallFilter{DurationMax: ptr(0)}, idx(1, 3)},
		{"duration range", store.CallFilter{DurationMin: ptr(5), DurationMax: ptr(10)}, idx(0, 5)},
		{"combined", store.CallFilter{Direction: store.DirectionInbound, Statuses: []store.Status{store.Completed, store.InProgress}, DurationMin: ptr(20)}, idx(4)},
		{"nothing", store.CallFilter{From: []string{"+10000000000"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				fl := c.filter
				fl.SortDesc = desc
				page, err := calls.List(ctx, f.a.SID, fl)
				must(t, err)
				want := slices.Clone(c.want)
				if desc {
					slices.Reverse(want)
				}
				var got []string
				for _, cl := range page.Calls {
					got = append(got, cl.SID)
				}
				if !slices.Equal(got, want) || page.Total != int64(len(want)) {
					t.Errorf("desc=%v: got %v (total %d), want %v", desc, got, page.Total, want)
				}
				if page.Next != "" || page.Prev != "" {
					t.Errorf("single page has cursors %q %q", page.Prev, page.Next)
				}
			}
		})
	}

	_, err := calls.List(ctx, f.a.SID, store.CallFilter{After: "garbage"})
	wantErr(t, err, store.ErrInvalid)
}

func testCallListPaging(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	calls := f.db.Calls()

	// 23 calls, three at each instant, so the SID breaks ties.
	type key struct {
		at  time.Time
		sid string
	}
	var all []key
	for i := range 23 {
		c := newCall(f.a.SID, base.Add(time.Duration(i/3)*time.Second))
		must(t, calls.Create(ctx, c))
		all = append(all, key{c.CreatedAt, c.SID})
	}
	slices.SortFunc(all, func(a, b key) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmpStr(a.sid, b.sid)
	})
	ascending := make([]string, len(all))
	for i, k := range all {
		ascending[i] = k.sid
	}

	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprintf("desc=%v", desc), func(t *testing.T) {
			want := slices.Clone(ascending)
			if desc {
				slices.Reverse(want)
			}
			var (
				got   []string
				pages []*store.CallPage
				after string
			)
			for {
				page, err := calls.List(ctx, f.a.SID, store.CallFilter{Limit: 5, SortDesc: desc, After: after})
				must(t, err)
				if page.Total != 23 {
					t.Fatalf("Total = %d, want 23", page.Total)
				}
				if len(pages) == 0 && page.Prev != "" {
					t.Errorf("first page has Prev")
				}
				if len(pages) > 0 && page.Prev == "" {
					t.Errorf("page %d has no Prev", len(pages)+1)
				}
				pages = append(pages, page)
				for _, c := range page.Calls {
					got = append(got, c.SID)
				}
				if page.Next == "" {
					break
				}
				if len(pages) > 10 {
					t.Fatal("paging does not end")
				}
				after = page.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged order\n got %v\nwant %v", got, want)
			}
			if len(pages) != 5 || len(pages[4].Calls) != 3 {
				t.Errorf("got %d pages, last of %d, want 5 pages, last of 3", len(pages), len(pages[len(pages)-1].Calls))
			}

			// Walk back from the last page with Before.
			before := pages[len(pages)-1].Prev
			for i := len(pages) - 2; i >= 0; i-- {
				page, err := calls.List(ctx, f.a.SID, store.CallFilter{Limit: 5, SortDesc: desc, Before: before})
				must(t, err)
				if !slices.EqualFunc(page.Calls, pages[i].Calls, func(a, b store.Call) bool { return a.SID == b.SID }) {
					t.Fatalf("Before page %d differs from After page", i+1)
				}
				if page.Next == "" {
					t.Errorf("Before page %d has no Next", i+1)
				}
				if (i == 0) != (page.Prev == "") {
					t.Errorf("Before page %d: Prev %q", i+1, page.Prev)
				}
				before = page.Prev
			}
		})
	}
	_, err := calls.List(ctx, f.a.SID, store.CallFilter{After: "x", Before: "y"})
	wantErr(t, err, store.ErrInvalid)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testCallTerminalStatus(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	calls := f.db.Calls()
	c := newCall(f.a.SID, base)
	c.Status = store.Queued
	must(t, calls.Create(ctx, c))

	step := func(status store.Status, want bool) {
		t.Helper()
		changed, err := calls.UpdateStatus(ctx, c.SID, status, base.Add(2*time.Second))
		must(t, err)
		if changed != want {
			t.Errorf("UpdateStatus(%s) changed = %v, want %v", status, changed, want)
		}
	}
	status := func() *store.Call {
		t.Helper()
		got, err := calls.Get(ctx, f.a.SID, c.SID)
		must(t, err)
		return got
	}

	step(store.Ringing, true)
	step(store.Ringing, false) // same status: no change
	answered, err := calls.MarkAnswered(ctx, c.SID, base.Add(2*time.Second))
	must(t, err)
	if !answered {
		t.Error("MarkAnswered did not change the call")
	}
	step(store.Ringing, false) // reordered event: never backwards
	got := status()
	if got.Status != store.InProgress || got.AnswerTime == nil || !got.AnswerTime.Equal(base.Add(2*time.Second)) {
		t.Fatalf("after answer: status %s answer %v", got.Status, got.AnswerTime)
	}

	final := store.CallFinal{
		Status: store.Completed, EndTime: base.Add(62 * time.Second), Duration: 62,
		ConversationDuration: 60, HangupCause: "NORMAL_CLEARING", RecordingURL: "https://rec/1.wav",
	}
	done, err := calls.Finish(ctx, c.SID, final)
	must(t, err)
	if !done {
		t.Fatal("first Finish reported no change")
	}
	// Late events after the terminal one change nothing.
	step(store.Ringing, false)
	step(store.InProgress, false)
	step(store.Failed, false)
	again, err := calls.Finish(ctx, c.SID, store.CallFinal{Status: store.Failed, Duration: 1, HangupCause: "LATE"})
	must(t, err)
	if again {
		t.Error("second Finish reported a change")
	}
	got = status()
	if got.Status != store.Completed || got.Duration != 62 || got.ConversationDuration != 60 ||
		got.HangupCause != "NORMAL_CLEARING" || got.RecordingURL != "https://rec/1.wav" ||
		got.EndTime == nil || !got.EndTime.Equal(base.Add(62*time.Second)) {
		t.Errorf("final record changed: %+v", got)
	}

	// A terminal status from UpdateStatus does not block the authoritative Finish.
	c2 := newCall(f.a.SID, base)
	must(t, calls.Create(ctx, c2))
	changed, err := calls.UpdateStatus(ctx, c2.SID, store.Completed, base)
	must(t, err)
	if !changed {
		t.Error("ringing → completed did not apply")
	}
	done, err = calls.Finish(ctx, c2.SID, store.CallFinal{Status: store.NoAnswer, HangupCause: "NO_ANSWER"})
	must(t, err)
	if !done {
		t.Error("Finish after a terminal UpdateStatus did not apply")
	}
	got, err = calls.Get(ctx, f.a.SID, c2.SID)
	must(t, err)
	if got.Status != store.NoAnswer || got.EndTime == nil {
		t.Errorf("after Finish: %s %v", got.Status, got.EndTime)
	}

	_, err = calls.UpdateStatus(ctx, store.NewSID(), store.Ringing, base)
	wantErr(t, err, store.ErrNotFound)
	_, err = calls.Finish(ctx, store.NewSID(), final)
	wantErr(t, err, store.ErrNotFound)
	_, err = calls.Finish(ctx, c.SID, store.CallFinal{Status: store.Ringing})
	wantErr(t, err, store.ErrInvalid)
	_, err = calls.UpdateStatus(ctx, c.SID, "lost", base)
	wantErr(t, err, store.ErrInvalid)
}

func testLegs(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	legs := f.db.Legs()
	c := newCall(f.a.SID, base)
	must(t, f.db.Calls().Create(ctx, c))

	mk := func(seq int, uuid, to string) *store.Leg {
		return &store.Leg{CallSID: c.SID, AccountSID: f.a.SID, Seq: seq, UUID: uuid, Direction: store.LegOutbound, From: "+918047000001", To: to, Status: store.Ringing}
	}
	// Created out of order; ByCall returns them by Seq.
	must(t, legs.Create(ctx, mk(3, "uuid-3", "+15550100203")))
	must(t, legs.Create(ctx, mk(1, "uuid-1", "+15550100001")))
	must(t, legs.Create(ctx, mk(2, "uuid-2", "+15550100102")))
	auto := mk(0, "uuid-4", "+15550100004")
	must(t, legs.Create(ctx, auto))
	if auto.Seq != 4 || auto.ID == "" {
		t.Errorf("automatic seq = %d id %q, want 4", auto.Seq, auto.ID)
	}

	got, err := legs.ByCall(ctx, f.a.SID, c.SID)
	must(t, err)
	var seqs []int
	for _, l := range got {
		seqs = append(seqs, l.Seq)
	}
	if !slices.Equal(seqs, []int{1, 2, 3, 4}) || got[0].UUID != "uuid-1" || got[2].To != "+15550100203" {
		t.Errorf("ByCall seqs = %v (%+v)", seqs, got)
	}

	wantErr(t, legs.Create(ctx, mk(9, "uuid-1", "")), store.ErrConflict)
	wantErr(t, legs.Create(ctx, mk(1, "uuid-9", "")), store.ErrConflict)
	wantErr(t, legs.Create(ctx, mk(0, "", "")), store.ErrInvalid)
	orphan := mk(0, "uuid-orphan", "")
	orphan.CallSID = store.NewSID()
	wantErr(t, legs.Create(ctx, orphan), store.ErrNotFound)

	l, err := legs.ByUUID(ctx, "uuid-2")
	must(t, err)
	if l.Seq != 2 || l.CallSID != c.SID {
		t.Errorf("ByUUID = %+v", l)
	}
	_, err = legs.ByUUID(ctx, "uuid-none")
	wantErr(t, err, store.ErrNotFound)

	// The terminal rule, per leg.
	changed, err := legs.UpdateStatus(ctx, "uuid-1", store.InProgress, base.Add(time.Second))
	must(t, err)
	if !changed {
		t.Error("ringing → in-progress did not apply")
	}
	done, err := legs.Finish(ctx, "uuid-1", store.LegFinal{
		Status: store.Completed, EndTime: base.Add(31 * time.Second), Duration: 31, TalkTime: 30,
		HangupCause: "NORMAL_CLEARING", SIPTermStatus: "200",
	})
	must(t, err)
	if !done {
		t.Error("Finish did not apply")
	}
	changed, err = legs.UpdateStatus(ctx, "uuid-1", store.Ringing, base)
	must(t, err)
	if changed {
		t.Error("late ringing overwrote a finished leg")
	}
	done, err = legs.Finish(ctx, "uuid-1", store.LegFinal{Status: store.Busy, SIPTermStatus: "486"})
	must(t, err)
	if done {
		t.Error("second Finish applied")
	}
	// A loser of parallel ringing, whose start the node's clock puts
	// before the one recorded when it was dialled.
	nodeStart := base.Add(-50 * time.Millisecond)
	_, err = legs.Finish(ctx, "uuid-2", store.LegFinal{Status: store.Canceled, HangupCause: "ORIGINATOR_CANCEL", SIPTermStatus: "487",
		StartTime: &nodeStart, EndTime: base.Add(time.Second)})
	must(t, err)

	l, err = legs.ByUUID(ctx, "uuid-1")
	must(t, err)
	if l.Status != store.Completed || l.TalkTime != 30 || l.SIPTermStatus != "200" || l.AnswerTime == nil ||
		!l.AnswerTime.Equal(base.Add(time.Second)) || l.EndTime == nil || !l.EndTime.Equal(base.Add(31*time.Second)) {
		t.Errorf("finished leg = %+v", l)
	}
	l, err = legs.ByUUID(ctx, "uuid-2")
	must(t, err)
	if l.Status != store.Canceled || l.AnswerTime != nil || !l.StartTime.Equal(nodeStart) {
		t.Errorf("canceled leg = %+v, want start %v", l, nodeStart)
	}
	_, err = legs.UpdateStatus(ctx, "uuid-none", store.Ringing, base)
	wantErr(t, err, store.ErrNotFound)
	_, err = legs.Finish(ctx, "uuid-none", store.LegFinal{Status: store.Failed})
	wantErr(t, err, store.ErrNotFound)
}

func testRecordings(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	c := newCall(f.a.SID, base)
	must(t, f.db.Calls().Create(ctx, c))
	leg := &store.Leg{CallSID: c.SID, AccountSID: f.a.SID, UUID: "u1", Direction: store.LegInbound}
	must(t, f.db.Legs().Create(ctx, leg))
	recs := f.db.Recordings()

	r1 := &store.Recording{AccountSID: f.a.SID, CallSID: c.SID, LegID: &leg.ID, URL: "https://rec/1.mp3", Path: "/var/rec/1.mp3", Duration: 12, Format: "mp3", CreatedAt: base}
	must(t, recs.Create(ctx, r1))
	r2 := &store.Recording{AccountSID: f.a.SID, CallSID: c.SID, URL: "https://rec/2.wav", Channels: store.ChannelsDual, CreatedAt: base.Add(time.Minute)}
	must(t, recs.Create(ctx, r2))
	if r1.ID == "" || r1.Channels != store.ChannelsSingle {
		t.Errorf("defaults: %+v", r1)
	}

	got, err := recs.Get(ctx, f.a.SID, r1.ID)
	must(t, err)
	if got.URL != r1.URL || got.LegID == nil || *got.LegID != leg.ID || got.Duration != 12 || !got.CreatedAt.Equal(base) {
		t.Errorf("Get = %+v", got)
	}
	list, err := recs.ByCall(ctx, f.a.SID, c.SID)
	must(t, err)
	if len(list) != 2 || list[0].ID != r1.ID || list[1].ID != r2.ID || list[1].Channels != store.ChannelsDual {
		t.Errorf("ByCall = %+v", list)
	}
	_, err = recs.Get(ctx, f.a.SID, "re_none")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, recs.Create(ctx, &store.Recording{AccountSID: f.a.SID, CallSID: c.SID, URL: "u", Channels: "stereo"}), store.ErrInvalid)
	wantErr(t, recs.Create(ctx, &store.Recording{AccountSID: f.a.SID, CallSID: store.NewSID(), URL: "u"}), store.ErrNotFound)

	// A leg of another call is refused.
	c2 := newCall(f.a.SID, base)
	must(t, f.db.Calls().Create(ctx, c2))
	wantErr(t, recs.Create(ctx, &store.Recording{AccountSID: f.a.SID, CallSID: c2.SID, LegID: &leg.ID, URL: "u"}), store.ErrNotFound)
}

func testInTx(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	boom := errors.New("boom")

	rolledBack := newCall(f.a.SID, base)
	err := f.db.InTx(ctx, func(tx *store.DB) error {
		must(t, tx.Calls().Create(ctx, rolledBack))
		if _, err := tx.Calls().Get(ctx, f.a.SID, rolledBack.SID); err != nil {
			t.Errorf("call not visible inside its transaction: %v", err)
		}
		return boom
	})
	wantErr(t, err, boom)
	_, err = f.db.Calls().Get(ctx, f.a.SID, rolledBack.SID)
	wantErr(t, err, store.ErrNotFound)

	kept := newCall(f.a.SID, base)
	must(t, f.db.Calls().Create(ctx, kept))
	must(t, f.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.Ping(ctx); err != nil {
			return err
		}
		if err := tx.Close(); err != nil {
			return err
		}
		done, err := tx.Calls().Finish(ctx, kept.SID, store.CallFinal{Status: store.Completed})
		if err == nil && !done {
			err = errors.New("finish inside InTx did not apply")
		}
		if err != nil {
			return err
		}
		// A repository that opens its own transaction nests (savepoint).
		_, err = tx.Flows().Create(ctx, f.a.SID, "in tx", []byte(`{}`))
		return err
	}))
	got, err := f.db.Calls().Get(ctx, f.a.SID, kept.SID)
	must(t, err)
	if got.Status != store.Completed {
		t.Errorf("status after committed InTx = %s", got.Status)
	}
}

// testTenantScoping calls every account-scoped method with account B's SID
// on account A's rows: each must report ErrNotFound or nothing, and A's
// data must be unchanged afterwards.
func testTenantScoping(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	db := f.db
	A, B := f.a.SID, f.b.SID

	// Account A's world.
	key, keyToken, err := db.Accounts().CreateAPIKey(ctx, A, "a key")
	must(t, err)
	flow, err := db.Flows().Create(ctx, A, "A flow", []byte(`{"a":1}`))
	must(t, err)
	_, err = db.Flows().Publish(ctx, A, flow.ID)
	must(t, err)
	_, err = db.Numbers().Create(ctx, A, "+918047000001", "A line")
	must(t, err)
	must(t, db.Numbers().AssignFlow(ctx, A, "+918047000001", &flow.ID))
	call := newCall(A, base)
	must(t, db.Calls().Create(ctx, call))
	leg := &store.Leg{CallSID: call.SID, AccountSID: A, UUID: "a-uuid", Direction: store.LegInbound}
	must(t, db.Legs().Create(ctx, leg))
	rec := &store.Recording{AccountSID: A, CallSID: call.SID, URL: "https://rec/a"}
	must(t, db.Recordings().Create(ctx, rec))
	// Account B's own number and flow, for cross-assignments.
	_, err = db.Numbers().Create(ctx, B, "+918047000002", "B line")
	must(t, err)

	n := func(l int, err error) (int, error) { return l, err }
	one := func(err error) (int, error) { return 1, err } // single-row methods: must fail
	cases := []struct {
		name string
		call func() (rows int, err error)
	}{
		{"Accounts.RevokeAPIKey", func() (int, error) { return one(db.Accounts().RevokeAPIKey(ctx, B, key.Key)) }},
		{"Accounts.APIKeys", func() (int, error) { k, err := db.Accounts().APIKeys(ctx, B); return n(len(k), err) }},
		{"Numbers.Get", func() (int, error) { _, err := db.Numbers().Get(ctx, B, "+918047000001"); return one(err) }},
		{"Numbers.List", func() (int, error) {
			l, err := db.Numbers().List(ctx, B)
			for _, p := range l {
				if p.AccountSID != B {
					return len(l), err
				}
			}
			return 0, err
		}},
		{"Numbers.AssignFlow(A's number)", func() (int, error) {
			return one(db.Numbers().AssignFlow(ctx, B, "+918047000001", nil))
		}},
		{"Numbers.AssignFlow(A's flow)", func() (int, error) {
			return one(db.Numbers().AssignFlow(ctx, B, "+918047000002", &flow.ID))
		}},
		{"Numbers.Delete", func() (int, error) { return one(db.Numbers().Delete(ctx, B, "+918047000001")) }},
		{"Flows.Get", func() (int, error) { _, err := db.Flows().Get(ctx, B, flow.ID); return one(err) }},
		{"Flows.List", func() (int, error) {
			l, total, err := db.Flows().List(ctx, B, store.Page{})
			return n(len(l)+int(total), err)
		}},
		{"Flows.UpdateDraft", func() (int, error) {
			_, err := db.Flows().UpdateDraft(ctx, B, flow.ID, []byte(`{"evil":1}`))
			return one(err)
		}},
		{"Flows.Publish", func() (int, error) { _, err := db.Flows().Publish(ctx, B, flow.ID); return one(err) }},
		{"Flows.Versions", func() (int, error) { v, err := db.Flows().Versions(ctx, B, flow.ID); return n(len(v), err) }},
		{"Flows.Version", func() (int, error) { _, err := db.Flows().Version(ctx, B, flow.ID, 1); return one(err) }},
		{"Flows.Duplicate", func() (int, error) { _, err := db.Flows().Duplicate(ctx, B, flow.ID, "stolen"); return one(err) }},
		{"Flows.Delete", func() (int, error) { return one(db.Flows().Delete(ctx, B, flow.ID)) }},
		{"Calls.Get", func() (int, error) { _, err := db.Calls().Get(ctx, B, call.SID); return one(err) }},
		{"Calls.List", func() (int, error) {
			p, err := db.Calls().List(ctx, B, store.CallFilter{})
			if err != nil {
				return 0, err
			}
			return len(p.Calls) + int(p.Total), nil
		}},
		{"Calls.List(A's SID)", func() (int, error) {
			p, err := db.Calls().List(ctx, B, store.CallFilter{SIDs: []string{call.SID}})
			if err != nil {
				return 0, err
			}
			return len(p.Calls) + int(p.Total), nil
		}},
		{"Legs.ByCall", func() (int, error) { l, err := db.Legs().ByCall(ctx, B, call.SID); return n(len(l), err) }},
		{"Legs.Create(on A's call)", func() (int, error) {
			return one(db.Legs().Create(ctx, &store.Leg{CallSID: call.SID, AccountSID: B, UUID: "b-uuid", Direction: store.LegOutbound}))
		}},
		{"Recordings.Get", func() (int, error) { _, err := db.Recordings().Get(ctx, B, rec.ID); return one(err) }},
		{"Recordings.ByCall", func() (int, error) { r, err := db.Recordings().ByCall(ctx, B, call.SID); return n(len(r), err) }},
		{"Recordings.Create(on A's call)", func() (int, error) {
			return one(db.Recordings().Create(ctx, &store.Recording{AccountSID: B, CallSID: call.SID, URL: "https://rec/b"}))
		}},
	}
	for _, c := range cases {
		rows, err := c.call()
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err == nil && rows == 0:
		default:
			t.Errorf("%s with account B on A's data: rows %d, err %v; want ErrNotFound or nothing", c.name, rows, err)
		}
	}

	// A's data is untouched.
	if _, err := db.Accounts().Authenticate(ctx, key.Key, keyToken); err != nil {
		t.Errorf("A's key no longer works: %v", err)
	}
	got, err := db.Flows().Get(ctx, A, flow.ID)
	must(t, err)
	if got.Draft != `{"a":1}` || got.LiveVersion != 1 {
		t.Errorf("A's flow changed: %+v", got)
	}
	p, err := db.Numbers().Get(ctx, A, "+918047000001")
	must(t, err)
	if p.FlowID == nil || *p.FlowID != flow.ID {
		t.Errorf("A's number lost its flow: %+v", p)
	}
	pb, err := db.Numbers().Get(ctx, B, "+918047000002")
	must(t, err)
	if pb.FlowID != nil {
		t.Errorf("B's number got A's flow")
	}
	if _, err := db.Calls().Get(ctx, A, call.SID); err != nil {
		t.Errorf("A's call: %v", err)
	}
	if l, err := db.Legs().ByCall(ctx, A, call.SID); err != nil || len(l) != 1 {
		t.Errorf("A's legs: %v %v", l, err)
	}
	if r, err := db.Recordings().ByCall(ctx, A, call.SID); err != nil || len(r) != 1 {
		t.Errorf("A's recordings: %v %v", r, err)
	}
	var bFlows int64
	must(t, db.Gorm().WithContext(ctx).Model(&store.Flow{}).Where("account_sid = ?", B).Count(&bFlows).Error)
	if bFlows != 0 {
		t.Errorf("B gained %d flows", bFlows)
	}
}

// claimEachOnce runs six claimers (claim(worker) returns the ids a claim
// took) until none gets anything, and checks that the n rows were each
// claimed exactly once.
func claimEachOnce(t *testing.T, n int, claim func(worker int) ([]string, error)) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for {
				got, err := claim(w)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, id := range got {
					seen[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d of %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s claimed %d times", id, k)
		}
	}
}

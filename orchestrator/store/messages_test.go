package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestMessagesSQLite(t *testing.T) {
	t.Parallel()
	testMessages(t, storetest.SQLiteDSN)
}

func TestMessagesPostgres(t *testing.T) {
	t.Parallel()
	testMessages(t, storetest.PostgresDSN)
}

func testMessages(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, fresh(t))
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := db.Accounts().CreateWithSID(ctx, "globex2", "Globex")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := &store.Call{AccountSID: a.SID, Direction: store.DirectionInbound, From: "+15550100001",
		To: "+918047000001", PhoneNumber: "+918047000001", Status: store.Ringing, CreatedAt: base}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	msgs := db.Messages()

	m1 := &store.Message{AccountSID: a.SID, CallSID: c.SID, Applet: "sms1", Channel: "sms",
		Recipients: "+15550100001", Body: "Missed call", Provider: "log", Status: store.MessageSent,
		CreatedAt: base.Add(time.Second)}
	if err := msgs.Create(ctx, m1); err != nil {
		t.Fatal(err)
	}
	m2 := &store.Message{AccountSID: a.SID, CallSID: c.SID, Applet: "mail1", Channel: "email",
		Recipients: "ops@example.com,boss@example.com", Subject: "Call — ₹", Body: "héllo",
		Provider: "smtp", Status: store.MessageFailed, Error: "550 no such user"}
	if err := msgs.Create(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if len(m1.ID) < 4 || m1.ID[:3] != "ms_" || m1.ID == m2.ID {
		t.Errorf("IDs %q %q", m1.ID, m2.ID)
	}
	if !m1.CreatedAt.Equal(base.Add(time.Second)) || m2.CreatedAt.IsZero() {
		t.Errorf("CreatedAt %v %v", m1.CreatedAt, m2.CreatedAt)
	}

	list, err := msgs.ByCall(ctx, a.SID, c.SID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != m1.ID || list[1].ID != m2.ID {
		t.Fatalf("ByCall = %+v", list)
	}
	got := list[1]
	if got.Channel != "email" || got.Recipients != m2.Recipients || got.Subject != m2.Subject ||
		got.Body != m2.Body || got.Provider != "smtp" || got.Status != store.MessageFailed ||
		got.Error != m2.Error || got.Applet != "mail1" {
		t.Errorf("ByCall[1] = %+v", got)
	}
	if !list[0].CreatedAt.Equal(m1.CreatedAt) {
		t.Errorf("CreatedAt round trip %v, want %v", list[0].CreatedAt, m1.CreatedAt)
	}

	// Another account sees nothing, and cannot write to the call.
	if other, err := msgs.ByCall(ctx, b.SID, c.SID); err != nil || len(other) != 0 {
		t.Errorf("ByCall other account = %v, %v", other, err)
	}
	err = msgs.Create(ctx, &store.Message{AccountSID: b.SID, CallSID: c.SID, Channel: "sms", Recipients: "x", Status: store.MessageSent})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other account's call: %v, want ErrNotFound", err)
	}
	err = msgs.Create(ctx, &store.Message{AccountSID: a.SID, CallSID: store.NewSID(), Channel: "sms", Recipients: "x", Status: store.MessageSent})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown call: %v, want ErrNotFound", err)
	}
	for _, bad := range []*store.Message{
		{AccountSID: a.SID, CallSID: c.SID, Channel: "sms", Status: "queued"},
		{AccountSID: a.SID, CallSID: c.SID, Status: store.MessageSent},
		{AccountSID: a.SID, Channel: "sms", Status: store.MessageSent},
	} {
		if err := msgs.Create(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Create(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

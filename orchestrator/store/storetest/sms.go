package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

func testSMS(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	r := f.db.SMS()
	callSID := store.NewSID()
	msgs := []store.SMSMessage{
		{AccountSID: f.a.SID, From: "08047000000", To: "+15550100001", Body: "hello", EncodingType: "plain",
			Priority: "normal", SmsType: "transactional", DltEntityID: "e1", DltTemplateID: "t1", CustomField: "order-7",
			StatusCallback: "https://cb.example/sms", DetailedStatus: "PENDING_TO_OPERATOR", DetailedStatusCode: 21010,
			Units: 1, Direction: "outbound-api", Provider: "testnet"},
		{AccountSID: f.a.SID, CallSID: &callSID, From: "08047000000", To: "+15550100002", Body: "from a flow",
			DetailedStatus: "PENDING_TO_OPERATOR", DetailedStatusCode: 21010, Units: 1, Direction: "outbound-api", Provider: "testnet"},
	}
	must(t, r.Create(ctx, msgs))
	wantErr(t, r.Create(ctx, []store.SMSMessage{{AccountSID: f.a.SID, To: "+1"}}), store.ErrInvalid)
	if !store.ValidSID(msgs[0].SID) || msgs[0].Status != store.SMSQueued || msgs[0].NextAttemptAt == nil {
		t.Fatalf("created %+v", msgs[0])
	}
	got, err := r.Get(ctx, f.a.SID, msgs[0].SID)
	must(t, err)
	if got.From != "08047000000" || got.To != "+15550100001" || got.CustomField != "order-7" || got.CallSID != nil ||
		got.DltTemplateID != "t1" || got.DetailedStatusCode != 21010 || !got.CreatedAt.Equal(msgs[0].CreatedAt) {
		t.Fatalf("read back %+v", got)
	}
	_, err = r.Get(ctx, f.b.SID, msgs[0].SID)
	wantErr(t, err, store.ErrNotFound)
	byCall, err := r.ByCall(ctx, f.a.SID, callSID)
	must(t, err)
	if len(byCall) != 1 || byCall[0].SID != msgs[1].SID {
		t.Fatalf("by call: %+v", byCall)
	}

	// Claim takes both, once.
	at := time.Now().Add(time.Second)
	claim := store.SMSClaim{Now: at, Lease: time.Minute, Limit: 10, DetailedStatus: "SENDING", DetailedStatusCode: 21015}
	claimed, err := r.Claim(ctx, claim)
	must(t, err)
	if len(claimed) != 2 || claimed[0].Status != store.SMSSending || claimed[0].Attempts != 1 || claimed[0].DetailedStatusCode != 21015 {
		t.Fatalf("claimed %+v", claimed)
	}
	if again, err := r.Claim(ctx, claim); err != nil || len(again) != 0 {
		t.Fatalf("claimed twice: %v %+v", err, again)
	}
	// A lease that ran out makes a sending message due again.
	stale := claim
	stale.Now = at.Add(2 * time.Minute)
	reclaimed, err := r.Claim(ctx, stale)
	must(t, err)
	if len(reclaimed) != 2 || reclaimed[0].Attempts != 2 {
		t.Fatalf("reclaimed %+v", reclaimed)
	}
	// The first claimer has lost them: its update does nothing.
	if m, err := r.Update(ctx, msgs[0].SID, 1, store.SMSChange{Status: store.SMSSent}, nil); err != nil || m != nil {
		t.Fatalf("stale update: %v %+v", err, m)
	}

	// Submitted, then a delivery report with its callback.
	sent := at.Add(3 * time.Minute)
	m, err := r.Update(ctx, msgs[0].SID, 2, store.SMSChange{Status: store.SMSSubmitted, DetailedStatus: "SUBMITTED",
		DetailedStatusCode: 21020, ProviderMessageID: "pm-1", SentAt: &sent}, nil)
	must(t, err)
	if m == nil || m.Status != store.SMSSubmitted || m.ProviderMessageID != "pm-1" || m.SentAt == nil || m.Provider != "testnet" {
		t.Fatalf("submitted %+v", m)
	}
	out := func(m *store.SMSMessage) ([]store.Callback, error) {
		p, _ := json.Marshal(map[string]string{"SmsSid": m.SID, "Status": m.Status})
		return []store.Callback{{Event: "sms", URL: m.StatusCallback, ContentType: store.ContentForm, Payload: string(p)}}, nil
	}
	_, err = r.Report(ctx, "other", "pm-1", store.SMSChange{Status: store.SMSSent}, out)
	wantErr(t, err, store.ErrNotFound)
	m, err = r.Report(ctx, "testnet", "pm-1", store.SMSChange{Status: store.SMSSent, DetailedStatus: "DELIVERED_TO_HANDSET",
		DetailedStatusCode: 20005}, out)
	must(t, err)
	if m.Status != store.SMSSent || m.DetailedStatusCode != 20005 || m.SentAt == nil || !m.SentAt.Equal(sent.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("reported %+v", m)
	}
	// A final status is never overwritten.
	_, err = r.Report(ctx, "testnet", "pm-1", store.SMSChange{Status: store.SMSFailed}, out)
	wantErr(t, err, store.ErrNotFound)
	var cbs []store.Callback
	must(t, f.db.Gorm().Where("call_sid = ?", msgs[0].SID).Find(&cbs).Error)
	if len(cbs) != 1 || cbs[0].AccountSID != f.a.SID || cbs[0].Seq != 1 || cbs[0].ContentType != store.ContentForm ||
		cbs[0].URL != "https://cb.example/sms" {
		t.Fatalf("callbacks %+v", cbs)
	}
	// A temporary failure requeues.
	next := at.Add(time.Hour)
	m, err = r.Update(ctx, msgs[1].SID, 2, store.SMSChange{Status: store.SMSQueued, DetailedStatus: "PENDING_TO_OPERATOR",
		DetailedStatusCode: 21010, NextAttemptAt: &next, LastError: "try later"}, nil)
	must(t, err)
	if m.Status != store.SMSQueued || m.LastError != "try later" {
		t.Fatalf("requeued %+v", m)
	}
	if due, err := r.NextDue(ctx); err != nil || due == nil || !due.Equal(next.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("next due %v %v, want %v", due, err, next)
	}
	if early, _ := r.Claim(ctx, store.SMSClaim{Now: next.Add(-time.Second), Lease: time.Minute}); len(early) != 0 {
		t.Fatalf("claimed before due: %+v", early)
	}
	if due, _ := r.Claim(ctx, store.SMSClaim{Now: next, Lease: time.Minute}); len(due) != 1 || due[0].Attempts != 3 {
		t.Fatalf("due %+v", due)
	}
	// Nothing queued or sending any more: nothing is due.
	if _, err := r.Update(ctx, msgs[1].SID, 3, store.SMSChange{Status: store.SMSSent}, nil); err != nil {
		t.Fatal(err)
	}
	if due, err := r.NextDue(ctx); err != nil || due != nil {
		t.Fatalf("next due %v %v, want none", due, err)
	}
}

// testSMSClaimConcurrently: claimers racing on one database never take a
// message twice.
func testSMSClaimConcurrently(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	const n = 60
	msgs := make([]store.SMSMessage, n)
	for i := range msgs {
		msgs[i] = store.SMSMessage{AccountSID: f.a.SID, From: "08047000000", To: fmt.Sprintf("+155501%05d", i), Body: "x"}
	}
	must(t, f.db.SMS().Create(ctx, msgs))
	at := time.Now().Add(time.Second)
	claimEachOnce(t, n, func(int) ([]string, error) {
		got, err := f.db.SMS().Claim(ctx, store.SMSClaim{Now: at, Lease: time.Hour, Limit: 4})
		sids := make([]string, len(got))
		for i, m := range got {
			sids[i] = m.SID
		}
		return sids, err
	})
}

package scenario

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// place makes an API call and waits for its final record.
func (h *harness) place(req call.OutboundRequest) (*store.Call, []store.Leg) {
	h.t.Helper()
	req.AccountSID = account
	if req.CallerID == "" {
		req.CallerID = supportNum
	}
	placed, replay, err := h.rt.Place(context.Background(), req)
	if err != nil || replay {
		h.t.Fatalf("place: replay=%v err=%v", replay, err)
	}
	select {
	case <-h.endedChan(placed.SID):
	case <-time.After(60 * time.Second):
		h.t.Fatalf("call %s: no final record after 60s", placed.SID)
	}
	ctx := context.Background()
	c, err := h.db.Calls().Get(ctx, account, placed.SID)
	if err != nil {
		h.t.Fatal(err)
	}
	legs, err := h.db.Legs().ByCall(ctx, account, placed.SID)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range legs {
		h.t.Logf("leg %d %s -> %s: %s cause=%s duration=%d talk=%d", l.Seq, l.From, l.To, l.Status, l.HangupCause, l.Duration, l.TalkTime)
	}
	return c, legs
}

func TestClickToCallBothAnswer(t *testing.T) {
	h := newHarness(t)
	// The agent answers; the customer answers after 1 s and hangs up 5 s later.
	c, legs := h.place(call.OutboundRequest{From: "+15550100001", To: "+15550100405", TimeOut: 20,
		Record: true, CustomField: "order-77", StatusCallback: "http://127.0.0.1:1/cb"})
	if c.Status != store.Completed || c.Direction != store.DirectionOutboundAPI {
		t.Errorf("call: status %s direction %s, want completed outbound-api", c.Status, c.Direction)
	}
	if c.PhoneNumber != supportNum || c.From != "+15550100001" || c.To != "+15550100405" {
		t.Errorf("call: from %s to %s via %s", c.From, c.To, c.PhoneNumber)
	}
	if c.ConversationDuration < 4 || c.RecordingURL == "" || c.AnswerTime == nil {
		t.Errorf("call: conversation %ds recording %q answer %v", c.ConversationDuration, c.RecordingURL, c.AnswerTime)
	}
	checkLegs(t, legs, []legWant{
		{to: "+15550100001", status: store.Completed, talk: true},
		{to: "+15550100405", status: store.Completed, talk: true},
	})
	// Number masking: both legs see the ExoPhone.
	for _, l := range legs {
		if l.From != supportNum {
			t.Errorf("leg %d shows caller id %q, want the ExoPhone %s", l.Seq, l.From, supportNum)
		}
	}
	cbs, err := h.db.Callbacks().ByCall(t.Context(), account, c.SID)
	if err != nil || len(cbs) != 1 || cbs[0].Payload != `{"Status":"completed"}` {
		t.Errorf("outbox: %+v %v, want one terminal callback written with the final record", cbs, err)
	}
}

// An API call whose first leg answers but whose socket application
// cannot reach Switchyard (nothing listens where it connects back) is
// gone from the node with nothing sent to this instance: it still ends,
// answered, with its final record and terminal callback, not left for
// the reconciler to close as lost.
func TestClickToCallWhoseSocketNeverCame(t *testing.T) {
	h := newHarnessOpts(t, options{placeSocket: "127.0.0.1:1"})
	c, legs := h.place(call.OutboundRequest{From: "+15550100001", To: "+15550100405", TimeOut: 20,
		StatusCallback: "http://127.0.0.1:1/cb"})
	if c.Status != store.Completed || c.AnswerTime == nil || c.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("call: status %s answer %v cause %q, want completed, answered, NORMAL_CLEARING", c.Status, c.AnswerTime, c.HangupCause)
	}
	checkLegs(t, legs, []legWant{{to: "+15550100001", status: store.Completed, cause: "NORMAL_CLEARING", anyTalk: true}})
	cbs, err := h.db.Callbacks().ByCall(t.Context(), account, c.SID)
	if err != nil || len(cbs) != 1 {
		t.Errorf("outbox: %+v %v, want one terminal callback written with the final record", cbs, err)
	}
}

func TestClickToCallFromBusy(t *testing.T) {
	h := newHarness(t)
	c, legs := h.place(call.OutboundRequest{From: "+15550100101", To: "+15550100001", TimeOut: 20})
	if c.Status != store.Busy || c.AnswerTime != nil {
		t.Errorf("call: status %s answer %v, want busy, never answered", c.Status, c.AnswerTime)
	}
	checkLegs(t, legs, []legWant{{to: "+15550100101", status: store.Busy, cause: "USER_BUSY"}})
}

func TestClickToCallToNoAnswer(t *testing.T) {
	h := newHarness(t)
	c, legs := h.place(call.OutboundRequest{From: "+15550100001", To: "+15550100201", TimeOut: 10})
	if c.Status != store.NoAnswer {
		t.Errorf("call: status %s, want no-answer", c.Status)
	}
	checkLegs(t, legs, []legWant{
		{to: "+15550100001", status: store.Completed, anyTalk: true},
		{to: "+15550100201", status: store.NoAnswer},
	})
}

func TestConnectToFlow(t *testing.T) {
	// At real speed: the customer hangs up on the node's clock while the
	// flow's prompts run, so how far the flow gets is a matter of time.
	h := newHarnessOpts(t, options{realTime: true})
	flowID := h.flowOf(supportNum)
	// The customer answers and is told they are connected; the support flow
	// runs on their leg. With no key pressed it replays the menu and ends.
	c, legs := h.place(call.OutboundRequest{From: "+15550100405", FlowID: flowID, CustomField: "lead-9"})
	if c.Status != store.Completed || c.To != supportNum || c.FlowID == nil || *c.FlowID != flowID {
		t.Errorf("call: status %s to %s flow %v", c.Status, c.To, c.FlowID)
	}
	if len(legs) < 1 || legs[0].To != "+15550100405" || legs[0].Status != store.Completed {
		t.Errorf("legs: %+v", legs)
	}
}

func TestPlaceRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	cases := []struct {
		name string
		req  call.OutboundRequest
		want error
	}{
		{"caller id not an ExoPhone", call.OutboundRequest{From: "+15550100001", To: "+15550100002", CallerID: "+15550000777"}, call.ErrNotExoPhone},
		{"unknown flow", call.OutboundRequest{From: "+15550100001", FlowID: "fl_nope", CallerID: supportNum}, store.ErrNotFound},
		{"no destination", call.OutboundRequest{From: "+15550100001", CallerID: supportNum}, store.ErrInvalid},
	}
	for _, tc := range cases {
		tc.req.AccountSID = account
		if _, _, err := h.rt.Place(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	page, err := h.db.Calls().List(ctx, account, store.CallFilter{})
	if err != nil || page.Total != 0 {
		t.Errorf("refused requests left %d calls (%v)", page.Total, err)
	}
}

// flowOf returns the id of the flow assigned to an ExoPhone.
func (h *harness) flowOf(number string) string {
	h.t.Helper()
	n, err := h.db.Numbers().Get(context.Background(), account, number)
	if err != nil || n.FlowID == nil {
		h.t.Fatalf("number %s: %v", number, err)
	}
	return *n.FlowID
}

func TestClickToCallTimeLimit(t *testing.T) {
	h := newHarness(t)
	// Both stay on the line: FreeSWITCH ends the call at the time limit.
	c, legs := h.place(call.OutboundRequest{From: "+15550100001", To: "+15550100002", TimeLimit: 4})
	if c.Status != store.Completed || c.Duration > 6 {
		t.Errorf("call: status %s duration %ds, want completed within the 4 s limit", c.Status, c.Duration)
	}
	if len(legs) != 2 || legs[0].HangupCause != "ALLOTTED_TIMEOUT" {
		t.Errorf("legs: %+v, want the first leg cut with ALLOTTED_TIMEOUT", legs)
	}
}

func TestPlaceHoldsFrom(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	req := call.OutboundRequest{AccountSID: account, From: "+15550100001", To: "+15550100402", CallerID: supportNum, HoldFrom: true}
	first, _, err := h.rt.Place(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.rt.Place(ctx, req); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("second call for a held From: %v, want ErrBusy", err)
	}
	<-h.endedChan(first.SID)
	again, _, err := h.rt.Place(ctx, req)
	if err != nil {
		t.Fatalf("From is free once the first call ended: %v", err)
	}
	<-h.endedChan(again.SID)
}

func TestPlaceIdempotent(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	req := call.OutboundRequest{AccountSID: account, From: "+15550100101", To: "+15550100001", CallerID: supportNum,
		IdempotencyKey: "k-1", RequestHash: "h1"}
	first, replay, err := h.rt.Place(ctx, req)
	if err != nil || replay {
		t.Fatal(replay, err)
	}
	again, replay, err := h.rt.Place(ctx, req)
	if err != nil || !replay || again.SID != first.SID {
		t.Errorf("replay: %v %v %v, want the first call %s", again, replay, err, first.SID)
	}
	req.RequestHash = "h2"
	if _, _, err := h.rt.Place(ctx, req); !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Errorf("reused key, other request: %v", err)
	}
	<-h.endedChan(first.SID)
	page, _ := h.db.Calls().List(ctx, account, store.CallFilter{})
	if page.Total != 1 {
		t.Errorf("%d calls, want 1", page.Total)
	}
}

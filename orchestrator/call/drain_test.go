package call

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/callback"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// brokenNode is picked, then fails every originate.
type brokenNode struct{}

func (brokenNode) Name() string { return "broken" }
func (brokenNode) BgAPI(context.Context, string) (<-chan esl.Job, error) {
	return nil, errors.New("connection reset")
}
func (brokenNode) API(context.Context, string) (string, error) {
	return "", errors.New("connection reset")
}

// answeringNode is picked and takes every originate; its jobs end when
// the test says (the first leg answered: the socket would bring the call
// to Handle). Its api commands are sent on asked, when it is not nil,
// and answered with what the test sends on answers (an empty answer
// fails); without asked every channel exists.
type answeringNode struct {
	jobs    chan esl.Job
	asked   chan string
	answers chan string
}

func (answeringNode) Name() string { return "answering" }
func (n answeringNode) BgAPI(context.Context, string) (<-chan esl.Job, error) {
	return n.jobs, nil
}
func (n answeringNode) API(_ context.Context, cmd string) (string, error) {
	if n.asked == nil {
		return "true", nil
	}
	n.asked <- cmd
	if out := <-n.answers; out != "" {
		return out, nil
	}
	return "", errors.New("not connected")
}

type oneNode struct{ n Originator }

func (o oneNode) Pick() (Originator, func(), error) { return o.n, func() {}, nil }

func placeTestRuntime(t *testing.T) (*Runtime, *store.DB) {
	t.Helper()
	return placeTestRuntimeOn(t, brokenNode{})
}

func placeTestRuntimeOn(t *testing.T, node Originator) (*Runtime, *store.DB) {
	t.Helper()
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Numbers().Create(ctx, "acme", "+15550000100", "main"); err != nil {
		t.Fatal(err)
	}
	writes := store.NewQueue(db, store.QueueConfig{})
	t.Cleanup(func() { writes.Close(context.Background()) })
	rt := New(NewQueuedStore(db, writes), Config{Nodes: oneNode{node}, SocketAddr: "127.0.0.1:8084",
		TerminalCallbacks: callback.Builder{}.Terminal}, nil, nil, slog.New(slog.DiscardHandler))
	return rt, db
}

// Once the call row is written, a failed originate ends the call (final
// record, terminal callback) and Place returns it, failed: the client
// learns the CallSid the callback names instead of getting an error.
func TestPlaceReturnsTheCallItCouldNotOriginate(t *testing.T) {
	rt, db := placeTestRuntime(t)
	req := OutboundRequest{AccountSID: "acme", From: "+15550100001", To: "+15550100002", CallerID: "+15550000100",
		StatusCallback: "https://crm.example.com/status"}
	c, replay, err := rt.Place(t.Context(), req)
	if err != nil || replay || c == nil {
		t.Fatalf("Place = %v, %v, %v; want the failed call", c, replay, err)
	}
	if c.Status != store.Failed || c.EndTime == nil {
		t.Errorf("returned call: status %s, end %v", c.Status, c.EndTime)
	}
	wantEnded(t, db, c.SID, store.Failed)
	if err := rt.Drain(t.Context()); err != nil {
		t.Errorf("Drain with nothing placing: %v", err)
	}
}

func TestPlaceRefusedWhileDraining(t *testing.T) {
	rt, _ := placeTestRuntime(t)
	rt.StopPlacing()
	_, _, err := rt.Place(t.Context(), OutboundRequest{AccountSID: "acme", From: "+15550100001", To: "+15550100002", CallerID: "+15550000100"})
	if !errors.Is(err, ErrDraining) {
		t.Fatalf("Place while draining = %v, want ErrDraining", err)
	}
}

// Drain waits for a placed call until it lands (fails here, or reaches
// Handle) or its context ends.
func TestDrainWaitsForPlacedCalls(t *testing.T) {
	rt, _ := placeTestRuntime(t)
	rt.placingStarted("sid1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := rt.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain with a call placing = %v, want it to wait until ctx ends", err)
	}
	awaited := esl.Event{Headers: map[string]string{"variable_switchyard_call": "sid1"}}
	if !rt.Awaited(awaited) || rt.Awaited(esl.Event{Headers: map[string]string{}}) {
		t.Error("Awaited must admit the placed call's connection and no other")
	}
	done := make(chan error, 1)
	go func() { done <- rt.Drain(t.Context()) }()
	rt.landed("sid1")
	if err := <-done; err != nil {
		t.Fatalf("Drain after the call landed: %v", err)
	}
}

// An API call whose first leg answers and hangs up before its socket
// reaches a handler (the socket server's OnGone names the channel) ends
// with its final record and terminal callback at once, answered, rather
// than being left for the reconciler to close as lost; a channel that is
// no placing call's first leg is left alone.
func TestPlacedCallWhoseSocketWentEnds(t *testing.T) {
	node := answeringNode{jobs: make(chan esl.Job, 1)}
	rt, db, c, leg := placeRinging(t, node)
	ended := make(chan string, 1)
	rt.cfg.OnEnd = func(sid string) { ended <- sid }
	rt.SocketGone("not-a-placed-leg")
	node.jobs <- esl.Job{Body: "+OK " + leg + "\n"} // answered
	rt.SocketGone(leg)
	select {
	case sid := <-ended:
		if sid != c.SID {
			t.Fatalf("ended %q, want %s", sid, c.SID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call never ended")
	}
	if err := rt.Drain(t.Context()); err != nil {
		t.Errorf("the call still counts as placing: %v", err)
	}
	rt.Wait()
	if err := rt.store.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantEnded(t, db, c.SID, store.Completed)
}

// placeRinging places an API call on node; it returns the call, ringing,
// and its first leg's UUID.
func placeRinging(t *testing.T, node answeringNode) (*Runtime, *store.DB, *store.Call, string) {
	t.Helper()
	rt, db := placeTestRuntimeOn(t, node)
	req := OutboundRequest{AccountSID: "acme", From: "+15550100001", To: "+15550100002", CallerID: "+15550000100",
		StatusCallback: "https://crm.example.com/status"}
	c, _, err := rt.Place(t.Context(), req)
	if err != nil || c.Status != store.Ringing {
		t.Fatalf("Place = %+v, %v; want the call ringing", c, err)
	}
	if err := rt.store.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	legs, err := db.Legs().ByCall(t.Context(), "acme", c.SID)
	if err != nil || len(legs) != 1 {
		t.Fatalf("legs %+v, %v", legs, err)
	}
	return rt, db, c, legs[0].UUID
}

// placeAnswered is placeRinging with the first leg answered, and the
// node asked about it at once when it does not reach Handle.
func placeAnswered(t *testing.T, node answeringNode) (*Runtime, *store.DB, *store.Call, string) {
	t.Helper()
	rt, db, c, leg := placeRinging(t, node)
	rt.cfg.SocketWait = time.Millisecond
	node.jobs <- esl.Job{Body: "+OK " + leg + "\n"}
	return rt, db, c, leg
}

func newAskedNode() answeringNode {
	return answeringNode{jobs: make(chan esl.Job, 1), asked: make(chan string), answers: make(chan string)}
}

// wantAsked waits for node's next api command and answers it.
func wantAsked(t *testing.T, node answeringNode, cmd, answer string) {
	t.Helper()
	select {
	case got := <-node.asked:
		if got != cmd {
			t.Fatalf("asked the node %q, want %q", got, cmd)
		}
		node.answers <- answer
	case <-time.After(10 * time.Second):
		t.Fatalf("never asked the node %q", cmd)
	}
}

// An API call whose first leg answered and is gone before any socket
// came for it (no OnGone either: its socket application never connected)
// is ended, answered, with its final record and terminal callback, once
// the node says the channel no longer exists; while it exists the call
// waits.
func TestPlacedCallWhoseLegVanishedEnds(t *testing.T) {
	node := newAskedNode()
	rt, db, c, leg := placeAnswered(t, node)
	wantAsked(t, node, "uuid_exists "+leg, "true")
	wantAsked(t, node, "uuid_exists "+leg, "false")
	rt.Wait()
	if err := rt.Drain(t.Context()); err != nil {
		t.Errorf("the call still counts as placing: %v", err)
	}
	if err := rt.store.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantEnded(t, db, c.SID, store.Completed)
}

// A first leg Handle has claimed is its call's to end: the node saying
// the channel is gone then no longer ends the call from the placing side.
func TestPlacedCallClaimedByHandleIsNotEndedTwice(t *testing.T) {
	node := newAskedNode()
	rt, db, c, leg := placeAnswered(t, node)
	select {
	case <-node.asked:
		if !rt.claimFirstLeg(leg) {
			t.Fatal("Handle's claim refused on a leg nobody ended")
		}
		node.answers <- "false"
	case <-time.After(10 * time.Second):
		t.Fatal("the node was never asked")
	}
	rt.landed(c.SID) // Handle's track
	rt.Wait()
	got, err := db.Calls().Get(t.Context(), "acme", c.SID)
	if err != nil || got.EndTime != nil {
		t.Fatalf("call = %+v, %v; want it left to Handle, not ended", got, err)
	}
}

// Of Handle's claim on a first leg and the placing side's (the leg found
// gone), the first wins; a channel that is no first leg is Handle's.
func TestFirstLegClaimedOnce(t *testing.T) {
	rt, _ := placeTestRuntime(t)
	row := &store.Call{SID: "sid1"}
	for _, uuid := range []string{"leg-a", "leg-b"} {
		row.SID = "sid-" + uuid
		rt.placingStarted(row.SID)
		rt.firstLegPlaced(uuid, row, rt.log)
	}
	leave := func(uuid string) bool { _, ok := rt.leaveFirstLeg(uuid); return ok }
	if l, ok := rt.leaveFirstLeg("leg-a"); !ok || l.row.SID != "sid-leg-a" || leave("leg-a") || rt.claimFirstLeg("leg-a") {
		t.Error("leg-a: the placing side's claim must win once, with its call, and refuse Handle's after it")
	}
	if !rt.claimFirstLeg("leg-b") || leave("leg-b") {
		t.Error("leg-b: Handle's claim must win, and refuse the placing side's after it")
	}
	if !rt.claimFirstLeg("inbound-leg") || leave("inbound-leg") {
		t.Error("a channel that is no first leg: Handle's, and never the placing side's")
	}
}

// While the node cannot be asked, the call waits; after awaitSocketTries
// failures in a row it is left to the reconciler and no longer counts as
// placing (a shutdown's Drain does not wait for it).
func TestPlacedCallLeftToTheReconcilerWhenTheNodeCannotSay(t *testing.T) {
	node := newAskedNode()
	rt, db, c, leg := placeAnswered(t, node)
	for range awaitSocketTries {
		wantAsked(t, node, "uuid_exists "+leg, "")
	}
	rt.Wait()
	if err := rt.Drain(t.Context()); err != nil {
		t.Errorf("the call still counts as placing: %v", err)
	}
	got, err := db.Calls().Get(t.Context(), "acme", c.SID)
	if err != nil || got.EndTime != nil {
		t.Fatalf("call = %+v, %v; want it open for the reconciler", got, err)
	}
}

// wantEnded checks that call sid has its final record, with status, and
// one terminal callback queued.
func wantEnded(t *testing.T, db *store.DB, sid string, status store.Status) {
	t.Helper()
	got, err := db.Calls().Get(t.Context(), "acme", sid)
	if err != nil || got.Status != status || got.EndTime == nil {
		t.Fatalf("stored call = %+v, %v; want %s, ended", got, err, status)
	}
	var n int64
	if err := db.Gorm().Model(&store.Callback{}).Where("call_sid = ?", sid).Count(&n).Error; err != nil || n != 1 {
		t.Errorf("terminal callbacks queued = %d (%v), want 1", n, err)
	}
}

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

// answeringNode is picked and takes every originate; its jobs end when
// the test says (the first leg answered: the socket would bring the call
// to Handle).
type answeringNode struct{ jobs chan esl.Job }

func (answeringNode) Name() string { return "answering" }
func (n answeringNode) BgAPI(context.Context, string) (<-chan esl.Job, error) {
	return n.jobs, nil
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
	rt, db := placeTestRuntimeOn(t, node)
	ended := make(chan string, 1)
	rt.cfg.OnEnd = func(sid string) { ended <- sid }
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
	rt.SocketGone("not-a-placed-leg")
	node.jobs <- esl.Job{Body: "+OK " + legs[0].UUID + "\n"} // answered
	rt.SocketGone(legs[0].UUID)
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

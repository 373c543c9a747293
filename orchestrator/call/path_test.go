package call

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// finalRecord ends the call as a lost socket does and returns the final
// record it writes.
func (w *world) finalRecord() store.CallFinal {
	w.t.Helper()
	w.c.socketGone(esl.ErrClosed)
	w.c.effects()
	if !w.c.over {
		w.t.Fatal("the call is not over after its socket went")
	}
	w.c.finish()
	for _, e := range w.c.effects() {
		if f, ok := e.(FinishCall); ok {
			return f.Final
		}
	}
	w.t.Fatal("no final record")
	return store.CallFinal{}
}

// pathString renders a path as flow/applet:type@seconds, one per step.
func pathString(p store.AppletPath) string {
	parts := make([]string, len(p))
	for i, st := range p {
		parts[i] = fmt.Sprintf("%s/%s:%s@%s", st.Flow, st.Applet, st.Type, st.At.Sub(epoch0))
	}
	return strings.Join(parts, " ")
}

// Basic Support to its connect: each applet at the time of the event that
// led to it.
func TestMachineAppletPath(t *testing.T) {
	w := newWorld(t, basicSupport(t))
	w.start()
	w.event("caller", "CHANNEL_ANSWER")
	w.at(3 * time.Second)
	w.completes()
	w.at(7 * time.Second)
	w.completes("variable_switchyard_input_1", "1")
	got := w.finalRecord().AppletPath
	if want := "fl1/welcome:greeting@0s fl1/menu:ivr@3s fl1/tech:connect@7s"; pathString(got) != want {
		t.Errorf("path %s, want %s", pathString(got), want)
	}
	for _, st := range got {
		if st.At.Location() != time.UTC {
			t.Errorf("%s at %s: not UTC", st.Applet, st.At)
		}
	}
}

// transferWorld answers transfers with the flows it holds.
type transferWorld struct {
	*world
	docs map[string]string
}

func (x transferWorld) liveVersion(account, flowID string) (*store.FlowVersion, error) {
	doc, ok := x.docs[flowID]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &store.FlowVersion{FlowID: flowID, Version: 1, AccountSID: account, Document: doc}, nil
}

// After a transfer the path names the other flow.
func TestMachineAppletPathAcrossATransfer(t *testing.T) {
	w := newWorld(t, []byte(`{"start":"hi","applets":{
	 "hi":{"type":"greeting","config":{"prompt":{"text":"Hello"}},"outputs":{"next":"x"}},
	 "x":{"type":"transfer","config":{"flow":"sales"}}}}`))
	x := transferWorld{world: w, docs: map[string]string{"sales": `{"start":"g","applets":{
	 "g":{"type":"greeting","config":{"prompt":{"text":"Sales"}},"outputs":{"next":"h"}},"h":{"type":"hangup"}}}`}}
	w.c = newCall(w.c.env, x, "caller", w.c.data)
	w.start()
	w.at(2 * time.Second)
	w.completes()
	w.at(5 * time.Second)
	w.completes()
	got := pathString(w.finalRecord().AppletPath)
	if want := "fl1/hi:greeting@0s fl1/x:transfer@2s sales/g:greeting@2s sales/h:hangup@5s"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
}

// A caller who goes round a menu long enough: the path keeps its first
// applets and the last one entered.
func TestMachineAppletPathIsBounded(t *testing.T) {
	w := newWorld(t, []byte(`{"start":"m","applets":{
	 "m":{"type":"ivr","config":{"prompt":{"text":"Press 1"}},"outputs":{"1":"s"}},
	 "s":{"type":"sms","config":{"to":"+15550100001","body":"again"},"outputs":{"next":"e"}},
	 "e":{"type":"email","config":{"to":["ops@acme.example"],"subject":"again","body":"again"},"outputs":{"next":"m"}}}}`))
	w.start()
	rounds := store.MaxAppletPath/3 + 5
	for i := range rounds {
		w.at(time.Duration(i+1) * time.Second)
		if w.c.pending.app == "" {
			t.Fatalf("round %d: the menu is not running: %s", i, w.c.state)
		}
		w.completes("variable_"+w.c.pending.variable, "1")
	}
	got := w.finalRecord().AppletPath
	if len(got) != store.MaxAppletPath {
		t.Fatalf("path of %d steps after %d applets, want %d", len(got), 1+3*rounds, store.MaxAppletPath)
	}
	first := "fl1/m:ivr@0s fl1/s:sms@1s fl1/e:email@1s fl1/m:ivr@1s"
	if p := pathString(got[:4]); p != first {
		t.Errorf("path starts %s, want %s", p, first)
	}
	// Steps 0-198 are applets 0-198 (m, then s e m per round: 198 is the
	// menu of round 66); the last is the last applet entered, the menu of
	// the last round.
	tail := fmt.Sprintf("fl1/m:ivr@1m6s fl1/m:ivr@%s", time.Duration(rounds)*time.Second)
	if p := pathString(got[store.MaxAppletPath-2:]); p != tail {
		t.Errorf("path ends %s, want %s", p, tail)
	}
}

// The runtime's write queue carries the path with the final record.
func TestQueuedStoreWritesTheAppletPath(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	q := store.NewQueue(db, store.QueueConfig{})
	t.Cleanup(func() { q.Close(context.Background()) })
	s := NewQueuedStore(db, q)
	row := &store.Call{AccountSID: "acme1", Direction: store.DirectionInbound, From: "+15550109999", To: "+15550000100",
		Status: store.Ringing}
	if err := s.CreateCall(ctx, row); err != nil {
		t.Fatal(err)
	}
	path := store.AppletPath{
		{Flow: "fl1", Applet: "welcome", Type: "greeting", At: epoch0},
		{Flow: "fl1", Applet: "menu", Type: "ivr", At: epoch0.Add(3 * time.Second)},
	}
	if err := s.FinishCall(ctx, row.SID, store.CallFinal{Status: store.Completed, AppletPath: path, Released: true}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Calls().BySID(ctx, row.SID)
	if err != nil {
		t.Fatal(err)
	}
	if pathString(got.AppletPath) != pathString(path) {
		t.Errorf("stored path %s, want %s", pathString(got.AppletPath), pathString(path))
	}
}

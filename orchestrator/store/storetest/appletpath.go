package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// testCallAppletPath writes a call's applet path with its final record and
// reads it back through every read of calls.
func testCallAppletPath(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	calls := f.db.Calls()

	c := newCall(f.a.SID, base)
	must(t, calls.Create(ctx, c))
	got, err := calls.Get(ctx, f.a.SID, c.SID)
	must(t, err)
	if got.AppletPath != nil {
		t.Errorf("a running call has the path %+v", got.AppletPath)
	}

	// Times in another zone come back in UTC, to the microsecond the
	// columns keep elsewhere and beyond (JSON keeps nanoseconds).
	ist := time.FixedZone("IST", 5*3600+1800)
	path := store.AppletPath{
		{Flow: "support", Applet: "welcome", Type: "greeting", At: base.Add(time.Second).In(ist)},
		{Flow: "support", Applet: "hours", Type: "business_hours", At: base.Add(4 * time.Second)},
		{Flow: "support", Applet: "menu", Type: "ivr", At: base.Add(4 * time.Second)},
		{Flow: "sales", Applet: "agents", Type: "connect", At: base.Add(9*time.Second + 7)},
	}
	// In a transaction, as the runtime's write queue finishes calls.
	must(t, f.db.InTx(ctx, func(tx *store.DB) error {
		done, err := tx.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, EndTime: base.Add(time.Minute), AppletPath: path})
		if err == nil && !done {
			t.Error("the first Finish did not apply")
		}
		return err
	}))

	same := func(where string, got store.AppletPath) {
		t.Helper()
		if len(got) != len(path) {
			t.Fatalf("%s: path %+v, want %+v", where, got, path)
		}
		for i, st := range got {
			w := path[i]
			if st.Flow != w.Flow || st.Applet != w.Applet || st.Type != w.Type || !st.At.Equal(w.At) || st.At.Location() != time.UTC {
				t.Errorf("%s: step %d is %+v, want %+v (in UTC)", where, i, st, w)
			}
		}
	}
	got, err = calls.Get(ctx, f.a.SID, c.SID)
	must(t, err)
	same("Get", got.AppletPath)
	got, err = calls.BySID(ctx, c.SID)
	must(t, err)
	same("BySID", got.AppletPath)
	page, err := calls.List(ctx, f.a.SID, store.CallFilter{SIDs: []string{c.SID}})
	must(t, err)
	if len(page.Calls) != 1 {
		t.Fatalf("List: %d calls", len(page.Calls))
	}
	same("List", page.Calls[0].AppletPath)

	// The column holds a JSON array of {flow, applet, type, at}.
	var raw string
	must(t, f.db.Gorm().WithContext(ctx).Raw("SELECT applet_path FROM calls WHERE sid = ?", c.SID).Scan(&raw).Error)
	var stored []map[string]any
	if err := json.Unmarshal([]byte(raw), &stored); err != nil || len(stored) != len(path) ||
		stored[0]["flow"] != "support" || stored[0]["applet"] != "welcome" || stored[0]["type"] != "greeting" ||
		stored[0]["at"] != "2024-05-02T11:04:11.123456Z" {
		t.Errorf("stored %q (%v)", raw, err)
	}

	// Only the first Finish applies: a later one leaves the path alone.
	again, err := calls.Finish(ctx, c.SID, store.CallFinal{Status: store.Failed,
		AppletPath: store.AppletPath{{Flow: "x", Applet: "late", Type: "hangup", At: base}}})
	must(t, err)
	if again {
		t.Error("second Finish applied")
	}
	got, err = calls.Get(ctx, f.a.SID, c.SID)
	must(t, err)
	same("after a second Finish", got.AppletPath)

	// A call finished without a path has none: the empty string, read
	// as nil.
	bare := newCall(f.a.SID, base)
	must(t, calls.Create(ctx, bare))
	_, err = calls.Finish(ctx, bare.SID, store.CallFinal{Status: store.NoAnswer})
	must(t, err)
	got, err = calls.Get(ctx, f.a.SID, bare.SID)
	must(t, err)
	if got.AppletPath != nil {
		t.Errorf("no path written, read %+v", got.AppletPath)
	}
	must(t, f.db.Gorm().WithContext(ctx).Raw("SELECT applet_path FROM calls WHERE sid = ?", bare.SID).Scan(&raw).Error)
	if raw != "" {
		t.Errorf("no path stored as %q", raw)
	}
}

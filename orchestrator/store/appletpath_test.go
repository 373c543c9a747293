package store_test

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

func TestAppletPathValueAndScan(t *testing.T) {
	for _, empty := range []store.AppletPath{nil, {}} {
		if v, err := empty.Value(); err != nil || v != "" {
			t.Errorf("Value of %#v = %#v, %v; want the empty string", empty, v, err)
		}
	}
	for _, src := range []any{nil, "", []byte{}} {
		p := store.AppletPath{{Applet: "stale"}}
		if err := p.Scan(src); err != nil || p != nil {
			t.Errorf("Scan(%#v) = %+v, %v; want nil", src, p, err)
		}
	}

	at := time.Date(2026, 11, 23, 15, 30, 0, 5, time.FixedZone("IST", 5*3600+1800))
	in := store.AppletPath{{Flow: "support", Applet: "welcome", Type: "greeting", At: at}}
	v, err := in.Value()
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"flow":"support","applet":"welcome","type":"greeting","at":"2026-11-23T10:00:00.000000005Z"}]`
	if v != want {
		t.Errorf("Value = %v, want %s", v, want)
	}
	if in[0].At.Location() == time.UTC {
		t.Error("Value changed the caller's path")
	}
	for _, src := range []any{want, []byte(want)} {
		var back store.AppletPath
		if err := back.Scan(src); err != nil || len(back) != 1 || back[0].Applet != "welcome" || !back[0].At.Equal(at) {
			t.Errorf("Scan(%T) = %+v, %v", src, back, err)
		}
	}
	var bad store.AppletPath
	if err := bad.Scan("not json"); err == nil {
		t.Error("Scan took text that is not JSON")
	}
	if err := bad.Scan(42); err == nil {
		t.Error("Scan took an integer")
	}
}

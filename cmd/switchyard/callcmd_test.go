package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

func TestCallShowPrintsTheAppletPath(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "calls.db")
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	flow := "fl_support"
	newCall := func() string {
		c := &store.Call{AccountSID: "acme1", Direction: store.DirectionInbound, From: "+15550109999",
			To: "+15550000100", FlowID: &flow, FlowVersion: 2, Status: store.Ringing}
		if err := db.Calls().Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.SID
	}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	walked := newCall()
	if _, err := db.Calls().Finish(ctx, walked, store.CallFinal{Status: store.Completed, AppletPath: store.AppletPath{
		{Flow: flow, Applet: "welcome", Type: "greeting", At: at},
		{Flow: flow, Applet: "menu", Type: "ivr", At: at.Add(3 * time.Second)},
		{Flow: flow, Applet: "to_sales", Type: "transfer", At: at.Add(5 * time.Second)},
		{Flow: "fl_sales", Applet: "agents", Type: "connect", At: at.Add(5 * time.Second)},
	}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "call", "show", "-db", dsn, walked)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m)^  Path +welcome → menu → to_sales → fl_sales/agents$`).MatchString(out) {
		t.Errorf("output lacks the path:\n%s", out)
	}

	// A call without a path prints no path line.
	bare := newCall()
	code, out, errOut = runCmd(t, "call", "show", "-db", dsn, bare)
	if code != 0 || strings.Contains(out, "Path") || !strings.Contains(out, "Call "+bare) {
		t.Errorf("call without a path: exit %d\n%s%s", code, out, errOut)
	}
}

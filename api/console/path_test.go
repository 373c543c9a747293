package console_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store"
)

var pathList = regexp.MustCompile(`(?s)<ol class="applets applet-path">(.*?)</ol>`)

// A call's page lists the applets it ran through, in order, each linking
// to its flow; the flow is named only for applets of another flow.
func TestCallPageShowsTheAppletPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.signedIn()

	fls, _, err := e.db.Flows().List(ctx, demo.AccountSID, store.Page{Limit: 100})
	if err != nil || len(fls) == 0 {
		t.Fatalf("demo flows: %v %v", fls, err)
	}
	own := fls[0].ID
	c := &store.Call{AccountSID: demo.AccountSID, Direction: store.DirectionInbound, From: "+15550109031",
		To: "+15550000100", PhoneNumber: "+15550000100", FlowID: &own, FlowVersion: 1, Status: store.InProgress}
	if err := e.db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}

	// Running: no path yet, and the page says when it comes.
	p := b.get("/console/calls/" + c.SID)
	if p.Status != 200 || !strings.Contains(p.Body, "The applet path is recorded when the call ends.") || pathList.MatchString(p.Body) {
		t.Errorf("running call: %d\n%s", p.Status, p.Body)
	}

	t0 := time.Now().Add(-time.Minute).UTC()
	path := store.AppletPath{
		{Flow: own, Applet: "welcome", Type: "greeting", At: t0},
		{Flow: own, Applet: "menu", Type: "ivr", At: t0.Add(4 * time.Second)},
		{Flow: own, Applet: "to_sales", Type: "transfer", At: t0.Add(7 * time.Second)},
		{Flow: "fl_sales_desk", Applet: "agents", Type: "connect", At: t0.Add(7 * time.Second)},
	}
	if _, err := e.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, AppletPath: path}); err != nil {
		t.Fatal(err)
	}
	p = b.get("/console/calls/" + c.SID)
	m := pathList.FindStringSubmatch(p.Body)
	if p.Status != 200 || m == nil {
		t.Fatalf("finished call: %d, no applet path list\n%s", p.Status, p.Body)
	}
	items := strings.Split(strings.TrimSpace(m[1]), "</li>")
	items = items[:len(items)-1]
	if len(items) != len(path) {
		t.Fatalf("%d items, want %d:\n%s", len(items), len(path), m[1])
	}
	for i, st := range path {
		item := items[i]
		link := `<a href="/console/flows/` + st.Flow + `"><strong>` + st.Applet + `</strong></a>`
		if !strings.Contains(item, link) || !strings.Contains(item, st.Type) {
			t.Errorf("item %d lacks %s (%s): %s", i, link, st.Type, item)
		}
		named := strings.Contains(item, "in flow")
		if other := st.Flow != own; named != other || (other && !strings.Contains(item, ">"+st.Flow+"</a>")) {
			t.Errorf("item %d names its flow: %v, want %v: %s", i, named, other, item)
		}
	}
	if strings.Contains(p.Body, "No applet path was recorded") {
		t.Error("a call with a path says it has none")
	}

	// A call that ended without one says so.
	bare := e.seedCall(demo.AccountSID, "+15550109032", true)
	if p := b.get("/console/calls/" + bare.SID); !strings.Contains(p.Body, "No applet path was recorded for this call.") {
		t.Errorf("call without a path:\n%s", p.Body)
	}
}

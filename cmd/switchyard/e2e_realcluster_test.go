package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/fsnode"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// TestServeRealNodesTwoInstances runs two instances on one database and
// two real FreeSWITCH nodes from the project's archive, each node's
// switchyard_sockets listing both instances (a|b):
//
//   - an inbound call goes to the first instance of the list;
//   - calls placed over the API are spread over both nodes;
//   - a node drained through one instance gets no new calls from the
//     other;
//   - with the first instance stopped, the node's socket application
//     fails over to the second, which takes the call.
func TestServeRealNodesTwoInstances(t *testing.T) {
	// Not parallel: real nodes run on real time.
	archive, err := fsnode.Locate()
	if errors.Is(err, fsnode.ErrNoArchive) {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var real [2]*fsnode.Node
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range real {
		wg.Go(func() {
			real[i], errs[i] = fsnode.Start(ctx, fsnode.Config{Archive: archive, Password: "cluster-secret-" + t.Name()})
		})
	}
	wg.Wait()
	t.Cleanup(func() { fsnode.StopAll(real[:]...) })
	for i := range real {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	n1, n2 := real[0], real[1]
	dsn := storetest.SQLiteDSN(t)
	both := func(c *Config) {
		// Each node records into its own folder: the instances read
		// the recordings where the node that made them wrote them.
		c.FSNodes, c.FSPassword, c.RecordingsDir = n1.ESL+","+n2.ESL, n1.Password, n1.RecordingsDir
		c.OpsToken = testOpsToken
		c.nodeProbe = 300 * time.Millisecond
	}
	a := startServe(t, dsn, both)
	b := startServe(t, dsn, both)
	for _, n := range real {
		if err := n.SetSockets(ctx, a.socket+"|"+b.socket); err != nil {
			t.Fatal(err)
		}
	}
	db := storetest.Open(t, dsn)
	instanceOf := func(sid string) string {
		t.Helper()
		c, err := db.Calls().BySID(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		var in store.Instance
		if err := db.Gorm().WithContext(ctx).Where("id = ?", c.InstanceID).Take(&in).Error; err != nil {
			t.Fatalf("call %s: instance %q: %v", sid, c.InstanceID, err)
		}
		switch {
		case strings.HasSuffix(in.Name, "/"+a.socket):
			return "a"
		case strings.HasSuffix(in.Name, "/"+b.socket):
			return "b"
		}
		return in.Name
	}
	inbound := func(node *fsnode.Node) string {
		t.Helper()
		var out bytes.Buffer
		code := run(ctx, []string{"sim", "call", "--to", demoPhone, "--hangup-after", "2s",
			"--fs", node.ESL, "--fs-password", node.Password, "--timeout", "1m"}, &out, &out)
		m := callSidLine.FindStringSubmatch(out.String())
		if code != 0 || m == nil {
			t.Fatalf("sim call on %s: exit %d\n%s", node.ESL, code, out.String())
		}
		return m[1]
	}

	// 1. The first instance of the socket list takes inbound calls.
	if sid := inbound(n1); instanceOf(sid) != "a" {
		t.Errorf("inbound call with both instances up went to %s, want a (first in the list)", instanceOf(sid))
	}

	// 2. Calls placed through b are spread over the two nodes: once
	// the first call's channels are gone, both are idle, and each call
	// placed counts on its node until the node's next count has it.
	for _, n := range real {
		waitMetric(t, b, `switchyard_node_sessions{node="`+n.ESL+`"} 0`)
	}
	rc := newReceiver(t)
	place := func(s *server, from string) string {
		return s.connect(url.Values{"From": {from}, "To": {"+15550100403"}, "CallerId": {demoPhone},
			"StatusCallback": {rc.url}}).Sid
	}
	first := []string{place(b, "+15550100021"), place(b, "+15550100022")}
	for _, sid := range first {
		if got := terminalStatus(rc.terminal(sid)); got != "completed" {
			t.Errorf("call %s: %q", sid, got)
		}
	}
	if spread := callNodes(t, db, first); spread[n1.ESL] != 1 || spread[n2.ESL] != 1 {
		t.Errorf("two calls placed at once: %v, want one on each node", spread)
	}

	// 3. Node 1 drained through b: a places its calls on node 2.
	if code, body := b.ops("POST", "/ops/v1/nodes/"+n1.ESL+"/drain", testOpsToken); code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	waitMetric(t, a, `switchyard_node_drained{node="`+n1.ESL+`"} 1`)
	var second []string
	for _, from := range []string{"+15550100023", "+15550100024"} {
		second = append(second, place(a, from))
	}
	for _, sid := range second {
		if got := terminalStatus(rc.terminal(sid)); got != "completed" {
			t.Errorf("call %s: %q", sid, got)
		}
	}
	if spread := callNodes(t, db, second); spread[n2.ESL] != 2 {
		t.Errorf("calls placed by a with node 1 drained by b: %v, want both on node 2", spread)
	}

	// 4. a stops: its socket port closes, and the node's socket
	// application moves on to b.
	a.stop()
	if sid := inbound(n2); instanceOf(sid) != "b" {
		t.Errorf("inbound call with a stopped went to %s, want b (the next in the list)", instanceOf(sid))
	} else if b.waitEnded(sid); b.details(sid).Status != "completed" {
		t.Errorf("inbound call taken over by b: %s", b.details(sid).Status)
	}
}

// waitMetric polls an instance's /metrics until it shows line.
func waitMetric(t *testing.T, s *server, line string) {
	t.Helper()
	var code int
	pollUntil(t, "metrics with "+line, func() bool {
		var body []byte
		code, body = s.ops("GET", "/metrics", testOpsToken)
		return code == http.StatusOK && strings.Contains(string(body), line)
	}, func() any { return code })
}

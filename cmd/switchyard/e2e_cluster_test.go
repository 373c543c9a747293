package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/nodes"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

const testOpsToken = "ops-token-for-tests-0123456789"

// ops sends an operator API request with the operator token (token ""
// sends none).
func (s *server) ops(method, path, token string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// nodeViews is GET /ops/v1/nodes, by address.
func (s *server) nodeViews() map[string]nodes.View {
	s.t.Helper()
	code, body := s.ops("GET", "/ops/v1/nodes", testOpsToken)
	if code != http.StatusOK {
		s.t.Fatalf("GET /ops/v1/nodes: %d %s", code, body)
	}
	var out struct{ Nodes []nodes.View }
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatalf("GET /ops/v1/nodes: %v %s", err, body)
	}
	m := map[string]nodes.View{}
	for _, v := range out.Nodes {
		m[v.Address] = v
	}
	return m
}

// pollUntil checks ok every 100 ms until it holds (30 s at most): what
// the instances share (the node table, drains) changes every 2 s, with
// nothing to wait on but the state itself. last tells what was seen.
func pollUntil(t testing.TB, what string, ok func() bool, last func() any) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !ok() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("never %s; last seen: %v", what, last())
		}
	}
}

// waitNodes polls the node list until ok holds.
func (s *server) waitNodes(what string, ok func(map[string]nodes.View) bool) {
	s.t.Helper()
	var v map[string]nodes.View
	pollUntil(s.t, "nodes "+what, func() bool { v = s.nodeViews(); return ok(v) }, func() any { return v })
}

// callNodes reads which node each call ran on from the database.
func callNodes(t *testing.T, db *store.DB, sids []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, sid := range sids {
		c, err := db.Calls().BySID(t.Context(), sid)
		if err != nil {
			t.Fatal(err)
		}
		out[c.Node]++
	}
	return out
}

// One instance, three nodes: calls are spread over the nodes by load; a
// drained node gets no new call while its live ones finish; a node that
// freezes is taken out within seconds, and the calls it held end with
// their terminal callbacks; an instance with no usable node is not
// ready. The operator API, the CLI and the metrics tell all of it.
func TestServeClusterOfNodes(t *testing.T) {
	t.Parallel()
	n1, n2, n3 := testNode(t, "127.0.0.1:0"), testNode(t, "127.0.0.1:0"), testNode(t, "127.0.0.1:0")
	// The addresses are read once: a frozen emulator answers nothing,
	// its Addr included.
	a1, a2, a3 := n1.Addr(), n2.Addr(), n3.Addr()
	emus := map[string]*fsim.Server{a1: n1, a2: n2, a3: n3}
	dsn := storetest.SQLiteDSN(t)
	s := startServe(t, dsn, func(c *Config) {
		c.FSNodes = strings.Join([]string{a1, a2, a3}, ",")
		c.OpsToken = testOpsToken
		c.nodeProbe = 300 * time.Millisecond
		// The calls on the frozen node end once their node connection is
		// given up for lost, not after the production default's 30 s.
		c.reattachWait = 3 * time.Second
	})
	db := storetest.Open(t, dsn)
	rc := newReceiver(t)

	// Without the token the operator API and the metrics are closed.
	for _, tok := range []string{"", "wrong-token-0123456789"} {
		for _, path := range []string{"/ops/v1/nodes", "/metrics"} {
			if code, body := s.ops("GET", path, tok); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d %s", path, tok, code, body)
			}
		}
	}
	if code, body := s.ops("GET", "/readyz", ""); code != http.StatusOK {
		t.Errorf("readyz with three nodes: %d %s", code, body)
	}
	if code, _ := s.ops("GET", "/livez", ""); code != http.StatusOK {
		t.Errorf("livez: %d", code)
	}
	s.waitNodes("all up", func(m map[string]nodes.View) bool {
		up := 0
		for _, v := range m {
			if v.State == nodes.StateUp && v.CoreUUID != "" {
				up++
			}
		}
		return up == 3
	})

	// Six calls that stay up, spread by load: each node gets some (the
	// counts race with the placements, so not always two each).
	place := func(i int, to string) string {
		return s.connect(url.Values{"From": {fmt.Sprintf("+155501000%02d", 10+i)}, "To": {to}, "CallerId": {demoPhone},
			"StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal", "answered"}}).Sid
	}
	var first []string
	for i := range 6 {
		first = append(first, place(i, fmt.Sprintf("+155501000%02d", 40+i)))
	}
	for _, sid := range first {
		rc.answered(sid)
	}
	spread := callNodes(t, db, first)
	for addr := range emus {
		if spread[addr] < 1 || spread[addr] > 3 {
			t.Errorf("calls per node %v: want them spread over the three", spread)
			break
		}
	}

	// Drain node 1 through the operator API: its calls go on, new
	// calls go to the others.
	if code, body := s.ops("POST", "/ops/v1/nodes/127.0.0.1:1/drain", testOpsToken); code != http.StatusNotFound ||
		!strings.Contains(string(body), `"code":1001`) {
		t.Errorf("drain an unknown node: %d %s", code, body)
	}
	// The node list counts them once the nodes have been asked (every
	// probe) and the instance has reported (every 2 s).
	s.waitNodes("counting the calls", func(m map[string]nodes.View) bool {
		return m[a1].Sessions >= 4 && m[a2].Sessions >= 4 && m[a3].Sessions >= 4
	})
	code, body := s.ops("POST", "/ops/v1/nodes/"+a1+"/drain", testOpsToken)
	if code != http.StatusOK || !strings.Contains(string(body), `"state":"draining"`) {
		t.Fatalf("drain node 1: %d %s", code, body)
	}
	var out bytes.Buffer
	if rc := run(context.Background(), []string{"node", "list", "-db", dsn}, &out, &out); rc != 0 ||
		!strings.Contains(out.String(), a1) || !strings.Contains(out.String(), "draining") {
		t.Errorf("node list: exit %d\n%s", rc, out.String())
	}
	var second []string
	for i := range 4 {
		second = append(second, place(10+i, "+15550100403"))
	}
	for _, sid := range second {
		if got := terminalStatus(rc.terminal(sid)); got != "completed" {
			t.Errorf("call %s placed while node 1 drained: %q", sid, got)
		}
	}
	if n := callNodes(t, db, second)[a1]; n != 0 {
		t.Errorf("%d calls placed on the drained node", n)
	}
	if live := n1.Channels(); live == 0 {
		t.Error("the drained node's calls did not go on")
	}

	// Node 2 freezes (as a stopped process): it is taken out within
	// seconds, and the calls it held, whose sockets went silent, end.
	thaw := n2.Freeze()
	t.Cleanup(thaw) // before the emulator's own Close
	frozenAt := time.Now()
	s.waitNodes("node 2 down", func(m map[string]nodes.View) bool { return m[a2].State == nodes.StateDown })
	took := time.Since(frozenAt)
	t.Logf("a frozen node was down in the node list after %v", took.Round(100*time.Millisecond))
	var onFrozen []string
	for _, sid := range first {
		if c, _ := db.Calls().BySID(t.Context(), sid); c.Node == a2 {
			onFrozen = append(onFrozen, sid)
		}
	}
	for _, sid := range onFrozen {
		if got := terminalStatus(rc.terminal(sid)); got != "completed" {
			t.Errorf("call %s on the frozen node: terminal callback %q, want completed (it was answered)", sid, got)
		}
	}
	third := place(20, "+15550100402")
	if got := terminalStatus(rc.terminal(third)); got != "completed" {
		t.Errorf("call placed with node 2 frozen: %q", got)
	}
	if n := callNodes(t, db, []string{third})[a3]; n != 1 {
		t.Errorf("the call placed with node 1 drained and node 2 frozen did not go to node 3")
	}

	code, body = s.ops("GET", "/metrics", testOpsToken)
	for _, want := range []string{
		`switchyard_node_up{node="` + a2 + `"} 0`,
		`switchyard_node_up{node="` + a3 + `"} 1`,
		`switchyard_node_drained{node="` + a1 + `"} 1`,
		`switchyard_calls_started_total{direction="outbound-api"} 11`,
		`switchyard_api_requests_total{code="200",method="POST",route="/v1/Accounts/:sid/Calls/connect"} 11`,
	} {
		if code != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s (%d)", want, code)
		}
	}

	// Drain the last usable node: the instance is not ready, and an API
	// call has nowhere to go.
	if rc := run(context.Background(), []string{"node", "drain", "-db", dsn, a3}, &out, &out); rc != 0 {
		t.Fatalf("node drain: %d\n%s", rc, out.String())
	}
	s.waitNodes("node 3 drained", func(m map[string]nodes.View) bool { return m[a3].Drained })
	waitReady(t, s, http.StatusServiceUnavailable, "no usable node")
	code, body, _ = s.do("POST", "/v1/Accounts/"+demoAccount+"/Calls/connect.json",
		url.Values{"From": {"+15550100030"}, "To": {"+15550100402"}, "CallerId": {demoPhone}})
	if code != http.StatusServiceUnavailable {
		t.Errorf("a call with every node drained or down: %d %s", code, body)
	}
	if rc := run(context.Background(), []string{"node", "undrain", "-db", dsn, a3}, &out, &out); rc != 0 {
		t.Fatalf("node undrain: %d\n%s", rc, out.String())
	}
	waitReady(t, s, http.StatusOK, "")
}

// waitReady polls /readyz until it answers code with want in its body.
func waitReady(t *testing.T, s *server, code int, want string) {
	t.Helper()
	var got int
	var body []byte
	pollUntil(t, fmt.Sprintf("readyz %d with %q", code, want), func() bool {
		got, body = s.ops("GET", "/readyz", "")
		return got == code && strings.Contains(string(body), want)
	}, func() any { return fmt.Sprintf("%d %s", got, body) })
}

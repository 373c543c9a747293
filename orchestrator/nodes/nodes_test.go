package nodes_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/nodes"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// emulated starts an emulator and a connected esl.Node to it.
func emulated(t *testing.T) (*fsim.Server, *esl.Node) {
	t.Helper()
	fs := fsim.New(fsim.Config{})
	if err := fs.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	n := esl.NewNode(esl.NodeConfig{Addr: fs.Addr(), Password: "ClueCon"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := n.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return fs, n
}

// Two instances share two nodes through one database: each one's reports
// make the nodes up, a drain set on one instance is applied there at
// once and on the other at its next sync, and the pool of both then
// places nothing on the drained node.
func TestKeepersShareReportsAndDrains(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.SQLiteDSN(t)
	dbA, dbB := storetest.OpenMigrated(t, dsn), storetest.Open(t, dsn)
	fs1, a1 := emulated(t)
	fs2, a2 := emulated(t)
	// Instance B has its own connections to the same two nodes.
	b1 := esl.NewNode(esl.NodeConfig{Addr: fs1.Addr(), Password: "ClueCon"})
	b2 := esl.NewNode(esl.NodeConfig{Addr: fs2.Addr(), Password: "ClueCon"})
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	for _, n := range []*esl.Node{b1, b2} {
		go n.Run(bctx)
		if _, err := n.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var drainsB []string
	ka := nodes.NewKeeper(dbA.Nodes(), []*esl.Node{a1, a2}, nodes.Config{Instance: "inst-a"})
	kb := nodes.NewKeeper(dbB.Nodes(), []*esl.Node{b1, b2}, nodes.Config{Instance: "inst-b",
		OnDrain: func(addr string, drained bool) {
			if drained {
				drainsB = append(drainsB, addr)
			}
		}})
	for _, k := range []*nodes.Keeper{ka, kb} {
		if err := k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	views, err := ka.List(ctx)
	if err != nil || len(views) != 2 {
		t.Fatalf("list: %v %+v", err, views)
	}
	for _, v := range views {
		if v.State != nodes.StateUp || !v.Connected || v.CoreUUID == "" || v.SeenBy == "" {
			t.Errorf("node %s: %+v, want up with its Core-UUID", v.Address, v)
		}
	}
	if u, n := ka.Usable(); u != 2 || n != 2 {
		t.Errorf("usable %d of %d", u, n)
	}
	if got := ka.NameOf(a2.Health().CoreUUID); got != fs2.Addr() {
		t.Errorf("NameOf = %q, want %s", got, fs2.Addr())
	}

	if _, err := ka.SetDrained(ctx, "127.0.0.1:1", true); !errors.Is(err, nodes.ErrUnknownNode) {
		t.Errorf("drain an unknown node: %v", err)
	}
	v, err := ka.SetDrained(ctx, fs1.Addr(), true)
	if err != nil || !v.Drained || v.State != nodes.StateDrained || v.DrainedAt == nil {
		t.Fatalf("drain: %v %+v", err, v)
	}
	if !a1.Health().Drained || b1.Health().Drained {
		t.Errorf("drained here at once (%v), there not before its sync (%v)", a1.Health().Drained, b1.Health().Drained)
	}
	if err := kb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !b1.Health().Drained || len(drainsB) != 1 || drainsB[0] != fs1.Addr() {
		t.Errorf("instance B after its sync: drained %v, told %v", b1.Health().Drained, drainsB)
	}
	for _, pool := range []*esl.Pool{esl.NewPool(a1, a2), esl.NewPool(b1, b2)} {
		for range 3 {
			n, release, err := pool.Pick()
			if err != nil || n.Name() != fs2.Addr() {
				t.Fatalf("pick with node 1 drained: %v %v", n, err)
			}
			release()
		}
	}
	if u, _ := kb.Usable(); u != 1 {
		t.Errorf("usable on B: %d, want 1", u)
	}

	// A node no instance reaches is down for everyone once the last
	// report that it was up is stale.
	fs2.Close()
	if _, err := kb.SetDrained(ctx, fs1.Addr(), false); err != nil {
		t.Fatal(err)
	}
	waitDisconnected(t, a2)
	waitDisconnected(t, b2)
	for _, k := range []*nodes.Keeper{ka, kb} {
		if err := k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := dbA.Nodes().List(ctx)
	for _, r := range rows {
		v := nodes.ViewOf(r, time.Now(), ka.Stale())
		want := nodes.StateUp
		if r.Address == fs2.Addr() {
			want = nodes.StateDown
		}
		if v.State != want {
			t.Errorf("node %s: %s, want %s", r.Address, v.State, want)
		}
	}
}

func waitDisconnected(t *testing.T, n *esl.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for n.Health().Connected {
		c, err := n.Conn()
		if err != nil {
			continue
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("node %s still connected", n.Name())
		}
	}
}

func TestViewStates(t *testing.T) {
	now := time.Now()
	seen := now.Add(-time.Second)
	old := now.Add(-time.Minute)
	beat := now.Add(-5 * time.Second)
	for _, c := range []struct {
		row  store.Node
		want string
	}{
		{store.Node{Connected: true, SeenAt: &seen}, nodes.StateUp},
		{store.Node{Connected: true, SeenAt: &old}, nodes.StateDown},
		{store.Node{Connected: false, SeenAt: &seen}, nodes.StateDown},
		{store.Node{Connected: true, SeenAt: &seen, Drained: true, Sessions: 3}, nodes.StateDraining},
		{store.Node{Connected: true, SeenAt: &seen, Drained: true}, nodes.StateDrained},
		{store.Node{Connected: true, Drained: true}, nodes.StateDown},
	} {
		if got := nodes.ViewOf(c.row, now, 6*time.Second).State; got != c.want {
			t.Errorf("%+v: %s, want %s", c.row, got, c.want)
		}
	}
	v := nodes.ViewOf(store.Node{LastHeartbeat: &beat}, now, time.Second)
	if v.HeartbeatAge == nil || *v.HeartbeatAge < 4.9 || *v.HeartbeatAge > 5.1 {
		t.Errorf("heartbeat age %v, want 5 s", v.HeartbeatAge)
	}
}

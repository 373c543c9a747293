package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestNodesReportDrainForget(t *testing.T) {
	onEachDB(t, func(t *testing.T, fresh storetest.Fresh) {
		ctx := t.Context()
		db := storetest.OpenMigrated(t, fresh(t))
		nodes := db.Nodes()
		beat := time.Now().Add(-3 * time.Second)
		if err := nodes.Report(ctx, "inst-a", time.Minute, []store.NodeReport{
			{Address: "10.0.0.1:8021", CoreUUID: "core-1", Connected: true, Sessions: 7, MaxSessions: 1000, IdleCPU: 93.5, LastHeartbeat: beat},
			{Address: "10.0.0.2:8021"},
		}); err != nil {
			t.Fatal(err)
		}
		list, err := nodes.List(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %v %+v", err, list)
		}
		a := list[0]
		if a.Address != "10.0.0.1:8021" || a.CoreUUID != "core-1" || !a.Connected || a.Sessions != 7 || a.MaxSessions != 1000 ||
			a.IdleCPU != 93.5 || a.SeenBy != "inst-a" || a.SeenAt == nil || a.LastHeartbeat == nil || a.LastHeartbeat.Sub(beat).Abs() > time.Millisecond {
			t.Errorf("node a: %+v", a)
		}
		if b := list[1]; b.Connected || b.LastHeartbeat != nil || b.Drained {
			t.Errorf("node b: %+v", b)
		}

		// Another instance that cannot reach node a does not overwrite a
		// fresh report that it is up; it does fill in what nobody saw.
		if err := nodes.Report(ctx, "inst-b", time.Minute, []store.NodeReport{
			{Address: "10.0.0.1:8021"}, {Address: "10.0.0.2:8021", CoreUUID: "core-2", Connected: true, Sessions: 1},
		}); err != nil {
			t.Fatal(err)
		}
		list, _ = nodes.List(ctx)
		if a := list[0]; !a.Connected || a.SeenBy != "inst-a" || a.Sessions != 7 {
			t.Errorf("node a after an unreachable report from another instance: %+v", a)
		}
		if b := list[1]; !b.Connected || b.SeenBy != "inst-b" || b.CoreUUID != "core-2" || b.Sessions != 1 {
			t.Errorf("node b: %+v", b)
		}
		// Fresh figures from the same instance replace its last ones.
		if err := nodes.Report(ctx, "inst-b", time.Minute, []store.NodeReport{
			{Address: "10.0.0.2:8021", CoreUUID: "core-2", Connected: true, Sessions: 8, MaxSessions: 10},
		}); err != nil {
			t.Fatal(err)
		}
		if b, _ := nodes.Get(ctx, "10.0.0.2:8021"); b.Sessions != 8 || b.MaxSessions != 10 {
			t.Errorf("node b after a second report: %+v", b)
		}
		// The instance that saw it up may say it is down; an empty
		// Core-UUID keeps the last known one.
		if err := nodes.Report(ctx, "inst-a", time.Minute, []store.NodeReport{{Address: "10.0.0.1:8021"}}); err != nil {
			t.Fatal(err)
		}
		if a, _ := nodes.Get(ctx, "10.0.0.1:8021"); a.Connected || a.CoreUUID != "core-1" || a.LastHeartbeat == nil {
			t.Errorf("node a reported down by its observer: %+v", a)
		}
		// A stale report of "up" gives way to anyone's "down".
		if err := nodes.Report(ctx, "inst-b", 0, []store.NodeReport{{Address: "10.0.0.2:8021"}}); err != nil {
			t.Fatal(err)
		}
		if b, _ := nodes.Get(ctx, "10.0.0.2:8021"); b.Connected || b.SeenBy != "inst-b" {
			t.Errorf("node b: %+v", b)
		}

		// Drain: only known nodes; the time of the first drain stays.
		if _, err := nodes.SetDrained(ctx, "10.9.9.9:8021", true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("drain an unknown node: %v, want ErrNotFound", err)
		}
		d, err := nodes.SetDrained(ctx, "10.0.0.1:8021", true)
		if err != nil || !d.Drained || d.DrainedAt == nil {
			t.Fatalf("drain: %v %+v", err, d)
		}
		again, err := nodes.SetDrained(ctx, "10.0.0.1:8021", true)
		if err != nil || again.DrainedAt == nil || !again.DrainedAt.Equal(*d.DrainedAt) {
			t.Errorf("drain twice: %v %+v, want drained_at %v", err, again, d.DrainedAt)
		}
		// Reports never touch the switch.
		if err := nodes.Report(ctx, "inst-a", time.Minute, []store.NodeReport{{Address: "10.0.0.1:8021", Connected: true}}); err != nil {
			t.Fatal(err)
		}
		drained, err := nodes.Drained(ctx)
		if err != nil || len(drained) != 1 || !drained["10.0.0.1:8021"] {
			t.Errorf("drained: %v %v", drained, err)
		}
		u, err := nodes.SetDrained(ctx, "10.0.0.1:8021", false)
		if err != nil || u.Drained || u.DrainedAt != nil {
			t.Errorf("undrain: %v %+v", err, u)
		}

		// Forget: not while an instance reports it connected.
		if err := nodes.Forget(ctx, "10.0.0.1:8021", time.Now().Add(-time.Minute)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("forget a connected node: %v, want ErrConflict", err)
		}
		if err := nodes.Forget(ctx, "10.0.0.2:8021", time.Now().Add(-time.Minute)); err != nil {
			t.Errorf("forget a node that is down: %v", err)
		}
		if err := nodes.Forget(ctx, "10.0.0.2:8021", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("forget twice: %v, want ErrNotFound", err)
		}
		if err := nodes.Report(ctx, "inst-a", time.Minute, []store.NodeReport{{Address: ""}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("report without an address: %v, want ErrInvalid", err)
		}
	})
}

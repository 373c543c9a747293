package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Heartbeats and reconciliation. Every instance beats in the database
// every instanceBeat; one that misses instanceStale of beats is dead, and
// whichever instance notices first closes its unfinished calls (final
// record, terminal callback) once the nodes confirm their channels are
// gone. A process restarted in the same slot (host and socket address)
// knows its predecessor is dead at once.
const (
	instanceBeat  = 2 * time.Second
	instanceStale = 6 * time.Second
	// instanceRescue: the callbacks of instances dead this long were
	// rescued at an earlier beat (or by the queue's own rescuer, after
	// its RescueAfter): later beats no longer look for them.
	instanceRescue = 10 * time.Minute
	// instancePrune: rows of instances dead this long are dropped.
	instancePrune = 24 * time.Hour
)

// newInstance names this process: a new ID per start, and the slot it
// runs in.
func newInstance(socketAddr string) store.Instance {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return store.Instance{ID: store.NewSID(), Name: host + "/" + socketAddr, StartedAt: time.Now().UTC()}
}

// keepInstance beats for r.Self and reconciles until ctx ends: the calls
// of dead instances, and the callbacks they were delivering, at every beat, the calls of a node as soon as it is
// found restarted (its name on restarted; then done is told, if set), and
// every call no runtime runs any more (a call lost inside a live
// instance) every minute.
func keepInstance(ctx context.Context, db *store.DB, r *call.Reconciler, rescue func(ctx context.Context, dead []string) (int, error),
	restarted <-chan string, done func(node string), log *slog.Logger) {
	beat := time.NewTicker(instanceBeat)
	defer beat.Stop()
	full := time.NewTicker(time.Minute)
	defer full.Stop()
	orphans := func(now time.Time) {
		if err := db.Instances().Beat(ctx, r.Self); err != nil && ctx.Err() == nil {
			log.Warn("instance: beat failed", "err", err)
		}
		// Deliveries of status callbacks a dead instance left running
		// are due again at once.
		if dead, err := db.Instances().Dead(ctx, r.Self, now.Add(-r.Stale), now.Add(-instanceRescue)); err != nil && ctx.Err() == nil {
			log.Warn("instance: dead instances", "err", err)
		} else if _, err := rescue(ctx, dead); err != nil && ctx.Err() == nil {
			log.Warn("instance: rescue callbacks", "err", err)
		}
		if n, err := r.RunOrphans(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("reconcile: orphans pass failed", "err", err)
		} else if n > 0 {
			log.Warn("reconcile: closed the calls of a dead instance", "calls", n)
		}
	}
	orphans(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-beat.C:
			orphans(now)
		case node := <-restarted:
			if n, err := r.RunNode(ctx, node, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("reconcile: restarted node's calls", "node", node, "err", err)
			} else if n > 0 {
				log.Warn("reconcile: closed the calls of a restarted node", "node", node, "calls", n)
			}
			if done != nil {
				done(node)
			}
		case now := <-full.C:
			if _, err := r.RunOnce(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("reconcile: pass failed", "err", err)
			}
			if err := db.Instances().Prune(ctx, now.Add(-instancePrune)); err != nil && ctx.Err() == nil {
				log.Warn("instance: prune failed", "err", err)
			}
		}
	}
}

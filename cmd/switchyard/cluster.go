package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/nodes"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// clusterNodes shares this instance's nodes with the cluster: it reports
// them to the database and applies the drains it holds.
func clusterNodes(db *store.DB, list []*esl.Node, self store.Instance, log *slog.Logger) *nodes.Keeper {
	return nodes.NewKeeper(db.Nodes(), list, nodes.Config{Instance: self.ID, Logger: log.With("component", "nodes")})
}

// nodeSocketCheck is how long a call socket of a node whose connection
// was lost may take to answer before it is closed.
const nodeSocketCheck = 3 * time.Second

// checkDownNodes checks the call sockets of each node whose connection
// was lost (by its Core-UUID, on down) until ctx ends: those that no
// longer answer are closed, and their calls end with a final record and
// their terminal callbacks.
func checkDownNodes(ctx context.Context, sockets *esl.Server, down <-chan string, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case core := <-down:
			if n := sockets.CheckNode(ctx, core, nodeSocketCheck); n > 0 {
				log.Warn("nodes: closed the silent sockets of calls on a node that was lost; their calls end now",
					"core_uuid", core, "calls", n)
			}
		}
	}
}

// readiness is why this instance should not take traffic, besides its
// database: it is draining, or no node can take a call.
func readiness(rt *call.Runtime, cluster *nodes.Keeper) func(ctx context.Context) []string {
	return func(context.Context) []string {
		var reasons []string
		if rt.Draining() {
			reasons = append(reasons, "draining: shutting down")
		}
		if usable, total := cluster.Usable(); usable == 0 {
			reasons = append(reasons, fmt.Sprintf("no usable node: none of %d is connected and undrained", total))
		}
		return reasons
	}
}

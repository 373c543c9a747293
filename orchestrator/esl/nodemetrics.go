package esl

import (
	"time"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// NodeSamples is what the nodes last told about themselves, for
// metrics.Set.Nodes. A node never heard from has a heartbeat age of 0
// (and is not up).
func NodeSamples(nodes []*Node) []metrics.NodeSample {
	out := make([]metrics.NodeSample, 0, len(nodes))
	now := time.Now()
	for _, n := range nodes {
		h := n.Health()
		s := metrics.NodeSample{Name: n.Name(), Up: h.Connected, Drained: h.Drained,
			Sessions: h.SessionCount, MaxSessions: h.MaxSessions, IdleCPU: h.IdleCPU}
		if !h.LastHeartbeat.IsZero() {
			s.HeartbeatAge = now.Sub(h.LastHeartbeat)
		}
		out = append(out, s)
	}
	return out
}

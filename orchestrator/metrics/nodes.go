package metrics

import "github.com/prometheus/client_golang/prometheus"

// Descriptions of the node gauges.
var (
	nodeUp          = nodeDesc("switchyard_node_up", "1 while the node's inbound connection is up.")
	nodeDrained     = nodeDesc("switchyard_node_drained", "1 while the node is drained: it takes no new calls.")
	nodeSessions    = nodeDesc("switchyard_node_sessions", "Session-Count of the node's last HEARTBEAT.")
	nodeMaxSessions = nodeDesc("switchyard_node_max_sessions", "Max-Sessions of the node's last HEARTBEAT.")
	nodeHeartbeat   = nodeDesc("switchyard_node_heartbeat_age_seconds", "Time since the node's last HEARTBEAT.")
	nodeIdleCPU     = nodeDesc("switchyard_node_idle_cpu_percent", "Idle-CPU of the node's last HEARTBEAT, in percent.")
)

func nodeDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"node"}, nil)
}

// nodeCollector reports the node gauges from the function given to
// Set.Nodes, at each scrape.
type nodeCollector struct{ s *Set }

func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeUp, nodeDrained, nodeSessions, nodeMaxSessions, nodeHeartbeat, nodeIdleCPU} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.s.nodes.Load()
	if fn == nil {
		return
	}
	seen := map[string]bool{}
	for _, n := range (*fn)() {
		if seen[n.Name] {
			continue // a second sample of a node would fail the scrape
		}
		seen[n.Name] = true
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, n.Name)
		}
		gauge(nodeUp, one(n.Up))
		gauge(nodeDrained, one(n.Drained))
		gauge(nodeSessions, float64(n.Sessions))
		gauge(nodeMaxSessions, float64(n.MaxSessions))
		gauge(nodeHeartbeat, n.HeartbeatAge.Seconds())
		gauge(nodeIdleCPU, n.IdleCPU)
	}
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

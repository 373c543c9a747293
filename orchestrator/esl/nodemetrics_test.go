package esl

import (
	"testing"
	"time"
)

func TestNodeSamples(t *testing.T) {
	quiet := NewNode(NodeConfig{Addr: "10.0.0.1:8021"})
	busy := NewNode(NodeConfig{Addr: "10.0.0.2:8021"})
	busy.mu.Lock()
	busy.health = Health{Connected: true, SessionCount: 12, MaxSessions: 1000, IdleCPU: 97.5,
		LastHeartbeat: time.Now().Add(-3 * time.Second)}
	busy.mu.Unlock()
	busy.SetDrained(true)

	got := NodeSamples([]*Node{quiet, busy})
	if len(got) != 2 {
		t.Fatalf("%d samples", len(got))
	}
	if q := got[0]; q.Name != "10.0.0.1:8021" || q.Up || q.Drained || q.HeartbeatAge != 0 {
		t.Errorf("a node never heard from: %+v", q)
	}
	b := got[1]
	if b.Name != "10.0.0.2:8021" || !b.Up || !b.Drained || b.Sessions != 12 || b.MaxSessions != 1000 || b.IdleCPU != 97.5 {
		t.Errorf("a connected node: %+v", b)
	}
	if b.HeartbeatAge < 3*time.Second || b.HeartbeatAge > time.Minute {
		t.Errorf("heartbeat age %s, want about 3s", b.HeartbeatAge)
	}
}

package esl

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNoNode: no node of the pool is connected.
var ErrNoNode = errors.New("no connected FreeSWITCH node")

// Pool spreads new calls over nodes: among the connected ones, the least
// loaded by its last HEARTBEAT's Session-Count plus the originations this
// pool started there since (a heartbeat comes only every 20 s, so a burst
// would otherwise land on one node). Nodes at Max-Sessions are skipped.
type Pool struct {
	nodes []*Node

	mu       sync.Mutex
	inFlight map[*Node]int
}

// NewPool makes a pool of nodes (which Run keeps connected).
func NewPool(nodes ...*Node) *Pool {
	return &Pool{nodes: nodes, inFlight: map[*Node]int{}}
}

// Pick returns the node for the next call and a release function to call
// once that call's origination is over.
func (p *Pool) Pick() (*Node, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		best     *Node
		bestLoad int
	)
	for _, n := range p.nodes {
		h := n.Health()
		if !h.Connected {
			continue
		}
		load := h.SessionCount + p.inFlight[n]
		if h.MaxSessions > 0 && load >= h.MaxSessions {
			continue
		}
		if best == nil || load < bestLoad {
			best, bestLoad = n, load
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("pool of %d nodes: %w", len(p.nodes), ErrNoNode)
	}
	p.inFlight[best]++
	var once sync.Once
	release := func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.inFlight[best]--; p.inFlight[best] <= 0 {
				delete(p.inFlight, best)
			}
		})
	}
	return best, release, nil
}

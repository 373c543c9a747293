package esl

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoNode: no node of the pool is connected.
var ErrNoNode = errors.New("no connected FreeSWITCH node")

// Pool spreads new calls over nodes: among the connected ones, the least
// loaded by its last reported session count (a HEARTBEAT or a probe)
// plus the originations this pool started there since: those in flight,
// and those done after the count was taken (a burst would otherwise land
// on one node between two reports). Nodes at Max-Sessions and drained
// nodes are skipped.
type Pool struct {
	nodes []*Node

	mu       sync.Mutex
	inFlight map[*Node]int
	// done holds when each origination of the node ended, until a later
	// report counts it.
	done map[*Node][]time.Time
}

// Nodes returns the pool's nodes.
func (p *Pool) Nodes() []*Node { return p.nodes }

// NewPool makes a pool of nodes (which Run keeps connected).
func NewPool(nodes ...*Node) *Pool {
	return &Pool{nodes: nodes, inFlight: map[*Node]int{}, done: map[*Node][]time.Time{}}
}

// Pick returns the node for the next call and a release function to call
// once that call's origination is over.
func (p *Pool) Pick() (*Node, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		best     *Node
		bestLoad int
		drained  int
	)
	for _, n := range p.nodes {
		h := n.Health()
		if !h.Connected {
			continue
		}
		if h.Drained {
			drained++
			continue
		}
		load := h.SessionCount + p.inFlight[n] + p.uncounted(n, h.CountedAt)
		if h.MaxSessions > 0 && load >= h.MaxSessions {
			continue
		}
		if best == nil || load < bestLoad {
			best, bestLoad = n, load
		}
	}
	if best == nil {
		if drained > 0 {
			return nil, nil, fmt.Errorf("pool of %d nodes, %d connected ones drained: %w", len(p.nodes), drained, ErrNoNode)
		}
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
			p.done[best] = append(p.done[best], time.Now())
		})
	}
	return best, release, nil
}

// uncounted is how many originations of n ended after its session count
// was taken at; older ones are forgotten. Caller holds p.mu.
func (p *Pool) uncounted(n *Node, at time.Time) int {
	d := p.done[n]
	i := 0
	for i < len(d) && !d[i].After(at) {
		i++
	}
	if i == len(d) {
		delete(p.done, n)
		return 0
	}
	p.done[n] = d[i:]
	return len(d) - i
}

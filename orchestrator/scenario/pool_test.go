package scenario

import (
	"context"
	"sync"
	"testing"
)

// pool lends the real nodes to scenarios, one scenario a node at a time.
// Every scenario on archive nodes runs in parallel (make test's -parallel
// is above their number), so all of them wait here at once, and a node
// coming free goes to the longest of those waiting (longOnANode), the
// others in their order of arrival. Handed out in the order the testing
// package releases them, the long ones (handed-off and parked calls'
// subtests, which it releases last) started near the end and the suite
// ran 257 s on six nodes (its scenarios' sum over the nodes: 147 s);
// longest first, 194 s (171 s with the nodes stopped together at the
// end).
type pool struct {
	mu      sync.Mutex
	free    []*node
	waiting []*poolWaiter
}

type poolWaiter struct {
	weight int
	ch     chan *node
}

func newPool(nodes ...*node) *pool { return &pool{free: nodes} }

// get waits for a node for the scenario named name.
func (p *pool) get(ctx context.Context, name string) (*node, error) {
	p.mu.Lock()
	if len(p.free) > 0 {
		n := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.mu.Unlock()
		return n, nil
	}
	w := &poolWaiter{weight: longOnANode[name], ch: make(chan *node, 1)}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
	select {
	case n := <-w.ch:
		return n, nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, o := range p.waiting {
			if o == w {
				p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
				return nil, ctx.Err()
			}
		}
		// Handed one just as it gave up: pass it on.
		p.putLocked(<-w.ch)
		return nil, ctx.Err()
	}
}

// put gives a node back.
func (p *pool) put(n *node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.putLocked(n)
}

func (p *pool) putLocked(n *node) {
	if len(p.waiting) == 0 {
		p.free = append(p.free, n)
		return
	}
	best := 0
	for i, w := range p.waiting {
		if w.weight > p.waiting[best].weight {
			best = i
		}
	}
	w := p.waiting[best]
	p.waiting = append(p.waiting[:best], p.waiting[best+1:]...)
	w.ch <- n
}

// longOnANode is how long, in seconds, the scenarios that take 15 s or
// more on a real node took there (go test -v on six archive nodes): the
// order the pool serves them in, the longest first. A scenario missing
// here only starts later; it still runs.
var longOnANode = map[string]int{
	"TestDetachAtAFinalBridge":                       64,
	"TestHandoff/DetachAtAFinalBridge":               64,
	"TestDetachedCallOutlivesANodeConnectionBlip":    46,
	"TestHandoff/NodeConnectionBlip":                 46,
	"TestStickyAgent":                                36,
	"TestKey1ParallelRingSecondAgentAnswers":         35,
	"TestHandoff/Key1ParallelRingSecondAgentAnswers": 35,
	"TestPark/Key1ParallelRingSecondAgentAnswers":    35,
	"TestAppletPathIsRecorded":                       35,
	"TestQueue":                                      34,
	"TestHandoff/Queue":                              34,
	"TestKey3NobodyAnswersThenVoicemail":             30,
	"TestNoInputInvalidPromptMenuAgain":              29,
	"TestProgrammableConnectMalformed":               24,
	"TestSequentialFirstBusySecondAnswers":           20,
	"TestQueuedCallerReachesFreedAgent":              18,
	"TestHandoff/QueuedCallerReachesFreedAgent":      18,
	"TestKey2BusyAgentThenVoicemail":                 18,
	"TestAfterHoursVoicemailAndEmail":                18,
	"TestMaxConversationEndsTheBridge":               15,
}

func TestPoolServesTheLongestWaitingFirst(t *testing.T) {
	a, b := &node{esl: "a"}, &node{esl: "b"}
	p := newPool(a)
	if n, err := p.get(t.Context(), "TestAnything"); n != a || err != nil {
		t.Fatalf("a free node: %v %v", n, err)
	}
	short1, long, short2 := &poolWaiter{ch: make(chan *node, 1)},
		&poolWaiter{weight: 30, ch: make(chan *node, 1)}, &poolWaiter{ch: make(chan *node, 1)}
	p.waiting = []*poolWaiter{short1, long, short2}
	p.put(a)
	p.put(b)
	if got := <-long.ch; got != a {
		t.Errorf("the long scenario got %v, want the first node back", got)
	}
	if got := <-short1.ch; got != b {
		t.Errorf("the first short scenario got %v, want the second node back", got)
	}
	if len(p.waiting) != 1 || p.waiting[0] != short2 {
		t.Errorf("still waiting: %v, want the last short scenario", p.waiting)
	}
}

func TestPoolWaiterGivingUpLeavesTheQueue(t *testing.T) {
	p := newPool()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := p.get(ctx, "TestAnything"); n != nil || err == nil {
		t.Fatalf("no node and a canceled wait: %v %v", n, err)
	}
	p.put(&node{esl: "a"})
	if len(p.waiting) != 0 || len(p.free) != 1 {
		t.Errorf("waiting %d, free %d: want the node free", len(p.waiting), len(p.free))
	}
}

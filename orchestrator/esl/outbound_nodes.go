package esl

import (
	"context"
	"sync"
	"time"
)

// track notes a running handler's connection and the Core-UUID of the
// node it came from (from the connect reply).
func (s *Server) track(c *Conn, core string) {
	s.mu.Lock()
	s.handled[c] = core
	s.mu.Unlock()
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.handled, c)
	s.mu.Unlock()
}

// CheckNode asks every call socket of the node whose Core-UUID is core
// whether it still answers, once its inbound connection was lost: a node
// that froze or vanished (host down, network cut) leaves its call
// sockets open and silent, and a call waiting for its next event would
// wait for ever. A socket that gives no answer within timeout is closed;
// its call then ends as any call whose socket is gone (final record,
// terminal callback). Sockets that answer are left alone: the node may
// have lost only its inbound connection. It returns how many sockets
// were closed.
func (s *Server) CheckNode(ctx context.Context, core string, timeout time.Duration) int {
	if core == "" {
		return 0
	}
	s.mu.Lock()
	var conns []*Conn
	for c, k := range s.handled {
		if k == core {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed int
	)
	for _, c := range conns {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			// Any reply proves the socket alive (-ERR too); one that
			// does not come in time closes the connection (see Conn).
			if _, err := c.Send(pctx, "api uptime"); err != nil && ctx.Err() == nil {
				c.Close()
				mu.Lock()
				closed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return closed
}

package fsnode

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// letGo takes the outbound sockets of the native twin behind a socket
// (+15550009001) and hands each call straight back to the dialplan:
// connect, resume, exit. What that twin costs the node beyond the native
// one is what an outbound socket costs in itself (its connection, its
// thread, the connect reply's channel data), apart from anything sent
// over it; a load test through Switchyard pays that and the commands and
// events of the call.
type letGo struct {
	srv   *esl.Server
	ln    net.Listener
	calls atomic.Int64 // calls handed back (resume accepted)
	done  chan struct{}
}

func startLetGo(log *slog.Logger) (*letGo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fsnode: the native twin's socket: %w", err)
	}
	g := &letGo{ln: ln, done: make(chan struct{})}
	g.srv = esl.NewServer(g.handle, log)
	go func() {
		defer close(g.done)
		_ = g.srv.Serve(ln)
	}()
	return g, nil
}

// addr is where the twin's socket application connects.
func (g *letGo) addr() string { return g.ln.Addr().String() }

// handle sets socket_resume (the dialplan goes on once the socket closes,
// instead of the channel hanging up) and lets go.
func (g *letGo) handle(ctx context.Context, s *esl.Session) {
	if _, err := s.Send(ctx, "resume"); err != nil {
		return
	}
	g.calls.Add(1) // before the exit that lets the dialplan go on
	_, _ = s.Send(ctx, "exit")
}

func (g *letGo) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = g.srv.Shutdown(ctx)
	g.ln.Close() // Serve may not have taken it yet
	<-g.done
}

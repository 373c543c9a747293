package esl

import (
	"context"
	"testing"
	"time"
)

// dialFromNode is dialAsFreeSWITCH from the node whose Core-UUID is core.
func dialFromNode(t *testing.T, addr, uuid, core string) *peer {
	t.Helper()
	return dialWithData(t, addr, "Core-UUID: "+core+"\nUnique-ID: "+uuid+"\n")
}

// After a node's inbound connection is lost, CheckNode closes the call
// sockets of that node that no longer answer, and only those: a call
// whose socket still answers, or that came from another node, goes on.
func TestCheckNodeClosesOnlySilentSocketsOfThatNode(t *testing.T) {
	started := make(chan string, 3)
	ended := make(chan string, 3)
	srv, addr := serveOutbound(t, func(ctx context.Context, s *Session) {
		started <- s.UUID
		select {
		case <-s.Done():
		case <-ctx.Done():
		}
		ended <- s.UUID
	})
	frozen := dialFromNode(t, addr, "uuid-frozen", "core-A")
	alive := dialFromNode(t, addr, "uuid-alive", "core-A")
	dialFromNode(t, addr, "uuid-other", "core-B")
	for range 3 {
		<-started
	}
	// The live socket answers its probe; the frozen one reads it and
	// never answers.
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if cmd, err := alive.read(); err == nil && cmd.Line == "api uptime" {
			alive.api("12345\n")
		}
	}()
	go func() { _, _ = frozen.read() }()
	if n := srv.CheckNode(t.Context(), "core-A", 300*time.Millisecond); n != 1 {
		t.Errorf("CheckNode closed %d sockets, want 1", n)
	}
	<-answered
	select {
	case uuid := <-ended:
		if uuid != "uuid-frozen" {
			t.Errorf("call %s ended, want uuid-frozen", uuid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the frozen socket's call never ended")
	}
	select {
	case uuid := <-ended:
		t.Errorf("call %s ended; only the frozen socket's call should", uuid)
	default:
	}
	if n := srv.CheckNode(t.Context(), "", time.Second); n != 0 {
		t.Errorf("CheckNode of no node closed %d", n)
	}
}

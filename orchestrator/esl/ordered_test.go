package esl_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/fsim"
)

// Once a reply is in, every event the node wrote before it has reached the
// sink. The emulator writes the events a uuid_kill raises (the hang-up,
// the park it ends, the completion and the channel's destruction) before
// its next reply, so right after the status that follows, the sink must
// hold them all, in order, however slowly the sink runs.
func TestDialOrderedHandsOverEventsBeforeTheReply(t *testing.T) {
	addr, ctx := emulator(t)

	var (
		mu  sync.Mutex
		got = map[string][]string{} // Unique-ID -> event names
	)
	conn, err := esl.DialOrdered(ctx, addr, "ClueCon", func(ev esl.Event) {
		runtime.Gosched() // a sink that takes its time, as on a loaded machine
		mu.Lock()
		got[ev.UniqueID()] = append(got[ev.UniqueID()], ev.Name())
		mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Subscribe(ctx, "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		uuid := esl.NewUUID()
		if r, err := conn.API(ctx, "originate {origination_uuid="+uuid+"}loopback/+15550100001/public &park()"); err != nil || !strings.HasPrefix(r, "+OK") {
			t.Fatalf("call %d: originate: %q %v", i, r, err)
		}
		if r, err := conn.API(ctx, "uuid_kill "+uuid); err != nil || !strings.HasPrefix(r, "+OK") {
			t.Fatalf("call %d: uuid_kill: %q %v", i, r, err)
		}
		if _, err := conn.API(ctx, "status"); err != nil {
			t.Fatalf("call %d: status: %v", i, err)
		}
		mu.Lock()
		names := strings.Join(got[uuid], " ")
		mu.Unlock()
		if want := "CHANNEL_HANGUP CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY"; names != want {
			t.Fatalf("call %d: events in when the reply came: %q, want %q", i, names, want)
		}
	}
}

// A connection of Switchyard's own posts commands as an outbound socket
// does (a handed-off call's, on the node's connection): their replies come
// to the poster in order, and a command sent while they are owed gets its
// own.
func TestDialOrderedPosts(t *testing.T) {
	addr, ctx := emulator(t)
	conn, err := esl.DialOrdered(ctx, addr, "ClueCon", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	core, err := conn.API(ctx, "global_getvar core_uuid")
	if err != nil || core == "" {
		t.Fatalf("core_uuid %q %v", core, err)
	}
	got := make(chan []esl.Reply, 1)
	if err := conn.Post([]string{"api status", "api global_getvar core_uuid"}, func(rs []esl.Reply) { got <- rs }); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.API(ctx, "global_getvar core_uuid"); err != nil || r != core {
		t.Fatalf("the command after the posted ones got %q %v, want the core's uuid", r, err)
	}
	select {
	case rs := <-got:
		if len(rs) != 2 || !strings.HasPrefix(rs[0].Text, "UP ") || strings.TrimSpace(rs[1].Text) != core {
			t.Fatalf("posted replies %q", rs)
		}
	case <-ctx.Done():
		t.Fatal("the posted commands' replies never came")
	}
}

// emulator starts an emulated node for a test and gives its address and
// the test's time limit.
func emulator(t *testing.T) (string, context.Context) {
	t.Helper()
	fs := fsim.New(fsim.Config{Speed: 50})
	if err := fs.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return fs.Addr(), ctx
}

// A wrong password is refused at dial.
func TestDialOrderedWrongPassword(t *testing.T) {
	fs := fsim.New(fsim.Config{})
	if err := fs.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := esl.DialOrdered(ctx, fs.Addr(), "wrong", func(esl.Event) {}, nil); err == nil {
		conn.Close()
		t.Fatal("dial with a wrong password succeeded")
	}
}

package fsim

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitGoroutines waits until the goroutine count is back to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want <= %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Speed: 50, SocketAddr: ln.Addr().String(), RecordingsDir: t.TempDir()})
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	// an idle inbound connection, one subscribed to everything, and one
	// blocked in a synchronous `api originate` that never answers
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		io.WriteString(nc, "auth ClueCon\n\n")
	}
	io.WriteString(conns[1], "event plain ALL\n\n")
	io.WriteString(conns[2], "api originate sofia/gateway/gw/+15550100201 &park()\n\n")
	// outbound sessions: calls to managed numbers; the app side accepts
	// and sends connect but never reads (a stuck client)
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			io.WriteString(nc, "connect\n\nmyevents\n\nlinger\n\n")
			accepted <- nc
		}
	}()
	for i := 0; i < 3; i++ {
		if _, err := s.PlaceCall(context.Background(), CallScript{To: "+91800000000" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	// and calls that only live inside the emulator
	for i := 0; i < 5; i++ {
		if _, err := s.PlaceCall(context.Background(), CallScript{To: "+15550100201"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		select {
		case nc := <-accepted:
			conns = append(conns, nc)
		case <-time.After(waitTimeout):
			t.Fatal("socket connection missing")
		}
	}
	if s.Channels() < 16 {
		t.Fatalf("%d channels", s.Channels())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Channels(); n != 0 {
		t.Fatalf("%d channels after Close", n)
	}
	ln.Close()
	for range accepted {
	}
	for _, nc := range conns {
		nc.Close()
	}
	waitGoroutines(t, base)
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

// TestTenThousandChannels: 5,000 calls = 10,000 channels, no goroutine per
// channel, a few KB each.
func TestTenThousandChannels(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const calls = 5000
	s := New(Config{Speed: 1}) // rings last well beyond the test
	defer s.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for i := 0; i < calls; i++ {
		if _, err := s.PlaceCall(context.Background(), CallScript{From: "+919800000001", To: "+15550100201"}); err != nil {
			t.Fatal(err)
		}
	}
	// let every dialplan reach its 300 s ring (sleep)
	deadline := time.Now().Add(waitTimeout)
	for {
		s.mu.Lock()
		ringing := 0
		for _, ch := range s.chans {
			if ch.running != nil && ch.running.app == "sleep" {
				ringing++
			}
		}
		s.mu.Unlock()
		if ringing == calls {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d -b legs ringing", ringing, calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Channels(); n != 2*calls {
		t.Fatalf("%d channels", n)
	}
	if g := runtime.NumGoroutine() - g0; g > 10 {
		t.Fatalf("%d extra goroutines for %d channels", g, 2*calls)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / (2 * calls)
	t.Logf("%d channels: %d bytes of heap per channel", 2*calls, per)
	if per > 16<<10 {
		t.Fatalf("%d bytes per channel", per)
	}
	s.Close()
	if n := s.Channels(); n != 0 {
		t.Fatalf("%d channels after Close", n)
	}
}

// FuzzSession feeds arbitrary client bytes to an authenticated inbound
// connection: the server must neither panic nor hang.
func FuzzSession(f *testing.F) {
	for _, name := range allTranscripts {
		data, err := os.ReadFile(transcriptPath(f, name))
		if err != nil {
			continue
		}
		recs, _ := parseTranscript(data)
		for _, r := range recs {
			if r.dir == "APP->FS" && !strings.HasPrefix(string(r.data), "auth") {
				f.Add(r.data)
			}
		}
	}
	f.Add([]byte("sendmsg f0000000-0000-4000-8000-000000000001\ncall-command: execute\nexecute-app-name: play_and_get_digits\nexecute-app-arg: 1 1 1 100 # x y z [\n\n"))
	f.Add([]byte("sendmsg f0000000-0000-4000-8000-000000000001\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: {a=[}|||,,,[x]error/x\n\n"))
	f.Add([]byte("api originate {a='b}loopback/ '&socket(\n\n"))
	s := New(Config{Speed: 1000, RecordingsDir: f.TempDir()})
	defer s.Close()
	s.mu.Lock()
	s.apiOriginate("{origination_uuid=f0000000-0000-4000-8000-000000000001}loopback/park/default &park()", func(string) {})
	s.mu.Unlock()
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return
		}
		s.newConn(server, false, nil).authed = true
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := bufio.NewReader(client)
			for {
				client.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := readFrame(r); err != nil {
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Write([]byte("\n\nexit\n\n"))
		<-done
		client.Close()
	})
}

// BenchmarkInboundCall: a complete inbound call through the outbound socket
// (connect, myevents, linger, answer, playback, hangup, exit), no media tick.
func BenchmarkInboundCall(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	s := New(Config{Speed: 1000, SocketAddr: ln.Addr().String()})
	defer s.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func(nc net.Conn) {
				defer nc.Close()
				io.WriteString(nc, "connect\n\nmyevents\n\nlinger\n\n"+
					"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n"+
					"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: /x.wav\n\n"+
					"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n")
				r := bufio.NewReader(nc)
				for {
					f, err := readFrame(r)
					if err != nil {
						return
					}
					if f.get("Content-Disposition") == "linger" {
						io.WriteString(nc, "exit\n\n")
					}
				}
			}(nc)
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call, err := s.PlaceCall(context.Background(), CallScript{To: "+918000000001"})
		if err != nil {
			b.Fatal(err)
		}
		<-call.Done()
	}
}

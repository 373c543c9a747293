//go:build linux

package esl

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection, the server's
// wrapped by newRawIO.
func tcpPair(t *testing.T) (raw, peer net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	raw = newRawIO(nc)
	if _, ok := raw.(*rawIO); !ok {
		t.Fatalf("newRawIO(%T) = %T, want *rawIO", nc, raw)
	}
	t.Cleanup(func() { raw.Close(); peer.Close() })
	return raw, peer
}

func TestRawIOCarriesBytesBothWays(t *testing.T) {
	raw, peer := tcpPair(t)
	if _, err := peer.Write([]byte("event json ALL\n\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if _, err := io.ReadFull(raw, got); err != nil || string(got) != "event json ALL\n\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	// More than the socket buffers hold: the write waits for the peer to
	// read, and nothing is lost or reordered.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	done := make(chan error, 1)
	go func() {
		n, err := raw.Write(big)
		if err == nil && n != len(big) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	back := make([]byte, len(big))
	if _, err := io.ReadFull(peer, back); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, big) {
		t.Fatal("the bytes read differ from those written")
	}
}

func TestRawIOReadsAndWritesWithoutAllocating(t *testing.T) {
	raw, peer := tcpPair(t)
	one, back := []byte{'x'}, make([]byte, 1)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := peer.Write(one); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Read(back); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Write(one); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, back); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations a round trip, want 0", allocs)
	}
}

func TestRawIOReportsEndsAsNetConnDoes(t *testing.T) {
	raw, peer := tcpPair(t)
	if err := raw.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := raw.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past its deadline: %v", err)
	}
	_ = raw.SetReadDeadline(time.Time{})

	peer.Close()
	if n, err := raw.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v", n, err)
	}

	raw, _ = tcpPair(t) // a peer still there: only the close ends the read
	read := make(chan error, 1)
	go func() {
		_, err := raw.Read(make([]byte, 8))
		read <- err
	}()
	raw.Close() // before or during the read: either way it ends at once
	if err := <-read; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v", err)
	}
	if _, err := raw.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed connection: %v", err)
	}
}

//go:build linux

package esl

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection's non-blocking descriptor with
// raw system calls, leaving the waiting for readiness to Go's poller as
// net.Conn does. A system call made the usual way tells the Go scheduler
// it may block; when the process was idle, that wakes the runtime's
// monitor thread, which then polls every 20 µs until the process is idle
// again. A read or write on a non-blocking socket cannot block, so that
// bookkeeping buys nothing here, and on a quiet node, where every ESL
// frame wakes the process from idle, the monitor's polling was a sixth
// of serve's CPU (see the package doc).
type rawIO struct {
	net.Conn
	rc syscall.RawConn
}

// newRawIO wraps nc when it is a TCP connection; otherwise it returns nc.
func newRawIO(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	return &rawIO{Conn: nc, rc: rc}
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until the socket is readable
			}
			n, errno = int(m), e
			return true
		}
	})
	if err != nil {
		return 0, r.opErr("read", err)
	}
	if errno != 0 {
		return 0, r.opErr("read", errno)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawIO) Write(p []byte) (int, error) {
	written := 0
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		for written < len(p) {
			m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written))
			switch e {
			case 0:
				written += int(m)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until the socket takes more
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return written, r.opErr("write", err)
	}
	return written, nil
}

func (r *rawIO) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: err}
}

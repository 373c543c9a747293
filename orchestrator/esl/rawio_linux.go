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
	// A read's and a write's state, and the functions RawConn runs,
	// made once: a closure per call would be an allocation per frame.
	// Reads come from one goroutine at a time, and so do writes.
	rd, wr       rawOp
	readFn, wrFn func(fd uintptr) bool
	// rcRead and rcWrite are rc's methods, taken once.
	rcRead, rcWrite func(func(fd uintptr) bool) error
}

// rawOp is one read or write under way: its buffer, how much of it was
// done, and the error it ended with.
type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
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
	r := &rawIO{Conn: nc, rc: rc}
	r.readFn, r.wrFn = r.read, r.write
	r.rcRead, r.rcWrite = rc.Read, rc.Write
	return r
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.run(&r.rd, p, r.rcRead, r.readFn)
	if err != nil {
		return 0, r.opErr("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read makes one read(2) into r.rd.p; false: wait until the socket is
// readable.
func (r *rawIO) read(fd uintptr) bool {
	p := r.rd.p
	for {
		m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rd.n, r.rd.errno = int(m), e
		return true
	}
}

func (r *rawIO) Write(p []byte) (int, error) {
	n, err := r.run(&r.wr, p, r.rcWrite, r.wrFn)
	if err != nil {
		return n, r.opErr("write", err)
	}
	return n, nil
}

// write writes what is left of r.wr.p; false: wait until the socket
// takes more.
func (r *rawIO) write(fd uintptr) bool {
	p := r.wr.p
	for r.wr.n < len(p) {
		m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[r.wr.n])), uintptr(len(p)-r.wr.n))
		switch e {
		case 0:
			r.wr.n += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.wr.errno = e
			return true
		}
	}
	return true
}

// run does op over p: through rcRun (RawConn's Read or Write), which
// calls fn until it is done, then returns how much it did and how it
// ended.
func (r *rawIO) run(op *rawOp, p []byte, rcRun func(func(fd uintptr) bool) error, fn func(fd uintptr) bool) (int, error) {
	*op = rawOp{p: p}
	err := rcRun(fn)
	n, errno := op.n, op.errno
	*op = rawOp{}
	if err == nil && errno != 0 {
		err = errno
	}
	return n, err
}

func (r *rawIO) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: err}
}

//go:build !linux

package esl

import "net"

// newRawIO returns nc: raw system calls are used on Linux only.
func newRawIO(nc net.Conn) net.Conn { return nc }

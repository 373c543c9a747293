package recarchive

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"
)

// Encoding while the garbage collector runs all the time: shine keeps
// unsafe pointers into the sample buffer between frames, which must stay
// inside its allocation (a pointer past it crashed the collector once).
func TestTranscodeUnderGC(t *testing.T) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for range 10 {
		for _, ch := range []int{1, 2} {
			if _, err := Transcode(io.Discard, bytes.NewReader(makeWAV(8000, ch, 2*time.Second, false)), Standard); err != nil {
				t.Fatal(err)
			}
		}
	}
}

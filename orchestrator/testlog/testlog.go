// Package testlog gives tests a slog.Logger that writes to the test's log
// until the test's cleanups have run, and drops what comes after: servers,
// connections and eslgo's goroutines may still log while they wind down,
// and a t.Log after the test has completed panics.
package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// New is a logger for t at level and above.
func New(t testing.TB, level slog.Level) *slog.Logger {
	w := &writer{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type writer struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

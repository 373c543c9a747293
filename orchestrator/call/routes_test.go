package call

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// routeStore answers Route from a script of results and counts the reads.
type routeStore struct {
	Store
	results []error
	reads   int
}

func (s *routeStore) Route(_ context.Context, dialed string) (*store.Route, error) {
	err := s.results[s.reads]
	s.reads++
	if err != nil {
		return nil, err
	}
	return &store.Route{Number: dialed, AccountSID: "acme", Version: s.reads}, nil
}

func TestRouteCache(t *testing.T) {
	down := errors.New("context deadline exceeded")
	st := &routeStore{results: []error{nil, nil, down, store.ErrNoFlow, down}}
	var rc routeCache
	log := slog.New(slog.DiscardHandler)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	get := func(at time.Duration) (*store.Route, error) {
		return rc.route(context.Background(), st, log, "+15550000100", t0.Add(at))
	}
	if r, err := get(0); err != nil || r.Version != 1 {
		t.Fatalf("first read: %+v, %v", r, err)
	}
	if r, _ := get(500 * time.Millisecond); r.Version != 1 || st.reads != 1 {
		t.Fatalf("within a second: %+v after %d reads, want the cached route", r, st.reads)
	}
	if r, _ := get(2 * time.Second); r.Version != 2 || st.reads != 2 {
		t.Fatalf("after a second: %+v after %d reads, want a fresh read", r, st.reads)
	}
	// The database does not answer: the route read 3 s ago takes the call.
	if r, err := get(5 * time.Second); err != nil || r.Version != 2 {
		t.Fatalf("database down: %+v, %v, want the earlier route", r, err)
	}
	// The number lost its flow: that is an answer, and it is not cached.
	if _, err := get(7 * time.Second); !errors.Is(err, store.ErrNoFlow) {
		t.Fatalf("flow removed: %v", err)
	}
	if _, err := get(8 * time.Second); !errors.Is(err, down) {
		t.Fatalf("database down with nothing cached: %v, want the error", err)
	}
}

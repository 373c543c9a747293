package call

import (
	"context"
	"errors"
	"fmt"
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
	var rc readCache[*store.Route]
	log := slog.New(slog.DiscardHandler)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	get := func(at time.Duration) (*store.Route, error) {
		return route(context.Background(), &rc, st, log, "+15550000100", t0.Add(at))
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

// targetStore answers Resolve, failing when down, and counts the reads.
type targetStore struct {
	Store
	down  bool
	off   bool // the agents switched themselves off
	reads int
}

func (s *targetStore) Resolve(_ context.Context, account string, dests []string) ([]store.Target, error) {
	s.reads++
	if s.down {
		return nil, errors.New("context deadline exceeded")
	}
	out := make([]store.Target, len(dests))
	for i, d := range dests {
		out[i] = store.Target{Dest: d, Key: account + "/" + d, Available: !s.off}
	}
	return out, nil
}

// A connect's destinations are read once a second per account and set of
// destinations, and an earlier read serves while the database is down.
func TestResolveCache(t *testing.T) {
	st := &targetStore{}
	var rc readCache[[]store.Target]
	log := slog.New(slog.DiscardHandler)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	get := func(at time.Duration, account string, dests ...string) []store.Target {
		t.Helper()
		ts, err := resolve(context.Background(), &rc, st, log, account, dests, t0.Add(at))
		if err != nil {
			t.Fatalf("resolve at %v: %v", at, err)
		}
		return ts
	}
	if ts := get(0, "acme", "+1", "+2"); len(ts) != 2 || ts[1].Key != "acme/+2" || !ts[0].Available || st.reads != 1 {
		t.Fatalf("first read: %+v after %d reads", ts, st.reads)
	}
	get(100*time.Millisecond, "acme", "+1", "+2")
	if st.reads != 1 {
		t.Fatalf("%d reads, want the cached targets", st.reads)
	}
	// Another account, or other destinations, are other keys.
	get(200*time.Millisecond, "other", "+1", "+2")
	get(300*time.Millisecond, "acme", "+1")
	get(400*time.Millisecond, "acme", "+1\x00+2")
	if st.reads != 4 {
		t.Fatalf("%d reads, want 4", st.reads)
	}
	// A second later the read is fresh: the agent switched off shows.
	st.off = true
	if ts := get(900*time.Millisecond, "acme", "+1", "+2"); !ts[0].Available {
		t.Fatalf("within the second: %+v, want the cached targets", ts)
	}
	if ts := get(1500*time.Millisecond, "acme", "+1", "+2"); ts[0].Available || st.reads != 5 {
		t.Fatalf("after a second: %+v after %d reads", ts, st.reads)
	}
	st.down = true
	if ts := get(5*time.Second, "acme", "+1", "+2"); len(ts) != 2 || st.reads != 6 {
		t.Fatalf("database down: %+v, want the earlier read", ts)
	}
	if _, err := resolve(context.Background(), &rc, st, log, "acme", []string{"+3"}, t0.Add(6*time.Second)); err == nil {
		t.Fatal("database down with nothing cached: no error")
	}
}

// The cache stays bounded: past readCacheMax the stale entries go first,
// then all of them.
func TestReadCacheBound(t *testing.T) {
	var rc readCache[int]
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for i := range readCacheMax {
		rc.put(fmt.Sprint(i), cachedRead[int]{v: i, at: t0.Add(time.Duration(i%2) * readStale)})
	}
	rc.put("new", cachedRead[int]{at: t0.Add(readStale + time.Second)})
	if len(rc.m) != readCacheMax/2+1 {
		t.Fatalf("%d entries after the stale half went, want %d", len(rc.m), readCacheMax/2+1)
	}
	for i := len(rc.m); i < readCacheMax; i++ {
		rc.put(fmt.Sprint("fresh", i), cachedRead[int]{at: t0.Add(readStale + time.Second)})
	}
	rc.put("one more", cachedRead[int]{at: t0.Add(readStale + 2*time.Second)})
	if len(rc.m) != 1 {
		t.Fatalf("%d entries, want only the newest once nothing was stale", len(rc.m))
	}
}

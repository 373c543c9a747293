package call

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// How long a read is reused without asking the database, and how old it
// may be to still serve a call when the database cannot answer.
const (
	readFresh = time.Second
	readStale = 10 * time.Minute
	// readCacheMax bounds a cache's entries: past it, the stale ones go,
	// and if that is not enough, all of them.
	readCacheMax = 10000
)

// readCache remembers reads every call makes alike: the routes of dialed
// numbers, the users behind a connect's destinations. A burst of calls
// asks the database once a second per key; a change (a number moved, a
// flow published, an agent switched off) reaches new calls within
// readFresh. When the database is too slow or down, a read from the last
// readStale still serves the call, rather than refusing it for want of a
// read.
type readCache[V any] struct {
	what string
	mu   sync.Mutex
	m    map[string]cachedRead[V]
}

type cachedRead[V any] struct {
	v  V
	at time.Time
}

// get returns key's value, reading it when what is cached is older than
// readFresh. An error answer says something of key (it is not cached,
// and drops what was); any other error falls back on a value read in the
// last readStale.
func (rc *readCache[V]) get(key string, now time.Time, log *slog.Logger, read func() (V, error), answer func(error) bool) (V, error) {
	rc.mu.Lock()
	e, ok := rc.m[key]
	rc.mu.Unlock()
	if ok && now.Sub(e.at) < readFresh {
		return e.v, nil
	}
	v, err := read()
	switch {
	case err == nil:
		rc.mu.Lock()
		rc.put(key, cachedRead[V]{v: v, at: now})
		rc.mu.Unlock()
		return v, nil
	case answer(err):
		rc.mu.Lock()
		delete(rc.m, key)
		rc.mu.Unlock()
		return v, err
	case ok && now.Sub(e.at) < readStale:
		log.Warn("call: store did not answer; using what it said earlier", "read", rc.what, "read_ago", now.Sub(e.at).Round(time.Second), "err", err)
		return e.v, nil
	}
	return v, err
}

// put stores e under key; rc.mu is held.
func (rc *readCache[V]) put(key string, e cachedRead[V]) {
	if rc.m == nil {
		rc.m = map[string]cachedRead[V]{}
	}
	if _, ok := rc.m[key]; !ok && len(rc.m) >= readCacheMax {
		for k, old := range rc.m {
			if e.at.Sub(old.at) >= readStale {
				delete(rc.m, k)
			}
		}
		if len(rc.m) >= readCacheMax {
			clear(rc.m)
		}
	}
	rc.m[key] = e
}

// routeAnswer: the number has no route, which is news, not an outage.
func routeAnswer(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNoFlow) || errors.Is(err, store.ErrNotPublished)
}

// route reads the route of a dialed number through rc.
func route(ctx context.Context, rc *readCache[*store.Route], st Store, log *slog.Logger, dialed string, now time.Time) (*store.Route, error) {
	return rc.get(dialed, now, log, func() (*store.Route, error) { return st.Route(ctx, dialed) }, routeAnswer)
}

// resolve reads which users a connect's destinations are through rc. The
// targets are shared between calls, which only read them.
func resolve(ctx context.Context, rc *readCache[[]store.Target], st Store, log *slog.Logger, account string, dests []string, now time.Time) ([]store.Target, error) {
	var key strings.Builder
	for _, part := range append([]string{account}, dests...) {
		key.WriteString(strconv.Itoa(len(part)))
		key.WriteByte(':')
		key.WriteString(part)
	}
	return rc.get(key.String(), now, log, func() ([]store.Target, error) { return st.Resolve(ctx, account, dests) }, func(error) bool { return false })
}

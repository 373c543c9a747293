package call

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// How long a number's route is reused without asking the database, and how
// old a route may be to still serve a call when the database cannot answer.
const (
	routeFresh = time.Second
	routeStale = 10 * time.Minute
)

// routeCache remembers the routes of dialed numbers. A burst of calls to
// one ExoPhone asks the database once a second; a change (a number moved,
// a flow published) reaches new calls within routeFresh. When the database
// is too slow or down, a route read in the last routeStale still takes the
// call, rather than refusing it for want of a read.
type routeCache struct {
	mu sync.Mutex
	m  map[string]routeEntry
}

type routeEntry struct {
	r  *store.Route
	at time.Time
}

func (rc *routeCache) route(ctx context.Context, st Store, log *slog.Logger, dialed string, now time.Time) (*store.Route, error) {
	rc.mu.Lock()
	e, ok := rc.m[dialed]
	rc.mu.Unlock()
	if ok && now.Sub(e.at) < routeFresh {
		return e.r, nil
	}
	r, err := st.Route(ctx, dialed)
	switch {
	case err == nil:
		rc.mu.Lock()
		if rc.m == nil {
			rc.m = map[string]routeEntry{}
		}
		rc.m[dialed] = routeEntry{r: r, at: now}
		rc.mu.Unlock()
		return r, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNoFlow), errors.Is(err, store.ErrNotPublished):
		rc.mu.Lock()
		delete(rc.m, dialed)
		rc.mu.Unlock()
		return nil, err
	case ok && now.Sub(e.at) < routeStale:
		log.Warn("call: store did not answer; routing with the route read earlier", "read_ago", now.Sub(e.at).Round(time.Second), "err", err)
		return e.r, nil
	}
	return nil, err
}

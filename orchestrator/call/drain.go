package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// ErrDraining: this instance is shutting down and places no new call.
// Another instance (or this one after its restart) can.
var ErrDraining = errors.New("shutting down: no new calls here")

// Drain stops Place from taking new calls, then waits until every call it
// placed has either failed or been handed to Handle by its node, or ctx
// ends. Run it before the outbound-socket server shuts down: a first leg
// answered after the listener closed could not reach this instance, and
// its call would be lost.
func (rt *Runtime) Drain(ctx context.Context) error {
	rt.StopPlacing()
	for {
		rt.mu.Lock()
		n, ch := len(rt.placing), rt.placed
		rt.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("drain: %d placed calls not yet connected: %w", n, ctx.Err())
		}
	}
}

// StopPlacing makes Place refuse new calls with ErrDraining: the first
// step of Drain.
func (rt *Runtime) StopPlacing() { rt.draining.Store(true) }

// Awaited reports whether a call handed over by a node is one this
// instance placed and is waiting for (its connect data names it): what a
// draining instance still takes (esl.Server.Restrict).
func (rt *Runtime) Awaited(data esl.Event) bool {
	sid := data.Get("variable_switchyard_call")
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_, ok := rt.placing[sid]
	return ok && sid != ""
}

// Draining reports whether Drain has begun.
func (rt *Runtime) Draining() bool { return rt.draining.Load() }

// placingStarted records an API call whose first leg is being placed.
func (rt *Runtime) placingStarted(sid string) {
	rt.mu.Lock()
	rt.placing[sid] = ""
	rt.mu.Unlock()
}

// firstLeg is a placing call's first leg: a copy of the call's row as
// placed, and its log. ending: the leg was found gone before its socket
// reached Handle, and the call is being ended (leaveFirstLeg).
type firstLeg struct {
	row    store.Call
	log    *slog.Logger
	ending bool
}

// firstLegPlaced records the first leg of a placing call by its UUID.
func (rt *Runtime) firstLegPlaced(uuid string, row *store.Call, log *slog.Logger) {
	rt.mu.Lock()
	if _, ok := rt.placing[row.SID]; ok {
		rt.placing[row.SID] = uuid
		rt.firstLegs[uuid] = firstLeg{row: *row, log: log}
	}
	rt.mu.Unlock()
}

// claimFirstLeg is Handle's claim on a channel that may be a placing
// call's first leg: from here on the call is its to end. It reports false
// when the leg was found gone and its call is being ended without it.
func (rt *Runtime) claimFirstLeg(uuid string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	l, ok := rt.firstLegs[uuid]
	if ok && !l.ending {
		delete(rt.firstLegs, uuid)
	}
	return !ok || !l.ending
}

// awaitingFirstLeg reports whether a placing call's first leg has been
// claimed by neither Handle nor leaveFirstLeg, and gives the channel
// closed when the next placing call lands.
func (rt *Runtime) awaitingFirstLeg(uuid string) (landing <-chan struct{}, waiting bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	l, ok := rt.firstLegs[uuid]
	return rt.placed, ok && !l.ending
}

// leaveFirstLeg claims a placing call's first leg, found gone before its
// socket reached Handle, for ending the call without it, and returns it:
// ok is false when Handle or another such claim came first. The call
// still counts as placing until it has landed.
func (rt *Runtime) leaveFirstLeg(uuid string) (l firstLeg, ok bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	l, ok = rt.firstLegs[uuid]
	if !ok || l.ending {
		return l, false
	}
	l.ending = true
	rt.firstLegs[uuid] = l
	return l, true
}

// landed records that a placed call's first leg failed or reached Handle.
func (rt *Runtime) landed(sid string) {
	rt.mu.Lock()
	rt.landedLocked(sid)
	rt.mu.Unlock()
}

func (rt *Runtime) landedLocked(sid string) {
	if _, ok := rt.placing[sid]; !ok {
		return
	}
	delete(rt.firstLegs, rt.placing[sid])
	delete(rt.placing, sid)
	close(rt.placed)
	rt.placed = make(chan struct{})
}

// Package parking runs the calls a node's dialplan parks for this
// instance (serve -control park): no socket is opened for them, the node
// names the instance that takes them in a global variable, and the
// instance takes each one from the CHANNEL_PARK its node's connection
// delivers.
//
// How a node picks the instance: GlobalVar holds "<tag>.<beat>", the tag
// of the instance that owns the node's parked calls and a counter it
// raises every round. The dialplan (freeswitch-conf's managed-number
// extension) marks a new call with that tag, schedules its fallback and
// parks it; without the variable it runs the socket application as
// always. One instance owns a node at a time; the others stand by and
// take over when the owner's beat stops moving (it died, or lost the
// node) or the variable is gone (the owner withdrew: draining, shutting
// down). Every write is a compare-and-set (global_setvar's third field),
// so of two instances that take over together one wins and the other
// sees it on its next read. A call carries its owner's tag from the
// moment it is parked, so whatever happens to the variable later, no
// two instances run one call; a call nobody takes (its owner died after
// it was parked) goes to the fallback, the socket path, after
// FallbackAfter.
package parking

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// GlobalVar is the node's global variable naming the owner of its parked
// calls: "<tag>.<beat>".
const GlobalVar = "switchyard_park_to"

// FallbackAfter is how long a parked call waits for its owner before the
// dialplan's scheduled transfer sends it down the socket path
// (freeswitch-conf: sched_transfer +5 switchyard_unclaimed).
const FallbackAfter = 5 * time.Second

// Node is the node's API, as esl.Node serves it.
type Node interface {
	Name() string
	API(ctx context.Context, cmd string) (string, error)
}

// AdvertiseConfig tunes Advertise.
type AdvertiseConfig struct {
	// Tag is this instance's tag (call.Tag), which its calls' mark
	// carries.
	Tag string
	// Take: this instance takes parked calls. Without it, it only clears
	// a variable whose owner stopped beating, so that calls go to the
	// sockets at once instead of waiting for their fallback (an instance
	// that took parked calls was replaced by one that does not).
	Take bool
	// Every is the round (default 2s); an owner whose beat has not moved
	// for StaleRounds rounds (default 3) is taken as gone.
	Every       time.Duration
	StaleRounds int
	Logger      *slog.Logger
	// Owned, if set, is told whenever this instance starts or stops
	// owning the node's parked calls.
	Owned func(node string, owned bool)
}

// Advertise keeps node's GlobalVar until ctx ends: it owns the node's
// parked calls when it can (Take), and otherwise stands by. It does not
// withdraw at the end: Withdraw does, before a drain.
func Advertise(ctx context.Context, node Node, cfg AdvertiseConfig) {
	if cfg.Every <= 0 {
		cfg.Every = 2 * time.Second
	}
	if cfg.StaleRounds <= 0 {
		cfg.StaleRounds = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := advertiser{cfg: cfg, node: node, log: cfg.Logger.With("node", node.Name())}
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	for {
		a.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type advertiser struct {
	cfg  AdvertiseConfig
	node Node
	log  *slog.Logger

	beat  int
	owned bool
	// seen is the value last read while another instance owned the
	// node, unchanged for still rounds.
	seen  string
	still int
}

// commandTimeout bounds each command of a round. Neither the round's
// period nor the end of Advertise's context cuts one short: a command
// given up on closes the node's connection (its reply could reach the
// next command: esl.ErrPoisoned), and that connection carries every
// parked call's events and commands. A node slower to answer than a
// round (2 s) would have cut them all off; in the scenario suite, with
// rounds of 50 ms, a busy node did.
const commandTimeout = 5 * time.Second

// round reads the variable once and writes it at most once.
func (a *advertiser) round(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commandTimeout)
	defer cancel()
	cur, err := read(rctx, a.node)
	if err != nil {
		a.log.Debug("park: cannot read the owner of the node's parked calls", "err", err)
		return
	}
	owner, _ := split(cur)
	switch {
	case cur == "":
		a.seen, a.still = "", 0
		if a.cfg.Take {
			a.write(rctx, "", "the node had no owner")
		} else {
			a.own(false)
		}
		return
	case owner == a.cfg.Tag:
		if !a.cfg.Take { // an earlier run of this instance's ID
			a.clear(rctx, cur)
			return
		}
		a.own(true)
		a.write(rctx, cur, "")
		return
	}
	a.own(false)
	if cur != a.seen {
		a.seen, a.still = cur, 0
		return
	}
	if a.still++; a.still < a.cfg.StaleRounds {
		return
	}
	a.seen, a.still = "", 0
	if a.cfg.Take {
		a.write(rctx, cur, "the owner stopped beating: "+owner)
		return
	}
	a.log.Warn("park: the node's parked calls name an instance that stopped beating; clearing it, calls go to the sockets", "owner", owner)
	a.clear(rctx, cur)
}

// write raises the beat, if the variable still reads was.
func (a *advertiser) write(ctx context.Context, was, why string) {
	a.beat++
	val := a.cfg.Tag + "." + strconv.Itoa(a.beat)
	cmd := "global_setvar " + GlobalVar + "=" + val
	if was != "" {
		cmd += "=" + was
	}
	if _, err := a.node.API(ctx, cmd); err != nil {
		a.log.Debug("park: cannot write the owner of the node's parked calls", "err", err)
		return
	}
	if why != "" {
		a.log.Info("park: taking the node's parked calls", "why", why)
	}
}

func (a *advertiser) clear(ctx context.Context, was string) {
	a.own(false)
	if _, err := a.node.API(ctx, "global_setvar "+GlobalVar+"=="+was); err != nil {
		a.log.Debug("park: cannot clear the owner of the node's parked calls", "err", err)
	}
}

func (a *advertiser) own(owned bool) {
	if owned == a.owned {
		return
	}
	a.owned = owned
	if a.cfg.Owned != nil {
		a.cfg.Owned(a.node.Name(), owned)
	}
}

// Withdraw clears node's GlobalVar if it names tag: from then on the
// node's new calls take the socket path, until a standby takes over.
// It is how an instance hands its node's calls on before it drains.
func Withdraw(ctx context.Context, node Node, tag string) error {
	cur, err := read(ctx, node)
	if err != nil {
		return err
	}
	if owner, _ := split(cur); owner != tag {
		return nil
	}
	_, err = node.API(ctx, "global_setvar "+GlobalVar+"=="+cur)
	return err
}

// read returns the variable's value, "" when it is not set (FreeSWITCH
// answers an empty api output with "-ERR no reply").
func read(ctx context.Context, node Node) (string, error) {
	out, err := node.API(ctx, "global_getvar "+GlobalVar)
	if err != nil {
		if strings.Contains(err.Error(), "no reply") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// split cuts "<tag>.<beat>".
func split(v string) (tag, beat string) {
	tag, beat, _ = strings.Cut(v, ".")
	return tag, beat
}

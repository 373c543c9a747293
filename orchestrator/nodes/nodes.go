// Package nodes is the cluster's view of its FreeSWITCH nodes. Every
// Switchyard instance keeps an inbound connection to every node (esl.Node)
// and, through a Keeper, shares what it sees in the store's nodes table:
// whether the node answers, its Core-UUID, sessions and heartbeat. The
// same table holds the operators' drain switch, which every instance
// reads at each sync: a drained node gets no new calls placed on it from
// any instance within one Interval, while its live calls go on.
//
// A node's state is one of:
//
//   - up: an instance reached it within Stale;
//   - draining: up and drained, with calls still on it;
//   - drained: up and drained, with no calls left (safe to stop);
//   - down: no instance has reached it within Stale.
package nodes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// States of a node.
const (
	StateUp       = "up"
	StateDraining = "draining"
	StateDrained  = "drained"
	StateDown     = "down"
)

// DefaultInterval is how often a Keeper syncs, and DefaultStale how old
// a report may be and still say a node is up (the CLI reads the table
// with it).
const (
	DefaultInterval = 2 * time.Second
	DefaultStale    = 3 * DefaultInterval
)

// View is a node as operators see it.
type View struct {
	Address   string `json:"address"`
	CoreUUID  string `json:"core_uuid"`
	State     string `json:"state"`
	Connected bool   `json:"connected"`
	Drained   bool   `json:"drained"`
	Sessions  int    `json:"sessions"`
	// MaxSessions is the node's session limit (0: not known yet).
	MaxSessions int     `json:"max_sessions"`
	IdleCPU     float64 `json:"idle_cpu"`
	// HeartbeatAge is the age of the node's last HEARTBEAT in seconds
	// (nil: none seen yet).
	HeartbeatAge  *float64   `json:"heartbeat_age_seconds"`
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	SeenBy        string     `json:"seen_by"`
	SeenAt        *time.Time `json:"seen_at"`
	DrainedAt     *time.Time `json:"drained_at"`
}

// ViewOf is what the row n says at now: a report older than stale does
// not count as the node being up.
func ViewOf(n store.Node, now time.Time, stale time.Duration) View {
	v := View{Address: n.Address, CoreUUID: n.CoreUUID, Drained: n.Drained, Sessions: n.Sessions,
		MaxSessions: n.MaxSessions, IdleCPU: n.IdleCPU, LastHeartbeat: n.LastHeartbeat, SeenBy: n.SeenBy,
		SeenAt: n.SeenAt, DrainedAt: n.DrainedAt}
	v.Connected = n.Connected && n.SeenAt != nil && now.Sub(*n.SeenAt) <= stale
	if n.LastHeartbeat != nil {
		age := max(0, now.Sub(*n.LastHeartbeat).Seconds())
		v.HeartbeatAge = &age
	}
	switch {
	case !v.Connected:
		v.State = StateDown
	case n.Drained && n.Sessions > 0:
		v.State = StateDraining
	case n.Drained:
		v.State = StateDrained
	default:
		v.State = StateUp
	}
	return v
}

// Store is what a Keeper needs of the store.
type Store interface {
	Report(ctx context.Context, instance string, stale time.Duration, reports []store.NodeReport) error
	List(ctx context.Context) ([]store.Node, error)
	Get(ctx context.Context, address string) (*store.Node, error)
	SetDrained(ctx context.Context, address string, drained bool) (*store.Node, error)
	Drained(ctx context.Context) (map[string]bool, error)
}

// Config sets up a Keeper.
type Config struct {
	// Instance is this process's store.Instance ID (the reports' SeenBy).
	Instance string
	// Interval is how often the keeper reports and reads drains
	// (default DefaultInterval).
	Interval time.Duration
	// Stale is how old a report may be and still say a node is up
	// (default DefaultStale, or 3 Intervals if longer).
	Stale time.Duration
	// OnDrain, if set, is told when this keeper changes a node's drain
	// switch here (from the store or from SetDrained).
	OnDrain func(address string, drained bool)
	Logger  *slog.Logger
}

// Keeper shares this instance's view of its nodes and applies drains.
type Keeper struct {
	store Store
	nodes []*esl.Node
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// NewKeeper makes a keeper for this instance's nodes.
func NewKeeper(st Store, nodes []*esl.Node, cfg Config) *Keeper {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Stale <= 0 {
		cfg.Stale = max(DefaultStale, 3*cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Keeper{store: st, nodes: nodes, cfg: cfg, log: cfg.Logger, now: time.Now}
}

// Stale is how old a report may be and still say a node is up.
func (k *Keeper) Stale() time.Duration { return k.cfg.Stale }

// Run syncs every Interval until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	for {
		if err := k.Sync(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("nodes: sync failed; drains stay as they were", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync reports this instance's view of its nodes, then applies the drain
// switches the store holds.
func (k *Keeper) Sync(ctx context.Context) error {
	reports := make([]store.NodeReport, 0, len(k.nodes))
	for _, n := range k.nodes {
		h := n.Health()
		r := store.NodeReport{Address: n.Name(), CoreUUID: h.CoreUUID, Connected: h.Connected,
			Sessions: h.SessionCount, MaxSessions: h.MaxSessions, IdleCPU: h.IdleCPU}
		if h.Connected {
			r.LastHeartbeat = h.LastHeartbeat
		}
		reports = append(reports, r)
	}
	if err := k.store.Report(ctx, k.cfg.Instance, k.cfg.Stale, reports); err != nil {
		return fmt.Errorf("nodes: report: %w", err)
	}
	drained, err := k.store.Drained(ctx)
	if err != nil {
		return fmt.Errorf("nodes: drains: %w", err)
	}
	for _, n := range k.nodes {
		k.apply(n, drained[n.Name()])
	}
	return nil
}

func (k *Keeper) apply(n *esl.Node, drained bool) {
	if !n.SetDrained(drained) {
		return
	}
	if drained {
		k.log.Warn("nodes: node drained: no new calls are placed on it; its calls go on", "node", n.Name())
	} else {
		k.log.Info("nodes: node undrained: calls are placed on it again", "node", n.Name())
	}
	if k.cfg.OnDrain != nil {
		k.cfg.OnDrain(n.Name(), drained)
	}
}

// List is the cluster's view of every node known to the store.
func (k *Keeper) List(ctx context.Context) ([]View, error) {
	rows, err := k.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodes: list: %w", err)
	}
	now := k.now()
	out := make([]View, 0, len(rows))
	for _, r := range rows {
		out = append(out, ViewOf(r, now, k.cfg.Stale))
	}
	return out, nil
}

// ErrUnknownNode: no instance has ever reported a node at that address.
var ErrUnknownNode = errors.New("no such node")

// SetDrained turns a node's drain switch on or off for the whole cluster:
// here at once, on the other instances at their next sync.
func (k *Keeper) SetDrained(ctx context.Context, address string, drained bool) (View, error) {
	row, err := k.store.SetDrained(ctx, address, drained)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, fmt.Errorf("%w: %s", ErrUnknownNode, address)
	}
	if err != nil {
		return View{}, fmt.Errorf("nodes: %w", err)
	}
	for _, n := range k.nodes {
		if n.Name() == address {
			k.apply(n, drained)
			// This instance's report is fresher than the table's: the
			// answer tells the calls on the node now.
			if err := k.Sync(ctx); err == nil {
				if fresh, err := k.store.Get(ctx, address); err == nil {
					row = fresh
				}
			}
		}
	}
	return ViewOf(*row, k.now(), k.cfg.Stale), nil
}

// Usable is how many of this instance's nodes can take new calls now
// (connected and not drained), and of how many.
func (k *Keeper) Usable() (usable, total int) {
	for _, n := range k.nodes {
		if h := n.Health(); h.Connected && !h.Drained {
			usable++
		}
	}
	return usable, len(k.nodes)
}

// NameOf names the node whose Core-UUID is core ("" if none of this
// instance's nodes has it).
func (k *Keeper) NameOf(core string) string {
	for _, n := range k.nodes {
		if n.Health().CoreUUID == core {
			return n.Name()
		}
	}
	return ""
}

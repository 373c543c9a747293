package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Node is what the cluster knows of one FreeSWITCH node: the freshest
// report of the instances connected to it, and whether operators have
// drained it.
type Node struct {
	// Address is the node's event socket (host:port) as the instances
	// are configured with it (-fs): the node's name everywhere.
	Address       string     `gorm:"column:address;primaryKey"`
	CoreUUID      string     `gorm:"column:core_uuid"`
	Connected     bool       `gorm:"column:connected"`
	Sessions      int        `gorm:"column:sessions"`
	MaxSessions   int        `gorm:"column:max_sessions"`
	IdleCPU       float64    `gorm:"column:idle_cpu"`
	LastHeartbeat *time.Time `gorm:"column:last_heartbeat"`
	// SeenBy is the instance whose report this is, SeenAt when it was
	// made.
	SeenBy string     `gorm:"column:seen_by"`
	SeenAt *time.Time `gorm:"column:seen_at"`
	// Drained: no new calls are placed on the node (live ones finish).
	Drained   bool       `gorm:"column:drained"`
	DrainedAt *time.Time `gorm:"column:drained_at"`
}

// TableName is the nodes table.
func (Node) TableName() string { return "nodes" }

// NodeReport is one instance's view of one node.
type NodeReport struct {
	Address       string
	CoreUUID      string
	Connected     bool
	Sessions      int
	MaxSessions   int
	IdleCPU       float64
	LastHeartbeat time.Time // zero: none yet
}

// Nodes keeps the nodes table.
type Nodes struct{ db *DB }

// Nodes returns the nodes repository.
func (db *DB) Nodes() *Nodes { return &Nodes{db: db} }

// Report records instance's view of its nodes, creating the rows of
// nodes new to the table. Instances may disagree (one cannot reach a
// node another can): a report that the node is unreachable does not
// replace another instance's report that it is connected until that one
// is older than stale, so the table says a node is down only when no
// instance has reached it lately. The drain switch is never touched.
func (r *Nodes) Report(ctx context.Context, instance string, stale time.Duration, reports []NodeReport) error {
	if len(reports) == 0 {
		return nil
	}
	at := utc(now())
	cutoff := at.Add(-stale)
	err := r.db.tx(ctx, func(tx *gorm.DB) error {
		for _, n := range reports {
			if n.Address == "" {
				return fmt.Errorf("node report without an address: %w", ErrInvalid)
			}
			var beat *time.Time
			if !n.LastHeartbeat.IsZero() {
				b := utc(n.LastHeartbeat)
				beat = &b
			}
			err := tx.Exec(`INSERT INTO nodes (address, core_uuid, connected, sessions, max_sessions, idle_cpu, last_heartbeat, seen_by, seen_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (address) DO UPDATE SET
					core_uuid = CASE WHEN excluded.core_uuid <> '' THEN excluded.core_uuid ELSE nodes.core_uuid END,
					connected = excluded.connected, sessions = excluded.sessions, max_sessions = excluded.max_sessions,
					idle_cpu = excluded.idle_cpu,
					last_heartbeat = COALESCE(excluded.last_heartbeat, nodes.last_heartbeat),
					seen_by = excluded.seen_by, seen_at = excluded.seen_at
				WHERE excluded.connected OR NOT nodes.connected OR nodes.seen_by = excluded.seen_by
					OR nodes.seen_at IS NULL OR nodes.seen_at < ?`,
				n.Address, n.CoreUUID, n.Connected, n.Sessions, n.MaxSessions, n.IdleCPU, beat, instance, at, cutoff).Error
			if err != nil {
				return fmt.Errorf("node %s: %w", n.Address, err)
			}
		}
		return nil
	})
	return dbErr("node report", err)
}

// List returns every node, by address.
func (r *Nodes) List(ctx context.Context) ([]Node, error) {
	var out []Node
	err := r.db.conn(ctx).Order("address").Find(&out).Error
	return out, dbErr("list nodes", err)
}

// Get returns the node at address, or ErrNotFound.
func (r *Nodes) Get(ctx context.Context, address string) (*Node, error) {
	var n Node
	if err := r.db.conn(ctx).Where("address = ?", address).Take(&n).Error; err != nil {
		return nil, dbErr("node "+address, err)
	}
	return &n, nil
}

// SetDrained turns a known node's drain switch on or off and returns the
// node. A node no instance has reported is ErrNotFound: a mistyped
// address must not look drained.
func (r *Nodes) SetDrained(ctx context.Context, address string, drained bool) (*Node, error) {
	op := "drain node " + address
	if !drained {
		op = "undrain node " + address
	}
	var at *time.Time
	if drained {
		t := utc(now())
		at = &t
	}
	// A node drained already keeps the time it was drained.
	res := r.db.conn(ctx).Exec(`UPDATE nodes SET drained = ?, drained_at = CASE WHEN ? AND drained THEN drained_at ELSE ? END WHERE address = ?`,
		drained, drained, at, address)
	if res.Error != nil {
		return nil, dbErr(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return r.Get(ctx, address)
}

// Drained returns the addresses of the drained nodes.
func (r *Nodes) Drained(ctx context.Context) (map[string]bool, error) {
	var addrs []string
	if err := r.db.conn(ctx).Model(&Node{}).Where("drained").Pluck("address", &addrs).Error; err != nil {
		return nil, dbErr("drained nodes", err)
	}
	out := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		out[a] = true
	}
	return out, nil
}

// Forget removes a node's row (a node taken out of the cluster). A node
// some instance reported connected since alive is refused (ErrConflict):
// it is still in use.
func (r *Nodes) Forget(ctx context.Context, address string, alive time.Time) error {
	op := "forget node " + address
	res := r.db.conn(ctx).Exec(`DELETE FROM nodes WHERE address = ? AND NOT (connected AND seen_at >= ?)`, address, utc(alive))
	if res.Error != nil {
		return dbErr(op, res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := r.Get(ctx, address); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return fmt.Errorf("%s: an instance is connected to it: %w", op, ErrConflict)
	}
	return nil
}

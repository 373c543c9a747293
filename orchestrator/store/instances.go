package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// Instance is a Switchyard process sharing the database. It beats while
// it runs; each call records the instance running it (Call.InstanceID).
type Instance struct {
	ID string `gorm:"column:id;primaryKey"`
	// Name tells one deployment slot from another (host and socket
	// address): a process restarted in the same slot gets a new ID and
	// the same Name, so its predecessor is known dead at once.
	Name      string    `gorm:"column:name"`
	StartedAt time.Time `gorm:"column:started_at"`
	SeenAt    time.Time `gorm:"column:seen_at"`
}

// TableName is the instances table.
func (Instance) TableName() string { return "instances" }

// Instances keeps the running instances' heartbeats.
type Instances struct{ db *DB }

// Instances returns the instances repository.
func (db *DB) Instances() *Instances { return &Instances{db: db} }

// Beat records that in is alive now, creating its row on the first beat.
func (r *Instances) Beat(ctx context.Context, in Instance) error {
	in.StartedAt, in.SeenAt = utc(in.StartedAt), utc(now())
	err := r.db.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"seen_at"}),
	}).Create(&in).Error
	return dbErr("instance beat", err)
}

// Leave removes an instance that stopped cleanly.
func (r *Instances) Leave(ctx context.Context, id string) error {
	return dbErr("instance leave", r.db.conn(ctx).Where("id = ?", id).Delete(&Instance{}).Error)
}

// Prune removes the rows of instances not seen since before: they are
// long dead, and their calls count as orphaned without them.
func (r *Instances) Prune(ctx context.Context, before time.Time) error {
	return dbErr("instance prune", r.db.conn(ctx).Where("seen_at < ?", utc(before)).Delete(&Instance{}).Error)
}

// Orphaned returns up to limit unfinished calls created before cutoff
// whose instance is dead: not seen since alive, or replaced by a newer
// process of the same name than self. Calls of self and of live instances
// are never returned, nor calls that recorded no instance. The order and
// paging are those of Calls.Unfinished.
func (r *Calls) Orphaned(ctx context.Context, self Instance, alive, cutoff time.Time, after *Call, limit int) ([]Call, error) {
	q := r.db.conn(ctx).Where("end_time IS NULL AND instance_id <> '' AND instance_id <> ? AND created_at < ?", self.ID, utc(cutoff)).
		Where("(instance_id NOT IN (SELECT id FROM instances WHERE seen_at >= ?) OR instance_id IN (SELECT id FROM instances WHERE name = ? AND id <> ?))",
			utc(alive), self.Name, self.ID)
	return callPage(q, after, limit, "orphaned calls")
}

// OnNode returns up to limit unfinished calls of the media node named
// node, in the order and paging of Calls.Unfinished: after the node
// restarted, none of them is still up.
func (r *Calls) OnNode(ctx context.Context, node string, after *Call, limit int) ([]Call, error) {
	return callPage(r.db.conn(ctx).Where("end_time IS NULL AND node = ?", node), after, limit, "calls on node")
}

// Dead returns the IDs of the instances other than self that died after
// since: last seen between since and alive, or replaced by self (a
// process of the same name). Instances dead longer are left out: what
// they left is handled already (their rows stay until Prune).
func (r *Instances) Dead(ctx context.Context, self Instance, alive, since time.Time) ([]string, error) {
	var ids []string
	err := r.db.conn(ctx).Model(&Instance{}).
		Where("id <> ? AND seen_at >= ? AND (seen_at < ? OR name = ?)", self.ID, utc(since), utc(alive), self.Name).
		Pluck("id", &ids).Error
	return ids, dbErr("dead instances", err)
}

// LiveInstances returns the IDs of the instances seen since alive.
func (r *Instances) LiveInstances(ctx context.Context, alive time.Time) (map[string]bool, error) {
	var ids []string
	if err := r.db.conn(ctx).Model(&Instance{}).Where("seen_at >= ?", utc(alive)).Pluck("id", &ids).Error; err != nil {
		return nil, dbErr("live instances", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Settings keeps instance-wide values that every Switchyard instance
// sharing the database must agree on, such as the key that signs
// pre-signed recording URLs. A value is written once, by whichever
// instance needs it first, and the store never changes it.
type Settings struct{ db *DB }

// Settings returns the instance-wide settings repository.
func (db *DB) Settings() *Settings { return &Settings{db: db} }

// setting is a row of settings.
type setting struct {
	Name      string    `gorm:"column:name;primaryKey"`
	Value     string    `gorm:"column:value"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (setting) TableName() string { return "settings" }

// Ensure returns the value of the setting name, storing value as it
// first if it has none. Instances starting at once agree: in one
// transaction, the insert stores nothing when the name is taken (on
// PostgreSQL it waits for a concurrent insert of the same name to commit;
// SQLite's immediate transactions run one after the other), and the read
// that follows returns the value that was stored first.
func (r *Settings) Ensure(ctx context.Context, name, value string) (string, error) {
	op := "ensure setting " + name
	if name == "" || value == "" {
		return "", fmt.Errorf("%s: empty name or value: %w", op, ErrInvalid)
	}
	var got setting
	err := r.db.tx(ctx, func(tx *gorm.DB) error {
		row := setting{Name: name, Value: value, CreatedAt: now()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		return tx.Where("name = ?", name).Take(&got).Error
	})
	if err != nil {
		return "", dbErr(op, err)
	}
	return got.Value, nil
}

package store

import (
	"context"
	"fmt"
)

// Recordings stores the recordings made during calls.
type Recordings struct{ db *DB }

// Create inserts a recording of one of the account's calls (another
// account's call, or a leg of another call, is ErrNotFound). A missing ID
// is generated; Channels defaults to single.
func (r *Recordings) Create(ctx context.Context, rec *Recording) error {
	if rec.ID == "" {
		rec.ID = newID("re")
	}
	if rec.Channels == "" {
		rec.Channels = ChannelsSingle
	}
	switch {
	case rec.AccountSID == "" || rec.CallSID == "":
		return fmt.Errorf("create recording: no call or account: %w", ErrInvalid)
	case rec.URL == "":
		return fmt.Errorf("create recording: no URL: %w", ErrInvalid)
	case rec.Channels != ChannelsSingle && rec.Channels != ChannelsDual:
		return fmt.Errorf("create recording: channels %q: %w", rec.Channels, ErrInvalid)
	}
	rec.CreatedAt = cmpTime(utc(rec.CreatedAt), now())
	rec.ClaimUntil, rec.ArchivedAt = utcPtr(rec.ClaimUntil), utcPtr(rec.ArchivedAt)
	_, err := r.db.exec(ctx, insertRecording, rec.ID, rec.AccountSID, rec.CallSID, rec.LegID, rec.URL, rec.Path,
		rec.Duration, rec.Channels, rec.Format, rec.CreatedAt, rec.ArchiveStatus, rec.ArchiveFormat, rec.Storage,
		rec.StorageKey, rec.Size, rec.ArchiveAttempts, rec.ArchiveError, rec.ClaimedBy, rec.ClaimUntil, rec.ArchivedAt,
		rec.CallSID)
	return insertErr("create recording", err)
}

// insertRecording writes every column of a Recording (a test holds the
// list to the model's). call_ended comes from the call, whatever
// CallEnded says: a recording made before its call's final record is
// marked by Calls.Finish, one added after it is marked here.
const insertRecording = `INSERT INTO recordings (id, account_sid, call_sid, leg_id, url, path,
	duration, channels, format, created_at, archive_status, archive_format, storage,
	storage_key, size, archive_attempts, archive_error, claimed_by, claim_until, archived_at, call_ended)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		EXISTS (SELECT 1 FROM calls WHERE sid = ? AND end_time IS NOT NULL))`

// Get returns one of the account's recordings.
func (r *Recordings) Get(ctx context.Context, accountSID, id string) (*Recording, error) {
	var rec Recording
	if err := r.db.read(ctx).Where("id = ? AND account_sid = ?", id, accountSID).Take(&rec).Error; err != nil {
		return nil, dbErr("get recording "+id, err)
	}
	return &rec, nil
}

// ByCall returns the recordings of one of the account's calls, oldest
// first (empty for an unknown call).
func (r *Recordings) ByCall(ctx context.Context, accountSID, callSID string) ([]Recording, error) {
	var out []Recording
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).
		Order("created_at, id").Find(&out).Error
	if err != nil {
		return nil, dbErr("recordings of call "+callSID, err)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"time"
)

// ArchiveClaim asks for pending recordings to archive.
type ArchiveClaim struct {
	// Claimer identifies this claim (an instance and a nonce): only the
	// holder of a claim may extend it, finish or fail the archive.
	Claimer string
	// Now is the claim's time; Lease how long the claim holds unless
	// extended (a crashed claimer's rows are claimable again after it).
	Now   time.Time
	Lease time.Duration
	// Limit caps the rows claimed (default 10).
	Limit int
}

// ClaimArchive claims pending recordings whose call is over (the media
// node has closed their file: call_ended, set with the call's final
// record, so a claim never reads the recordings of live calls), whose
// last claim has lapsed or whose
// retry is due, oldest first; each claim counts an attempt. Concurrent
// claimers, on any number of instances, never get the same row: on
// PostgreSQL the candidates are locked (SKIP LOCKED) and every update
// re-checks that the row is still unclaimed.
func (r *Recordings) ClaimArchive(ctx context.Context, c ArchiveClaim) ([]Recording, error) {
	if c.Claimer == "" || c.Lease <= 0 {
		return nil, fmt.Errorf("claim recordings to archive: no claimer or lease: %w", ErrInvalid)
	}
	if c.Limit <= 0 {
		c.Limit = 10
	}
	at := utc(cmpTime(c.Now, now()))
	lock, plus := "", "+"
	if r.db.dialect == DialectPostgres {
		lock, plus = " FOR UPDATE OF r SKIP LOCKED", ""
	}
	// The status is written into the statement, not bound: the planner
	// can then see that the partial index on pending recordings applies
	// without waiting for a bound value. The lease's comparison is kept
	// out of the index's reach on SQLite (the unary +): a bound value the planner
	// may use makes SQLite prepare the statement again at every run.
	q := `UPDATE recordings SET claimed_by = ?, claim_until = ?, archive_attempts = archive_attempts + 1
		WHERE archive_status = '` + ArchivePending + `' AND call_ended AND (claim_until IS NULL OR ` + plus + `claim_until <= ?) AND id IN (
			SELECT r.id FROM recordings r
			WHERE r.archive_status = '` + ArchivePending + `' AND r.call_ended AND (r.claim_until IS NULL OR ` + plus + `r.claim_until <= ?)
			ORDER BY r.created_at, r.id LIMIT ?` + lock + `)
		RETURNING *`
	var out []Recording
	err := r.db.conn(ctx).Raw(q, c.Claimer, at.Add(c.Lease), at, at, c.Limit).Scan(&out).Error
	if err != nil {
		return nil, dbErr("claim recordings to archive", err)
	}
	return out, nil
}

// MarkEnded marks ready to archive the pending recordings whose call is
// over but which its final record did not mark: an instance of an
// earlier version, sharing the database during an upgrade, finished the
// call. It reports how many it marked. It reads every recording still
// waiting for its call, so it is for a slow sweep, not for every claim.
func (r *Recordings) MarkEnded(ctx context.Context) (int64, error) {
	n, err := r.db.exec(ctx, `UPDATE recordings SET call_ended = TRUE
		WHERE archive_status = '`+ArchivePending+`' AND NOT call_ended
		AND EXISTS (SELECT 1 FROM calls c WHERE c.sid = recordings.call_sid AND c.end_time IS NOT NULL)`)
	if err != nil {
		return 0, dbErr("mark recordings of ended calls", err)
	}
	return n, nil
}

// ExtendArchive keeps claimer's claim on recording id until until;
// ErrConflict when the claim was lost (it lapsed and another took it, or
// the archive is over).
func (r *Recordings) ExtendArchive(ctx context.Context, id, claimer string, until time.Time) error {
	res := r.db.conn(ctx).Exec(`UPDATE recordings SET claim_until = ? WHERE id = ? AND claimed_by = ? AND archive_status = ?`,
		utc(until), id, claimer, ArchivePending)
	if res.Error != nil {
		return dbErr("extend archive claim "+id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("extend archive claim %s: claim lost: %w", id, ErrConflict)
	}
	return nil
}

// Archived is where an archived recording's file went.
type Archived struct {
	// Format is the stored file's format ("wav", "mp3").
	Format string
	// Storage names the blob store; StorageKey is the object in it ("":
	// the file stays at the row's path).
	Storage, StorageKey string
	Size                int64
	Duration            int // seconds; 0 keeps the row's
	At                  time.Time
}

// FinishArchive records that claimer archived recording id; ErrConflict
// when the claim was lost meanwhile (the row is left as the new holder
// makes it).
func (r *Recordings) FinishArchive(ctx context.Context, id, claimer string, a Archived) error {
	set := map[string]any{
		"archive_status": ArchiveDone, "format": a.Format, "storage": a.Storage, "storage_key": a.StorageKey,
		"size": a.Size, "claimed_by": "", "claim_until": nil, "archive_error": "",
		"archived_at": utc(cmpTime(a.At, now())),
	}
	if a.Duration > 0 {
		set["duration"] = a.Duration
	}
	res := r.db.conn(ctx).Model(&Recording{}).
		Where("id = ? AND claimed_by = ? AND archive_status = ?", id, claimer, ArchivePending).Updates(set)
	if res.Error != nil {
		return dbErr("finish archive "+id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("finish archive %s: claim lost: %w", id, ErrConflict)
	}
	return nil
}

// FailArchive records claimer's failed attempt at recording id: it is
// released for a retry at retryAt, or, when final, marked failed (its
// file, if any, stays where it was). ErrConflict when the claim was lost.
func (r *Recordings) FailArchive(ctx context.Context, id, claimer, reason string, retryAt time.Time, final bool) error {
	status := ArchivePending
	if final {
		status = ArchiveFailed
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	res := r.db.conn(ctx).Model(&Recording{}).
		Where("id = ? AND claimed_by = ? AND archive_status = ?", id, claimer, ArchivePending).
		Updates(map[string]any{"archive_status": status, "claimed_by": "", "claim_until": utc(retryAt),
			"archive_error": storable(reason)})
	if res.Error != nil {
		return dbErr("fail archive "+id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("fail archive %s: claim lost: %w", id, ErrConflict)
	}
	return nil
}

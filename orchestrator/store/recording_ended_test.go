package store

import (
	"context"
	"testing"
	"time"
)

// Upgrading marks the recordings of calls already over, and only those,
// as ready to archive.
func TestMigrationMarksRecordingsOfEndedCalls(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	before := migrations[:len(migrations)-1]
	if last := before[len(before)-1].Version; last != 14 {
		t.Fatalf("the migration before call_ended is %d; this test seeds a version 14 database", last)
	}
	if err := db.migrate(ctx, before); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	for _, c := range []struct {
		sid   string
		ended bool
	}{{"00000000000000000000000000000001", true}, {"00000000000000000000000000000002", false}} {
		var end *time.Time
		if c.ended {
			end = &at
		}
		if err := db.gdb.Exec(`INSERT INTO calls (sid, account_sid, direction, status, start_time, end_time, created_at, updated_at)
			VALUES (?, 'acme1', 'inbound', 'completed', ?, ?, ?, ?)`, c.sid, at, end, at, at).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.gdb.Exec(`INSERT INTO recordings (id, account_sid, call_sid, url, created_at, archive_status)
			VALUES (?, 'acme1', ?, 'u', ?, 'pending')`, "re"+c.sid, c.sid, at).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.Recordings().ClaimArchive(ctx, ArchiveClaim{Claimer: "x", Now: at, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CallSID != "00000000000000000000000000000001" || !got[0].CallEnded {
		t.Fatalf("claimed after the upgrade: %+v, want the recording of the call that was over", got)
	}
}

package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// pendingRecording creates a call with one recording waiting to be
// archived; the call is over when ended.
func pendingRecording(t *testing.T, f *fixture, created time.Time, ended bool) (*store.Call, *store.Recording) {
	t.Helper()
	ctx := t.Context()
	c := newCall(f.a.SID, created)
	must(t, f.db.Calls().Create(ctx, c))
	rec := &store.Recording{AccountSID: f.a.SID, CallSID: c.SID, URL: "https://rec/" + c.SID, Path: "/rec/" + c.SID + ".wav",
		Format: "wav", ArchiveStatus: store.ArchivePending, ArchiveFormat: "mp3", CreatedAt: created}
	must(t, f.db.Recordings().Create(ctx, rec))
	if ended {
		_, err := f.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, EndTime: created.Add(time.Minute), Released: true})
		must(t, err)
	}
	return c, rec
}

func testRecordingArchive(t *testing.T, fresh Fresh) {
	ctx := t.Context()
	f := setup(t, fresh)
	recs := f.db.Recordings()
	at := base.Add(time.Hour)
	claim := func(who string, now time.Time) []store.Recording {
		t.Helper()
		got, err := recs.ClaimArchive(ctx, store.ArchiveClaim{Claimer: who, Now: now, Lease: time.Minute})
		must(t, err)
		return got
	}

	live, liveRec := pendingRecording(t, f, base, false)
	_, old := pendingRecording(t, f, base.Add(time.Second), true)
	_, newer := pendingRecording(t, f, base.Add(2*time.Second), true)
	// A row from before archiving (no status) is never claimed.
	c := newCall(f.a.SID, base)
	must(t, f.db.Calls().Create(ctx, c))
	must(t, recs.Create(ctx, &store.Recording{AccountSID: f.a.SID, CallSID: c.SID, URL: "u", Format: "wav", CreatedAt: base}))
	_, err := f.db.Calls().Finish(ctx, c.SID, store.CallFinal{Status: store.Completed, Released: true})
	must(t, err)

	got := claim("a", at)
	if len(got) != 2 || got[0].ID != old.ID || got[1].ID != newer.ID {
		t.Fatalf("claim = %+v, want the two of ended calls, oldest first", got)
	}
	if got[0].ClaimedBy != "a" || got[0].ArchiveAttempts != 1 || got[0].ClaimUntil == nil ||
		!got[0].ClaimUntil.Equal(at.Add(time.Minute)) || got[0].ArchiveFormat != "mp3" || got[0].Path != old.Path {
		t.Fatalf("claimed row %+v", got[0])
	}
	if again := claim("b", at.Add(30*time.Second)); len(again) != 0 {
		t.Fatalf("claimed rows were claimed again: %+v", again)
	}

	// The live call's recording becomes claimable when the call ends.
	_, err = f.db.Calls().Finish(ctx, live.SID, store.CallFinal{Status: store.Completed, Released: true})
	must(t, err)
	if got := claim("b", at.Add(30*time.Second)); len(got) != 1 || got[0].ID != liveRec.ID {
		t.Fatalf("after the call ended: %+v", got)
	}

	// A recording added after its call's final record is ready at once.
	late := newCall(f.a.SID, base.Add(3*time.Second))
	must(t, f.db.Calls().Create(ctx, late))
	_, err = f.db.Calls().Finish(ctx, late.SID, store.CallFinal{Status: store.Completed, Released: true})
	must(t, err)
	lateRec := &store.Recording{AccountSID: f.a.SID, CallSID: late.SID, URL: "u", Path: "/rec/late.wav", Format: "wav",
		ArchiveStatus: store.ArchivePending, ArchiveFormat: "wav", CreatedAt: base.Add(3 * time.Second)}
	must(t, recs.Create(ctx, lateRec))
	if got := claim("b", at.Add(30*time.Second)); len(got) != 1 || got[0].ID != lateRec.ID || !got[0].CallEnded {
		t.Fatalf("a recording of a call already over: %+v", got)
	}
	must(t, recs.FinishArchive(ctx, lateRec.ID, "b", store.Archived{Format: "wav", Storage: "disk:/rec", Size: 44}))

	// A call finished without marking its recordings (an earlier
	// version's instance wrote its end) waits for the sweep.
	old1 := newCall(f.a.SID, base.Add(4*time.Second))
	must(t, f.db.Calls().Create(ctx, old1))
	old1Rec := &store.Recording{AccountSID: f.a.SID, CallSID: old1.SID, URL: "u", Path: "/rec/old1.wav", Format: "wav",
		ArchiveStatus: store.ArchivePending, ArchiveFormat: "wav", CreatedAt: base.Add(4 * time.Second)}
	must(t, recs.Create(ctx, old1Rec))
	must(t, f.db.Gorm().Exec(`UPDATE calls SET end_time = ? WHERE sid = ?`, base.Add(5*time.Second), old1.SID).Error)
	if got := claim("b", at.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("claimed before the sweep: %+v", got)
	}
	if n, err := recs.MarkEnded(ctx); err != nil || n != 1 {
		t.Fatalf("sweep marked %d (%v), want 1", n, err)
	}
	if n, err := recs.MarkEnded(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep marked %d (%v), want 0", n, err)
	}
	if got := claim("b", at.Add(30*time.Second)); len(got) != 1 || got[0].ID != old1Rec.ID {
		t.Fatalf("after the sweep: %+v", got)
	}
	must(t, recs.FinishArchive(ctx, old1Rec.ID, "b", store.Archived{Format: "wav", Storage: "disk:/rec", Size: 44}))

	// The holder extends; another claimer cannot, nor finish.
	must(t, recs.ExtendArchive(ctx, old.ID, "a", at.Add(2*time.Minute)))
	wantErr(t, recs.ExtendArchive(ctx, old.ID, "b", at.Add(2*time.Minute)), store.ErrConflict)
	wantErr(t, recs.FinishArchive(ctx, old.ID, "b", store.Archived{Format: "mp3"}), store.ErrConflict)

	// A lapsed claim (newer's, not extended) is taken over; the first
	// holder's finish is then refused.
	taken := claim("c", at.Add(80*time.Second))
	if len(taken) != 1 || taken[0].ID != newer.ID || taken[0].ArchiveAttempts != 2 {
		t.Fatalf("takeover = %+v", taken)
	}
	wantErr(t, recs.FinishArchive(ctx, newer.ID, "a", store.Archived{Format: "mp3"}), store.ErrConflict)
	// The live call's recording is archived as it is (a WAV left in place).
	must(t, recs.FinishArchive(ctx, liveRec.ID, "b", store.Archived{Format: "wav", Storage: "disk:/rec", Size: 44}))

	// Finish records where the file went.
	done := at.Add(100 * time.Second)
	must(t, recs.FinishArchive(ctx, old.ID, "a", store.Archived{Format: "mp3", Storage: "s3://b/p",
		StorageKey: "acme1/x.mp3", Size: 4321, Duration: 17, At: done}))
	r, err := recs.Get(ctx, f.a.SID, old.ID)
	must(t, err)
	if r.ArchiveStatus != store.ArchiveDone || r.Format != "mp3" || r.Storage != "s3://b/p" || r.StorageKey != "acme1/x.mp3" ||
		r.Size != 4321 || r.Duration != 17 || r.ClaimedBy != "" || r.ClaimUntil != nil || r.ArchivedAt == nil || !r.ArchivedAt.Equal(done) {
		t.Fatalf("archived row %+v", r)
	}
	wantErr(t, recs.FinishArchive(ctx, old.ID, "a", store.Archived{Format: "mp3"}), store.ErrConflict)

	// A failed attempt waits for its retry time; a final failure stays.
	must(t, recs.FailArchive(ctx, newer.ID, "c", "store unreachable", at.Add(time.Hour), false))
	if got := claim("d", at.Add(59*time.Minute)); len(got) != 0 {
		t.Fatalf("claimed before its retry: %+v", got)
	}
	got = claim("d", at.Add(time.Hour))
	if len(got) != 1 || got[0].ID != newer.ID || got[0].ArchiveError != "store unreachable" || got[0].ArchiveAttempts != 3 {
		t.Fatalf("retry = %+v", got)
	}
	must(t, recs.FailArchive(ctx, newer.ID, "d", "not a wav file", at, true))
	r, err = recs.Get(ctx, f.a.SID, newer.ID)
	must(t, err)
	if r.ArchiveStatus != store.ArchiveFailed || r.ArchiveError != "not a wav file" || r.StorageKey != "" {
		t.Fatalf("failed row %+v", r)
	}
	if got := claim("e", at.Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("nothing is left to archive, claimed %+v", got)
	}
	_, err = recs.ClaimArchive(ctx, store.ArchiveClaim{Now: at, Lease: time.Minute})
	wantErr(t, err, store.ErrInvalid)
}

// Claimers racing on one database never share a row.
func testRecordingArchiveClaimConcurrently(t *testing.T, fresh Fresh) {
	f := setup(t, fresh)
	ctx := t.Context()
	const n = 40
	for i := range n {
		pendingRecording(t, f, base.Add(time.Duration(i)*time.Second), true)
	}
	at := base.Add(time.Hour)
	claimEachOnce(t, n, func(w int) ([]string, error) {
		got, err := f.db.Recordings().ClaimArchive(ctx, store.ArchiveClaim{Claimer: fmt.Sprintf("w%d", w), Now: at, Lease: time.Hour, Limit: 3})
		ids := make([]string, len(got))
		for i, r := range got {
			ids[i] = r.ID
		}
		return ids, err
	})
}

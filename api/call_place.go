package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// headerIdempotencyKey makes a retried create return the call the first
// request created instead of placing another.
const headerIdempotencyKey = "Idempotency-Key"

// headerReplayed is set to "true" on the answer to a replayed request.
const headerReplayed = "Idempotent-Replayed"

// maxIdempotencyKey caps the Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotencyKeyOf returns the request's Idempotency-Key ("" when none):
// 1 to 255 printable ASCII characters, given once.
func idempotencyKeyOf(c echo.Context) (string, error) {
	vals := c.Request().Header.Values(headerIdempotencyKey)
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 {
		return "", badRequest("Idempotency-Key must be given once")
	}
	k := strings.TrimSpace(vals[0])
	if k == "" || len(k) > maxIdempotencyKey {
		return "", badRequest(fmt.Sprintf("Idempotency-Key must be 1 to %d characters", maxIdempotencyKey))
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", badRequest("Idempotency-Key must be printable ASCII")
		}
	}
	return k, nil
}

// callRequestHash is the SHA-256 (hex) of the normalised request, without the
// idempotency fields: a key reused with another request is refused, a
// retry of the same one (in whatever spelling normalises to it) is a
// replay.
func callRequestHash(req call.OutboundRequest) string {
	req.IdempotencyKey, req.RequestHash = "", ""
	req.StatusCallbackEvents = slices.Sorted(slices.Values(req.StatusCallbackEvents))
	b, err := json.Marshal(req)
	if err != nil {
		// OutboundRequest has only strings, ints, bools, a slice and a
		// map of strings: it always marshals.
		panic(fmt.Sprintf("api: hash outbound request: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// placeCall hands a validated request to the Placer with the request's
// Idempotency-Key. Errors are the Placer's, for the caller to map.
func (s *Server) placeCall(c echo.Context, req call.OutboundRequest) (*store.Call, error) {
	key, err := idempotencyKeyOf(c)
	if err != nil {
		return nil, err
	}
	if key != "" {
		req.IdempotencyKey, req.RequestHash = key, callRequestHash(req)
	}
	if s.calls == nil {
		return nil, fmt.Errorf("place call: no placer configured: %w", call.ErrNoNode)
	}
	ctx := c.Request().Context()
	got, replay, err := s.calls.Place(ctx, req)
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, errors.New("place call: the placer returned no call")
	}
	if replay {
		c.Response().Header().Set(headerReplayed, "true")
	}
	s.log.InfoContext(ctx, "api: call placed", "account", req.AccountSID, "call_sid", got.SID,
		"flow", req.FlowID, "replay", replay)
	return got, nil
}

// placeErrV1 maps an error of placeCall to the v1 answer.
func placeErrV1(err error, req call.OutboundRequest) error {
	if out, done := placeErrCommon(err); done {
		return out
	}
	switch {
	case errors.Is(err, store.ErrBusy):
		return fail(http.StatusConflict, CodeDeviceBusy, fmt.Sprintf("From %s is on another call", req.From))
	case errors.Is(err, call.ErrNotExoPhone):
		return badRequest(fmt.Sprintf("CallerId %s is not an ExoPhone of this account", req.CallerID))
	case errors.Is(err, store.ErrNotPublished):
		return badRequest(fmt.Sprintf("flow %s is not published", req.FlowID))
	case errors.Is(err, store.ErrNotFound):
		if req.FlowID != "" {
			return badRequest(fmt.Sprintf("flow %s or CallerId %s does not exist in this account", req.FlowID, req.CallerID))
		}
		return badRequest(fmt.Sprintf("CallerId %s is not an ExoPhone of this account", req.CallerID))
	case errors.Is(err, store.ErrInvalid):
		return badRequest("the call request was refused as invalid")
	}
	return fmt.Errorf("api: place call: %w", err)
}

// placeErrV3 maps an error of placeCall to the v3 answer (Exotel's codes).
func placeErrV3(err error, req call.OutboundRequest) error {
	if out, done := placeErrCommon(err); done {
		return out
	}
	switch {
	case errors.Is(err, store.ErrBusy):
		return fail(http.StatusConflict, CodeDeviceBusy, fmt.Sprintf("from %s is busy on another call", req.From))
	case errors.Is(err, call.ErrNotExoPhone), errors.Is(err, store.ErrNotFound):
		return fail(http.StatusNotFound, CodeNumberNotFound, fmt.Sprintf("virtual number %s not found", req.CallerID))
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotPublished):
		return badRequest("the call request was refused as invalid")
	}
	return fmt.Errorf("api: place call: %w", err)
}

// placeErrCommon answers the placeCall errors both surfaces answer alike;
// done is false for the others.
func placeErrCommon(err error) (out error, done bool) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return err, true
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return fail(http.StatusConflict, CodeConflict, "Idempotency-Key was already used with a different request"), true
	case errors.Is(err, call.ErrNoNode):
		return fail(http.StatusServiceUnavailable, CodeUnavailable, "no media node can place the call now; retry later"), true
	case errors.Is(err, call.ErrDraining):
		return fail(http.StatusServiceUnavailable, CodeUnavailable, "this instance is shutting down and places no new calls; retry (another instance can take it)"), true
	}
	return nil, false
}

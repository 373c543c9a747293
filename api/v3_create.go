package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// v3CallBody is the body of POST /v3/accounts/:sid/calls. It accepts both
// documented shapes (§4.2): the v3 one
//
//	{"from": {"contact_uri", "state_management"}, "to": {"contact_uri"},
//	 "virtual_number", "recording": {"record", "channels"},
//	 "max_time_limit", "attempt_time_out", "custom_field",
//	 "status_callback": [{"event", "url"}]}
//
// and the new portal's (v2-style) one
//
//	{"from": {"user_contact_uri" | "user_id"}, "to": {"number"},
//	 "virtual_number", "recording": true, "recording_channels",
//	 "wait_audio_url", …}
//
// Fields whose type varies between sources are raw and read by hand.
type v3CallBody struct {
	From              *v3CallFrom          `json:"from"`
	To                *v3CallTo            `json:"to"`
	VirtualNumber     string               `json:"virtual_number"`
	Recording         json.RawMessage      `json:"recording"`
	RecordingChannels string               `json:"recording_channels"`
	WaitAudioURL      string               `json:"wait_audio_url"`
	MaxTimeLimit      json.RawMessage      `json:"max_time_limit"`
	AttemptTimeOut    json.RawMessage      `json:"attempt_time_out"`
	CustomField       string               `json:"custom_field"`
	StatusCallback    []v3StatusCallbackIn `json:"status_callback"`
}

type v3CallFrom struct {
	ContactURI      string          `json:"contact_uri"`
	StateManagement json.RawMessage `json:"state_management"`
	UserContactURI  string          `json:"user_contact_uri"`
	UserID          string          `json:"user_id"`
}

type v3CallTo struct {
	ContactURI string `json:"contact_uri"`
	Number     string `json:"number"`
}

type v3StatusCallbackIn struct {
	Event string `json:"event"`
	URL   string `json:"url"`
}

// v3Recording is the v3 recording object.
type v3RecordingIn struct {
	Record   json.RawMessage `json:"record"`
	Channels string          `json:"channels"`
}

// v3CreateCall is POST /v3/accounts/:sid/calls: click-to-call (from, then
// to). It answers 200 with response.call_details.
func (s *Server) v3CreateCall(c echo.Context) error {
	var body v3CallBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	req, err := s.v3CallRequest(ctx, account(c).SID, body)
	if err != nil {
		return err
	}
	got, err := s.placeCall(c, req)
	if err != nil {
		return placeErrV3(err, req)
	}
	details, err := s.v3CallDetails(ctx, got)
	if err != nil {
		return fmt.Errorf("api: create call: %w", err)
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "call_details", details))
}

// v3CallRequest validates a v3 body into an OutboundRequest. Malformed
// fields are 400; an unknown from.user_id is 404 code 10731; an unknown
// virtual number 404 code 10716.
func (s *Server) v3CallRequest(ctx context.Context, accountSID string, b v3CallBody) (call.OutboundRequest, error) {
	req := call.OutboundRequest{AccountSID: accountSID, CallType: "trans", StatusCallbackContentType: store.ContentJSON}
	var err error

	if b.From == nil {
		return req, badRequest("from is required")
	}
	f := b.From
	contact := f.ContactURI
	if f.UserID != "" {
		// A user: called on their first device that is on, and held
		// like any state-managed agent (Exotel refuses an agent whose
		// device is off).
		if f.ContactURI != "" || f.UserContactURI != "" {
			return req, badRequest("from: give user_id or a contact, not both")
		}
		u, err := s.store.Users().Get(ctx, accountSID, f.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return req, fail(http.StatusNotFound, CodeUserNotFound, fmt.Sprintf("user %s not found", f.UserID))
		case err != nil:
			return req, fmt.Errorf("api: user %s: %w", f.UserID, err)
		case len(u.Devices) == 0:
			return req, fail(http.StatusNotFound, CodeUserNotFound, fmt.Sprintf("user %s has no device", f.UserID))
		}
		i := slices.IndexFunc(u.Devices, func(d store.UserDevice) bool { return d.Available })
		if i < 0 {
			return req, fail(http.StatusConflict, CodeDeviceBusy, fmt.Sprintf("every device of user %s is off (available false)", f.UserID))
		}
		contact, req.HoldFrom = cmp.Or(u.Devices[i].Device, u.Devices[i].Contact), true
	}
	switch {
	case f.ContactURI != "" && f.UserContactURI != "":
		return req, badRequest("from: give contact_uri or user_contact_uri, not both")
	case f.UserContactURI != "":
		// The v2-style agent is a user whose state Exotel tracks: a busy
		// agent is refused, as with state_management.
		contact, req.HoldFrom = f.UserContactURI, true
	}
	if strings.TrimSpace(contact) == "" {
		return req, badRequest("from.contact_uri is required")
	}
	if req.From, err = callNumber("from.contact_uri", contact, true); err != nil {
		return req, err
	}
	if len(f.StateManagement) > 0 {
		hold, err := v3Bool("from.state_management", f.StateManagement)
		if err != nil {
			return req, err
		}
		req.HoldFrom = req.HoldFrom || hold
	}

	if b.To == nil {
		return req, badRequest("to is required")
	}
	to := b.To.ContactURI
	switch {
	case b.To.ContactURI != "" && b.To.Number != "" && b.To.ContactURI != b.To.Number:
		return req, badRequest("to: give contact_uri or number, not both")
	case to == "":
		to = b.To.Number
	}
	if strings.TrimSpace(to) == "" {
		return req, badRequest("to.contact_uri is required")
	}
	if req.To, err = callNumber("to.contact_uri", to, false); err != nil {
		return req, err
	}

	if strings.TrimSpace(b.VirtualNumber) == "" {
		return req, badRequest("virtual_number is required: one of the account's ExoPhones")
	}
	phone, err := s.callExoPhone(ctx, accountSID, "virtual_number", b.VirtualNumber)
	if errors.Is(err, errNoExoPhone) {
		return req, fail(http.StatusNotFound, CodeNumberNotFound, fmt.Sprintf("virtual number %s not found", b.VirtualNumber))
	}
	if err != nil {
		return req, err
	}
	req.CallerID = phone.Number

	channels := b.RecordingChannels
	if len(b.Recording) > 0 && !bytes.Equal(b.Recording, []byte("null")) {
		if b.Recording[0] == '{' {
			var r v3RecordingIn
			dec := json.NewDecoder(bytes.NewReader(b.Recording))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return req, badRequest("recording: want {\"record\": true|false, \"channels\": \"single\"|\"dual\"}: " + err.Error())
			}
			if len(r.Record) > 0 {
				if req.Record, err = v3Bool("recording.record", r.Record); err != nil {
					return req, err
				}
			}
			if r.Channels != "" {
				if channels != "" && !strings.EqualFold(channels, r.Channels) {
					return req, badRequest("recording.channels and recording_channels disagree")
				}
				channels = r.Channels
			}
		} else if req.Record, err = v3Bool("recording", b.Recording); err != nil {
			return req, err
		}
	}
	if channels != "" {
		switch strings.ToLower(channels) {
		case store.ChannelsSingle, store.ChannelsDual:
			if req.Record {
				req.RecordingChannels = strings.ToLower(channels)
			}
		default:
			return req, badRequest(fmt.Sprintf("recording channels %q is not valid: single or dual", channels))
		}
	}

	if req.TimeLimit, err = v3Seconds("max_time_limit", b.MaxTimeLimit, call.MaxTimeLimit); err != nil {
		return req, err
	}
	if req.TimeOut, err = v3Seconds("attempt_time_out", b.AttemptTimeOut, callMaxTimeOut); err != nil {
		return req, err
	}
	if b.WaitAudioURL != "" {
		if req.WaitURL, err = callHTTPURL("wait_audio_url", b.WaitAudioURL); err != nil {
			return req, err
		}
	}
	req.CustomField = b.CustomField
	if n := utf8.RuneCountInString(req.CustomField); n > callMaxCustomField {
		return req, badRequest(fmt.Sprintf("custom_field is %d characters long: at most %d", n, callMaxCustomField))
	}
	for i, cb := range b.StatusCallback {
		ev := strings.ToLower(strings.TrimSpace(cb.Event))
		if ev != store.CallbackTerminal && ev != store.CallbackAnswered {
			return req, badRequest(fmt.Sprintf("status_callback[%d].event %q is not valid: terminal or answered", i, cb.Event))
		}
		u, err := callHTTPURL(fmt.Sprintf("status_callback[%d].url", i), cb.URL)
		if err != nil {
			return req, err
		}
		if _, dup := req.StatusCallbackURLs[ev]; dup {
			return req, badRequest(fmt.Sprintf("status_callback lists the %s event twice", ev))
		}
		if req.StatusCallbackURLs == nil {
			req.StatusCallbackURLs = map[string]string{}
		}
		req.StatusCallbackURLs[ev] = u
		req.StatusCallbackEvents = append(req.StatusCallbackEvents, ev)
	}
	return req, nil
}

// v3Bool reads a JSON boolean, or the strings "true" and "false" (the
// documentation's examples quote state_management).
func v3Bool(field string, raw json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		switch strings.ToLower(strings.TrimSpace(str)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, badRequest(fmt.Sprintf("%s must be true or false, not %s", field, raw))
}

// v3Seconds reads an optional whole number of seconds in [1, hi], as a
// JSON number or a numeric string; absent or null is 0 (the default).
func v3Seconds(field string, raw json.RawMessage, hi int) (int, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	var n int
	err := json.Unmarshal(raw, &n)
	if err != nil {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			n, err = strconv.Atoi(strings.TrimSpace(str))
		}
	}
	if err != nil || n < 0 || n > hi {
		return 0, badRequest(fmt.Sprintf("%s must be a whole number of seconds from 1 to %d (0 for the default), not %s", field, hi, raw))
	}
	return n, nil // 0, as clients send for a field left unset, is the default
}

package passthru

import (
	"github.com/switchyard/switchyard/orchestrator/exotime"

	"net/url"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
)

// EndTimePlaceholder is the constant EndTime Exotel sends while a flow
// runs: the Unix epoch in IST. It is not a real time.
const EndTimePlaceholder = "1970-01-01 05:30:00"

// Exotel's CallType values as seen by flow URLs.
const (
	CallTypeAttempt    = "call-attempt" // no Connect yet: an IVR-only call so far
	CallTypeCompleted  = "completed"    // a Connect was answered
	CallTypeIncomplete = "incomplete"   // a Connect ran and nobody answered
	CallTypeVoicemail  = "voicemail"    // a recording was made without an answered Connect
)

// CallType derives Exotel's CallType from a flow's state:
//
//   - completed when the last Connect was answered (DialStatus completed),
//     whether or not it was recorded;
//   - otherwise voicemail when a recording was made (a Voicemail or
//     Record applet, typically after a failed Connect);
//   - otherwise incomplete when a Connect ran and failed (busy, no-answer,
//     failed);
//   - otherwise call-attempt.
//
// Exotel's client-hangup (the caller hung up during a Connect) cannot be
// told from the state and is not produced.
func CallType(s flows.State) string {
	switch {
	case s.DialStatus == flows.DialCompleted:
		return CallTypeCompleted
	case s.RecordingURL != "":
		return CallTypeVoicemail
	case s.DialStatus != "":
		return CallTypeIncomplete
	}
	return CallTypeAttempt
}

// Params returns the query parameters Exotel sends to flow URLs (the
// reference's §5.0) for a call at time now, timestamps written in zone.
//
// Always sent: CallSid, CallFrom, CallTo, From, To, Direction, Created,
// StartTime, CurrentTime, EndTime (placeholder), CallStatus (in-progress,
// or completed once the caller hung up), CallType, DialWhomNumber (empty
// before any Connect, as in Exotel's observed payloads), flow_id (the flow
// running now, which a Transfer changes) and tenant_id (the account SID).
// Sent when known: DialCallStatus (after a Connect), digits (wrapped in
// double quotes, "123"; absent when nothing was entered), RecordingUrl and
// CustomField.
func Params(c *call.Info, now time.Time, zone *time.Location) url.Values {
	s := c.State
	sid := c.CallSid
	if sid == "" {
		sid = s.Call.CallSid
	}
	started := now
	if !s.StartedAt.IsZero() {
		started = s.StartedAt
	}
	status := "in-progress"
	if s.HungUp {
		status = "completed"
	}
	flowID := s.FlowID
	if flowID == "" {
		flowID = s.Call.FlowID
	}
	v := url.Values{}
	v.Set("CallSid", sid)
	v.Set("CallFrom", s.Call.From)
	v.Set("CallTo", s.Call.To)
	v.Set("From", s.Call.From)
	v.Set("To", s.Call.To)
	v.Set("Direction", s.Call.Direction)
	v.Set("Created", exotime.Format(started, zone))
	v.Set("StartTime", exotime.Format(started, zone))
	v.Set("CurrentTime", exotime.Format(now, zone))
	v.Set("EndTime", EndTimePlaceholder)
	v.Set("CallStatus", status)
	v.Set("CallType", CallType(s))
	v.Set("DialWhomNumber", s.DialWhom)
	if s.DialStatus != "" {
		v.Set("DialCallStatus", string(s.DialStatus))
	}
	if s.Digits != "" {
		v.Set("digits", `"`+s.Digits+`"`)
	}
	if s.RecordingURL != "" {
		v.Set("RecordingUrl", s.RecordingURL)
	}
	if s.Call.CustomField != "" {
		v.Set("CustomField", s.Call.CustomField)
	}
	v.Set("flow_id", flowID)
	v.Set("tenant_id", c.AccountSID)
	return v
}

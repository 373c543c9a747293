package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// routesV3 declares Exotel's Voice v3 routes under /v3/accounts/:sid.
// JSON only, answered in the v2/v3 envelope.
func (s *Server) routesV3(g routeGroup) {
	g.POST("/calls", s.v3CreateCall)
	g.GET("/calls/:call_sid", s.v3GetCall)
	g.GET("/calls/:call_sid/legs", s.v3CallLegs)
}

// codeLegDetailsError is Exotel's v3 code for a failure to read legs.
const codeLegDetailsError = 10715

// v3RecordingValidity is how long the recording URLs in call_details stay
// valid (Exotel: "pre-signed, temporary").
const v3RecordingValidity = time.Hour

// v3CallDetailsView is response.call_details (§4.3).
type v3CallDetailsView struct {
	Sid           string  `json:"sid"`
	Direction     string  `json:"direction"`
	VirtualNumber string  `json:"virtual_number"`
	State         string  `json:"state"`
	Status        *string `json:"status"`
	// Legs is the legs resource, once the call is terminal.
	Legs          *string           `json:"legs"`
	CreatedTime   string            `json:"created_time"`
	UpdatedTime   string            `json:"updated_time"`
	StartTime     string            `json:"start_time"`
	EndTime       string            `json:"end_time"`
	TotalDuration int               `json:"total_duration"`
	TotalTalkTime int               `json:"total_talk_time"`
	CustomField   *string           `json:"custom_field"`
	AppID         *string           `json:"app_id"`
	AppName       *string           `json:"app_name"`
	Digits        *string           `json:"digits"`
	Recordings    []v3RecordingView `json:"recordings"`
}

type v3RecordingView struct {
	URL string `json:"url"`
}

// v3LegDetails is response.leg_details (§4.4).
type v3LegDetails struct {
	CallSid    string      `json:"call_sid"`
	AccountSid string      `json:"account_sid"`
	From       []v3LegView `json:"from"`
	To         []v3ToLeg   `json:"to"`
}

// v3LegView is one leg. Sid is our leg id; Name (a user's) is null: there
// are no users.
type v3LegView struct {
	Sid         string  `json:"sid"`
	Name        *string `json:"name"`
	ContactURI  string  `json:"contact_uri"`
	DateCreated string  `json:"date_created"`
	DateUpdated string  `json:"date_updated"`
	Status      string  `json:"status"`
}

// v3ToLeg is a leg of the to side, with its (always null) agent group.
type v3ToLeg struct {
	v3LegView
	GroupID   *string `json:"group_id"`
	GroupName *string `json:"group_name"`
}

// v3GetCall is GET /v3/accounts/:sid/calls/:call_sid.
func (s *Server) v3GetCall(c echo.Context) error {
	got, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	details, err := s.v3CallDetails(c.Request().Context(), got)
	if err != nil {
		return fmt.Errorf("api: get call: %w", err)
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "call_details", details))
}

// v3CallLegs is GET /v3/accounts/:sid/calls/:call_sid/legs: the from
// side holds the first leg (the agent of a click-to-call, the caller of an
// inbound call), the to side every later leg.
func (s *Server) v3CallLegs(c echo.Context) error {
	got, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	legs, err := s.store.Legs().ByCall(c.Request().Context(), got.AccountSID, got.SID)
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "api: legs of call", "call_sid", got.SID, "err", err)
		return fail(http.StatusInternalServerError, codeLegDetailsError, "error retrieving leg details")
	}
	out := v3LegDetails{CallSid: got.SID, AccountSid: got.AccountSID, From: []v3LegView{}, To: []v3ToLeg{}}
	for _, l := range legs {
		v := v3LegView{
			Sid:         l.ID,
			ContactURI:  v3LegContact(l),
			DateCreated: s.v3Time(l.CreatedAt),
			DateUpdated: s.v3Time(l.UpdatedAt),
			Status:      string(l.Status),
		}
		if l.Seq == 1 {
			out.From = append(out.From, v)
		} else {
			out.To = append(out.To, v3ToLeg{v3LegView: v})
		}
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "leg_details", out))
}

// accountCall loads the call the path parameter param names: one of the
// account's. A malformed or unknown SID, or another account's, is 404
// code 10744, on every surface.
func (s *Server) accountCall(c echo.Context, param string) (*store.Call, error) {
	sid := c.Param(param)
	notFound := fail(http.StatusNotFound, CodeCallNotFound, fmt.Sprintf("call %s not found", sid))
	if !store.ValidSID(sid) {
		return nil, notFound
	}
	got, err := s.store.Calls().Get(c.Request().Context(), account(c).SID, sid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("api: get call %s: %w", sid, err)
	}
	return got, nil
}

// v3LegContact is the party a leg reaches: the number dialled for an
// outbound leg, the caller for an inbound one.
func v3LegContact(l store.Leg) string {
	if l.Direction == store.LegInbound {
		return l.From
	}
	return l.To
}

// v3Time renders a v3 timestamp, YYYY-MM-DD HH:mm:ss+05:30 in the
// server's zone.
func (s *Server) v3Time(t time.Time) string {
	return t.In(s.opts.TimeZone).Format("2006-01-02 15:04:05-07:00")
}

// v3CallDetails renders call_details. A call is active until its final
// record is written (end_time set), then terminal; end_time is the epoch
// (1970-01-01 05:30:00+05:30 in IST) while active, as Exotel shows it.
func (s *Server) v3CallDetails(ctx context.Context, c *store.Call) (v3CallDetailsView, error) {
	v := v3CallDetailsView{
		Sid:           c.SID,
		Direction:     "outbound",
		VirtualNumber: c.PhoneNumber,
		State:         "active",
		CreatedTime:   s.v3Time(c.CreatedAt),
		UpdatedTime:   s.v3Time(c.UpdatedAt),
		StartTime:     s.v3Time(c.StartTime),
		EndTime:       s.v3Time(time.Unix(0, 0)),
		TotalDuration: c.Duration,
		TotalTalkTime: c.ConversationDuration,
		CustomField:   v3OptString(c.CustomField),
		Digits:        v3OptString(c.Digits),
		Recordings:    []v3RecordingView{},
	}
	if c.Direction == store.DirectionInbound {
		v.Direction = "inbound"
	}
	if c.EndTime != nil { // the status comes from the legs, final only now
		legs, err := s.store.Legs().ByCall(ctx, c.AccountSID, c.SID)
		if err != nil {
			return v, fmt.Errorf("call %s: %w", c.SID, err)
		}
		v.State = "terminal"
		v.EndTime = s.v3Time(*c.EndTime)
		st := v3Status(c, legs)
		v.Status = &st
		uri := "/v3/accounts/" + c.AccountSID + "/calls/" + c.SID + "/legs"
		v.Legs = &uri
	}
	if c.FlowID != nil {
		v.AppID = c.FlowID
		f, err := s.store.Flows().Get(ctx, c.AccountSID, *c.FlowID)
		switch {
		case err == nil:
			v.AppName = &f.Name
		case !errors.Is(err, store.ErrNotFound): // a deleted flow has no name
			return v, fmt.Errorf("call %s: %w", c.SID, err)
		}
	}
	recs, err := s.store.Recordings().ByCall(ctx, c.AccountSID, c.SID)
	if err != nil {
		return v, fmt.Errorf("call %s: %w", c.SID, err)
	}
	now := time.Now()
	for _, r := range recs {
		v.Recordings = append(v.Recordings, v3RecordingView{URL: s.presign(r.URL, now, v3RecordingValidity)})
	}
	if len(recs) == 0 && c.RecordingURL != "" {
		v.Recordings = append(v.Recordings, v3RecordingView{URL: s.presign(c.RecordingURL, now, v3RecordingValidity)})
	}
	return v, nil
}

func v3OptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// v3 call statuses (terminal calls only).
const (
	v3Completed      = "completed"
	v3FromNoDial     = "from_leg_no_dial"
	v3FromUnanswered = "from_leg_unanswered"
	v3FromCancelled  = "from_leg_cancelled"
	v3ToNoDial       = "to_leg_no_dial"
	v3ToUnanswered   = "to_leg_unanswered"
)

// v3Status derives a terminal call's v3 status from its legs. The first
// leg (Seq 1) is the from side, every later leg the to side:
//
//   - no first leg, or a first leg that failed unanswered: from_leg_no_dial
//     (it could not be dialled: bad number, network, refused);
//   - first leg not answered: from_leg_cancelled for an inbound call (the
//     caller hung up before the answer), else from_leg_unanswered (busy,
//     no answer, cancelled);
//   - first leg answered, no to leg: completed for a flow or inbound call
//     (the flow ran on the answered leg), else to_leg_no_dial (the second
//     number was never dialled);
//   - a to leg answered: completed;
//   - a to leg cancelled while ringing (the from side hung up first):
//     from_leg_cancelled;
//   - every to leg failed: to_leg_no_dial;
//   - otherwise (busy, no answer): to_leg_unanswered.
func v3Status(c *store.Call, legs []store.Leg) string {
	var first *store.Leg
	var to []store.Leg
	for i := range legs {
		if legs[i].Seq == 1 {
			first = &legs[i]
		} else {
			to = append(to, legs[i])
		}
	}
	switch {
	case first == nil:
		return v3FromNoDial
	case first.AnswerTime == nil && first.Status != store.Completed:
		switch {
		case first.Status == store.Failed:
			return v3FromNoDial
		case c.Direction == store.DirectionInbound:
			return v3FromCancelled
		}
		return v3FromUnanswered
	case len(to) == 0:
		if c.FlowID != nil || c.Direction == store.DirectionInbound {
			return v3Completed
		}
		return v3ToNoDial
	}
	allFailed, cancelled := true, false
	for _, l := range to {
		if l.AnswerTime != nil || l.Status == store.Completed {
			return v3Completed
		}
		allFailed = allFailed && l.Status == store.Failed
		cancelled = cancelled || l.Status == store.Canceled
	}
	switch {
	case cancelled:
		return v3FromCancelled
	case allFailed:
		return v3ToNoDial
	}
	return v3ToUnanswered
}

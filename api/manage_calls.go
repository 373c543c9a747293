package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// callbackView is a status callback of a call, with its delivery attempts.
type callbackView struct {
	ID          string  `json:"id"`
	CallSID     string  `json:"call_sid"`
	Seq         int     `json:"seq"`
	Event       string  `json:"event"`
	URL         string  `json:"url"`
	ContentType string  `json:"content_type"`
	Status      string  `json:"status"`
	DeliveredAt *string `json:"delivered_at"`
	DateCreated string  `json:"date_created"`
	// Payload is the fields sent, as a JSON object in the order sent.
	Payload json.RawMessage `json:"payload"`
	// Attempts is every delivery attempt, oldest first.
	Attempts []callbackAttemptView `json:"attempts"`
}

// callbackAttemptView is one HTTP attempt to deliver a callback.
type callbackAttemptView struct {
	Attempt int    `json:"attempt"`
	URL     string `json:"url"`
	// HTTPStatus is null when no response arrived.
	HTTPStatus *int    `json:"http_status"`
	LatencyMS  int     `json:"latency_ms"`
	Error      *string `json:"error"`
	Time       string  `json:"time"`
}

// recordingView is a recording's metadata. The file's place on disk is
// not shown; URL downloads it.
type recordingView struct {
	ID          string  `json:"id"`
	AccountSID  string  `json:"account_sid"`
	CallSID     string  `json:"call_sid"`
	LegID       *string `json:"leg_id"`
	URL         string  `json:"url"`
	Duration    int     `json:"duration"`
	Channels    string  `json:"channels"`
	Format      string  `json:"format"`
	URI         string  `json:"uri"`
	DateCreated string  `json:"date_created"`
}

func (s *Server) recordingView(r *store.Recording) recordingView {
	return recordingView{
		ID:          r.ID,
		AccountSID:  r.AccountSID,
		CallSID:     r.CallSID,
		LegID:       r.LegID,
		URL:         r.URL,
		Duration:    r.Duration,
		Channels:    r.Channels,
		Format:      r.Format,
		URI:         "/v2/accounts/" + r.AccountSID + "/recordings/" + r.ID,
		DateCreated: s.manageTime(r.CreatedAt),
	}
}

// listCallCallbacks: GET /calls/:call_sid/callbacks, the call's status
// callbacks in the order they were produced, each with its delivery
// attempts: response.callbacks (a call has a handful, so no paging).
func (s *Server) listCallCallbacks(c echo.Context) error {
	call, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cbs, err := s.store.Callbacks().ByCall(ctx, call.AccountSID, call.SID)
	if err != nil {
		return fmt.Errorf("callbacks of call %s: %w", call.SID, err)
	}
	attempts, err := s.store.Callbacks().Attempts(ctx, call.AccountSID, call.SID)
	if err != nil {
		return fmt.Errorf("callback attempts of call %s: %w", call.SID, err)
	}
	byCallback := map[string][]callbackAttemptView{}
	for _, a := range attempts {
		v := callbackAttemptView{Attempt: a.Attempt, URL: a.URL, LatencyMS: a.LatencyMS, Time: s.manageTime(a.CreatedAt)}
		if a.HTTPStatus != 0 {
			st := a.HTTPStatus
			v.HTTPStatus = &st
		}
		if a.Error != "" {
			e := a.Error
			v.Error = &e
		}
		byCallback[a.CallbackID] = append(byCallback[a.CallbackID], v)
	}
	views := make([]callbackView, len(cbs))
	for i, cb := range cbs {
		log := byCallback[cb.ID]
		if log == nil {
			log = []callbackAttemptView{}
		}
		views[i] = callbackView{
			ID:          cb.ID,
			CallSID:     cb.CallSID,
			Seq:         cb.Seq,
			Event:       cb.Event,
			URL:         cb.URL,
			ContentType: cb.ContentType,
			Status:      cb.Status,
			DeliveredAt: s.manageTimePtr(cb.DeliveredAt),
			DateCreated: s.manageTime(cb.CreatedAt),
			Payload:     rawJSON(cb.Payload),
			Attempts:    log,
		}
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "callbacks", views))
}

// listCallRecordings: GET /calls/:call_sid/recordings, the call's
// recordings oldest first: response.recordings (no paging, like
// callbacks).
func (s *Server) listCallRecordings(c echo.Context) error {
	call, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	recs, err := s.store.Recordings().ByCall(c.Request().Context(), call.AccountSID, call.SID)
	if err != nil {
		return fmt.Errorf("recordings of call %s: %w", call.SID, err)
	}
	views := make([]recordingView, len(recs))
	for i := range recs {
		views[i] = s.recordingView(&recs[i])
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "recordings", views))
}

// getRecording: GET /recordings/:id, a recording's metadata.
func (s *Server) getRecording(c echo.Context) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	r, err := s.store.Recordings().Get(c.Request().Context(), account(c).SID, id)
	if err != nil {
		return storeFail(err, CodeNotFound, "recording "+id)
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "recording", s.recordingView(r)))
}

// callRequestView is an HTTP request a call's flow made to the customer's
// server: a passthru, a programmable connect URL, a dial event.
type callRequestView struct {
	ID     string `json:"id"`
	Applet string `json:"applet"`
	Kind   string `json:"kind"`
	Method string `json:"method"`
	URL    string `json:"url"`
	// HTTPStatus is null when no response arrived.
	HTTPStatus *int `json:"http_status"`
	LatencyMS  int  `json:"latency_ms"`
	// Outcome is the output the flow took (success, alternate, error, …).
	Outcome string  `json:"outcome"`
	Error   *string `json:"error"`
	// Response is the start of the response body.
	Response  string `json:"response"`
	CreatedAt string `json:"created_at"`
}

// messageView is an SMS or email a call's flow sent, or failed to send.
type messageView struct {
	ID         string   `json:"id"`
	Applet     string   `json:"applet"`
	Channel    string   `json:"channel"`
	Recipients []string `json:"recipients"`
	Subject    string   `json:"subject"`
	Body       string   `json:"body"`
	Provider   string   `json:"provider"`
	Status     string   `json:"status"`
	Error      *string  `json:"error"`
	CreatedAt  string   `json:"created_at"`
}

// optionalText is nil for "", for fields shown as null when empty.
func optionalText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// listCallRequests: GET /calls/:call_sid/requests, the HTTP requests the
// call's flow made, oldest first: response.requests (not paged, like
// callbacks).
func (s *Server) listCallRequests(c echo.Context) error {
	call, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	reqs, err := s.store.CallRequests().ByCall(c.Request().Context(), call.AccountSID, call.SID)
	if err != nil {
		return fmt.Errorf("requests of call %s: %w", call.SID, err)
	}
	views := make([]callRequestView, len(reqs))
	for i, r := range reqs {
		views[i] = callRequestView{
			ID:        r.ID,
			Applet:    r.Applet,
			Kind:      r.Kind,
			Method:    r.Method,
			URL:       r.URL,
			LatencyMS: r.LatencyMS,
			Outcome:   r.Outcome,
			Error:     optionalText(r.Error),
			Response:  r.Response,
			CreatedAt: s.manageTime(r.CreatedAt),
		}
		if r.HTTPStatus != 0 {
			st := r.HTTPStatus
			views[i].HTTPStatus = &st
		}
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "requests", views))
}

// listCallMessages: GET /calls/:call_sid/messages, the SMS and emails the
// call's flow sent or failed to send, oldest first: response.messages
// (not paged).
func (s *Server) listCallMessages(c echo.Context) error {
	call, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	msgs, err := s.store.Messages().ByCall(c.Request().Context(), call.AccountSID, call.SID)
	if err != nil {
		return fmt.Errorf("messages of call %s: %w", call.SID, err)
	}
	views := make([]messageView, len(msgs))
	for i, m := range msgs {
		views[i] = messageView{
			ID:         m.ID,
			Applet:     m.Applet,
			Channel:    m.Channel,
			Recipients: messageRecipients(m.Recipients),
			Subject:    m.Subject,
			Body:       m.Body,
			Provider:   m.Provider,
			Status:     m.Status,
			Error:      optionalText(m.Error),
			CreatedAt:  s.manageTime(m.CreatedAt),
		}
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "messages", views))
}

// messageRecipients splits the stored comma-separated recipients.
func messageRecipients(list string) []string {
	out := []string{}
	for r := range strings.SplitSeq(list, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// appletStepView is one applet a call's flow entered.
type appletStepView struct {
	// Flow is the flow the applet belongs to: the call's own, or the one
	// a transfer moved it to.
	Flow   string `json:"flow"`
	Applet string `json:"applet"`
	Type   string `json:"type"`
	At     string `json:"at"`
}

// appletPathViews renders a call's applet path, [] when it has none.
func (s *Server) appletPathViews(p store.AppletPath) []appletStepView {
	out := make([]appletStepView, len(p))
	for i, st := range p {
		out[i] = appletStepView{Flow: st.Flow, Applet: st.Applet, Type: st.Type, At: s.manageTime(st.At)}
	}
	return out
}

// getCallAppletPath: GET /calls/:call_sid/path, the applets the call's
// flow ran through, in order: response.applet_path. It is written with
// the call's final record: empty while the call runs, for a call that ran
// no flow, and for one the reconciler closed.
func (s *Server) getCallAppletPath(c echo.Context) error {
	call, err := s.accountCall(c, "call_sid")
	if err != nil {
		return err
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "applet_path", s.appletPathViews(call.AppletPath)))
}

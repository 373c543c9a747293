package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Exotel SMS v1 (§7 of the reference).
//
// POST Sms/send queues one message per To and answers at once, status
// queued: the sender (orchestrator/sms) sends it and posts StatusCallback
// when it is final. One To answers {"SMSMessage": {...}} (XML: one
// <SMSMessage> in <TwilioResponse>), as Exotel documents. Several To
// values (repeated To, To[] or To[0], To[1], … as PHP's http_build_query
// writes an array, which is how Exotel's bulk samples send them) answer
// one SMSMessage per To, in the order given: in JSON a list
// [{"SMSMessage": {...}}, …], in XML the <SMSMessage> elements one after
// another in <TwilioResponse>, the shape Twilio-style XML parsers read as
// a repeated element.
//
// GET SMS/Messages/<SmsSid> (and Sms/Messages/<SmsSid>, which some clients
// use) answers the message as it stands.

// Bounds of the send parameters.
const (
	smsMaxBody       = 2000 // characters
	smsMaxRecipients = 100
	smsMaxID         = 64 // DLT ids
)

// SMSQueue queues SMS for sending; *sms.Sender is one.
type SMSQueue interface {
	Queue(ctx context.Context, reqs []sms.Request) ([]store.SMSMessage, error)
}

// routesSMS declares the SMS routes under /v1/Accounts/:sid.
func (s *Server) routesSMS(g routeGroup) {
	// Exotel's own samples write SMS/send, most clients Sms/send.
	g.POST("/Sms/send", s.v1SendSMS)
	g.POST("/SMS/send", s.v1SendSMS)
	g.GET("/SMS/Messages/:SmsSid", s.v1GetSMS)
	g.GET("/Sms/Messages/:SmsSid", s.v1GetSMS)
}

// v1SMS is the SMSMessage object. DetailedStatusCode, SmsUnits and Price
// are strings, as Exotel's v1 numbers are (§9); Price and DateSent are
// null (XML: empty) until known.
type v1SMS struct {
	Sid                string     `json:"Sid" xml:"Sid"`
	AccountSid         string     `json:"AccountSid" xml:"AccountSid"`
	From               string     `json:"From" xml:"From"`
	To                 string     `json:"To" xml:"To"`
	Body               string     `json:"Body" xml:"Body"`
	Status             string     `json:"Status" xml:"Status"`
	DetailedStatus     string     `json:"DetailedStatus" xml:"DetailedStatus"`
	DetailedStatusCode string     `json:"DetailedStatusCode" xml:"DetailedStatusCode"`
	Direction          string     `json:"Direction" xml:"Direction"`
	DateCreated        string     `json:"DateCreated" xml:"DateCreated"`
	DateUpdated        string     `json:"DateUpdated" xml:"DateUpdated"`
	DateSent           v1Nullable `json:"DateSent" xml:"DateSent"`
	Price              v1Nullable `json:"Price" xml:"Price"`
	ApiVersion         string     `json:"ApiVersion" xml:"ApiVersion"`
	Uri                string     `json:"Uri" xml:"Uri"`
	SmsUnits           string     `json:"SmsUnits" xml:"SmsUnits"`
}

// v1SMSView renders a message; the Uri has .json when the answer is JSON.
func (s *Server) v1SMSView(c echo.Context, m *store.SMSMessage) v1SMS {
	uri := "/v1/Accounts/" + m.AccountSID + "/SMS/Messages/" + m.SID
	if wantsJSON(c) {
		uri += ".json"
	}
	v := v1SMS{Sid: m.SID, AccountSid: m.AccountSID, From: m.From, To: m.To, Body: m.Body, Status: m.Status,
		DetailedStatus: m.DetailedStatus, DetailedStatusCode: strconv.Itoa(m.DetailedStatusCode),
		Direction: m.Direction, DateCreated: s.v1Time(m.CreatedAt), DateUpdated: s.v1Time(m.UpdatedAt),
		Price: v1Str(m.Price), ApiVersion: "v1", Uri: uri, SmsUnits: strconv.Itoa(m.Units)}
	if m.SentAt != nil {
		v.DateSent = v1Str(s.v1Time(*m.SentAt))
	}
	return v
}

// v1SendSMS is POST /v1/Accounts/:sid/Sms/send[.json].
func (s *Server) v1SendSMS(c echo.Context) error {
	params, err := formParams(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	reqs, err := s.v1SMSRequests(ctx, account(c).SID, params)
	if err != nil {
		return err
	}
	q := s.opts.SMS
	if q == nil {
		return fail(http.StatusServiceUnavailable, 0, "SMS is not configured on this server")
	}
	rows, err := q.Queue(ctx, reqs)
	if err != nil {
		return fmt.Errorf("api: queue sms: %w", err)
	}
	if len(rows) == 1 {
		return writeV1(c, http.StatusOK, "SMSMessage", s.v1SMSView(c, &rows[0]))
	}
	if wantsJSON(c) {
		out := make([]map[string]v1SMS, len(rows))
		for i := range rows {
			out[i] = map[string]v1SMS{"SMSMessage": s.v1SMSView(c, &rows[i])}
		}
		return writeJSON(c, http.StatusOK, out)
	}
	elems := make([]xmlElement, len(rows))
	for i := range rows {
		elems[i] = xmlElement{name: "SMSMessage", v: s.v1SMSView(c, &rows[i])}
	}
	return writeTwilioXML(c, http.StatusOK, elems...)
}

// v1GetSMS is GET /v1/Accounts/:sid/SMS/Messages/:SmsSid[.json]. An
// unknown SID, or another account's, is 404.
func (s *Server) v1GetSMS(c echo.Context) error {
	sid := c.Param("SmsSid")
	notFound := fail(http.StatusNotFound, 0, fmt.Sprintf("SMS %s not found", sid))
	if !store.ValidSID(sid) {
		return notFound
	}
	m, err := s.store.SMS().Get(c.Request().Context(), account(c).SID, sid)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("api: get sms %s: %w", sid, err)
	}
	return writeV1(c, http.StatusOK, "SMSMessage", s.v1SMSView(c, m))
}

// v1SMSRequests validates the send parameters into one request per To.
// Every failure is a 400 naming the parameter.
func (s *Server) v1SMSRequests(ctx context.Context, accountSID string, p url.Values) ([]sms.Request, error) {
	get := func(name string) string { return strings.TrimSpace(p.Get(name)) }
	from, err := s.smsFrom(ctx, accountSID, p.Get("From"))
	if err != nil {
		return nil, err
	}
	tos, err := smsRecipients(p)
	if err != nil {
		return nil, err
	}
	body := p.Get("Body")
	switch n := utf8.RuneCountInString(body); {
	case strings.TrimSpace(body) == "":
		return nil, badRequest("Body is required")
	case n > smsMaxBody:
		return nil, badRequest(fmt.Sprintf("Body is %d characters long: at most %d", n, smsMaxBody))
	}
	base := sms.Request{AccountSID: accountSID, From: from, Body: body}
	if base.EncodingType, err = smsEnum("EncodingType", get("EncodingType"), sms.EncodingPlain, sms.EncodingUnicode); err != nil {
		return nil, err
	}
	if base.Priority, err = smsEnum("Priority", get("Priority"), "normal", "high"); err != nil {
		return nil, err
	}
	if base.SmsType, err = smsEnum("SmsType", get("SmsType"), "transactional", "transactional_opt_in", "promotional"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"DltEntityId", &base.DltEntityID}, {"DltTemplateId", &base.DltTemplateID}} {
		v := get(f.name)
		if len(v) > smsMaxID || strings.ContainsFunc(v, func(r rune) bool { return r < '!' || r > '~' }) {
			return nil, badRequest(fmt.Sprintf("%s %q is not valid: at most %d visible ASCII characters", f.name, v, smsMaxID))
		}
		*f.dst = v
	}
	base.CustomField = p.Get("CustomField")
	if n := utf8.RuneCountInString(base.CustomField); n > callMaxCustomField {
		return nil, badRequest(fmt.Sprintf("CustomField is %d characters long: at most %d", n, callMaxCustomField))
	}
	if cb := get("StatusCallback"); cb != "" {
		if base.StatusCallback, err = callHTTPURL("StatusCallback", cb); err != nil {
			return nil, err
		}
	}
	out := make([]sms.Request, len(tos))
	for i, to := range tos {
		out[i] = base
		out[i].To = to
	}
	return out, nil
}

// smsFrom checks From: an ExoPhone of the account (in any form
// callExoPhone accepts; stored as the ExoPhone) or a sender ID, 3 to 11
// letters and digits with at least one letter (not checked against a
// registry: there is none here).
func (s *Server) smsFrom(ctx context.Context, accountSID, raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", badRequest("From is required: an ExoPhone of the account or a sender ID")
	}
	if smsSenderID(v) {
		return v, nil
	}
	phone, err := s.callExoPhone(ctx, accountSID, "From", raw)
	if errors.Is(err, errNoExoPhone) {
		return "", badRequest(fmt.Sprintf("From %s is not an ExoPhone of this account", v))
	}
	if err != nil {
		return "", err
	}
	return phone.Number, nil
}

// smsSenderID reports whether v is an alphanumeric sender ID.
func smsSenderID(v string) bool {
	if len(v) < 3 || len(v) > 11 {
		return false
	}
	letter := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return letter
}

// smsRecipients collects To in each encoding clients use (To, To[],
// To[0]…To[n] in index order), each a phone number.
func smsRecipients(p url.Values) ([]string, error) {
	type indexed struct {
		i int
		v []string
	}
	raw := append(append([]string(nil), p["To"]...), p["To[]"]...)
	var byIndex []indexed
	for k, vs := range p {
		if k == "To[]" || !strings.HasPrefix(k, "To[") || !strings.HasSuffix(k, "]") {
			continue
		}
		i, err := strconv.Atoi(k[len("To[") : len(k)-1])
		if err != nil || i < 0 {
			return nil, badRequest(fmt.Sprintf("%s: the index must be a number", k))
		}
		byIndex = append(byIndex, indexed{i, vs})
	}
	sort.Slice(byIndex, func(a, b int) bool { return byIndex[a].i < byIndex[b].i })
	for _, x := range byIndex {
		raw = append(raw, x.v...)
	}
	var out []string
	for _, r := range raw {
		if strings.TrimSpace(r) == "" {
			continue
		}
		n, err := callNumber("To", r, false)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	switch {
	case len(out) == 0:
		return nil, badRequest("To is required: the recipient's mobile number")
	case len(out) > smsMaxRecipients:
		return nil, badRequest(fmt.Sprintf("%d recipients: at most %d per request", len(out), smsMaxRecipients))
	}
	return out, nil
}

// smsEnum checks an optional enumerated parameter (any case); "" is the
// first value.
func smsEnum(name, v string, values ...string) (string, error) {
	if v == "" {
		return values[0], nil
	}
	for _, ok := range values {
		if strings.EqualFold(v, ok) {
			return ok, nil
		}
	}
	return "", badRequest(fmt.Sprintf("%s %q is not valid: one of %s", name, v, strings.Join(values, ", ")))
}

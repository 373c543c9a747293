package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// routesV2 declares Exotel's Campaigns v2, Lists and Contacts API under
// /v2/accounts/:sid, and Switchyard's do-not-call list beside them. JSON
// in and out (a list also takes a CSV upload; a campaign's report is also
// a CSV download), in the v2 envelope whose response is an array of
// per-item results {code, error_data, status, data}.
func (s *Server) routesV2(g routeGroup) {
	g.POST("/campaigns", s.v2CreateCampaigns)
	g.GET("/campaigns", s.v2ListCampaigns)
	g.GET("/campaigns/:campaign_sid", s.v2GetCampaign)
	g.PUT("/campaigns/:campaign_sid", s.v2UpdateCampaign)
	g.DELETE("/campaigns/:campaign_sid", s.v2DeleteCampaign)
	g.GET("/campaigns/:campaign_sid/call-details", s.v2CallDetails)
	g.GET("/campaigns/:campaign_sid/call-details.csv", s.v2CallDetailsCSV)

	g.POST("/contacts", s.v2CreateContacts)
	g.GET("/contacts", s.v2ListContacts)
	g.GET("/contacts/:contact_sid", s.v2GetContact)
	g.PUT("/contacts/:contact_sid", s.v2UpdateContact)
	g.DELETE("/contacts/:contact_sid", s.v2DeleteContact)

	g.POST("/lists", s.v2CreateLists)
	g.GET("/lists", s.v2ListLists)
	g.GET("/lists/:list_sid", s.v2GetList)
	g.DELETE("/lists/:list_sid", s.v2DeleteList)
	g.GET("/lists/:list_sid/contacts", s.v2ListMembers)
	g.POST("/lists/:list_sid/contacts", s.v2AddListContacts)

	g.GET("/dnd-numbers", s.v2ListDND)
	g.POST("/dnd-numbers", s.v2AddDND)
	g.DELETE("/dnd-numbers/:dnd_number", s.v2RemoveDND)
}

// Limits of the v2 requests.
const (
	// v2MaxCampaignsPerRequest bounds the campaigns of one create.
	v2MaxCampaignsPerRequest = 100
	// v2MaxUpload caps a CSV upload to a list: Exotel's 60 MB. A static
	// list holds at most store.MaxListContacts contacts, far less than
	// that at any sane row length.
	v2MaxUpload = 60 << 20
	// v2UploadTimeout bounds the work of a CSV upload (a full list takes
	// tens of seconds to import); the server's WriteTimeout (60 s) bounds
	// every answer anyway.
	v2UploadTimeout = 55 * time.Second
	// v2UploadRoute is the route that takes CSV uploads.
	v2UploadRoute = "/v2/accounts/:sid/lists/:list_sid/contacts"
)

// limitBodies is limitBody with the server's MaxBody, except for a CSV
// upload to a list, which may be as large as Exotel allows (v2MaxUpload,
// or MaxBody if that is larger).
func (s *Server) limitBodies() echo.MiddlewareFunc {
	return forUploads(limitBody(s.opts.MaxBody), limitBody(max(s.opts.MaxBody, v2MaxUpload)))
}

// deadlines is deadline with the server's RequestTimeout, except for a
// CSV upload to a list, which gets v2UploadTimeout (or RequestTimeout if
// that is longer): importing a full list takes tens of seconds.
func (s *Server) deadlines() echo.MiddlewareFunc {
	return forUploads(deadline(s.opts.RequestTimeout), deadline(max(s.opts.RequestTimeout, v2UploadTimeout)))
}

// forUploads runs upload for a CSV upload to a list (text/csv or
// multipart/form-data POSTed to v2UploadRoute) and def for every other
// request. Echo has routed the request when middleware added with Use
// runs, so the route is known here.
func forUploads(def, upload echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		d, u := def(next), upload(next)
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodPost && c.Path() == v2UploadRoute {
				mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
				if v2CSVType(mt) || mt == echo.MIMEMultipartForm {
					return u(c)
				}
			}
			return d(c)
		}
	}
}

// campaignChanged wakes the dialer after a campaign changed.
func (s *Server) campaignChanged() {
	if f := s.opts.OnCampaignChange; f != nil {
		f()
	}
}

// callbacksWritten wakes the callback sender after callbacks were written
// to the outbox.
func (s *Server) callbacksWritten() {
	if f := s.opts.NotifyCallbacks; f != nil {
		f()
	}
}

// publicURL is where the API is reached, for the URLs callbacks carry:
// Options.PublicURL, or else the request's own scheme and host.
func (s *Server) publicURL(c echo.Context) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	return requestBase(c)
}

// v2BulkMetadata is the metadata of a create or update: how many items
// the request had, and how many succeeded and failed.
type v2BulkMetadata struct {
	Total   int `json:"total"`
	Success int `json:"success"`
	Failed  int `json:"failed"`
}

// v2OK is a successful per-item result.
func v2OK(data any) listItem {
	return listItem{Code: http.StatusOK, Status: "success", Data: data}
}

// v2ItemFail turns a client error (an apiError under 500) into a failed
// per-item result; ok is false for anything else, which fails the whole
// request.
func v2ItemFail(err error, data any) (item listItem, ok bool) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return listItem{}, false
	}
	return listItem{Code: ae.Status, Status: "failure", Data: data,
		ErrorData: errorData{Code: ae.Code, Description: ae.Message, Message: ae.Message}}, true
}

// writeItems answers a create or update with its per-item results and
// their counts. The status is 200 when every item succeeded, 207 when
// some did, and otherwise the items' common status (400 if they differ).
func writeItems(c echo.Context, items []listItem) error {
	meta := v2BulkMetadata{Total: len(items)}
	codes := map[int]bool{}
	for _, it := range items {
		if it.Status == "success" {
			meta.Success++
		} else {
			meta.Failed++
			codes[it.Code] = true
		}
	}
	status := http.StatusOK
	switch {
	case meta.Failed == 0:
	case meta.Success > 0:
		status = http.StatusMultiStatus
	case len(codes) == 1:
		for code := range codes {
			status = code
		}
	default:
		status = http.StatusBadRequest
	}
	return writeEnvelope(c, status, meta, items)
}

// writeOne answers with a single object as Exotel's v2 does: the
// response array's only entry.
func writeOne(c echo.Context, data any) error {
	return writeEnvelope(c, http.StatusOK, nil, []listItem{v2OK(data)})
}

// v2Items reads the JSON body of a v2 create or update. Exotel's clients
// wrap the items in an array under key ({"campaigns": [{…}]}); the new
// portal shows a single object at the top level; a bare array is taken
// too. It returns each item's JSON, at least one and at most limit, each
// an object. A malformed body is 400, another content type 415.
func v2Items(c echo.Context, key string, limit int) ([]json.RawMessage, error) {
	var raw json.RawMessage
	if err := decodeJSON(c, &raw); err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, bodyErr(err)
		}
	case len(raw) > 0 && raw[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, bodyErr(err)
		}
		wrapped, ok := obj[key]
		if !ok {
			items = []json.RawMessage{raw}
			break
		}
		for k := range obj {
			if k != key {
				return nil, badRequest(fmt.Sprintf("unknown field %q beside %s", k, key))
			}
		}
		if err := json.Unmarshal(wrapped, &items); err != nil || items == nil {
			return nil, badRequest(fmt.Sprintf("%s must be an array of objects", key))
		}
	default:
		return nil, badRequest(fmt.Sprintf("the body must be a JSON object, or {%q: [objects]}", key))
	}
	switch {
	case len(items) == 0:
		return nil, badRequest(key + " is empty: give at least one")
	case len(items) > limit:
		return nil, badRequest(fmt.Sprintf("%d %s in one request: at most %d", len(items), key, limit))
	}
	for i, it := range items {
		if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' {
			return nil, badRequest(fmt.Sprintf("%s[%d] must be an object", key, i))
		}
	}
	return items, nil
}

// v2Decode decodes one item strictly: an unknown field or a value of the
// wrong type is 400 naming the field.
func v2Decode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest("unknown field " + f)
		}
		return bodyErr(err)
	}
	return nil
}

// v2Fail maps a store error of the v2 resources like storeFail, and a
// change the campaign's status does not allow (store.ErrCampaignState) to
// 409 with the store's explanation.
func v2Fail(err error, notFound string) error {
	if errors.Is(err, store.ErrCampaignState) {
		msg := strings.TrimSuffix(err.Error(), ": "+store.ErrCampaignState.Error())
		return fail(http.StatusConflict, CodeConflict, msg)
	}
	return storeFail(err, CodeNotFound, notFound)
}

// v2FieldFail maps what campaign.Build and campaign.Update refuse: a
// *campaign.FieldError is 400 naming the field (404 when it names
// something that does not exist; 409 when the campaign has started and
// the field may no longer change), a value the database refused 400;
// anything else is returned as it is (a 500).
func v2FieldFail(err error) error {
	var fe *campaign.FieldError
	switch {
	case errors.As(err, &fe) && fe.NotFound:
		return fail(http.StatusNotFound, CodeNotFound, fe.Message)
	case errors.As(err, &fe) && fe.Field == "campaigns":
		// Update's refusal of fields other than the callbacks once the
		// campaign has started: the campaign's state, not the value.
		return fail(http.StatusConflict, CodeConflict, fe.Message)
	case errors.As(err, &fe):
		return badRequest(fe.Message)
	case store.InvalidInput(err):
		return badRequest("a value of the request is invalid")
	}
	return err
}

// v2PathID reads a path parameter naming a v2 object (cp_…, ct_…, ls_…).
// Anything that cannot be an id is answered 404 at once, as an unknown
// one is, without asking the database.
func v2PathID(c echo.Context, param, what string) (string, error) {
	id, err := pathParam(c, param)
	if err != nil || !v2ID(id) {
		return "", manageNotFound(CodeNotFound, fmt.Sprintf("%s %s", what, clipText(c.Param(param))))
	}
	return id, nil
}

// v2ID reports whether s may be the id of a v2 object: 1 to 64 letters,
// digits, _ and -.
func v2ID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// clipText shortens user text quoted in an answer.
func clipText(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// v2Page reads the paging of a v2 list: offset (0-based) and limit
// (default 20, at most 500), or the legacy page (1-based) and page_size.
// offset and limit win over their aliases.
func v2Page(c echo.Context) (store.Page, error) {
	p, err := listPage(c)
	if err != nil {
		return p, err
	}
	if c.QueryParam("limit") == "" {
		if v := c.QueryParam("page_size"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > manageMaxLimit {
				return p, badRequest(fmt.Sprintf("page_size must be an integer from 1 to %d", manageMaxLimit))
			}
			p.Limit = n
		}
	}
	if c.QueryParam("offset") == "" {
		if v := c.QueryParam("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1_000_000 {
				return p, badRequest("page must be an integer from 1 (the first page)")
			}
			p.Offset = (n - 1) * p.Limit
		}
	}
	return p, nil
}

// v2Sort reads sort_by, "field" or "field:asc|desc", field one of
// fields; "" is the default (date_created, ascending).
func v2Sort(c echo.Context, fields ...string) (field string, desc bool, err error) {
	v := strings.TrimSpace(c.QueryParam("sort_by"))
	if v == "" {
		return "date_created", false, nil
	}
	f, dir, _ := strings.Cut(v, ":")
	f, dir = strings.ToLower(strings.TrimSpace(f)), strings.ToLower(strings.TrimSpace(dir))
	ok := false
	for _, want := range fields {
		ok = ok || f == want
	}
	if !ok || (dir != "" && dir != "asc" && dir != "desc") {
		return "", false, badRequest(fmt.Sprintf("sort_by %q is not valid: %s, each with :asc or :desc",
			clipText(v), strings.Join(fields, " or ")))
	}
	return f, dir == "desc", nil
}

// v2CSVType reports whether a media type is CSV.
func v2CSVType(mt string) bool {
	return mt == "text/csv" || mt == "application/csv"
}

// v2Time renders a v2 timestamp: RFC 3339 in IST.
func v2Time(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	v := campaign.Time(*t)
	return &v
}

// v2Str is nil for "", else s.
func v2Str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

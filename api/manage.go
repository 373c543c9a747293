package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// routesManage declares the management API (what Exotel keeps in its
// dashboard) under /v2/accounts/:sid: flows and their versions, ExoPhones,
// a call's status callbacks and recordings. JSON in and out, in the v2/v3
// envelope; lists carry Exotel's v2 list metadata.
func (s *Server) routesManage(g routeGroup) {
	g.POST("/flows", s.createFlow)
	g.GET("/flows", s.listFlows)
	g.GET("/flows/:flow_id", s.getFlow)
	g.PUT("/flows/:flow_id", s.updateFlow)
	g.DELETE("/flows/:flow_id", s.deleteFlow)
	g.POST("/flows/:flow_id/validate", s.validateFlow)
	g.POST("/flows/:flow_id/publish", s.publishFlow)
	g.POST("/flows/:flow_id/duplicate", s.duplicateFlow)
	g.GET("/flows/:flow_id/versions", s.listFlowVersions)
	g.GET("/flows/:flow_id/versions/:version", s.getFlowVersion)

	g.POST("/exophones", s.createExoPhone)
	g.GET("/exophones", s.listExoPhones)
	g.GET("/exophones/:number", s.getExoPhone)
	g.PUT("/exophones/:number", s.updateExoPhone)
	g.DELETE("/exophones/:number", s.deleteExoPhone)

	g.POST("/users", s.createUser)
	g.GET("/users", s.listUsers)
	g.GET("/users/:user_sid", s.getUser)
	g.PUT("/users/:user_sid", s.updateUser)
	g.DELETE("/users/:user_sid", s.deleteUser)
	g.PUT("/users/:user_sid/devices/:device_id", s.updateUserDevice)

	g.GET("/calls/:call_sid/callbacks", s.listCallCallbacks)
	g.GET("/calls/:call_sid/recordings", s.listCallRecordings)
	g.GET("/calls/:call_sid/requests", s.listCallRequests)
	g.GET("/calls/:call_sid/messages", s.listCallMessages)
	g.GET("/calls/:call_sid/path", s.getCallAppletPath)
	g.GET("/recordings/:id", s.getRecording)
}

// Paging of management lists: Exotel's v2 offset/limit.
const (
	manageDefaultLimit = 20
	manageMaxLimit     = 500
)

// listMetadata is the metadata block of a v2 list.
type listMetadata struct {
	Count  int   `json:"count"`
	Offset int   `json:"offset"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
}

// listItem is one entry of a v2 list's response array.
type listItem struct {
	Code      int    `json:"code"`
	ErrorData any    `json:"error_data"`
	Status    string `json:"status"`
	Data      any    `json:"data"`
}

// manageDeleted is the body of a successful DELETE.
type manageDeleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// listPage reads the offset and limit query parameters.
func listPage(c echo.Context) (store.Page, error) {
	p := store.Page{Limit: manageDefaultLimit}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("offset must be a non-negative integer")
		}
		p.Offset = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > manageMaxLimit {
			return p, badRequest(fmt.Sprintf("limit must be an integer from 1 to %d", manageMaxLimit))
		}
		p.Limit = n
	}
	return p, nil
}

// pageSlice cuts one page out of a list that was read whole.
func pageSlice[T any](all []T, p store.Page) []T {
	if p.Offset >= len(all) {
		return nil
	}
	return all[p.Offset:min(p.Offset+p.Limit, len(all))]
}

// writeList answers with a v2 list: one success entry per item and the
// count/offset/total/limit metadata.
func writeList[T any](c echo.Context, p store.Page, total int64, items []T) error {
	resp := make([]listItem, len(items))
	for i, it := range items {
		resp[i] = listItem{Code: http.StatusOK, Status: "success", Data: it}
	}
	return writeEnvelope(c, http.StatusOK, listMetadata{Count: len(items), Offset: p.Offset, Total: total, Limit: p.Limit}, resp)
}

// pathParam returns a path parameter, percent-decoded once. Echo matches
// the raw path when the request escaped a character that needs no
// escaping (%2B), and then hands the parameter over still escaped;
// otherwise it matches the decoded path, and decoding again would turn
// %2500 into a NUL byte behind the input gate's back.
func pathParam(c echo.Context, name string) (string, error) {
	if c.Request().URL.RawPath == "" {
		return c.Param(name), nil
	}
	v, err := url.PathUnescape(c.Param(name))
	if err != nil {
		return "", badRequest(fmt.Sprintf("path parameter %s is malformed", name))
	}
	return v, nil
}

// manageTime renders a management timestamp: RFC 3339 in the server's
// zone, as Exotel's v2 objects do.
func (s *Server) manageTime(t time.Time) string {
	return t.In(s.opts.TimeZone).Format(time.RFC3339)
}

func (s *Server) manageTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := s.manageTime(*t)
	return &v
}

// rawJSON passes a stored JSON document through as it is; anything that
// is not valid JSON goes out as a JSON string, so one bad row cannot break
// a response.
func rawJSON(doc string) json.RawMessage {
	if doc == "" {
		return json.RawMessage("null")
	}
	if json.Valid([]byte(doc)) {
		return json.RawMessage(doc)
	}
	b, _ := json.Marshal(doc)
	return b
}

// requestBase returns scheme://host of the request, for URLs handed back
// to the client (flow URLs). Only http and https are believed from
// forwarding headers.
func requestBase(c echo.Context) string {
	scheme := strings.ToLower(c.Scheme())
	if scheme != "https" {
		scheme = "http"
	}
	return scheme + "://" + c.Request().Host
}

// manageNotFound answers 404 for a resource of the account.
func manageNotFound(code int, what string) error {
	return fail(http.StatusNotFound, code, what+" not found")
}

// storeFail maps a store error to the management API's answer: the
// store's sentinels become 4xx with our own message (never the driver's
// text); anything else is a 500, logged by the error handler.
func storeFail(err error, notFoundCode int, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return manageNotFound(notFoundCode, what)
	case errors.Is(err, store.ErrFlowAssigned):
		return fail(http.StatusConflict, CodeConflict, what+" is assigned to an ExoPhone: unassign it first")
	case errors.Is(err, store.ErrNotPublished):
		return badRequest(what + " has no published version: publish it first")
	case errors.Is(err, store.ErrConflict):
		return fail(http.StatusConflict, CodeConflict, what+" already exists")
	case errors.Is(err, store.ErrInvalid):
		return badRequest(what + ": invalid value")
	}
	return fmt.Errorf("%s: %w", what, err)
}

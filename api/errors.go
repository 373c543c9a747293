package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Surfaces: each API family answers errors in its own format.
const (
	// surfaceV1 is Exotel's Twilio-style v1: RestException in XML
	// (TwilioResponse root) or JSON (.json suffix).
	surfaceV1 = "v1"
	// surfaceV3 is the lowercase v2/v3 family and our management API:
	// the request_id / method / http_code / response envelope.
	surfaceV3 = "v3"
	// surfacePlain is the server's own endpoints (health, the OpenAPI
	// document).
	surfacePlain = "plain"
	// surfaceConsole is the web console (and "/", which leads to it):
	// errors are HTML pages.
	surfaceConsole = "console"
)

// Error codes of the v2/v3 surface (error_data.code). The ones Exotel
// documents keep their numbers; the rest (marked) are ours.
const (
	CodeAuthFailed       = 1010  // 401
	CodeForbidden        = 1018  // 403 (ours)
	CodeDeviceBusy       = 10706 // 409: the from user is on another call
	CodeNumberNotFound   = 10716 // 404: virtual number (ExoPhone) not found
	CodeUserNotFound     = 10731 // 404
	CodeCallNotFound     = 10744 // 404
	CodeTooManyRequests  = 10724 // 429
	CodeInternal         = 1100  // 500
	CodeBadRequest       = 1000  // 400 (ours)
	CodeNotFound         = 1001  // 404: any other resource (ours)
	CodeConflict         = 1002  // 409 (ours)
	CodeUnsupportedMedia = 1003  // 415 (ours)
	CodeTooLarge         = 1004  // 413 (ours)
	CodeNotAllowed       = 1005  // 405 (ours)
	CodeUnavailable      = 1006  // 503 (ours)
)

// apiError is an error a handler returns to answer with a status, a code
// (v2/v3 only) and a message, in the surface's format.
type apiError struct {
	Status  int
	Code    int
	Message string
}

func (e *apiError) Error() string { return e.Message }

// fail builds an apiError; code 0 picks the default code for status.
func fail(status, code int, msg string) error {
	if code == 0 {
		code = defaultCode(status)
	}
	return &apiError{Status: status, Code: code, Message: msg}
}

// badRequest is fail(400, CodeBadRequest, msg).
func badRequest(msg string) error { return fail(http.StatusBadRequest, CodeBadRequest, msg) }

func defaultCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeAuthFailed
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMedia
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// surfaceOf tells which API family a path belongs to. v1 and Exotel's
// Twilio-style v2_beta answer RestException; the lowercase v2 and v3 the
// envelope. Any other path is the server's own endpoint when it is one
// and otherwise answers like v1, the surface every Exotel client knows:
// a client that took a wrong turn gets an error it can read. The web
// console (and "/", which leads to it) answers HTML pages.
func surfaceOf(path string) string {
	switch {
	case console.IsConsolePath(path):
		return surfaceConsole
	case strings.HasPrefix(path, "/v1/"), strings.HasPrefix(path, "/v2_beta/"):
		return surfaceV1
	case strings.HasPrefix(path, "/v2/"), strings.HasPrefix(path, "/v3/"), strings.HasPrefix(path, opsPrefix+"/"):
		return surfaceV3
	case strings.HasPrefix(path, "/healthz"), strings.HasPrefix(path, "/openapi.json"), strings.HasPrefix(path, "/gateway/"),
		path == "/livez", path == "/readyz", path == "/metrics":
		return surfacePlain
	}
	return surfaceV1
}

// paramHasSlash reports whether a path parameter of the matched route
// holds a '/': Echo lets a route's last parameter take the rest of the
// path, so /users/u1/devices/d1 would reach /users/:user_sid. No id
// holds one; such a path names no route.
func paramHasSlash(c echo.Context) bool {
	for _, v := range c.ParamValues() {
		if strings.Contains(v, "/") {
			return true
		}
	}
	return false
}

// deeperThanRoute reports whether the request's path has more segments
// than the route Echo matched (the router does not fill in parameters
// when it answers 405, so paramHasSlash cannot tell).
func deeperThanRoute(c echo.Context) bool {
	route := c.Path()
	return route != "" && strings.Count(c.Request().URL.Path, "/") > strings.Count(route, "/")
}

// notFound is the router's answer for a path no route takes.
func notFound(c echo.Context) error {
	return fail(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no resource at %s %s", c.Request().Method, c.Request().URL.Path))
}

// restException is the v1 error body.
type restException struct {
	Status  int    `xml:"Status" json:"Status"`
	Message string `xml:"Message" json:"Message"`
}

// errorData is the v2/v3 error detail.
type errorData struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
	Message     string `json:"message"`
}

// handleError is Echo's error handler: every error, from handlers, the
// router (404, 405 with its Allow header), middleware or a recovered
// panic, is answered in the format of the surface the request was for.
// 5xx details are logged, not sent.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			msg = m
		}
		switch {
		case he.Code == http.StatusMethodNotAllowed && (paramHasSlash(c) || deeperThanRoute(c)):
			// The route matched only by a parameter taking slashes.
			c.Response().Header().Del(echo.HeaderAllow)
			he = echo.ErrNotFound
			fallthrough
		case he.Code == http.StatusNotFound && msg == http.StatusText(http.StatusNotFound):
			msg = fmt.Sprintf("no resource at %s %s", c.Request().Method, c.Request().URL.Path)
		case he.Code == http.StatusMethodNotAllowed:
			msg = fmt.Sprintf("method %s is not allowed here; allowed: %s", c.Request().Method,
				c.Response().Header().Get(echo.HeaderAllow))
		}
		ae = &apiError{Status: he.Code, Code: defaultCode(he.Code), Message: msg}
	case store.InvalidInput(err):
		// A value the database refused (the input gate keeps bad bytes
		// out; this catches what slips past it, e.g. a number out of a
		// column's range): the client's fault, never a 500.
		s.log.WarnContext(c.Request().Context(), "api: the database refused a value of the request",
			"method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		ae = &apiError{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "a value of the request is invalid"}
	case store.Unavailable(err):
		// The database is down or not taking work: the request may be
		// sent again as it is.
		c.Response().Header().Set("Retry-After", "5")
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the service is temporarily unavailable; retry later"}
	default:
		ae = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal server error"}
	}
	if ae.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "api: request failed", "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", ae.Status, "err", err)
	}
	surface := surfaceOf(c.Request().URL.Path)
	if ae.Status == http.StatusUnauthorized && surface != surfaceConsole {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="Switchyard"`)
	}
	var werr error
	switch surface {
	case surfaceConsole:
		werr = console.WriteError(c, ae.Status, ae.Message)
	case surfaceV1:
		werr = writeV1(c, ae.Status, "RestException", restException{Status: ae.Status, Message: ae.Message})
	case surfaceV3:
		werr = writeEnvelope(c, ae.Status, nil, map[string]any{
			"code":       ae.Status,
			"status":     "failure",
			"error_data": errorData{Code: ae.Code, Description: ae.Message, Message: ae.Message},
		})
	default:
		werr = c.JSON(ae.Status, map[string]any{"error": ae.Message, "status": ae.Status})
	}
	if werr != nil {
		s.log.WarnContext(c.Request().Context(), "api: writing error response", "err", werr)
	}
}

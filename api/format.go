package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Context keys set by the middleware.
const (
	keyJSON      = "switchyard.json"       // bool: v1 request ended in .json
	keyAccount   = "switchyard.account"    // *store.Account, after auth
	keyRequestID = "switchyard.request_id" // string
)

// stripJSONSuffix is a pre-routing middleware for v1: Exotel picks the
// response format by a .json suffix on the last path segment
// (Calls/connect.json, Calls/<sid>.json, Calls.json). The suffix is
// removed before routing and remembered, so each route is declared once.
func stripJSONSuffix(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if surfaceOf(r.URL.Path) == surfaceV1 {
			if p, ok := strings.CutSuffix(r.URL.Path, ".json"); ok {
				r.URL.Path = p
				r.URL.RawPath = ""
				c.Set(keyJSON, true)
			} else if strings.HasPrefix(r.URL.Path, "/v2_beta/") {
				// Exotel's v2_beta answers JSON only.
				c.Set(keyJSON, true)
			} else if !versioned(r.URL.Path) && strings.Contains(r.Header.Get(echo.HeaderAccept), "json") {
				// A path of no API version (only ever an error) answers
				// JSON to a client asking for it.
				c.Set(keyJSON, true)
			}
		}
		return next(c)
	}
}

// versioned reports whether a path is under one of the API versions.
func versioned(path string) bool {
	for _, p := range []string{"/v1/", "/v2_beta/", "/v2/", "/v3/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// requestID gives every request an id (32 hex), sent back in
// X-Request-Id and in the v2/v3 envelope.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		c.Set(keyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// wantsJSON reports whether a v1 request asked for JSON (.json suffix).
func wantsJSON(c echo.Context) bool {
	v, _ := c.Get(keyJSON).(bool)
	return v
}

// writeV1 answers a v1 request: JSON {name: v} with the .json suffix,
// otherwise XML <TwilioResponse><name>…</name></TwilioResponse> (v
// marshalled as the element name).
func writeV1(c echo.Context, status int, name string, v any) error {
	if wantsJSON(c) {
		return writeJSON(c, status, map[string]any{name: v})
	}
	return writeTwilioXML(c, status, xmlElement{name: name, v: v})
}

// xmlElement marshals v under the element name.
type xmlElement struct {
	name string
	v    any
}

// writeTwilioXML writes the elements, in order, inside a TwilioResponse
// root.
func writeTwilioXML(c echo.Context, status int, elems ...xmlElement) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString("<TwilioResponse>")
	enc := xml.NewEncoder(&buf)
	for _, e := range elems {
		if err := enc.EncodeElement(e.v, xml.StartElement{Name: xml.Name{Local: e.name}}); err != nil {
			return err
		}
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	buf.WriteString("</TwilioResponse>\n")
	return c.Blob(status, echo.MIMEApplicationXMLCharsetUTF8, buf.Bytes())
}

// writeJSON answers JSON without HTML escaping: URLs in answers keep
// their & as is (Exotel's own answers do), where Echo's c.JSON would
// write \u0026.
func writeJSON(c echo.Context, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return c.Blob(status, echo.MIMEApplicationJSON, buf.Bytes())
}

// envelope is the v2/v3 response body.
type envelope struct {
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	HTTPCode  int    `json:"http_code"`
	Metadata  any    `json:"metadata"`
	Response  any    `json:"response"`
}

// writeEnvelope answers a v2/v3 (or management) request.
func writeEnvelope(c echo.Context, status int, metadata, response any) error {
	id, _ := c.Get(keyRequestID).(string)
	return writeJSON(c, status, envelope{
		RequestID: id,
		Method:    c.Request().Method,
		HTTPCode:  status,
		Metadata:  metadata,
		Response:  response,
	})
}

// success is the single-object v2/v3 response: {code, error_data: null,
// status: "success", <key>: v}.
func success(status int, key string, v any) map[string]any {
	return map[string]any{"code": status, "error_data": nil, "status": "success", key: v}
}

// decodeJSON reads a JSON request body strictly: unknown fields, trailing
// data and a wrong content type are 4xx errors in the caller's format.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" && c.Request().ContentLength == 0 {
		return badRequest("a JSON body is required (Content-Type: application/json)")
	}
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), echo.MIMEApplicationJSON) {
		return fail(http.StatusUnsupportedMediaType, 0, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyErr(err)
	}
	if dec.More() {
		return badRequest("request body has data after the JSON value")
	}
	return nil
}

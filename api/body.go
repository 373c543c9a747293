package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// DefaultMaxBody caps request bodies (1 MiB).
const DefaultMaxBody = 1 << 20

// limitBody caps the request body; reading past the cap fails with
// http.MaxBytesError, which bodyErr turns into 413.
func limitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return fail(http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("request body larger than %d bytes", n))
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// bodyErr maps a failure to read or decode a request body to a 4xx.
func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return fail(http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	case errors.As(err, &se):
		return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err))
	case errors.As(err, &te):
		return badRequest(fmt.Sprintf("field %q: expected %s", te.Field, te.Type))
	}
	return badRequest("malformed request body: " + err.Error())
}

// formParams returns the parameters of a v1 request: the URL query and a
// form body (application/x-www-form-urlencoded or multipart/form-data).
// Another body type is 415.
func formParams(c echo.Context) (url.Values, error) {
	r := c.Request()
	if r.ContentLength != 0 && r.Header.Get(echo.HeaderContentType) != "" {
		mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if err != nil {
			return nil, fail(http.StatusUnsupportedMediaType, 0, "malformed Content-Type")
		}
		switch mt {
		case echo.MIMEApplicationForm, echo.MIMEMultipartForm:
		default:
			return nil, fail(http.StatusUnsupportedMediaType, 0,
				"Content-Type must be application/x-www-form-urlencoded or multipart/form-data")
		}
	}
	v, err := c.FormParams()
	if err != nil {
		return nil, bodyErr(err)
	}
	return v, nil
}

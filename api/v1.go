package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// routesV1 declares Exotel's Voice v1 routes under /v1/Accounts/:sid.
// Each answers XML, or JSON with the .json suffix (stripped before
// routing, see stripJSONSuffix).
func (s *Server) routesV1(g routeGroup) {
	g.POST("/Calls/connect", s.v1Connect)
	g.GET("/Calls", s.v1ListCalls)
	g.GET("/Calls/:CallSid", s.v1GetCall)
	s.routesSMS(g)
}

// v1GetCall is GET /v1/Accounts/:sid/Calls/:CallSid[.json] (§2.4):
// details=true adds Details, RecordingUrlValidity=5..60 a pre-signed
// recording URL. An unknown SID, or another account's, is 404.
func (s *Server) v1GetCall(c echo.Context) error {
	q, err := v1Query(c)
	if err != nil {
		return err
	}
	opts, err := v1CallOptsOf(q, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	got, err := s.accountCall(c, "CallSid")
	if err != nil {
		return err
	}
	view, err := s.v1CallView(ctx, got, opts)
	if err != nil {
		return fmt.Errorf("api: get call: %w", err)
	}
	return writeV1(c, http.StatusOK, "Call", view)
}

// v1Query parses a v1 query string. Unlike net/url it keeps a literal ';'
// inside a value: Exotel's filters use it (DateCreated=gte:…;lte:…) and
// clients do not always encode it. Pairs are separated by '&' only.
func v1Query(c echo.Context) (url.Values, error) {
	out := url.Values{}
	for _, pair := range strings.Split(c.Request().URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("malformed query string near %q", k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("malformed query parameter %s", key))
		}
		out.Add(key, val)
	}
	return out, nil
}

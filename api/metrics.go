package api

import (
	"reflect"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/metrics"
)

// RequestMetrics records every request in m: switchyard_api_requests_total
// by method, route and status code, and switchyard_api_request_seconds
// by method and route. The route is the matched route's template
// (c.Path()), or metrics.Unmatched when no route matched, so a client
// cannot make label values up with paths of its own.
//
// A handler's error is answered here, by the server's error handler, so
// that its status is the one recorded: install it with Use before the
// other middleware (after Pre), so that it sees their errors too. With a
// nil m it records nothing.
func RequestMetrics(m *metrics.Set) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if m == nil {
			return next
		}
		return func(c echo.Context) error {
			start := time.Now()
			route := c.Path()
			if route == "" || unrouted(c.Handler()) {
				route = metrics.Unmatched
			}
			if err := next(c); err != nil {
				c.Error(err)
			}
			m.APIRequest(c.Request().Method, route, c.Response().Status, time.Since(start))
			return nil
		}
	}
}

// unrouted reports whether h is what Echo's router runs when no route
// matched the request (404), or none matched its method (405): the path
// it leaves in c.Path() is then a neighbouring route's.
func unrouted(h echo.HandlerFunc) bool {
	if h == nil {
		return true
	}
	p := reflect.ValueOf(h).Pointer()
	return p == reflect.ValueOf(echo.NotFoundHandler).Pointer() || p == reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer()
}

package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/metrics/metricstest"
)

// Requests are counted under their route's template and the status they
// were answered with, errors included; paths no route matches share one
// label value.
func TestRequestMetrics(t *testing.T) {
	m := metrics.New("test")
	e := echo.New()
	e.Use(RequestMetrics(m))
	e.GET("/v1/Accounts/:sid/Calls/:call_sid", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.POST("/v1/Accounts/:sid/Calls/connect", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusBadRequest, "no From")
	})
	e.GET("/boom", func(c echo.Context) error { return errors.New("boom") })

	for _, r := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/Accounts/acme/Calls/ca1", http.StatusOK},
		{http.MethodGet, "/v1/Accounts/acme/Calls/ca2", http.StatusOK},
		{http.MethodPost, "/v1/Accounts/acme/Calls/connect", http.StatusBadRequest},
		{http.MethodGet, "/boom", http.StatusInternalServerError},
		{http.MethodGet, "/no/such/path/+919800000001", http.StatusNotFound},
		{http.MethodGet, "/wp-admin", http.StatusNotFound},
		{http.MethodDelete, "/boom", http.StatusMethodNotAllowed},
		{"PROPFIND", "/boom", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		if rec.Code != r.want {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, rec.Code, r.want)
		}
	}

	for _, c := range []struct {
		method, route, code string
		want                float64
	}{
		{"GET", "/v1/Accounts/:sid/Calls/:call_sid", "200", 2},
		{"POST", "/v1/Accounts/:sid/Calls/connect", "400", 1},
		{"GET", "/boom", "500", 1},
		{"GET", metrics.Unmatched, "404", 2},
		{"DELETE", metrics.Unmatched, "405", 1},
		{metrics.Other, metrics.Unmatched, "405", 1},
	} {
		if got := metricstest.Value(t, m, "switchyard_api_requests_total", "method", c.method, "route", c.route, "code", c.code); got != c.want {
			t.Errorf("%s %s %s: %v requests, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	if got := metricstest.Value(t, m, "switchyard_api_request_seconds", "method", "GET", "route", "/v1/Accounts/:sid/Calls/:call_sid"); got != 2 {
		t.Errorf("%v durations observed, want 2", got)
	}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "switchyard_api_requests_total" && len(mf.GetMetric()) != 6 {
			t.Errorf("%d request series, want 6: unknown paths must not make new ones", len(mf.GetMetric()))
		}
	}
}

// Without metrics the middleware is the handler itself.
func TestRequestMetricsNil(t *testing.T) {
	e := echo.New()
	e.Use(RequestMetrics(nil))
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("status %d", rec.Code)
	}
}

// Package console is the web console `switchyard serve` serves at
// /console/: server-rendered pages over the same store, accounts and API
// keys as the REST API. A login with an API key and token opens a signed
// session cookie; every page is scoped to the session's account.
//
// Pages: the call log with filters, live calls (updated over
// Server-Sent Events), a call's page (legs on a timeline, requests to the
// customer's servers, messages, recordings, status callbacks), agents,
// campaigns (progress, pause and resume, the report as CSV), flows, and
// the flow builder (builder.go, static/builder.js): the applet graph
// edited on a canvas with forms built from the applet schemas, saved,
// validated and published through the management API (Deps.ManageAPI),
// versions compared, ExoPhones assigned, and test calls placed through
// the server's node (testcalls.go) with their applet path lit.
// Templates, the stylesheet and the scripts are embedded: nothing is
// fetched from the network at run time.
package console

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Prefix is where the console lives.
const Prefix = "/console"

// Limiter counts failed sign-ins per client address: Take spends one of
// the address's attempts before a sign-in is checked (false, with how
// long to wait, when none is left), Refund gives it back when the
// sign-in succeeded. The API's failed-authentication limiter is one.
type Limiter interface {
	Take(r *http.Request) (ok bool, wait time.Duration)
	Refund(r *http.Request)
}

// Deps is what the console needs from the server that mounts it.
type Deps struct {
	Logger *slog.Logger
	// Store is the database the console reads and writes.
	Store *store.DB
	// SigningKey signs session cookies and CSRF tokens (the API's key:
	// every instance on the database shares it, so a session opened on
	// one instance is good on all).
	SigningKey []byte
	// PublicURL is where browsers reach the server (scheme://host); an
	// https URL makes the session cookie Secure, and its origin is
	// accepted by the same-origin check of forms.
	PublicURL string
	// TimeZone renders times and reads the log's date filters.
	TimeZone *time.Location
	// Now is the sessions' clock (default time.Now).
	Now func() time.Time
	// AuthFailures counts failed sign-ins (nil: no limit).
	AuthFailures Limiter
	// RecordingURL returns a URL (a path on this server) that plays one
	// of the account's recordings without credentials for a while.
	RecordingURL func(accountSID, recordingID string) string
	// CampaignAction applies a campaign action (pause, resume) as the
	// API's campaign update does, telling the dialer.
	CampaignAction func(c echo.Context, accountSID, campaignSID, action string) error
	// CampaignReport answers with the campaign's report as a CSV
	// download, as the API's call-details.csv does.
	CampaignReport func(c echo.Context, accountSID, campaignSID string) error
	// ManageAPI serves a request of the console's scripts (the flow
	// builder) as the management API does for the account: rest is the
	// path under /v2/accounts/<account>/, still escaped. It answers in
	// the API's own format, errors included.
	ManageAPI func(c echo.Context, accountSID, rest string) error
	// TestCall places the flow builder's test calls (nil: none).
	TestCall TestCaller
}

// console holds the handlers' shared state.
type console struct {
	d     Deps
	log   *slog.Logger
	keys  sessionKeys
	tmpl  templates
	tests testRuns
}

// Mount declares the console's routes on e: "/" redirects to the
// console, and every page lives under Prefix.
func Mount(e *echo.Echo, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.TimeZone == nil {
		d.TimeZone = time.UTC
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	cs := &console{d: d, log: d.Logger, keys: deriveKeys(d.SigningKey)}
	tmpl, err := parseTemplates(cs.funcs())
	if err != nil {
		// The templates are compiled in: a broken one is a bug of this
		// binary, caught by the package's tests.
		panic(err)
	}
	cs.tmpl = tmpl
	// Pages need a session; forms (POST) a session and its CSRF token.
	page := []echo.MiddlewareFunc{secureHeaders, wholeParams, cs.requireSession}
	form := []echo.MiddlewareFunc{secureHeaders, wholeParams, cs.requireSession, cs.checkCSRF}
	home := func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, Prefix+"/calls") }

	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, Prefix+"/") }, secureHeaders)
	e.GET(Prefix, home, secureHeaders)
	e.GET(Prefix+"/", home, secureHeaders)
	e.GET(Prefix+"/static/:name", serveStatic, secureHeaders, wholeParams)
	e.GET(Prefix+"/login", cs.loginPage, secureHeaders)
	e.POST(Prefix+"/login", cs.login, secureHeaders)
	e.POST(Prefix+"/logout", cs.logout, form...)

	e.GET(Prefix+"/calls", cs.callLog, page...)
	e.GET(Prefix+"/calls/live", cs.livePage, page...)
	e.GET(Prefix+"/calls/live/events", cs.liveEvents, page...)
	e.GET(Prefix+"/calls/:sid", cs.callPage, page...)
	e.GET(Prefix+"/agents", cs.agents, page...)
	e.GET(Prefix+"/campaigns", cs.campaigns, page...)
	e.GET(Prefix+"/campaigns/:id", cs.campaignPage, page...)
	e.GET(Prefix+"/campaigns/:id/report.csv", cs.campaignReport, page...)
	e.POST(Prefix+"/campaigns/:id/pause", cs.campaignAction("pause"), form...)
	e.POST(Prefix+"/campaigns/:id/resume", cs.campaignAction("resume"), form...)
	e.GET(Prefix+"/flows", cs.flows, page...)
	e.POST(Prefix+"/flows", cs.newFlow, form...)
	e.GET(Prefix+"/flows/:id", cs.builder, page...)
	e.GET(Prefix+"/flows/:id/diff", cs.flowDiff, page...)
	e.POST(Prefix+"/flows/:id/tests", cs.startTest, form...)
	e.GET(Prefix+"/flows/:id/tests/:run", cs.testStatus, page...)
	// The builder's calls to the management API: reads need the
	// session, writes its CSRF token too. The path under the prefix
	// has slashes (the API checks its own parameters).
	e.GET(Prefix+"/api/*", cs.api, secureHeaders, cs.requireSession)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		e.Add(m, Prefix+"/api/*", cs.api, secureHeaders, cs.requireSession, cs.checkCSRF)
	}
}

// IsConsolePath reports whether path is the console's: its pages, and
// "/", which redirects to them. Errors there are HTML pages.
func IsConsolePath(path string) bool {
	return path == "/" || path == Prefix || strings.HasPrefix(path, Prefix+"/")
}

// secureHeaders sets the headers every console response carries: a
// content security policy allowing only the console's own files (no
// inline script or style), no framing, no referrer to other sites, and
// no caching (pages show one account's data).
func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setSecurityHeaders(c.Response().Header())
		return next(c)
	}
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// wholeParams answers 404 when a path parameter took a '/': no SID or id
// holds one.
func wholeParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, v := range c.ParamValues() {
			if strings.Contains(v, "/") {
				return echo.ErrNotFound
			}
		}
		return next(c)
	}
}

// notFound is a 404 naming what was not found.
func notFound(what string) error {
	return echo.NewHTTPError(http.StatusNotFound, "There is no "+what+" in this account.")
}

// storeErr turns a store error into what the console answers: a 404 for
// something the account does not have, the error itself otherwise (the
// server answers 500, or 503 when the database is unavailable).
func storeErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}

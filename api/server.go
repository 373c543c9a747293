package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/numinfo"
	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Pinger reports whether a dependency is healthy.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options wires a Server.
type Options struct {
	Logger *slog.Logger
	// Database is checked by the health endpoint.
	Database Pinger
	// Version is reported by the health endpoint.
	Version string
	// Store is the database every account route reads and writes.
	Store *store.DB
	// Calls places API calls (Calls/connect, v3 calls).
	Calls Placer
	// MaxBody caps request bodies (default DefaultMaxBody), except a CSV
	// upload to a list, which may be as large as Exotel's 60 MB.
	MaxBody int64
	// TimeZone renders timestamps (default exotime.IST: Exotel's v1
	// timestamps carry no zone and are IST).
	TimeZone *time.Location
	// SigningKey signs pre-signed recording URLs. Every instance serving
	// the same database needs the same key, and it must outlive restarts:
	// serve takes it from its configuration or, unset, from the database
	// (SharedSigningKey). Left empty here, it is random per process, so
	// such URLs die with it.
	SigningKey []byte
	// RateLimit is each account's budget of requests per minute: a token
	// bucket refilled at that rate with a burst of the same size, spent
	// by every authenticated request; over it, 429 with Retry-After (code
	// 10724 on v2/v3). 0 means DefaultRateLimit; negative turns it off.
	RateLimit int
	// AuthFailureLimit is how many failed authentications (missing or
	// wrong credentials, invalid pre-signed URLs) a client address may
	// make per minute; over it, every request of that address that needs
	// authentication gets 429 until the budget refills. 0 means
	// DefaultAuthFailureLimit; negative turns it off.
	AuthFailureLimit int
	// RequestTimeout bounds the work of one request (default
	// DefaultRequestTimeout): a database that does not answer (down, or a
	// SQLite file another process holds locked) makes it 503 then, rather
	// than a request that hangs until the client gives up. A CSV upload
	// to a list gets at least 55 s.
	RequestTimeout time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see clientAddr). Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// Now is the rate limiters' clock (default time.Now).
	Now func() time.Time
	// OnCampaignChange, when set, is called after a campaign was created,
	// updated, paused, resumed, completed, archived or deleted through
	// the API, so the dialer looks at it without waiting for its tick.
	OnCampaignChange func()
	// NotifyCallbacks, when set, is called after the API wrote callbacks
	// to the outbox (a campaign completed by its complete action), so the
	// sender delivers them without waiting for its tick.
	NotifyCallbacks func()
	// SMS queues the messages of Sms/send; nil answers it 503.
	SMS SMSQueue
	// SMSReports, when set, takes the delivery reports a webhook SMS
	// gateway posts to /gateway/sms/reports with Authorization: Bearer
	// SMSReportToken.
	SMSReports     SMSReporter
	SMSReportToken string
	// NumberInfo is the number series table the Numbers resource reads
	// (default numinfo.Builtin()).
	NumberInfo *numinfo.Table
	// Recordings is the blob store archived recordings are read from
	// (nil: only recordings not yet archived can be downloaded).
	Recordings recstore.Store
	// PublicURL is where clients reach the API (scheme://host, no
	// trailing slash), for the URLs callbacks carry (a campaign's
	// report_url). Empty: the host of the request that caused them.
	PublicURL string

	// noHygiene leaves out the input gate, for the tests that prove bad
	// bytes cannot reach a 500 even past it.
	// Metrics, if set, is served at /metrics and records every request.
	Metrics *metrics.Set
	// OpsToken is the operator's bearer token: it opens the operator API
	// (/ops/v1/...) and, when set, guards /metrics too.
	OpsToken string
	// Nodes is the cluster's nodes for the operator API (nil: no node
	// routes).
	Nodes NodeOps
	// Ready adds this instance's own reasons not to take traffic to
	// /readyz's database check.
	Ready Readiness
	// TestCall places a simulated call for the console's flow builder
	// (nil: the builder offers no test call).
	TestCall console.TestCaller

	noHygiene bool
}

// Placer places outbound calls; *call.Runtime is one.
type Placer interface {
	Place(ctx context.Context, req call.OutboundRequest) (c *store.Call, replay bool, err error)
}

// Server is the HTTP API.
type Server struct {
	echo  *echo.Echo
	log   *slog.Logger
	opts  Options
	store *store.DB
	calls Placer
	http  *http.Server
	// requests limits each account's requests, authFailures each client
	// address's failed authentications; nil when off.
	requests, authFailures *limiter
}

// New builds the API's routes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.TimeZone == nil {
		opts.TimeZone = exotime.IST
	}
	if len(opts.SigningKey) == 0 {
		opts.Logger.Warn("api: no signing key configured: pre-signed recording URLs die with this process")
		opts.SigningKey = make([]byte, MinSigningKey)
		_, _ = rand.Read(opts.SigningKey)
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.AuthFailureLimit == 0 {
		opts.AuthFailureLimit = DefaultAuthFailureLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NumberInfo == nil {
		opts.NumberInfo = numinfo.Builtin()
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	s := &Server{echo: e, log: opts.Logger, opts: opts, store: opts.Store, calls: opts.Calls,
		requests:     newLimiter(opts.RateLimit, limiterMaxKeys),
		authFailures: newLimiter(opts.AuthFailureLimit, limiterMaxKeys),
	}
	// Made here, not in Serve: Shutdown may run on another goroutine
	// before Serve has begun.
	s.http = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	e.HTTPErrorHandler = s.handleError
	e.Pre(stripJSONSuffix)
	if opts.Metrics != nil {
		e.Use(RequestMetrics(opts.Metrics))
	}
	e.Use(requestID, s.recoverPanic, s.limitBodies(), s.deadlines())
	if !opts.noHygiene {
		e.Use(s.inputHygiene)
	}
	e.GET("/healthz", s.health)
	s.routesOps(e)

	v1 := routeGroup{e.Group("/v1/Accounts/:sid"), s.authenticate}
	v2 := routeGroup{e.Group("/v2/accounts/:sid"), s.authenticate}
	s.routesV1(v1)
	s.routesV3(routeGroup{e.Group("/v3/accounts/:sid"), s.authenticate})
	s.routesManage(v2)
	s.routesV2(v2)
	s.routesNumbers(v1, routeGroup{e.Group("/v2_beta/Accounts/:sid"), s.authenticate}, v2)
	s.routesRecordings(e)
	s.routesSMSReports(e)
	s.routesDocs(e)
	console.Mount(e, s.consoleDeps())
	return s
}

// routeGroup declares routes under a group's prefix, each behind mw.
// Echo's group middleware (Group.Use) would instead register catch-all
// routes so that it runs for unknown paths too, and those answer a known
// path's wrong method with 404; middleware set on each route leaves
// Echo's router to answer 405 with an Allow header.
type routeGroup struct {
	g  *echo.Group
	mw echo.MiddlewareFunc
}

func (r routeGroup) GET(path string, h echo.HandlerFunc) { r.g.GET(path, h, wholeParams, r.mw) }
func (r routeGroup) POST(path string, h echo.HandlerFunc) {
	r.g.POST(path, h, wholeParams, r.mw)
}
func (r routeGroup) PUT(path string, h echo.HandlerFunc) { r.g.PUT(path, h, wholeParams, r.mw) }
func (r routeGroup) DELETE(path string, h echo.HandlerFunc) {
	r.g.DELETE(path, h, wholeParams, r.mw)
}

// wholeParams answers 404 when a path parameter took a '/' (see
// paramHasSlash), before authentication, as for any unknown path.
func wholeParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if paramHasSlash(c) {
			return notFound(c)
		}
		return next(c)
	}
}

// recoverPanic turns a panic in a handler into a logged 500 in the
// surface's format: nothing a client sends can take the server down.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.ErrorContext(c.Request().Context(), "api: panic", "path", c.Request().URL.Path,
					"panic", r, "stack", string(debug.Stack()))
				err = fail(http.StatusInternalServerError, CodeInternal, "internal server error")
			}
		}()
		return next(c)
	}
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// health answers 200 when the database answers, 503 otherwise.
func (s *Server) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"status": "ok", "version": s.opts.Version}
	if s.opts.Database != nil {
		if err := s.opts.Database.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "health check: database", "err", err)
			body["status"] = "unavailable"
			body["database"] = "unreachable"
			return c.JSON(http.StatusServiceUnavailable, body)
		}
		body["database"] = "ok"
	}
	return c.JSON(http.StatusOK, body)
}

// DefaultRequestTimeout is Options.RequestTimeout's default.
const DefaultRequestTimeout = 15 * time.Second

// deadline gives each request's context a deadline d after it begins.
func deadline(d time.Duration) echo.MiddlewareFunc {
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// Serve accepts connections on l until Shutdown. It returns nil after a
// clean shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in flight, up to
// ctx's deadline. Called before Serve, it makes Serve return at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

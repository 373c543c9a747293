package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/exotime"
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
	// MaxBody caps request bodies (default DefaultMaxBody).
	MaxBody int64
	// TimeZone renders timestamps (default exotime.IST: Exotel's v1
	// timestamps carry no zone and are IST).
	TimeZone *time.Location
	// SigningKey signs pre-signed recording URLs (default: random per
	// process, so such URLs die with it).
	SigningKey []byte
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
		opts.SigningKey = make([]byte, 32)
		_, _ = rand.Read(opts.SigningKey)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	s := &Server{echo: e, log: opts.Logger, opts: opts, store: opts.Store, calls: opts.Calls}
	e.HTTPErrorHandler = s.handleError
	e.Pre(stripJSONSuffix)
	e.Use(requestID, s.recoverPanic, limitBody(opts.MaxBody))
	e.GET("/healthz", s.health)

	v1 := e.Group("/v1/Accounts/:sid", s.authenticate)
	s.routesV1(v1)
	s.routesV3(e.Group("/v3/accounts/:sid", s.authenticate))
	s.routesManage(e.Group("/v2/accounts/:sid", s.authenticate))
	s.routesRecordings(e)
	s.routesDocs(e)
	return s
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

// Serve accepts connections on l until Shutdown. It returns nil after a
// clean shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in flight, up to
// ctx's deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

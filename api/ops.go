package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/nodes"
)

// The operators' surface: health probes for orchestrators and load
// balancers, Prometheus metrics, and the cluster's nodes. It is not
// Exotel's and not a tenant's: the node routes and /metrics take the
// operator token (Options.OpsToken), never an account's credentials.

// opsPrefix is where the operator API lives.
const opsPrefix = "/ops/v1"

// MinOpsToken is the shortest operator token accepted.
const MinOpsToken = 16

// NodeOps is the cluster's nodes, as the operator API shows and drains
// them (nodes.Keeper).
type NodeOps interface {
	List(ctx context.Context) ([]nodes.View, error)
	SetDrained(ctx context.Context, address string, drained bool) (nodes.View, error)
}

// Readiness tells why this instance should not get traffic now (nil or
// empty: it is ready).
type Readiness func(ctx context.Context) []string

func (s *Server) routesOps(e *echo.Echo) {
	e.GET("/livez", s.livez)
	e.GET("/readyz", s.readyz)
	if s.opts.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.opts.Metrics.Handler()), s.opsAuth(true))
	}
	if s.opts.Nodes != nil {
		e.GET(opsPrefix+"/nodes", s.listNodes, wholeParams, s.opsAuth(false))
		e.POST(opsPrefix+"/nodes/:address/drain", s.drainNode(true), wholeParams, s.opsAuth(false))
		e.POST(opsPrefix+"/nodes/:address/undrain", s.drainNode(false), wholeParams, s.opsAuth(false))
	}
}

// livez answers 200 while the process serves HTTP: a failing liveness
// probe means restart it.
func (s *Server) livez(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

// readyz answers 200 when this instance can take calls, 503 with the
// reasons otherwise: while draining, without its database, without any
// node to place calls on (Options.Ready).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	var reasons []string
	if s.opts.Database != nil {
		if err := s.opts.Database.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness: database", "err", err)
			reasons = append(reasons, "database unreachable")
		}
	}
	if s.opts.Ready != nil {
		reasons = append(reasons, s.opts.Ready(ctx)...)
	}
	if len(reasons) > 0 {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reasons": reasons,
			"version": s.opts.Version})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "version": s.opts.Version})
}

// opsAuth checks the operator token (bearerAuth). Without a token
// configured, the node routes are closed (403) and, when open is set
// (/metrics), the route is served to anyone who can reach it.
func (s *Server) opsAuth(open bool) echo.MiddlewareFunc {
	if s.opts.OpsToken != "" {
		return s.bearerAuth(s.opts.OpsToken, "the operator token")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if open {
			return next
		}
		return func(echo.Context) error {
			return fail(http.StatusForbidden, CodeForbidden, "the operator API is off: start serve with -ops-token")
		}
	}
}

func (s *Server) listNodes(c echo.Context) error {
	list, err := s.opts.Nodes.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"nodes": list})
}

func (s *Server) drainNode(drained bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.opts.Nodes.SetDrained(c.Request().Context(), c.Param("address"), drained)
		if errors.Is(err, nodes.ErrUnknownNode) {
			return fail(http.StatusNotFound, CodeNotFound, err.Error()+" (see GET "+opsPrefix+"/nodes)")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"node": v})
	}
}

// oaOpsPaths documents the operators' surface.
func oaOpsPaths(add func(path, method string, op oaObj)) {
	probe := oaObject([]string{"status"}, oaObj{
		"status":  oaEnum("", "ok", "unavailable"),
		"version": oaStr("the server's version"),
		"reasons": oaArray(oaStr(""), "why the instance is not ready (503 only)"),
	})
	add("/livez", "get", oaObj{
		"tags": []any{"Service"}, "summary": "Liveness", "security": []any{},
		"description": "200 while the process serves HTTP. A failing liveness probe means: restart the process.",
		"responses":   oaObj{"200": oaObj{"description": "alive", "content": oaJSONContent(probe)}},
	})
	add("/readyz", "get", oaObj{
		"tags": []any{"Service"}, "summary": "Readiness", "security": []any{},
		"description": "200 when this instance can take calls; 503 with the reasons while it drains (shutting down), " +
			"without its database, or without a node that is connected and not drained. Load balancers send API " +
			"traffic only to ready instances.",
		"responses": oaObj{
			"200": oaObj{"description": "ready", "content": oaJSONContent(probe)},
			"503": oaObj{"description": "not ready", "content": oaJSONContent(probe)},
		},
	})
	add("/metrics", "get", oaObj{
		"tags": []any{"Operators"}, "summary": "Prometheus metrics",
		"description": "The text exposition format. With -ops-token set it takes the operator token, otherwise none.",
		"security":    []any{oaObj{"opsToken": []any{}}, oaObj{}},
		"responses": oaObj{
			"200": oaObj{"description": "the metrics", "content": oaObj{"text/plain": oaObj{"schema": oaStr("")}}},
			"401": oaObj{"description": "wrong or missing operator token"},
		},
	})
	node := oaObject([]string{"address", "state"}, oaObj{
		"address":               oaStr("the node's event socket, host:port, as serve's -fs names it"),
		"core_uuid":             oaStr("the node's Core-UUID: it changes when the node restarts"),
		"state":                 oaEnum("", nodes.StateUp, nodes.StateDraining, nodes.StateDrained, nodes.StateDown),
		"connected":             oaBool("an instance reached it within the last 6 s"),
		"drained":               oaBool("no new calls are placed on it"),
		"sessions":              oaInt("channels on the node"),
		"max_sessions":          oaInt("the node's session limit"),
		"idle_cpu":              oaTyped("number", "the node's idle CPU, in percent"),
		"heartbeat_age_seconds": oaTyped("number", "age of its last HEARTBEAT (null: none yet)"),
		"last_heartbeat":        oaStr("RFC 3339"),
		"seen_by":               oaStr("the instance whose report this is"),
		"seen_at":               oaStr("RFC 3339"),
		"drained_at":            oaStr("RFC 3339"),
	})
	ops := func(summary, desc string, ok oaObj, params bool) oaObj {
		op := oaObj{
			"tags": []any{"Operators"}, "summary": summary, "description": desc,
			"security": []any{oaObj{"opsToken": []any{}}},
			"responses": oaObj{
				"200": oaObj{"description": "done", "content": oaJSONContent(ok)},
				"401": oaObj{"description": "wrong or missing operator token (code 1010)", "content": oaJSONContent(oaRef("Failure"))},
				"403": oaObj{"description": "the operator API is off: no -ops-token (code 1018)", "content": oaJSONContent(oaRef("Failure"))},
			},
		}
		if params {
			op["parameters"] = []any{oaObj{"name": "address", "in": "path", "required": true, "schema": oaStr(""),
				"description": "the node's host:port"}}
			op["responses"].(oaObj)["404"] = oaObj{"description": "no node known at that address (code 1001)", "content": oaJSONContent(oaRef("Failure"))}
		}
		return op
	}
	add(opsPrefix+"/nodes", "get", ops("The cluster's FreeSWITCH nodes",
		"Every node the instances know, with the freshest report of any of them.",
		oaObject([]string{"nodes"}, oaObj{"nodes": oaArray(node, "")}), false))
	add(opsPrefix+"/nodes/{address}/drain", "post", ops("Drain a node",
		"No new calls are placed on the node, from any instance (within 2 s); its live calls go on. "+
			"The node is draining while calls are left on it, then drained.",
		oaObject([]string{"node"}, oaObj{"node": node}), true))
	add(opsPrefix+"/nodes/{address}/undrain", "post", ops("Undrain a node", "Calls are placed on the node again.",
		oaObject([]string{"node"}, oaObj{"node": node}), true))
}

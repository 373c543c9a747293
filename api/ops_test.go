package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/nodes"
)

type fakePinger struct{ err error }

func (p fakePinger) Ping(context.Context) error { return p.err }

// drainNodes records drains of the one node it knows.
type drainNodes struct{ drained []string }

func (d *drainNodes) List(context.Context) ([]nodes.View, error) {
	return []nodes.View{{Address: "10.0.0.1:8021", State: nodes.StateUp, Connected: true}}, nil
}

func (d *drainNodes) SetDrained(_ context.Context, address string, drained bool) (nodes.View, error) {
	if address != "10.0.0.1:8021" {
		return nodes.View{}, nodes.ErrUnknownNode
	}
	if drained {
		d.drained = append(d.drained, address)
	}
	return nodes.View{Address: address, Drained: drained, State: nodes.StateDrained}, nil
}

func opsReq(t *testing.T, h http.Handler, method, path, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestOperatorAPI(t *testing.T) {
	const token = "operator-token-0123456789"
	cluster := &drainNodes{}
	reasons := []string{}
	srv := api.New(api.Options{Version: "test", Database: fakePinger{}, Metrics: metrics.New("test"), OpsToken: token,
		Nodes: cluster, Ready: func(context.Context) []string { return reasons }})
	h := srv.Handler()
	for _, c := range []struct {
		method, path, token string
		code                int
		want                string
	}{
		{"GET", "/livez", "", 200, `"status":"ok"`},
		{"GET", "/readyz", "", 200, `"status":"ok"`},
		{"GET", "/ops/v1/nodes", "", 401, `"code":1010`},
		{"GET", "/ops/v1/nodes", "not-the-token-0123456789", 401, `"code":1010`},
		{"GET", "/ops/v1/nodes", token, 200, `"address":"10.0.0.1:8021"`},
		{"POST", "/ops/v1/nodes/10.0.0.1:8021/drain", token, 200, `"drained":true`},
		{"POST", "/ops/v1/nodes/10.0.0.9:8021/drain", token, 404, `"code":1001`},
		{"POST", "/ops/v1/nodes/10.0.0.1:8021/drain/extra", token, 404, `"code":1001`},
		{"GET", "/ops/v1/nodes/10.0.0.1:8021/drain", token, 405, `"code":1005`},
		{"GET", "/metrics", "", 401, ""},
		{"GET", "/metrics", token, 200, "switchyard_build_info"},
	} {
		code, body := opsReq(t, h, c.method, c.path, c.token)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s (token %q): %d %s, want %d with %s", c.method, c.path, c.token, code, body, c.code, c.want)
		}
	}
	if len(cluster.drained) != 1 {
		t.Errorf("drains: %v", cluster.drained)
	}
	// The API's own requests are counted, by route template.
	if _, body := opsReq(t, h, "GET", "/metrics", token); !strings.Contains(body,
		`switchyard_api_requests_total{code="200",method="POST",route="/ops/v1/nodes/:address/drain"} 1`) {
		t.Errorf("metrics do not count the drain request:\n%s", body)
	}

	reasons = []string{"draining: shutting down"}
	if code, body := opsReq(t, h, "GET", "/readyz", ""); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("readyz while draining: %d %s", code, body)
	}
	if code, _ := opsReq(t, h, "GET", "/livez", ""); code != 200 {
		t.Errorf("livez while draining: %d", code)
	}
	down := api.New(api.Options{Database: fakePinger{errors.New("refused")}}).Handler()
	if code, body := opsReq(t, down, "GET", "/readyz", ""); code != 503 || !strings.Contains(body, "database unreachable") {
		t.Errorf("readyz without a database: %d %s", code, body)
	}
	// Without a token the node routes are closed and /metrics is open.
	open := api.New(api.Options{Metrics: metrics.New("test"), Nodes: cluster}).Handler()
	if code, body := opsReq(t, open, "GET", "/ops/v1/nodes", "anything"); code != 403 || !strings.Contains(body, "-ops-token") {
		t.Errorf("node list without an operator token configured: %d %s", code, body)
	}
	if code, _ := opsReq(t, open, "GET", "/metrics", ""); code != 200 {
		t.Errorf("metrics without an operator token configured: %d", code)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/nodes"
	"github.com/switchyard/switchyard/orchestrator/sms"
)

var (
	echoParam     = regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	templateParam = regexp.MustCompile(`\{([^}]+)\}`)
)

// oaPathOf turns an Echo route path (:param) into an OpenAPI one ({param}).
func oaPathOf(echoPath string) string {
	return echoParam.ReplaceAllString(echoPath, "{$1}")
}

// hasJSONForm reports whether a route also answers with the .json suffix
// (every v1 API resource; recording files are not JSON).
func hasJSONForm(path string) bool {
	return strings.HasPrefix(path, "/v1/") && !strings.Contains(path, "/Recordings/")
}

func fetchOpenAPI(t *testing.T, e *mgEnv) map[string]any {
	t.Helper()
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/openapi.json", NoAuth: true})
	if res.JSON == nil {
		t.Fatalf("not JSON: %s", res.Header.Get("Content-Type"))
	}
	return res.JSON
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	// With every optional route on.
	e := newMgEnv(t, func(o *api.Options) {
		o.SMSReports = func(context.Context, sms.Report) error { return nil }
		o.Metrics = metrics.New("test")
		o.Nodes = noNodes{}
	})
	doc := fetchOpenAPI(t, e)
	if doc["openapi"] != "3.0.3" || digStr(doc, "info", "version") != "test" {
		t.Errorf("header: openapi %v, version %v", doc["openapi"], dig(doc, "info", "version"))
	}
	paths, _ := doc["paths"].(map[string]any)
	documented := func(path, method string) bool {
		_, ok := dig(paths, path, strings.ToLower(method)).(map[string]any)
		return ok
	}

	registered := map[string]bool{}
	for _, r := range e.api.Routes() {
		if r.Method == echo.RouteNotFound {
			continue // the catch-all Echo adds for group middleware
		}
		if console.IsConsolePath(r.Path) {
			continue // the web console's pages are not the API
		}
		p := oaPathOf(r.Path)
		registered[strings.ToLower(r.Method)+" "+p] = true
		if !documented(p, r.Method) {
			t.Errorf("route %s %s is missing from the OpenAPI document (as %s)", r.Method, r.Path, p)
		}
		if hasJSONForm(p) && !documented(p+".json", r.Method) {
			t.Errorf("route %s %s: its .json form is missing from the OpenAPI document", r.Method, r.Path)
		}
	}
	for _, must := range []string{"get /healthz", "get /openapi.json", "post /v1/Accounts/{sid}/Calls/connect",
		"get /v1/Accounts/{sid}/Calls/{CallSid}", "get /v1/Accounts/{sid}/Calls", "post /v3/accounts/{sid}/calls",
		"get /v3/accounts/{sid}/calls/{call_sid}", "get /v3/accounts/{sid}/calls/{call_sid}/legs",
		"get /v1/Accounts/{sid}/Recordings/{id}", "post /v2/accounts/{sid}/flows", "put /v2/accounts/{sid}/exophones/{number}",
		"get /v2/accounts/{sid}/calls/{call_sid}/callbacks"} {
		if !registered[must] {
			t.Errorf("the server does not register %s", must)
		}
	}

	// And the other way: nothing documented that the server lacks.
	for p, item := range paths {
		for method := range item.(map[string]any) {
			base := p
			if hasJSONForm(p) {
				base = strings.TrimSuffix(p, ".json")
			}
			if !registered[method+" "+base] {
				t.Errorf("the document describes %s %s, which the server does not register", method, p)
			}
		}
	}
}

func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	e := newMgEnv(t)
	doc := fetchOpenAPI(t, e)

	// Every $ref resolves.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				refs = append(refs, r)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref at all")
	}
	resolve := func(ref string) map[string]any {
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		if !strings.HasPrefix(ref, "#/components/") || len(parts) != 3 {
			return nil
		}
		m, _ := dig(doc, parts[0], parts[1], parts[2]).(map[string]any)
		return m
	}
	for _, r := range refs {
		if resolve(r) == nil {
			t.Errorf("$ref %s does not resolve", r)
		}
	}

	if digStr(doc, "components", "securitySchemes", "basicAuth", "scheme") != "basic" {
		t.Error("no HTTP basic security scheme")
	}
	for _, name := range []string{"RestException", "Failure", "ErrorData", "ListMetadata"} {
		if dig(doc, "components", "schemas", name) == nil {
			t.Errorf("schema %s missing", name)
		}
	}

	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for p, item := range doc["paths"].(map[string]any) {
		want := map[string]bool{}
		for _, m := range templateParam.FindAllStringSubmatch(p, -1) {
			want[m[1]] = true
		}
		for method, raw := range item.(map[string]any) {
			if !slices.Contains(methods, method) {
				t.Errorf("%s: %q is not an HTTP method", p, method)
				continue
			}
			op := raw.(map[string]any)
			where := method + " " + p
			if digStr(op, "summary") == "" {
				t.Errorf("%s: no summary", where)
			}
			got := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, prm := range params {
				pm, _ := prm.(map[string]any)
				if r, ok := pm["$ref"].(string); ok {
					pm = resolve(r)
				}
				if digStr(pm, "in") == "path" {
					got[digStr(pm, "name")] = true
					if dig(pm, "required") != true {
						t.Errorf("%s: path parameter %s not required", where, digStr(pm, "name"))
					}
				}
			}
			for name := range want {
				if !got[name] {
					t.Errorf("%s: path parameter {%s} not declared", where, name)
				}
			}
			for name := range got {
				if !want[name] {
					t.Errorf("%s: declares path parameter %s that the path lacks", where, name)
				}
			}
			responses, _ := op["responses"].(map[string]any)
			ok := false
			for code := range responses {
				ok = ok || strings.HasPrefix(code, "2")
			}
			if !ok {
				t.Errorf("%s: no 2xx response", where)
			}
		}
	}

	// The public endpoints say so; the others inherit HTTP basic.
	for _, p := range []string{"/healthz", "/openapi.json"} {
		if sec, ok := dig(doc, "paths", p, "get", "security").([]any); !ok || len(sec) != 0 {
			t.Errorf("%s should have an empty security list", p)
		}
	}
	if sec, ok := doc["security"].([]any); !ok || len(sec) != 1 {
		t.Error("no global security requirement")
	}

	// Served the same twice (cached), and valid JSON throughout.
	first := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/openapi.json", NoAuth: true})
	again := e.must(http.StatusOK, mgReq{Method: "GET", Path: "/openapi.json", NoAuth: true})
	var back map[string]any
	if err := json.Unmarshal(again.Raw, &back); err != nil || len(back["paths"].(map[string]any)) != len(doc["paths"].(map[string]any)) {
		t.Errorf("second fetch differs: %v", err)
	}
	if !bytes.Equal(again.Raw, first.Raw) {
		t.Error("the second fetch is not byte for byte the first")
	}
}

// noNodes is a cluster without nodes, to turn the node routes on.
type noNodes struct{}

func (noNodes) List(context.Context) ([]nodes.View, error) { return nil, nil }
func (noNodes) SetDrained(_ context.Context, address string, _ bool) (nodes.View, error) {
	return nodes.View{}, fmt.Errorf("%w: %s", nodes.ErrUnknownNode, address)
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// hostileValues are inputs that have broken servers: bad bytes (which
// PostgreSQL refuses and SQLite stores), numbers out of any column's
// range, long strings, quoting and escaping tricks.
var hostileValues = []string{
	"\x00",
	"nul\x00inside",
	"\xff\xfe",
	"caf\xe9",
	"\x01\x1b[31m",
	"a\tb\r\nc",
	"-99999999999999999999999",
	strings.Repeat("A", 2048),
	"' OR '1'='1",
	"%00/../\u202e",
}

// hostileBodies are valid bodies of the routes that take one; each string
// in them is replaced, one at a time, by each hostile value.
func hostileBodies(e *callsEnv) map[string]string {
	doc := `{"start":"hello","applets":{"hello":{"type":"greeting","config":{"prompt":{"text":"Hi"}},"outputs":{"next":"bye"}},"bye":{"type":"hangup"}}}`
	user := `{"name":"Agent","email":"agent@example.com","devices":["+15550100061"]}`
	return map[string]string{
		"POST /v3/accounts/:sid/calls": `{"from":{"contact_uri":"+15550100001","state_management":true},"to":{"contact_uri":"+15550100002"},` +
			`"virtual_number":"` + envExoPhone + `","custom_field":"c","recording":{"record":true,"channels":"dual"},` +
			`"status_callback":[{"event":"terminal","url":"https://crm.example/cb"}]}`,
		"POST /v2/accounts/:sid/flows":                    `{"name":"Hostile","document":` + doc + `}`,
		"PUT /v2/accounts/:sid/flows/:flow_id":            `{"name":"Hostile","document":` + doc + `}`,
		"POST /v2/accounts/:sid/flows/:flow_id/validate":  `{"document":` + doc + `}`,
		"POST /v2/accounts/:sid/flows/:flow_id/duplicate": `{"name":"Copy"}`,
		"POST /v2/accounts/:sid/exophones":                `{"number":"+918047000055","friendly_name":"F","flow_id":"` + e.flowID + `"}`,
		"PUT /v2/accounts/:sid/exophones/:number":         `{"flow_id":"` + e.flowID + `"}`,
		"POST /v2/accounts/:sid/users":                    user,
		"PUT /v2/accounts/:sid/users/:user_sid":           user,
	}
}

// hostileForm is the v1 connect form; each value is replaced in turn.
var hostileForm = url.Values{"From": {"+15550100001"}, "To": {"+15550100002"}, "CallerId": {envExoPhone},
	"CustomField": {"c"}, "StatusCallback": {"https://crm.example/cb"}, "Url": {""}, "TimeOut": {"30"}}

// jsonString writes s as a JSON string literal keeping invalid UTF-8 as
// raw bytes (encoding/json would replace it), control characters escaped.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var jsonStringLiteral = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// bodyVariants returns body with each string value (not object keys)
// replaced, one at a time, by v.
func bodyVariants(body, v string) []string {
	var out []string
	locs := jsonStringLiteral.FindAllStringIndex(body, -1)
	for _, l := range locs {
		if strings.HasPrefix(strings.TrimLeft(body[l[1]:], " "), ":") {
			continue // a key
		}
		out = append(out, body[:l[0]]+jsonString(v)+body[l[1]:])
	}
	return out
}

// documentedQuery returns the query parameters the OpenAPI document
// gives each operation ("get /v1/Accounts/{sid}/Calls").
func documentedQuery(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := json.Marshal(OpenAPIDocument("test"))
	envMust(t, err)
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []map[string]any }
		Components struct{ Parameters map[string]map[string]any }
	}
	envMust(t, json.Unmarshal(raw, &doc))
	out := map[string][]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for _, p := range op.Parameters {
				if ref, ok := p["$ref"].(string); ok {
					p = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
				}
				if p["in"] == "query" {
					out[method+" "+path] = append(out[method+" "+path], p["name"].(string))
				}
			}
		}
	}
	return out
}

var echoParamName = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestHostileInputsNeverAnswer5xx sends every hostile value in every input
// location (each path parameter, each documented query parameter, each
// string of the body, the Basic-auth user and password) to every route,
// on SQLite and PostgreSQL, with the input gate and without it: bad input
// is the client's error, never a 500, even when it reaches the database.
func TestHostileInputsNeverAnswer5xx(t *testing.T) {
	if testing.Short() {
		t.Skip("sends thousands of requests")
	}
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		for _, gate := range []bool{true, false} {
			t.Run(fmt.Sprintf("gate=%v", gate), func(t *testing.T) {
				t.Parallel()
				e := newCallsEnvOn(t, dsn, Options{noHygiene: !gate})
				e.seedGolden()
				u, err := e.db.Users().Create(context.Background(), envAccount, store.UserInput{Name: "Agent", Devices: []string{"+15550100071"}})
				envMust(t, err)
				fixtures := map[string]string{
					"sid": envAccount, "CallSid": envGoldenSID, "call_sid": envGoldenSID, "flow_id": e.flowID,
					"version": "1", "number": url.PathEscape(envExoPhone), "user_sid": u.SID, "id": "re_000000000000000000000001",
				}
				sendHostile(t, e, fixtures)
			})
		}
	})
}

func sendHostile(t *testing.T, e *callsEnv, fixtures map[string]string) {
	queries := documentedQuery(t)
	bodies := hostileBodies(e)
	h := &hostileSender{t: t, do: e.do}
	check := h.check
	routes := e.srv.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path })
	for _, rt := range routes {
		pathWith := func(param, value string) string {
			return echoParamName.ReplaceAllStringFunc(rt.Path, func(m string) string {
				if m[1:] == param {
					return value
				}
				return fixtures[m[1:]]
			})
		}
		base := pathWith("", "")
		key := rt.Method + " " + rt.Path
		body, hasBody := bodies[key]
		withBody := func(r envReq) envReq {
			switch {
			case hasBody:
				r.body, r.contentType = body, "application/json"
			case key == "POST /v1/Accounts/:sid/Calls/connect":
				r.body, r.contentType = hostileForm.Encode(), "application/x-www-form-urlencoded"
			}
			return r
		}
		oaKey := strings.ToLower(rt.Method) + " " + echoParamName.ReplaceAllString(rt.Path, "{$1}")
		for _, v := range hostileValues {
			for _, m := range echoParamName.FindAllStringSubmatch(rt.Path, -1) {
				check("path "+m[1], withBody(envReq{method: rt.Method, path: pathWith(m[1], url.PathEscape(v))}))
			}
			for _, q := range queries[oaKey] {
				check("query "+q, withBody(envReq{method: rt.Method, path: base + "?" + url.Values{q: {v}}.Encode()}))
			}
			check("Basic user", withBody(envReq{method: rt.Method, path: base, user: v, pass: e.token}))
			check("Basic password", withBody(envReq{method: rt.Method, path: base, user: envAccount, pass: v}))
			if hasBody {
				for _, b := range bodyVariants(body, v) {
					check("body", envReq{method: rt.Method, path: base, body: b, contentType: "application/json"})
				}
			}
			if key == "POST /v1/Accounts/:sid/Calls/connect" {
				for _, sfx := range []string{"", ".json"} {
					for field := range hostileForm {
						form := url.Values{}
						for k, vs := range hostileForm {
							form[k] = vs
						}
						form.Set(field, v)
						check("form "+field, envReq{method: rt.Method, path: base + sfx, body: form.Encode(),
							contentType: "application/x-www-form-urlencoded"})
					}
				}
			}
		}
	}
	h.report()
}

// hostileSender sends hostile requests and fails the test on every answer
// in 5xx (reporting the first 20).
type hostileSender struct {
	t              *testing.T
	do             func(envReq) *httptest.ResponseRecorder
	sent, failures int
}

func (h *hostileSender) check(what string, r envReq) {
	h.t.Helper()
	h.sent++
	rec := h.do(r)
	if rec.Code >= 500 {
		h.failures++
		if h.failures <= 20 {
			h.t.Errorf("%s: %s %s: status %d\n%s", what, r.method, r.path, rec.Code, rec.Body)
		}
	}
}

func (h *hostileSender) report() {
	h.t.Helper()
	if h.failures > 0 {
		h.t.Errorf("%d of %d hostile requests answered 5xx", h.failures, h.sent)
		return
	}
	h.t.Logf("%d hostile requests, none answered 5xx", h.sent)
}

package api

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// multipartBody builds a multipart/form-data body from name, value pairs,
// both written as given (bad bytes included).
func multipartBody(t *testing.T, pairs ...string) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(pairs); i += 2 {
		fw, err := w.CreateFormField(pairs[i])
		envMust(t, err)
		_, err = fw.Write([]byte(pairs[i+1]))
		envMust(t, err)
	}
	envMust(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

// gateFailure checks a 400 in the surface's error format and returns its
// message.
func gateFailure(t *testing.T, surface string, jsonV1 bool, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400\n%s", rec.Code, rec.Body)
	}
	switch {
	case surface == surfaceV1 && jsonV1:
		var body struct{ RestException restException }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.RestException.Status != 400 {
			t.Fatalf("not a v1 JSON RestException (%v): %s", err, rec.Body)
		}
		return body.RestException.Message
	case surface == surfaceV1:
		var body struct {
			XMLName xml.Name      `xml:"TwilioResponse"`
			Exc     restException `xml:"RestException"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Exc.Status != 400 {
			t.Fatalf("not a v1 XML RestException (%v): %s", err, rec.Body)
		}
		return body.Exc.Message
	default:
		m := callsJSON(t, rec)
		if jsonAt(t, m, "http_code") != float64(400) || jsonAt(t, m, "response", "status") != "failure" ||
			jsonAt(t, m, "response", "error_data", "code") != float64(CodeBadRequest) {
			t.Fatalf("not a v2/v3 failure envelope with code %d: %s", CodeBadRequest, rec.Body)
		}
		return jsonAt(t, m, "response", "error_data", "description").(string)
	}
}

func TestInputGateRefusesBadText(t *testing.T) {
	e := newCallsEnv(t)
	v1 := "/v1/Accounts/" + envAccount
	v2 := "/v2/accounts/" + envAccount
	v3 := "/v3/accounts/" + envAccount
	form := "application/x-www-form-urlencoded"
	goodForm := "From=%2B15550100001&To=%2B15550100002&CallerId=" + url.QueryEscape(envExoPhone)
	mpNUL, mpNULType := multipartBody(t, "From", "+1555\x00", "CallerId", envExoPhone)
	mpUTF8, mpUTF8Type := multipartBody(t, "CustomField", "caf\xe9", "CallerId", envExoPhone)
	mpName, mpNameType := multipartBody(t, "Fr\x01om", "+15550100001")

	type gateCase struct {
		name    string
		surface string
		jsonV1  bool
		req     envReq
		where   string // a word of the message
	}
	var cases []gateCase
	// Per surface and per input location. v1 answers XML and, with the
	// .json suffix, JSON.
	for _, sfx := range []string{"", ".json"} {
		j := sfx != ""
		cases = append(cases,
			gateCase{"v1" + sfx + " path NUL", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls/ab%00cd" + sfx}, "path"},
			gateCase{"v1" + sfx + " path invalid UTF-8 escaped", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls/%FF%FE" + sfx}, "path"},
			gateCase{"v1" + sfx + " path invalid UTF-8 raw", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls/\xc3\x28" + sfx}, "path"},
			gateCase{"v1" + sfx + " path DEL", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls/a%7F" + sfx}, "path"},
			gateCase{"v1" + sfx + " query value NUL", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx + "?To=%2B1555%00"}, "query"},
			gateCase{"v1" + sfx + " query value tab", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx + "?Status=completed%09"}, "query"},
			gateCase{"v1" + sfx + " query value invalid UTF-8", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx + "?From=%C3%28"}, "query"},
			gateCase{"v1" + sfx + " query name control", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx + "?Fr%1Bom=1"}, "query"},
			gateCase{"v1" + sfx + " query bad escape", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx + "?From=%G1"}, "query"},
			gateCase{"v1" + sfx + " form value NUL", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: goodForm + "&CustomField=a%00b", contentType: form}, "form"},
			gateCase{"v1" + sfx + " form value invalid UTF-8", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: goodForm + "&CustomField=%FF", contentType: form}, "form"},
			gateCase{"v1" + sfx + " form value vertical tab", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: goodForm + "&CustomField=a%0Bb", contentType: form}, "form"},
			gateCase{"v1" + sfx + " form name NUL", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: goodForm + "&Cu%00stom=1", contentType: form}, "form"},
			gateCase{"v1" + sfx + " multipart value NUL", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: mpNUL, contentType: mpNULType}, "form"},
			gateCase{"v1" + sfx + " multipart value invalid UTF-8", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: mpUTF8, contentType: mpUTF8Type}, "form"},
			gateCase{"v1" + sfx + " multipart field name control", surfaceV1, j, envReq{method: "POST", path: v1 + "/Calls/connect" + sfx,
				body: mpName, contentType: mpNameType}, "multipart"},
			gateCase{"v1" + sfx + " Basic user NUL", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx, user: "ac\x00me1", pass: "x"}, "Basic-auth"},
			gateCase{"v1" + sfx + " Basic password invalid UTF-8", surfaceV1, j, envReq{method: "GET", path: v1 + "/Calls" + sfx, user: envAccount, pass: "\xff"}, "Basic-auth"},
		)
	}
	for _, c := range []struct {
		surface string
		base    string
		get     string // a GET route under base
		post    string // a POST route under base taking JSON
		body    string // its body, with %s for a JSON string value
	}{
		{surfaceV3, v3, "/calls/", "/calls", `{"from":{"contact_uri":"+15550100001"},"to":{"contact_uri":"+15550100002"},"virtual_number":"` + envExoPhone + `","custom_field":%s}`},
		{surfaceV3, v2, "/flows/", "/flows", `{"name":%s,"document":{"start":"bye","applets":{"bye":{"type":"hangup"}}}}`},
	} {
		tag := strings.TrimPrefix(c.base, "/")[:2]
		jsonReq := func(v string) envReq {
			return envReq{method: "POST", path: c.base + c.post, contentType: "application/json", body: strings.Replace(c.body, "%s", v, 1)}
		}
		cases = append(cases,
			gateCase{tag + " path NUL", c.surface, false, envReq{method: "GET", path: c.base + c.get + "x%00"}, "path"},
			gateCase{tag + " path control", c.surface, false, envReq{method: "GET", path: c.base + c.get + "x%0A"}, "path"},
			gateCase{tag + " path invalid UTF-8", c.surface, false, envReq{method: "GET", path: c.base + c.get + "%E2%82"}, "path"},
			gateCase{tag + " query NUL", c.surface, false, envReq{method: "GET", path: c.base + c.get + "x?fields=%00"}, "query"},
			gateCase{tag + " JSON escaped NUL", c.surface, false, jsonReq(`"a\u0000b"`), "JSON"},
			gateCase{tag + " JSON escaped ESC", c.surface, false, jsonReq(`"\u001b[31m"`), "JSON"},
			gateCase{tag + " JSON raw invalid UTF-8", c.surface, false, jsonReq("\"caf\xe9\""), "JSON"},
			gateCase{tag + " JSON escaped control in a key", c.surface, false,
				envReq{method: "POST", path: c.base + c.post, contentType: "application/json", body: `{"k\u0000":1}`}, "JSON"},
			gateCase{tag + " JSON raw control", c.surface, false, jsonReq("\"a\x01\""), "JSON"},
			gateCase{tag + " Basic user control", c.surface, false, envReq{method: "GET", path: c.base + c.get + "x", user: "acme\t1", pass: "x"}, "Basic-auth"},
			gateCase{tag + " Basic password NUL", c.surface, false, envReq{method: "GET", path: c.base + c.get + "x", user: envAccount, pass: "to\x00ken"}, "Basic-auth"},
			gateCase{tag + " other body type", c.surface, false,
				envReq{method: "POST", path: c.base + c.post, contentType: "text/plain", body: "hello\x00"}, "body"},
		)
	}
	// Outside the account routes the gate answers in the plain format.
	cases = append(cases, gateCase{"plain path NUL", surfacePlain, false, envReq{method: "GET", path: "/healthz%00", noAuth: true}, "path"})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.callRows()
			rec := e.do(tc.req)
			if tc.surface == surfacePlain {
				m := callsJSON(t, rec)
				if rec.Code != 400 || m["status"] != float64(400) || !strings.Contains(m["error"].(string), tc.where) {
					t.Fatalf("plain: %d %s", rec.Code, rec.Body)
				}
				return
			}
			msg := gateFailure(t, tc.surface, tc.jsonV1, rec)
			if !strings.Contains(msg, tc.where) {
				t.Errorf("message %q does not name the %s", msg, tc.where)
			}
			if !utf8Clean(msg) {
				t.Errorf("message echoes bad bytes: %q", msg)
			}
			if e.callRows() != before {
				t.Error("a refused request stored a call")
			}
		})
	}
	if n := len(e.placer.requests()); n != 0 {
		t.Errorf("%d refused requests reached the placer", n)
	}
}

func utf8Clean(s string) bool { return badText(s, false) == "" }

// TestInputGateRunsBeforeAuthentication: bad bytes with wrong credentials
// are 400, not 401, and spend nothing of the failed-auth budget.
func TestInputGateRunsBeforeAuthentication(t *testing.T) {
	e := newCallsEnvOn(t, storetest.SQLiteDSN, Options{AuthFailureLimit: 1})
	rec := e.do(envReq{method: "GET", path: "/v3/accounts/" + envAccount + "/calls/x%00", user: "nobody", pass: "wrong"})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	for range 3 {
		e.do(envReq{method: "GET", path: "/v3/accounts/" + envAccount + "/calls/x", user: "nobody\x00", pass: "wrong"})
	}
	if rec := e.do(envReq{method: "GET", path: "/v3/accounts/" + envAccount + "/calls/x", user: "nobody", pass: "wrong"}); rec.Code != http.StatusUnauthorized {
		t.Errorf("first real failure: %d, want 401", rec.Code)
	}
}

// TestInputGateKeepsBodies runs the gate alone: what it lets through
// reaches the handler byte for byte, parsed as the handlers parse it.
func TestInputGateKeepsBodies(t *testing.T) {
	mp, mpType := multipartBody(t, "CustomField", "line 1\r\nline 2\ttabbed", "From", "+15550100001")
	cases := []struct {
		name, contentType, body string
		form                    url.Values // what FormParams must return
	}{
		{"form with tab, CR, LF", "application/x-www-form-urlencoded", "CustomField=a%09b%0D%0Ac&From=%2B1", url.Values{"CustomField": {"a\tb\r\nc"}, "From": {"+1"}}},
		{"multipart with CR LF", mpType, mp, url.Values{"CustomField": {"line 1\r\nline 2\ttabbed"}, "From": {"+15550100001"}}},
		{"JSON with escapes", "application/json", `{"name":"a\tb\nc","text":"caf\u00e9 \ud83d\ude00","n":1e400}`, nil},
		{"JSON with DEL", "application/json", "{\"name\":\"a\x7f\"}", nil},
		{"malformed JSON left to the handler", "application/json", `{"name": "x",`, nil},
		{"no body", "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var gotForm url.Values
			h := (&Server{}).inputHygiene(func(c echo.Context) error {
				if tc.form != nil {
					f, err := c.FormParams()
					if err != nil {
						return err
					}
					gotForm = f
					return nil
				}
				b, err := io.ReadAll(c.Request().Body)
				got = b
				return err
			})
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest("POST", "/v2/accounts/acme1/flows?ok=%C3%A9&q=a+b", body)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.SetBasicAuth("acme1", "tøken with spaces")
			c := echo.New().NewContext(req, httptest.NewRecorder())
			if err := h(c); err != nil {
				t.Fatalf("gate refused: %v", err)
			}
			if tc.form != nil {
				for k, v := range tc.form {
					if strings.Join(gotForm[k], "|") != strings.Join(v, "|") {
						t.Errorf("form %s = %q, want %q", k, gotForm[k], v)
					}
				}
				return
			}
			if string(got) != tc.body {
				t.Errorf("handler read %q, want %q", got, tc.body)
			}
		})
	}
}

// TestInputGateBodyCap: a body over MaxBody of unknown length (no
// Content-Length to refuse it by) is 413 from the gate, which reads it.
func TestInputGateBodyCap(t *testing.T) {
	e := newCallsEnvOn(t, storetest.SQLiteDSN, Options{MaxBody: 1024})
	req := httptest.NewRequest("POST", "/v2/accounts/"+envAccount+"/flows",
		io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 4096)), strings.NewReader(`"}`)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(envAccount, e.token)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413\n%s", rec.Code, rec.Body)
	}
	if code := jsonAt(t, callsJSON(t, rec), "response", "error_data", "code"); code != float64(CodeTooLarge) {
		t.Errorf("code %v, want %d", code, CodeTooLarge)
	}
}

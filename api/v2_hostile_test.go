package api

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestV2HostileInputsNeverAnswer5xx sends every hostile value in every
// input location of the v2 campaign, contact, list and do-not-call routes
// (path parameters, documented query parameters, each string of a JSON
// body, each field of an uploaded CSV, the Basic-auth credentials), on
// SQLite and PostgreSQL, with the input gate and without it: never a 5xx.
func TestV2HostileInputsNeverAnswer5xx(t *testing.T) {
	if testing.Short() {
		t.Skip("sends thousands of requests")
	}
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		for _, gate := range []bool{true, false} {
			t.Run(fmt.Sprintf("gate=%v", gate), func(t *testing.T) {
				t.Parallel()
				e := newV2Env(t, dsn, Options{noHygiene: !gate})
				sendV2Hostile(t, e)
			})
		}
	})
}

func sendV2Hostile(t *testing.T, e *v2Env) {
	campaignSID := e.createCampaign()
	m := e.must(http.StatusOK, "POST", v2Path("/contacts"), `{"contacts": [{"number": "+919800000001"}]}`)
	contactSID := v2DigStr(m, "response", 0, "data", "sid")
	m = e.must(http.StatusOK, "POST", v2Path("/lists"), `{"lists": [{"name": "Hostile"}]}`)
	listSID := v2DigStr(m, "response", 0, "data", "sid")
	e.must(http.StatusOK, "POST", v2Path("/dnd-numbers"), `{"numbers": ["+919800000002"]}`)
	fixtures := map[string]string{"sid": envAccount, "campaign_sid": campaignSID, "contact_sid": contactSID,
		"list_sid": listSID, "dnd_number": url.PathEscape("+919800000002")}
	contact := `{"number": "+919800000003", "first_name": "A", "last_name": "B", "company_name": "C", "email": "a@example.com",` +
		` "tag": "t", "custom_field": {"k": "v"}, "timezone": "Asia/Kolkata"}`
	bodies := map[string]string{
		"POST /v2/accounts/:sid/campaigns": v2JSON(t, map[string]any{"campaigns": []any{e.v2CampaignJSON(
			"from", "+919800000001,+919800000002", "lists", []string{listSID}, "timezone", "Asia/Kolkata",
			"schedule", map[string]any{"send_at": "2099-01-14T10:00:00+05:30", "recurrence": "0 10 * * 1-5"})}}),
		"PUT /v2/accounts/:sid/campaigns/:campaign_sid": `{"campaigns": [{"name": "Renamed", "action": "pause",` +
			` "status_callback": "https://crm.example/cb", "url": "` + e.v2FlowURL() + `", "caller_id": "08047000000"}]}`,
		"POST /v2/accounts/:sid/contacts":                 `{"contacts": [` + contact + `]}`,
		"PUT /v2/accounts/:sid/contacts/:contact_sid":     contact,
		"POST /v2/accounts/:sid/lists":                    `{"lists": [{"name": "L", "tag": "t"}]}`,
		"POST /v2/accounts/:sid/lists/:list_sid/contacts": `{"contact_references": [{"contact_sid": "` + contactSID + `"}]}`,
		"POST /v2/accounts/:sid/dnd-numbers":              `{"numbers": ["+919800000004"], "reason": "r"}`,
	}
	const upload = "POST /v2/accounts/:sid/lists/:list_sid/contacts"
	csvRow := []string{"+919800000005", "First", "Last", "Co", "x@example.com", "tag", "Asia/Kolkata", "custom"}
	queries := documentedQuery(t)

	h := &hostileSender{t: t, do: e.do}
	check := h.check
	routes := e.srv.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path })
	for _, rt := range routes {
		rest, ok := strings.CutPrefix(rt.Path, "/v2/accounts/:sid/")
		if !ok || !(strings.HasPrefix(rest, "campaigns") || strings.HasPrefix(rest, "contacts") ||
			strings.HasPrefix(rest, "lists") || strings.HasPrefix(rest, "dnd-numbers")) {
			continue
		}
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
			if hasBody {
				r.body, r.contentType = body, "application/json"
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
			if key == upload {
				header := "number,first_name,last_name,company_name,email,tag,timezone," + strings.ReplaceAll(v, "\n", " ")
				for i := range csvRow {
					row := append([]string(nil), csvRow...)
					row[i] = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
					csv := "number,first_name,last_name,company_name,email,tag,timezone,custom\n" + strings.Join(row, ",") + "\n"
					check("csv field", envReq{method: rt.Method, path: base, body: csv, contentType: "text/csv"})
					mp, ct := v2Multipart(t, "file", csv)
					check("csv file", envReq{method: rt.Method, path: base, body: mp, contentType: ct})
				}
				check("csv header", envReq{method: rt.Method, path: base, body: header + "\n" + strings.Join(csvRow, ",") + "\n",
					contentType: "text/csv"})
			}
		}
	}
	h.report()
}

package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// numbersForm sends a v2_beta form request as envAccount.
func (e *v2Env) numbersForm(method, path string, form url.Values) (int, map[string]any, []byte) {
	e.t.Helper()
	r := envReq{method: method, path: path}
	if form != nil {
		r.body, r.contentType = form.Encode(), "application/x-www-form-urlencoded"
	}
	rec := e.do(r)
	var m map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		m = callsJSON(e.t.(*testing.T), rec)
	}
	return rec.Code, m, rec.Body.Bytes()
}

const betaNumbers = "/v2_beta/Accounts/" + envAccount + "/IncomingPhoneNumbers"

// The ExoPhones as v2_beta's IncomingPhoneNumbers and v2's
// incoming-phone-numbers, in their shapes (golden files), with every
// change made through the form and every error in RestException.
func TestIncomingPhoneNumbers(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		golden := func(name string, code, want int, raw []byte) {
			t.Helper()
			if code != want {
				t.Fatalf("%s: %d, want %d\n%s", name, code, want, raw)
			}
			callsGolden(t, name, callsGoldenBody(t, v2Mask(raw, false), true))
		}

		code, _, raw := e.numbersForm("GET", betaNumbers, nil)
		golden("v2beta_numbers_list.json", code, 200, raw)
		code, m, raw := e.numbersForm("GET", betaNumbers+"?Page=0&PageSize=1", nil)
		if code != 200 || v2DigStr(m, "next_page_uri") == "" || v2Dig(m, "previous_page_uri") != nil ||
			len(v2Dig(m, "incoming_phone_numbers").([]any)) != 1 {
			t.Errorf("first page of 1: %d %s", code, raw)
		}
		code, m, raw = e.numbersForm("GET", betaNumbers+"?Page=1&PageSize=1", nil)
		if code != 200 || v2Dig(m, "next_page_uri") != nil || v2DigStr(m, "previous_page_uri") == "" ||
			v2DigStr(m, "incoming_phone_numbers", 0, "sid") != "918047000001" {
			t.Errorf("last page of 1: %d %s", code, raw)
		}

		// Created with a flow and a name, by an Indian national number.
		code, _, raw = e.numbersForm("POST", betaNumbers, url.Values{"PhoneNumber": {"08047000005"},
			"VoiceUrl": {e.v2FlowURL()}, "FriendlyName": {"Sales"}})
		golden("v2beta_number_create.json", code, 200, raw)
		code, _, raw = e.numbersForm("GET", betaNumbers+"/918047000005", nil)
		golden("v2beta_number_get.json", code, 200, raw)
		// The same by its E.164 form, escaped, and with .json.
		if code, m, raw = e.numbersForm("GET", betaNumbers+"/%2B918047000005.json", nil); code != 200 || v2DigStr(m, "friendly_name") != "Sales" {
			t.Errorf("by E.164 with .json: %d %s", code, raw)
		}
		// Unassigned and renamed.
		code, _, raw = e.numbersForm("PUT", betaNumbers+"/918047000005", url.Values{"VoiceUrl": {""}, "FriendlyName": {"Support"}})
		golden("v2beta_number_update.json", code, 200, raw)
		if p, err := e.db.Numbers().Get(t.Context(), envAccount, "+918047000005"); err != nil || p.FlowID != nil || p.FriendlyName != "Support" {
			t.Errorf("after PUT: %+v %v", p, err)
		}

		code, _, raw = e.numbersForm("GET", "/v2/accounts/"+envAccount+"/incoming-phone-numbers", nil)
		golden("v2_numbers_list.json", code, 200, raw)
		code, _, raw = e.numbersForm("GET", "/v2/accounts/"+envAccount+"/incoming-phone-numbers/918047000005", nil)
		golden("v2_number_get.json", code, 200, raw)

		// Errors: each in RestException (v2_beta is JSON only) or the
		// envelope, and none changes anything.
		before := e.numbersSnapshot()
		for _, tc := range []struct {
			name, method, path string
			form               url.Values
			want               int
			msg                string
		}{
			{"unknown number", "GET", betaNumbers + "/918047000077", nil, 404, "not found"},
			{"another account's number", "GET", betaNumbers + "/918047000009", nil, 404, "not found"},
			{"not a number", "GET", betaNumbers + "/abc", nil, 400, "not a phone number"},
			{"no PhoneNumber", "POST", betaNumbers, url.Values{"FriendlyName": {"x"}}, 400, "PhoneNumber is required"},
			{"bad PhoneNumber", "POST", betaNumbers, url.Values{"PhoneNumber": {"12"}}, 400, "not a phone number"},
			{"taken", "POST", betaNumbers, url.Values{"PhoneNumber": {"+918047000000"}}, 409, "already exists"},
			{"another account's", "POST", betaNumbers, url.Values{"PhoneNumber": {"+918047000009"}}, 409, "already exists"},
			{"SMSUrl", "POST", betaNumbers, url.Values{"PhoneNumber": {"+918047000006"}, "SMSUrl": {"http://x/y"}}, 400, "SMSUrl"},
			{"bad VoiceUrl", "POST", betaNumbers, url.Values{"PhoneNumber": {"+918047000006"}, "VoiceUrl": {"http://x/y"}}, 400, "VoiceUrl"},
			{"unpublished flow", "PUT", betaNumbers + "/918047000000",
				url.Values{"VoiceUrl": {"http://my.exotel.com/" + envAccount + "/exoml/start_voice/" + e.draftID}}, 400, "publish"},
			{"unknown flow", "PUT", betaNumbers + "/918047000000",
				url.Values{"VoiceUrl": {"http://my.exotel.com/" + envAccount + "/exoml/start_voice/fl_nope"}}, 404, "not found"},
			{"nothing to change", "PUT", betaNumbers + "/918047000000", url.Values{}, 400, "nothing to change"},
			{"long name", "PUT", betaNumbers + "/918047000000", url.Values{"FriendlyName": {strings.Repeat("x", 201)}}, 400, "FriendlyName"},
			{"page size", "GET", betaNumbers + "?PageSize=0", nil, 400, "PageSize"},
			{"page", "GET", betaNumbers + "?Page=-1", nil, 400, "Page"},
			{"delete unknown", "DELETE", betaNumbers + "/918047000077", nil, 404, "not found"},
		} {
			code, m, raw := e.numbersForm(tc.method, tc.path, tc.form)
			msg := v2DigStr(m, "RestException", "Message")
			if code != tc.want || v2Dig(m, "RestException", "Status") != float64(tc.want) || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s: %d %s, want %d RestException with %q", tc.name, code, raw, tc.want, tc.msg)
			}
		}
		code, m, raw = e.numbersForm("GET", "/v2/accounts/"+envAccount+"/incoming-phone-numbers/918047000077", nil)
		if code != 404 || v2Dig(m, "response", "error_data", "code") != float64(CodeNumberNotFound) {
			t.Errorf("v2 unknown number: %d %s", code, raw)
		}
		if after := e.numbersSnapshot(); after != before {
			t.Errorf("refused requests changed the numbers:\n%s\n%s", before, after)
		}

		// Released: gone from the account, and answered with what it was.
		code, m, raw = e.numbersForm("DELETE", betaNumbers+"/918047000005", nil)
		if code != 200 || v2DigStr(m, "phone_number") != "+918047000005" {
			t.Errorf("delete: %d %s", code, raw)
		}
		if code, _, _ := e.numbersForm("GET", betaNumbers+"/918047000005", nil); code != 404 {
			t.Errorf("after delete: %d", code)
		}
	})
}

// numbersSnapshot renders every ExoPhone row.
func (e *v2Env) numbersSnapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, acc := range []string{envAccount, envOther} {
		all, err := e.db.Numbers().List(e.t.Context(), acc)
		envMust(e.t, err)
		for _, p := range all {
			flow := "-"
			if p.FlowID != nil {
				flow = *p.FlowID
			}
			b.WriteString(acc + " " + p.Number + " " + p.FriendlyName + " " + flow + " " + p.UpdatedAt.String() + "\n")
		}
	}
	return b.String()
}

// A number's metadata from the series table and the account's
// do-not-call list, in v1's XML and JSON.
func TestV1NumberInfo(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		envMust(t, e.db.DND().Add(t.Context(), envAccount, "asked", "+919876543210"))
		base := "/v1/Accounts/" + envAccount + "/Numbers/"
		for _, tc := range []struct{ golden, path string }{
			{"v1_number_mobile_dnd.json", base + "09876543210.json"},
			{"v1_number_mobile_dnd.xml", base + "%2B919876543210"},
			{"v1_number_landline.json", base + "918047000000.json"},
			{"v1_number_unknown.json", base + "%2B442071234567.json"},
		} {
			rec := e.get(tc.path)
			if rec.Code != 200 {
				t.Fatalf("%s: %d %s", tc.path, rec.Code, rec.Body)
			}
			callsGolden(t, tc.golden, callsGoldenBody(t, rec.Body.Bytes(), strings.HasSuffix(tc.golden, ".json")))
		}
		// Another account's do-not-call list is not this one's.
		rec := e.do(envReq{method: "GET", path: "/v1/Accounts/" + envOther + "/Numbers/9876543210.json", user: envOther, pass: e.otherTk})
		if m := callsJSON(t, rec); v2DigStr(m, "Numbers", "DND") != "No" {
			t.Errorf("other account: %s", rec.Body)
		}
		for _, bad := range []string{"abc", "12", "2125551234"} {
			rec := e.get(base + bad + ".json")
			if m := callsJSON(t, rec); rec.Code != 400 || !strings.Contains(v2DigStr(m, "RestException", "Message"), "not a phone number") {
				t.Errorf("%s: %d %s", bad, rec.Code, rec.Body)
			}
		}
		if rec := e.do(envReq{method: "GET", path: base + "9876543210", noAuth: true}); rec.Code != http.StatusUnauthorized {
			t.Errorf("without credentials: %d", rec.Code)
		}
	})
}

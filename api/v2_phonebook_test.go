package api

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

func TestV2Contacts(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		rec := e.send("POST", v2Path("/contacts"), `{"contacts": [
			{"number": "+919800000001", "first_name": "Asha", "last_name": "Rao", "company_name": "Acme", "email": "asha@example.com",
			 "tag": "vip", "custom_field": {"plan": "gold", "visits": 3, "active": true}},
			{"number": "not a number", "first_name": "Bad"},
			{"number": " 098000 00002 ", "custom": {"city": "Pune"}, "timezone": "America/New_York"}]}`)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_contacts_create.json", rec)
		m := callsJSON(t, rec)
		asha, other := v2DigStr(m, "response", 0, "data", "sid"), v2DigStr(m, "response", 2, "data", "sid")

		// (Contacts created together share their creation time: the store
		// orders them by SID then.)
		m = e.must(http.StatusOK, "GET", v2Path("/contacts?limit=1&offset=1"), "")
		if got := v2DigStr(m, "response", 0, "data", "sid"); v2Dig(m, "metadata", "total") != 2.0 || v2Dig(m, "metadata", "count") != 1.0 ||
			(got != asha && got != other) {
			t.Errorf("list: %v", m)
		}
		m = e.must(http.StatusOK, "GET", v2Path("/contacts/"+asha), "")
		if v2Dig(m, "response", 0, "data", "custom_field", "visits") != "3" || v2DigStr(m, "response", 0, "data", "uri") != v2Path("/contacts/"+asha) {
			t.Errorf("get: %v", m)
		}

		// Update: the fields given; custom_field replaces the custom fields.
		m = e.must(http.StatusOK, "PUT", v2Path("/contacts/"+asha), `{"contacts": [{"first_name": "Asha R", "custom_field": {"plan": "silver"}, "timezone": "Asia/Kolkata"}]}`)
		d := v2Dig(m, "response", 0, "data").(map[string]any)
		if d["first_name"] != "Asha R" || d["last_name"] != "Rao" || d["number"] != "+919800000001" || d["timezone"] != "Asia/Kolkata" ||
			len(d["custom_field"].(map[string]any)) != 1 {
			t.Errorf("update: %v", d)
		}
		m = e.must(http.StatusOK, "PUT", v2Path("/contacts/"+asha), `{"custom_field": null, "timezone": ""}`)
		if d := v2Dig(m, "response", 0, "data").(map[string]any); len(d["custom_field"].(map[string]any)) != 0 || d["timezone"] != nil {
			t.Errorf("clear: %v", d)
		}

		for _, tt := range []struct {
			method, path, body string
			status             int
			msg                string
		}{
			{"PUT", "/contacts/" + asha, `{"number": "12"}`, 400, "number"},
			{"PUT", "/contacts/" + asha, `{"email": "asha"}`, 400, "email"},
			{"PUT", "/contacts/" + asha, `{"timezone": "Mars/Olympus"}`, 400, "timezone"},
			{"PUT", "/contacts/" + asha, `{"custom": {"a": "b"}, "custom_field": {"a": "c"}}`, 400, "not both"},
			{"PUT", "/contacts/" + asha, `{"custom_field": {"a": {"b": 1}}}`, 400, "custom_field.a"},
			{"PUT", "/contacts/" + asha, `{"custom_field": "gold"}`, 400, "custom_field"},
			{"PUT", "/contacts/" + asha, `{"first_name": "` + strings.Repeat("x", 201) + `"}`, 400, "first_name is 201 characters"},
			{"PUT", "/contacts/" + asha, `{"nickname": "A"}`, 400, `unknown field "nickname"`},
			{"PUT", "/contacts/ct_000000000000000000000000", `{"first_name": "X"}`, 404, "contact"},
			{"POST", "/contacts", `{"contacts": [{"first_name": "No number"}]}`, 400, "number is required"},
			{"POST", "/contacts", `{"contacts": []}`, 400, "contacts is empty"},
			{"POST", "/contacts", `{"contacts": [`, 400, "malformed"},
			{"GET", "/contacts/ct_000000000000000000000000", "", 404, "contact"},
			{"DELETE", "/contacts/nope", "", 404, "contact"},
		} {
			rec := e.send(tt.method, v2Path(tt.path), tt.body)
			ed := v2ErrorOf(callsJSON(t, rec))
			if rec.Code != tt.status || ed == nil || !strings.Contains(ed["description"].(string), tt.msg) {
				t.Errorf("%s %s %s: %d %s", tt.method, tt.path, tt.body, rec.Code, rec.Body)
			}
		}
		// More than store.MaxContactsPerRequest contacts.
		var b strings.Builder
		b.WriteString(`{"contacts": [`)
		for i := 0; i < 5001; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"number": "+9198%08d"}`, i)
		}
		b.WriteString("]}")
		rec = e.do(envReq{method: "POST", path: v2Path("/contacts"), body: b.String(), contentType: "application/json"})
		if ed := v2ErrorOf(callsJSON(t, rec)); rec.Code != http.StatusBadRequest || !strings.Contains(ed["description"].(string), "at most 5000") {
			t.Errorf("5001 contacts: %d %s", rec.Code, rec.Body)
		}
		if n := e.rows("contacts"); n != 2 {
			t.Errorf("%d contacts after refused requests, want 2", n)
		}

		// Another account sees none of them.
		if rec := e.sendAs("GET", "/v2/accounts/"+envOther+"/contacts/"+asha, ""); rec.Code != http.StatusNotFound {
			t.Errorf("other account: %d", rec.Code)
		}
		if rec := e.sendAs("DELETE", "/v2/accounts/"+envOther+"/contacts/"+asha, ""); rec.Code != http.StatusNotFound {
			t.Errorf("other account delete: %d", rec.Code)
		}
		e.must(http.StatusOK, "DELETE", v2Path("/contacts/"+asha), "")
		if rec := e.send("GET", v2Path("/contacts/"+asha), ""); rec.Code != http.StatusNotFound {
			t.Errorf("after delete: %d", rec.Code)
		}
	})
}

// v2Multipart builds a multipart/form-data body with a file field.
func v2Multipart(t *testing.T, field, csv string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	envMust(t, w.WriteField("note", "upload"))
	f, err := w.CreateFormFile(field, "contacts.csv")
	envMust(t, err)
	_, err = f.Write([]byte(csv))
	envMust(t, err)
	envMust(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

func TestV2Lists(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		rec := e.send("POST", v2Path("/lists"), `{"lists": [{"name": "Gold customers", "tag": "vip"}, {"name": " Gold customers "}, {"name": "Silver"}]}`)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_lists_create.json", rec)
		gold := v2DigStr(callsJSON(t, rec), "response", 0, "data", "sid")
		if rec := e.send("POST", v2Path("/lists"), `{"name": "Gold customers"}`); rec.Code != http.StatusConflict {
			t.Errorf("duplicate alone: %d %s", rec.Code, rec.Body)
		}
		for _, body := range []string{`{"lists": [{"tag": "x"}]}`, `{"lists": [{"name": "  "}]}`, `{"name": "` + strings.Repeat("n", 201) + `"}`, `{"name": 1}`} {
			if rec := e.send("POST", v2Path("/lists"), body); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
			}
		}

		m := e.must(http.StatusOK, "POST", v2Path("/contacts"), `{"contacts": [{"number": "+919800000001"}, {"number": "+919800000002"}]}`)
		c1, c2 := v2DigStr(m, "response", 0, "data", "sid"), v2DigStr(m, "response", 1, "data", "sid")
		theirs := e.sendAs("POST", "/v2/accounts/"+envOther+"/contacts", `{"contacts": [{"number": "+919800000009"}]}`)
		c3 := v2DigStr(callsJSON(t, theirs), "response", 0, "data", "sid")
		rec = e.send("POST", v2Path("/lists/"+gold+"/contacts"), fmt.Sprintf(
			`{"contact_references": [{"contact_sid": %q}, {"contact_sid": "ct_000000000000000000000000"}, {"contact_sid": %q}, {"contact_sid": %q}, {"contact_sid": %q}, {"contact_sid": ""}]}`,
			c1, c2, c1, c3))
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("add: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_list_add_refs.json", rec)

		// CSV upload: the body as text/csv.
		csv := "\ufeffNumber,First Name,last_name,company_name,email,tag,timezone,Plan\r\n" +
			"+919800000011,Ravi,Kumar,Acme,ravi@example.com,vip,Asia/Kolkata,gold\r\n" +
			",,,,,,,\r\n" +
			"09800000012,Meena,,,,,,\r\n"
		rec = e.send("POST", v2Path("/lists/"+gold+"/contacts"), csv, "text/csv")
		if rec.Code != http.StatusOK {
			t.Fatalf("csv: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_list_csv_ok.json", rec)

		// A bad row: nothing is created.
		before := e.rows("contacts")
		bad := "number,first_name,email\n" +
			"+919800000021,Ok,ok@example.com\n" +
			"12ab,Bad number,\n" +
			"+919800000023,Bad email,nope\n" +
			"+919800000024,Too,many,fields\n" +
			",No number,\n"
		rec = e.send("POST", v2Path("/lists/"+gold+"/contacts"), bad, "text/csv; charset=utf-8")
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("bad csv: %d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_list_csv_bad.json", rec)
		if after := e.rows("contacts"); after != before {
			t.Errorf("a refused upload created %d contacts", after-before)
		}

		// A multipart upload (the file field).
		body, ct := v2Multipart(t, "file", "number,first_name\n+919800000031,Zoya\n+919800000032,Yash\n")
		m = e.must(http.StatusOK, "POST", v2Path("/lists/"+gold+"/contacts"), body, ct)
		if v2Dig(m, "metadata", "success") != 2.0 || v2DigStr(m, "response", 1, "data", "first_name") != "Yash" {
			t.Errorf("multipart: %v", m)
		}
		for _, tt := range []struct {
			body, ct string
			status   int
			msg      string
		}{
			{"", "text/csv", 400, "empty"},
			{"first_name\nAsha\n", "text/csv", 400, "no number column"},
			{"number,number\n1,2\n", "text/csv", 400, "twice"},
			{"number,\n+919800000041,x\n", "text/csv", 400, "column 2 of the header has no name"},
			{"number\n", "text/csv", 400, "no contacts"},
			{"number,name\n\"+919800000041,x\n", "text/csv", 400, "malformed CSV"},
			{"number\n+919800000041\xff\n", "text/csv", 400, "UTF-8"},
			{"number\nnot-xml", "application/xml", 415, "Content-Type"},
		} {
			rec := e.send("POST", v2Path("/lists/"+gold+"/contacts"), tt.body, tt.ct)
			ed := v2ErrorOf(callsJSON(t, rec))
			if rec.Code != tt.status || ed == nil || !strings.Contains(ed["description"].(string), tt.msg) {
				t.Errorf("%q: %d %s", tt.body, rec.Code, rec.Body)
			}
		}
		body, ct = v2Multipart(t, "upload", "number\n+919800000051\n")
		if rec := e.send("POST", v2Path("/lists/"+gold+"/contacts"), body, ct); rec.Code != http.StatusBadRequest ||
			!strings.Contains(rec.Body.String(), `no \"file\" field`) {
			t.Errorf("multipart without file: %d %s", rec.Code, rec.Body)
		}
		// A bad byte in a multipart file, which the input gate does not read.
		body, ct = v2Multipart(t, "file", "number,first_name\n+919800000061,A\x00B\n")
		if rec := e.send("POST", v2Path("/lists/"+gold+"/contacts"), body, ct); rec.Code != http.StatusBadRequest ||
			!strings.Contains(rec.Body.String(), "line 2: first_name contains a control character") {
			t.Errorf("NUL in a multipart file: %d %s", rec.Code, rec.Body)
		}

		// The list, its members in order, and the other list.
		m = e.must(http.StatusOK, "GET", v2Path("/lists/"+gold), "")
		if v2Dig(m, "response", 0, "data", "contact_count") != 6.0 {
			t.Errorf("count: %v", m)
		}
		m = e.must(http.StatusOK, "GET", v2Path("/lists/"+gold+"/contacts?offset=2&limit=2"), "")
		if v2Dig(m, "metadata", "total") != 6.0 || v2DigStr(m, "response", 0, "data", "first_name") != "Ravi" ||
			v2Dig(m, "response", 0, "data", "custom_field", "Plan") != "gold" || v2DigStr(m, "response", 1, "data", "number") != "09800000012" {
			t.Errorf("members: %v", m)
		}
		m = e.must(http.StatusOK, "GET", v2Path("/lists?sort_by=name:desc&name=e"), "")
		if v2Dig(m, "metadata", "total") != 2.0 || v2DigStr(m, "response", 0, "data", "name") != "Silver" {
			t.Errorf("lists: %v", m)
		}
		for _, p := range []string{"/lists/" + gold, "/lists/" + gold + "/contacts"} {
			if rec := e.sendAs("GET", "/v2/accounts/"+envOther+p, ""); rec.Code != http.StatusNotFound {
				t.Errorf("other account %s: %d", p, rec.Code)
			}
		}
		if rec := e.sendAs("POST", "/v2/accounts/"+envOther+"/lists/"+gold+"/contacts", `{"contact_references": [{"contact_sid": "`+c3+`"}]}`); rec.Code != http.StatusNotFound {
			t.Errorf("other account adds to our list: %d %s", rec.Code, rec.Body)
		}
		if rec := e.send("POST", v2Path("/lists/ls_000000000000000000000000/contacts"), "number\n+919800000071\n", "text/csv"); rec.Code != http.StatusNotFound {
			t.Errorf("upload to an unknown list: %d", rec.Code)
		}
		if rec := e.send("POST", v2Path("/lists/"+gold+"/contacts"), `{"contact_references": []}`); rec.Code != http.StatusBadRequest {
			t.Errorf("no references: %d", rec.Code)
		}
		e.must(http.StatusOK, "DELETE", v2Path("/lists/"+gold), "")
		if rec := e.send("GET", v2Path("/lists/"+gold), ""); rec.Code != http.StatusNotFound {
			t.Errorf("after delete: %d", rec.Code)
		}
		if rec := e.send("GET", v2Path("/contacts/"+c1), ""); rec.Code != http.StatusOK {
			t.Errorf("a deleted list's contact: %d", rec.Code)
		}
	})
}

// A CSV upload may be larger than the server's MaxBody; a JSON body to
// the same route may not.
func TestV2UploadCap(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{MaxBody: 1024})
		m := e.must(http.StatusOK, "POST", v2Path("/lists"), `{"lists": [{"name": "Big"}]}`)
		list := v2DigStr(m, "response", 0, "data", "sid")
		var csv strings.Builder
		csv.WriteString("number,first_name\n")
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&csv, "+9198%08d,Contact %d\n", i, i)
		}
		m = e.must(http.StatusOK, "POST", v2Path("/lists/"+list+"/contacts"), csv.String(), "text/csv")
		if v2Dig(m, "metadata", "success") != 200.0 {
			t.Errorf("metadata %v", v2Dig(m, "metadata"))
		}
		refs := `{"contact_references": [` + strings.Repeat(`{"contact_sid": "ct_000000000000000000000000"},`, 40) + `{"contact_sid": "x"}]}`
		if rec := e.send("POST", v2Path("/lists/"+list+"/contacts"), refs); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("large JSON: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestV2DND(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		rec := e.send("POST", v2Path("/dnd-numbers"), `{"numbers": ["+919800000001", "bogus", "09800000002"], "reason": "asked not to be called"}`)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_dnd_add.json", rec)
		rec = e.send("GET", v2Path("/dnd-numbers"), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_dnd_list.json", rec)
		// Another account's list is its own.
		if m := callsJSON(t, e.sendAs("GET", "/v2/accounts/"+envOther+"/dnd-numbers", "")); v2Dig(m, "metadata", "total") != 0.0 {
			t.Errorf("other account: %v", m)
		}
		if rec := e.sendAs("DELETE", "/v2/accounts/"+envOther+"/dnd-numbers/%2B919800000001", ""); rec.Code != http.StatusNotFound {
			t.Errorf("other account delete: %d", rec.Code)
		}
		for _, tt := range []struct {
			method, path, body string
			status             int
		}{
			{"POST", "/dnd-numbers", `{"numbers": []}`, 400},
			{"POST", "/dnd-numbers", `{"numbers": ["+919800000001"], "reason": "` + strings.Repeat("r", 201) + `"}`, 400},
			{"POST", "/dnd-numbers", `{"number": "+919800000001"}`, 400},
			{"DELETE", "/dnd-numbers/bogus", "", 400},
			{"DELETE", "/dnd-numbers/%2B919800000009", "", 404},
		} {
			if rec := e.send(tt.method, v2Path(tt.path), tt.body); rec.Code != tt.status {
				t.Errorf("%s %s %s: %d %s", tt.method, tt.path, tt.body, rec.Code, rec.Body)
			}
		}
		e.must(http.StatusOK, "DELETE", v2Path("/dnd-numbers/%2B919800000001"), "")
		e.must(http.StatusOK, "DELETE", v2Path("/dnd-numbers/09800000002"), "")
		if rec := e.send("DELETE", v2Path("/dnd-numbers/%2B919800000001"), ""); rec.Code != http.StatusNotFound {
			t.Errorf("second delete: %d", rec.Code)
		}
		if m := e.must(http.StatusOK, "GET", v2Path("/dnd-numbers"), ""); v2Dig(m, "metadata", "total") != 0.0 {
			t.Errorf("after deletes: %v", m)
		}
	})
}

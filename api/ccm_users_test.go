package api

import (
	"net/http"
	"regexp"
	"testing"
)

var (
	ccmIDs   = regexp.MustCompile(`\b(us|dv)_[0-9a-f]{24}\b`)
	ccmTimes = regexp.MustCompile(`"(created_at|updated_at)":"[^"]*"`)
)

// ccmGolden compares a users answer, ids and times masked, with a golden
// file.
func ccmGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	seen, n := map[string]string{}, map[string]int{}
	b := ccmIDs.ReplaceAllFunc(v2Mask(body, false), func(m []byte) []byte {
		id := string(m)
		if v, ok := seen[id]; ok {
			return []byte(v)
		}
		n[id[:2]]++
		seen[id] = "<" + id[:2] + "-" + string(rune('0'+n[id[:2]])) + ">"
		return []byte(seen[id])
	})
	b = ccmTimes.ReplaceAll(b, []byte(`"$1":"<time>"`))
	callsGolden(t, name, callsGoldenBody(t, b, true))
}

// Exotel's CCM users API as its clients use it: a user made of first
// and last name, role and one device; the bulk listing with its fields
// and filters; a device switched off by query and on by body; and a v3
// call from a user whose every device is off refused with 409.
func TestCCMUsers(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		rec := e.send("POST", v2Path("/users"), `{"first_name":"Asha","last_name":"Rao","email":"asha@acme.example",
			"device_contact_uri":"+919800000001","device_name":"mobile","role":"supervisor"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		ccmGolden(t, "v2_ccm_user_create.json", rec.Body.Bytes())
		user := callsJSON(t, rec)
		sid, dev := v2DigStr(user, "response", "user", "id"), v2DigStr(user, "response", "user", "devices", 0, "id")
		e.must(http.StatusCreated, "POST", v2Path("/users"), `{"first_name":"Ravi","last_name":"Kumar","device_contact_uri":"sip:ravi@pbx.example"}`)

		for _, q := range []string{"?fields=devices,active_call,last_login", "?devices.contact_uri=%2B919800000001",
			"?devices.contact_uri=919800000001,sip:nobody@pbx.example", "?email=ASHA@acme.example"} {
			m := e.must(http.StatusOK, "GET", v2Path("/users"+q), "")
			want := 2.0
			if q[1] != 'f' {
				want = 1
			}
			if v2Dig(m, "metadata", "total") != want || (want == 1 && v2DigStr(m, "response", 0, "data", "id") != sid) {
				t.Errorf("GET users%s: %v", q, m)
			}
		}

		// Off by query, without a body; on by body.
		rec = e.send("PUT", v2Path("/users/"+sid+"/devices/"+dev+"?available=false"), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("switch off: %d %s", rec.Code, rec.Body)
		}
		ccmGolden(t, "v2_ccm_device_off.json", rec.Body.Bytes())
		rec = e.v3post(`{"from":{"user_id":"`+sid+`"},"to":{"number":"+919800000099"},"virtual_number":"`+envExoPhone+`"}`, nil)
		if m := callsJSON(t, rec); rec.Code != http.StatusConflict || v2Dig(m, "response", "error_data", "code") != float64(CodeDeviceBusy) {
			t.Errorf("call from a user whose device is off: %d %s", rec.Code, rec.Body)
		}
		if n := e.callRows(); n != 0 {
			t.Errorf("%d calls placed", n)
		}
		m := e.must(http.StatusOK, "PUT", v2Path("/users/"+sid+"/devices/"+dev), `{"available":true,"name":"desk"}`)
		if v2Dig(m, "response", "user", "devices", 0, "available") != true || v2DigStr(m, "response", "user", "devices", 0, "name") != "desk" {
			t.Errorf("switch on: %v", m)
		}
		rec = e.v3post(`{"from":{"user_id":"`+sid+`"},"to":{"number":"+919800000099"},"virtual_number":"`+envExoPhone+`"}`, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("call from a user whose device is on: %d %s", rec.Code, rec.Body)
		}
		// pyexotel sends forms, even under application/json: create,
		// update and the device switch all read them.
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
			rec := e.send("PUT", v2Path("/users/"+sid+"/devices/"+dev), "available=false", ct)
			m := callsJSON(t, rec)
			if rec.Code != http.StatusOK || v2Dig(m, "response", "user", "devices", 0, "available") != false {
				t.Errorf("device off by a form (%s): %d %s", ct, rec.Code, rec.Body)
			}
			e.must(http.StatusOK, "PUT", v2Path("/users/"+sid+"/devices/"+dev), "available=true", ct)
		}
		rec = e.send("POST", v2Path("/users"), "first_name=Meera&last_name=Iyer&email=meera%40acme.example&device_contact_uri=%2B919800000011&role=user",
			"application/json")
		if m := callsJSON(t, rec); rec.Code != http.StatusCreated || v2DigStr(m, "response", "user", "name") != "Meera Iyer" ||
			v2DigStr(m, "response", "user", "devices", 0, "contact_uri") != "+919800000011" {
			t.Errorf("create by a form under application/json: %d %s", rec.Code, rec.Body)
		}
		for _, bad := range []string{"first_name=X&nickname=y", "available=maybe", "first_name=A&first_name=B"} {
			if rec := e.send("PUT", v2Path("/users/"+sid), bad, "application/json"); rec.Code != http.StatusBadRequest {
				t.Errorf("form %q: %d %s", bad, rec.Code, rec.Body)
			}
		}
		// Exotel's update: first and last name rename the user.
		m = e.must(http.StatusOK, "PUT", v2Path("/users/"+sid), `{"last_name":"Rao-Kumar","role":"admin"}`)
		if v2DigStr(m, "response", "user", "name") != "Asha Rao-Kumar" || v2DigStr(m, "response", "user", "role") != "admin" {
			t.Errorf("update: %v", m)
		}
	})
}

package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// usersSnapshot is snapshot plus the users and their devices.
func (e *mgEnv) usersSnapshot() string {
	e.t.Helper()
	var b strings.Builder
	b.WriteString(e.snapshot())
	for _, table := range []string{"users", "user_devices", "contact_locks"} {
		var rows []map[string]any
		if err := e.db.Gorm().Table(table).Order("1, 2").Find(&rows).Error; err != nil {
			e.t.Fatalf("snapshot %s: %v", table, err)
		}
		raw, err := json.Marshal(rows)
		if err != nil {
			e.t.Fatalf("snapshot %s: %v", table, err)
		}
		b.WriteString(table + ": ")
		b.Write(raw)
		b.WriteString("\n")
	}
	return b.String()
}

// createUser creates a user of tenant A through the API and returns it.
func (e *mgEnv) createUser(body any) map[string]any {
	e.t.Helper()
	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/acme/users", Body: body})
	u, _ := dig(res.JSON, "response", "user").(map[string]any)
	return u
}

func strList(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, x := range a {
		out[i], _ = x.(string)
	}
	return out
}

// deviceURIs is the contact_uri of each device of a user's devices.
func deviceURIs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = digStr(x, "contact_uri")
	}
	return out
}

func TestManageUsers(t *testing.T) {
	e := newMgEnv(t)
	base := "/v2/accounts/acme/users"

	res := e.must(http.StatusCreated, mgReq{Method: "POST", Path: base, Body: `{"name":" Alice ","email":"alice@example.com",
		"devices":["+1 555 010 0001","SIP:Alice@PBX.example"]}`})
	if digStr(res.JSON, "response", "status") != "success" || dig(res.JSON, "http_code") != float64(201) {
		t.Errorf("create envelope: %s", res.Raw)
	}
	u := dig(res.JSON, "response", "user")
	sid := digStr(u, "sid")
	if !strings.HasPrefix(sid, "us_") || digStr(u, "name") != "Alice" || digStr(u, "email") != "alice@example.com" ||
		strings.Join(deviceURIs(dig(u, "devices")), ",") != "+1 555 010 0001,SIP:Alice@PBX.example" ||
		dig(u, "available") != true || dig(u, "busy") != false {
		t.Errorf("create: %s", res.Raw)
	}
	if v, ok := u.(map[string]any)["busy_call_sid"]; !ok || v != nil {
		t.Errorf("busy_call_sid should be null: %s", res.Raw)
	}
	created, err := time.Parse(time.RFC3339, digStr(u, "created_at"))
	if err != nil || time.Since(created) > time.Minute || digStr(u, "updated_at") != digStr(u, "created_at") {
		t.Errorf("times: %s (%v)", res.Raw, err)
	}
	if !strings.HasSuffix(digStr(u, "created_at"), "+05:30") {
		t.Errorf("created_at not in the server's zone (IST): %s", digStr(u, "created_at"))
	}
	createdAt := digStr(u, "created_at")
	if res.Header.Get("Location") != base+"/"+sid {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	bob := e.createUser(map[string]any{"name": "Bob", "devices": []string{"015550100002"}, "available": false})
	if dig(bob, "available") != false || dig(bob, "email") != nil {
		t.Errorf("bob: %v", bob)
	}

	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + sid})
	if digStr(res.JSON, "response", "user", "sid") != sid || digStr(res.JSON, "response", "user", "devices", 1, "contact_uri") != "SIP:Alice@PBX.example" {
		t.Errorf("get: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base})
	if dig(res.JSON, "metadata", "total") != float64(2) || digStr(res.JSON, "response", 0, "data", "sid") != sid ||
		digStr(res.JSON, "response", 1, "data", "sid") != digStr(bob, "sid") || digStr(res.JSON, "response", 0, "status") != "success" {
		t.Errorf("list: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "?offset=1&limit=1"})
	if dig(res.JSON, "metadata", "count") != float64(1) || dig(res.JSON, "metadata", "total") != float64(2) ||
		digStr(res.JSON, "response", 0, "data", "name") != "Bob" {
		t.Errorf("page: %s", res.Raw)
	}

	// Partial updates.
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + sid, Body: `{"name":"Alice Smith"}`})
	u = dig(res.JSON, "response", "user")
	if digStr(u, "name") != "Alice Smith" || digStr(u, "email") != "alice@example.com" || len(deviceURIs(dig(u, "devices"))) != 2 ||
		digStr(u, "created_at") != createdAt {
		t.Errorf("rename: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + sid,
		Body: `{"devices":["sip:alice@pbx.example","+15550100011"],"email":null,"available":false}`})
	u = dig(res.JSON, "response", "user")
	if strings.Join(deviceURIs(dig(u, "devices")), ",") != "sip:alice@pbx.example,+15550100011" || dig(u, "email") != nil ||
		dig(u, "available") != false || digStr(u, "name") != "Alice Smith" {
		t.Errorf("replace devices: %s", res.Raw)
	}
	stored, err := e.db.Users().ByContact(context.Background(), "acme", "+15550100011")
	if err != nil || stored.SID != sid || stored.Email != "" || stored.Available {
		t.Errorf("stored: %+v %v", stored, err)
	}
	// The freed device can go to Bob.
	e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + digStr(bob, "sid"), Body: `{"devices":["+15550100001"],"email":"bob@example.com"}`})

	res = e.must(http.StatusOK, mgReq{Method: "DELETE", Path: base + "/" + sid})
	if digStr(res.JSON, "response", "user", "id") != sid || dig(res.JSON, "response", "user", "deleted") != true {
		t.Errorf("delete: %s", res.Raw)
	}
	res = e.do(mgReq{Method: "GET", Path: base + "/" + sid})
	checkFailure(t, "get deleted", res, http.StatusNotFound)
	if dig(res.JSON, "response", "error_data", "code") != float64(10731) {
		t.Errorf("deleted user: want code 10731: %s", res.Raw)
	}
	if _, err := e.db.Users().ByContact(context.Background(), "acme", "sip:alice@pbx.example"); err == nil {
		t.Error("a deleted user's device still finds a user")
	}
}

func TestManageUserBusy(t *testing.T) {
	e := newMgEnv(t)
	ctx := context.Background()
	base := "/v2/accounts/acme/users"
	alice := digStr(e.createUser(`{"name":"Alice","devices":["+15550100001"]}`), "sid")
	bob := digStr(e.createUser(`{"name":"Bob","devices":["+15550100002"]}`), "sid")
	call := e.seedCall("acme")
	err := e.db.Gorm().Create(&store.ContactLock{AccountSID: "acme", Contact: store.UserLockKey(alice), CallSID: call,
		ExpiresAt: time.Now().Add(time.Hour).UTC(), CreatedAt: time.Now().UTC()}).Error
	if err != nil {
		t.Fatal(err)
	}

	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + alice})
	if dig(res.JSON, "response", "user", "busy") != true || digStr(res.JSON, "response", "user", "busy_call_sid") != call {
		t.Errorf("busy user: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base})
	if dig(res.JSON, "response", 0, "data", "busy") != true || digStr(res.JSON, "response", 0, "data", "busy_call_sid") != call ||
		dig(res.JSON, "response", 1, "data", "busy") != false || dig(res.JSON, "response", 1, "data", "busy_call_sid") != nil {
		t.Errorf("list: %s", res.Raw)
	}
	if digStr(res.JSON, "response", 1, "data", "sid") != bob {
		t.Errorf("list order: %s", res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "PUT", Path: base + "/" + alice, Body: `{"available":false}`})
	if dig(res.JSON, "response", "user", "busy") != true || dig(res.JSON, "response", "user", "available") != false {
		t.Errorf("update of a busy user: %s", res.Raw)
	}

	// The call ends: free again.
	if _, err := e.db.Calls().Finish(ctx, call, store.CallFinal{Status: store.Completed}); err != nil {
		t.Fatal(err)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: base + "/" + alice})
	if dig(res.JSON, "response", "user", "busy") != false || dig(res.JSON, "response", "user", "busy_call_sid") != nil {
		t.Errorf("after the call: %s", res.Raw)
	}
}

func TestManageUserBadInput(t *testing.T) {
	e := newMgEnv(t)
	base := "/v2/accounts/acme/users"
	aliceUser := e.createUser(`{"name":"Alice","devices":["+15550100001","sip:alice@pbx.example"]}`)
	alice := digStr(aliceUser, "sid")
	bob := e.createUser(`{"name":"Bob","devices":["+15550100002"]}`)
	theirs := e.must(http.StatusCreated, mgReq{Method: "POST", Path: "/v2/accounts/globex/users", As: &e.B,
		Body: `{"name":"Globex secret","devices":["+15550100009"]}`})
	theirSID := digStr(theirs.JSON, "response", "user", "sid")
	theirDevice := digStr(theirs.JSON, "response", "user", "devices", 0, "id")
	one := base + "/" + alice
	dev := one + "/devices/" + digStr(aliceUser, "devices", 0, "id")
	bobDev := base + "/" + digStr(bob, "sid") + "/devices/" + digStr(bob, "devices", 0, "id")
	eleven := `["+15550200000","+15550200001","+15550200002","+15550200003","+15550200004","+15550200005",` +
		`"+15550200006","+15550200007","+15550200008","+15550200009","+15550200010"]`
	cases := []struct {
		name   string
		req    mgReq
		status int
		code   float64
		says   string // in the message
	}{
		{"create malformed", mgReq{Method: "POST", Path: base, Body: `{"name":`}, 400, 1000, "malformed"},
		{"create unknown field", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003"],"nickname":"x"}`}, 400, 1000, "nickname"},
		{"create wrong content type", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003"]}`, ContentType: "text/plain"}, 415, 1003, "Content-Type"},
		{"create no name", mgReq{Method: "POST", Path: base, Body: `{"devices":["+15550100003"]}`}, 400, 1000, "name"},
		{"create blank name", mgReq{Method: "POST", Path: base, Body: `{"name":"  ","devices":["+15550100003"]}`}, 400, 1000, "name"},
		{"create long name", mgReq{Method: "POST", Path: base, Body: map[string]any{"name": strings.Repeat("x", 201), "devices": []string{"+15550100003"}}}, 400, 1000, "200"},
		{"create bad role", mgReq{Method: "POST", Path: base, Body: `{"first_name":"Xa","last_name":"Yb","role":"owner"}`}, 400, 1000, "role"},
		{"create long first name", mgReq{Method: "POST", Path: base, Body: map[string]any{"first_name": strings.Repeat("x", 201), "last_name": "Y"}}, 400, 1000, "first_name"},
		{"create both device forms", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003"],"device_contact_uri":"+15550100004"}`}, 400, 1000, "not both"},
		{"create device_name alone", mgReq{Method: "POST", Path: base, Body: `{"name":"X","device_name":"desk"}`}, 400, 1000, "device_contact_uri"},
		{"create bad device_contact_uri", mgReq{Method: "POST", Path: base, Body: `{"first_name":"X","last_name":"Y","device_contact_uri":"call me"}`}, 400, 1000, "devices[0]"},
		{"create eleven devices", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":` + eleven + `}`}, 400, 1000, "at most 10"},
		{"create bad device", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003","call me"]}`}, 400, 1000, "devices[1]"},
		{"create device not a string", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":[15550100003]}`}, 400, 1000, "devices"},
		{"create duplicate devices", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003","15550100003"]}`}, 400, 1000, "same device"},
		{"create bad email", mgReq{Method: "POST", Path: base, Body: `{"name":"X","email":"x@","devices":["+15550100003"]}`}, 400, 1000, "email"},
		{"create email not a string", mgReq{Method: "POST", Path: base, Body: `{"name":"X","email":7,"devices":["+15550100003"]}`}, 400, 1000, "email"},
		{"create available not a bool", mgReq{Method: "POST", Path: base, Body: `{"name":"X","available":"yes","devices":["+15550100003"]}`}, 400, 1000, "available"},
		{"create taken device", mgReq{Method: "POST", Path: base, Body: `{"name":"X","devices":["+15550100003","sip:ALICE@pbx.example"]}`}, 409, 1002, "sip:alice@pbx.example"},
		{"update nothing", mgReq{Method: "PUT", Path: one, Body: `{}`}, 400, 1000, "nothing to update"},
		{"update blank name", mgReq{Method: "PUT", Path: one, Body: `{"name":""}`}, 400, 1000, "name"},
		{"update bad email", mgReq{Method: "PUT", Path: one, Body: `{"name":"New","email":"alice"}`}, 400, 1000, "email"},
		{"update bad role", mgReq{Method: "PUT", Path: one, Body: `{"role":"root"}`}, 400, 1000, "role"},
		{"update device_name", mgReq{Method: "PUT", Path: one, Body: `{"device_name":"desk"}`}, 400, 1000, "devices/{device_id}"},
		{"update taken device", mgReq{Method: "PUT", Path: one, Body: `{"name":"New","devices":["+15550100001","+1 555 010 0002"]}`}, 409, 1002, "15550100002"},
		{"update unknown field", mgReq{Method: "PUT", Path: one, Body: `{"nickname":"New"}`}, 400, 1000, "nickname"},
		{"update wrong content type", mgReq{Method: "PUT", Path: one, Body: `{"name":"New"}`, ContentType: "text/plain"}, 415, 1003, "Content-Type"},
		{"get unknown", mgReq{Method: "GET", Path: base + "/us_000000000000000000000000"}, 404, 10731, "user"},
		{"update unknown", mgReq{Method: "PUT", Path: base + "/us_000000000000000000000000", Body: `{"name":"New"}`}, 404, 10731, "user"},
		{"delete unknown", mgReq{Method: "DELETE", Path: base + "/us_000000000000000000000000"}, 404, 10731, "user"},
		{"get theirs", mgReq{Method: "GET", Path: base + "/" + theirSID}, 404, 10731, "user"},
		{"update theirs", mgReq{Method: "PUT", Path: base + "/" + theirSID, Body: `{"name":"Mine now"}`}, 404, 10731, "user"},
		{"delete theirs", mgReq{Method: "DELETE", Path: base + "/" + theirSID}, 404, 10731, "user"},
		{"B's credentials: list", mgReq{Method: "GET", Path: base, As: &e.B}, 403, 1018, ""},
		{"B's credentials: create", mgReq{Method: "POST", Path: base, As: &e.B, Body: `{"name":"X","devices":["+15550100003"]}`}, 403, 1018, ""},
		{"B's credentials: get", mgReq{Method: "GET", Path: one, As: &e.B}, 403, 1018, ""},
		{"B's credentials: update", mgReq{Method: "PUT", Path: one, As: &e.B, Body: `{"name":"X"}`}, 403, 1018, ""},
		{"B's credentials: delete", mgReq{Method: "DELETE", Path: one, As: &e.B}, 403, 1018, ""},
		{"list bad limit", mgReq{Method: "GET", Path: base + "?limit=0"}, 400, 1000, "limit"},
		{"list bad fields", mgReq{Method: "GET", Path: base + "?fields=devices,password"}, 400, 1000, "password"},
		{"list bad contact filter", mgReq{Method: "GET", Path: base + "?devices.contact_uri=call%20me"}, 400, 1000, "devices.contact_uri"},
		{"device nothing", mgReq{Method: "PUT", Path: dev}, 400, 1000, "nothing to update"},
		{"device empty body", mgReq{Method: "PUT", Path: dev, Body: `{}`}, 400, 1000, "nothing to update"},
		{"device bad query", mgReq{Method: "PUT", Path: dev + "?available=maybe"}, 400, 1000, "available"},
		{"device query and body differ", mgReq{Method: "PUT", Path: dev + "?available=true", Body: `{"available":false}`}, 400, 1000, "differs"},
		{"device not a bool", mgReq{Method: "PUT", Path: dev, Body: `{"available":"on"}`}, 400, 1000, "available"},
		{"device unknown field", mgReq{Method: "PUT", Path: dev, Body: `{"volume":3}`}, 400, 1000, "volume"},
		{"device bad contact", mgReq{Method: "PUT", Path: dev, Body: `{"contact_uri":"call me"}`}, 400, 1000, "contact_uri"},
		{"device taken contact", mgReq{Method: "PUT", Path: dev, Body: `{"contact_uri":"+1 555 010 0002"}`}, 409, 1002, "15550100002"},
		{"device unknown", mgReq{Method: "PUT", Path: one + "/devices/dv_000000000000000000000000", Body: `{"available":false}`}, 404, 10731, "device"},
		{"device of another user", mgReq{Method: "PUT", Path: one + bobDev[len(base)+len("/")+len(digStr(bob, "sid")):], Body: `{"available":false}`}, 404, 10731, "device"},
		{"device of theirs", mgReq{Method: "PUT", Path: base + "/" + theirSID + "/devices/" + theirDevice, Body: `{"available":false}`}, 404, 10731, "user"},
		{"device: B's credentials", mgReq{Method: "PUT", Path: dev, As: &e.B, Body: `{"available":false}`}, 403, 1018, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.usersSnapshot()
			res := e.do(tc.req)
			checkFailure(t, tc.name, res, tc.status)
			if got := dig(res.JSON, "response", "error_data", "code"); got != tc.code {
				t.Errorf("code %v, want %v: %s", got, tc.code, res.Raw)
			}
			msg := digStr(res.JSON, "response", "error_data", "description")
			t.Logf("%d %s", res.Status, msg)
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not mention %q", msg, tc.says)
			}
			if strings.Contains(string(res.Raw), "Globex secret") || strings.Contains(string(res.Raw), "15550100009") {
				t.Errorf("leaked another account's user: %s", res.Raw)
			}
			if e.usersSnapshot() != before {
				t.Errorf("%s changed the database", tc.name)
			}
		})
	}

	// A's list does not show B's users, and B's device is free in A.
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: base})
	if dig(res.JSON, "metadata", "total") != float64(2) {
		t.Errorf("A's list: %s", res.Raw)
	}
	e.createUser(`{"name":"Carol","devices":["+15550100009"]}`)
}

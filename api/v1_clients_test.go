package api

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/sms"
)

// The acceptance check for Exotel's v1, v2_beta, v2 number and CCM user
// surfaces,
// in the manner of TestV2Clients: each case replays the requests an
// unmodified public client sends for its methods (path, form as the
// client encodes it, its headers and its credentials) and checks what the
// client reads from each answer. Legacy clients authenticate as the
// account SID with an API key's token.

// legacyStep is one request of a v1-era client.
type legacyStep struct {
	call    string
	method  string
	path    string // from the root, with {name}s
	form    url.Values
	body    string // a raw body instead of form
	keyAuth bool   // the client sends the API key, not the account SID
	header  http.Header
	status  int
	xml     bool // the answer is XML (no .json suffix): the client prints it
	reads   []clientRead
	save    map[string][]any
}

var (
	pyForm = http.Header{"User-Agent": {"python-requests/2.34.2"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"},
		"Connection": {"keep-alive"}, "Content-Type": {"application/x-www-form-urlencoded"}}
	// Exotel's golang samples (exotel/ExotelAPI, golang/): net/http with
	// these two headers.
	goSampleForm = http.Header{"Accept": {"application/json"}, "Content-Type": {"application/x-www-form-urlencoded"}}
	// pyexotel sets Content-Type: application/json on its user requests
	// and sends their data= as a form all the same.
	pyFormAsJSON = http.Header{"User-Agent": {"python-requests/2.34.2"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"},
		"Connection": {"keep-alive"}, "Content-Type": {"application/json"}}
)

const v1Base = "/v1/Accounts/" + envAccount

// sarathspSteps is sarathsp06/exotel-py (PyPI "exotel"): Exotel(sid,
// token) with its baseurl attribute pointed at the server, requests'
// data= forms (None values left out), response objects handed back: a
// caller reads r.json()["Call"] and ["SMSMessage"].
func sarathspSteps() []legacyStep {
	return []legacyStep{
		{call: "call_number", method: "POST", path: v1Base + "/Calls/connect.json", header: pyForm,
			form: url.Values{"From": {"+919800000001"}, "CallerId": {envExoPhone}, "To": {"+919800000002"},
				"TimeLimit": {"14400"}, "CallType": {"trans"}, "TimeOut": {"30"}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid"), readIs("+919800000001", "Call", "From")},
			save: map[string][]any{"call": {"Call", "Sid"}}},
		{call: "call_flow", method: "POST", path: v1Base + "/Calls/connect.json", header: pyForm,
			form: url.Values{"From": {"+919800000003"}, "CallerId": {envExoPhone}, "Url": {"http://my.exotel.in/exoml/start/{flow}"},
				"TimeLimit": {"14400"}, "CallType": {"trans"}, "TimeOut": {"30"}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid")}},
		{call: "call_details", method: "GET", path: v1Base + "/Calls/{call}.json", header: pyForm, status: 200,
			reads: []clientRead{readIs("{call}", "Call", "Sid"), read("string", "Call", "Status")}},
		{call: "sms", method: "POST", path: v1Base + "/Sms/send.json", header: pyForm,
			form:   url.Values{"From": {envExoPhone}, "To": {"+919800000004"}, "Body": {"Your OTP is 1234"}, "EncodingType": {"plain"}, "Priority": {"normal"}},
			status: 200, reads: []clientRead{read("string", "SMSMessage", "Sid"), readIs("queued", "SMSMessage", "Status")},
			save: map[string][]any{"sms": {"SMSMessage", "Sid"}}},
		{call: "sms_details", method: "GET", path: v1Base + "/Sms/Messages/{sms}.json", header: pyForm, status: 200,
			reads: []clientRead{readIs("{sms}", "SMSMessage", "Sid"), read("string", "SMSMessage", "Status")}},
	}
}

// exotelpyV1Steps is exotelpy 0.1.1's SMS and ExoPhone methods: v1 and
// v2_beta bodies go as data= (a list as repeated keys), and every answer
// is parsed as JSON before its status is looked at; a 404 or 400 of v1 or
// v2_beta raises with RestException.Message.
func exotelpyV1Steps() []legacyStep {
	return []legacyStep{
		{call: "send_bulk_sms", method: "POST", path: v1Base + "/Sms/send.json", header: pyForm,
			form: url.Values{"From": {envExoPhone}, "To": {"+919800000005", "+919800000006"}, "Body": {"Sale ends today"},
				"EncodingType": {"plain"}, "Priority": {"high"}, "StatusCallback": {"https://crm.example/sms"},
				"DltEntityId": {"1101"}, "DltTemplateId": {"1107"}, "SmsType": {"transactional"}},
			status: 200, reads: []clientRead{read("array", ""), read("string", 0, "SMSMessage", "Sid"), read("string", 1, "SMSMessage", "Sid")},
			save: map[string][]any{"bulk": {0, "SMSMessage", "Sid"}}},
		{call: "get_sms_details", method: "GET", path: v1Base + "/SMS/Messages/{bulk}.json", header: pyForm, status: 200,
			reads: []clientRead{readIs("{bulk}", "SMSMessage", "Sid")}},
		{call: "get_sms_details (unknown)", method: "GET", path: v1Base + "/SMS/Messages/00000000000000000000000000000000.json", header: pyForm,
			status: 404, reads: []clientRead{read("string", "RestException", "Message")}},
		{call: "send_bulk_sms (no Body)", method: "POST", path: v1Base + "/Sms/send.json", header: pyForm,
			form: url.Values{"From": {envExoPhone}, "To": {"+919800000005"}}, status: 400,
			reads: []clientRead{read("string", "RestException", "Message")}},
		{call: "get_all_exophones", method: "GET", path: "/v2_beta/Accounts/" + envAccount + "/IncomingPhoneNumbers", header: pyForm, status: 200,
			reads: []clientRead{read("array", "incoming_phone_numbers"), read("string", "incoming_phone_numbers", 0, "sid")},
			save:  map[string][]any{"number": {"incoming_phone_numbers", 0, "sid"}}},
		{call: "get_exophone_details", method: "GET", path: "/v2_beta/Accounts/" + envAccount + "/IncomingPhoneNumbers/{number}", header: pyForm,
			status: 200, reads: []clientRead{readIs("{number}", "sid"), read("string", "phone_number")}},
		{call: "get_exophone_details (unknown)", method: "GET", path: "/v2_beta/Accounts/" + envAccount + "/IncomingPhoneNumbers/15559999999", header: pyForm,
			status: 404, reads: []clientRead{read("string", "RestException", "Message")}},
		{call: "get_exophone_heartbeat", method: "GET", path: "/v2/accounts/" + envAccount + "/incoming-phone-numbers/{number}", header: pyForm,
			status: 200, reads: []clientRead{readIs("{number}", "response", "incoming_phone_number", "sid")}},
	}
}

// exotelGoSampleSteps is Exotel's golang samples (send_sms.go,
// connect_flow.go, call_agent.go) with their placeholders filled: they
// print the answer. The call samples leave out CallerId, which Exotel
// documents as required: they get a 400 that says so.
func exotelGoSampleSteps() []legacyStep {
	return []legacyStep{
		{call: "send_sms.go", method: "POST", path: v1Base + "/SMS/send", header: goSampleForm,
			form:   url.Values{"To": {"+919800000007"}, "From": {envExoPhone}, "Body": {"Hello World!"}},
			status: 200, xml: true, reads: []clientRead{read("string", "SMSMessage", "Sid")}},
		{call: "connect_flow.go", method: "POST", path: v1Base + "/Calls/connect.json", header: goSampleForm,
			form:   url.Values{"From": {"+919800000008"}, "Url": {"http://my.exotel.com/" + envAccount + "/exoml/start_voice/{flow}"}, "CallerType": {"trans"}},
			status: 400, reads: []clientRead{read("string", "RestException", "Message")}},
		{call: "connect_flow.go (with its CallerId)", method: "POST", path: v1Base + "/Calls/connect.json", header: goSampleForm,
			form: url.Values{"From": {"+919800000008"}, "Url": {"http://my.exotel.com/" + envAccount + "/exoml/start_voice/{flow}"},
				"CallerType": {"trans"}, "CallerId": {envExoPhone}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid")}},
		{call: "call_agent.go (with its CallerId)", method: "POST", path: v1Base + "/Calls/connect.json", header: goSampleForm,
			form:   url.Values{"To": {"+919800000009"}, "From": {"+919800000010"}, "CallerType": {"trans"}, "CallerId": {envExoPhone}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid")}},
	}
}

// pyexotelSteps is pyexotel (PyPI; devbijay/pyexotel): key and token in
// https://<key>:<token>@<domain>, forms everywhere. Its create_user sends
// a GET (so it lists users); the user is made as Exotel documents it,
// then read, renamed, switched off and on, and deleted by the client.
func pyexotelSteps() []legacyStep {
	const users = "/v2/accounts/" + envAccount + "/users"
	return []legacyStep{
		{call: "call", method: "POST", path: v1Base + "/Calls/connect.json", header: pyForm, keyAuth: true,
			form:   url.Values{"From": {"+919800000021"}, "To": {"+919800000022"}, "CallerId": {envExoPhone}, "TimeLimit": {"14400"}, "Record": {"true"}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid")}, save: map[string][]any{"call": {"Call", "Sid"}}},
		{call: "connect_flow", method: "POST", path: v1Base + "/Calls/connect.json", header: pyForm, keyAuth: true,
			form: url.Values{"From": {"+919800000023"}, "Url": {"http://my.exotel.com/" + envAccount + "/exoml/start_voice/{flow}"},
				"CallerId": {envExoPhone}, "TimeLimit": {"14400"}},
			status: 200, reads: []clientRead{read("string", "Call", "Sid")}},
		{call: "get_call_info", method: "GET", path: v1Base + "/Calls/{call}.json", header: pyForm, keyAuth: true, status: 200,
			reads: []clientRead{read("string", "Call", "Status")}},
		{call: "get_phone_info", method: "GET", path: v1Base + "/Numbers/09876543210.json", header: pyForm, keyAuth: true, status: 200,
			reads: []clientRead{readIs("Mobile", "Numbers", "Type"), readIs("No", "Numbers", "DND"), read("string", "Numbers", "Circle")}},
		{call: "create_user (its GET lists users)", method: "GET", path: users, header: pyFormAsJSON, keyAuth: true,
			form:   url.Values{"first_name": {"Asha"}, "last_name": {"Rao"}, "email": {"asha@acme.example"}, "device_contact_uri": {"+919800000024"}, "role": {"supervisor"}},
			status: 200, reads: []clientRead{read("array", "response")}},
		{call: "(Exotel's documented create)", method: "POST", path: users, keyAuth: true, header: http.Header{"Content-Type": {"application/json"}},
			body:   `{"first_name":"Asha","last_name":"Rao","email":"asha@acme.example","device_contact_uri":"+919800000024","role":"supervisor"}`,
			status: 201, save: map[string][]any{"user": {"response", "user", "id"}, "device": {"response", "user", "devices", 0, "id"}}},
		{call: "get_user_details", method: "GET", path: users + "/{user}", header: pyForm, keyAuth: true, status: 200,
			reads: []clientRead{readIs("Asha", "response", "user", "first_name"), readIs("supervisor", "response", "user", "role")}},
		{call: "update_user", method: "PUT", path: users + "/{user}", header: pyFormAsJSON, keyAuth: true,
			form:   url.Values{"first_name": {"Asha"}, "last_name": {"Rao-Kumar"}},
			status: 200, reads: []clientRead{readIs("Rao-Kumar", "response", "user", "last_name")}},
		{call: "set_user_status", method: "PUT", path: users + "/{user}/devices/{device}", header: pyFormAsJSON, keyAuth: true,
			form:   url.Values{"available": {"false"}},
			status: 200, reads: []clientRead{readIs(false, "response", "user", "devices", 0, "available")}},
		{call: "set_user_status (with user_phone)", method: "PUT", path: users + "/{user}/devices/{device}", header: pyFormAsJSON, keyAuth: true,
			form:   url.Values{"available": {"true"}, "contact_uri": {"+919800000025"}},
			status: 200, reads: []clientRead{readIs(true, "response", "user", "devices", 0, "available"), readIs("+919800000025", "response", "user", "devices", 0, "contact_uri")}},
		{call: "delete_user", method: "DELETE", path: users + "/{user}", header: pyForm, keyAuth: true, status: 200,
			reads: []clientRead{readIs(true, "response", "user", "deleted")}},
	}
}

// xmlTree decodes a TwilioResponse into nested maps of element names
// (repeated names keep the last), so reads work on XML as on JSON.
func xmlTree(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	var stack []map[string]any
	var names []string
	root := map[string]any{}
	cur := root
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			stack, names = append(stack, cur), append(names, el.Name.Local)
			cur = map[string]any{}
			text.Reset()
		case xml.CharData:
			text.Write(el)
		case xml.EndElement:
			parent := stack[len(stack)-1]
			name := names[len(names)-1]
			stack, names = stack[:len(stack)-1], names[:len(names)-1]
			if len(cur) == 0 {
				parent[name] = strings.TrimSpace(text.String())
			} else {
				parent[name] = cur
			}
			cur = parent
			text.Reset()
		}
	}
	resp, ok := root["TwilioResponse"].(map[string]any)
	if !ok {
		t.Fatalf("not a TwilioResponse:\n%s", b)
	}
	return resp
}

func TestV1Clients(t *testing.T) {
	clients := []struct {
		name  string
		steps []legacyStep
	}{
		{"exotel-py (sarathsp06, Python)", sarathspSteps()},
		{"exotelpy 0.1.1 SMS and ExoPhones (Python)", exotelpyV1Steps()},
		{"Exotel golang samples (Go)", exotelGoSampleSteps()},
		{"pyexotel (Python)", pyexotelSteps()},
	}
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		for _, cl := range clients {
			t.Run(strings.ReplaceAll(cl.name, " ", "_"), func(t *testing.T) {
				e, _ := newSMSEnv(t, dsn, sms.Config{})
				key, apiToken, err := e.db.Accounts().CreateAPIKey(t.Context(), envAccount, "legacy client")
				envMust(t, err)
				vars := clientVars{"flow": e.flowID}
				expand := vars.expand
				for _, st := range cl.steps {
					form := url.Values{}
					for k, vs := range st.form {
						for _, v := range vs {
							form.Add(k, expand(v))
						}
					}
					r := envReq{method: st.method, path: expand(st.path), header: st.header, user: envAccount, pass: apiToken}
					if st.keyAuth {
						r.user = key.Key
					}
					if st.form != nil {
						r.body = form.Encode()
					}
					if st.body != "" {
						r.body = expand(st.body)
					}
					rec := e.do(r)
					if rec.Code != st.status {
						t.Fatalf("%s: %s %s: %d, want %d\n%s", st.call, r.method, r.path, rec.Code, st.status, rec.Body)
					}
					var m any
					if st.xml {
						m = xmlTree(t, rec.Body.Bytes())
					} else if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
						t.Fatalf("%s: the client parses the answer as JSON: %v\n%s", st.call, err, rec.Body)
					}
					for _, rd := range st.reads {
						if len(rd.path) == 1 && rd.path[0] == "" {
							rd.path = nil
						}
						if err := checkRead(m, rd, expand); err != nil {
							t.Errorf("%s: %v\n%s", st.call, err, rec.Body)
						}
					}
					vars.save(t, st.call, m, st.save, rec.Body.String())
				}
			})
		}
	})
}

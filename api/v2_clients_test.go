package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The acceptance check for Campaigns v2: unmodified Exotel client
// libraries that manage campaigns, lists and contacts work against
// Switchyard with only their base URL changed. Each case below replays,
// in order, the requests one client sends for its methods (method, path
// and query in the client's own order, the headers it sets, the body as
// it serialises it), and asserts that every field the client reads from
// the answer is there with the type the client's code expects. A {name}
// in a path or body is a value an earlier answer gave, as the client
// would have carried it over.

// clientRead is a field a client reads from an answer: where it is and
// the JSON type it must have ("string", "number", "bool", "array",
// "object", or "absent"); want, when set, is the value the client's logic depends on.
type clientRead struct {
	path []any
	kind string
	want any
}

func read(kind string, path ...any) clientRead { return clientRead{path: path, kind: kind} }

// absent is a field the client relies on not being there.
func absent(path ...any) clientRead { return clientRead{path: path, kind: "absent"} }

func readIs(want any, path ...any) clientRead {
	kind := "string"
	switch want.(type) {
	case float64:
		kind = "number"
	case bool:
		kind = "bool"
	}
	return clientRead{path: path, kind: kind, want: want}
}

// clientStep is one request of a client and what it reads back.
type clientStep struct {
	call   string // the client's method that sends it
	method string
	path   string // under /v2/accounts/<sid>, with {name}s
	header http.Header
	body   string // with {name}s
	status int
	reads  []clientRead
	save   map[string][]any // name -> where in the answer its value is
}

// Headers python-requests 2.x sends with every request, and with a json=
// body.
var (
	pyHeaders     = http.Header{"User-Agent": {"python-requests/2.34.2"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"}, "Connection": {"keep-alive"}}
	pyJSONHeaders = http.Header{"User-Agent": {"python-requests/2.34.2"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"}, "Connection": {"keep-alive"}, "Content-Type": {"application/json"}}
	// The npm request 2.x client with json: true adds Accept; Exotel's
	// samples set Content-Type themselves, on GETs too.
	jsSampleJSON = http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}
	jsSampleGET  = http.Header{"Content-Type": {"application/json"}}
)

// Reads shared by exotelpy's calls: __call_api returns response.json()
// for any status it does not turn into an exception, and
// helpers.get_error_description reads response[0].error_data.description
// when response is a list, response.error_data.description when it is
// an object.
var (
	pyItemError = []clientRead{read("array", "response"), read("string", "response", 0, "error_data", "description")}
	pyOneError  = []clientRead{read("object", "response"), read("string", "response", "error_data", "description")}
)

// exotelpySteps is exotelpy 0.1.1 (PyPI; NooraHealth/exotel-python, tag
// v0.1.1), Python, on requests 2.x. Exotel(sid, key, token, baseurl)
// joins baseurl with "v2/accounts/<sid>/"; bodies go as json= (json.dumps
// with its default ", " and ": " separators), queries as params= in the
// order the method fills its dict. Its create_list(numbers=…) creates the
// list, then the contacts, then adds them by reference, and returns the
// last answer, from which create_campaign_with_list takes the list as
// response[0].data.list_id and the contacts as response[*].data.sid;
// create_campaign builds url as http://my.exotel.com/<sid>/exoml/start_voice/<app_id>.
// Schedule.to_json sends isoformat(timespec="seconds"); Retry.to_dict the
// keys in the order below.
func exotelpySteps() []clientStep {
	return []clientStep{
		{call: "create_contacts", method: "POST", path: "/contacts", header: pyJSONHeaders,
			body:   `{"contacts": [{"number": "+919876543210"}, {"number": "+919876543211"}]}`,
			status: 200,
			reads:  []clientRead{read("string", "response", 0, "data", "sid"), read("string", "response", 1, "data", "sid")},
			save:   map[string][]any{"ct1": {"response", 0, "data", "sid"}, "ct2": {"response", 1, "data", "sid"}}},
		{call: "get_contact_details", method: "GET", path: "/contacts/{ct1}", header: pyHeaders, status: 200,
			reads: []clientRead{readIs("+919876543210", "response", 0, "data", "number"), read("string", "response", 0, "data", "sid")}},
		// create_list: a 409 for the item must come back as JSON with
		// response[0].code, which it turns into UniqueViolationError.
		{call: "create_list", method: "POST", path: "/lists", header: pyJSONHeaders,
			body:   `{"lists": [{"name": "exotelpy plain", "tag": "demo"}]}`,
			status: 200,
			reads:  []clientRead{readIs(200.0, "response", 0, "code"), read("string", "response", 0, "data", "sid")},
			save:   map[string][]any{"ls1": {"response", 0, "data", "sid"}}},
		{call: "add_contacts_to_list", method: "POST", path: "/lists/{ls1}/contacts", header: pyJSONHeaders,
			body:   `{"contact_references": [{"contact_sid": "{ct1}"}, {"contact_sid": "{ct2}"}]}`,
			status: 200,
			reads: []clientRead{read("array", "response"), readIs("{ls1}", "response", 0, "data", "list_id"),
				readIs("{ct1}", "response", 0, "data", "sid"), readIs("{ct2}", "response", 1, "data", "sid"),
				read("number", "metadata", "success"), read("number", "metadata", "total")}},
		{call: "create_list (duplicate name)", method: "POST", path: "/lists", header: pyJSONHeaders,
			body:   `{"lists": [{"name": "exotelpy plain", "tag": "demo"}]}`,
			status: 409,
			reads:  []clientRead{readIs(409.0, "response", 0, "code"), read("string", "response", 0, "error_data", "description")}},
		{call: "get_list_details", method: "GET", path: "/lists/{ls1}", header: pyHeaders, status: 200,
			reads: []clientRead{readIs("{ls1}", "response", 0, "data", "sid"), readIs("exotelpy plain", "response", 0, "data", "name")}},
		{call: "get_bulk_lists", method: "GET", path: "/lists?offset=0&limit=5&name=exotelpy&sort_by=name%3Aasc", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response"), readIs("{ls1}", "response", 0, "data", "sid"), read("object", "metadata")}},
		{call: "get_list_contacts", method: "GET", path: "/lists/{ls1}/contacts?offset=0&limit=10", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response"), read("string", "response", 0, "data", "sid"), read("string", "response", 1, "data", "number")}},
		{call: "create_campaign (from_, every option)", method: "POST", path: "/campaigns", header: pyJSONHeaders,
			body: `{"campaigns": [{"caller_id": "+918047000000", "campaign_type": "static", "url": "http://my.exotel.com/acme1/exoml/start_voice/{flow}", ` +
				`"from": ["+919876543214", "+919876543215"], "call_duplicate_numbers": false, "name": "exotelpy from", ` +
				`"schedule": {"send_at": "2099-01-14T10:00:00+05:30", "end_at": "2099-01-16T10:00:00+05:30"}, ` +
				`"call_status_callback": "https://crm.example/cs", "call_schedule_callback": "https://crm.example/sch", "status_callback": "https://crm.example/st", ` +
				`"retries": {"mechanism": "Linear", "on_status": ["busy", "failed", "no-answer"], "number_of_retries": 2, "interval_mins": 5}}]}`,
			status: 200,
			reads: []clientRead{readIs(200.0, "response", 0, "code"), read("string", "response", 0, "data", "id"),
				readIs("Created", "response", 0, "data", "status")},
			save: map[string][]any{"cp1": {"response", 0, "data", "id"}}},
		// create_campaign_with_list: create_list(numbers=) then
		// create_campaign(lists=[list_id]).
		{call: "create_campaign_with_list: create_list", method: "POST", path: "/lists", header: pyJSONHeaders,
			body:   `{"lists": [{"name": "exotelpy cwl", "tag": "demo"}]}`,
			status: 200,
			reads:  []clientRead{readIs(200.0, "response", 0, "code"), read("string", "response", 0, "data", "sid")},
			save:   map[string][]any{"ls2": {"response", 0, "data", "sid"}}},
		{call: "create_campaign_with_list: create_contacts", method: "POST", path: "/contacts", header: pyJSONHeaders,
			body:   `{"contacts": [{"number": "+919876543216"}, {"number": "+919876543217"}]}`,
			status: 200,
			reads:  []clientRead{read("string", "response", 0, "data", "sid"), read("string", "response", 1, "data", "sid")},
			save:   map[string][]any{"ct3": {"response", 0, "data", "sid"}, "ct4": {"response", 1, "data", "sid"}}},
		{call: "create_campaign_with_list: add_contacts_to_list", method: "POST", path: "/lists/{ls2}/contacts", header: pyJSONHeaders,
			body:   `{"contact_references": [{"contact_sid": "{ct3}"}, {"contact_sid": "{ct4}"}]}`,
			status: 200,
			reads: []clientRead{readIs("{ls2}", "response", 0, "data", "list_id"),
				readIs("{ct3}", "response", 0, "data", "sid"), readIs("{ct4}", "response", 1, "data", "sid")}},
		{call: "create_campaign_with_list: create_campaign(lists=)", method: "POST", path: "/campaigns", header: pyJSONHeaders,
			body: `{"campaigns": [{"caller_id": "+918047000000", "campaign_type": "static", "url": "http://my.exotel.com/acme1/exoml/start_voice/{flow}", ` +
				`"lists": ["{ls2}"], "name": "exotelpy cwl", "schedule": {"send_at": "2099-01-14T10:00:00+05:30", "end_at": "2099-01-16T10:00:00+05:30"}}]}`,
			status: 200,
			reads:  []clientRead{read("string", "response", 0, "data", "id"), readIs("{ls2}", "response", 0, "data", "lists", 0)}},
		// A refused campaign: 400 is ValidationError, on which
		// create_campaign_with_list deletes the list and the contacts
		// it made.
		{call: "create_campaign (refused: short name)", method: "POST", path: "/campaigns", header: pyJSONHeaders,
			body: `{"campaigns": [{"caller_id": "+918047000000", "campaign_type": "static", "url": "http://my.exotel.com/acme1/exoml/start_voice/{flow}", ` +
				`"lists": ["{ls2}"], "name": "x"}]}`,
			status: 400, reads: pyItemError},
		{call: "create_campaign (refused: unknown caller_id)", method: "POST", path: "/campaigns", header: pyJSONHeaders,
			body:   `{"campaigns": [{"caller_id": "+10000000000", "campaign_type": "static", "url": "http://my.exotel.com/acme1/exoml/start_voice/{flow}", "from": ["+919876543218"]}]}`,
			status: 404, reads: pyItemError},
		{call: "get_campaign_details", method: "GET", path: "/campaigns/{cp1}", header: pyHeaders, status: 200,
			reads: []clientRead{readIs("{cp1}", "response", 0, "data", "id"), read("string", "response", 0, "data", "status"),
				read("object", "response", 0, "data", "stats")}},
		{call: "get_campaign_details (unknown)", method: "GET", path: "/campaigns/cp_doesnotexist", header: pyHeaders, status: 404, reads: pyOneError},
		{call: "get_bulk_campaign_details", method: "GET", path: "/campaigns?offset=0&limit=10&name=exotelpy&status=Created&sort_by=date_created%3Adesc", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response"), read("string", "response", 0, "data", "id"), read("string", "response", 1, "data", "id"),
				read("number", "metadata", "total")}},
		{call: "get_campaign_call_details", method: "GET", path: "/campaigns/{cp1}/call-details?offset=0&limit=10&status=completed&sort_by=date_created%3Aasc", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response"), read("object", "metadata")}},
		{call: "delete_campaign", method: "DELETE", path: "/campaigns/{cp1}", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response")}},
		{call: "delete_list", method: "DELETE", path: "/lists/{ls1}", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response")}},
		{call: "delete_contact", method: "DELETE", path: "/contacts/{ct1}", header: pyHeaders, status: 200,
			reads: []clientRead{read("array", "response")}},
		{call: "get_contact_details (deleted)", method: "GET", path: "/contacts/{ct1}", header: pyHeaders, status: 404, reads: pyOneError},
	}
}

// exotelSampleSteps are Exotel's own campaign samples for Node
// (exotel/ExotelAPI, Campaign_Samples/js, commit 55893e7), run with the
// npm request 2.88 client: create, get, bulk get with the legacy
// page_size/page, edit by PUT of a whole wrapped campaign, delete. The
// body is JSON.stringify's (no spaces). They print the answer; the reads
// below are what a caller of them uses.
func exotelSampleSteps() []clientStep {
	return []clientStep{
		{call: "create_campaign.js", method: "POST", path: "/campaigns", header: jsSampleJSON,
			body: `{"campaigns":[{"caller_id":"+918047000000","url":"http://my.exotel.com/acme1/exoml/start_voice/{flow}",` +
				`"from":["+919876540040","+919876540050"],"schedule":{"send_at":"2099-11-08T14:20:00+05:30"},` +
				`"status_callback":"https://crm.example/1gvta9f1","call_status_callback":"https://crm.example/1gvta9f1"}]}`,
			status: 200,
			reads:  []clientRead{readIs("success", "response", 0, "status"), read("string", "response", 0, "data", "id")},
			save:   map[string][]any{"cp": {"response", 0, "data", "id"}}},
		{call: "get_campaign_byID.js", method: "GET", path: "/campaigns/{cp}", status: 200,
			reads: []clientRead{readIs("{cp}", "response", 0, "data", "id")}},
		{call: "bulk_get_campaigns.js", method: "GET", path: "/campaigns?page_size=1&page=1", header: jsSampleGET, status: 200,
			reads: []clientRead{read("string", "response", 0, "data", "id"), absent("response", 1), read("number", "metadata", "total")}},
		{call: "edit_campaign.js", method: "PUT", path: "/campaigns/{cp}", header: jsSampleJSON,
			body: `{"campaigns":[{"caller_id":"+918047000000","url":"http://my.exotel.com/acme1/exoml/start_voice/{flow}",` +
				`"from":["+919876540040","+919876540050"],"schedule":{"send_at":"2099-11-09T10:00:00+05:30"},` +
				`"status_callback":"https://crm.example/1gvta9f1","call_status_callback":"https://crm.example/1gvta9f1"}]}`,
			status: 200,
			reads:  []clientRead{readIs("success", "response", 0, "status"), readIs("2099-11-09T10:00:00+05:30", "response", 0, "data", "schedule", "send_at")}},
		{call: "delete_campaign_byID.js", method: "DELETE", path: "/campaigns/{cp}", status: 200,
			reads: []clientRead{readIs("success", "response", 0, "status")}},
	}
}

func TestV2Clients(t *testing.T) {
	clients := []struct {
		name  string
		steps []clientStep
	}{
		{"exotelpy 0.1.1 (Python)", exotelpySteps()},
		{"Exotel Campaign_Samples/js (Node)", exotelSampleSteps()},
	}
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		for _, cl := range clients {
			t.Run(strings.ReplaceAll(cl.name, " ", "_"), func(t *testing.T) {
				e := newV2Env(t, dsn, Options{})
				vars := clientVars{"flow": e.flowID}
				expand := vars.expand
				for _, st := range cl.steps {
					r := envReq{method: st.method, path: expand(v2Path(st.path)), body: expand(st.body), header: st.header}
					rec := e.do(r)
					if rec.Code != st.status {
						t.Fatalf("%s: %s %s: %d, want %d\n%s", st.call, r.method, r.path, rec.Code, st.status, rec.Body)
					}
					if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("%s: Content-Type %q, want JSON", st.call, ct)
					}
					var m any
					if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
						t.Fatalf("%s: the client parses every answer as JSON: %v\n%s", st.call, err, rec.Body)
					}
					for _, rd := range st.reads {
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

// clientVars are the values earlier answers gave, as a client carries
// them over: {name} in a path or body.
type clientVars map[string]string

func (v clientVars) expand(s string) string {
	for k, val := range v {
		s = strings.ReplaceAll(s, "{"+k+"}", val)
	}
	return s
}

// save keeps the values a step's answer m gives (name -> where in m).
func (v clientVars) save(t *testing.T, call string, m any, save map[string][]any, body string) {
	t.Helper()
	for name, p := range save {
		val, ok := v2Dig(m, p...).(string)
		if !ok || val == "" {
			t.Fatalf("%s: no %v in the answer\n%s", call, p, body)
		}
		v[name] = val
	}
}

// checkRead reports a field a client reads that is missing, of another
// type, or (when want is set) of another value.
func checkRead(m any, rd clientRead, expand func(string) string) error {
	v := v2Dig(m, rd.path...)
	if rd.kind == "absent" {
		if v != nil {
			return fmt.Errorf("%v: %v, want nothing", rd.path, v)
		}
		return nil
	}
	got := "missing or null"
	switch v.(type) {
	case string:
		got = "string"
	case float64:
		got = "number"
	case bool:
		got = "bool"
	case []any:
		got = "array"
	case map[string]any:
		got = "object"
	}
	if got != rd.kind {
		return fmt.Errorf("%v: %s, want %s", rd.path, got, rd.kind)
	}
	if rd.want != nil {
		want := rd.want
		if s, ok := want.(string); ok {
			want = expand(s)
		}
		if v != want {
			return fmt.Errorf("%v: %v, want %v", rd.path, v, want)
		}
	}
	return nil
}

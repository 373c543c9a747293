package main

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// v1Call is the part of Exotel's v1 Call object the tests read.
type v1Call struct {
	Sid, Status, From, To, PhoneNumberSid, Direction, Uri string
	Duration                                              *string
	RecordingUrl                                          *string
	Details                                               *struct {
		ConversationDuration   int
		Leg1Status, Leg2Status *string
	}
}

// connect POSTs Calls/connect.json and returns the call.
func (s *server) connect(form url.Values) v1Call {
	s.t.Helper()
	code, body, _ := s.do("POST", "/v1/Accounts/"+demoAccount+"/Calls/connect.json", form)
	if code != http.StatusOK {
		s.t.Fatalf("Calls/connect: %d %s", code, body)
	}
	var out struct{ Call v1Call }
	if err := json.Unmarshal(body, &out); err != nil || len(out.Call.Sid) != 32 {
		s.t.Fatalf("Calls/connect: %v %s", err, body)
	}
	return out.Call
}

// details GETs Calls/<sid>.json?details=true.
func (s *server) details(sid string) v1Call {
	s.t.Helper()
	var out struct{ Call v1Call }
	s.getJSON("/v1/Accounts/"+demoAccount+"/Calls/"+sid+".json?details=true", &out)
	return out.Call
}

const (
	demoAccount = "demo"
	demoPhone   = "+15550000100"
)

func TestServeClickToCall(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		s := startServe(t, dsn(t))
		rc := newReceiver(t)
		base := func(from, to string) url.Values {
			return url.Values{"From": {from}, "To": {to}, "CallerId": {demoPhone}, "TimeOut": {"10"},
				"StatusCallback": {rc.url}, "CustomField": {"order-77"}}
		}

		t.Run("both answer", func(t *testing.T) {
			form := base("+15550100001", "+15550100403")
			form["StatusCallbackEvents[]"] = []string{"terminal", "answered"}
			form.Set("Record", "true")
			c := s.connect(form)
			if c.Direction != "outbound-api" || c.From != "+15550100001" || c.To != "+15550100403" || c.PhoneNumberSid != demoPhone {
				t.Errorf("created call: %+v", c)
			}
			got := rc.terminal(c.Sid)
			var answered, terminal *received
			for i := range got {
				switch got[i].fields["EventType"] {
				case "answered":
					answered = &got[i]
				case "terminal":
					terminal = &got[i]
				}
			}
			if answered == nil || terminal == nil {
				t.Fatalf("callbacks: %+v, want answered and terminal", got)
			}
			if terminal.contentType != "multipart/form-data" {
				t.Errorf("content type %q, want multipart/form-data by default", terminal.contentType)
			}
			want := map[string]string{
				"CallSid": c.Sid, "Status": "completed", "Direction": "outbound-api", "CustomField": "order-77",
				"From": "+15550100001", "To": "+15550100403", "PhoneNumberSid": demoPhone,
				"Legs[0][Status]": "completed", "Legs[1][Status]": "completed", "Legs[0][AnsweredBy]": "NA",
			}
			for k, v := range want {
				if terminal.fields[k] != v {
					t.Errorf("terminal callback %s = %q, want %q", k, terminal.fields[k], v)
				}
			}
			for _, k := range []string{"DateCreated", "DateUpdated", "StartTime", "EndTime", "ConversationDuration", "RecordingUrl", "Legs[0][OnCallDuration]", "Legs[1][OnCallDuration]"} {
				if terminal.fields[k] == "" {
					t.Errorf("terminal callback lacks %s: %v", k, terminal.fields)
				}
			}
			if answered.fields["Status"] != "in-progress" || answered.header.Get("X-Switchyard-Sequence") >= terminal.header.Get("X-Switchyard-Sequence") {
				t.Errorf("answered: status %q seq %q, terminal seq %q", answered.fields["Status"],
					answered.header.Get("X-Switchyard-Sequence"), terminal.header.Get("X-Switchyard-Sequence"))
			}
			d := s.details(c.Sid)
			if d.Status != "completed" || d.Details == nil || d.Details.Leg1Status == nil || *d.Details.Leg1Status != "completed" ||
				d.Details.Leg2Status == nil || *d.Details.Leg2Status != "completed" || d.Details.ConversationDuration < 2 {
				t.Errorf("details: %+v %+v", d, d.Details)
			}
			if d.RecordingUrl == nil || *d.RecordingUrl == "" || d.Duration == nil {
				t.Errorf("details: recording %v duration %v", d.RecordingUrl, d.Duration)
			}
		})

		t.Run("From busy", func(t *testing.T) {
			form := base("+15550100101", "+15550100001")
			form.Set("StatusCallbackContentType", "application/json")
			form["StatusCallbackEvents[0]"] = []string{"terminal"}
			c := s.connect(form)
			got := rc.terminal(c.Sid)
			cb := got[len(got)-1]
			if cb.contentType != "application/json" || cb.fields["Status"] != "busy" || cb.fields["Legs[0][Status]"] != "busy" {
				t.Errorf("callback: %s %v", cb.contentType, cb.fields)
			}
			if legs, ok := cb.json["Legs"].([]any); !ok || len(legs) != 1 {
				t.Errorf("JSON Legs: %v", cb.json["Legs"])
			}
			d := s.details(c.Sid)
			if d.Status != "busy" || d.Details == nil || d.Details.Leg1Status == nil || *d.Details.Leg1Status != "busy" || d.Details.Leg2Status != nil {
				t.Errorf("details: %+v %+v", d, d.Details)
			}
		})

		t.Run("To no answer", func(t *testing.T) {
			c := s.connect(base("+15550100001", "+15550100201"))
			got := rc.terminal(c.Sid)
			cb := got[len(got)-1]
			// Without StatusCallbackEvents: one callback with the base fields.
			if cb.fields["Status"] != "no-answer" || cb.fields["EventType"] != "" || cb.fields["Legs[0][Status]"] != "" {
				t.Errorf("callback: %v, want the 4 base fields with status no-answer", cb.fields)
			}
			for _, k := range []string{"CallSid", "DateUpdated", "Status", "RecordingUrl"} {
				if _, ok := cb.fields[k]; !ok {
					t.Errorf("base callback lacks %s", k)
				}
			}
			d := s.details(c.Sid)
			if d.Status != "no-answer" || d.Details == nil || *d.Details.Leg1Status != "completed" || d.Details.Leg2Status == nil || *d.Details.Leg2Status != "no-answer" {
				t.Errorf("details: %+v %+v", d, d.Details)
			}
		})

		t.Run("XML details", func(t *testing.T) {
			c := s.connect(base("+15550100101", "+15550100001"))
			rc.terminal(c.Sid)
			code, body, h := s.do("GET", "/v1/Accounts/"+demoAccount+"/Calls/"+c.Sid, nil)
			var x struct {
				XMLName xml.Name `xml:"TwilioResponse"`
				Call    struct{ Sid, Status string }
			}
			if code != 200 || !strings.Contains(h.Get("Content-Type"), "xml") || xml.Unmarshal(body, &x) != nil || x.Call.Sid != c.Sid || x.Call.Status != "busy" {
				t.Errorf("XML details: %d %s %s", code, h.Get("Content-Type"), body)
			}
		})
	})
}

func TestServeConnectToFlow(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		s := startServe(t, dsn(t))
		rc := newReceiver(t)
		flow := s.flowID("basic-support")
		for name, u := range map[string]string{
			"current": "http://my.exotel.com/" + demoAccount + "/exoml/start_voice/" + flow,
			"legacy":  "http://my.exotel.in/exoml/start/" + flow,
		} {
			t.Run(name, func(t *testing.T) {
				// The customer answers and hangs up after 3 s, during the flow.
				c := s.connect(url.Values{"From": {"+15550100403"}, "Url": {u}, "CallerId": {demoPhone},
					"StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal"}})
				if c.To != demoPhone {
					t.Errorf("a flow call's To is the ExoPhone, got %q", c.To)
				}
				cb := rc.terminal(c.Sid)
				if last := cb[len(cb)-1]; last.fields["Status"] != "completed" || last.fields["Legs[0][Status]"] != "completed" {
					t.Errorf("callback: %v", last.fields)
				}
			})
		}
	})
}

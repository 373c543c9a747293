package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestSMSOverAPI: serve's SMS path end to end, on the test phone
// network: Sms/send queues, the worker sends, the StatusCallback arrives
// as a form POST, and SMS/Messages shows the final status.
func TestSMSOverAPI(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		got := make(chan url.Values, 4)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			v, err := url.ParseQuery(string(b))
			if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("callback %q: %v", r.Header.Get("Content-Type"), err)
			}
			got <- v
		}))
		t.Cleanup(cb.Close)
		s := startServe(t, dsn(t))
		form := url.Values{"From": {"+15550000100"}, "To": {"+15550100001", "+15550100601"},
			"Body": {"Your appointment is at 10:00"}, "StatusCallback": {cb.URL + "/sms"}, "CustomField": {"appt-7"}}
		code, body, _ := s.do("POST", "/v1/Accounts/demo/Sms/send.json", form)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		var sent []struct{ SMSMessage map[string]any }
		if err := json.Unmarshal(body, &sent); err != nil || len(sent) != 2 {
			t.Fatalf("%v %s", err, body)
		}
		want := map[string][2]string{ // To → Status, DetailedStatusCode
			"+15550100001": {"sent", "20005"},
			"+15550100601": {"failed-dnd", "23005"},
		}
		for range 2 {
			var v url.Values
			select {
			case v = <-got:
			case <-time.After(30 * time.Second):
				t.Fatal("no SMS status callback in 30s")
			}
			w := want[v.Get("To")]
			if v.Get("Status") != w[0] || v.Get("DetailedStatusCode") != w[1] || v.Get("CustomField") != "appt-7" || v.Get("SmsUnits") != "1" {
				t.Errorf("callback %v", v)
			}
		}
		for _, m := range sent {
			sid, _ := m.SMSMessage["Sid"].(string)
			code, body, _ := s.do("GET", "/v1/Accounts/demo/SMS/Messages/"+sid+".json", nil)
			var one struct{ SMSMessage map[string]any }
			if err := json.Unmarshal(body, &one); err != nil || code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			w := want[one.SMSMessage["To"].(string)]
			if one.SMSMessage["Status"] != w[0] || one.SMSMessage["DetailedStatusCode"] != w[1] {
				t.Errorf("GET %s", body)
			}
		}
	})
}

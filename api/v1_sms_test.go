package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// smsGoldenSID is the seeded, delivered message of the golden files.
const smsGoldenSID = "5a5b5c5d5e5f60616263646566676869"

// newSMSEnv is a callsEnv whose Sms/send queues to a sender on the same
// database (its worker not running unless the test runs it).
func newSMSEnv(t *testing.T, dsn func(testing.TB) string, cfg sms.Config) (*callsEnv, *sms.Sender) {
	t.Helper()
	var s *sms.Sender
	e := newCallsEnvOn(t, dsn, Options{}, func(db *store.DB, o *Options) {
		if cfg.Provider == nil {
			cfg.Provider = sms.TestNetwork{}
		}
		var err error
		s, err = sms.New(db, cfg, nil)
		envMust(t, err)
		o.SMS = s
		o.SMSReports, o.SMSReportToken = s.Report, smsGatewayToken
	})
	return e, s
}

// seedSMS writes the delivered message of the golden files.
func seedSMS(t *testing.T, db *store.DB) {
	t.Helper()
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	envMust(t, db.SMS().Create(context.Background(), []store.SMSMessage{{SID: smsGoldenSID, AccountSID: envAccount,
		From: envExoPhone, To: "+919800000001", Body: "Your OTP is 4711 & valid <5 min>", EncodingType: "plain",
		Priority: "normal", SmsType: "transactional", DetailedStatus: sms.Queued.Name, DetailedStatusCode: sms.Queued.Code,
		Units: 1, Direction: "outbound-api", Provider: "testnet", CreatedAt: created}}))
	sent := created.Add(2 * time.Second)
	envMust(t, db.Gorm().Model(&store.SMSMessage{}).Where("sid = ?", smsGoldenSID).Updates(map[string]any{
		"status": store.SMSSent, "detailed_status": sms.DeliveredToHandset.Name,
		"detailed_status_code": sms.DeliveredToHandset.Code, "sent_at": sent, "updated_at": sent.Add(3 * time.Second),
		"attempts": 1}).Error)
}

var (
	smsSIDRe  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	smsTimeRe = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
)

// smsNormalized replaces the random SIDs and the current times of a send's
// answer, so it can be compared with a golden file.
func smsNormalized(t *testing.T, b []byte, isJSON bool) []byte {
	out := callsGoldenBody(t, b, isJSON)
	out = smsSIDRe.ReplaceAll(out, []byte("<SmsSid>"))
	return smsTimeRe.ReplaceAll(out, []byte("<now>"))
}

func smsForm(to ...string) url.Values {
	return url.Values{"From": {"08047000000"}, "To": to, "Body": {"Hello from Switchyard ✓"}}
}

func (e *callsEnv) sendSMS(suffix string, form url.Values) *http.Response {
	e.t.Helper()
	rec := e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/" + envAccount + "/Sms/send" + suffix,
		body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	return rec.Result()
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	envMust(t, err)
	return b
}

func TestV1SMSGolden(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e, _ := newSMSEnv(t, dsn, sms.Config{})
		seedSMS(t, e.db)
		for _, g := range []struct{ file, path string }{
			{"v1_sms_get.xml", "/SMS/Messages/" + smsGoldenSID},
			{"v1_sms_get.json", "/SMS/Messages/" + smsGoldenSID + ".json"},
			{"v1_sms_get.json", "/Sms/Messages/" + smsGoldenSID + ".json"},
			{"v1_sms_error_not_found.json", "/SMS/Messages/ffffffffffffffffffffffffffffffff.json"},
			{"v1_sms_error_not_found.xml", "/SMS/Messages/not-a-sid"},
		} {
			rec := e.get("/v1/Accounts/" + envAccount + g.path)
			want := http.StatusOK
			if strings.Contains(g.file, "not_found") {
				want = http.StatusNotFound
			}
			if rec.Code != want {
				t.Fatalf("%s: %d %s", g.path, rec.Code, rec.Body)
			}
			callsGolden(t, g.file, callsGoldenBody(t, rec.Body.Bytes(), strings.HasSuffix(g.file, ".json")))
		}

		full := smsForm("09800000001")
		full.Set("EncodingType", "unicode")
		full.Set("Priority", "high")
		full.Set("SmsType", "transactional_opt_in")
		full.Set("DltEntityId", "1101000000000000001")
		full.Set("DltTemplateId", "1107000000000000002")
		full.Set("CustomField", "order-77")
		full.Set("StatusCallback", "https://cb.example/sms")
		bulk := url.Values{"From": {"ACMEIN"}, "To[0]": {"+919800000001"}, "To[1]": {"+919800000002"}, "Body": {"Sale!"}}
		for _, g := range []struct {
			file   string
			suffix string
			form   url.Values
			status int
		}{
			{"v1_sms_send.json", ".json", full, 200},
			{"v1_sms_send.xml", "", full, 200},
			{"v1_sms_send_bulk.json", ".json", bulk, 200},
			{"v1_sms_send_bulk.xml", "", bulk, 200},
			{"v1_sms_error_no_to.json", ".json", url.Values{"From": {"08047000000"}, "Body": {"x"}}, 400},
			{"v1_sms_error_no_to.xml", "", url.Values{"From": {"08047000000"}, "Body": {"x"}}, 400},
			{"v1_sms_error_from.json", ".json", with(smsForm("09800000001", "09800000002"), "From", "08047999999"), 400},
		} {
			res := e.sendSMS(g.suffix, g.form)
			body := readAll(t, res)
			if res.StatusCode != g.status {
				t.Fatalf("%s: %d %s", g.file, res.StatusCode, body)
			}
			callsGolden(t, g.file, smsNormalized(t, body, g.suffix == ".json"))
		}
	})
}

// with returns a copy of v with key set to value.
func with(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, value)
	return out
}

func TestV1SMSRejects(t *testing.T) {
	e, _ := newSMSEnv(t, storetest.SQLiteDSN, sms.Config{})
	long := strings.Repeat("a", 2001)
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{with(smsForm("09800000001"), "From", ""), "From is required"},
		{with(smsForm("09800000001"), "From", "08047999999"), "not an ExoPhone"},
		{with(smsForm("09800000001"), "From", "AB"), "not a valid phone number"},
		{with(smsForm("09800000001"), "From", "ACME-IN"), "not a valid phone number"},
		{with(smsForm("09800000001"), "To", "12"), "To \"12\" is not a valid phone number"},
		{with(smsForm("09800000001"), "Body", ""), "Body is required"},
		{with(smsForm("09800000001"), "Body", long), "at most 2000"},
		{with(smsForm("09800000001"), "EncodingType", "utf8"), "EncodingType"},
		{with(smsForm("09800000001"), "Priority", "urgent"), "Priority"},
		{with(smsForm("09800000001"), "SmsType", "spam"), "SmsType"},
		{with(smsForm("09800000001"), "StatusCallback", "ftp://x.example/"), "StatusCallback"},
		{with(smsForm("09800000001"), "DltEntityId", "has space"), "DltEntityId"},
		{with(smsForm("09800000001"), "CustomField", strings.Repeat("x", 129)), "CustomField"},
		{with(smsForm("09800000001"), "To[x]", "09800000002"), "To[x]"},
	} {
		for _, suffix := range []string{"", ".json"} {
			res := e.sendSMS(suffix, c.form)
			body := readAll(t, res)
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("%v: %d %s", c.form, res.StatusCode, body)
				continue
			}
			if st, msg := v1ErrorOf(t, body, suffix == ".json"); st != 400 || !strings.Contains(msg, c.want) {
				t.Errorf("%v: %d %q, want %q", c.form, st, msg, c.want)
			}
		}
	}
	// 101 recipients.
	var many []string
	for i := range 101 {
		many = append(many, "0980000"+strings.Repeat("0", 4-len(itoa(i)))+itoa(i))
	}
	if res := e.sendSMS(".json", smsForm(many...)); res.StatusCode != http.StatusBadRequest {
		t.Errorf("101 recipients: %d", res.StatusCode)
	}
	var n int64
	envMust(t, e.db.Gorm().Model(&store.SMSMessage{}).Count(&n).Error)
	if n != 0 {
		t.Errorf("%d messages queued by refused requests", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestV1SMSScoping(t *testing.T) {
	e, _ := newSMSEnv(t, storetest.SQLiteDSN, sms.Config{})
	seedSMS(t, e.db)
	// Another account cannot read it, nor send from this account's ExoPhone.
	rec := e.do(envReq{method: http.MethodGet, path: "/v1/Accounts/" + envOther + "/SMS/Messages/" + smsGoldenSID + ".json",
		user: envOther, pass: e.otherTk})
	if rec.Code != http.StatusNotFound {
		t.Errorf("other account read: %d %s", rec.Code, rec.Body)
	}
	rec = e.do(envReq{method: http.MethodPost, path: "/v1/Accounts/" + envOther + "/Sms/send.json", user: envOther,
		pass: e.otherTk, body: smsForm("09800000001").Encode(), contentType: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusBadRequest {
		t.Errorf("other account's send from acme's ExoPhone: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(envReq{method: http.MethodGet, path: "/v1/Accounts/" + envAccount + "/SMS/Messages/" + smsGoldenSID,
		noAuth: true}); rec.Code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", rec.Code)
	}
}

func TestV1SMSNoSender(t *testing.T) {
	e := newCallsEnv(t)
	if res := e.sendSMS(".json", smsForm("09800000001")); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d", res.StatusCode)
	}
}

// TestV1SMSDelivered: a message sent through the API reaches its final
// status through the worker, and GET shows it.
func TestV1SMSDelivered(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		final := make(chan struct{}, 8)
		e, s := newSMSEnv(t, dsn, sms.Config{PollInterval: time.Hour, Backoff: func(int) time.Duration { return time.Millisecond },
			NotifyCallbacks: func() { final <- struct{}{} }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		form := smsForm("+15550100801", "+15550100601") // one retry then delivered; DND
		form.Set("StatusCallback", "https://cb.example/sms")
		res := e.sendSMS(".json", form)
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		var list []struct{ SMSMessage v1SMS }
		envMust(t, json.Unmarshal(body, &list))
		if len(list) != 2 || list[0].SMSMessage.To != "+15550100801" || list[1].SMSMessage.To != "+15550100601" {
			t.Fatalf("%s", body)
		}
		for range 2 {
			select {
			case <-final:
			case <-t.Context().Done():
				t.Fatal("messages never final")
			}
		}
		for i, want := range []struct{ status, code string }{{"sent", "20005"}, {"failed-dnd", "23005"}} {
			rec := e.get("/v1/Accounts/" + envAccount + "/SMS/Messages/" + list[i].SMSMessage.Sid + ".json")
			var got struct{ SMSMessage map[string]any }
			envMust(t, json.Unmarshal(rec.Body.Bytes(), &got))
			m := got.SMSMessage
			if m["Status"] != want.status || m["DetailedStatusCode"] != want.code || (m["DateSent"] == nil) != (want.status != "sent") {
				t.Errorf("%s: %v", list[i].SMSMessage.To, m)
			}
		}
	})
}

const smsGatewayToken = "gateway-token-0123456789"

// TestV1SMSWebhookReports: with the webhook provider's reports on, a
// message the gateway took stays submitted until the gateway posts its
// delivery report, which then sets the final status and sends the
// callback; a report with a wrong token or an outcome that is not final
// changes nothing.
func TestV1SMSWebhookReports(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		took := make(chan string, 4)
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var in struct{ SID string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"gw-%s"}`, in.SID)
			took <- "gw-" + in.SID
		}))
		t.Cleanup(gw.Close)
		final := make(chan struct{}, 8)
		e, s := newSMSEnv(t, dsn, sms.Config{PollInterval: time.Hour, Provider: &sms.Webhook{URL: gw.URL, Reports: true},
			NotifyCallbacks: func() { final <- struct{}{} }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		form := smsForm("+919800000031")
		form.Set("StatusCallback", "https://cb.example/sms")
		res := e.sendSMS(".json", form)
		body := readAll(t, res)
		var one struct{ SMSMessage v1SMS }
		envMust(t, json.Unmarshal(body, &one))
		id := <-took

		report := func(token, body string) int {
			r := envReq{method: "POST", path: "/gateway/sms/reports", body: body, contentType: "application/json", noAuth: true,
				header: http.Header{"Authorization": {"Bearer " + token}}}
			return e.do(r).Code
		}
		if code := report("wrong", `{"id":"`+id+`","status":"delivered"}`); code != http.StatusUnauthorized {
			t.Errorf("wrong token: %d", code)
		}
		for _, bad := range []string{`{"id":"` + id + `","detailed_status_code":21010}`, `{"status":"delivered"}`,
			`{"id":"` + id + `","status":"maybe"}`, `{"id":"` + id + `","status":"delivered","at":"yesterday"}`} {
			if code := report(smsGatewayToken, bad); code != http.StatusBadRequest {
				t.Errorf("report %s: %d, want 400", bad, code)
			}
		}
		if code := report(smsGatewayToken, `{"id":"`+id+`","detailed_status_code":20005,"at":"2026-12-05T10:00:00Z"}`); code != http.StatusNoContent {
			t.Fatalf("report: %d", code)
		}
		select {
		case <-final:
		case <-t.Context().Done():
			t.Fatal("the message never became final")
		}
		rec := e.get("/v1/Accounts/" + envAccount + "/SMS/Messages/" + one.SMSMessage.Sid + ".json")
		var got struct{ SMSMessage map[string]any }
		envMust(t, json.Unmarshal(rec.Body.Bytes(), &got))
		if got.SMSMessage["Status"] != "sent" || got.SMSMessage["DetailedStatusCode"] != "20005" {
			t.Errorf("after the report: %v", got.SMSMessage)
		}
	})
}

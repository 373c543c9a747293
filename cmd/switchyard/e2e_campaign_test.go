package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// csvBody is a request body sent as is (not as JSON).
type csvBody string

// campaignFlow is what each campaign call runs once answered: a short
// greeting, then the call ends.
const campaignFlow = `{"name": "Reminder", "start": "hello", "applets": {
	"hello": {"type": "greeting", "config": {"prompt": {"text": "Your appointment is tomorrow at ten."}}, "outputs": {"next": "bye"}},
	"bye": {"type": "hangup", "config": {}}}}`

// campaignHooks receives a campaign's callbacks (JSON) by event.
type campaignHooks struct {
	url string
	mu  sync.Mutex
	got map[string][]map[string]any // by X-Switchyard-Event
	ch  chan struct{}
}

func newCampaignHooks(t testing.TB) *campaignHooks {
	h := &campaignHooks{got: map[string][]map[string]any{}, ch: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		ev := r.Header.Get("X-Switchyard-Event")
		h.got[ev] = append(h.got[ev], m)
		h.mu.Unlock()
		h.ch <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// waitCampaignEnd waits for the campaign status callback that ends it.
func (h *campaignHooks) waitCampaignEnd(t testing.TB, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(within)
	for {
		h.mu.Lock()
		for _, m := range h.got["campaign_status"] {
			if m["status"] == "Completed" {
				h.mu.Unlock()
				return m
			}
		}
		h.mu.Unlock()
		select {
		case <-h.ch:
		case <-deadline:
			t.Fatalf("the campaign did not end within %s", within)
		}
	}
}

// waitEvents waits until n callbacks of event ev arrived.
func (h *campaignHooks) waitEvents(t testing.TB, ev string, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for len(h.events(ev)) < n {
		select {
		case <-h.ch:
		case <-deadline:
			t.Fatalf("%d %s callbacks within %s, want %d", len(h.events(ev)), ev, within, n)
		}
	}
}

func (h *campaignHooks) events(ev string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got[ev]...)
}

// v2 posts a JSON body to a v2 path and returns response[0].data.
func (s *server) v2(method, path, body string) map[string]any {
	s.t.Helper()
	code, resp, _ := s.do(method, path, body)
	if code != http.StatusOK {
		s.t.Fatalf("%s %s: %d %s", method, path, code, resp)
	}
	var env struct {
		Response []struct {
			Code int            `json:"code"`
			Data map[string]any `json:"data"`
		} `json:"response"`
	}
	if err := json.Unmarshal(resp, &env); err != nil || len(env.Response) == 0 {
		s.t.Fatalf("%s %s: %v\n%s", method, path, err, resp)
	}
	return env.Response[0].Data
}

// uploadCSV posts a CSV file to a list.
func (s *server) uploadCSV(listSID, body string) {
	s.t.Helper()
	code, resp, _ := s.doAs(demo.APIKey, demo.APIToken, "POST", "/v2/accounts/demo/lists/"+listSID+"/contacts", csvBody(body),
		http.Header{"Content-Type": {"text/csv"}})
	if code != http.StatusOK {
		s.t.Fatalf("CSV upload: %d %s", code, resp)
	}
}

// campaignFlowURL publishes campaignFlow and returns its flow URL.
func (s *server) campaignFlowURL() string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": "Reminder", "document": json.RawMessage(campaignFlow)})
	var f struct {
		ID string `json:"id"`
	}
	agentsPost(s, "/v2/accounts/demo/flows", string(body), "flow", &f)
	var pub struct {
		Published bool `json:"published"`
	}
	agentsPost(s, "/v2/accounts/demo/flows/"+f.ID+"/publish", `{}`, "flow", &pub)
	return "http://my.exotel.com/demo/exoml/start_voice/" + f.ID
}

// TestServeCampaign runs a campaign through the API on the embedded
// emulator: a CSV list, the do-not-call list, retries, the three
// callbacks, the report and its CSV.
func TestServeCampaign(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		s := startServe(t, dsn(t))
		hooks := newCampaignHooks(t)
		flowURL := s.campaignFlowURL()
		list := s.v2("POST", "/v2/accounts/demo/lists", `{"lists": [{"name": "Reminders"}]}`)
		s.uploadCSV(list["sid"].(string), "number,first_name,last_name,timezone,plan\n"+
			"+15550100011,Asha,Rao,Asia/Kolkata,gold\n"+
			"+15550100012,Ben,Ng,,silver\n"+
			"+15550100013,Chen,Li,,gold\n"+
			"+15550100101,Busy,Line,,gold\n"+ // busy every time
			"+15550100301,Nope,Reject,,gold\n"+ // rejected every time
			"+15550100014,Dee,Nocall,,gold\n") // on the do-not-call list
		s.v2("POST", "/v2/accounts/demo/dnd-numbers", `{"numbers": ["+15550100014"], "reason": "asked"}`)
		body := fmt.Sprintf(`{"campaigns": [{"caller_id": %q, "url": %q, "lists": [%q], "name": "Reminders run",
			"retries": {"number_of_retries": 1, "interval_mins": 1, "mechanism": "Linear", "on_status": ["busy", "failed"]},
			"calling_window": {"start": "00:00", "end": "24:00"},
			"status_callback": %q, "call_status_callback": %q, "call_schedule_callback": %q}]}`,
			demoPhone, flowURL, list["sid"], hooks.url, hooks.url, hooks.url)
		c := s.v2("POST", "/v2/accounts/demo/campaigns", body)
		id := c["id"].(string)
		end := hooks.waitCampaignEnd(t, 90*time.Second)
		if !strings.HasSuffix(fmt.Sprint(end["report_url"]), "/v2/accounts/demo/campaigns/"+id+"/call-details.csv") {
			t.Errorf("report_url %v", end["report_url"])
		}
		got := s.v2("GET", "/v2/accounts/demo/campaigns/"+id, "")
		stats := got["stats"].(map[string]any)
		want := map[string]float64{"created": 6, "completed": 3, "failed": 2, "failed-dnd": 1, "pending": 0, "in-progress": 0}
		for k, v := range want {
			if stats[k] != v {
				t.Errorf("stats[%s] = %v, want %v (all: %v)", k, stats[k], v, stats)
			}
		}
		// 3 answered + 2 numbers × 2 attempts; the DND number is never called.
		// Callbacks of different keys are delivered independently: the
		// campaign's end may arrive before a number's.
		hooks.waitEvents(t, "call_status", 7, 30*time.Second)
		hooks.waitEvents(t, "call_schedule", 6, 30*time.Second)
		if n := len(hooks.events("call_status")); n != 7 {
			t.Errorf("%d call status callbacks, want 7", n)
		}
		schedules := hooks.events("call_schedule")
		if len(schedules) != 6 {
			t.Errorf("%d schedule callbacks, want one per number (6)", len(schedules))
		}
		for _, m := range schedules {
			calls, _ := m["call_sids"].([]any)
			switch m["to"] {
			case "+15550100101", "+15550100301":
				if len(calls) != 2 {
					t.Errorf("%v: %d calls, want 2 (one retry)", m["to"], len(calls))
				}
			case "+15550100014":
				if m["status"] != "failed-dnd" || len(calls) != 0 {
					t.Errorf("DND number: %v", m)
				}
			default:
				if m["status"] != "completed" || len(calls) != 1 {
					t.Errorf("%v: %v", m["to"], m)
				}
			}
		}
		code, csvBody, hdr := s.do("GET", "/v2/accounts/demo/campaigns/"+id+"/call-details.csv", nil)
		if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
			t.Fatalf("CSV report: %d %s", code, hdr.Get("Content-Type"))
		}
		rows, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
		if err != nil || len(rows) != 8 {
			t.Fatalf("CSV report: %d rows (want a header and 7), %v\n%s", len(rows), err, csvBody)
		}

		// A campaign that builds its flow from text: a menu reading the
		// contact's name.
		owls := s.v2("POST", "/v2/accounts/demo/lists", `{"lists": [{"name": "Owls"}]}`)
		s.uploadCSV(owls["sid"].(string), "number,first_name\n+15550100015,Asha\n")
		hooks2 := newCampaignHooks(t)
		built := s.v2("POST", "/v2/accounts/demo/campaigns", fmt.Sprintf(`{"campaigns": [{"caller_id": %q, "lists": [%q],
			"flow_type": "ivr", "read_via_text": "Hello @@first_name, press 1 to confirm.", "repeat_menu_attempts": 1,
			"calling_window": {"start": "00:00", "end": "24:00"}, "status_callback": %q}]}`, demoPhone, owls["sid"], hooks2.url))
		if built["flow_type"] != "ivr" || built["read_via_text"] != "Hello @@first_name, press 1 to confirm." {
			t.Errorf("built campaign: %v", built)
		}
		hooks2.waitCampaignEnd(t, 60*time.Second)
		got = s.v2("GET", "/v2/accounts/demo/campaigns/"+built["id"].(string), "")
		if st := got["stats"].(map[string]any); st["completed"] != float64(1) {
			t.Errorf("built campaign stats: %v", st)
		}
	})
}

// TestServeKilledDialerResumes kills the instance dialing a campaign with
// kill -9 a third of the way; the instance started in its place resumes it: every
// number is called, none twice.
func TestServeKilledDialerResumes(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		db := dsn(t)
		emu := testNode(t, "127.0.0.1:0")
		first := startChild(t, db, "-fs", emu.Addr())
		emu.SetSocketAddr(first.socket)
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"account", "limits", "-db", db, "--account", "demo", "--rate", "600", "--concurrency", "100"}, &out, &errOut); code != 0 {
			t.Fatalf("account limits: %d %s", code, errOut.String())
		}
		flowURL := first.campaignFlowURL()
		hooks := newCampaignHooks(t)
		const numbers = 24
		numbersJSON, _ := json.Marshal(distinctNumbers(numbers))
		body := fmt.Sprintf(`{"campaigns": [{"caller_id": %q, "url": %q, "from": %s, "throttle": 300,
			"calling_window": {"start": "00:00", "end": "24:00"}, "status_callback": %q, "call_status_callback": %q}]}`,
			demoPhone, flowURL, numbersJSON, hooks.url, hooks.url)
		id := first.v2("POST", "/v2/accounts/demo/campaigns", body)["id"].(string)
		// Kill it once a third of the numbers were called.
		hooks.waitEvents(t, "call_status", numbers/3, 60*time.Second)
		first.kill()
		second := startChild(t, db, "-fs", emu.Addr())
		emu.SetSocketAddr(second.socket)
		hooks.waitCampaignEnd(t, 90*time.Second)
		code, csvBody, _ := second.do("GET", "/v2/accounts/demo/campaigns/"+id+"/call-details.csv", nil)
		rows, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
		if code != http.StatusOK || err != nil {
			t.Fatalf("report: %d %v", code, err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		calls := map[string]int{}
		for _, r := range rows[1:] {
			calls[r[col["number"]]]++
			if r[col["attempt"]] != "1" {
				t.Errorf("number %s: attempt %s (no retries configured)", r[col["number"]], r[col["attempt"]])
			}
		}
		if len(calls) != numbers {
			t.Errorf("%d numbers called, want %d", len(calls), numbers)
		}
		for n, k := range calls {
			if k != 1 {
				t.Errorf("%s called %d times", n, k)
			}
		}
	})
}

// distinctNumbers returns n distinct numbers outside the test network's
// ranges: each answers and stays on until the flow hangs up.
func distinctNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1555020%04d", i)
	}
	return out
}

// TestTwoInstancesShareCampaign: two instances serve one PostgreSQL
// database and one node; one dials the campaign, and when it is killed
// the other takes over. Every number is called once.
func TestTwoInstancesShareCampaign(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	emu := testNode(t, "127.0.0.1:0")
	a := startChild(t, dsn, "-fs", emu.Addr())
	b := startChild(t, dsn, "-fs", emu.Addr()) // after a: seeding the demo is not safe run concurrently
	emu.SetSocketAddr(a.socket)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"account", "limits", "-db", dsn, "--account", "demo", "--rate", "600", "--concurrency", "100"}, &out, &errOut); code != 0 {
		t.Fatalf("account limits: %d %s", code, errOut.String())
	}
	hooks := newCampaignHooks(t)
	const numbers = 36
	numbersJSON, _ := json.Marshal(distinctNumbers(numbers))
	body := fmt.Sprintf(`{"campaigns": [{"caller_id": %q, "url": %q, "from": %s, "throttle": 300,
		"calling_window": {"start": "00:00", "end": "24:00"}, "status_callback": %q, "call_status_callback": %q}]}`,
		demoPhone, a.campaignFlowURL(), numbersJSON, hooks.url, hooks.url)
	id := b.v2("POST", "/v2/accounts/demo/campaigns", body)["id"].(string)
	hooks.waitEvents(t, "call_status", numbers/4, 60*time.Second)
	db := storetest.Open(t, dsn)
	leaders := func() map[string]int {
		var rows []struct {
			InstanceID string `gorm:"column:instance_id"`
			N          int    `gorm:"column:n"`
		}
		if err := db.Gorm().Raw("SELECT instance_id, COUNT(*) AS n FROM campaign_attempts WHERE campaign_sid = ? GROUP BY instance_id", id).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, r := range rows {
			m[r.InstanceID] = r.N
		}
		return m
	}
	if got := leaders(); len(got) != 1 {
		t.Fatalf("both instances dialled before either stopped: %v", got)
	}
	// Kill the instance that leads: its row in instances names its socket.
	var leadID, leadName string
	for inst := range leaders() {
		leadID = inst
	}
	if err := db.Gorm().Raw("SELECT name FROM instances WHERE id = ?", leadID).Scan(&leadName).Error; err != nil {
		t.Fatal(err)
	}
	var lead *child
	for _, c := range []*child{a, b} {
		if strings.HasSuffix(leadName, "/"+c.socket) {
			lead = c
		}
	}
	if lead == nil {
		t.Fatalf("no child is instance %s (%s)", leadID, leadName)
	}
	lead.kill()
	hooks.waitCampaignEnd(t, 90*time.Second)
	calls := map[string]int{}
	var sids []struct {
		Number  string `gorm:"column:number"`
		Attempt int    `gorm:"column:attempt"`
	}
	if err := db.Gorm().Raw("SELECT number, attempt FROM campaign_attempts WHERE campaign_sid = ?", id).Scan(&sids).Error; err != nil {
		t.Fatal(err)
	}
	for _, s := range sids {
		calls[s.Number]++
	}
	if len(calls) != numbers {
		t.Fatalf("%d numbers called, want %d", len(calls), numbers)
	}
	for n, k := range calls {
		if k != 1 {
			t.Errorf("%s called %d times", n, k)
		}
	}
	if got := leaders(); len(got) != 2 {
		t.Errorf("the survivor did not take over: %v", got)
	}
	t.Logf("attempts by instance: %v", leaders())
}

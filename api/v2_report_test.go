package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Fixed SIDs of the report's calls, in the order they are placed.
const (
	v2CallDone    = "00000000000000000000000000000a01"
	v2CallBusy    = "00000000000000000000000000000a02"
	v2CallLive    = "00000000000000000000000000000a03"
	v2CallNoReply = "00000000000000000000000000000a04"
)

// seedReport makes a campaign of two numbers and a list of one contact,
// and dials it through the store as the dialer does: the first number
// answers, the second is busy then (retried) does not answer, the
// contact's call is still live.
func (e *v2Env) seedReport() string {
	e.t.Helper()
	ctx := e.t.Context()
	l := e.must(http.StatusOK, "POST", v2Path("/lists"), `{"lists": [{"name": "Report list"}]}`)
	list := v2DigStr(l, "response", 0, "data", "sid")
	e.must(http.StatusOK, "POST", v2Path("/lists/"+list+"/contacts"),
		"number,first_name,last_name\n+919800000003,=Asha,\"Rao, Jr\"\n", "text/csv")
	id := e.createCampaign("lists", []string{list}, "retries", map[string]any{"number_of_retries": 1, "interval_mins": 1})

	lease, ok, err := e.db.Leases().Acquire(ctx, "dialer", "test", time.Minute)
	if err != nil || !ok {
		e.t.Fatal(ok, err)
	}
	if ok, err := e.db.Campaigns().Start(ctx, lease, id, time.Now(), nil); err != nil || !ok {
		e.t.Fatal(ok, err)
	}
	place := func(n *store.CampaignNumber, sid string) {
		if ok, err := e.db.Campaigns().Begin(ctx, lease, n, sid, "test"); err != nil || !ok {
			e.t.Fatal(ok, err)
		}
		envMust(e.t, e.db.Calls().Create(ctx, &store.Call{SID: sid, AccountSID: envAccount, Direction: store.DirectionOutboundAPI,
			From: envExoPhone, To: n.Number, PhoneNumber: envExoPhone, Status: store.Ringing, CallType: "trans",
			StartTime: goldenCreated, CreatedAt: goldenCreated, UpdatedAt: goldenCreated}))
	}
	finish := func(sid string, st store.Status, duration int, rec string) {
		f := store.CallFinal{Status: st, EndTime: goldenEnd, Duration: duration, RecordingURL: rec}
		if st == store.Completed {
			f.AnswerTime = &goldenAnswer
		}
		if _, err := e.db.Calls().Finish(ctx, sid, f); err != nil {
			e.t.Fatal(err)
		}
	}
	conclude := func(retry *time.Time) {
		ended, err := e.db.Campaigns().Ended(ctx, 10)
		envMust(e.t, err)
		for i := range ended {
			status := campaign.AttemptStatus(ended[i].CallStatus)
			var at *time.Time
			if status == store.NumberBusy {
				at = retry
			}
			if ok, err := e.db.Campaigns().Conclude(ctx, lease, &ended[i].CampaignAttempt, status, at, nil); err != nil || !ok {
				e.t.Fatal(ok, err)
			}
		}
	}
	due, err := e.db.Campaigns().Due(ctx, id, time.Now(), 10)
	envMust(e.t, err)
	if len(due) != 3 {
		e.t.Fatalf("due %+v", due)
	}
	place(&due[0], v2CallDone)
	place(&due[1], v2CallBusy)
	place(&due[2], v2CallLive)
	envMust(e.t, e.db.Calls().SetDigits(ctx, v2CallDone, "1-2"))
	finish(v2CallDone, store.Completed, 42, "https://recordings.example/acme1/a01.mp3")
	finish(v2CallBusy, store.Busy, 0, "")
	retry := time.Now()
	conclude(&retry)
	due, err = e.db.Campaigns().Due(ctx, id, time.Now().Add(time.Minute), 10)
	envMust(e.t, err)
	if len(due) != 1 || due[0].Status != store.NumberRetry {
		e.t.Fatalf("retry due %+v", due)
	}
	place(&due[0], v2CallNoReply)
	finish(v2CallNoReply, store.NoAnswer, 0, "")
	conclude(nil)
	return id
}

func TestV2CallDetails(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newV2Env(t, dsn, Options{})
		id := e.seedReport()
		base := v2Path("/campaigns/" + id + "/call-details")

		rec := e.send("GET", base, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		v2Golden(t, "v2_call_details.json", rec)

		csvGolden := func(name string, rec interface {
			Result() *http.Response
		}, body []byte) {
			t.Helper()
			res := rec.Result()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
				res.Header.Get("Content-Disposition") != `attachment; filename="campaign-`+id+`-call-details.csv"` {
				t.Fatalf("%s: %d %v\n%s", name, res.StatusCode, res.Header, body)
			}
			callsGolden(t, name, v2Mask(body, true))
		}
		rec = e.send("GET", base+".csv", "")
		csvGolden("v2_call_details.csv", rec, rec.Body.Bytes())
		first := rec.Body.String()
		for _, r := range []envReq{
			{method: "GET", path: base + "?format=csv"},
			{method: "GET", path: base + "?limit=1", header: http.Header{"Accept": {"text/csv, application/json;q=0.5"}}},
		} {
			rec := e.do(r)
			if rec.Code != http.StatusOK || rec.Body.String() != first {
				t.Errorf("%s %v: %d\n%s", r.path, r.header, rec.Code, rec.Body)
			}
		}
		if !strings.Contains(first, `'=Asha "Rao, Jr"`) && !strings.Contains(first, `"'=Asha Rao, Jr"`) {
			t.Errorf("the contact's name is not kept from spreadsheet formulas:\n%s", first)
		}

		calls := func(m map[string]any) string {
			items, _ := v2Dig(m, "response").([]any)
			var out []string
			for _, it := range items {
				out = append(out, v2DigStr(it, "data", "call_sid")[29:]+":"+v2DigStr(it, "data", "status"))
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct {
			query, want string
			total       float64
		}{
			{"", "a01:completed,a02:busy,a03:in-progress,a04:no-answer", 4},
			{"?status=busy,no-answer", "a02:busy,a04:no-answer", 2},
			{"?status=in-progress", "a03:in-progress", 1},
			{"?sort_by=date_created:desc&limit=2", "a04:no-answer,a03:in-progress", 4},
			{"?offset=1&limit=1", "a02:busy", 4},
			{"?format=json&page=2&page_size=3", "a04:no-answer", 4},
			{"?status=completed", "a01:completed", 1},
		} {
			m := e.must(http.StatusOK, "GET", base+tt.query, "")
			if got := calls(m); got != tt.want || v2Dig(m, "metadata", "total") != tt.total {
				t.Errorf("%s: %s (total %v), want %s (total %v)", tt.query, got, v2Dig(m, "metadata", "total"), tt.want, tt.total)
			}
		}
		rec = e.send("GET", base+".csv?status=busy", "")
		if lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], v2CallBusy) {
			t.Errorf("filtered CSV:\n%s", rec.Body)
		}
		for _, q := range []string{"?status=answered", "?sort_by=name", "?format=xml", "?limit=0"} {
			if rec := e.send("GET", base+q, ""); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
			}
		}
		if rec := e.send("GET", base+".csv?status=answered", ""); rec.Code != http.StatusBadRequest {
			t.Errorf("CSV with a bad status: %d", rec.Code)
		}

		// The campaign's stats follow its numbers.
		m := e.must(http.StatusOK, "GET", v2Path("/campaigns/"+id), "")
		stats := v2Dig(m, "response", 0, "data", "stats").(map[string]any)
		if stats["created"] != 3.0 || stats["completed"] != 1.0 || stats["failed"] != 1.0 || stats["in-progress"] != 1.0 {
			t.Errorf("stats %v", stats)
		}
		if v2DigStr(m, "response", 0, "data", "status") != store.CampaignInProgress || v2Dig(m, "response", 0, "data", "date_started") == nil {
			t.Errorf("campaign %v", v2Dig(m, "response", 0, "data"))
		}

		// Another account's report is not found.
		for _, p := range []string{"/call-details", "/call-details.csv"} {
			if rec := e.sendAs("GET", "/v2/accounts/"+envOther+"/campaigns/"+id+p, ""); rec.Code != http.StatusNotFound {
				t.Errorf("%s of another account: %d %s", p, rec.Code, rec.Body)
			}
		}
	})
}

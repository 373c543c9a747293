package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// campaignFixture is a SQLite database with account acme, whose ExoPhone
// +15550000100 runs the Basic Support flow, and account globex.
type campaignFixture struct {
	dsn, flowID string
	db          *store.DB
}

func newCampaignFixture(t *testing.T) *campaignFixture {
	t.Helper()
	dsn := storetest.SQLiteDSN(t)
	db := storetest.OpenMigrated(t, dsn)
	doc, err := examples.Read(examples.BasicSupport)
	if err != nil {
		t.Fatal(err)
	}
	f := &campaignFixture{dsn: dsn, db: db, flowID: storetest.ServeFlow(t, db, "acme", "+15550000100", "Basic Support", doc)}
	if _, _, err := db.Accounts().CreateWithSID(context.Background(), "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs the command on the fixture's database.
func (f *campaignFixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCmd(t, append(args, "-db", f.dsn)...)
}

// create runs campaign create for acme and returns the new campaign.
func (f *campaignFixture) create(t *testing.T, args ...string) *store.Campaign {
	t.Helper()
	code, out, errOut := f.run(t, append([]string{"campaign", "create", "--account", "acme", "--caller-id", "+15550000100"}, args...)...)
	if code != 0 {
		t.Fatalf("campaign create %v: exit %d\n%s%s", args, code, out, errOut)
	}
	sid, _, _ := strings.Cut(out, "\n")
	c, err := f.db.Campaigns().Get(context.Background(), "acme", sid)
	if err != nil {
		t.Fatalf("the printed id %q: %v\n%s", sid, err, out)
	}
	return c
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCampaignCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCampaignFixture(t)

	code, out, errOut := f.run(t, "campaign", "create", "--account", "acme", "--name", "Spring sale", "--caller-id", "+15550000100",
		"--flow", f.flowID, "--numbers", "+15550100001,+15550100002", "--numbers", "+15550100101",
		"--throttle", "20", "--max-concurrent", "5", "--window", "10:00-18:00", "--timezone", "America/New_York",
		"--retries", "2", "--retry-interval", "5", "--retry-mechanism", "Exponential", "--retry-on", "busy,no-answer",
		"--status-callback", "https://crm.example/campaign", "--call-status-callback", "https://crm.example/call",
		"--call-schedule-callback", "https://crm.example/number",
		"--send-at", "2099-01-14T10:00:00+05:30", "--end-at", "2099-01-20T10:00:00+05:30", "--duplicates")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	sid, summary, _ := strings.Cut(out, "\n")
	c, err := f.db.Campaigns().Get(ctx, "acme", sid)
	if err != nil {
		t.Fatalf("printed id %q: %v", sid, err)
	}
	if !strings.Contains(summary, `Created "Spring sale": calls 3 numbers from +15550000100, flow `+f.flowID) ||
		!strings.Contains(summary, "starts 2099-01-14 04:30:00 UTC, until 2099-01-20 04:30:00 UTC; 20 calls/min, at most 5 live; 2 retries after 5 min, the wait doubling on busy, no-answer") {
		t.Errorf("summary:\n%s", summary)
	}
	want := store.Campaign{Name: "Spring sale", CallerID: "+15550000100", FlowID: f.flowID, Status: store.CampaignCreated,
		URL: "http://localhost/acme/exoml/start_voice/" + f.flowID, Throttle: 20, MaxConcurrent: 5, Mode: "custom",
		WindowStart: "10:00", WindowEnd: "18:00", Timezone: "America/New_York", CallDuplicateNumbers: true,
		StatusCallback: "https://crm.example/campaign", CallStatusCallback: "https://crm.example/call", CallScheduleCallback: "https://crm.example/number"}
	if c.Name != want.Name || c.CallerID != want.CallerID || c.FlowID != want.FlowID || c.URL != want.URL || c.Status != want.Status ||
		c.Throttle != want.Throttle || c.MaxConcurrent != want.MaxConcurrent || c.Mode != want.Mode || c.WindowStart != want.WindowStart ||
		c.WindowEnd != want.WindowEnd || c.Timezone != want.Timezone || !c.CallDuplicateNumbers || c.StatusCallback != want.StatusCallback ||
		c.CallStatusCallback != want.CallStatusCallback || c.CallScheduleCallback != want.CallScheduleCallback {
		t.Errorf("campaign %+v", c)
	}
	if strings.Join(c.Numbers, ",") != "+15550100001,+15550100002,+15550100101" || len(c.Lists) != 0 {
		t.Errorf("numbers %v lists %v", c.Numbers, c.Lists)
	}
	if r := c.Retries; r.NumberOfRetries != 2 || r.IntervalMins != 5 || r.Mechanism != campaign.Exponential || strings.Join(r.OnStatus, ",") != "busy,no-answer" {
		t.Errorf("retries %+v", r)
	}
	if c.SendAt == nil || !c.SendAt.Equal(time.Date(2099, 1, 14, 4, 30, 0, 0, time.UTC)) || c.EndAt == nil || !c.EndAt.Equal(time.Date(2099, 1, 20, 4, 30, 0, 0, time.UTC)) {
		t.Errorf("schedule %v %v", c.SendAt, c.EndAt)
	}

	// A CSV file becomes a list, called after the lists given.
	l, err := f.db.Lists().Create(ctx, "acme", "VIPs", "")
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "customers.csv", "\ufeffNumber,First_Name,last_name,Plan,timezone\n"+
		"+1 555-0100-001,Asha,Rao,gold,Asia/Kolkata\n"+
		"\n"+
		"(+15550100101),Dev,,,\n")
	code, out, errOut = f.run(t, "campaign", "create", "--account", "acme", "--caller-id", "+15550000100", "--flow", f.flowID,
		"--list", l.SID, "--csv", file)
	if code != 0 {
		t.Fatalf("--csv: exit %d\n%s%s", code, out, errOut)
	}
	sid, _, _ = strings.Cut(out, "\n")
	c, err = f.db.Campaigns().Get(ctx, "acme", sid)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Lists) != 2 || c.Lists[0] != l.SID || !strings.Contains(out, `"customers": 2 contacts from `+file) || !strings.HasPrefix(c.Name, "acme ") {
		t.Fatalf("--csv campaign %+v\n%s", c, out)
	}
	made, err := f.db.Lists().Get(ctx, "acme", c.Lists[1])
	if err != nil || made.Name != "customers" || made.Contacts != 2 {
		t.Fatalf("list from the CSV: %+v %v", made, err)
	}
	members, _, err := f.db.Lists().Members(ctx, "acme", made.SID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if m := members[0]; m.Number != "+15550100001" || m.FirstName != "Asha" || m.LastName != "Rao" || m.Timezone != "Asia/Kolkata" ||
		len(m.CustomField) != 1 || m.CustomField["Plan"] != "gold" {
		t.Errorf("first contact %+v", m)
	}
	if m := members[1]; m.Number != "+15550100101" || m.FirstName != "Dev" || m.CustomField != nil {
		t.Errorf("second contact %+v", m)
	}
	// The same file again: a list of its own, named apart.
	again := f.create(t, "--flow", f.flowID, "--csv", file)
	if l, err := f.db.Lists().Get(ctx, "acme", again.Lists[0]); err != nil || l.Name != "customers (2)" {
		t.Errorf("second list from the same file: %+v %v", l, err)
	}

	// --url, and a recurring campaign.
	c = f.create(t, "--url", "https://my.exotel.com/acme/exoml/start_voice/"+f.flowID, "--numbers", "+15550100003",
		"--recurrence", "0 10 * * 1-5", "--timezone", "Asia/Kolkata", "--name", "Weekday reminders")
	if c.FlowID != f.flowID || c.Recurrence != "0 10 * * 1-5" || c.NextRunAt == nil || c.Timezone != "Asia/Kolkata" {
		t.Errorf("recurring campaign %+v", c)
	}
	if at := c.NextRunAt.In(time.FixedZone("IST", 19800)); at.Hour() != 10 || at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
		t.Errorf("next run %v", at)
	}
}

func TestCampaignCreateErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCampaignFixture(t)
	good := writeFile(t, "good.csv", "number,first_name\n+15550100001,Asha\n")
	badRow := writeFile(t, "bad.csv", "number,first_name\n+15550100001,Asha\n12ab,Ben\n")
	noNumber := writeFile(t, "nonumber.csv", "phone,first_name\n+15550100001,Asha\n")
	badZone := writeFile(t, "zone.csv", "number,timezone\n+15550100001,Mars/Olympus\n")
	base := func(extra ...string) []string {
		return append([]string{"campaign", "create", "--account", "acme", "--caller-id", "+15550000100"}, extra...)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no account", []string{"campaign", "create", "--caller-id", "+15550000100", "--flow", f.flowID, "--numbers", "+15550100001"}, 2, "--account is required"},
		{"unknown account", []string{"campaign", "create", "--account", "nobody", "--caller-id", "+15550000100", "--flow", "x", "--numbers", "+15550100001"}, 1, "account nobody does not exist"},
		{"no caller id", []string{"campaign", "create", "--account", "acme", "--flow", f.flowID, "--numbers", "+15550100001"}, 2, "--caller-id is required"},
		{"flow and url", base("--flow", f.flowID, "--url", "http://localhost/acme/exoml/start_voice/"+f.flowID, "--numbers", "+15550100001"), 2, "--flow FLOWID or --url URL"},
		{"no flow", base("--numbers", "+15550100001"), 2, "--flow FLOWID or --url URL"},
		{"nothing to call", base("--flow", f.flowID), 2, "--numbers, --list or --csv"},
		{"stray argument", base("--flow", f.flowID, "--numbers", "+15550100001", "extra"), 2, `unexpected argument "extra"`},
		{"bad throttle value", base("--flow", f.flowID, "--numbers", "+15550100001", "--throttle", "fast"), 2, "invalid value"},
		{"not an ExoPhone", []string{"campaign", "create", "--account", "acme", "--caller-id", "+15550000999", "--flow", f.flowID, "--numbers", "+15550100001"}, 1,
			"campaign create: caller_id: caller_id \"+15550000999\" is not an ExoPhone"},
		{"another account's ExoPhone", []string{"campaign", "create", "--account", "globex", "--caller-id", "+15550000100", "--flow", f.flowID, "--numbers", "+15550100001"}, 1,
			"campaign create: caller_id:"},
		{"unknown flow", base("--flow", "fl_nope", "--numbers", "+15550100001"), 1, "campaign create: url: flow fl_nope does not exist"},
		{"url of another account", base("--url", "http://localhost/globex/exoml/start_voice/"+f.flowID, "--numbers", "+15550100001"), 1, "campaign create: url:"},
		{"bad number", base("--flow", f.flowID, "--numbers", "+15550100001,12ab"), 1, "campaign create: from[1]:"},
		{"unknown list", base("--flow", f.flowID, "--list", "ls_nope"), 1, "campaign create: lists[0]: list ls_nope does not exist"},
		{"throttle over the account's rate", base("--flow", f.flowID, "--numbers", "+15550100001", "--throttle", "61"), 1, "campaign create: throttle: throttle must be 1 to 60"},
		{"max concurrent over the cap", base("--flow", f.flowID, "--numbers", "+15550100001", "--max-concurrent", "0"), 1, "campaign create: max_concurrent:"},
		{"window without a dash", base("--flow", f.flowID, "--numbers", "+15550100001", "--window", "0900"), 1, "campaign create: calling_window: --window \"0900\""},
		{"window backwards", base("--flow", f.flowID, "--numbers", "+15550100001", "--window", "21:00-09:00"), 1, "campaign create: calling_window:"},
		{"bad timezone", base("--flow", f.flowID, "--numbers", "+15550100001", "--timezone", "Mars/Olympus"), 1, "campaign create: timezone:"},
		{"retries without interval", base("--flow", f.flowID, "--numbers", "+15550100001", "--retries", "1"), 1, "campaign create: retries.interval_mins:"},
		{"too many retries", base("--flow", f.flowID, "--numbers", "+15550100001", "--retries", "4", "--retry-interval", "1"), 1, "campaign create: retries.number_of_retries:"},
		{"bad retry status", base("--flow", f.flowID, "--numbers", "+15550100001", "--retries", "1", "--retry-interval", "1", "--retry-on", "completed"), 1, "campaign create: retries.on_status:"},
		{"bad send-at", base("--flow", f.flowID, "--numbers", "+15550100001", "--send-at", "tomorrow"), 1, "campaign create: schedule.send_at:"},
		{"end in the past", base("--flow", f.flowID, "--numbers", "+15550100001", "--end-at", "2001-01-01T00:00:00Z"), 1, "campaign create: schedule.end_at: end_at is in the past"},
		{"bad recurrence", base("--flow", f.flowID, "--numbers", "+15550100001", "--recurrence", "every day"), 1, "campaign create: schedule.recurrence:"},
		{"bad callback", base("--flow", f.flowID, "--numbers", "+15550100001", "--status-callback", "ftp://x"), 1, "campaign create: status_callback:"},
		{"short name", base("--flow", f.flowID, "--numbers", "+15550100001", "--name", "abc"), 1, "campaign create: name:"},
		{"missing CSV file", base("--flow", f.flowID, "--csv", filepath.Join(t.TempDir(), "none.csv")), 1, "campaign create: csv: open"},
		{"CSV bad number", base("--flow", f.flowID, "--csv", badRow), 1, `campaign create: csv: bad.csv: line 3: "12ab" is not a phone number`},
		{"CSV without a number column", base("--flow", f.flowID, "--csv", noNumber), 1, "campaign create: csv: nonumber.csv: the header has no number column"},
		{"CSV bad timezone", base("--flow", f.flowID, "--csv", badZone), 1, `campaign create: csv: zone.csv: line 2: timezone "Mars/Olympus"`},
		// The list is made in the campaign's transaction: refused together.
		{"CSV with a refused campaign", base("--flow", f.flowID, "--csv", good, "--throttle", "500"), 1, "campaign create: throttle:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.run(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.message) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s%s", code, tc.code, tc.message, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout: %q", out)
			}
		})
	}
	if _, n, err := f.db.Campaigns().List(ctx, "acme", store.CampaignFilter{}); err != nil || n != 0 {
		t.Errorf("refused creates left %d campaigns (%v)", n, err)
	}
	if _, n, err := f.db.Lists().List(ctx, "acme", store.ListFilter{}); err != nil || n != 0 {
		t.Errorf("refused creates left %d lists (%v)", n, err)
	}
	if code, _, errOut := f.run(t, "campaign", "create", "-h"); code != 0 || !strings.Contains(errOut, "-retry-mechanism") {
		t.Errorf("create -h: exit %d\n%s", code, errOut)
	}
}

// fakeDialer plays serve's dialer against the store: it starts campaigns and
// places their calls, ending each as told.
type fakeDialer struct {
	t     *testing.T
	db    *store.DB
	lease store.Lease
}

func newDialer(t *testing.T, db *store.DB) *fakeDialer {
	l, ok, err := db.Leases().Acquire(context.Background(), "dialer", "test", time.Hour)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	return &fakeDialer{t: t, db: db, lease: l}
}

// start starts a campaign and returns its numbers in order.
func (d *fakeDialer) start(sid string) []store.CampaignNumber {
	d.t.Helper()
	ctx := context.Background()
	if ok, err := d.db.Campaigns().Start(ctx, d.lease, sid, time.Now(), nil); err != nil || !ok {
		d.t.Fatalf("start %s: %v %v", sid, ok, err)
	}
	ns, err := d.db.Campaigns().Due(ctx, sid, time.Now(), 100)
	if err != nil {
		d.t.Fatal(err)
	}
	return ns
}

// call places a call to n that ends with status after duration seconds,
// and concludes its attempt; it returns the CallSid.
func (d *fakeDialer) call(n *store.CampaignNumber, status store.Status, duration int) string {
	d.t.Helper()
	ctx := context.Background()
	sid := store.NewSID()
	if ok, err := d.db.Campaigns().Begin(ctx, d.lease, n, sid, "test"); err != nil || !ok {
		d.t.Fatalf("begin %s: %v %v", n.Number, ok, err)
	}
	c := &store.Call{SID: sid, AccountSID: n.AccountSID, Direction: store.DirectionOutboundAPI, From: "+15550000100",
		To: n.Number, PhoneNumber: "+15550000100", Status: store.Ringing}
	if err := d.db.Calls().Create(ctx, c); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.db.Calls().Finish(ctx, sid, store.CallFinal{Status: status, Duration: duration}); err != nil {
		d.t.Fatal(err)
	}
	ended, err := d.db.Campaigns().Ended(ctx, 100)
	if err != nil {
		d.t.Fatal(err)
	}
	for i := range ended {
		if ended[i].CallSID == sid {
			if ok, err := d.db.Campaigns().Conclude(ctx, d.lease, &ended[i].CampaignAttempt, campaign.AttemptStatus(status), nil, nil); err != nil || !ok {
				d.t.Fatalf("conclude %s: %v %v", sid, ok, err)
			}
			return sid
		}
	}
	d.t.Fatalf("call %s did not end", sid)
	return ""
}

func TestCampaignListShowActReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCampaignFixture(t)
	a := f.create(t, "--name", "Spring sale", "--flow", f.flowID, "--numbers", "+15550100001,+15550100101,+15550100201", "--throttle", "20")
	b := f.create(t, "--name", "Renewals", "--flow", f.flowID, "--numbers", "+15550100002", "--status-callback", "https://crm.example/campaign",
		"--send-at", "2099-01-14T10:00:00+05:30")
	d := newDialer(t, f.db)
	ns := d.start(a.SID)
	answered := d.call(&ns[0], store.Completed, 12)
	busy := d.call(&ns[1], store.Busy, 0)

	code, out, errOut := f.run(t, "campaign", "list", "--account", "acme")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	// created, pending, in-progress, completed, failed.
	if !regexp.MustCompile(`(?m)^`+a.SID+`\s+Spring sale\s+InProgress\s+3\s+1\s+0\s+1\s+1\s+starts at once`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+b.SID+`\s+Renewals\s+Created\s+0\s+0\s+0\s+0\s+0\s+starts 2099-01-14 04:30:00 UTC`).MatchString(out) ||
		!strings.Contains(out, "2 campaigns") {
		t.Errorf("list:\n%s", out)
	}
	if code, out, _ := f.run(t, "campaign", "list", "--account", "acme", "--status", "created,paused"); code != 0 ||
		strings.Contains(out, a.SID) || !strings.Contains(out, b.SID) {
		t.Errorf("list --status created,paused: exit %d\n%s", code, out)
	}
	if code, out, _ := f.run(t, "campaign", "list", "--account", "globex"); code != 0 || strings.Contains(out, a.SID) || !strings.Contains(out, "0 campaigns") {
		t.Errorf("another account's list: exit %d\n%s", code, out)
	}

	code, out, errOut = f.run(t, "campaign", "show", a.SID)
	if code != 0 {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Campaign " + a.SID + " (account acme)", "Spring sale", "InProgress", "Throttle                20 calls/min",
		"Max concurrent          60 (the account's)", "Calling window          09:00-21:00 (default)", "Timezone                Asia/Kolkata"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+completed\s+1$`).MatchString(out) || !regexp.MustCompile(`(?m)^\s+failed\s+1$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\s+pending\s+1$`).MatchString(out) {
		t.Errorf("show stats:\n%s", out)
	}

	code, out, errOut = f.run(t, "campaign", "report", a.SID)
	if code != 0 || !regexp.MustCompile(`\+15550100001\s+1\s+completed\s+12 s\s+`+answered).MatchString(out) ||
		!regexp.MustCompile(`\+15550100101\s+1\s+busy\s+0 s\s+`+busy).MatchString(out) || !strings.Contains(out, "2 calls") {
		t.Errorf("report: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = f.run(t, "campaign", "report", "--csv", a.SID)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 3 {
		t.Fatalf("report --csv: exit %d, %v\n%s", code, err, out)
	}
	if h := strings.Join(recs[0], ","); h != "number,name,duration,status,digits,recording_url,start_time,end_time,caller_id,direction,call_sid,date_created,attempt" {
		t.Errorf("CSV header %s", h)
	}
	if r := recs[1]; r[0] != "+15550100001" || r[2] != "12" || r[3] != "completed" || r[8] != "+15550000100" || r[9] != "Outgoing" ||
		r[10] != answered || !strings.HasSuffix(r[11], "+05:30") || r[12] != "1" {
		t.Errorf("CSV row %v", r)
	}

	// pause, resume, pause, complete: the number not called ends failed-no-attempt.
	for _, step := range []struct{ action, status string }{
		{"pause", "Paused"}, {"resume", "InProgress"}, {"pause", "Paused"}, {"complete", "Completed"},
	} {
		code, out, errOut := f.run(t, "campaign", step.action, a.SID)
		if code != 0 || out != "Campaign "+a.SID+" is "+step.status+".\n" {
			t.Fatalf("%s: exit %d\n%s%s", step.action, code, out, errOut)
		}
	}
	stats, err := f.db.Campaigns().Stats(ctx, []store.Campaign{*a})
	if err != nil || stats[a.SID]["failed-no-attempt"] != 1 {
		t.Errorf("stats after complete: %v %v", stats, err)
	}
	// complete writes the end callback; a campaign that never started
	// resumes to Created.
	for _, action := range []string{"pause", "resume", "pause", "complete"} {
		if code, out, errOut := f.run(t, "campaign", action, b.SID, "--account", "acme"); code != 0 {
			t.Fatalf("%s %s: exit %d\n%s%s", action, b.SID, code, out, errOut)
		}
	}
	var cbs []store.Callback
	if err := f.db.Gorm().Where("call_sid = ?", b.SID).Find(&cbs).Error; err != nil || len(cbs) != 1 ||
		cbs[0].Event != campaign.EventCampaign || cbs[0].URL != "https://crm.example/campaign" || !strings.Contains(cbs[0].Payload, `"status":"Completed"`) {
		t.Errorf("end callback: %+v %v", cbs, err)
	}
	if code, out, _ := f.run(t, "campaign", "archive", a.SID); code != 0 || !strings.Contains(out, "is Archived") {
		t.Errorf("archive: exit %d\n%s", code, out)
	}

	// --follow on a campaign that has ended draws once and returns.
	code, out, errOut = f.run(t, "campaign", "show", "--follow", b.SID)
	if code != 0 || !strings.Contains(out, "Renewals") || !strings.Contains(out, "\n[------------------------] 0/0  dialed 0  answered 0  failed 0  remaining 0  rate 0/min  throttle 60/min  Completed\n") ||
		!strings.HasSuffix(out, "Campaign "+b.SID+" is Completed.\n") {
		t.Errorf("show --follow of an ended campaign: exit %d\n%s%s", code, out, errOut)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no subcommand", []string{"campaign"}, 2, "Usage"},
		{"unknown subcommand", []string{"campaign", "delete", a.SID}, 2, "Usage"},
		{"list without account", []string{"campaign", "list"}, 2, "--account is required"},
		{"list unknown account", []string{"campaign", "list", "--account", "nobody"}, 1, "does not exist"},
		{"list bad status", []string{"campaign", "list", "--account", "acme", "--status", "Running"}, 2, `--status "Running"`},
		{"show without ID", []string{"campaign", "show"}, 2, "exactly one campaign ID"},
		{"show unknown", []string{"campaign", "show", "cp_nope"}, 1, "campaign cp_nope does not exist"},
		{"show of another account", []string{"campaign", "show", a.SID, "--account", "globex"}, 1, "does not exist"},
		{"pause a completed campaign", []string{"campaign", "pause", b.SID}, 1, "not allowed in the campaign's status"},
		{"archive unknown", []string{"campaign", "archive", "cp_nope"}, 1, "does not exist"},
		{"report two IDs", []string{"campaign", "report", a.SID, b.SID}, 2, "exactly one campaign ID"},
		{"report unknown flag", []string{"campaign", "report", a.SID, "--xml"}, 2, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.run(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.message) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.message, out, errOut)
			}
		})
	}
	if code, out, _ := runCmd(t, "campaign", "-h"); code != 0 || !strings.Contains(out, "campaign show ID [--follow]") {
		t.Errorf("campaign -h: exit %d\n%s", code, out)
	}
}

func TestCampaignFollow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCampaignFixture(t)
	c := f.create(t, "--name", "Follow me", "--flow", f.flowID, "--numbers", "+15550100001,+15550100002", "--throttle", "20")
	d := newDialer(t, f.db)
	ns := d.start(c.SID)
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	limits := store.DialLimits{Rate: 60, Concurrency: 60}

	ticks := make(chan time.Time)
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- followCampaign(ctx, f.db, &out, false, c, limits, ticks, log) }()
	// A tick is taken only once the frame before it is written, so each
	// change below shows in the frame after the next tick.
	ticks <- time.Now()
	d.call(&ns[0], store.Completed, 30)
	ticks <- time.Now()
	ticks <- time.Now()
	if _, err := f.db.Campaigns().Act(ctx, "acme", c.SID, store.ActionPause, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Campaigns().Act(ctx, "acme", c.SID, store.ActionComplete, nil); err != nil {
		t.Fatal(err)
	}
	var err error
wait:
	for {
		select {
		case ticks <- time.Now():
		case err = <-done:
			break wait
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("frames:\n%s", out.String())
	}
	if lines[0] != "[------------------------] 0/2  dialed 0  answered 0  failed 0  remaining 2  rate 0/min  throttle 20/min  InProgress" {
		t.Errorf("first frame: %q", lines[0])
	}
	if !slices.Contains(lines, "[############------------] 1/2  dialed 1  answered 1  failed 0  remaining 1  rate 1/min  throttle 20/min  InProgress") {
		t.Errorf("no frame after the first call:\n%s", out.String())
	}
	if got := lines[len(lines)-2]; got != "[########################] 2/2  dialed 1  answered 1  failed 1  remaining 0  rate 1/min  throttle 20/min  Completed" {
		t.Errorf("last frame: %q", got)
	}
	if got := lines[len(lines)-1]; got != "Campaign "+c.SID+" is Completed." {
		t.Errorf("last line: %q", got)
	}
}

// On a terminal the view redraws one line; ctx's end stops it.
func TestCampaignFollowStopsOnCancel(t *testing.T) {
	t.Parallel()
	f := newCampaignFixture(t)
	c := f.create(t, "--flow", f.flowID, "--numbers", "+15550100001")
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- followCampaign(ctx, f.db, &out, true, c, store.DialLimits{Rate: 60, Concurrency: 60}, ticks,
			slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	}()
	ticks <- time.Now()
	ticks <- time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow after cancel: %v", err)
	}
	got := out.String()
	// Frames: the first, the first tick's, and the second tick's unless
	// the cancel cut its read short.
	if n := strings.Count(got, "\r\x1b[2Knot started: starts at once, until "); n < 2 || n > 3 || !strings.HasSuffix(got, "throttle 60/min  Created\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("terminal output: %q", got)
	}
}

func TestCampaignReadContacts(t *testing.T) {
	t.Parallel()
	cs, err := readContacts(strings.NewReader("number,First Name,tag,Order ID\nsip:Asha@pbx.example,Asha,,A-1\n+44 (20) 7946.0958,Bob,uk,\n"), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Number != "sip:Asha@pbx.example" || cs[0].FirstName != "Asha" || cs[0].CustomField["Order ID"] != "A-1" ||
		cs[1].Number != "+442079460958" || cs[1].Tag != "uk" || cs[1].CustomField != nil {
		t.Errorf("contacts %+v", cs)
	}
	for in, want := range map[string]string{
		"":                             "the CSV is empty",
		"number\n":                     "no contacts",
		"number,Number\n1,2\n":         "twice",
		"first-name,First Name\n1,2\n": "twice",
		"number,\n+15550100001,x\n":    "column 2 of the header has no name",
		"number,a\n+15550100001\n":     "the row has 1 fields, the header 2",
		"number\n\"+1555\n":            "extraneous or missing",
		"number,tag\nfoo@bar,x\n":      `line 2: "foo@bar" is not a phone number`,
		"number\n+15550100001\n12\n":   `line 3: "12"`,
	} {
		if _, err := readContacts(strings.NewReader(in), "x.csv"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestDND(t *testing.T) {
	t.Parallel()
	f := newCampaignFixture(t)
	code, out, errOut := f.run(t, "dnd", "add", "--account", "acme", "--reason", "asked not to be called", "+15550100001", "+15550100002")
	if code != 0 || !strings.Contains(out, "2 numbers added to the do-not-call list of account acme") {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	if on, err := f.db.DND().Listed(context.Background(), "acme", []string{"15550100001", "15550100002"}); err != nil || len(on) != 2 {
		t.Errorf("listed %v %v", on, err)
	}
	// Adding again changes nothing.
	if code, _, _ := f.run(t, "dnd", "add", "+15550100001", "--account", "acme"); code != 0 {
		t.Errorf("add again: exit %d", code)
	}
	code, out, _ = f.run(t, "dnd", "list", "--account", "acme")
	if code != 0 || !regexp.MustCompile(`(?m)^\+15550100001\s+\S+ \S+\s+asked not to be called$`).MatchString(out) || !strings.Contains(out, "2 numbers") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	code, out, errOut = f.run(t, "dnd", "remove", "--account", "acme", "+15550100001", "+15550100003")
	if code != 1 || !strings.Contains(out, "+15550100001 removed") || !strings.Contains(errOut, "not on the do-not-call list of account acme: +15550100003") {
		t.Errorf("remove: exit %d\n%s%s", code, out, errOut)
	}
	if _, out, _ := f.run(t, "dnd", "list", "--account", "acme"); strings.Contains(out, "+15550100001") || !strings.Contains(out, "1 number,") {
		t.Errorf("list after remove:\n%s", out)
	}
	if _, out, _ := f.run(t, "dnd", "list", "--account", "globex"); !strings.Contains(out, "0 numbers") {
		t.Errorf("another account's list:\n%s", out)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no verb", []string{"dnd"}, 2, "Usage"},
		{"unknown verb", []string{"dnd", "clear", "--account", "acme"}, 2, "Usage"},
		{"no account", []string{"dnd", "add", "+15550100001"}, 2, "--account is required"},
		{"no numbers", []string{"dnd", "add", "--account", "acme"}, 2, "give the numbers to add"},
		{"not a number", []string{"dnd", "add", "--account", "acme", "+15550100001", "call me"}, 1, `"call me" is not a phone number`},
		{"unknown account", []string{"dnd", "list", "--account", "nobody"}, 1, "account nobody does not exist"},
		{"list with argument", []string{"dnd", "list", "--account", "acme", "+15550100001"}, 2, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.run(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.message) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.message, out, errOut)
			}
		})
	}
}

func TestAccountLimits(t *testing.T) {
	t.Parallel()
	f := newCampaignFixture(t)
	code, out, errOut := f.run(t, "account", "limits", "--account", "acme")
	if code != 0 || !strings.Contains(out, "rate         60 calls/min") || !strings.Contains(out, "concurrency  60 live calls") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = f.run(t, "account", "limits", "--account", "acme", "--rate", "120")
	if code != 0 || !strings.Contains(out, "rate         120 calls/min") || !strings.Contains(out, "concurrency  60 live calls") {
		t.Fatalf("set rate: exit %d\n%s%s", code, out, errOut)
	}
	m, err := f.db.Accounts().DialLimits(context.Background(), []string{"acme", "globex"})
	if err != nil || m["acme"] != (store.DialLimits{Rate: 120, Concurrency: 60}) || m["globex"] != (store.DialLimits{Rate: 60, Concurrency: 60}) {
		t.Errorf("limits %+v %v", m, err)
	}
	// A throttle up to the new rate is taken.
	f.create(t, "--flow", f.flowID, "--numbers", "+15550100001", "--throttle", "100")
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no account", []string{"account", "limits"}, 2, "--account is required"},
		{"unknown account", []string{"account", "limits", "--account", "nobody"}, 1, "does not exist"},
		{"zero rate", []string{"account", "limits", "--account", "acme", "--rate", "0"}, 2, "--rate 0: must be at least 1"},
		{"negative concurrency", []string{"account", "limits", "--account", "acme", "--concurrency", "-1"}, 2, "--concurrency -1"},
		{"stray argument", []string{"account", "limits", "--account", "acme", "fast"}, 2, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.run(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.message) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.message, out, errOut)
			}
		})
	}
	if m, _ := f.db.Accounts().DialLimits(context.Background(), []string{"acme"}); m["acme"].Rate != 120 {
		t.Errorf("a refused change changed the limits: %+v", m["acme"])
	}
}

func TestCampaignProgressLine(t *testing.T) {
	t.Parallel()
	limits := store.DialLimits{Rate: 60, Concurrency: 60}
	next := time.Date(2026, 1, 15, 4, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		c    store.Campaign
		p    store.Progress
		want string
	}{
		{store.Campaign{SID: "cp_1", AccountSID: "acme", Recurrence: "0 10 * * 1-5", Run: 2, NextRunAt: &next, Status: store.CampaignInProgress, DateStarted: &next},
			store.Progress{}, "recurring: 2 runs so far, next 2026-01-15 04:30:00 UTC (its runs: campaign list --account acme --parent cp_1)  InProgress"},
		{store.Campaign{SendAt: &next, Status: store.CampaignCreated}, store.Progress{},
			"not started: starts 2026-01-15 04:30:00 UTC  throttle 60/min  Created"},
		// Paused: the numbers left count as paused; a retrying call is open.
		{store.Campaign{Status: store.CampaignPaused, DateStarted: &next, Throttle: 10},
			store.Progress{Stats: store.CampaignStats{"created": 8, "completed": 3, "failed": 1, "failed-dnd": 1, "paused": 2, "retrying": 1},
				Dialed: 6, Answered: 3, LastMinute: 4},
			"[###############---------] 5/8  dialed 6  answered 3  failed 2  remaining 3  rate 4/min  throttle 10/min  Paused"},
	} {
		if got := progressLine(&tc.c, &tc.p, limits); got != tc.want {
			t.Errorf("progressLine:\n got %q\nwant %q", got, tc.want)
		}
	}
}

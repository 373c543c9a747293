package sms_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/callback"
	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
)

// dbs runs fn on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.
func dbs(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, migrated(t, storetest.SQLiteDSN))
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvPostgres) == "" {
			t.Skip(storetest.EnvPostgres + " is not set")
		}
		t.Parallel()
		fn(t, migrated(t, storetest.PostgresDSN))
	})
}

func migrated(t *testing.T, dsn storetest.Fresh) *store.DB {
	db := storetest.OpenMigrated(t, dsn(t))
	if _, _, err := db.Accounts().CreateWithSID(t.Context(), "acme1", "Acme"); err != nil {
		t.Fatal(err)
	}
	return db
}

// watcher is a provider wrapper that tells each submission's outcome.
type watcher struct {
	sms.Provider
	mu    sync.Mutex
	tries map[string]int
}

func watch(p sms.Provider) *watcher {
	return &watcher{Provider: p, tries: map[string]int{}}
}

func (w *watcher) Submit(ctx context.Context, m sms.Message) (sms.Receipt, error) {
	r, err := w.Provider.Submit(ctx, m)
	w.mu.Lock()
	w.tries[m.SID]++
	w.mu.Unlock()
	return r, err
}

// run starts the sender's worker and joins it at the end of the test.
func run(t *testing.T, s *sms.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFinal waits until the message is in a final status; final hears of
// each message that reaches one (Config.NotifyCallbacks).
func waitFinal(t *testing.T, db *store.DB, final <-chan struct{}, sid string) *store.SMSMessage {
	t.Helper()
	for {
		m, err := db.SMS().Get(t.Context(), "acme1", sid)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Status {
		case store.SMSSent, store.SMSFailed, store.SMSFailedDND:
			return m
		}
		select {
		case <-final:
		case <-t.Context().Done():
			t.Fatalf("%s never final: %+v", sid, m)
		}
	}
}

func TestSenderTestNetwork(t *testing.T) {
	dbs(t, func(t *testing.T, db *store.DB) {
		w := watch(sms.TestNetwork{})
		final := make(chan struct{}, 256)
		s, err := sms.New(db, sms.Config{Provider: w, MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond },
			PollInterval: time.Hour, NotifyCallbacks: func() { final <- struct{}{} }}, testlog.New(t, slog.LevelInfo))
		if err != nil {
			t.Fatal(err)
		}
		run(t, s)
		cases := []struct {
			to       string
			want     sms.Detailed
			attempts int
		}{
			{"+15550100001", sms.DeliveredToHandset, 1},
			{"+15550100501", sms.DeliveredToOperator, 1},
			{"+15550100601", sms.FailedDND, 1},
			{"+15550100701", sms.FailedInvalidNumber, 1},
			{"+15550100802", sms.DeliveredToHandset, 3}, // two temporary failures, then delivered
			{"+15550100809", sms.Undeliverable, 3},      // retries used up
			{"+15550100920", sms.FailedBlacklisted, 1},
			{"+15550100999", sms.FailedSpam, 1},
			{"+15550100982", sms.FailedDLTTemplate, 1},
		}
		var reqs []sms.Request
		for _, c := range cases {
			reqs = append(reqs, sms.Request{AccountSID: "acme1", From: "08047000000", To: c.to, Body: "hi",
				StatusCallback: "https://cb.example/sms", CustomField: "cf"})
		}
		rows, err := s.Queue(t.Context(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			if rows[i].Status != store.SMSQueued || rows[i].DetailedStatusCode != 21010 || rows[i].Provider != "testnet" {
				t.Fatalf("queued row %+v", rows[i])
			}
			m := waitFinal(t, db, final, rows[i].SID)
			if m.Status != c.want.Status || m.DetailedStatus != c.want.Name || m.DetailedStatusCode != c.want.Code || m.Attempts != c.attempts {
				t.Errorf("%s: %s %s %d after %d attempts, want %+v after %d (err %q)", c.to, m.Status, m.DetailedStatus,
					m.DetailedStatusCode, m.Attempts, c.want, c.attempts, m.LastError)
			}
			if m.SentAt == nil && m.Status == store.SMSSent {
				t.Errorf("%s: no DateSent", c.to)
			}
			var cbs []store.Callback
			if err := db.Gorm().Where("call_sid = ?", m.SID).Find(&cbs).Error; err != nil {
				t.Fatal(err)
			}
			if len(cbs) != 1 || cbs[0].Event != sms.CallbackEvent || cbs[0].ContentType != store.ContentForm {
				t.Errorf("%s: callbacks %+v", c.to, cbs)
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for i, c := range cases {
			if w.tries[rows[i].SID] != c.attempts {
				t.Errorf("%s submitted %d times, want %d", c.to, w.tries[rows[i].SID], c.attempts)
			}
		}
	})
}

// TestSenderInstancesShareDatabase: two senders (two instances) on one
// database send each message once.
func TestSenderInstancesShareDatabase(t *testing.T) {
	dbs(t, func(t *testing.T, db *store.DB) {
		w := watch(sms.TestNetwork{})
		final := make(chan struct{}, 256)
		var senders []*sms.Sender
		for range 2 {
			s, err := sms.New(db, sms.Config{Provider: w, PollInterval: time.Hour, Batch: 3,
				NotifyCallbacks: func() { final <- struct{}{} }}, nil)
			if err != nil {
				t.Fatal(err)
			}
			senders = append(senders, s)
		}
		var reqs []sms.Request
		for range 40 {
			reqs = append(reqs, sms.Request{AccountSID: "acme1", From: "08047000000", To: "+15550100001", Body: "x",
				StatusCallback: "https://cb.example/"})
		}
		rows, err := senders[0].Queue(t.Context(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range senders {
			run(t, s)
			s.Wake()
		}
		for _, r := range rows {
			waitFinal(t, db, final, r.SID)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, r := range rows {
			if w.tries[r.SID] != 1 {
				t.Errorf("%s submitted %d times", r.SID, w.tries[r.SID])
			}
		}
	})
}

// TestSenderCallbackDelivered: the callback service POSTs the form.
func TestSenderCallbackDelivered(t *testing.T) {
	db := migrated(t, storetest.SQLiteDSN)
	got := make(chan url.Values, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(b))
		if err != nil {
			t.Error(err)
		}
		got <- v
	}))
	t.Cleanup(srv.Close)
	cbs, err := callback.New(db, callback.Config{HTTPClient: srv.Client(), PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cbs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cbs.Stop(context.Background()) })
	s, err := sms.New(db, sms.Config{Provider: sms.TestNetwork{}, NotifyCallbacks: cbs.Notify, PollInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	rows, err := s.Queue(t.Context(), []sms.Request{{AccountSID: "acme1", From: "08047000000", To: "+15550100601",
		Body: "héllo ✓", StatusCallback: srv.URL + "/sms", CustomField: "order-9"}})
	if err != nil {
		t.Fatal(err)
	}
	var v url.Values
	select {
	case v = <-got:
	case <-t.Context().Done():
		t.Fatal("no callback")
	}
	want := map[string]string{"SmsSid": rows[0].SID, "To": "+15550100601", "Status": "failed-dnd", "SmsUnits": "1",
		"DetailedStatus": "FAILED_DND", "DetailedStatusCode": "23005", "CustomField": "order-9"}
	for k, w := range want {
		if v.Get(k) != w {
			t.Errorf("%s = %q, want %q (%v)", k, v.Get(k), w, v)
		}
	}
	if _, err := time.Parse(time.DateTime, v.Get("DateSent")); err != nil {
		t.Errorf("DateSent %q: %v", v.Get("DateSent"), err)
	}
}

// reporting is a provider whose outcomes come as delivery reports, sent
// before Submit returns: the report reaches the sender before the
// submission is recorded.
type reporting struct{ report sms.ReportFunc }

func (*reporting) Name() string                  { return "reporting" }
func (r *reporting) SetReports(f sms.ReportFunc) { r.report = f }
func (r *reporting) Submit(ctx context.Context, m sms.Message) (sms.Receipt, error) {
	id := "r-" + m.SID
	r.report(ctx, sms.Report{ID: id, Outcome: sms.DeliveredToHandset})
	return sms.Receipt{ID: id}, nil
}

func TestSenderEarlyReport(t *testing.T) {
	dbs(t, func(t *testing.T, db *store.DB) {
		final := make(chan struct{}, 4)
		s, err := sms.New(db, sms.Config{Provider: &reporting{}, PollInterval: time.Hour,
			NotifyCallbacks: func() { final <- struct{}{} }}, nil)
		if err != nil {
			t.Fatal(err)
		}
		run(t, s)
		rows, err := s.Queue(t.Context(), []sms.Request{{AccountSID: "acme1", From: "08047000000", To: "+15550100001",
			Body: "x", StatusCallback: "https://cb.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-final:
		case <-t.Context().Done():
			t.Fatal("the report was never applied")
		}
		m, err := db.SMS().Get(t.Context(), "acme1", rows[0].SID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != store.SMSSent || m.DetailedStatusCode != 20005 || m.ProviderMessageID != "r-"+m.SID || m.Provider != "reporting" {
			t.Fatalf("%+v", m)
		}
		if err := s.Report(t.Context(), sms.Report{ID: "r-" + m.SID, Outcome: sms.Queued}); err == nil {
			t.Error("a non-final report was accepted")
		}
	})
}

func TestUnits(t *testing.T) {
	long := func(s string, n int) string {
		out := ""
		for range n {
			out += s
		}
		return out
	}
	for _, c := range []struct {
		body, enc string
		want      int
	}{
		{"", "plain", 1},
		{long("a", 160), "plain", 1},
		{long("a", 161), "plain", 2},
		{long("a", 306), "plain", 2},
		{long("a", 307), "plain", 3},
		{long("{", 80), "plain", 1}, // extension characters take two septets
		{long("{", 81), "plain", 2},
		{long("a", 70), "unicode", 1},
		{long("a", 71), "unicode", 2},
		{long("✓", 70), "plain", 1}, // not GSM-7: UCS-2 whatever was asked
		{long("✓", 134), "plain", 2},
		{long("✓", 135), "plain", 3},
		{long("😀", 35), "plain", 1}, // two UTF-16 units each
		{long("😀", 36), "plain", 2},
	} {
		if got := sms.Units(c.body, c.enc); got != c.want {
			t.Errorf("Units(%d×%q, %s) = %d, want %d", len([]rune(c.body)), []rune(c.body)[:min(1, len(c.body))], c.enc, got, c.want)
		}
	}
}

func TestWebhookClassifies(t *testing.T) {
	var status int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("auth %q", r.Header.Get("Authorization"))
		}
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"id":"gw-1"}`)
	}))
	t.Cleanup(srv.Close)
	p := &sms.Webhook{URL: srv.URL, Token: "tok", HTTPClient: srv.Client()}
	for _, c := range []struct {
		status    int
		temporary bool
		ok        bool
	}{{202, false, true}, {500, true, false}, {429, true, false}, {400, false, false}} {
		mu.Lock()
		status = c.status
		mu.Unlock()
		r, err := p.Submit(t.Context(), sms.Message{SID: "s1", To: "+15550100001", Body: "x"})
		if c.ok {
			if err != nil || r.ID != "gw-1" || r.Final != sms.DeliveredToOperator {
				t.Errorf("%d: %+v %v", c.status, r, err)
			}
			continue
		}
		var e *sms.Error
		if !errors.As(err, &e) || e.Temporary != c.temporary {
			t.Errorf("%d: %v", c.status, err)
		}
	}
}

package callback

import (
	"github.com/switchyard/switchyard/orchestrator/exotime"

	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testlog"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// waitLimit bounds every wait on an event, so a broken test fails instead
// of hanging; nothing waits for it to pass.
const waitLimit = 30 * time.Second

const account = "acme1"

// forEachDB runs fn on a fresh SQLite database and, when TEST_DATABASE_URL
// is set, on a fresh PostgreSQL schema.
func forEachDB(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, storetest.SQLiteDSN(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, storetest.PostgresDSN(t))
	})
}

// openDB opens and migrates dsn and creates the test account.
func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db := storetest.OpenMigrated(t, dsn)
	if _, _, err := db.Accounts().CreateWithSID(t.Context(), account, "Acme"); err != nil {
		t.Fatal(err)
	}
	return db
}

// testLog sends warnings and errors to the test log until the test's
// cleanups have run.
func testLog(t *testing.T) *slog.Logger { return testlog.New(t, slog.LevelWarn) }

// attempt is what the worker reports after recording an attempt.
type attempt struct {
	store.CallbackAttempt
	state string
}

// svc is a running Service and its reports.
type svc struct {
	*Service
	attempts chan attempt
	passes   chan struct{}
}

// loopbackClient is the client of a Switchyard run with -egress-allow
// loopback: the tests' receivers listen on 127.0.0.1.
func loopbackClient() *http.Client {
	return webhttp.Client(webhttp.NewPolicy(webhttp.Loopback()...), 0)
}

// startService starts a Service with fast retries and polling, and
// loopbackClient unless cfg has a client; it is stopped when the test
// ends (if the test did not stop it).
func startService(t *testing.T, db *store.DB, cfg Config) *svc {
	t.Helper()
	out := newService(t, db, cfg, 64)
	s := out.Service
	s.onRelayPass = func() {
		select {
		case out.passes <- struct{}{}:
		default:
		}
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return out
}

// newService builds, without starting it, a Service with fast retries and
// polling, loopbackClient unless cfg has a client, and its attempts told
// on a channel of size buffer.
func newService(t *testing.T, db *store.DB, cfg Config, buffer int) *svc {
	t.Helper()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = loopbackClient()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	s, err := New(db, cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	out := &svc{Service: s, attempts: make(chan attempt, buffer), passes: make(chan struct{}, 1)}
	s.onAttempt = func(a *store.CallbackAttempt, state string) { out.attempts <- attempt{*a, state} }
	return out
}

func (s *svc) nextAttempt(t *testing.T) attempt {
	t.Helper()
	return recv(t, s.attempts, "delivery attempt")
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %s", what, waitLimit)
		panic("unreachable")
	}
}

// hit is one request the receiver got.
type hit struct {
	n      int // 1-based, per receiver
	header http.Header
	body   []byte
}

// fields returns a multipart hit's fields in order as name=value.
func (h hit) fields(t *testing.T) []string {
	t.Helper()
	return formFields(t, h.header.Get("Content-Type"), bytes.NewReader(h.body))
}

// receiver is a callback endpoint. answer decides each response; it may
// block, but must give up when the request's context ends.
type receiver struct {
	*httptest.Server
	hits   chan hit
	answer func(n int, r *http.Request) int

	mu sync.Mutex
	n  int
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{hits: make(chan hit, 64), answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func ok(int, *http.Request) int { return http.StatusOK }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.n++
	n := rc.n
	rc.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "want POST", http.StatusMethodNotAllowed)
		return
	}
	rc.hits <- hit{n: n, header: r.Header.Clone(), body: body}
	code := rc.answer(n, r)
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "answer %d", code)
}

func (rc *receiver) next(t *testing.T) hit {
	t.Helper()
	return recv(t, rc.hits, "callback request")
}

// callOpts describe a test call.
type callOpts struct {
	url, events, urls, contentType string
}

// newCall creates an outbound API call with two legs, answered and
// talking, as the runtime would have it just before the end.
func newCall(t *testing.T, db *store.DB, o callOpts) *store.Call {
	t.Helper()
	ctx := t.Context()
	start := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	c := &store.Call{
		AccountSID:                account,
		Direction:                 store.DirectionOutboundAPI,
		From:                      "09800000001",
		To:                        "09800000002",
		PhoneNumber:               "08047000000",
		Status:                    store.Ringing,
		StartTime:                 start.Add(time.Second),
		CustomField:               "order-77",
		StatusCallback:            o.url,
		StatusCallbackEvents:      o.events,
		StatusCallbackURLs:        o.urls,
		StatusCallbackContentType: o.contentType,
		CreatedAt:                 start,
	}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	for i, to := range []string{c.From, c.To} {
		l := &store.Leg{
			CallSID: c.SID, AccountSID: account, UUID: fmt.Sprintf("%s-%d", c.SID, i+1),
			Direction: store.LegOutbound, To: to, Status: store.InProgress,
			StartTime: start.Add(time.Duration(i+1) * time.Second),
		}
		if err := db.Legs().Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// finish ends the call and its legs (318 s and 301 s of talk) and writes
// the terminal callback.
func finish(t *testing.T, db *store.DB, c *store.Call) *store.Call {
	t.Helper()
	ctx := t.Context()
	end := c.CreatedAt.Add(5 * time.Minute)
	for i, talk := range []int{318, 301} {
		_, err := db.Legs().Finish(ctx, fmt.Sprintf("%s-%d", c.SID, i+1), store.LegFinal{
			Status: store.Completed, AnswerTime: ptr(c.CreatedAt.Add(3 * time.Second)),
			EndTime: end, TalkTime: talk, Duration: talk + 2,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	applied, err := db.Calls().Finish(ctx, c.SID, store.CallFinal{
		Status: store.Completed, EndTime: end, Duration: 320, ConversationDuration: 301,
		RecordingURL: "https://recordings.example/x.mp3", Outbox: Terminal,
	})
	if err != nil || !applied {
		t.Fatalf("finish: %v, %v", applied, err)
	}
	got, err := db.Calls().Get(ctx, account, c.SID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func callbacksOf(t *testing.T, db *store.DB, sid string) []store.Callback {
	t.Helper()
	cbs, err := db.Callbacks().ByCall(t.Context(), account, sid)
	if err != nil {
		t.Fatal(err)
	}
	return cbs
}

func attemptsOf(t *testing.T, db *store.DB, sid string) []store.CallbackAttempt {
	t.Helper()
	as, err := db.Callbacks().Attempts(t.Context(), account, sid)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func fmtIST(t time.Time) string { return exotime.Format(t, nil) }

func TestDeliverTerminalMultipart(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		s := startService(t, db, Config{})

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL + "/status", events: "terminal"}))
		s.Notify()

		h := rc.next(t)
		if got := h.header.Get("X-Switchyard-Event"); got != "terminal" {
			t.Errorf("X-Switchyard-Event %q", got)
		}
		if got := h.header.Get("X-Switchyard-Sequence"); got != "1" {
			t.Errorf("X-Switchyard-Sequence %q", got)
		}
		if got := h.header.Get("User-Agent"); got != DefaultUserAgent {
			t.Errorf("User-Agent %q", got)
		}
		want := []string{
			"CallSid=" + c.SID, "EventType=terminal",
			"DateCreated=" + fmtIST(c.CreatedAt), "DateUpdated=" + fmtIST(c.UpdatedAt),
			"To=09800000002", "From=09800000001", "PhoneNumberSid=08047000000",
			"StartTime=" + fmtIST(c.StartTime), "EndTime=" + fmtIST(*c.EndTime),
			"Status=completed", "ConversationDuration=301", "Direction=outbound-api",
			"CustomField=order-77", "RecordingUrl=https://recordings.example/x.mp3",
			"Legs[0][OnCallDuration]=318", "Legs[0][Status]=completed", "Legs[0][AnsweredBy]=NA",
			"Legs[1][OnCallDuration]=301", "Legs[1][Status]=completed", "Legs[1][AnsweredBy]=Human",
			"SequenceNumber=1",
		}
		if got := h.fields(t); !slices.Equal(got, want) {
			t.Errorf("fields\n got %q\nwant %q", got, want)
		}

		a := s.nextAttempt(t)
		if a.state != store.CallbackDelivered || a.HTTPStatus != 200 || a.Attempt != 1 {
			t.Errorf("attempt %+v", a)
		}
		cbs := callbacksOf(t, db, c.SID)
		if len(cbs) != 1 || cbs[0].Status != store.CallbackDelivered || cbs[0].Attempts != 1 ||
			cbs[0].DeliveredAt == nil || cbs[0].RelayedAt == nil {
			t.Errorf("callbacks %+v", cbs)
		}
	})
}

func TestDeliverTerminalJSON(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		s := startService(t, db, Config{})

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL, events: "terminal", contentType: store.ContentJSON}))
		s.Notify()

		h := rc.next(t)
		if ct := h.header.Get("Content-Type"); ct != store.ContentJSON {
			t.Errorf("Content-Type %q", ct)
		}
		want := fmt.Sprintf(`{"CallSid":%q,"EventType":"terminal","DateCreated":%q,"DateUpdated":%q,`+
			`"To":"09800000002","From":"09800000001","PhoneNumberSid":"08047000000",`+
			`"StartTime":%q,"EndTime":%q,"Status":"completed","ConversationDuration":301,`+
			`"Direction":"outbound-api","CustomField":"order-77","RecordingUrl":"https://recordings.example/x.mp3",`+
			`"Legs":[{"OnCallDuration":318,"Status":"completed","AnsweredBy":"NA"},`+
			`{"OnCallDuration":301,"Status":"completed","AnsweredBy":"Human"}],"SequenceNumber":1}`,
			c.SID, fmtIST(c.CreatedAt), fmtIST(c.UpdatedAt), fmtIST(c.StartTime), fmtIST(*c.EndTime))
		if string(h.body) != want {
			t.Errorf("body\n got %s\nwant %s", h.body, want)
		}
		if a := s.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Errorf("attempt %+v", a)
		}
	})
}

func TestDeliverDefaultBaseFields(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		s := startService(t, db, Config{})

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()

		want := []string{
			"CallSid=" + c.SID, "DateUpdated=" + fmtIST(c.UpdatedAt), "Status=completed",
			"RecordingUrl=https://recordings.example/x.mp3", "SequenceNumber=1",
		}
		if got := rc.next(t).fields(t); !slices.Equal(got, want) {
			t.Errorf("fields\n got %q\nwant %q", got, want)
		}
	})
}

func TestAnsweredThenTerminalInSequence(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		terminal, answered := newReceiver(t, ok), newReceiver(t, ok)
		s := startService(t, db, Config{})
		ctx := t.Context()

		c := newCall(t, db, callOpts{
			url: terminal.URL, events: "terminal",
			urls: fmt.Sprintf(`{"answered":%q}`, answered.URL+"/answered"),
		})
		at := c.CreatedAt.Add(3 * time.Second)
		if changed, err := db.Calls().Answer(ctx, c.SID, at, Answered); err != nil || !changed {
			t.Fatalf("answer: %v, %v", changed, err)
		}
		s.Notify()

		h := answered.next(t)
		if h.header.Get("X-Switchyard-Sequence") != "1" || h.header.Get("X-Switchyard-Event") != "answered" {
			t.Errorf("answered headers %v", h.header)
		}
		f := h.fields(t)
		for _, want := range []string{"EventType=answered", "Status=in-progress", "EndTime=", "ConversationDuration=0",
			"Legs[1][AnsweredBy]=NA", "SequenceNumber=1"} {
			if !slices.Contains(f, want) {
				t.Errorf("answered callback lacks %s: %q", want, f)
			}
		}
		if a := s.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Errorf("answered attempt %+v", a)
		}

		finish(t, db, c)
		other := finish(t, db, newCall(t, db, callOpts{url: terminal.URL, events: "terminal"}))
		s.Notify()

		seqs := map[string]string{}
		for range 2 {
			h := terminal.next(t)
			f := h.fields(t)
			if h.header.Get("X-Switchyard-Event") != "terminal" || !slices.Contains(f, "EventType=terminal") {
				t.Errorf("want a terminal callback, got %v %q", h.header, f)
			}
			if !slices.Contains(f, "SequenceNumber="+h.header.Get("X-Switchyard-Sequence")) {
				t.Errorf("SequenceNumber and header disagree: %v %q", h.header, f)
			}
			seqs[strings.TrimPrefix(f[0], "CallSid=")] = h.header.Get("X-Switchyard-Sequence")
		}
		if seqs[c.SID] != "2" || seqs[other.SID] != "1" {
			t.Errorf("sequence numbers by call %v; want 2 for %s (after answered), 1 for %s", seqs, c.SID, other.SID)
		}
		cbs := callbacksOf(t, db, c.SID)
		if len(cbs) != 2 || cbs[0].Event != store.CallbackAnswered || cbs[0].Seq != 1 ||
			cbs[1].Event != store.CallbackTerminal || cbs[1].Seq != 2 {
			t.Errorf("callbacks %+v", cbs)
		}
	})
}

func TestRetriedUntilDelivered(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		s := startService(t, db, Config{})

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()

		first, second := s.nextAttempt(t), s.nextAttempt(t)
		if first.state != store.CallbackPending || first.HTTPStatus != 500 {
			t.Errorf("first attempt %+v", first)
		}
		if second.state != store.CallbackDelivered || second.HTTPStatus != 200 {
			t.Errorf("second attempt %+v", second)
		}
		h1, h2 := rc.next(t), rc.next(t)
		if !slices.Equal(h1.fields(t), h2.fields(t)) {
			t.Errorf("the retry sent other fields:\n%q\n%q", h1.fields(t), h2.fields(t))
		}

		as := attemptsOf(t, db, c.SID)
		if len(as) != 2 {
			t.Fatalf("attempts %+v", as)
		}
		for i, want := range []int{500, 200} {
			a := as[i]
			if a.Attempt != i+1 || a.HTTPStatus != want || a.LatencyMS < 0 || a.URL != rc.URL || a.CallSID != c.SID {
				t.Errorf("attempt %d: %+v", i+1, a)
			}
		}
		if !strings.Contains(as[0].Error, "500") || as[1].Error != "" {
			t.Errorf("errors %q, %q", as[0].Error, as[1].Error)
		}
		cbs := callbacksOf(t, db, c.SID)
		if cbs[0].Status != store.CallbackDelivered || cbs[0].Attempts != 2 {
			t.Errorf("callback %+v", cbs[0])
		}
	})
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
		s := startService(t, db, Config{MaxAttempts: 3})

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()

		for i, want := range []string{store.CallbackPending, store.CallbackPending, store.CallbackFailed} {
			if a := s.nextAttempt(t); a.state != want || a.Attempt != i+1 || a.HTTPStatus != 503 {
				t.Errorf("attempt %d: %+v, want state %s", i+1, a, want)
			}
		}
		cbs := callbacksOf(t, db, c.SID)
		if cbs[0].Status != store.CallbackFailed || cbs[0].Attempts != 3 || cbs[0].DeliveredAt != nil {
			t.Errorf("callback %+v", cbs[0])
		}
		if as := attemptsOf(t, db, c.SID); len(as) != 3 {
			t.Errorf("%d attempts recorded, want 3", len(as))
		}
	})
}

// The default client refuses to connect to loopback: the attempt records
// why, and the receiver is never reached.
func TestDefaultClientRefusesLoopback(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	rc := newReceiver(t, ok)
	s := startService(t, db, Config{MaxAttempts: 1, HTTPClient: Config{}.withDefaults().HTTPClient})

	c := finish(t, db, newCall(t, db, callOpts{url: rc.URL + "/status"}))
	s.Notify()

	a := s.nextAttempt(t)
	host := strings.TrimPrefix(rc.URL, "http://")
	if a.state != store.CallbackFailed || a.HTTPStatus != 0 ||
		!strings.Contains(a.Error, "egress denied: "+host+" is loopback; see -egress-allow") {
		t.Errorf("attempt %+v", a)
	}
	if n := len(rc.hits); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
	if cbs := callbacksOf(t, db, c.SID); cbs[0].Status != store.CallbackFailed {
		t.Errorf("callback %+v", cbs[0])
	}
}

func TestRefusesNonHTTPURL(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		s := startService(t, db, Config{})

		c := finish(t, db, newCall(t, db, callOpts{url: "ftp://files.example/cb"}))
		s.Notify()

		a := s.nextAttempt(t)
		if a.state != store.CallbackFailed || a.HTTPStatus != 0 || !strings.Contains(a.Error, "scheme") {
			t.Errorf("attempt %+v", a)
		}
		if cbs := callbacksOf(t, db, c.SID); cbs[0].Status != store.CallbackFailed || cbs[0].Attempts != 1 {
			t.Errorf("callback %+v", cbs[0])
		}
	})
}

// A callback written while no Service runs is delivered by the next one,
// without a Notify: the relay drains the outbox when it starts.
func TestDeliveredByNextService(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		first := startService(t, db, Config{})
		if err := first.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))

		second := startService(t, db, Config{})
		if got := rc.next(t).fields(t); got[0] != "CallSid="+c.SID {
			t.Errorf("fields %q", got)
		}
		if a := second.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Errorf("attempt %+v", a)
		}
	})
}

// A Service stopped with a delivery stuck in flight cancels it and leaves
// it queued; a new Service (here on a new connection to the database)
// delivers it.
func TestInterruptedDeliveryResumesInNextService(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, func(n int, r *http.Request) int {
			if n == 1 {
				<-r.Context().Done() // hang until the sender gives up
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		first := startService(t, db, Config{})
		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		first.Notify()
		rc.next(t)

		expired, cancel := context.WithCancel(t.Context())
		cancel()
		if err := first.Stop(expired); err != nil {
			t.Fatalf("stop: %v", err)
		}
		a := first.nextAttempt(t)
		if a.state != store.CallbackPending || a.HTTPStatus != 0 || a.Error == "" {
			t.Errorf("interrupted attempt %+v", a)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db2 := storetest.Open(t, dsn)
		second := startService(t, db2, Config{})
		h := rc.next(t)
		if !slices.Contains(h.fields(t), "CallSid="+c.SID) {
			t.Errorf("fields %q", h.fields(t))
		}
		if a := second.nextAttempt(t); a.state != store.CallbackDelivered || a.Attempt != 2 {
			t.Errorf("attempt %+v", a)
		}
	})
}

// Stop waits for a delivery in flight.
func TestStopWaitsForDeliveryInFlight(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		release := make(chan struct{})
		rc := newReceiver(t, func(_ int, r *http.Request) int {
			select {
			case <-release:
				return http.StatusOK
			case <-r.Context().Done():
				return http.StatusServiceUnavailable
			}
		})
		s := startService(t, db, Config{})
		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()
		rc.next(t)

		// Release the delivery only once Stop is waiting for it.
		s.onStopQueue = func() { close(release) }
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		if err := recv(t, stopped, "Stop"); err != nil {
			t.Fatal(err)
		}
		if cbs := callbacksOf(t, db, c.SID); cbs[0].Status != store.CallbackDelivered {
			t.Errorf("after Stop: callback %+v", cbs[0])
		}
	})
}

// Woken, the relay waits a moment and moves what came meanwhile in the
// same pass: one pass for the three calls that ended in its linger.
func TestRelayGathersWhatEndsWhileItLingers(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		s := newService(t, db, Config{PollInterval: time.Hour}, 8)
		lingering, release := make(chan struct{}), make(chan struct{})
		s.lingerWait = func(ctx context.Context) bool {
			select {
			case lingering <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			select {
			case <-release:
				return true
			case <-ctx.Done():
				return false
			}
		}
		passes := make(chan struct{}, 4)
		s.onRelayPass = func() { passes <- struct{}{} }
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Stop(context.Background()); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
		recv(t, passes, "first relay pass")

		first := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()
		recv(t, lingering, "linger")
		sids := []string{first.SID}
		for range 2 {
			sids = append(sids, finish(t, db, newCall(t, db, callOpts{url: rc.URL})).SID)
			s.Notify()
		}
		release <- struct{}{}
		recv(t, passes, "relay pass")
		for _, sid := range sids {
			if cbs := callbacksOf(t, db, sid); len(cbs) != 1 || cbs[0].RelayedAt == nil {
				t.Errorf("call %s: callbacks %+v after one pass, want one relayed", sid, cbs)
			}
		}
	})
}

// A callback relayed twice (the relay died between queueing it and
// marking it relayed) is queued and delivered once.
func TestRelayedTwiceQueuedOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		s := startService(t, db, Config{})
		ctx := t.Context()

		c := finish(t, db, newCall(t, db, callOpts{url: rc.URL}))
		s.Notify()
		if a := s.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Fatalf("attempt %+v", a)
		}

		if err := db.Gorm().WithContext(ctx).Exec("UPDATE callbacks SET relayed_at = NULL").Error; err != nil {
			t.Fatal(err)
		}
		// The second pass to end after the reset began after it.
		select {
		case <-s.passes:
		default:
		}
		for range 2 {
			s.Notify()
			recv(t, s.passes, "relay pass")
		}
		if cbs := callbacksOf(t, db, c.SID); cbs[0].RelayedAt == nil {
			t.Fatalf("not relayed again: %+v", cbs[0])
		}
		var jobs int64
		err := db.Gorm().WithContext(ctx).Raw("SELECT COUNT(*) FROM river_job WHERE kind = ?", deliverArgs{}.Kind()).Scan(&jobs).Error
		if err != nil {
			t.Fatal(err)
		}
		if jobs != 1 {
			t.Errorf("%d jobs queued, want 1", jobs)
		}
		if cbs := callbacksOf(t, db, c.SID); cbs[0].Attempts != 1 {
			t.Errorf("callback %+v", cbs[0])
		}
	})
}

// Services of processes starting together on one database both migrate
// River's schema and start.
func TestConcurrentStart(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		dbs := []*store.DB{openDB(t, dsn), storetest.Open(t, dsn)}
		errs := make(chan error, len(dbs))
		for _, db := range dbs {
			s, err := New(db, Config{}, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			go func() { errs <- s.Start(t.Context()) }()
		}
		for range dbs {
			if err := recv(t, errs, "Start"); err != nil {
				t.Errorf("start: %v", err)
			}
		}
	})
}

func TestNotifyNeverBlocks(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	s, err := New(db, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		s.Notify() // not started: nobody reads the wake-ups
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	if _, err := New(db, Config{Timeout: time.Minute, RescueAfter: time.Minute}, nil); err == nil {
		t.Error("RescueAfter not above Timeout: New succeeded")
	}
	if _, err := New(db, Config{MaxAttempts: -1}, nil); err == nil {
		t.Error("negative MaxAttempts: New succeeded")
	}
	if _, err := New(nil, Config{}, nil); err == nil {
		t.Error("no database: New succeeded")
	}
}

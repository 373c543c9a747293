package callback

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// deferral is a callback the gate turned away.
type deferral struct{ callbackID, limit string }

// gated is a Service with its attempts, relay passes and deferrals
// reported; unlike startService, it is built first and started by start.
type gated struct {
	*svc
	defers chan deferral
}

// newGated builds a Service as startService does, without starting it,
// with a plain HTTP client: the receivers listen on loopback, and the
// egress policy is not what these tests are about.
func newGated(t *testing.T, db *store.DB, cfg Config) *gated {
	t.Helper()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	g := &gated{svc: newService(t, db, cfg, 256), defers: make(chan deferral, 1024)}
	s := g.Service
	s.onDefer = func(id, limit string) {
		select {
		case g.defers <- deferral{id, limit}:
		default: // the tests look for the first few only
		}
	}
	return g
}

// start starts the Service; it is stopped when the test ends.
func (g *gated) start(t *testing.T) {
	t.Helper()
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

// awaitDeferral waits until the gate turns a callback away by limit.
func (g *gated) awaitDeferral(t *testing.T, limit string) {
	t.Helper()
	for d := recv(t, g.defers, "deferral"); d.limit != limit; d = recv(t, g.defers, "deferral") {
	}
}

// addAccount creates an account.
func addAccount(t testing.TB, db *store.DB, sid string) {
	t.Helper()
	if _, _, err := db.Accounts().CreateWithSID(context.Background(), sid, sid); err != nil {
		t.Fatal(err)
	}
}

// endCall creates a call of the account whose status callback goes to url
// and ends it, which writes its terminal callback to the outbox. It
// returns the call's SID.
func endCall(t testing.TB, db *store.DB, account, url string) string {
	t.Helper()
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	c := &store.Call{
		AccountSID:     account,
		Direction:      store.DirectionOutboundAPI,
		From:           "09800000001",
		To:             "09800000002",
		PhoneNumber:    "08047000000",
		Status:         store.Ringing,
		StartTime:      start,
		StatusCallback: url,
		CreatedAt:      start,
	}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Calls().Finish(ctx, c.SID, store.CallFinal{
		Status: store.Completed, EndTime: start.Add(30 * time.Second), Duration: 30, Outbox: Terminal,
	})
	if err != nil || !applied {
		t.Fatalf("finish call %s: %v, %v", c.SID, applied, err)
	}
	return c.SID
}

// timeline is the ordered record of what the receivers of a test saw.
type timeline struct {
	mu     sync.Mutex
	events []string
}

func (tl *timeline) add(e string) {
	tl.mu.Lock()
	tl.events = append(tl.events, e)
	tl.mu.Unlock()
}

func (tl *timeline) snapshot() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.events)
}

func (tl *timeline) count(e string) int { return countOf(tl.snapshot(), e) }

// hangers are receivers that answer nothing until release is closed (then
// 200) or the sender gives up. They record "hang" when a request arrives
// and "hang end" when it ends, and track how many hang at once.
type hangers struct {
	tl      *timeline
	release chan struct{}
	hits    chan struct{}

	mu                  sync.Mutex
	inFlight, maxFlight int
}

func newHangers(tl *timeline) *hangers {
	return &hangers{tl: tl, release: make(chan struct{}), hits: make(chan struct{}, 1024)}
}

// server starts one more hanging receiver, a destination of its own.
func (h *hangers) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.inFlight++
		h.maxFlight = max(h.maxFlight, h.inFlight)
		h.tl.add("hang")
		h.mu.Unlock()
		h.hits <- struct{}{}
		code := http.StatusOK
		select {
		case <-h.release:
		case <-r.Context().Done():
			code = http.StatusServiceUnavailable
		}
		h.mu.Lock()
		h.inFlight--
		h.tl.add("hang end")
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	// Registered after srv.Close, so it runs before it: Close waits for
	// the handlers.
	t.Cleanup(h.releaseAll)
	return srv
}

func (h *hangers) releaseAll() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

func (h *hangers) flight() (now, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.maxFlight
}

// Many hanging receivers of one account, queued first, hold at most its
// AccountConcurrency workers: another account's callback is delivered
// while they all still hang.
func TestHangingAccountDoesNotHoldUpOthers(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		addAccount(t, db, "slowco")
		tl := &timeline{}
		hang := newHangers(tl)
		// Nothing times out during the test: the hanging attempts end
		// when the test releases them.
		g := newGated(t, db, Config{Timeout: 10 * time.Minute})
		g.start(t)
		limit := g.cfg.AccountConcurrency
		if limit >= g.cfg.Workers {
			t.Fatalf("AccountConcurrency %d leaves no worker of %d for others", limit, g.cfg.Workers)
		}

		// More than the queue runs at once, workers and skippers.
		queued := queueWorkers(g.cfg.Workers) + g.cfg.Workers
		for range queued {
			endCall(t, db, "slowco", hang.server(t).URL+"/status")
		}
		g.Notify()
		for range limit {
			recv(t, hang.hits, "request to a hanging receiver")
		}
		// slowco's other callbacks are due, and turned away.
		g.awaitDeferral(t, limitAccount)

		healthy := newReceiver(t, func(int, *http.Request) int {
			tl.add("healthy")
			return http.StatusOK
		})
		sid := endCall(t, db, account, healthy.URL+"/status")
		g.Notify()
		healthy.next(t)
		a := g.nextAttempt(t)
		if a.CallSID != sid || a.state != store.CallbackDelivered {
			t.Fatalf("first attempt recorded: %+v; want the healthy callback delivered", a)
		}

		// What the receivers saw, in order: slowco's requests, all still
		// hanging when the healthy one answered.
		events := tl.snapshot()
		at := slices.Index(events, "healthy")
		if at < 0 {
			t.Fatalf("timeline %q has no healthy delivery", events)
		}
		before := events[:at]
		if n := countOf(before, "hang"); n != limit || slices.Contains(before, "hang end") {
			t.Errorf("before the healthy delivery: %q; want %d hanging requests, none ended", before, limit)
		}
		if now, most := hang.flight(); now != limit || most != limit {
			t.Errorf("hanging requests: %d now, %d at most; want %d (AccountConcurrency)", now, most, limit)
		}
		if n := tl.count("hang end"); n != 0 {
			t.Errorf("%d hanging requests ended before the test released them", n)
		}
	})
}

// Hanging receivers of many accounts, each under its own account's limit,
// hold at most half the workers (probation): a receiver known to answer
// gets its callback while they all still hang.
func TestHangingReceiversOfManyAccounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		tl := &timeline{}
		hang := newHangers(tl)
		g := newGated(t, db, Config{Timeout: 10 * time.Minute})
		g.start(t)
		healthy := newReceiver(t, func(int, *http.Request) int {
			tl.add("healthy")
			return http.StatusOK
		})

		// The healthy receiver answers once before the others hang.
		endCall(t, db, account, healthy.URL+"/status")
		g.Notify()
		healthy.next(t)
		if a := g.nextAttempt(t); a.state != store.CallbackDelivered {
			t.Fatalf("warm-up attempt %+v", a)
		}

		limit := g.gate.probationCap
		queued := queueWorkers(g.cfg.Workers) + g.cfg.Workers
		for i := range queued {
			sid := fmt.Sprintf("hang%02d", i)
			addAccount(t, db, sid)
			endCall(t, db, sid, hang.server(t).URL+"/status")
		}
		g.Notify()
		for range limit {
			recv(t, hang.hits, "request to a hanging receiver")
		}
		g.awaitDeferral(t, limitProbation)

		sid := endCall(t, db, account, healthy.URL+"/status")
		g.Notify()
		healthy.next(t)
		if a := g.nextAttempt(t); a.CallSID != sid || a.state != store.CallbackDelivered {
			t.Fatalf("attempt recorded: %+v; want the healthy callback delivered", a)
		}

		events := tl.snapshot()
		at := slices.Index(events[1:], "healthy") + 1 // after the warm-up
		if at < 1 {
			t.Fatalf("timeline %q has no second healthy delivery", events)
		}
		before := events[1:at]
		if n := countOf(before, "hang"); n != limit || slices.Contains(before, "hang end") {
			t.Errorf("before the healthy delivery: %q; want %d hanging requests, none ended", before, limit)
		}
		if now, most := hang.flight(); now != limit || most != limit {
			t.Errorf("hanging requests: %d now, %d at most; want %d (half the workers)", now, most, limit)
		}
	})
}

// A destination that times out gets fewer attempts at once, down to one;
// the callbacks beyond that one fail their attempts without being sent and
// back off, until they give up like any others.
func TestTimingOutDestinationIsThrottled(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		tl := &timeline{}
		hang := newHangers(tl)
		const hostLimit, callbacks, maxAttempts = 2, 6, 3
		g := newGated(t, db, Config{
			Timeout: 500 * time.Millisecond, HostConcurrency: hostLimit, AccountConcurrency: 10,
			MaxAttempts: maxAttempts,
		})
		g.start(t)
		url := hang.server(t).URL + "/status"
		var sids []string
		for range callbacks {
			sids = append(sids, endCall(t, db, account, url))
		}
		g.Notify()

		failed, notSent := 0, 0
		for failed < callbacks {
			a := g.nextAttempt(t)
			switch {
			case a.state == store.CallbackDelivered:
				t.Fatalf("delivered to a receiver that never answers: %+v", a)
			case a.state == store.CallbackFailed:
				failed++
			}
			if strings.HasPrefix(a.Error, "not sent: ") {
				notSent++
				if a.HTTPStatus != 0 {
					t.Errorf("an attempt not sent has status %d", a.HTTPStatus)
				}
			}
		}
		sent := tl.count("hang")
		if _, most := hang.flight(); most > hostLimit {
			t.Errorf("%d requests at once to one destination, want at most %d", most, hostLimit)
		}
		if notSent == 0 || sent+notSent != callbacks*maxAttempts {
			t.Errorf("%d attempts sent, %d not sent; want some not sent, %d in all", sent, notSent, callbacks*maxAttempts)
		}
		for _, sid := range sids {
			cbs := callbacksOf(t, db, sid)
			if len(cbs) != 1 || cbs[0].Status != store.CallbackFailed || cbs[0].Attempts != maxAttempts {
				t.Errorf("callbacks of %s: %+v", sid, cbs)
			}
		}
	})
}

// A job queued before jobs carried their route (callback ID only) is
// still delivered; a job the relay queues now carries it.
func TestJobWithoutRoute(t *testing.T) {
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		rc := newReceiver(t, ok)
		ctx := t.Context()
		old := endCall(t, db, account, rc.URL+"/old")
		cbs := callbacksOf(t, db, old)
		if len(cbs) != 1 {
			t.Fatalf("callbacks %+v", cbs)
		}

		g := newGated(t, db, Config{})
		if err := g.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := g.queue.InsertMany(ctx, []river.InsertManyParams{
			{Args: deliverArgs{CallbackID: cbs[0].ID}, InsertOpts: g.insertOpts()},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Callbacks().MarkRelayed(ctx, []string{cbs[0].ID}); err != nil {
			t.Fatal(err)
		}
		g.start(t)
		if got := rc.next(t).fields(t); !slices.Contains(got, "CallSid="+old) {
			t.Errorf("fields %q", got)
		}
		if a := g.nextAttempt(t); a.CallSID != old || a.state != store.CallbackDelivered {
			t.Errorf("attempt %+v", a)
		}

		current := endCall(t, db, account, rc.URL+"/new")
		g.Notify()
		rc.next(t)
		if a := g.nextAttempt(t); a.CallSID != current || a.state != store.CallbackDelivered {
			t.Errorf("attempt %+v", a)
		}
		text := "args::text" // jsonb
		if db.Dialect() == store.DialectSQLite {
			text = "json(args)" // SQLite's binary JSON
		}
		var raw []string
		err = db.Gorm().WithContext(ctx).Raw("SELECT "+text+" FROM river_job WHERE kind = ? ORDER BY id",
			deliverArgs{}.Kind()).Scan(&raw).Error
		if err != nil {
			t.Fatal(err)
		}
		var args []deliverArgs
		for _, r := range raw {
			var a deliverArgs
			if err := json.Unmarshal([]byte(r), &a); err != nil {
				t.Fatalf("job args %s: %v", r, err)
			}
			args = append(args, a)
		}
		want := []deliverArgs{
			{CallbackID: cbs[0].ID},
			{CallbackID: callbacksOf(t, db, current)[0].ID, AccountSID: account, Dest: strings.TrimPrefix(rc.URL, "http://")},
		}
		if !slices.Equal(args, want) {
			t.Errorf("jobs' args\n got %+v\nwant %+v", args, want)
		}
	})
}

func countOf(events []string, e string) int {
	n := 0
	for _, got := range events {
		if got == e {
			n++
		}
	}
	return n
}

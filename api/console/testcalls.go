package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// TestCall is a simulated call the flow builder places: a caller dials
// To (an ExoPhone) from From and presses Digits, one entry per menu or
// gather in order ("" lets that one time out).
type TestCall struct {
	To, From string
	Digits   []string
}

// TestResult is what the simulated caller saw.
type TestResult struct {
	// CallSid is Switchyard's id of the call ("" if it never took it).
	CallSid  string
	Answered bool
	// Cause is the channel's hangup cause.
	Cause string
	// Apps are the applications the flow ran on the caller's channel,
	// e.g. "speak Hello", "record …".
	Apps []string
}

// TestCaller places a test call and returns when it has ended. The
// server's node (the emulator or a FreeSWITCH) places it over its event
// socket, as `switchyard sim call` does.
type TestCaller func(ctx context.Context, t TestCall) (TestResult, error)

// Test call limits.
const (
	// maxRunningTests is how many test calls run at once on a server.
	maxRunningTests = 4
	// keptTests is how many test calls are remembered, oldest forgotten
	// first.
	keptTests = 200
	// testTimeout bounds one test call.
	testTimeout = 3 * time.Minute
	// recordWait is how long a test waits for its call's final record
	// (written a moment after the call ends) before it answers without
	// the applet path.
	recordWait = 30 * time.Second
	// defaultTestCaller is the number test calls come from by default.
	defaultTestCaller = "+15550109999"
)

// errNoTests is the answer when this server places no test calls.
var errNoTests = errors.New("this server cannot place test calls: it has no node to call through")

var (
	callerNumber = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	testDigits   = regexp.MustCompile(`^[0-9*#,]{0,64}$`)
)

// testRuns remembers the test calls of this server.
type testRuns struct {
	mu      sync.Mutex
	runs    map[string]*testRun
	order   []string
	running int
}

// testRun is one test call.
type testRun struct {
	ID, Account, Flow string
	Call              TestCall
	Started           time.Time
	// Set when the call has ended:
	Ended  time.Time
	Done   bool
	Result TestResult
	Err    string
}

// testBody is the body of a test call request.
type testBody struct {
	To     string `json:"to"`
	From   string `json:"from"`
	Digits string `json:"digits"`
}

// testView is a test call as the builder polls it.
type testView struct {
	ID string `json:"id"`
	// State is running (the call is up), finishing (it ended; its final
	// record is being written), done or failed.
	State    string             `json:"state"`
	To       string             `json:"to"`
	From     string             `json:"from"`
	CallSid  string             `json:"call_sid,omitempty"`
	CallURL  string             `json:"call_url,omitempty"`
	Answered bool               `json:"answered"`
	Cause    string             `json:"cause,omitempty"`
	Apps     []string           `json:"apps,omitempty"`
	Path     []store.AppletStep `json:"path,omitempty"`
	Status   string             `json:"status,omitempty"`
	Error    string             `json:"error,omitempty"`
}

func jsonError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
}

// startTest places a test call to one of the flow's ExoPhones and
// answers 202 with its id; the builder then polls testStatus.
func (cs *console) startTest(c echo.Context) error {
	if cs.d.TestCall == nil {
		return jsonError(c, http.StatusNotImplemented, errNoTests.Error())
	}
	s := sessionFrom(c)
	ctx := c.Request().Context()
	var body testBody
	if err := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 4<<10)).Decode(&body); err != nil {
		return jsonError(c, http.StatusBadRequest, "the request is not a JSON object {to, from, digits}")
	}
	f, err := cs.d.Store.Flows().Get(ctx, s.Account, c.Param("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return jsonError(c, http.StatusNotFound, "there is no such flow in this account")
		}
		return err
	}
	from := strings.TrimSpace(body.From)
	if from == "" {
		from = defaultTestCaller
	}
	switch {
	case f.LiveVersion == 0:
		return jsonError(c, http.StatusBadRequest, "publish the flow first: test calls run its published version")
	case !callerNumber.MatchString(from):
		return jsonError(c, http.StatusBadRequest, "the caller's number must be 3 to 20 digits, with an optional leading +")
	case !testDigits.MatchString(body.Digits):
		return jsonError(c, http.StatusBadRequest, "digits are 0-9, * and #, one group per menu separated by commas, at most 64")
	}
	phone, err := cs.d.Store.Numbers().Get(ctx, s.Account, body.To)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return jsonError(c, http.StatusBadRequest, "pick one of this account's ExoPhones to call")
	case err != nil:
		return err
	case phone.FlowID == nil || *phone.FlowID != f.ID:
		return jsonError(c, http.StatusBadRequest, "ExoPhone "+phone.Number+" does not run this flow: assign it first")
	}
	run := &testRun{ID: newRunID(), Account: s.Account, Flow: f.ID, Started: cs.d.Now(),
		Call: TestCall{To: phone.Number, From: from}}
	if body.Digits != "" {
		run.Call.Digits = strings.Split(body.Digits, ",")
	}
	if !cs.tests.start(run) {
		return jsonError(c, http.StatusTooManyRequests, "too many test calls are running: wait for one to end")
	}
	cs.log.InfoContext(ctx, "console: test call", "account", s.Account, "flow", f.ID, "to", phone.Number, "from", from, "test", run.ID)
	go cs.runTest(context.WithoutCancel(ctx), run)
	return c.JSON(http.StatusAccepted, cs.testView(c, run))
}

// runTest places the call and records how it went.
func (cs *console) runTest(ctx context.Context, run *testRun) {
	ctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	res, err := cs.d.TestCall(ctx, run.Call)
	cs.tests.finish(run, res, err, cs.d.Now())
	if err != nil {
		cs.log.WarnContext(ctx, "console: test call failed", "test", run.ID, "err", err)
		return
	}
	cs.log.InfoContext(ctx, "console: test call ended", "test", run.ID, "call_sid", res.CallSid, "cause", res.Cause)
}

// testStatus answers how a test call is going, with its applet path once
// its final record is written.
func (cs *console) testStatus(c echo.Context) error {
	s := sessionFrom(c)
	run := cs.tests.get(c.Param("run"))
	if run == nil || run.Account != s.Account || run.Flow != c.Param("id") {
		return jsonError(c, http.StatusNotFound, "there is no such test call")
	}
	return c.JSON(http.StatusOK, cs.testView(c, run))
}

// testView reads a test call's state, and its call's record once ended.
func (cs *console) testView(c echo.Context, run *testRun) testView {
	cs.tests.mu.Lock()
	r := *run
	cs.tests.mu.Unlock()
	v := testView{ID: r.ID, State: "running", To: r.Call.To, From: r.Call.From}
	if !r.Done {
		return v
	}
	v.CallSid, v.Answered, v.Cause, v.Apps, v.Error = r.Result.CallSid, r.Result.Answered, r.Result.Cause, r.Result.Apps, r.Err
	if v.CallSid == "" {
		v.State = "failed"
		if v.Error == "" {
			v.Error = "Switchyard did not take the call (cause " + v.Cause + ")"
		}
		return v
	}
	v.CallURL = Prefix + "/calls/" + v.CallSid
	v.State = "done"
	call, err := cs.d.Store.Calls().Get(c.Request().Context(), r.Account, v.CallSid)
	switch {
	case err == nil && call.EndTime != nil:
		v.Path, v.Status = call.AppletPath, string(call.Status)
	case err == nil || errors.Is(err, store.ErrNotFound):
		if cs.d.Now().Sub(r.Ended) < recordWait {
			v.State = "finishing"
		}
	default:
		v.Error = "the call's record cannot be read now: " + err.Error()
	}
	return v
}

// start remembers a new run, false when too many are running.
func (t *testRuns) start(run *testRun) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running >= maxRunningTests {
		return false
	}
	if t.runs == nil {
		t.runs = map[string]*testRun{}
	}
	t.running++
	t.runs[run.ID] = run
	t.order = append(t.order, run.ID)
	for len(t.order) > keptTests {
		if old := t.runs[t.order[0]]; old != nil && old.Done {
			delete(t.runs, t.order[0])
			t.order = t.order[1:]
			continue
		}
		break // the oldest is still running: keep it
	}
	return true
}

func (t *testRuns) finish(run *testRun, res TestResult, err error, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	run.Done, run.Result, run.Ended = true, res, now
	if err != nil {
		run.Err = err.Error()
	}
}

func (t *testRuns) get(id string) *testRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs[id]
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

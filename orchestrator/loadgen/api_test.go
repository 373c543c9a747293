package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// fakeAPI answers Calls/connect as Switchyard does and posts each call's
// terminal callback, except where told otherwise.
type fakeAPI struct {
	t        *testing.T
	mu       sync.Mutex
	n        int
	forms    []map[string]string
	wg       sync.WaitGroup
	records  map[string]*store.Call
	ended    time.Time
	refuse   func(i int) bool // answer 429
	silent   string           // the CallSid whose callback never comes
	twice    string           // the CallSid whose callback comes twice
	unrecord string           // the CallSid that never gets a final record
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); !ok || user != "key" || pass != "token" {
		http.Error(w, "who", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/Accounts/acme/Calls/connect.json" {
		http.Error(w, "where", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	i := f.n
	f.n++
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	f.forms = append(f.forms, form)
	f.mu.Unlock()
	if f.refuse(i) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"RestException":{"Status":429,"Message":"slow down"}}`)
		return
	}
	sid := fmt.Sprintf("call-%d", i)
	f.mu.Lock()
	if sid != f.unrecord {
		f.records[sid] = &store.Call{SID: sid, EndTime: &f.ended}
	}
	f.mu.Unlock()
	callback := func() {
		body, _ := json.Marshal(map[string]any{"CallSid": sid, "EventType": "terminal", "Status": "completed"})
		resp, err := http.Post(form["StatusCallback"], "application/json", bytes.NewReader(body))
		if err != nil {
			f.t.Errorf("callback: %v", err)
			return
		}
		resp.Body.Close()
	}
	if sid == f.twice {
		// Both before the answer: a callback may overtake its call's
		// answer, and the second is then surely in when the run ends.
		callback()
		callback()
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"Call":{"Sid":%q,"Status":"in-progress"}}`, sid)
	if sid != f.silent && sid != f.twice {
		f.wg.Go(callback)
	}
}

func (f *fakeAPI) BySID(_ context.Context, sid string) (*store.Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.records[sid]; ok {
		return c, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeAPI) ChannelCall(context.Context, string) (string, error) { return "", store.ErrNotFound }

// An API run counts what the API refused, the callbacks that came (and
// those that came twice or never), and with the records the calls lost.
func TestRunAPI(t *testing.T) {
	api := &fakeAPI{t: t, records: map[string]*store.Call{}, ended: time.Now().Add(-time.Second),
		refuse: func(i int) bool { return i%4 == 3 }, silent: "call-5", twice: "call-1", unrecord: "call-2"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer api.wg.Wait()
	progress := &syncBuffer{}
	rep, err := RunAPI(t.Context(), APIConfig{
		Base: srv.URL + "/", Account: "acme", Key: "key", Token: "token",
		From: "+15550100402", To: "+15550100405", CallerID: "+15550000100",
		Calls: 12, CPS: 1000, Concurrency: 3, Wait: 300 * time.Millisecond,
		Measure: Measure{Records: api, Grace: 100 * time.Millisecond, Poll: 10 * time.Millisecond,
			Progress: progress, ProgressEvery: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	if rep.Sent != 12 || rep.Accepted != 9 || rep.Refused != 3 || rep.RefusedBy["http 429"] != 3 {
		t.Errorf("sent %d accepted %d refused %d %v; want 12, 9, 3 (http 429)", rep.Sent, rep.Accepted, rep.Refused, rep.RefusedBy)
	}
	if rep.Ended != 8 || rep.EndedByStatus["completed"] != 8 || rep.CallbacksMissing != 1 ||
		len(rep.MissingCallSIDs) != 1 || rep.MissingCallSIDs[0] != "call-5" || rep.DuplicateCallbacks != 1 {
		t.Errorf("ended %d %v, missing %d %v, duplicates %d; want 8 completed, call-5 missing, 1 duplicate",
			rep.Ended, rep.EndedByStatus, rep.CallbacksMissing, rep.MissingCallSIDs, rep.DuplicateCallbacks)
	}
	if rep.Lost == nil || *rep.Lost != 1 || len(rep.LostCallSIDs) != 1 || rep.LostCallSIDs[0] != "call-2" || rep.Bad() != 2 {
		t.Errorf("lost %v %v, bad %d; want call-2 lost, 2 bad", rep.Lost, rep.LostCallSIDs, rep.Bad())
	}
	// The callbacks came about a second after the records' end.
	if rep.CallbackLagMsP50 == nil || *rep.CallbackLagMsP50 < 1000 || rep.RequestMsP99 == nil || rep.LastCallbackAfterS == nil {
		t.Errorf("callback lag %v, request p99 %v, last callback %v", rep.CallbackLagMsP50, rep.RequestMsP99, rep.LastCallbackAfterS)
	}
	api.mu.Lock()
	for i, f := range api.forms {
		if f["From"] != "+15550100402" || f["To"] != "+15550100405" || f["CallerId"] != "+15550000100" ||
			f["StatusCallbackEvents[0]"] != "terminal" || f["StatusCallbackContentType"] != "application/json" ||
			!strings.HasSuffix(f["StatusCallback"], "/callbacks") || !strings.HasPrefix(f["CustomField"], "load-") {
			t.Errorf("request %d: %v", i, f)
		}
	}
	api.mu.Unlock()
	if !strings.Contains(progress.String(), "load: sent ") {
		t.Errorf("no progress line in %q", progress.String())
	}
}

// A stray callback (a call this run did not place) and an unreadable one
// are counted apart; a form-encoded one is read too.
func TestReceiverSortsCallbacks(t *testing.T) {
	rcv, err := listenCallbacks("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.close()
	url := "http://" + rcv.addr() + "/callbacks"
	rcv.accept("mine")
	post := func(ct, body string) int {
		resp, err := http.Post(url, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("application/x-www-form-urlencoded", "CallSid=mine&Status=busy"); code != http.StatusOK {
		t.Errorf("form callback: %d", code)
	}
	if code := post("application/json", `{"CallSid":"other","Status":"completed"}`); code != http.StatusOK {
		t.Errorf("stray callback: %d", code)
	}
	if code := post("application/json", `{"Status":"completed"}`); code != http.StatusBadRequest {
		t.Errorf("callback without a CallSid: %d, want 400", code)
	}
	if code := post("application/json", `{"CallSid":"mine","EventType":"answered","Status":"in-progress"}`); code != http.StatusOK {
		t.Errorf("answered callback: %d", code)
	}
	// A callback that overtakes its call's answer counts once the call is
	// accepted, and waitFor needs nothing more.
	if code := post("application/json", `{"CallSid":"early","EventType":"terminal","Status":"failed"}`); code != http.StatusOK {
		t.Errorf("early callback: %d", code)
	}
	if accepted, ended := rcv.counts(); accepted != 1 || ended != 1 {
		t.Errorf("before its answer: %d accepted, %d ended; want the early callback not counted yet", accepted, ended)
	}
	rcv.accept("early")
	rcv.waitFor(t.Context(), time.Hour)
	got := rcv.snapshot()
	if got.ends["early"].status != "failed" || len(got.accepted) != 2 {
		t.Errorf("early callback: %+v", got)
	}
	if accepted, ended := rcv.counts(); got.ends["mine"].status != "busy" || len(got.ends) != 2 || got.dupes != 0 ||
		got.strays != 1 || got.malformed != 1 || accepted != 2 || ended != 2 {
		t.Errorf("got %+v, %d accepted, %d ended", got, accepted, ended)
	}
}

func TestAPIConfigRefusals(t *testing.T) {
	good := APIConfig{Base: "http://127.0.0.1:8080", Account: "a", Key: "k", Token: "t", From: "1", To: "2", CallerID: "3",
		Calls: 1, CPS: 1, Concurrency: 1}
	for name, mod := range map[string]func(*APIConfig){
		"no base":        func(c *APIConfig) { c.Base = "" },
		"not http":       func(c *APIConfig) { c.Base = "ftp://x" },
		"no token":       func(c *APIConfig) { c.Token = "" },
		"no caller id":   func(c *APIConfig) { c.CallerID = " " },
		"no calls":       func(c *APIConfig) { c.Calls = 0 },
		"zero rate":      func(c *APIConfig) { c.CPS = 0 },
		"no concurrency": func(c *APIConfig) { c.Concurrency = 0 },
	} {
		c := good
		mod(&c)
		if _, err := RunAPI(t.Context(), c); err == nil || !strings.Contains(err.Error(), "bad config") {
			t.Errorf("%s: %v, want a config error", name, err)
		}
	}
}

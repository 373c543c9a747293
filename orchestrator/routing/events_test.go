package routing_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/routing"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

func (f *fixture) events(cfg routing.Config) *routing.Events {
	return routing.NewEvents(f.db, testConfig(cfg), nil)
}

// TestEvents: a destination's four events arrive in order with the dial
// passthru's parameters, each logged against the call.
func TestEvents(t *testing.T) {
	f := newFixture(t)
	u := f.reply("/events", 200, "text/plain", "ok")
	ev := f.events(routing.Config{})
	t.Cleanup(func() { _ = ev.Close(context.Background()) })

	at := now.Add(5 * time.Second) // 15:31:35 IST
	sent := []call.DialEvent{
		{Type: call.DialEventDial, Whom: "+919800000001", Status: "busy", At: at},
		{Type: call.DialEventRinging, Whom: "+919800000001", Status: "busy", At: at.Add(time.Second)},
		{Type: call.DialEventAnswered, Whom: "+919800000001", Status: "busy", At: at.Add(2 * time.Second)},
		{Type: call.DialEventTerminal, Whom: "+919800000001", Status: "free", LegStatus: "completed", At: at.Add(63 * time.Second)},
	}
	for _, e := range sent {
		ev.Post(t.Context(), f.info, u, e)
		ev.Wait()
	}

	reqs := f.requests()
	if len(reqs) != len(sent) {
		t.Fatalf("the CRM got %d events, want %d", len(reqs), len(sent))
	}
	times := []string{"2026-03-01 15:31:35", "2026-03-01 15:31:36", "2026-03-01 15:31:37", "2026-03-01 15:32:38"}
	for i, r := range reqs {
		want := map[string]string{
			"CallSid": f.info.CallSid, "CallFrom": "+15550100001", "CallTo": exoPhone,
			"From": "+15550100001", "To": exoPhone, "Direction": "outbound-dial",
			"Created": "2026-03-01 15:30:00", "CurrentTime": times[i],
			"DialWhomNumber": "+919800000001", "Status": sent[i].Status, "EventType": sent[i].Type,
		}
		if sent[i].Type == call.DialEventTerminal {
			want["DialCallStatus"] = "completed"
		}
		got := map[string]string{}
		for k, v := range r.query {
			got[k] = v[0]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event %d (%s):\n got %v\nwant %v", i, sent[i].Type, got, want)
		}
	}

	rows := f.rows(t)
	if len(rows) != len(sent) {
		t.Fatalf("logged %d requests, want %d", len(rows), len(sent))
	}
	for _, r := range rows {
		if r.Kind != routing.RequestDialEvent || r.Outcome != "success" || r.HTTPStatus != 200 || r.Method != "GET" ||
			r.URL != u || r.Applet != "connect1" || r.Response != "ok" || r.Error != "" {
			t.Errorf("row = %+v", r)
		}
	}
}

// TestEventFailureLogged: an event the CRM refuses is logged as failed.
func TestEventFailureLogged(t *testing.T) {
	f := newFixture(t)
	u := f.reply("/events", 500, "", "boom")
	ev := f.events(routing.Config{})
	ev.Post(t.Context(), f.info, u, call.DialEvent{Type: call.DialEventDial, Whom: "+919800000001", Status: "busy"})
	ev.Post(t.Context(), f.info, "", call.DialEvent{Type: call.DialEventDial}) // no URL: nothing sent
	ev.Wait()
	rows := f.rows(t)
	if len(rows) != 1 || rows[0].Outcome != "failed" || rows[0].Error != "HTTP status 500 Internal Server Error" ||
		rows[0].Kind != "dial_event" || rows[0].Response != "boom" {
		t.Errorf("rows = %+v", rows)
	}
	// The event's time defaults to the clock.
	if got := f.requests()[0].query.Get("CurrentTime"); got != "2026-03-01 15:31:30" {
		t.Errorf("CurrentTime = %q", got)
	}
}

// TestEventsEgressDenied: with the default egress policy a dial event
// and a connect request to loopback are refused before they connect, and
// their rows tell why.
func TestEventsEgressDenied(t *testing.T) {
	f := newFixture(t)
	u := f.reply("/events", 200, "", "internal")
	cfg := routing.Config{HTTPClient: webhttp.Client(webhttp.Policy{}, 0)}
	ev := f.events(cfg)
	ev.Post(t.Context(), f.info, u, call.DialEvent{Type: call.DialEventDial, Whom: "+919800000001", Status: "busy"})
	ev.Wait()
	_, err := f.planner(cfg).Plan(t.Context(), f.info, dial(u), nil)
	if !errors.Is(err, webhttp.ErrEgressDenied) {
		t.Errorf("plan error = %v, want ErrEgressDenied", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("the CRM got %d requests", n)
	}
	rows := f.rows(t)
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if r.Outcome != "failed" || r.HTTPStatus != 0 || r.Response != "" || !strings.Contains(r.Error, "is loopback; see -egress-allow") {
			t.Errorf("row = %+v", r)
		}
	}
}

// TestEventsBounded: Post never waits; beyond MaxInFlight events are
// dropped.
func TestEventsBounded(t *testing.T) {
	f := newFixture(t)
	arrived := make(chan string, 4)
	release := make(chan struct{})
	u := f.route("/events", func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Query().Get("EventType")
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	ev := f.events(routing.Config{MaxInFlight: 2})
	ctx, cancel := context.WithCancel(t.Context())
	ev.Post(ctx, f.info, u, call.DialEvent{Type: call.DialEventDial, Whom: "+919800000001", Status: "busy"})
	ev.Post(ctx, f.info, u, call.DialEvent{Type: call.DialEventDial, Whom: "+919800000002", Status: "busy"})
	<-arrived
	<-arrived
	// Both are in flight (Post returned): a third is dropped.
	ev.Post(ctx, f.info, u, call.DialEvent{Type: call.DialEventTerminal, Whom: "+919800000001", Status: "free"})
	cancel() // the call's context ending does not cancel events in flight
	close(release)
	ev.Wait()

	if n := len(f.requests()); n != 2 {
		t.Errorf("the CRM got %d events, want 2", n)
	}
	rows := f.rows(t)
	if len(rows) != 2 || rows[0].Outcome != "success" || rows[1].Outcome != "success" {
		t.Errorf("rows = %+v", rows)
	}
}

// TestEventsClose: Close waits for the events in flight, cancels them
// when its context ends first, and later events are dropped.
func TestEventsClose(t *testing.T) {
	f := newFixture(t)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	u := f.route("/events", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	ev := f.events(routing.Config{})
	ev.Post(t.Context(), f.info, u, call.DialEvent{Type: call.DialEventDial, Whom: "+919800000001", Status: "busy"})
	<-arrived

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := ev.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want a deadline", err)
	}
	ev.Post(t.Context(), f.info, u, call.DialEvent{Type: call.DialEventTerminal, Whom: "+919800000001", Status: "free"})
	ev.Wait()
	if n := len(f.requests()); n != 1 {
		t.Errorf("the CRM got %d events, want 1", n)
	}
	rows := f.rows(t)
	if len(rows) != 1 || rows[0].Outcome != "failed" || rows[0].HTTPStatus != 0 {
		t.Errorf("rows = %+v", rows)
	}
	if err := ev.Close(t.Context()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestEventParams: only Terminal carries DialCallStatus.
func TestEventParams(t *testing.T) {
	f := newFixture(t)
	for _, typ := range []string{call.DialEventDial, call.DialEventRinging, call.DialEventAnswered, call.DialEventTerminal} {
		v := routing.EventParams(f.info, call.DialEvent{Type: typ, Whom: "sip:alice", Status: "busy", LegStatus: "no-answer", At: now}, nil)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := []string{"CallFrom", "CallSid", "CallTo", "Created", "CurrentTime", "DialWhomNumber", "Direction", "EventType", "From", "Status", "To"}
		if typ == call.DialEventTerminal {
			want = []string{"CallFrom", "CallSid", "CallTo", "Created", "CurrentTime", "DialCallStatus", "DialWhomNumber", "Direction", "EventType", "From", "Status", "To"}
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("%s: params %v, want %v", typ, keys, want)
		}
	}
}

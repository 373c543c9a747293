package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every method of a nil Set does nothing, and does not panic.
func TestNilSetIsANoOp(t *testing.T) {
	var s *Set
	s.LiveCalls(func() int { return 1 })
	s.Nodes(func() []NodeSample { return nil })
	s.NodeRestarted("n")
	s.SetDraining(true)
	s.CallStarted("inbound")
	s.CallEnded("inbound", "completed", "NORMAL_CLEARING")
	s.AppletStep("greeting")
	s.AppletStepLatency("greeting", time.Millisecond)
	s.AppletDispatch("greeting", time.Millisecond)
	s.ESLCommand("n", time.Millisecond)
	s.ESLCommandFailed("n")
	s.SocketCallRefused(RefusedAtCapacity)
	s.StoreTransaction(time.Millisecond)
	s.StoreWrites(3, 1)
	s.StoreQueueDepth(4)
	s.CallbackAttempt(CallbackDelivered, true, time.Millisecond)
	s.CallbacksPending(2)
	s.HTTPRequest("passthru", OutcomeOK, time.Millisecond)
	s.CampaignCallPlaced()
	s.CampaignCallNotPlaced()
	s.APIRequest(http.MethodGet, "/healthz", 200, time.Millisecond)

	if mfs, err := s.Gatherer().Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("a nil set gathered %d families, err %v", len(mfs), err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("a nil set's handler answered %d, want 404", rec.Code)
	}
}

func TestCallsAreCountedWithBoundedLabels(t *testing.T) {
	s := New("test")
	s.CallStarted("inbound")
	s.CallStarted("outbound-api")
	s.CallStarted("+919800000001") // never a label value
	s.CallEnded("inbound", "completed", "NORMAL_CLEARING")
	s.CallEnded("inbound", "completed", "NORMAL_CLEARING")
	s.CallEnded("outbound-api", "busy", "USER_BUSY")
	s.CallEnded("inbound", "ringing", "sip:bob@example.com")
	s.CallEnded("inbound", "failed", strings.Repeat("A", 41))

	want := `
# HELP switchyard_calls_started_total Calls that got their record, by Exotel direction.
# TYPE switchyard_calls_started_total counter
switchyard_calls_started_total{direction="inbound"} 1
switchyard_calls_started_total{direction="other"} 1
switchyard_calls_started_total{direction="outbound-api"} 1
# HELP switchyard_calls_ended_total Calls whose final record was written, by direction, final status and hangup cause.
# TYPE switchyard_calls_ended_total counter
switchyard_calls_ended_total{cause="NORMAL_CLEARING",direction="inbound",status="completed"} 2
switchyard_calls_ended_total{cause="OTHER",direction="inbound",status="failed"} 1
switchyard_calls_ended_total{cause="OTHER",direction="inbound",status="other"} 1
switchyard_calls_ended_total{cause="USER_BUSY",direction="outbound-api",status="busy"} 1
`
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(want),
		"switchyard_calls_started_total", "switchyard_calls_ended_total"); err != nil {
		t.Error(err)
	}
}

func TestCause(t *testing.T) {
	for in, want := range map[string]string{
		"NORMAL_CLEARING":         "NORMAL_CLEARING",
		"SWITCHYARD_LOST_CONTROL": "SWITCHYARD_LOST_CONTROL",
		"":                        OtherCause,
		"normal_clearing":         OtherCause,
		"NORMAL CLEARING":         OtherCause,
		"CAUSE_17":                OtherCause,
		strings.Repeat("B", 40):   strings.Repeat("B", 40),
		strings.Repeat("B", 41):   OtherCause,
	} {
		if got := Cause(in); got != want {
			t.Errorf("Cause(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLiveCallsIsReadAtScrape(t *testing.T) {
	s := New("test")
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(`
# HELP switchyard_calls_live Calls running on this instance.
# TYPE switchyard_calls_live gauge
switchyard_calls_live 0
`), "switchyard_calls_live"); err != nil {
		t.Error(err)
	}
	live := 3
	s.LiveCalls(func() int { return live })
	live = 7
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(`
# HELP switchyard_calls_live Calls running on this instance.
# TYPE switchyard_calls_live gauge
switchyard_calls_live 7
`), "switchyard_calls_live"); err != nil {
		t.Error(err)
	}
}

func TestNodeGauges(t *testing.T) {
	s := New("test")
	if n := testutil.CollectAndCount(nodeCollector{s}); n != 0 {
		t.Errorf("%d node series before Nodes was set", n)
	}
	s.Nodes(func() []NodeSample {
		return []NodeSample{
			{Name: "10.0.0.1:8021", Up: true, Sessions: 12, MaxSessions: 1000, HeartbeatAge: 1500 * time.Millisecond, IdleCPU: 97.5},
			{Name: "10.0.0.2:8021", Drained: true},
			{Name: "10.0.0.2:8021", Up: true}, // a repeat is dropped, not a failed scrape
		}
	})
	s.NodeRestarted("10.0.0.2:8021")
	want := `
# HELP switchyard_node_up 1 while the node's inbound connection is up.
# TYPE switchyard_node_up gauge
switchyard_node_up{node="10.0.0.1:8021"} 1
switchyard_node_up{node="10.0.0.2:8021"} 0
# HELP switchyard_node_drained 1 while the node is drained: it takes no new calls.
# TYPE switchyard_node_drained gauge
switchyard_node_drained{node="10.0.0.1:8021"} 0
switchyard_node_drained{node="10.0.0.2:8021"} 1
# HELP switchyard_node_sessions Session-Count of the node's last HEARTBEAT.
# TYPE switchyard_node_sessions gauge
switchyard_node_sessions{node="10.0.0.1:8021"} 12
switchyard_node_sessions{node="10.0.0.2:8021"} 0
# HELP switchyard_node_max_sessions Max-Sessions of the node's last HEARTBEAT.
# TYPE switchyard_node_max_sessions gauge
switchyard_node_max_sessions{node="10.0.0.1:8021"} 1000
switchyard_node_max_sessions{node="10.0.0.2:8021"} 0
# HELP switchyard_node_heartbeat_age_seconds Time since the node's last HEARTBEAT.
# TYPE switchyard_node_heartbeat_age_seconds gauge
switchyard_node_heartbeat_age_seconds{node="10.0.0.1:8021"} 1.5
switchyard_node_heartbeat_age_seconds{node="10.0.0.2:8021"} 0
# HELP switchyard_node_idle_cpu_percent Idle-CPU of the node's last HEARTBEAT, in percent.
# TYPE switchyard_node_idle_cpu_percent gauge
switchyard_node_idle_cpu_percent{node="10.0.0.1:8021"} 97.5
switchyard_node_idle_cpu_percent{node="10.0.0.2:8021"} 0
# HELP switchyard_node_restarts_total Restarts of a media node seen (its Core-UUID changed).
# TYPE switchyard_node_restarts_total counter
switchyard_node_restarts_total{node="10.0.0.2:8021"} 1
`
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(want),
		"switchyard_node_up", "switchyard_node_drained", "switchyard_node_sessions", "switchyard_node_max_sessions",
		"switchyard_node_heartbeat_age_seconds", "switchyard_node_idle_cpu_percent", "switchyard_node_restarts_total"); err != nil {
		t.Error(err)
	}
}

func TestAppletsOutsideTheSchemaAreOther(t *testing.T) {
	s := New("test")
	s.AppletStep("ivr")
	s.AppletStep("ivr")
	s.AppletStep("my-applet-id")
	s.AppletStepLatency("connect", 20*time.Millisecond)
	s.AppletStepLatency("", 20*time.Millisecond)
	if got := testutil.ToFloat64(s.appletSteps.WithLabelValues("ivr")); got != 2 {
		t.Errorf("ivr steps = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.appletSteps.WithLabelValues(Other)); got != 1 {
		t.Errorf("other steps = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(s.appletStepSeconds); n != 2 {
		t.Errorf("%d step latency series, want 2 (connect, other)", n)
	}
}

func TestESLAndSocket(t *testing.T) {
	s := New("test")
	s.ESLCommand("10.0.0.1:8021", 2*time.Millisecond)
	s.ESLCommand("10.0.0.1:8021", 3*time.Millisecond)
	s.ESLCommandFailed("10.0.0.1")
	s.SocketCallRefused(RefusedAtCapacity)
	s.SocketCallRefused(RefusedNotAllowed)
	s.SocketCallRefused("because")
	want := `
# HELP switchyard_esl_command_errors_total ESL commands that timed out, met a closed connection or got -ERR, by node.
# TYPE switchyard_esl_command_errors_total counter
switchyard_esl_command_errors_total{node="10.0.0.1"} 1
# HELP switchyard_socket_calls_refused_total Calls the outbound-socket server refused before their handler ran, by reason.
# TYPE switchyard_socket_calls_refused_total counter
switchyard_socket_calls_refused_total{reason="at_capacity"} 1
switchyard_socket_calls_refused_total{reason="not_allowed"} 1
switchyard_socket_calls_refused_total{reason="other"} 1
`
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(want),
		"switchyard_esl_command_errors_total", "switchyard_socket_calls_refused_total"); err != nil {
		t.Error(err)
	}
	if got := sampleCount(t, s, "switchyard_esl_command_seconds"); got != 2 {
		t.Errorf("%d round trips observed, want 2", got)
	}
}

// sampleCount is the number of observations of a histogram, over its
// series.
func sampleCount(t *testing.T, s *Set, name string) uint64 {
	t.Helper()
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func TestStoreQueue(t *testing.T) {
	s := New("test")
	s.StoreTransaction(4 * time.Millisecond)
	s.StoreWrites(10, 2)
	s.StoreWrites(5, 0)
	s.StoreQueueDepth(9)
	s.StoreQueueDepth(3)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"writes", testutil.ToFloat64(s.storeWrites), 15},
		{"write errors", testutil.ToFloat64(s.storeWriteErrors), 2},
		{"depth", testutil.ToFloat64(s.storeQueueDepth), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := sampleCount(t, s, "switchyard_store_write_seconds"); got != 1 {
		t.Errorf("%d transactions observed, want 1", got)
	}
}

func TestCallbacks(t *testing.T) {
	s := New("test")
	s.CallbackAttempt(CallbackDelivered, true, 30*time.Millisecond)
	s.CallbackAttempt(CallbackRetry, true, time.Second)
	s.CallbackAttempt(CallbackDeferred, false, 0)
	s.CallbackAttempt("https://crm.example/hook", false, 0)
	s.CallbacksPending(42)
	if got := testutil.ToFloat64(s.callbackAttempts.WithLabelValues(CallbackDeferred)); got != 1 {
		t.Errorf("deferred = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.callbackAttempts.WithLabelValues(Other)); got != 1 {
		t.Errorf("other = %v, want 1", got)
	}
	if got := sampleCount(t, s, "switchyard_callback_seconds"); got != 2 {
		t.Errorf("%d HTTP attempts observed, want 2 (only those that sent a request)", got)
	}
	if got := testutil.ToFloat64(s.callbacksPending); got != 42 {
		t.Errorf("pending = %v, want 42", got)
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestHTTPOutcome(t *testing.T) {
	boom := errors.New("connection refused")
	for _, c := range []struct {
		status int
		err    error
		denied bool
		want   string
	}{
		{200, nil, false, OutcomeOK},
		{204, nil, false, OutcomeOK},
		{302, nil, false, OutcomeHTTPError},
		{503, nil, false, OutcomeHTTPError},
		{0, fmt.Errorf("passthru: timeout: %w", context.DeadlineExceeded), false, OutcomeTimeout},
		{0, fmt.Errorf("get: %w", timeoutErr{}), false, OutcomeTimeout},
		{200, fmt.Errorf("reading the response: %w", context.DeadlineExceeded), false, OutcomeTimeout},
		{0, boom, true, OutcomeDenied},
		{0, boom, false, OutcomeError},
		{0, nil, true, OutcomeError},
	} {
		if got := HTTPOutcome(c.status, c.err, c.denied); got != c.want {
			t.Errorf("HTTPOutcome(%d, %v, %v) = %q, want %q", c.status, c.err, c.denied, got, c.want)
		}
	}
	s := New("test")
	s.HTTPRequest("passthru", OutcomeTimeout, 5*time.Second)
	s.HTTPRequest("https://crm.example/?CallSid=x", "teapot", time.Second)
	if n := testutil.CollectAndCount(s.httpSeconds); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(`
# HELP switchyard_http_request_seconds One request to a tenant's server, by kind and outcome.
# TYPE switchyard_http_request_seconds histogram
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.01"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.025"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.05"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.1"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.25"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="0.5"} 0
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="1"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="2.5"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="5"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="10"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="15"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="30"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="60"} 1
switchyard_http_request_seconds_bucket{kind="other",outcome="other",le="+Inf"} 1
switchyard_http_request_seconds_sum{kind="other",outcome="other"} 1
switchyard_http_request_seconds_count{kind="other",outcome="other"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.01"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.025"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.05"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.1"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.25"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="0.5"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="1"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="2.5"} 0
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="5"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="10"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="15"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="30"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="60"} 1
switchyard_http_request_seconds_bucket{kind="passthru",outcome="timeout",le="+Inf"} 1
switchyard_http_request_seconds_sum{kind="passthru",outcome="timeout"} 5
switchyard_http_request_seconds_count{kind="passthru",outcome="timeout"} 1
`), "switchyard_http_request_seconds"); err != nil {
		t.Error(err)
	}
}

func TestCampaignsAndInstance(t *testing.T) {
	s := New("test")
	s.CampaignCallPlaced()
	s.CampaignCallPlaced()
	s.CampaignCallNotPlaced()
	s.SetDraining(true)
	if got := testutil.ToFloat64(s.campaignPlaced); got != 2 {
		t.Errorf("placed = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.campaignFailed); got != 1 {
		t.Errorf("failed to place = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.draining); got != 1 {
		t.Errorf("draining = %v, want 1", got)
	}
	s.SetDraining(false)
	if got := testutil.ToFloat64(s.draining); got != 0 {
		t.Errorf("draining = %v after SetDraining(false), want 0", got)
	}
}

func TestAPIRequestLabels(t *testing.T) {
	s := New("test")
	s.APIRequest(http.MethodPost, "/v1/Accounts/:sid/Calls/connect", 200, 20*time.Millisecond)
	s.APIRequest("BREW", "", 405, time.Millisecond)
	s.APIRequest(http.MethodGet, "", 404, time.Millisecond)
	s.APIRequest(http.MethodGet, "/healthz", 1000, time.Millisecond)
	want := `
# HELP switchyard_api_requests_total API requests answered, by method, route template and status code.
# TYPE switchyard_api_requests_total counter
switchyard_api_requests_total{code="200",method="POST",route="/v1/Accounts/:sid/Calls/connect"} 1
switchyard_api_requests_total{code="404",method="GET",route="unmatched"} 1
switchyard_api_requests_total{code="405",method="other",route="unmatched"} 1
switchyard_api_requests_total{code="other",method="GET",route="/healthz"} 1
`
	if err := testutil.GatherAndCompare(s.Gatherer(), strings.NewReader(want), "switchyard_api_requests_total"); err != nil {
		t.Error(err)
	}
	if got := sampleCount(t, s, "switchyard_api_request_seconds"); got != 4 {
		t.Errorf("%d durations observed, want 4", got)
	}
}

// The handler serves the build info, the runtime's metrics and the
// Switchyard ones, in the text format.
func TestHandlerServesTheRegistry(t *testing.T) {
	s := New("v1.2.3")
	s.CallStarted("inbound")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`switchyard_build_info{version="v1.2.3"} 1`,
		`switchyard_calls_started_total{direction="inbound"} 1`,
		`switchyard_calls_live 0`,
		`switchyard_instance_draining 0`,
		"go_goroutines ",
		"process_",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape has no %q", want)
		}
	}
}

// Two sets do not share a registry: a test's metrics never leak into
// another's, nor into the client library's default registry.
func TestSetsAreIndependent(t *testing.T) {
	a, b := New("a"), New("b")
	a.CampaignCallPlaced()
	if got := testutil.ToFloat64(b.campaignPlaced); got != 0 {
		t.Errorf("b counted a's call: %v", got)
	}
}

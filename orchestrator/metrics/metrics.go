package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values with a meaning of their own.
const (
	// Other stands for a label value outside its metric's set.
	Other = "other"
	// OtherCause stands for a hangup cause that is not one.
	OtherCause = "OTHER"
	// Unmatched is the route of an API request no route matched.
	Unmatched = "unmatched"
)

// Outcomes of a request to a tenant's server (HTTPRequest).
const (
	OutcomeOK        = "ok"
	OutcomeHTTPError = "http_error"
	OutcomeTimeout   = "timeout"
	OutcomeDenied    = "denied"
	OutcomeError     = "error"
)

// Outcomes of a status callback's delivery job (CallbackAttempt).
const (
	CallbackDelivered   = "delivered"
	CallbackRetry       = "retry"
	CallbackFailed      = "failed"
	CallbackInterrupted = "interrupted"
	CallbackDeferred    = "deferred"
)

// Reasons the outbound-socket server refuses a call (SocketCallRefused).
const (
	RefusedAtCapacity = "at_capacity"
	RefusedDraining   = "draining"
	RefusedNotAllowed = "not_allowed"
)

// What became of a call the dialplan parked for this instance
// (ParkedCall).
const (
	ParkedTaken     = "taken"
	ParkedLate      = "late"      // its fallback had sent it to the sockets first
	ParkedPassed    = "passed"    // sent to the sockets at once: at capacity or draining
	ParkedUnhandled = "unhandled" // no connection to take it on
)

// Histogram buckets, in seconds.
var (
	// eslBuckets: an ESL round trip takes well under a millisecond on a
	// LAN and up to DefaultTimeout (5 s) when it times out.
	eslBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// storeBuckets: a group commit takes milliseconds, up to the queue's
	// 10 s transaction timeout.
	storeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// stepBuckets: a flow step is a few milliseconds, more when it waits
	// on the store or a slow node.
	stepBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// dispatchBuckets: Switchyard's own part of a step is well under a
	// millisecond when the process has a core to itself.
	dispatchBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
	// httpBuckets: tenants' servers answer in tens of milliseconds or
	// seconds; passthru caps at 30 s, callbacks at 15 s by default.
	httpBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60}
	// apiBuckets: most API requests are a few database reads; a CSV
	// upload may take seconds.
	apiBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// Bounded label sets: a value outside its set is recorded as Other.
var (
	directions       = set("inbound", "outbound-api", "outbound-dial")
	statuses         = set("completed", "busy", "no-answer", "failed", "canceled")
	applets          = set("greeting", "ivr", "gather", "connect", "voicemail", "transfer", "passthru", "business_hours", "sms", "email", "hangup", "switch")
	callbackOutcomes = set(CallbackDelivered, CallbackRetry, CallbackFailed, CallbackInterrupted, CallbackDeferred)
	httpKinds        = set("passthru", "greeting", "gather", "sms", "connect", "dial_event")
	httpOutcomes     = set(OutcomeOK, OutcomeHTTPError, OutcomeTimeout, OutcomeDenied, OutcomeError)
	refusals         = set(RefusedAtCapacity, RefusedDraining, RefusedNotAllowed)
	parkedOutcomes   = set(ParkedTaken, ParkedLate, ParkedPassed, ParkedUnhandled)
	methods          = set(http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions)
)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// bounded is v if it is in known, else Other.
func bounded(known map[string]bool, v string) string {
	if known[v] {
		return v
	}
	return Other
}

// Cause is the label value of a hangup cause: the cause itself if it
// matches ^[A-Z_]{1,40}$, else OtherCause.
func Cause(cause string) string {
	if len(cause) == 0 || len(cause) > 40 {
		return OtherCause
	}
	for i := 0; i < len(cause); i++ {
		if c := cause[i]; (c < 'A' || c > 'Z') && c != '_' {
			return OtherCause
		}
	}
	return cause
}

// HTTPOutcome classifies a request to a tenant's server: status is the
// HTTP status (0 without a response), err what went wrong, denied whether
// the egress policy refused the connection (the caller knows its error).
func HTTPOutcome(status int, err error, denied bool) string {
	var ne net.Error
	switch {
	case err != nil && denied:
		return OutcomeDenied
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	case status >= 200 && status <= 299:
		return OutcomeOK
	case status != 0:
		return OutcomeHTTPError
	}
	return OutcomeError
}

// NodeSample is what is known of a media node at a scrape.
type NodeSample struct {
	// Name is the node's configured name (its host:port).
	Name string
	// Up: its inbound connection is up. Drained: it takes no new calls.
	Up, Drained bool
	// Sessions and MaxSessions are Session-Count and Max-Sessions of its
	// last HEARTBEAT.
	Sessions, MaxSessions int
	// HeartbeatAge is the time since its last HEARTBEAT.
	HeartbeatAge time.Duration
	// IdleCPU is Idle-CPU of its last HEARTBEAT, in percent.
	IdleCPU float64
}

// Set holds a process's metrics and the registry they are served from.
// A nil *Set records nothing.
type Set struct {
	reg *prometheus.Registry

	callsStarted      *prometheus.CounterVec
	callsEnded        *prometheus.CounterVec
	callsDetached     prometheus.Counter
	callsHandedOff    prometheus.Counter
	appletSteps       *prometheus.CounterVec
	appletStepSeconds *prometheus.HistogramVec
	appletDispatch    *prometheus.HistogramVec

	eslSeconds    *prometheus.HistogramVec
	eslErrors     *prometheus.CounterVec
	socketRefused *prometheus.CounterVec
	parkedCalls   *prometheus.CounterVec
	nodeRestarts  *prometheus.CounterVec

	storeWriteSeconds prometheus.Histogram
	storeWrites       prometheus.Counter
	storeWriteErrors  prometheus.Counter
	storeQueueDepth   prometheus.Gauge

	callbackAttempts *prometheus.CounterVec
	callbackSeconds  *prometheus.HistogramVec
	callbacksPending prometheus.Gauge

	httpSeconds *prometheus.HistogramVec

	campaignPlaced prometheus.Counter
	campaignFailed prometheus.Counter

	apiRequests *prometheus.CounterVec
	apiSeconds  *prometheus.HistogramVec

	draining prometheus.Gauge

	live  atomic.Pointer[func() int]
	nodes atomic.Pointer[func() []NodeSample]
}

// New builds a Set on a registry of its own, with the Go runtime's and the
// process's collectors and switchyard_build_info{version}.
func New(version string) *Set {
	s := &Set{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	}

	s.callsStarted = counter("switchyard_calls_started_total", "Calls that got their record, by Exotel direction.", "direction")
	s.callsEnded = counter("switchyard_calls_ended_total", "Calls whose final record was written, by direction, final status and hangup cause.",
		"direction", "status", "cause")
	s.callsDetached = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_calls_detached_total",
		Help: "Calls that let go of their socket for the rest of a final bridge; their last events came through the node's connection."})
	s.callsHandedOff = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_calls_handed_off_total",
		Help: "Calls that let go of their socket before their first command and ran over the node's connection (serve -control node)."})
	s.appletSteps = counter("switchyard_applet_steps_total", "Steps of the flow interpreter that acted, by applet type.", "applet")
	s.appletStepSeconds = histogram("switchyard_applet_step_seconds",
		"From an event's arrival at a call to FreeSWITCH acknowledging the flow's next blocking command, by applet type.", stepBuckets, "applet")
	s.appletDispatch = histogram("switchyard_applet_dispatch_seconds",
		"From an event's arrival at a call to the flow's next blocking command written to the node: Switchyard's own part of a step, by applet type.",
		dispatchBuckets, "applet")

	s.eslSeconds = histogram("switchyard_esl_command_seconds", "Round trip of an ESL command, by node.", eslBuckets, "node")
	s.eslErrors = counter("switchyard_esl_command_errors_total", "ESL commands that timed out, met a closed connection or got -ERR, by node.", "node")
	s.parkedCalls = counter("switchyard_parked_calls_total", "Calls a node's dialplan parked for this instance (serve -control park), by what became of them.", "outcome")
	s.socketRefused = counter("switchyard_socket_calls_refused_total", "Calls the outbound-socket server refused before their handler ran, by reason.", "reason")
	s.nodeRestarts = counter("switchyard_node_restarts_total", "Restarts of a media node seen (its Core-UUID changed).", "node")

	s.storeWriteSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_store_write_seconds",
		Help: "One transaction of the store's write queue, commit included.", Buckets: storeBuckets})
	s.storeWrites = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_store_writes_total",
		Help: "Writes of the store's queue finished, committed or rejected."})
	s.storeWriteErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_store_write_errors_total",
		Help: "Writes of the store's queue rejected for good."})
	s.storeQueueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchyard_store_queue_depth",
		Help: "Writes waiting in the store's queue."})

	s.callbackAttempts = counter("switchyard_callback_attempts_total", "Runs of a status callback's delivery, by outcome.", "outcome")
	s.callbackSeconds = histogram("switchyard_callback_seconds", "One HTTP attempt to deliver a status callback, by outcome.", httpBuckets, "outcome")
	s.callbacksPending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchyard_callbacks_pending",
		Help: "Status callbacks not yet delivered or failed, in the queue all instances share."})

	s.httpSeconds = histogram("switchyard_http_request_seconds", "One request to a tenant's server, by kind and outcome.", httpBuckets, "kind", "outcome")

	s.campaignPlaced = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_campaign_calls_placed_total",
		Help: "Campaign calls placed."})
	s.campaignFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_campaign_calls_failed_to_place_total",
		Help: "Campaign calls the call runtime refused to place."})

	s.apiRequests = counter("switchyard_api_requests_total", "API requests answered, by method, route template and status code.", "method", "route", "code")
	s.apiSeconds = histogram("switchyard_api_request_seconds", "Duration of API requests, by method and route template.", apiBuckets, "method", "route")

	s.draining = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchyard_instance_draining",
		Help: "1 once this instance is draining: it takes no new calls."})

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_build_info",
		Help: "Always 1; labelled with the version of the binary."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_calls_live",
		Help: "Calls running on this instance."}, func() float64 {
		if fn := s.live.Load(); fn != nil {
			return float64((*fn)())
		}
		return 0
	})

	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, live, nodeCollector{s},
		s.callsStarted, s.callsEnded, s.callsDetached, s.callsHandedOff, s.appletSteps, s.appletStepSeconds, s.appletDispatch,
		s.eslSeconds, s.eslErrors, s.socketRefused, s.parkedCalls, s.nodeRestarts,
		s.storeWriteSeconds, s.storeWrites, s.storeWriteErrors, s.storeQueueDepth,
		s.callbackAttempts, s.callbackSeconds, s.callbacksPending,
		s.httpSeconds, s.campaignPlaced, s.campaignFailed,
		s.apiRequests, s.apiSeconds, s.draining,
	)
	return s
}

// Handler serves the metrics in Prometheus's exposition formats. A
// collector that fails does not cost the others: the rest is served. A
// nil Set serves 404.
func (s *Set) Handler() http.Handler {
	if s == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer is the Set's registry, for tests and other exporters. A nil Set
// gathers nothing.
func (s *Set) Gatherer() prometheus.Gatherer {
	if s == nil {
		return prometheus.Gatherers{}
	}
	return s.reg
}

// LiveCalls sets where switchyard_calls_live is read from at each scrape.
func (s *Set) LiveCalls(fn func() int) {
	if s == nil || fn == nil {
		return
	}
	s.live.Store(&fn)
}

// Nodes sets where the switchyard_node_* gauges are read from at each
// scrape.
func (s *Set) Nodes(fn func() []NodeSample) {
	if s == nil || fn == nil {
		return
	}
	s.nodes.Store(&fn)
}

// NodeRestarted counts a restart of the node name (its Core-UUID changed).
func (s *Set) NodeRestarted(name string) {
	if s == nil {
		return
	}
	s.nodeRestarts.WithLabelValues(name).Inc()
}

// SetDraining sets switchyard_instance_draining.
func (s *Set) SetDraining(draining bool) {
	if s == nil {
		return
	}
	if draining {
		s.draining.Set(1)
	} else {
		s.draining.Set(0)
	}
}

// CallStarted counts a call that got its record.
func (s *Set) CallStarted(direction string) {
	if s == nil {
		return
	}
	s.callsStarted.WithLabelValues(bounded(directions, direction)).Inc()
}

// CallEnded counts a call whose final record was written.
func (s *Set) CallEnded(direction, status, cause string) {
	if s == nil {
		return
	}
	s.callsEnded.WithLabelValues(bounded(directions, direction), bounded(statuses, status), Cause(cause)).Inc()
}

// CallDetached counts a call that let go of its socket during a final
// bridge.
func (s *Set) CallDetached() {
	if s == nil {
		return
	}
	s.callsDetached.Inc()
}

// CallHandedOff counts a call that let go of its socket before its first
// command (serve -control node).
func (s *Set) CallHandedOff() {
	if s == nil {
		return
	}
	s.callsHandedOff.Inc()
}

// AppletStep counts a step of the flow interpreter that acted; applet is
// the type of the applet the flow is in after it.
func (s *Set) AppletStep(applet string) {
	if s == nil {
		return
	}
	s.appletSteps.WithLabelValues(bounded(applets, applet)).Inc()
}

// AppletStepLatency records how long a step took, from its event's
// arrival to FreeSWITCH acknowledging the applet's next blocking command.
func (s *Set) AppletStepLatency(applet string, took time.Duration) {
	if s == nil {
		return
	}
	s.appletStepSeconds.WithLabelValues(bounded(applets, applet)).Observe(took.Seconds())
}

// AppletDispatch records Switchyard's own part of a step: from its
// event's arrival to the applet's next blocking command written to the
// node's socket, before FreeSWITCH has read it.
func (s *Set) AppletDispatch(applet string, took time.Duration) {
	if s == nil {
		return
	}
	s.appletDispatch.WithLabelValues(bounded(applets, applet)).Observe(took.Seconds())
}

// ESLCommand records the round trip of a command sent to node.
func (s *Set) ESLCommand(node string, took time.Duration) {
	if s == nil {
		return
	}
	s.eslSeconds.WithLabelValues(node).Observe(took.Seconds())
}

// ESLCommandFailed counts a command to node that failed.
func (s *Set) ESLCommandFailed(node string) {
	if s == nil {
		return
	}
	s.eslErrors.WithLabelValues(node).Inc()
}

// SocketCallRefused counts a call the outbound-socket server refused.
func (s *Set) SocketCallRefused(reason string) {
	if s == nil {
		return
	}
	s.socketRefused.WithLabelValues(bounded(refusals, reason)).Inc()
}

// ParkedCall counts a call a node's dialplan parked for this instance,
// by what became of it (Parked*).
func (s *Set) ParkedCall(outcome string) {
	if s == nil {
		return
	}
	s.parkedCalls.WithLabelValues(bounded(parkedOutcomes, outcome)).Inc()
}

// StoreTransaction records one transaction of the store's write queue.
func (s *Set) StoreTransaction(took time.Duration) {
	if s == nil {
		return
	}
	s.storeWriteSeconds.Observe(took.Seconds())
}

// StoreWrites counts writes of the store's queue that finished, rejected
// of them for good.
func (s *Set) StoreWrites(finished, rejected int) {
	if s == nil {
		return
	}
	s.storeWrites.Add(float64(finished))
	s.storeWriteErrors.Add(float64(rejected))
}

// StoreQueueDepth sets the number of writes waiting in the store's queue.
func (s *Set) StoreQueueDepth(n int) {
	if s == nil {
		return
	}
	s.storeQueueDepth.Set(float64(n))
}

// CallbackAttempt counts a run of a callback's delivery job and, when
// it sent a request (sent), records how long that took.
func (s *Set) CallbackAttempt(outcome string, sent bool, took time.Duration) {
	if s == nil {
		return
	}
	outcome = bounded(callbackOutcomes, outcome)
	s.callbackAttempts.WithLabelValues(outcome).Inc()
	if sent {
		s.callbackSeconds.WithLabelValues(outcome).Observe(took.Seconds())
	}
}

// CallbacksPending sets the backlog of status callbacks.
func (s *Set) CallbacksPending(n int) {
	if s == nil {
		return
	}
	s.callbacksPending.Set(float64(n))
}

// HTTPRequest records a request to a tenant's server: kind is what it
// was for, outcome one of the Outcome* constants (see HTTPOutcome).
func (s *Set) HTTPRequest(kind, outcome string, took time.Duration) {
	if s == nil {
		return
	}
	s.httpSeconds.WithLabelValues(bounded(httpKinds, kind), bounded(httpOutcomes, outcome)).Observe(took.Seconds())
}

// CampaignCallPlaced counts a campaign call placed.
func (s *Set) CampaignCallPlaced() {
	if s == nil {
		return
	}
	s.campaignPlaced.Inc()
}

// CampaignCallNotPlaced counts a campaign call the runtime refused to
// place.
func (s *Set) CampaignCallNotPlaced() {
	if s == nil {
		return
	}
	s.campaignFailed.Inc()
}

// APIRequest records an API request answered. route is the route's
// template ("" or Unmatched when no route matched).
func (s *Set) APIRequest(method, route string, code int, took time.Duration) {
	if s == nil {
		return
	}
	method = bounded(methods, method)
	if route == "" {
		route = Unmatched
	}
	status := Other
	if code >= 100 && code <= 599 {
		status = strconv.Itoa(code)
	}
	s.apiRequests.WithLabelValues(method, route, status).Inc()
	s.apiSeconds.WithLabelValues(method, route).Observe(took.Seconds())
}

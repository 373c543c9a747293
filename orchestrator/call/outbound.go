package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Errors of Place, besides the store's (store.ErrBusy, store.ErrNotFound,
// store.ErrNotPublished, store.ErrIdempotencyMismatch).
var (
	// ErrNoNode: no healthy media node can take the call now.
	ErrNoNode = errors.New("no media node available")
	// ErrNotExoPhone: the caller id is not one of the account's ExoPhones.
	ErrNotExoPhone = errors.New("caller id is not an ExoPhone of the account")
)

// OutboundRequest is an API call: click-to-call (From, then To, bridged)
// or number-to-flow (From, then the flow FlowID runs on that leg).
// Numbers are as the API normalised them (E.164 or sip: URIs).
type OutboundRequest struct {
	// SID is the call's SID when the caller chose it (a campaign's
	// attempt records it before placing the call); "" for a new one.
	SID        string
	AccountSID string
	// From is dialled first.
	From string
	// To is dialled when From answers, and bridged. Empty with FlowID.
	To string
	// FlowID runs on the From leg once it answers, instead of To.
	FlowID string
	// CallerID is the ExoPhone both legs see (number masking).
	CallerID string
	// CallType is Exotel's CallType ("trans").
	CallType string
	// TimeLimit caps the call in seconds (0: the default cap, 14400).
	TimeLimit int
	// TimeOut is the ring time of each leg in seconds (0: default 45).
	TimeOut int
	// Record the conversation; RecordingChannels "single" or "dual".
	Record            bool
	RecordingChannels string
	// RecordingFormat is what the call's recordings are archived as:
	// "mp3", "mp3-hq" or "wav" ("" : Config.RecordingFormat).
	RecordingFormat string
	// WaitURL is audio played to From while To rings.
	WaitURL     string
	CustomField string
	// StatusCallback receives StatusCallbackEvents ("terminal",
	// "answered"; none means one terminal callback with the base fields)
	// as StatusCallbackContentType (store.ContentMultipart or
	// store.ContentJSON).
	StatusCallback            string
	StatusCallbackEvents      []string
	StatusCallbackContentType string
	// StatusCallbackURLs maps an event to its own URL (v3), overriding
	// StatusCallback for it; an event listed here is subscribed.
	StatusCallbackURLs map[string]string
	// HoldFrom keeps From on one call at a time (v3 state_management):
	// Place fails with store.ErrBusy while From is on another live call.
	HoldFrom bool
	// IdempotencyKey and RequestHash make a retried request return the
	// call the first one created (see store.CreateOptions).
	IdempotencyKey, RequestHash string
	// Vars fill the @@Name placeholders of FlowID's prompts (a campaign
	// contact's fields).
	Vars map[string]string
}

// Originator is a media node that can place calls, and answer whether a
// channel still exists (API).
type Originator interface {
	Name() string
	BgAPI(ctx context.Context, cmd string) (<-chan esl.Job, error)
	API(ctx context.Context, cmd string) (string, error)
}

// Nodes picks the media node for a new outbound call; release is called
// once the origination is over (answered or failed).
type Nodes interface {
	Pick() (node Originator, release func(), err error)
}

// PoolNodes gives the runtime an esl.Pool as its Nodes.
func PoolNodes(p *esl.Pool) Nodes { return poolNodes{p} }

type poolNodes struct{ p *esl.Pool }

func (n poolNodes) Pick() (Originator, func(), error) {
	node, release, err := n.p.Pick()
	if err != nil {
		return nil, nil, err
	}
	return node, release, nil
}

// Limits of API calls.
const (
	// MaxTimeLimit is Exotel's cap on TimeLimit (4 hours).
	MaxTimeLimit = 14400
	// DefaultRingTimeout is each leg's ring time when TimeOut is not given.
	DefaultRingTimeout = 45
)

// outboundSpec is what the socket session needs to carry on an API call
// once its first leg answers. It is stored as JSON on the call row
// (store.Call.Outbound), so whichever instance the node's socket
// connection reaches can pick the call up.
type outboundSpec struct {
	To                string `json:"to,omitempty"`
	TimeLimit         int    `json:"time_limit"`
	TimeOut           int    `json:"time_out"`
	Record            bool   `json:"record,omitempty"`
	RecordingChannels string `json:"recording_channels,omitempty"`
	RecordingFormat   string `json:"recording_format,omitempty"`
	WaitURL           string `json:"wait_url,omitempty"`
	// Leg1 is the FreeSWITCH UUID of the first leg.
	Leg1 string `json:"leg1"`
	// Vars fill the flow's prompt placeholders (flows.CallInfo.Vars).
	Vars map[string]string `json:"vars,omitempty"`
}

// Place creates the call record and starts the first leg: bgapi
// originate on a healthy node, with our own origination_uuid, the
// ExoPhone as caller id, the ring timeout and the time limit enforced by
// FreeSWITCH, and the node's socket application pointed back at
// Switchyard, where Handle continues the call when the leg answers. It
// returns the call (on an idempotent replay, the original) and whether it
// is a replay.
func (rt *Runtime) Place(ctx context.Context, req OutboundRequest) (*store.Call, bool, error) {
	if rt.cfg.Nodes == nil || rt.cfg.SocketAddr == "" {
		return nil, false, fmt.Errorf("place call: no media nodes configured: %w", ErrNoNode)
	}
	if rt.draining.Load() {
		return nil, false, fmt.Errorf("place call: %w", ErrDraining)
	}
	if req.From == "" || (req.To == "") == (req.FlowID == "") {
		return nil, false, fmt.Errorf("place call: need From and exactly one of To and FlowID: %w", store.ErrInvalid)
	}
	phone, err := rt.store.ExoPhone(ctx, req.AccountSID, req.CallerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("place call: %s: %w", req.CallerID, ErrNotExoPhone)
	}
	if err != nil {
		return nil, false, fmt.Errorf("place call: %w", err)
	}
	sid := req.SID
	if sid == "" {
		sid = store.NewSID()
	} else if !store.ValidSID(sid) {
		return nil, false, fmt.Errorf("place call: SID %q: %w", sid, store.ErrInvalid)
	}
	row := &store.Call{
		SID: sid, AccountSID: req.AccountSID, Direction: store.DirectionOutboundAPI,
		From: req.From, To: req.To, PhoneNumber: phone.Number, Status: store.Queued,
		CustomField: req.CustomField, CallType: req.CallType, InstanceID: rt.cfg.Instance,
		StatusCallback: req.StatusCallback, StatusCallbackContentType: req.StatusCallbackContentType,
		StatusCallbackEvents: strings.Join(req.StatusCallbackEvents, ","),
	}
	if row.CallType == "" {
		row.CallType = "trans"
	}
	if len(req.StatusCallbackURLs) > 0 {
		b, err := json.Marshal(req.StatusCallbackURLs)
		if err != nil {
			return nil, false, fmt.Errorf("place call: status callbacks: %w", err)
		}
		row.StatusCallbackURLs = string(b)
	}
	if req.FlowID != "" {
		v, err := rt.store.LiveVersion(ctx, req.AccountSID, req.FlowID)
		if err != nil {
			return nil, false, fmt.Errorf("place call: flow %s: %w", req.FlowID, err)
		}
		flowID := v.FlowID
		row.FlowID, row.FlowVersion, row.To = &flowID, v.Version, phone.Number
	}
	spec := outboundSpec{
		To: req.To, TimeLimit: req.TimeLimit, TimeOut: req.TimeOut, Record: req.Record,
		RecordingChannels: req.RecordingChannels, WaitURL: req.WaitURL, Leg1: esl.NewUUID(), Vars: req.Vars,
		RecordingFormat: req.RecordingFormat,
	}
	if spec.TimeLimit <= 0 || spec.TimeLimit > MaxTimeLimit {
		spec.TimeLimit = MaxTimeLimit
	}
	if spec.TimeOut <= 0 {
		spec.TimeOut = DefaultRingTimeout
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, false, fmt.Errorf("place call: %w", err)
	}
	row.Outbound = string(b)

	node, release, err := rt.cfg.Nodes.Pick()
	if err != nil {
		return nil, false, fmt.Errorf("place call: %w: %w", ErrNoNode, err)
	}
	row.Node = node.Name()
	opts := store.CreateOptions{IdempotencyKey: req.IdempotencyKey, RequestHash: req.RequestHash}
	if req.HoldFrom {
		opts.Hold = []string{req.From}
		// Long enough for the longest call this can be; the hold is
		// released when the call's record is finished.
		opts.HoldFor = time.Duration(spec.TimeLimit+2*spec.TimeOut+300) * time.Second
	}
	got, replay, err := rt.store.CreateOutbound(ctx, row, opts)
	if err != nil || replay {
		release()
		return got, replay, err
	}
	rt.cfg.Metrics.CallStarted(store.DirectionOutboundAPI)
	log := rt.log.With("call_sid", row.SID, "uuid", spec.Leg1, "from", row.From, "to", req.To, "flow", req.FlowID, "node", row.Node)
	rt.placingStarted(row.SID)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// From here on the call exists: a failure ends it with its final
	// record and terminal callback, and the client gets the call (failed)
	// rather than an error, so it learns the CallSid the callback names.
	leg1 := &store.Leg{CallSID: row.SID, AccountSID: row.AccountSID, Seq: 1, UUID: spec.Leg1,
		Direction: store.LegOutbound, From: phone.Number, To: req.From, Status: store.Queued}
	if err := rt.store.CreateLeg(dctx, leg1); err != nil {
		release()
		log.Warn("call: store first leg; the call fails", "err", err)
		rt.failPlaced(dctx, log, row, spec.Leg1, "NORMAL_TEMPORARY_FAILURE")
		return row, false, nil
	}
	// Known by its UUID before it rings: its socket may come, and go,
	// before BgAPI returns.
	rt.firstLegPlaced(spec.Leg1, row, log)
	job, err := node.BgAPI(dctx, rt.originate(row, spec))
	if err != nil {
		release()
		log.Warn("call: originate failed; the call fails", "err", err)
		rt.failPlaced(dctx, log, row, spec.Leg1, "NORMAL_TEMPORARY_FAILURE")
		return row, false, nil
	}
	log.Info("call: placed", "ring_timeout", spec.TimeOut, "time_limit", spec.TimeLimit)
	now := time.Now().UTC()
	if err := rt.store.CallStatus(dctx, row.SID, store.Ringing, now); err == nil {
		row.Status = store.Ringing
	}
	if err := rt.store.LegStatus(dctx, spec.Leg1, store.Ringing, now); err != nil {
		log.Warn("call: store leg status", "err", err)
	}
	placed := *row
	rt.background(func() { rt.watchOrigination(log, node, &placed, spec.Leg1, job, release) })
	return row, false, nil
}

// originate builds the bgapi originate command of an API call's first
// leg. The socket application is quoted: unquoted, FreeSWITCH would split
// its arguments on the spaces.
func (rt *Runtime) originate(row *store.Call, spec outboundSpec) string {
	vars := []string{"origination_uuid=" + spec.Leg1}
	if dialstr.CallerID(row.PhoneNumber) {
		vars = append(vars, "origination_caller_id_number="+row.PhoneNumber,
			"origination_caller_id_name="+row.PhoneNumber)
	}
	vars = append(vars,
		"originate_timeout="+strconv.Itoa(spec.TimeOut),
		"ignore_early_media=true",
		"hangup_after_bridge=false",
		"switchyard_call="+row.SID,
		"switchyard_outbound=true",
		// FreeSWITCH ends the call at the time limit on its own clock,
		// even if Switchyard is gone.
		fmt.Sprintf("execute_on_answer='sched_hangup +%d ALLOTTED_TIMEOUT'", spec.TimeLimit),
	)
	return "originate {" + strings.Join(vars, ",") + "}" + rt.cfg.Endpoints.endpoint(row.From) +
		" '&socket(" + rt.cfg.SocketAddr + " async full)'"
}

// watchOrigination waits for the first leg's outcome. A failure (busy,
// no answer, rejected) is the end of the call, recorded here with its
// terminal callback. An answer brings the call to Handle through the
// node's socket connection, which awaitSocket waits for.
func (rt *Runtime) watchOrigination(log *slog.Logger, node Originator, row *store.Call, uuid string, job <-chan esl.Job, release func()) {
	defer release()
	j, ok := <-job
	if !ok {
		rt.landed(row.SID)
		log.Warn("call: lost the node while the first leg was ringing; the reconciler will close the call")
		return
	}
	if _, err := j.Result(); err == nil {
		rt.awaitSocket(log, node, row, uuid, time.Now().UTC())
		return
	}
	cause := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(j.Body), "-ERR"))
	if cause == "" || strings.ContainsAny(cause, " \n") {
		cause = "NORMAL_TEMPORARY_FAILURE"
	}
	log.Info("call: first leg not answered", "cause", cause)
	rt.failPlaced(context.Background(), log, row, uuid, cause)
}

// awaitSocketTries is how many times in a row awaitSocket may fail to
// ask the node about a first leg before it leaves the call to the
// reconciler.
const awaitSocketTries = 3

// awaitSocket waits for an answered first leg to reach Handle. A leg
// that hangs up before its socket application has connected here (the
// callee hung up at once, or the application could not connect) sends
// nothing this instance would see: every SocketWait without the call
// landing, the node is asked whether the channel still exists, and a
// channel gone ends the call, answered, with its final record and
// terminal callback. Asking fails while the node is unreachable (or
// stopped, at shutdown): after awaitSocketTries failures in a row the
// call is left to the reconciler, which asks again.
func (rt *Runtime) awaitSocket(log *slog.Logger, node Originator, row *store.Call, uuid string, answered time.Time) {
	t := time.NewTimer(rt.cfg.SocketWait)
	defer t.Stop()
	failures := 0
	for {
		placed, waiting := rt.awaitingFirstLeg(uuid)
		if !waiting {
			return
		}
		select {
		case <-placed:
			continue
		case <-t.C:
		}
		if _, waiting := rt.awaitingFirstLeg(uuid); !waiting {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), esl.DefaultTimeout)
		out, err := node.API(ctx, "uuid_exists "+uuid)
		cancel()
		switch {
		case err != nil:
			if failures++; failures >= awaitSocketTries {
				log.Warn("call: cannot ask the node about the answered first leg; the reconciler will close the call", "err", err)
				rt.landed(row.SID)
				return
			}
		case strings.TrimSpace(out) == "false":
			if _, ok := rt.leaveFirstLeg(uuid); ok {
				log.Warn("call: the first leg hung up before its socket reached this instance; the call ends", "cause", "NORMAL_CLEARING")
				rt.endPlaced(context.Background(), log, row, uuid, &answered, "NORMAL_CLEARING")
			}
			return
		default:
			failures = 0
		}
		t.Reset(rt.cfg.SocketWait)
	}
}

// SocketGone ends an API call whose first leg answered but hung up
// before its socket reached a handler (esl.ServerConfig.OnGone names the
// channel of such a socket): nothing else would ever tell of the call,
// which the reconciler would close as lost, much later. A channel that is
// not a placing call's first leg (an inbound call gone as fast: it has no
// record) is left alone.
func (rt *Runtime) SocketGone(uuid string) {
	l, ok := rt.leaveFirstLeg(uuid)
	if !ok {
		return
	}
	l.log.Warn("call: the first leg hung up before its socket reached this instance; the call ends", "cause", "NORMAL_CLEARING")
	// The socket application connects as the leg answers.
	answered := time.Now().UTC()
	rt.background(func() { rt.endPlaced(context.Background(), l.log, &l.row, uuid, &answered, "NORMAL_CLEARING") })
}

// failPlaced ends an API call whose first leg never answered, and sets
// row to what its final record says.
func (rt *Runtime) failPlaced(ctx context.Context, log *slog.Logger, row *store.Call, uuid, cause string) {
	rt.endPlaced(ctx, log, row, uuid, nil, cause)
}

// endPlaced ends an API call that never reached Handle, its first leg
// answered (at answered) or not (nil), and sets row to what its final
// record says. An answer is recorded as Handle would have, with the
// "answered" callback where the call asked for callbacks.
func (rt *Runtime) endPlaced(ctx context.Context, log *slog.Logger, row *store.Call, uuid string, answered *time.Time, cause string) {
	defer rt.landed(row.SID)
	at := time.Now().UTC()
	sid := row.SID
	status := LegStatus(answered != nil, cause, "", 0)
	leg := store.LegFinal{Status: status, EndTime: at, HangupCause: cause}
	f := store.CallFinal{Status: status, EndTime: at, HangupCause: cause, Outbox: rt.cfg.TerminalCallbacks,
		Duration: seconds(at.Sub(row.CreatedAt))}
	if answered != nil {
		var out store.OutboxFunc
		if row.StatusCallback != "" || row.StatusCallbackURLs != "" {
			out = rt.cfg.AnsweredCallbacks
		}
		if err := rt.persist(ctx, func(ctx context.Context) error {
			return rt.store.CallAnswered(ctx, sid, *answered, out, nil)
		}); err != nil {
			log.Warn("call: store answer", "err", err)
		}
		leg.AnswerTime, leg.TalkTime, f.AnswerTime = answered, seconds(at.Sub(*answered)), answered
		leg.Duration = f.Duration // the leg was placed with the call
	}
	if err := rt.persist(ctx, func(ctx context.Context) error {
		return rt.store.FinishLeg(ctx, uuid, leg)
	}); err != nil {
		log.Warn("call: store first leg record", "err", err)
	}
	row.Status, row.EndTime, row.Duration, row.HangupCause, row.AnswerTime = status, &at, f.Duration, cause, f.AnswerTime
	if err := rt.persist(ctx, func(ctx context.Context) error {
		return rt.store.FinishCall(ctx, sid, f)
	}); err != nil {
		log.Warn("call: store final record; the reconciler will close the call", "err", err)
		return
	}
	rt.cfg.Metrics.CallEnded(store.DirectionOutboundAPI, string(status), cause)
	rt.notifyCallbacks()
	if rt.cfg.OnEnd != nil {
		rt.cfg.OnEnd(sid)
	}
}

// notifyCallbacks wakes the status-callback relay.
func (rt *Runtime) notifyCallbacks() {
	if rt.cfg.NotifyCallbacks != nil {
		rt.cfg.NotifyCallbacks()
	}
}

// connectFlow is the flow a click-to-call runs on its first leg once it
// answers: ring To (with the wait audio, recording and caller id of the
// request), then hang up whatever happened.
func connectFlow(spec outboundSpec, callerID string) *flows.Flow {
	ring := min(max(spec.TimeOut, 5), 120)
	return &flows.Flow{
		Name:  "click-to-call",
		Start: "connect",
		Applets: map[string]*flows.Applet{
			"connect": {ID: "connect", Type: flows.TypeConnect, Config: &flows.Connect{
				Destinations: []string{spec.To}, Strategy: flows.Sequential, RingTimeout: ring,
				Record: spec.Record, RecordingChannels: spec.RecordingChannels, CallerID: callerID,
				MusicOnHold: spec.WaitURL,
			}, Outputs: map[string]string{
				flows.OutAnswered: "hangup", flows.OutNoAnswer: "hangup", flows.OutBusy: "hangup", flows.OutFailed: "hangup",
			}},
			"hangup": {ID: "hangup", Type: flows.TypeHangup, Config: &flows.HangupApplet{}},
		},
	}
}

// beginOutbound picks up an API call whose first leg has just answered
// and connected to this socket: the call row exists (Place wrote it); the
// leg is up, so the answer is recorded here, then the flow runs — the
// requested one, or for click-to-call the synthetic connect to To.
func (c *call) beginOutbound() bool {
	sid := c.data.Var("switchyard_call")
	row, err := c.look.callBySID(sid)
	var spec outboundSpec
	if err == nil {
		switch {
		case row.EndTime != nil:
			err = fmt.Errorf("call %s is already over", sid)
		case row.Outbound == "":
			err = fmt.Errorf("call %s is not an API call", sid)
		default:
			err = json.Unmarshal([]byte(row.Outbound), &spec)
		}
	}
	if err != nil {
		c.refuse("NORMAL_TEMPORARY_FAILURE", "", "unknown API call", err)
		return false
	}
	c.sid, c.account, c.from, c.to, c.created = row.SID, row.AccountSID, row.From, row.To, row.CreatedAt
	c.outbound = &spec
	c.callbacks = row.StatusCallback != "" || row.StatusCallbackURLs != ""
	c.log = c.env.log.With("call_sid", c.sid, "uuid", c.uuid, "from", row.From, "to", row.To, "account", c.account)
	c.rowCreated = true
	c.a.to = row.From
	c.a.status, c.a.answered, c.a.answerAt = store.InProgress, true, answeredAt(c.data, c.wall)
	c.emit(SetLegStatus{UUID: c.a.uuid, Status: store.InProgress, At: c.a.answerAt})
	c.answered()

	flowID := ""
	if row.FlowID != nil {
		flowID = *row.FlowID
		v, err := c.look.flowVersion(c.account, flowID, row.FlowVersion)
		if err == nil {
			c.flow, err = c.env.flows.get(v.FlowID, v.Version, []byte(v.Document))
		}
		if err != nil {
			c.refuse("SERVICE_UNAVAILABLE", "", "the call's flow does not load", err)
			return true
		}
		c.log = c.log.With("flow", flowID, "version", row.FlowVersion)
	} else {
		c.flow = connectFlow(spec, row.PhoneNumber)
	}
	c.fire("multiset", c.settings())
	c.step(flows.Started{At: c.now().UTC(), Call: flows.CallInfo{
		CallSid: c.sid, From: row.From, To: row.PhoneNumber, Direction: "outbound-dial",
		ExoPhone: row.PhoneNumber, FlowID: flowID, CustomField: row.CustomField, Vars: spec.Vars,
	}})
	return true
}

// answeredAt is when the channel in the connect data answered.
func answeredAt(data esl.Event, wall func() time.Time) time.Time {
	if us := data.Int("Caller-Channel-Answered-Time"); us > 0 {
		return time.UnixMicro(us).UTC()
	}
	return wall().UTC()
}

// finalStatus is the call's status once it is over. A click-to-call is
// completed only if the two parties talked; otherwise it takes the status
// of the second leg's last attempt (busy, no-answer, failed, canceled), or
// canceled when the first leg hung up before it was tried. Every other
// call has its caller leg's status.
func (c *call) finalStatus() store.Status {
	switch {
	case c.outbound == nil || c.outbound.To == "":
		return c.a.final.Status
	case len(c.order) < 2: // To was never dialled
		if c.a.answered {
			return store.Canceled
		}
		return c.a.final.Status
	}
	for _, l := range c.order[1:] {
		if l.answered {
			return store.Completed
		}
	}
	if last := c.order[len(c.order)-1]; last.final != nil {
		return last.final.Status
	}
	return store.Failed
}

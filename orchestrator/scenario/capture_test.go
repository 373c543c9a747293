package scenario

// Fidelity capture: what a real node says, per scenario, kept in testdata so
// the emulator can be held to it.
//
// Every harness opens one more inbound ESL connection of its own to the
// scenario's node (startCapture, esl.DialOrdered), subscribed to the events
// Switchyard's call runtime subscribes to (callSubscribed) plus
// CHANNEL_EXECUTE (what the test phone watches) and CHANNEL_DESTROY (only
// to know when a channel is gone; it is not part of the trace). On a
// borrowed node every event belongs to the scenario. When the scenario's
// calls have ended (at cleanup, after the runtime has shut down and every
// channel created during the scenario is destroyed, waited for with a
// bounded deadline) the events become a normalised trace.
//
// # The trace (testdata/captures/<TestName>.json)
//
//	{
//	  "Scenario": "TestKey1ParallelRingSecondAgentAnswers",
//	  "Channels": [
//	    {
//	      "Channel": "loopback/+15550000100-a",
//	      "Events": [
//	        {"Event": "CHANNEL_CREATE", "Headers": {"Answer-State": "ringing", "Call-Direction": "outbound"}},
//	        ...
//	      ]
//	    },
//	    ...
//	  ]
//	}
//
//   - One entry per channel created during the scenario (a channel whose
//     CHANNEL_CREATE was not seen, e.g. a late event of the previous
//     scenario on the same node, or a leg that was never created and only
//     has a bare CHANNEL_DESTROY, is left out). A channel is named by its
//     Channel-Name with UUIDs and SIP ports removed ("<uuid>", and
//     "@127.0.0.1:5090" becomes "@127.0.0.1"), so names are the same in
//     every run and on the emulator; when the same name occurs more than
//     once, the later ones (by the Event-Sequence of their first event)
//     get "#2", "#3"... Channels are sorted by name.
//   - A channel's events are in Event-Sequence order (never arrival
//     order, so the trace does not depend on how the node schedules their
//     delivery). Each is its Event-Name plus the headers and channel
//     variables Switchyard (orchestrator/call, orchestrator/testphone)
//     reads from that event (see traceHeaders), normalised: values that
//     differ in every run (UUIDs, CallSids, timestamps and epochs,
//     durations measured on the wall clock, ports, Event-Sequence
//     numbers, temporary paths) are dropped, replaced by the stable name
//     of the channel they refer to, or kept only as "<present>" where
//     their presence is what Switchyard relies on.
//   - Timing-dependent repetition is collapsed (see collapseRepeats): a
//     run of the same event, or of the same short cycle of events (hold
//     music restarted, an announcement looped), repeated back to back is
//     kept once, since how many times it repeats depends on how long the
//     caller waited, not on the node's protocol.
//
// # The two env switches
//
// SWITCHYARD_CAPTURE=1, with the suite on real nodes from the archive
// (SWITCHYARD_FS=archive, no SWITCHYARD_FS_ESL), writes the trace of every
// scenario that passed to testdata/captures (and logs how it differs from
// the capture it replaces, if it does: run capture mode twice to see that
// a scenario's trace is deterministic). Regenerate with
//
//	SWITCHYARD_FS=archive SWITCHYARD_CAPTURE=1 go test -count=1 -parallel 4 -timeout 20m ./orchestrator/scenario
//
// On the emulator (the default), every scenario with a capture is compared
// with it at cleanup: a difference fails the scenario, with, per channel,
// the first differing event on both sides. SWITCHYARD_FIDELITY=report only
// logs the differences (each line starts with "fidelity:"), and
// SWITCHYARD_FIDELITY=off skips the comparison. On an external node
// (SWITCHYARD_FS_ESL) nothing is captured or compared.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
)

// captureDir holds one trace per scenario harness.
const captureDir = "testdata/captures"

// callSubscribed is what Switchyard's call runtime subscribes to,
// PLAYBACK_START included (a queued call adds it), and what it subscribed
// to when the captures were recorded: the emulator's hang-ups, channel
// creations, unbridges and recording stops are still held to the node's
// (and a channel's CHANNEL_CREATE is how a trace knows it began in the
// scenario).
var callSubscribed = append(call.Subscribed(), "CHANNEL_HANGUP", "PLAYBACK_START", "CHANNEL_CREATE", "CHANNEL_UNBRIDGE", "RECORD_STOP")

// Trace is the normalised account of one scenario harness's node events.
type Trace struct {
	Scenario string
	Channels []ChannelTrace
}

// ChannelTrace is one channel's events, in Event-Sequence order.
type ChannelTrace struct {
	Channel string
	Events  []TraceEvent
}

// TraceEvent is one event: its name and what Switchyard reads from it.
type TraceEvent struct {
	Event   string
	Headers map[string]string `json:",omitempty"`
}

func (e TraceEvent) String() string {
	if len(e.Headers) == 0 {
		return e.Event
	}
	keys := make([]string, 0, len(e.Headers))
	for k := range e.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(e.Event)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Headers[k])
	}
	return b.String()
}

// capture collects one harness's node events.
type capture struct {
	t    *testing.T
	name string // the capture's file name, without .json
	mode captureMode
	conn *esl.Conn
	// fastClock: the emulator runs faster than real time while
	// Switchyard's own timers (queue polls, timeouts, the test phone's
	// hang-ups) do not, so wall-clock seconds cannot agree; only their
	// presence is compared.
	fastClock bool

	mu     sync.Mutex
	events []esl.Event
	wake   chan struct{}
}

type captureMode int

const (
	captureWrite   captureMode = iota + 1 // real node from the archive, SWITCHYARD_CAPTURE=1
	captureCompare                        // the emulator, a capture exists
)

// captureNames counts the harnesses each test made, so a test with more
// than one keeps one capture per harness.
var captureNames = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// captureName is the file name (without .json) of t's next harness.
func captureName(t *testing.T) string {
	captureNames.Lock()
	defer captureNames.Unlock()
	base := strings.NewReplacer("/", "__", " ", "_", ":", "_").Replace(t.Name())
	captureNames.n[base]++
	if n := captureNames.n[base]; n > 1 {
		return fmt.Sprintf("%s-%d", base, n)
	}
	return base
}

// startCapture starts capturing the events of the node at fsAddr for t's
// harness, when the environment asks for capture or comparison (see the
// file comment); otherwise it does nothing. Call it once the node is known
// and before any call is placed: its cleanup must run after the harness's
// runtime has stopped and before the node is handed back.
func startCapture(t *testing.T, fsAddr, password string, fastClock bool) {
	t.Helper()
	name := captureName(t)
	var mode captureMode
	switch {
	case suite.real:
		if os.Getenv("SWITCHYARD_CAPTURE") != "1" || os.Getenv("SWITCHYARD_FS") != "archive" || os.Getenv("SWITCHYARD_FS_ESL") != "" {
			return
		}
		mode = captureWrite
	default:
		if os.Getenv("SWITCHYARD_FIDELITY") == "off" {
			return
		}
		if _, err := os.Stat(filepath.Join(captureDir, name+".json")); err != nil {
			return // no capture of this scenario
		}
		mode = captureCompare
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &capture{t: t, name: name, mode: mode, wake: make(chan struct{}, 1), fastClock: fastClock}
	conn, err := esl.DialOrdered(ctx, fsAddr, password, c.add, nil)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	c.conn = conn
	names := append(append([]string{}, callSubscribed...), "CHANNEL_EXECUTE", "CHANNEL_DESTROY")
	if err := conn.Subscribe(ctx, names...); err != nil {
		conn.Close()
		t.Fatalf("capture: subscribe: %v", err)
	}
	t.Cleanup(c.finish)
}

func (c *capture) add(ev esl.Event) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// settled waits (bounded) until every channel created during the scenario
// has been destroyed, then makes sure every event the node has sent is
// in. It reports the channels still up when it gave up.
func (c *capture) settled() []string {
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	// The connection hands each event over before it reads the next frame
	// (esl.DialOrdered): once an api reply is in, every event the node wrote
	// before it is in c.events. On a real node an event raised before the
	// command may still be on its way through the node's event queues
	// when the reply is written, so the channels are checked again after
	// each round trip, until a round trip finds nothing new (a channel
	// whose CHANNEL_CREATE came late is then waited for like the others).
	for seen := -1; ; {
		for {
			open := c.open()
			if len(open) == 0 {
				break
			}
			select {
			case <-c.wake:
				continue
			case <-deadline.C:
			case <-c.conn.Done():
			}
			return open
		}
		c.mu.Lock()
		n := len(c.events)
		c.mu.Unlock()
		if n == seen {
			return nil
		}
		seen = n
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = c.conn.API(ctx, "status")
		cancel()
	}
}

// open lists the channels created whose CHANNEL_HANGUP_COMPLETE or
// CHANNEL_DESTROY has not arrived yet. Both are checked so that the wait
// does not depend on the order the node writes them in.
func (c *capture) open() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	created, completed, destroyed := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, ev := range c.events {
		switch ev.Name() {
		case "CHANNEL_CREATE":
			created[ev.UniqueID()] = true
		case "CHANNEL_HANGUP_COMPLETE":
			completed[ev.UniqueID()] = true
		case "CHANNEL_DESTROY":
			destroyed[ev.UniqueID()] = true
		}
	}
	var open []string
	for uuid := range created {
		if !completed[uuid] || !destroyed[uuid] {
			open = append(open, uuid)
		}
	}
	sort.Strings(open)
	return open
}

func (c *capture) finish() {
	t := c.t
	open := c.settled()
	c.conn.Close()
	c.mu.Lock()
	events := append([]esl.Event(nil), c.events...)
	c.mu.Unlock()
	trace := buildTrace(c.name, events)
	switch c.mode {
	case captureWrite:
		if len(open) > 0 {
			t.Logf("capture: not written: channels still up 15s after the scenario ended: %v", open)
			return
		}
		if t.Failed() {
			t.Logf("capture: not written: the scenario failed")
			return
		}
		c.write(trace)
	case captureCompare:
		c.compare(trace, open)
	}
}

func (c *capture) path() string { return filepath.Join(captureDir, c.name+".json") }

func (c *capture) write(trace Trace) {
	t := c.t
	if old, err := readTrace(c.path()); err == nil {
		if diff := diffTraces(old, trace); len(diff) > 0 {
			t.Logf("capture: %s changed since the last capture (a timing-dependent trace?):\n%s", c.path(), strings.Join(diff, "\n"))
		}
	}
	b, err := json.MarshalIndent(trace, "", "  ")
	if err != nil {
		t.Errorf("capture: %v", err)
		return
	}
	if err := os.MkdirAll(captureDir, 0o755); err != nil {
		t.Errorf("capture: %v", err)
		return
	}
	if err := os.WriteFile(c.path(), append(b, '\n'), 0o644); err != nil {
		t.Errorf("capture: %v", err)
	}
}

func readTrace(path string) (Trace, error) {
	var tr Trace
	b, err := os.ReadFile(path)
	if err != nil {
		return tr, err
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		return tr, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// compare holds the emulator's trace to the real node's capture.
func (c *capture) compare(got Trace, open []string) {
	t := c.t
	want, err := readTrace(c.path())
	if err != nil {
		t.Errorf("fidelity: %v", err)
		return
	}
	if c.fastClock {
		want, got = blurSeconds(want), blurSeconds(got)
	}
	diff := diffTraces(want, got)
	if len(open) > 0 {
		diff = append(diff, fmt.Sprintf("channels still up on the emulator 15s after the scenario ended: %v", open))
	}
	if len(diff) == 0 {
		return
	}
	msg := fmt.Sprintf("fidelity: the emulator's events differ from the real node's capture %s (want = real node, got = emulator):\n%s",
		c.path(), strings.Join(diff, "\n"))
	if os.Getenv("SWITCHYARD_FIDELITY") == "report" || t.Failed() {
		t.Log(msg)
		return
	}
	t.Error(msg)
}

// diffTraces describes, per channel, the first event where got differs
// from want; nil when they are the same.
func diffTraces(want, got Trace) []string {
	var out []string
	wantCh := map[string]ChannelTrace{}
	for _, ch := range want.Channels {
		wantCh[ch.Channel] = ch
	}
	gotCh := map[string]ChannelTrace{}
	for _, ch := range got.Channels {
		gotCh[ch.Channel] = ch
	}
	for _, w := range want.Channels {
		g, ok := gotCh[w.Channel]
		if !ok {
			out = append(out, fmt.Sprintf("  channel %s: missing (want %d events, first %s)", w.Channel, len(w.Events), firstEvent(w.Events)))
			continue
		}
		if d := diffEvents(w.Events, g.Events); d != "" {
			out = append(out, fmt.Sprintf("  channel %s: %s\n%s", w.Channel, d, wholeChannel(w.Events, g.Events)))
		}
	}
	for _, g := range got.Channels {
		if _, ok := wantCh[g.Channel]; !ok {
			out = append(out, fmt.Sprintf("  channel %s: unexpected (got %d events, first %s)", g.Channel, len(g.Events), firstEvent(g.Events)))
		}
	}
	return out
}

// wholeChannel lists a channel's whole trace on both sides, numbered as
// diffEvents numbers events: the first difference alone does not show
// whether an event moved, went missing or came twice.
func wholeChannel(want, got []TraceEvent) string {
	var b strings.Builder
	b.WriteString("      whole channel, want:\n")
	for i, e := range want {
		fmt.Fprintf(&b, "        %2d %s\n", i+1, e)
	}
	b.WriteString("      whole channel, got:\n")
	for i, e := range got {
		fmt.Fprintf(&b, "        %2d %s\n", i+1, e)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func firstEvent(evs []TraceEvent) string {
	if len(evs) == 0 {
		return "none"
	}
	return evs[0].String()
}

// diffEvents describes the first difference of two event lists, "" if none.
func diffEvents(want, got []TraceEvent) string {
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("event %d: missing\n      want %s\n      got  (end of channel; %d events)", i+1, want[i], len(got))
		case i >= len(want):
			return fmt.Sprintf("event %d: unexpected\n      want (end of channel; %d events)\n      got  %s", i+1, len(want), got[i])
		case !sameEvent(want[i], got[i]):
			return fmt.Sprintf("event %d differs\n      want %s\n      got  %s", i+1, want[i], got[i])
		}
	}
	return ""
}

// seconds marks a count of whole seconds measured on the wall clock
// ("~12"). FreeSWITCH computes billsec, duration and progresssec as the
// difference of two epoch times truncated to the second, so the same span
// is one second longer or shorter from run to run; record_seconds rounds
// a recording's length the same way; and how long a scenario's call lasts
// on a real node moves by a second or two with Switchyard's own round
// trips and silence timeouts. Such values compare equal when they are at
// most secondsSlack apart (sameValue).
func seconds(v string) string {
	if _, err := strconv.Atoi(v); err != nil {
		return v
	}
	return "~" + v
}

// sameValue compares two normalised values: exactly, or within secondsSlack
// for wall-clock seconds.
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	if !strings.HasPrefix(a, "~") || !strings.HasPrefix(b, "~") {
		return false
	}
	x, errA := strconv.Atoi(a[1:])
	y, errB := strconv.Atoi(b[1:])
	return errA == nil && errB == nil && x-y <= secondsSlack && y-x <= secondsSlack
}

// blurSeconds is tr with every wall-clock second count ("~12") made "~".
func blurSeconds(tr Trace) Trace {
	out := Trace{Scenario: tr.Scenario}
	for _, ch := range tr.Channels {
		evs := make([]TraceEvent, len(ch.Events))
		for i, ev := range ch.Events {
			evs[i] = TraceEvent{Event: ev.Event, Headers: map[string]string{}}
			for k, v := range ev.Headers {
				if strings.HasPrefix(v, "~") {
					v = "~"
				}
				evs[i].Headers[k] = v
			}
		}
		out.Channels = append(out.Channels, ChannelTrace{Channel: ch.Channel, Events: evs})
	}
	return out
}

// secondsSlack is how far apart two wall-clock second counts may be and
// still agree: three capture runs on real nodes put the same scenario's
// billsec up to two seconds apart (TestSilentVoicemail: 14, 15, 16).
const secondsSlack = 2

// sameEvent compares two events of a trace.
func sameEvent(a, b TraceEvent) bool {
	if a.Event != b.Event || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		w, ok := b.Headers[k]
		if !ok || !sameValue(v, w) {
			return false
		}
	}
	return true
}

// Normalisation.

var (
	uuidRe = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	// A SIP port in a channel name or URI: "@127.0.0.1:5090".
	portRe = regexp.MustCompile(`(@[^/@:;>\s]+):[0-9]+`)
	// Switchyard's call ids (CallSid): "CA" and 32 hex digits.
	sidRe = regexp.MustCompile(`\bCA[0-9a-f]{32}\b`)
)

// channelName is a stable name for a Channel-Name.
func channelName(raw string) string {
	if raw == "" {
		return "(no Channel-Name)"
	}
	return portRe.ReplaceAllString(uuidRe.ReplaceAllString(raw, "<uuid>"), "$1")
}

// traceHeaders lists, per event name, the headers and variables the trace
// keeps. Everything Switchyard reads from an event is here, normalised by
// the function given; headers it does not read are left out.
//
//	orchestrator/call/call.go: Hangup-Cause (CHANNEL_HANGUP),
//	  Application-Response (a queue's EXECUTE_COMPLETE), switchyard_input_N
//	  and _invalid (play_and_get_digits), record_seconds / record_ms (record),
//	  originate_causes, last_bridge_to, originate_disposition, DIALSTATUS
//	  (bridge), Playback-File-Path (PLAYBACK_START, queue.go);
//	orchestrator/call/legs.go: Hangup-Cause, hangup_cause, answer_uepoch and
//	  end_uepoch (present or not), duration, billsec, progresssec,
//	  sip_term_status (CHANNEL_HANGUP_COMPLETE);
//	orchestrator/call/connect.go: Bridge-B-Unique-ID, Other-Leg-Unique-ID
//	  (CHANNEL_BRIDGE);
//	orchestrator/testphone: Call-Direction, Application, switchyard_call
//	  (present), answer_epoch (present), Hangup-Cause.
//
// Answer-State is kept where it does not race the hang-up (see
// normaliseChannel).
func (b *traceBuilder) headers(ev esl.Event) map[string]string {
	h := map[string]string{}
	keep := func(name, value string) {
		if value != "" {
			h[name] = value
		}
	}
	present := func(name string) {
		if v := ev.Get(name); v != "" && v != "0" {
			h[name] = "<present>"
		}
	}
	keep("Answer-State", ev.Get("Answer-State"))
	switch ev.Name() {
	case "CHANNEL_CREATE":
		keep("Call-Direction", ev.Get("Call-Direction"))
	case "CHANNEL_HANGUP":
		keep("Hangup-Cause", ev.Get("Hangup-Cause"))
	case "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE":
		keep("Bridge-B-Unique-ID", b.refs(ev.Get("Bridge-B-Unique-ID")))
		keep("Other-Leg-Unique-ID", b.refs(ev.Get("Other-Leg-Unique-ID")))
	case "PLAYBACK_START":
		keep("Playback-File-Path", b.value(ev.Get("Playback-File-Path")))
	case "CHANNEL_EXECUTE":
		keep("Application", ev.Get("Application"))
	case "CHANNEL_EXECUTE_COMPLETE":
		app := ev.Get("Application")
		keep("Application", app)
		keep("Application-Response", b.value(ev.Get("Application-Response")))
		switch app {
		case "play_and_get_digits", "read":
			for k, v := range ev.All() {
				if strings.HasPrefix(k, "variable_switchyard_input_") {
					keep(k, v)
				}
			}
		case "record":
			// record_seconds is the whole seconds of audio written;
			// record_ms varies by a few ms in every run.
			keep("variable_record_seconds", seconds(ev.Get("variable_record_seconds")))
			present("variable_record_ms")
		case "bridge":
			keep("variable_originate_disposition", ev.Get("variable_originate_disposition"))
			keep("variable_DIALSTATUS", ev.Get("variable_DIALSTATUS"))
			keep("variable_originate_causes", b.refs(ev.Get("variable_originate_causes")))
			keep("variable_last_bridge_to", b.refs(ev.Get("variable_last_bridge_to")))
		}
	case "CHANNEL_HANGUP_COMPLETE":
		keep("Hangup-Cause", ev.Get("Hangup-Cause"))
		keep("variable_hangup_cause", ev.Get("variable_hangup_cause"))
		keep("variable_sip_term_status", ev.Get("variable_sip_term_status"))
		// Whole seconds, the difference of two truncated epoch seconds:
		// the same span measures one second more or less from run to run
		// (see seconds).
		keep("variable_billsec", seconds(ev.Get("variable_billsec")))
		keep("variable_duration", seconds(ev.Get("variable_duration")))
		keep("variable_progresssec", seconds(ev.Get("variable_progresssec")))
		present("variable_answer_epoch")
		present("variable_answer_uepoch")
		present("variable_end_uepoch")
		present("variable_switchyard_call")
		keep("variable_originate_disposition", ev.Get("variable_originate_disposition"))
		keep("variable_DIALSTATUS", ev.Get("variable_DIALSTATUS"))
		keep("variable_last_bridge_to", b.refs(ev.Get("variable_last_bridge_to")))
	}
	return h
}

// traceBuilder turns one harness's events into its trace.
type traceBuilder struct {
	names map[string]string // uuid -> stable channel name
}

// refs replaces the UUIDs in v with the stable names of their channels
// (a UUID of no channel seen, e.g. a leg never created, is "<uuid>").
func (b *traceBuilder) refs(v string) string {
	return uuidRe.ReplaceAllStringFunc(v, func(u string) string {
		if n, ok := b.names[strings.ToLower(u)]; ok {
			return n
		}
		return "<uuid>"
	})
}

// value removes what differs in every run from a value: UUIDs (as refs),
// CallSids, ports, and the folders of absolute paths (temporary
// recordings folders; only the file name is kept).
func (b *traceBuilder) value(v string) string {
	v = sidRe.ReplaceAllString(b.refs(v), "<CallSid>")
	v = portRe.ReplaceAllString(v, "$1")
	return absPathRe.ReplaceAllStringFunc(v, func(p string) string { return "<dir>/" + filepath.Base(p) })
}

var absPathRe = regexp.MustCompile(`(^|[\s'"=])/[^\s'"]+`)

func buildTrace(name string, events []esl.Event) Trace {
	type chanEvents struct {
		raw   string
		first uint64
		evs   []esl.Event
	}
	byUUID := map[string]*chanEvents{}
	created := map[string]bool{}
	for _, ev := range events {
		uuid := strings.ToLower(ev.UniqueID())
		if uuid == "" {
			continue
		}
		ce := byUUID[uuid]
		if ce == nil {
			ce = &chanEvents{}
			byUUID[uuid] = ce
		}
		ce.evs = append(ce.evs, ev)
		if ev.Name() == "CHANNEL_CREATE" {
			created[uuid] = true
		}
	}
	// Stable names: Channel-Name without UUIDs and ports, numbered by the
	// channel's first event when it repeats.
	var uuids []string
	for uuid, ce := range byUUID {
		if !created[uuid] {
			continue
		}
		sort.SliceStable(ce.evs, func(i, j int) bool { return ce.evs[i].Seq() < ce.evs[j].Seq() })
		ce.first = ce.evs[0].Seq()
		for _, ev := range ce.evs {
			if n := ev.Get("Channel-Name"); n != "" {
				ce.raw = channelName(n)
				break
			}
		}
		uuids = append(uuids, uuid)
	}
	sort.Slice(uuids, func(i, j int) bool {
		a, b := byUUID[uuids[i]], byUUID[uuids[j]]
		if a.raw != b.raw {
			return a.raw < b.raw
		}
		return a.first < b.first
	})
	b := &traceBuilder{names: map[string]string{}}
	count := map[string]int{}
	for _, uuid := range uuids {
		raw := byUUID[uuid].raw
		count[raw]++
		name := raw
		if n := count[raw]; n > 1 {
			name += "#" + strconv.Itoa(n)
		}
		b.names[uuid] = name
	}
	tr := Trace{Scenario: name, Channels: []ChannelTrace{}}
	for _, uuid := range uuids {
		ct := ChannelTrace{Channel: b.names[uuid], Events: []TraceEvent{}}
		for _, ev := range byUUID[uuid].evs {
			if ev.Name() == "CHANNEL_DESTROY" {
				continue // only to know the channel is gone
			}
			ct.Events = append(ct.Events, TraceEvent{Event: ev.Name(), Headers: b.headers(ev)})
		}
		if ct, ok := normaliseChannel(ct); ok {
			tr.Channels = append(tr.Channels, ct)
		}
	}
	sort.SliceStable(tr.Channels, func(i, j int) bool { return tr.Channels[i].Channel < tr.Channels[j].Channel })
	return tr
}

// maxCycle is the longest run of events collapseRepeats treats as one
// repeated unit: a playback's EXECUTE, PLAYBACK_START and EXECUTE_COMPLETE,
// with room for a break.
const maxCycle = 4

// collapseRepeats keeps once any sequence of up to maxCycle events that
// repeats back to back. How often hold music restarts or a ringing leg
// re-reports progress depends on timing, not on the protocol; keeping the
// count would make traces differ between two runs on the same node. The
// price: a flow playing the same prompt twice in a row is recorded as
// once, on both sides alike.
func collapseRepeats(evs []TraceEvent) []TraceEvent {
	for size := 1; size <= maxCycle; size++ {
		var out []TraceEvent
		for i := 0; i < len(evs); {
			if i+2*size <= len(evs) && sameEvents(evs[i:i+size], evs[i+size:i+2*size]) {
				j := i + 2*size
				for j+size <= len(evs) && sameEvents(evs[i:i+size], evs[j:j+size]) {
					j += size
				}
				out = append(out, evs[i:i+size]...)
				i = j
				continue
			}
			out = append(out, evs[i])
			i++
		}
		evs = out
	}
	return evs
}

func sameEvents(a, b []TraceEvent) bool {
	for i := range a {
		if !sameEvent(a[i], b[i]) {
			return false
		}
	}
	return true
}

// normaliseChannel removes from a channel's events what depends on timing
// rather than on the node's protocol, and reports whether the channel
// belongs in the trace at all. It is idempotent.
//
//   - The test network's own SIP channels (inbound sofia/ channels: the far
//     end of a leg Switchyard dials over SIP) are left out: they are the
//     test network's side of the call, named by the profile's own address,
//     not something Switchyard reads.
//   - park is left out (its CHANNEL_EXECUTE, PLAYBACK_START and
//     CHANNEL_EXECUTE_COMPLETE): it holds a channel with nothing to report
//     (the test phone's caller, a far end after a uuid_broadcast), and
//     whether a dialplan gets to start it before a hang-up coming from the
//     loopback peer arrives is a race.
//   - At hang-up, CHANNEL_HANGUP is fired by the thread that hangs the
//     channel up while the application running on the channel completes on
//     the channel's own thread: when an application's
//     CHANNEL_EXECUTE_COMPLETE and the CHANNEL_HANGUP are next to each
//     other, their order is a race, so the trace always puts the
//     completion first. A playback's Application-Response there and after
//     the hang-up is "<played or cut off>": whether the file ended just
//     before the hang-up or was cut off by it is timing.
//   - Answer-State is kept only where it cannot race the hang-up
//     (CHANNEL_CREATE, CHANNEL_PROGRESS, CHANNEL_PROGRESS_MEDIA,
//     CHANNEL_ANSWER, CHANNEL_BRIDGE): elsewhere it says "answered" or
//     "hangup" depending on the same race, and Switchyard never reads it.
//   - Repeats are collapsed (collapseRepeats): hold music or an
//     announcement looping until the caller hangs up.
func normaliseChannel(ct ChannelTrace) (ChannelTrace, bool) {
	if len(ct.Events) > 0 && ct.Events[0].Event == "CHANNEL_CREATE" &&
		ct.Events[0].Headers["Call-Direction"] == "inbound" && strings.HasPrefix(ct.Channel, "sofia/") {
		return ct, false
	}
	evs := make([]TraceEvent, 0, len(ct.Events))
	parked := false
	for _, e := range ct.Events {
		switch {
		case e.Event == "CHANNEL_EXECUTE" && e.Headers["Application"] == "park":
			parked = true
			continue
		case e.Event == "CHANNEL_EXECUTE_COMPLETE" && e.Headers["Application"] == "park":
			parked = false
			continue
		case e.Event == "PLAYBACK_START" && parked:
			continue
		}
		h := map[string]string{}
		for k, v := range e.Headers {
			h[k] = v
		}
		switch e.Event {
		case "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_BRIDGE":
		default:
			delete(h, "Answer-State")
		}
		evs = append(evs, TraceEvent{Event: e.Event, Headers: h})
	}
	for i := 0; i+1 < len(evs); i++ {
		if evs[i].Event == "CHANNEL_HANGUP" && evs[i+1].Event == "CHANNEL_EXECUTE_COMPLETE" {
			evs[i], evs[i+1] = evs[i+1], evs[i]
		}
	}
	hungUp := false
	for i, e := range evs {
		if e.Event == "CHANNEL_HANGUP" {
			hungUp = true
		}
		racing := hungUp || (i+1 < len(evs) && evs[i+1].Event == "CHANNEL_HANGUP")
		if racing && e.Event == "CHANNEL_EXECUTE_COMPLETE" && e.Headers["Application"] == "playback" {
			e.Headers["Application-Response"] = "<played or cut off>"
		}
	}
	for i := range evs {
		if len(evs[i].Headers) == 0 {
			evs[i].Headers = nil
		}
	}
	ct.Events = collapseRepeats(evs)
	return ct, true
}

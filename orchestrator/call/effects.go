package call

import (
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Effect is one thing a call asks of the world: a command on its channel,
// a store write, an HTTP request, a timer. The call (the machine) only
// returns effects; its driver executes them in order, after each input.
// Results come back as inputs: a failed channel command as lostControl,
// a timer as timer, a passthru answer as fetched, a plan as planned.
type Effect interface{ effect() }

// Channel commands, on the call's own socket. When one fails the socket is
// dead: the driver skips the channel commands and requests after it in
// the batch and reports the loss to the machine.

// Execute runs an application on the caller's channel. AppUUID is chosen
// by the machine, so it knows what EXECUTE_COMPLETE to wait for before
// FreeSWITCH answers; an application nobody waits for has none. Awaited
// marks the command a step waits on (its reply closes the step's
// latency); Unlocked sends it without event-lock.
type Execute struct {
	App, Arg, AppUUID string
	Awaited, Unlocked bool
}

// API runs an api command on the call's socket; a failure is only logged.
type API struct{ Cmd string }

// Kill hangs the caller's channel up with a cause.
type Kill struct{ Cause string }

// Watch routes a dialled leg's events to the call and adds its filter on
// the socket, before the leg is dialled.
type Watch struct{ UUID string }

// Subscribe adds event types to the socket, or to the node's connection
// that carries a handed-off call, until Unsubscribe or the call's end; a
// failure is only logged.
type Subscribe struct{ Events []string }

// Unsubscribe: the call no longer needs the event types it subscribed to.
// A socket keeps them (its subscription ends with it); the node's
// connection drops them once no call holds them.
type Unsubscribe struct{ Events []string }

// Detach lets go of the caller's socket for the rest of a bridge: the
// flow has nothing left for the caller's channel once the conversation
// between Caller and Callee ends (FreeSWITCH then hangs the caller up
// itself), and a socket costs the node for every second it is open. The
// two channels' last events (the bridge's result, the hang-ups and their
// records) come through the node's own connection instead. A driver that
// cannot detach keeps the socket, and nothing else changes.
type Detach struct{ Caller, Callee string }

// Store writes. The driver writes those marked final until they land;
// the others once, logging a failure.

// CreateLeg writes a leg's row.
type CreateLeg struct{ Leg store.Leg }

// SetLegStatus moves a leg's status forward.
type SetLegStatus struct {
	UUID   string
	Status store.Status
	At     time.Time
}

// FinishLeg writes a leg's final record.
type FinishLeg struct {
	UUID  string
	Final store.LegFinal
}

// AnswerCall records the call's answer, with its "answered" callbacks when
// Callbacks is set.
type AnswerCall struct {
	SID       string
	At        time.Time
	Callbacks bool
}

// SetDigits records the digits the caller pressed last.
type SetDigits struct{ SID, Digits string }

// SaveRecording writes a recording's row.
type SaveRecording struct{ Recording store.Recording }

// FinishCall writes the call's final record, with its terminal callbacks
// when Callbacks is set. Legs and Reason are for the log line.
type FinishCall struct {
	SID       string
	Final     store.CallFinal
	Callbacks bool
	Legs      int
	Reason    string
}

// Release frees the destination a leg held, and wakes queued callers.
type Release struct{ UUID string }

// Stick remembers the agent a caller spoke to through an applet.
type Stick struct {
	Account, Scope, Caller, Contact string
	Until                           time.Time
}

// Dequeue gives a queued caller's place up.
type Dequeue struct{ SID string }

// Requests to the outside, run off the call's goroutine.

// PostDialEvent posts a dialled leg's event to the connect's event URL.
type PostDialEvent struct {
	Info  Info
	URL   string
	Event DialEvent
}

// Fetch makes a passthru request; unless the request is async, its answer
// comes back as fetched.
type Fetch struct {
	Info    Info
	Request flows.Fetch
}

// Send delivers an SMS or email; failures are only logged.
type Send struct {
	Info    Info
	Message flows.Send
}

// AskPlan asks a programmable connect's URL what to dial; the answer comes
// back as planned with the same ID.
type AskPlan struct {
	ID   int
	Info Info
	Dial flows.Dial
	Last *Attempt
}

// Timers.

// StartTimer fires timer ID once, After from now.
type StartTimer struct {
	ID    int
	After time.Duration
}

// StopTimer stops a timer or a poll; one already fired is ignored.
type StopTimer struct{ ID int }

// PollQueue fires timer ID every Every, and at once whenever a destination
// is released on this instance, until it is stopped.
type PollQueue struct {
	ID    int
	Every time.Duration
}

func (Execute) effect()       {}
func (API) effect()           {}
func (Kill) effect()          {}
func (Watch) effect()         {}
func (Subscribe) effect()     {}
func (Unsubscribe) effect()   {}
func (Detach) effect()        {}
func (CreateLeg) effect()     {}
func (SetLegStatus) effect()  {}
func (FinishLeg) effect()     {}
func (AnswerCall) effect()    {}
func (SetDigits) effect()     {}
func (SaveRecording) effect() {}
func (FinishCall) effect()    {}
func (Release) effect()       {}
func (Stick) effect()         {}
func (Dequeue) effect()       {}
func (PostDialEvent) effect() {}
func (Fetch) effect()         {}
func (Send) effect()          {}
func (AskPlan) effect()       {}
func (StartTimer) effect()    {}
func (StopTimer) effect()     {}
func (PollQueue) effect()     {}

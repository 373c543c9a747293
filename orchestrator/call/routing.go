package call

import (
	"context"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// Plan is a programmable connect's answer, applied to its Dial.
type Plan struct {
	// Dial is the applet's Dial with the answer's destinations and
	// settings in place of the applet's own.
	Dial flows.Dial
	// FetchAfterAttempt asks the URL again after each attempt nobody
	// answered, for the next destinations.
	FetchAfterAttempt bool
	// Version is the answer's format: "1.0" (destination.numbers) or
	// "1.1" (destination[].contact_uri).
	Version string
}

// Attempt is what came of the previous attempt of a connect, sent with a
// fetch_after_attempt request.
type Attempt struct {
	Status flows.DialStatus
	// Whom lists the destinations tried, comma-separated.
	Whom string
	// Duration is the attempt's length in seconds.
	Duration int
}

// Planner asks a programmable connect's URL (then its fallback URL) what
// to dial. An error means no usable answer (a timeout, an HTTP error, a
// malformed body): its text is the reason the connect takes its failed
// output. Planners log every request against the call.
type Planner interface {
	Plan(ctx context.Context, c *Info, d flows.Dial, last *Attempt) (*Plan, error)
}

// Dial event types, as Exotel's dial passthru names them.
const (
	DialEventDial     = "Dial"
	DialEventRinging  = "Ringing"
	DialEventAnswered = "Answered"
	DialEventTerminal = "Terminal"
)

// DialEvent is one event of a dialled destination.
type DialEvent struct {
	Type string
	// Whom is the destination.
	Whom string
	// Status is the destination's state: "busy" from Dial to Terminal,
	// "free" at Terminal.
	Status string
	// LegStatus is the leg's final status at Terminal (completed, busy,
	// no-answer, failed, canceled).
	LegStatus string
	At        time.Time
}

// DialEvents posts dial events to a connect's event URL. Post must not
// block the call: it returns at once and delivers in the background.
type DialEvents interface {
	Post(ctx context.Context, c *Info, url string, ev DialEvent)
}

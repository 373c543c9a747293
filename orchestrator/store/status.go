package store

import (
	"fmt"
	"strings"
)

// Status is an Exotel call or leg status.
type Status string

// The statuses, in the order a call moves through them. The last five are
// terminal.
const (
	Queued     Status = "queued"
	Ringing    Status = "ringing"
	InProgress Status = "in-progress"
	Completed  Status = "completed"
	Busy       Status = "busy"
	NoAnswer   Status = "no-answer"
	Failed     Status = "failed"
	Canceled   Status = "canceled"
)

var allStatuses = []Status{Queued, Ringing, InProgress, Completed, Busy, NoAnswer, Failed, Canceled}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s.rank() >= 0
}

// Terminal reports whether s ends a call or leg: completed, busy,
// no-answer, failed or canceled.
func (s Status) Terminal() bool {
	return s.rank() == 3
}

// rank orders statuses: queued 0, ringing 1, in-progress 2, terminal 3;
// -1 for unknown values.
func (s Status) rank() int {
	switch s {
	case Queued:
		return 0
	case Ringing:
		return 1
	case InProgress:
		return 2
	case Completed, Busy, NoAnswer, Failed, Canceled:
		return 3
	}
	return -1
}

// predecessors lists the statuses a row may be in for an update to s to
// apply: every status of strictly lower rank. Terminal statuses are never
// predecessors, which is what keeps a late event from overwriting a final
// state; lower ranks also keep reordered events from moving a call back
// (in-progress never returns to ringing).
func (s Status) predecessors() []string {
	r := s.rank()
	var out []string
	for _, p := range allStatuses {
		if p.rank() < r {
			out = append(out, string(p))
		}
	}
	return out
}

// ParseStatus parses an Exotel status, ignoring case and surrounding space.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if !st.Valid() {
		return "", fmt.Errorf("status %q: %w", s, ErrInvalid)
	}
	return st, nil
}

func (s Status) String() string { return string(s) }

// Call directions (Exotel's) and leg directions.
const (
	DirectionInbound      = "inbound"
	DirectionOutboundAPI  = "outbound-api"
	DirectionOutboundDial = "outbound-dial"

	LegInbound  = "inbound"
	LegOutbound = "outbound"
)

func validCallDirection(d string) bool {
	return d == DirectionInbound || d == DirectionOutboundAPI || d == DirectionOutboundDial
}

func validLegDirection(d string) bool {
	return d == LegInbound || d == LegOutbound
}

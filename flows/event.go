package flows

import "time"

// Event is something that happened to a call, fed to [Step]. Every event
// carries the time it happened; the interpreter has no other clock.
type Event interface {
	// Time is when the event happened.
	Time() time.Time
	// Kind names the event, e.g. "DigitsCollected".
	Kind() string
}

// CallInfo describes the call a flow runs on.
type CallInfo struct {
	CallSid   string `json:"call_sid"`
	From      string `json:"from"`
	To        string `json:"to"`
	Direction string `json:"direction"` // incoming or outbound-dial, as Exotel sends to flow URLs
	// ExoPhone is the virtual number the call belongs to; it is the caller
	// id destinations see unless a Connect names another.
	ExoPhone    string `json:"exophone"`
	CustomField string `json:"custom_field,omitempty"`
	FlowID      string `json:"flow_id,omitempty"`
	// Vars fill placeholders: @@Name in a prompt's text is spoken as
	// Vars[Name] (a campaign call carries its contact's fields:
	// @@first_name). A name without a value is spoken as nothing.
	Vars map[string]string `json:"vars,omitempty"`
}

// Started begins the flow on a call.
type Started struct {
	At   time.Time `json:"at"`
	Call CallInfo  `json:"call"`
}

// PlaybackDone reports that a [Play] finished.
type PlaybackDone struct {
	At time.Time `json:"at"`
}

// DigitsCollected reports the result of a [CollectDigits]: the digits
// entered, without the finish key; empty when nothing was entered in time.
type DigitsCollected struct {
	At     time.Time `json:"at"`
	Digits string    `json:"digits"`
}

// DialStatus is the outcome of a [Dial], in Exotel's DialCallStatus words.
type DialStatus string

// Dial outcomes.
const (
	DialCompleted DialStatus = "completed" // someone answered; the conversation is over
	DialBusy      DialStatus = "busy"
	DialNoAnswer  DialStatus = "no-answer"
	DialFailed    DialStatus = "failed"
)

// DialResult reports the end of a [Dial]: for DialCompleted, after the
// conversation has ended.
type DialResult struct {
	At     time.Time  `json:"at"`
	Status DialStatus `json:"status"`
	// AnsweredBy is the destination that answered, if any.
	AnsweredBy string `json:"answered_by,omitempty"`
	// TalkTime is the conversation length in seconds.
	TalkTime int `json:"talk_time,omitempty"`
	// RecordingURL is set when the conversation was recorded.
	RecordingURL string `json:"recording_url,omitempty"`
	// Reason says why a connect failed without dialling (a malformed
	// answer from the customer's URL, nobody to dial, ...).
	Reason string `json:"reason,omitempty"`
}

// RecordingDone reports the end of a [Record].
type RecordingDone struct {
	At       time.Time `json:"at"`
	URL      string    `json:"url,omitempty"`
	Duration int       `json:"duration,omitempty"` // seconds
}

// FetchResult reports the answer to a synchronous [Fetch]: the HTTP status,
// or Err for a timeout or transport failure (StatusCode 0). Body (the
// first MaxFetchBody bytes) and ContentType are the answer's; the flow
// reads them for a switch after a passthru and for dynamic greetings,
// gathers and messages.
type FetchResult struct {
	At          time.Time `json:"at"`
	StatusCode  int       `json:"status_code,omitempty"`
	Err         string    `json:"err,omitempty"`
	Body        string    `json:"body,omitempty"`
	ContentType string    `json:"content_type,omitempty"`
}

// MaxFetchBody is as much of an answer's body as a flow reads.
const MaxFetchBody = 16 << 10

// FlowLoaded answers a [LoadFlow]: Step must then be called with the new
// flow. Err is set when the flow could not be loaded.
type FlowLoaded struct {
	At     time.Time `json:"at"`
	FlowID string    `json:"flow_id"`
	Err    string    `json:"err,omitempty"`
}

// HungUp reports that the caller's channel is gone. If a command was in
// flight, the orchestrator delivers its result (a recording, a dial result)
// before HungUp.
type HungUp struct {
	At    time.Time `json:"at"`
	Cause string    `json:"cause,omitempty"`
}

func (e Started) Time() time.Time         { return e.At }
func (e PlaybackDone) Time() time.Time    { return e.At }
func (e DigitsCollected) Time() time.Time { return e.At }
func (e DialResult) Time() time.Time      { return e.At }
func (e RecordingDone) Time() time.Time   { return e.At }
func (e FetchResult) Time() time.Time     { return e.At }
func (e FlowLoaded) Time() time.Time      { return e.At }
func (e HungUp) Time() time.Time          { return e.At }

func (Started) Kind() string         { return "Started" }
func (PlaybackDone) Kind() string    { return "PlaybackDone" }
func (DigitsCollected) Kind() string { return "DigitsCollected" }
func (DialResult) Kind() string      { return "DialResult" }
func (RecordingDone) Kind() string   { return "RecordingDone" }
func (FetchResult) Kind() string     { return "FetchResult" }
func (FlowLoaded) Kind() string      { return "FlowLoaded" }
func (HungUp) Kind() string          { return "HungUp" }

package flows

// Command is an instruction from the interpreter to the orchestrator. Commands
// are plain data; Kind names them, e.g. "Dial".
type Command interface {
	Kind() string
	// Blocking reports whether the flow waits for this command's result.
	Blocking() bool
}

// Play plays a prompt (audio or text-to-speech). Result: [PlaybackDone].
type Play struct {
	Applet string `json:"applet"`
	Prompt Prompt `json:"prompt"`
}

// CollectDigits plays the prompts in order while listening for digits.
// Result: [DigitsCollected].
type CollectDigits struct {
	Applet    string   `json:"applet"`
	Prompts   []Prompt `json:"prompts"`
	MaxDigits int      `json:"max_digits"`
	// Timeout is the wait for input after the prompts, in seconds.
	Timeout int `json:"timeout"`
	// FinishOnKey ends input early; empty means none.
	FinishOnKey string `json:"finish_on_key,omitempty"`
	// ValidKeys, when set, lists the only keys accepted (an IVR menu).
	ValidKeys string `json:"valid_keys,omitempty"`
}

// Dial rings destinations and bridges the caller to the one that answers.
// Result: [DialResult], after the conversation when someone answered.
type Dial struct {
	Applet       string   `json:"applet"`
	Destinations []string `json:"destinations"`
	Strategy     Strategy `json:"strategy"`
	// RingTimeout is per attempt, in seconds.
	RingTimeout       int    `json:"ring_timeout"`
	Record            bool   `json:"record,omitempty"`
	RecordingChannels string `json:"recording_channels,omitempty"`
	CallerID          string `json:"caller_id"`
	// MaxConversation caps the talk time in seconds; 0 is no limit.
	MaxConversation int    `json:"max_conversation,omitempty"`
	MusicOnHold     string `json:"music_on_hold,omitempty"`

	// URL, when set, is asked for the destinations and settings first
	// (programmable connect); the fields above are its defaults.
	URL         string `json:"url,omitempty"`
	FallbackURL string `json:"fallback_url,omitempty"`
	// Timeout bounds each request to URL, in seconds.
	Timeout int `json:"timeout,omitempty"`
	// MaxParallel caps simultaneous legs with parallel ringing; 0 = all.
	MaxParallel     int  `json:"max_parallel_attempts,omitempty"`
	StateManagement bool `json:"state_management,omitempty"`
	// StickyPeriod, in seconds, turns sticky routing on (0 = off).
	StickyPeriod  int       `json:"sticky_period,omitempty"`
	Queue         *Queue    `json:"queue,omitempty"`
	DialEventURL  string    `json:"dial_event_url,omitempty"`
	StartPlayback *Playback `json:"start_call_playback,omitempty"`
	// Whisper is played to the answering destination before the bridge.
	Whisper *Prompt `json:"whisper,omitempty"`
	// SIPHeaders are sent on SIP trunk legs (a programmable connect's
	// custom_params): header name (X-...) to value.
	SIPHeaders map[string]string `json:"sip_headers,omitempty"`
}

// Record records the caller, after an optional prompt and beep. Result:
// [RecordingDone].
type Record struct {
	Applet string  `json:"applet"`
	Prompt *Prompt `json:"prompt,omitempty"`
	Beep   bool    `json:"beep"`
	// MaxLength and SilenceEnd are in seconds; SilenceEnd 0 disables it.
	MaxLength  int `json:"max_length"`
	SilenceEnd int `json:"silence_end"`
}

// Fetch asks the customer's URL with the call's context: a Passthru, or
// the dynamic settings of a greeting, gather or SMS (Purpose). A
// synchronous Fetch waits for [FetchResult]; an async one is fire and
// forget.
type Fetch struct {
	Applet  string `json:"applet"`
	URL     string `json:"url"`
	Method  string `json:"method"`
	Timeout int    `json:"timeout"` // seconds
	Async   bool   `json:"async,omitempty"`
	// Purpose is empty for a passthru, else what the answer is for:
	// FetchGreeting, FetchGather or FetchSMS. The flow reads the answer's
	// body ([FetchResult.Body]) itself.
	Purpose string `json:"purpose,omitempty"`
}

// Purposes of a [Fetch] other than a passthru.
const (
	FetchGreeting = "greeting" // text/plain: text to speak or audio URL; or {"type","value"}
	FetchGather   = "gather"   // JSON: Exotel's dynamic gather
	FetchSMS      = "sms"      // text/plain: the message
)

// Channel is how a [Send] is delivered.
type Channel string

// Message channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
)

// Send delivers a rendered message. It never blocks the call; delivery
// failures are the orchestrator's to record.
type Send struct {
	Applet  string   `json:"applet"`
	Channel Channel  `json:"channel"`
	To      []string `json:"to"`
	Subject string   `json:"subject,omitempty"`
	Body    string   `json:"body"`
}

// LoadFlow asks for another flow's published version (a Transfer). Result:
// [FlowLoaded], after which Step runs on the new flow.
type LoadFlow struct {
	Applet string `json:"applet"`
	Flow   string `json:"flow"`
}

// Hangup ends the call with a FreeSWITCH hangup cause.
type Hangup struct {
	Cause string `json:"cause"`
	// Reason says why, for the call's log.
	Reason string `json:"reason"`
}

func (Play) Kind() string          { return "Play" }
func (CollectDigits) Kind() string { return "CollectDigits" }
func (Dial) Kind() string          { return "Dial" }
func (Record) Kind() string        { return "Record" }
func (Fetch) Kind() string         { return "Fetch" }
func (Send) Kind() string          { return "Send" }
func (LoadFlow) Kind() string      { return "LoadFlow" }
func (Hangup) Kind() string        { return "Hangup" }

func (Play) Blocking() bool          { return true }
func (CollectDigits) Blocking() bool { return true }
func (Dial) Blocking() bool          { return true }
func (Record) Blocking() bool        { return true }
func (f Fetch) Blocking() bool       { return !f.Async }
func (Send) Blocking() bool          { return false }
func (LoadFlow) Blocking() bool      { return true }
func (Hangup) Blocking() bool        { return false }

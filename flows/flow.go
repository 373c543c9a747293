package flows

import (
	"text/template"
	"time"
)

// Type names an applet kind.
type Type string

// The applet types.
const (
	TypeGreeting      Type = "greeting"
	TypeIVR           Type = "ivr"
	TypeGather        Type = "gather"
	TypeConnect       Type = "connect"
	TypeVoicemail     Type = "voicemail"
	TypeTransfer      Type = "transfer"
	TypePassthru      Type = "passthru"
	TypeBusinessHours Type = "business_hours"
	TypeSMS           Type = "sms"
	TypeEmail         Type = "email"
	TypeHangup        Type = "hangup"
	TypeSwitch        Type = "switch"
)

// Output names shared by several applet types. IVR outputs are also named by
// the keys themselves ("0".."9", "*", "#").
const (
	OutNext      = "next"
	OutTimeout   = "timeout"
	OutInvalid   = "invalid"
	OutAnswered  = "answered"
	OutNoAnswer  = "no_answer"
	OutBusy      = "busy"
	OutFailed    = "failed"
	OutSuccess   = "success"
	OutAlternate = "alternate"
	OutError     = "error"
	OutOpen      = "open"
	OutClosed    = "closed"
	// OutDefault is a switch's output when no case matches.
	OutDefault = "default"
)

// Flow is a decoded flow document. Build one with [Load]; a Flow is
// read-only after that and safe to share between calls.
type Flow struct {
	Name        string             `json:"name,omitempty"`
	Description string             `json:"description,omitempty"`
	Start       string             `json:"start"`
	Applets     map[string]*Applet `json:"applets"`
	// Layout places applets on an editor's canvas (the console's flow
	// builder): applet id → position. Calls never read it.
	Layout map[string]Position `json:"layout,omitempty"`
}

// Position is an applet's place on an editor's canvas, in pixels from the
// top left corner.
type Position struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// MaxCoordinate bounds a layout position's coordinates.
const MaxCoordinate = 100000

// Applet is one node of the graph.
type Applet struct {
	// ID is the applet's key in [Flow.Applets]; it is not part of the JSON.
	ID      string            `json:"-"`
	Type    Type              `json:"type"`
	Name    string            `json:"name,omitempty"`
	Config  Config            `json:"config,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
}

// Config is the type-specific configuration of an applet: one of the
// pointer types below (*Greeting, *IVR, ...). *HangupApplet has no fields.
type Config interface{ appletType() Type }

// Prompt is something played to the caller: an audio file or URL, or text
// spoken by the node's TTS engine. Exactly one of Audio and Text is set.
type Prompt struct {
	// Audio is a URL (http, https) or a path the media node can play.
	Audio string `json:"audio,omitempty"`
	// Text is spoken with text-to-speech.
	Text string `json:"text,omitempty"`
	// Voice optionally names the TTS voice; empty means the node's default.
	Voice string `json:"voice,omitempty"`
}

// Greeting plays one prompt. Output: next.
//
// With URL set the prompt is asked for per call (Exotel's dynamic
// greeting): a GET with the call's parameters, answered with text/plain
// (the text to speak, or an http(s) URL of audio to play) or JSON
// {"type": "text"|"audio_url", "value": "..."}. Prompt is then the
// fallback, played when the URL fails, times out or answers nothing
// usable; without one the greeting is skipped in that case.
type Greeting struct {
	Prompt Prompt `json:"prompt"`
	URL    string `json:"url,omitempty"`
	// URLTimeout bounds the request to URL, in seconds (1..30, default 5).
	URLTimeout int `json:"url_timeout,omitempty"`
}

// IVR plays a menu and collects one key. Outputs: one per key, timeout,
// invalid.
type IVR struct {
	Prompt Prompt `json:"prompt"`
	// InvalidPrompt is played before the menu is repeated after a wrong
	// key or no key, while attempts remain.
	InvalidPrompt *Prompt `json:"invalid_prompt,omitempty"`
	// Timeout is how long to wait for a key, in seconds (1..60, default 5).
	Timeout int `json:"timeout,omitempty"`
	// MaxAttempts is how many times the menu is offered before the timeout
	// or invalid output is taken (1..10, default 1).
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// Gather collects up to MaxDigits digits, ended early by FinishOnKey. The
// digits are kept on the call ([State.Digits]). Output: next.
type Gather struct {
	Prompt Prompt `json:"prompt"`
	// RepeatPrompt is played before asking again after no input.
	RepeatPrompt *Prompt `json:"repeat_prompt,omitempty"`
	// MaxDigits is 1..32 (default 10).
	MaxDigits int `json:"max_digits,omitempty"`
	// FinishOnKey is one of 0-9 * #, or "none" for no finish key
	// (default "#").
	FinishOnKey string `json:"finish_on_key,omitempty"`
	// Timeout is the wait for input in seconds (1..60, default 5).
	Timeout int `json:"timeout,omitempty"`
	// MaxAttempts is how many times the prompt is offered when nothing is
	// entered (1..10, default 1).
	MaxAttempts int `json:"max_attempts,omitempty"`

	// URL asks for the gather's settings per call (Exotel's dynamic
	// gather): a GET with the call's parameters answered with JSON
	// {"gather_prompt": {"text"|"audio_url": ...}, "max_input_digits",
	// "finish_on_key", "input_timeout", "repeat_menu",
	// "repeat_gather_prompt"} (see [ParseGatherAnswer]). The fields above
	// are the defaults of the answer's and the whole fallback when the URL
	// fails; without a prompt the gather is then skipped.
	URL string `json:"url,omitempty"`
	// URLTimeout bounds the request to URL, in seconds (1..30, default 5).
	URLTimeout int `json:"url_timeout,omitempty"`
}

// Strategy says how a Connect rings its destinations.
type Strategy string

// Ringing strategies.
const (
	Sequential Strategy = "sequential"
	Parallel   Strategy = "parallel"
)

// Connect rings one or more destinations and bridges the caller to the first
// that answers. Outputs: answered (taken after the conversation ends),
// no_answer, busy, failed.
type Connect struct {
	// Destinations are phone numbers (+ and digits) or SIP URIs (sip:...).
	Destinations []string `json:"destinations"`
	// Strategy is parallel or sequential (default sequential).
	Strategy Strategy `json:"strategy,omitempty"`
	// RingTimeout is how long each attempt rings, in seconds (5..120,
	// default 30). With parallel ringing it bounds the whole attempt.
	RingTimeout int `json:"ring_timeout,omitempty"`
	// Record asks for the conversation to be recorded.
	Record bool `json:"record,omitempty"`
	// RecordingChannels is single or dual (default single).
	RecordingChannels string `json:"recording_channels,omitempty"`
	// CallerID is shown to the destinations; empty means the ExoPhone the
	// call came in on (number masking).
	CallerID string `json:"caller_id,omitempty"`
	// MaxConversation caps the talk time in seconds (0 = no limit, up to
	// 14400).
	MaxConversation int `json:"max_conversation,omitempty"`
	// MusicOnHold is played to the caller while ringing: empty means
	// ringback tone, otherwise an audio file or URL.
	MusicOnHold string `json:"music_on_hold,omitempty"`

	// URL makes the connect programmable (Exotel's dynamic connect): the
	// customer's server is asked, per call, for the destinations and any
	// of the settings above (response format v1.0 or v1.1). Destinations
	// may then be empty. FallbackURL is asked when URL gives no usable
	// answer.
	URL         string `json:"url,omitempty"`
	FallbackURL string `json:"fallback_url,omitempty"`
	// Timeout bounds each request to URL, in seconds (1..30, default 5).
	Timeout int `json:"timeout,omitempty"`
	// MaxParallel caps how many destinations ring at once with parallel
	// ringing (1..MaxParallelAttempts; 0 = all).
	MaxParallel int `json:"max_parallel_attempts,omitempty"`
	// StateManagement skips destinations already on a call (through any
	// Switchyard instance) and holds each dialled one until its leg ends.
	// Destinations that are users' devices are always state-managed.
	StateManagement bool `json:"state_management,omitempty"`
	// StickyAgent rings the agent a returning caller last spoke to
	// through this applet first.
	StickyAgent *StickyAgent `json:"sticky_agent,omitempty"`
	// Queue lets the caller wait when every destination is busy.
	Queue *Queue `json:"queue,omitempty"`
	// DialEventURL receives dial events (Exotel's dial passthru): a GET
	// per destination when it starts ringing and when its attempt ends.
	DialEventURL string `json:"dial_event_url,omitempty"`
	// StartPlayback is played when a destination answers, before the
	// conversation.
	StartPlayback *Playback `json:"start_call_playback,omitempty"`
	// Whisper is played to the destination that answers, on its own leg,
	// before it is bridged to the caller (who keeps hearing the ringback
	// or hold music meanwhile).
	Whisper *Prompt `json:"whisper,omitempty"`
}

// StickyAgent configures sticky routing on a Connect.
type StickyAgent struct {
	// Period is how long a caller stays with their agent, in seconds
	// (60..2592000, default 86400).
	Period int `json:"period,omitempty"`
}

// Queue configures waiting for a free agent on a Connect.
type Queue struct {
	// MaxWait is the longest wait in seconds (5..3600, default 300); then
	// the busy output is taken.
	MaxWait int `json:"max_wait,omitempty"`
	// MusicOnHold is played while waiting (an audio file or URL, or a
	// local_stream:// or tone_stream://; default DefaultQueueMusic).
	MusicOnHold string `json:"music_on_hold,omitempty"`
	// Announcement, if set, is played every AnnounceEvery seconds
	// (5..600, default 30).
	Announcement  *Prompt `json:"announcement,omitempty"`
	AnnounceEvery int     `json:"announce_every,omitempty"`
}

// Playback is a prompt played to the callee, or to both parties, when a
// connect is answered.
type Playback struct {
	// To is "callee" (default) or "both".
	To     string `json:"playback_to,omitempty"`
	Prompt Prompt `json:"prompt"`
}

// Voicemail records a message. Output: next.
type Voicemail struct {
	Prompt *Prompt `json:"prompt,omitempty"`
	// Beep plays a tone before recording (default true).
	Beep *bool `json:"beep,omitempty"`
	// MaxLength is the longest message in seconds (1..3600, default 120).
	MaxLength int `json:"max_length,omitempty"`
	// SilenceEnd stops the recording after this many seconds of silence
	// (0..60, default 5; 0 disables).
	SilenceEnd *int `json:"silence_end,omitempty"`
}

// Transfer continues the call in another flow's published version (Flow),
// or connects the caller to one number (Number): a phone number, a sip:
// URI or a sip:<TrunkID>. A transfer to a number is a one-destination
// Connect and has its outputs: answered (after the conversation),
// no_answer, busy, failed. Exactly one of Flow and Number is set.
type Transfer struct {
	Flow   string `json:"flow,omitempty"`
	Number string `json:"number,omitempty"`
	// RingTimeout and CallerID are a Connect's (number transfers only).
	RingTimeout int    `json:"ring_timeout,omitempty"`
	CallerID    string `json:"caller_id,omitempty"`
}

// Passthru makes an HTTP request to the customer's URL with the call's
// context. Outputs: success (2xx), alternate (302), error (anything else or a
// timeout). An async passthru does not wait and always takes success.
type Passthru struct {
	URL    string `json:"url"`
	Method string `json:"method,omitempty"` // GET (default) or POST
	Async  bool   `json:"async,omitempty"`
	// Timeout is in seconds (1..30, default 10).
	Timeout int `json:"timeout,omitempty"`
}

// BusinessHours decides open or closed from the call's time in a zone.
// Outputs: open, closed.
type BusinessHours struct {
	Timezone string   `json:"timezone"`
	Windows  []Window `json:"windows"`
	// Holidays are dates (YYYY-MM-DD) in the zone on which the business is
	// closed all day.
	Holidays []string `json:"holidays,omitempty"`

	loc      *time.Location
	holidays map[string]bool
}

// Window is a weekly opening window: on each of Days, from Open to Close
// (HH:MM, 24-hour, Close after Open; "24:00" allowed as Close).
type Window struct {
	Days  []string `json:"days"` // mon tue wed thu fri sat sun
	Open  string   `json:"open"`
	Close string   `json:"close"`

	days        [7]bool
	open, close int // minutes since midnight
}

// SMS sends a templated text message. Output: next.
type SMS struct {
	// To is "caller" (the default) or a phone number.
	To   string `json:"to,omitempty"`
	Body string `json:"body,omitempty"`
	// URL asks for the message per call (Exotel's dynamic SMS): a GET with
	// the call's parameters answered with text/plain, the message itself.
	// Body is then the fallback when the URL fails; without one no
	// message is sent in that case.
	URL string `json:"url,omitempty"`
	// URLTimeout bounds the request to URL, in seconds (1..30, default 5).
	URLTimeout int `json:"url_timeout,omitempty"`

	body *template.Template
}

// Email sends a templated email. Output: next.
type Email struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`

	subject, body *template.Template
}

// Switch branches on a value (Exotel's Switch Case). Its outputs are the
// cases, named by the value they match, plus default, taken when none
// does (required).
//
// On says what is compared:
//   - passthru (the default): a field of the last synchronous passthru's
//     answer body. Exotel's form is a 200 with the text/plain body
//     {"select": "<case>"}; Field names the member (default "select").
//     A body that is not a JSON object is taken whole, trimmed.
//   - digits: the last IVR key or gathered digits.
//   - custom_field: the call's CustomField.
//   - caller_prefix: the caller's number; the longest case that is a
//     prefix of it wins (cases are digits with an optional leading +,
//     compared without the +).
//
// Values are compared exactly (case-sensitive) after trimming spaces.
type Switch struct {
	On    string `json:"on,omitempty"`
	Field string `json:"field,omitempty"`
}

// What a Switch compares.
const (
	SwitchPassthru     = "passthru"
	SwitchDigits       = "digits"
	SwitchCustomField  = "custom_field"
	SwitchCallerPrefix = "caller_prefix"
)

// HangupApplet ends the call. (The name leaves Hangup to the command.)
type HangupApplet struct{}

func (*Greeting) appletType() Type      { return TypeGreeting }
func (*IVR) appletType() Type           { return TypeIVR }
func (*Gather) appletType() Type        { return TypeGather }
func (*Connect) appletType() Type       { return TypeConnect }
func (*Voicemail) appletType() Type     { return TypeVoicemail }
func (*Transfer) appletType() Type      { return TypeTransfer }
func (*Passthru) appletType() Type      { return TypePassthru }
func (*BusinessHours) appletType() Type { return TypeBusinessHours }
func (*SMS) appletType() Type           { return TypeSMS }
func (*Email) appletType() Type         { return TypeEmail }
func (*HangupApplet) appletType() Type  { return TypeHangup }
func (*Switch) appletType() Type        { return TypeSwitch }

// newConfig returns an empty config for a known applet type, or nil.
func newConfig(t Type) Config {
	switch t {
	case TypeGreeting:
		return &Greeting{}
	case TypeIVR:
		return &IVR{}
	case TypeGather:
		return &Gather{}
	case TypeConnect:
		return &Connect{}
	case TypeVoicemail:
		return &Voicemail{}
	case TypeTransfer:
		return &Transfer{}
	case TypePassthru:
		return &Passthru{}
	case TypeBusinessHours:
		return &BusinessHours{}
	case TypeSMS:
		return &SMS{}
	case TypeEmail:
		return &Email{}
	case TypeHangup:
		return &HangupApplet{}
	case TypeSwitch:
		return &Switch{}
	}
	return nil
}

// Types lists every applet type, in a stable order.
func Types() []Type {
	return []Type{TypeGreeting, TypeIVR, TypeGather, TypeConnect, TypeVoicemail, TypeTransfer,
		TypePassthru, TypeBusinessHours, TypeSMS, TypeEmail, TypeHangup, TypeSwitch}
}

// Defaults, applied when a field is zero.
const (
	defaultIVRTimeout     = 5
	defaultAttempts       = 1
	defaultGatherDigits   = 10
	defaultFinishKey      = "#"
	defaultRingTimeout    = 30
	defaultMaxLength      = 120
	defaultSilenceEnd     = 5
	defaultFetchTimeout   = 10
	defaultRecordChannels = "single"
	defaultConnectFetch   = 5
	defaultStickyPeriod   = 86400
	defaultQueueWait      = 300
	defaultAnnounceEvery  = 30
	defaultURLTimeout     = 5
	defaultSwitchField    = "select"
)

// DefaultQueueMusic is the hold music of a queue that names none: a tone
// every node can play (mod_tone_stream), unlike local_stream://, which
// needs mod_local_stream and a configured stream.
const DefaultQueueMusic = "tone_stream://%(400,100,523);%(400,100,659);%(800,1800,784);loops=-1"

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

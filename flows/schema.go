package flows

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// AppletSchema describes one applet type for editors: the web console's
// flow builder generates an applet's form and its branches from it.
type AppletSchema struct {
	Type        Type   `json:"type"`
	Label       string `json:"label"`       // "IVR menu"
	Description string `json:"description"` // one sentence for users
	// Outputs are the fixed outputs, in display order.
	Outputs []OutputSchema `json:"outputs"`
	// DynamicOutputs names the outputs the user adds: "keys" (IVR: one
	// per key 0-9 * #) or "cases" (switch: one per case value); "" none.
	DynamicOutputs string        `json:"dynamic_outputs,omitempty"`
	Fields         []FieldSchema `json:"fields"`
}

// OutputSchema describes one fixed output of an applet type.
type OutputSchema struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	// Required is set when a flow is invalid without this output.
	Required bool `json:"required,omitempty"`
}

// FieldSchema describes one field of an applet's config.
//
// Kind is one of:
//   - "text": one line of text;
//   - "multiline": longer text;
//   - "url": an absolute http or https URL;
//   - "number": a whole number, between Min and Max;
//   - "bool": on or off;
//   - "select": one of Options (a select that is not Required may also be
//     left empty, which means Default);
//   - "prompt": what a caller hears, the object {"audio", "text", "voice"}
//     with exactly one of audio (an audio file or URL) and text (read
//     aloud, by voice if set);
//   - "strings": a list of texts;
//   - "object": a nested object described by Fields, left out when off;
//   - "windows": business-hours windows, a list of {"days": ["mon",
//     ...], "open": "HH:MM", "close": "HH:MM"};
//   - "dates": a list of dates, YYYY-MM-DD.
type FieldSchema struct {
	// Name is the field's JSON key inside config, e.g. "ring_timeout".
	Name  string `json:"name"`
	Label string `json:"label"`
	// Help is one user-facing sentence or two, with units.
	Help     string   `json:"help"`
	Kind     string   `json:"kind"`
	Required bool     `json:"required,omitempty"`
	Options  []string `json:"options,omitempty"`
	Min      *int     `json:"min,omitempty"`
	Max      *int     `json:"max,omitempty"`
	// Default is what the runtime applies when the field is left out (a
	// number, string or bool); nil if nothing is.
	Default any `json:"default,omitempty"`
	// Fields describes an "object" field's members.
	Fields []FieldSchema `json:"fields,omitempty"`
	// Advanced marks a rarely used field that editors may fold away.
	Advanced bool `json:"advanced,omitempty"`
}

// Field kinds.
const (
	kindText      = "text"
	kindMultiline = "multiline"
	kindURL       = "url"
	kindNumber    = "number"
	kindBool      = "bool"
	kindSelect    = "select"
	kindPrompt    = "prompt"
	kindStrings   = "strings"
	kindObject    = "object"
	kindWindows   = "windows"
	kindDates     = "dates"
)

// Kinds of dynamic outputs.
const (
	dynamicKeys  = "keys"
	dynamicCases = "cases"
)

// Schemas describes every applet type, in [Types] order. Each call returns
// a fresh copy the caller may change.
func Schemas() []AppletSchema {
	return []AppletSchema{
		greetingSchema(), ivrSchema(), gatherSchema(), connectSchema(),
		voicemailSchema(), transferSchema(), passthruSchema(),
		businessHoursSchema(), smsSchema(), emailSchema(), hangupSchema(),
		switchSchema(),
	}
}

// SchemaOf describes one applet type; ok is false for an unknown type.
func SchemaOf(t Type) (schema AppletSchema, ok bool) {
	for _, s := range Schemas() {
		if s.Type == t {
			return s, true
		}
	}
	return AppletSchema{}, false
}

// schemasJSON marshals the schemas once.
var schemasJSON = sync.OnceValue(func() []byte {
	data, err := json.Marshal(Schemas())
	if err != nil { // the schemas are plain data: this cannot happen
		panic(fmt.Errorf("flows: marshal applet schemas: %w", err))
	}
	return data
})

// SchemasJSON returns [Schemas] as a JSON array, for embedding in a web
// page (<, > and & are escaped, so it is safe inside a script element).
// It is marshalled once; each call returns a fresh copy.
func SchemasJSON() []byte {
	return slices.Clone(schemasJSON())
}

// Fields shared by several applet types.

func nextOutput(description string) []OutputSchema {
	return []OutputSchema{{Name: OutNext, Label: "Next", Description: description}}
}

// dialOutputs are the outputs of a connect and of a transfer to a number.
func dialOutputs() []OutputSchema {
	return []OutputSchema{
		{Name: OutAnswered, Label: "Answered", Description: "Taken after the conversation ends."},
		{Name: OutNoAnswer, Label: "No answer", Description: "Taken when nobody answers in time."},
		{Name: OutBusy, Label: "Busy", Description: "Taken when the line is busy, or when the queue wait runs out."},
		{Name: OutFailed, Label: "Failed", Description: "Taken when the call cannot be placed."},
	}
}

func dynamicURLFields(label, help string) []FieldSchema {
	return []FieldSchema{
		{Name: "url", Label: label, Help: help, Kind: kindURL, Advanced: true},
		{
			Name: "url_timeout", Label: "URL timeout",
			Help: "How long to wait for your server's answer, in seconds. Only used with a URL.",
			Kind: kindNumber, Min: new(1), Max: new(30), Default: defaultURLTimeout, Advanced: true,
		},
	}
}

func greetingSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeGreeting,
		Label:       "Greeting",
		Description: "Plays a recording or reads a text aloud to the caller, then moves on.",
		Outputs:     nextOutput("Where the call goes after the message."),
		Fields: append([]FieldSchema{
			{
				Name: "prompt", Label: "Message",
				Help: "What the caller hears. Required unless a dynamic greeting URL is set; then it is played when the URL fails.",
				Kind: kindPrompt,
			},
		}, dynamicURLFields("Dynamic greeting URL",
			"Your server is asked for the message on each call and answers with the text to read or the address of a recording.")...),
	}
}

func ivrSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeIVR,
		Label:       "IVR menu",
		Description: "Plays a menu and sends the caller on by the key they press.",
		Outputs: []OutputSchema{
			{Name: OutTimeout, Label: "No key pressed", Description: "Taken when the caller presses nothing, after the last attempt."},
			{Name: OutInvalid, Label: "Wrong key", Description: "Taken when the caller presses a key with no branch, after the last attempt."},
		},
		DynamicOutputs: dynamicKeys,
		Fields: []FieldSchema{
			{
				Name: "prompt", Label: "Menu", Required: true,
				Help: "What the caller hears, e.g. \"Press 1 for sales, 2 for support.\"",
				Kind: kindPrompt,
			},
			{
				Name: "invalid_prompt", Label: "Try-again message",
				Help: "Played before the menu is repeated after a wrong key or no key.",
				Kind: kindPrompt,
			},
			{
				Name: "timeout", Label: "Wait for a key",
				Help: "How long to wait for the caller to press a key, in seconds.",
				Kind: kindNumber, Min: new(1), Max: new(60), Default: defaultIVRTimeout,
			},
			{
				Name: "max_attempts", Label: "Attempts",
				Help: "How many times the menu is played before giving up.",
				Kind: kindNumber, Min: new(1), Max: new(10), Default: defaultAttempts,
			},
		},
	}
}

func gatherSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeGather,
		Label:       "Collect digits",
		Description: "Asks the caller to type a number on the keypad, such as an order number, and keeps it for the next steps.",
		Outputs:     nextOutput("Where the call goes once the digits are in, or when none were typed."),
		Fields: append([]FieldSchema{
			{
				Name: "prompt", Label: "Question",
				Help: "What the caller hears, e.g. \"Please type your order number.\" Required unless a dynamic URL is set.",
				Kind: kindPrompt,
			},
			{
				Name: "repeat_prompt", Label: "Try-again message",
				Help: "Played before the question is asked again after no input.",
				Kind: kindPrompt,
			},
			{
				Name: "max_digits", Label: "Most digits",
				Help: "Input ends when the caller has typed this many digits.",
				Kind: kindNumber, Min: new(1), Max: new(32), Default: defaultGatherDigits,
			},
			{
				Name: "finish_on_key", Label: "Finish key",
				Help:    "The key that ends the input early; \"none\" means no key does.",
				Kind:    kindSelect,
				Options: []string{"#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "none"},
				Default: defaultFinishKey,
			},
			{
				Name: "timeout", Label: "Wait for input",
				Help: "How long to wait for the caller to type, in seconds.",
				Kind: kindNumber, Min: new(1), Max: new(60), Default: defaultIVRTimeout,
			},
			{
				Name: "max_attempts", Label: "Attempts",
				Help: "How many times the question is asked when nothing is typed.",
				Kind: kindNumber, Min: new(1), Max: new(10), Default: defaultAttempts,
			},
		}, dynamicURLFields("Dynamic URL",
			"Your server is asked for the question and these settings on each call; the ones above are used when it fails.")...),
	}
}

func connectSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeConnect,
		Label:       "Connect",
		Description: "Rings one or more agents or numbers and connects the caller to the first who answers.",
		Outputs:     dialOutputs(),
		Fields: []FieldSchema{
			{
				Name: "destinations", Label: "Numbers to ring",
				Help: fmt.Sprintf("Phone numbers with country code (+ and digits) or SIP addresses (sip:...), at most %d. "+
					"Required unless a dynamic connect URL is set.", MaxDestinations),
				Kind: kindStrings,
			},
			{
				Name: "strategy", Label: "Ring order",
				Help:    "Ring the numbers one after another (sequential) or all at once (parallel).",
				Kind:    kindSelect,
				Options: []string{string(Sequential), string(Parallel)},
				Default: string(Sequential),
			},
			{
				Name: "ring_timeout", Label: "Ring time",
				Help: "How long each number rings, in seconds; with parallel ringing, how long they all ring.",
				Kind: kindNumber, Min: new(5), Max: new(120), Default: defaultRingTimeout,
			},
			{
				Name: "record", Label: "Record the call",
				Help: "Record the conversation.",
				Kind: kindBool, Default: false,
			},
			{
				Name: "recording_channels", Label: "Recording channels",
				Help:     "Single puts both sides in one track; dual keeps caller and agent apart. Only used when recording.",
				Kind:     kindSelect,
				Options:  []string{"single", "dual"},
				Default:  defaultRecordChannels,
				Advanced: true,
			},
			{
				Name: "caller_id", Label: "Caller ID",
				Help: "The number the people you ring see. Leave empty to show the number the call came in on.",
				Kind: kindText,
			},
			{
				Name: "max_conversation", Label: "Time limit",
				Help: "The longest the conversation may last, in seconds; 0 means no limit.",
				Kind: kindNumber, Min: new(0), Max: new(MaxConversationCap), Default: 0,
				Advanced: true,
			},
			{
				Name: "music_on_hold", Label: "Ringing music",
				Help: "Played to the caller while the phones ring: a recording's file or URL. Leave empty for a normal ringing tone.",
				Kind: kindText,
			},
			{
				Name: "url", Label: "Dynamic connect URL",
				Help: "Your server is asked on each call whom to ring and how; the numbers above may then be left empty.",
				Kind: kindURL, Advanced: true,
			},
			{
				Name: "fallback_url", Label: "Fallback URL",
				Help: "Asked when the dynamic connect URL gives no usable answer. Needs a dynamic connect URL.",
				Kind: kindURL, Advanced: true,
			},
			{
				Name: "timeout", Label: "URL timeout",
				Help: "How long to wait for each answer from your server, in seconds. Only used with a dynamic connect URL.",
				Kind: kindNumber, Min: new(1), Max: new(30), Default: defaultConnectFetch,
				Advanced: true,
			},
			{
				Name: "max_parallel_attempts", Label: "Ring at most",
				Help: "With parallel ringing, how many numbers ring at the same time; 0 rings them all.",
				Kind: kindNumber, Min: new(0), Max: new(MaxParallelAttempts), Default: 0,
				Advanced: true,
			},
			{
				Name: "state_management", Label: "Skip busy agents",
				Help: "Skip numbers that are already on a call, and keep each one reserved until its call ends.",
				Kind: kindBool, Default: false, Advanced: true,
			},
			{
				Name: "sticky_agent", Label: "Sticky agent",
				Help: "Turn on to ring a returning caller's last agent first.",
				Kind: kindObject,
				Fields: []FieldSchema{
					{
						Name: "period", Label: "Remember for",
						Help: "How long a caller stays with their agent, in seconds (86400 is one day).",
						Kind: kindNumber, Min: new(60), Max: new(30 * 86400), Default: defaultStickyPeriod,
					},
				},
				Advanced: true,
			},
			{
				Name: "queue", Label: "Queue",
				Help: "Turn on to let callers wait for a free agent when everyone is busy.",
				Kind: kindObject,
				Fields: []FieldSchema{
					{
						Name: "max_wait", Label: "Longest wait",
						Help: "How long a caller may wait, in seconds, before the Busy branch is taken.",
						Kind: kindNumber, Min: new(5), Max: new(3600), Default: defaultQueueWait,
					},
					{
						Name: "music_on_hold", Label: "Hold music",
						Help: "Played while the caller waits: a recording's file or URL. Leave empty for a built-in tune.",
						Kind: kindText, Default: DefaultQueueMusic,
					},
					{
						Name: "announcement", Label: "Waiting message",
						Help: "Played to waiting callers again and again, e.g. \"All our agents are busy, please hold.\"",
						Kind: kindPrompt,
					},
					{
						Name: "announce_every", Label: "Repeat message every",
						Help: "Time between waiting messages, in seconds. Needs a waiting message.",
						Kind: kindNumber, Min: new(5), Max: new(600), Default: defaultAnnounceEvery,
					},
				},
			},
			{
				Name: "dial_event_url", Label: "Dial events URL",
				Help: "Your server is told when each number starts ringing and when its attempt ends.",
				Kind: kindURL, Advanced: true,
			},
			{
				Name: "start_call_playback", Label: "Message on answer",
				Help: "Turn on to play a message when the call is answered, before the conversation.",
				Kind: kindObject,
				Fields: []FieldSchema{
					{
						Name: "playback_to", Label: "Played to",
						Help:    "Only the person who answered (callee), or both sides (both).",
						Kind:    kindSelect,
						Options: []string{"callee", "both"},
						Default: "callee",
					},
					{
						Name: "prompt", Label: "Message", Required: true,
						Help: "What is played when the call is answered.",
						Kind: kindPrompt,
					},
				},
				Advanced: true,
			},
			{
				Name: "whisper", Label: "Whisper",
				Help: "Played only to the person who answers, before the caller is put through, e.g. \"Call from the sales line.\"",
				Kind: kindPrompt, Advanced: true,
			},
		},
	}
}

func voicemailSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeVoicemail,
		Label:       "Voicemail",
		Description: "Records a message from the caller.",
		Outputs:     nextOutput("Where the call goes after the recording, also when the caller hangs up to finish it."),
		Fields: []FieldSchema{
			{
				Name: "prompt", Label: "Message before recording",
				Help: "Played before recording starts, e.g. \"Please leave a message after the tone.\"",
				Kind: kindPrompt,
			},
			{
				Name: "beep", Label: "Beep",
				Help: "Play a beep just before recording starts.",
				Kind: kindBool, Default: true,
			},
			{
				Name: "max_length", Label: "Longest message",
				Help: "Recording stops after this many seconds.",
				Kind: kindNumber, Min: new(1), Max: new(3600), Default: defaultMaxLength,
			},
			{
				Name: "silence_end", Label: "Stop after silence",
				Help: "Recording stops after this many seconds of silence; 0 never stops it for silence.",
				Kind: kindNumber, Min: new(0), Max: new(60), Default: defaultSilenceEnd,
			},
		},
	}
}

func transferSchema() AppletSchema {
	outputs := dialOutputs()
	for i := range outputs {
		outputs[i].Description += " Transfers to a number only."
	}
	return AppletSchema{
		Type:        TypeTransfer,
		Label:       "Transfer",
		Description: "Hands the call to another flow, or connects the caller to one number; a transfer to a flow has no outputs, as that flow takes over.",
		Outputs:     outputs,
		Fields: []FieldSchema{
			{
				Name: "flow", Label: "Flow",
				Help: "The ID of the flow that takes over the call. Give a flow or a number, not both.",
				Kind: kindText,
			},
			{
				Name: "number", Label: "Number",
				Help: "A phone number with country code (+ and digits) or a SIP address to connect the caller to. Give a flow or a number, not both.",
				Kind: kindText,
			},
			{
				Name: "ring_timeout", Label: "Ring time",
				Help: "How long the number rings, in seconds. Transfers to a number only.",
				Kind: kindNumber, Min: new(5), Max: new(120), Default: defaultRingTimeout,
			},
			{
				Name: "caller_id", Label: "Caller ID",
				Help: "The number the person you ring sees; leave empty to show the number the call came in on. Transfers to a number only.",
				Kind: kindText,
			},
		},
	}
}

func passthruSchema() AppletSchema {
	return AppletSchema{
		Type:        TypePassthru,
		Label:       "Passthru",
		Description: "Sends the call's details to your web server and branches on its answer.",
		Outputs: []OutputSchema{
			{Name: OutSuccess, Label: "Success", Required: true,
				Description: "Taken when your server answers with a 2xx status, and always when Don't wait is on (then it is optional)."},
			{Name: OutAlternate, Label: "Alternate", Description: "Taken when your server answers with a 302 redirect."},
			{Name: OutError, Label: "Error", Description: "Taken on any other answer, or when your server does not answer in time."},
		},
		Fields: []FieldSchema{
			{
				Name: "url", Label: "URL", Required: true,
				Help: "The address of your web server, starting with http:// or https://.",
				Kind: kindURL,
			},
			{
				Name: "method", Label: "Method",
				Help:    "How the call's details are sent.",
				Kind:    kindSelect,
				Options: []string{"GET", "POST"},
				Default: "GET",
			},
			{
				Name: "async", Label: "Don't wait",
				Help: "Send the request and move on at once along Success, without waiting for the answer.",
				Kind: kindBool, Default: false,
			},
			{
				Name: "timeout", Label: "Timeout",
				Help: "How long to wait for your server's answer, in seconds.",
				Kind: kindNumber, Min: new(1), Max: new(30), Default: defaultFetchTimeout,
			},
		},
	}
}

func businessHoursSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeBusinessHours,
		Label:       "Business hours",
		Description: "Checks the time of the call against your opening hours and holidays.",
		Outputs: []OutputSchema{
			{Name: OutOpen, Label: "Open", Required: true, Description: "Taken during opening hours."},
			{Name: OutClosed, Label: "Closed", Required: true, Description: "Taken outside opening hours and on holidays."},
		},
		Fields: []FieldSchema{
			{
				Name: "timezone", Label: "Time zone", Required: true,
				Help: "The time zone of your opening hours, e.g. Asia/Kolkata or America/New_York.",
				Kind: kindText,
			},
			{
				Name: "windows", Label: "Opening hours", Required: true,
				Help: "The days and times you are open, in 24-hour time (HH:MM); a closing time of 24:00 means midnight.",
				Kind: kindWindows,
			},
			{
				Name: "holidays", Label: "Holidays",
				Help: "Dates (YYYY-MM-DD) on which you are closed all day.",
				Kind: kindDates,
			},
		},
	}
}

func smsSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeSMS,
		Label:       "Send SMS",
		Description: "Sends a text message, to the caller unless you say otherwise, then moves on.",
		Outputs:     nextOutput("Where the call goes after the message is sent."),
		Fields: append([]FieldSchema{
			{
				Name: "to", Label: "Send to",
				Help:    "\"caller\" for the person calling, or a phone number with country code (+ and digits).",
				Kind:    kindText,
				Default: "caller",
			},
			{
				Name: "body", Label: "Message",
				Help: fmt.Sprintf("The text, at most %d characters; call details can be filled in, e.g. {{.From}}. "+
					"Required unless a dynamic SMS URL is set.", MaxSMSBody),
				Kind: kindMultiline,
			},
		}, dynamicURLFields("Dynamic SMS URL",
			"Your server is asked for the text on each call; the message above is sent when it fails.")...),
	}
}

func emailSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeEmail,
		Label:       "Send email",
		Description: "Sends an email, such as a missed-call alert, then moves on.",
		Outputs:     nextOutput("Where the call goes after the email is sent."),
		Fields: []FieldSchema{
			{
				Name: "to", Label: "To", Required: true,
				Help: "The email addresses to send to.",
				Kind: kindStrings,
			},
			{
				Name: "subject", Label: "Subject", Required: true,
				Help: "One line; call details can be filled in, e.g. {{.From}}.",
				Kind: kindText,
			},
			{
				Name: "body", Label: "Message",
				Help: "The email's text; call details can be filled in, e.g. {{.RecordingURL}}.",
				Kind: kindMultiline,
			},
		},
	}
}

func hangupSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeHangup,
		Label:       "Hang up",
		Description: "Ends the call.",
		Outputs:     []OutputSchema{},
		Fields:      []FieldSchema{},
	}
}

func switchSchema() AppletSchema {
	return AppletSchema{
		Type:        TypeSwitch,
		Label:       "Switch",
		Description: "Sends the call down the branch whose case matches a value, such as your server's answer or the keys pressed.",
		Outputs: []OutputSchema{
			{Name: OutDefault, Label: "No match", Required: true, Description: "Taken when no case matches."},
		},
		DynamicOutputs: dynamicCases,
		Fields: []FieldSchema{
			{
				Name: "on", Label: "Compare",
				Help: "What the cases are compared with: the last passthru's answer, the last keys pressed, " +
					"the call's custom field, or the start of the caller's number (the longest matching case wins).",
				Kind:    kindSelect,
				Options: []string{SwitchPassthru, SwitchDigits, SwitchCustomField, SwitchCallerPrefix},
				Default: SwitchPassthru,
			},
			{
				Name: "field", Label: "Answer field",
				Help:     "Which field of the passthru's JSON answer is compared. Only used when comparing the passthru's answer.",
				Kind:     kindText,
				Default:  defaultSwitchField,
				Advanced: true,
			},
		},
	}
}

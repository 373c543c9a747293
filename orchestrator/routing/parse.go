package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Answer versions, as call.Plan.Version names them.
const (
	Version10 = "1.0"
	Version11 = "1.1"
	// VersionPlain is the dial-whom answer: text/plain, one number or a
	// comma-separated list.
	VersionPlain = "text"
)

// Music on hold as a plan gives it to the media node.
const (
	// OperatorTone is the ringback Indian operators play: 425 Hz, one
	// second on, four seconds off (a FreeSWITCH tone_stream, in the
	// TGML of %(on_ms,off_ms,freq)).
	OperatorTone = "tone_stream://%(1000,4000,425)"
	// Silence is what "none" plays: nothing, for as long as it rings.
	Silence = "silence_stream://-1"
)

// DefaultStickyPeriod is the sticky period, in seconds, that sticky_agent
// turns on when the applet has none (a day).
const DefaultStickyPeriod = 86400

// Limits of the answer's fields.
const (
	minRinging = 5
	maxRinging = 120
)

// object is a JSON object whose values are not decoded yet.
type object map[string]json.RawMessage

// answer is what Parse learnt beyond the plan, for Plan's own checks.
type answer struct {
	// callerID is the answer's outgoing_phone_number, if it gave one.
	callerID string
}

// Parse reads a programmable connect's answer: its body, the Content-Type
// it came with and the applet's Dial, whose values the answer's fields
// override. It is the whole check of the answer but for what needs the
// request or the store, which Plan does: the HTTP status (2xx), the size
// limit (Config.MaxBody) and that outgoing_phone_number is one of the
// account's ExoPhones (Parse keeps the number as given; Plan puts the
// ExoPhone's stored E.164 form in its place).
//
// An empty destination list is not an error: the plan then has no
// destinations (nobody dialled).
func Parse(body []byte, contentType string, d flows.Dial) (*call.Plan, error) {
	p, _, err := parse(body, contentType, d)
	return p, err
}

func parse(body []byte, contentType string, d flows.Dial) (*call.Plan, *answer, error) {
	if err := checkContentType(contentType); err != nil {
		return nil, nil, err
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, nil, fmt.Errorf("response body is empty (want a JSON object)")
	case trimmed[0] != '{' && plainText(contentType):
		return plainPlan(trimmed, d)
	case trimmed[0] != '{':
		if json.Valid(trimmed) {
			return nil, nil, fmt.Errorf("response must be a JSON object (got %s)", kind(trimmed))
		}
		return nil, nil, fmt.Errorf("response is not JSON (starts %q)", clip(trimmed, 20))
	}
	var top object
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, nil, fmt.Errorf("response is not valid JSON: %s", jsonReason(err))
	}

	plan := &call.Plan{Dial: d}
	plan.Dial.StartPlayback = clonePlayback(d.StartPlayback)
	var err error
	if plan.Dial.Destinations, plan.Version, err = destinations(top); err != nil {
		return nil, nil, err
	}
	ans := &answer{}
	if err := settings(top, plan, ans); err != nil {
		return nil, nil, err
	}
	return plan, ans, nil
}

// plainText reports whether an answer may be a dial-whom list: text/plain
// or no Content-Type.
func plainText(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return strings.TrimSpace(ct) == "" || (err == nil && mt == "text/plain")
}

// plainPlan reads a dial-whom answer (Exotel's Connect with a plain URL):
// one destination or a comma-separated list, each a phone number, a sip:
// URI or sip:<TrunkID>, with the applet's own settings.
func plainPlan(body []byte, d flows.Dial) (*call.Plan, *answer, error) {
	if !utf8.Valid(body) || hasControl(strings.NewReplacer("\n", "", "\r", "", "\t", "").Replace(string(body))) {
		return nil, nil, fmt.Errorf("response is neither JSON nor a comma-separated list of numbers (starts %q)", clip(body, 20))
	}
	var list []string
	for _, f := range strings.FieldsFunc(string(body), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			list = append(list, f)
		}
	}
	out, err := dedupe(list, func(i int) string { return fmt.Sprintf("numbers[%d]", i) })
	if err != nil {
		return nil, nil, err
	}
	plan := &call.Plan{Dial: d, Version: VersionPlain}
	plan.Dial.StartPlayback = clonePlayback(d.StartPlayback)
	plan.Dial.Destinations = out
	return plan, &answer{}, nil
}

// checkContentType accepts application/json, text/plain or none.
func checkContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("response Content-Type %q is malformed", ct)
	}
	if mt != "application/json" && mt != "text/plain" {
		return fmt.Errorf("response Content-Type must be application/json (got %q)", mt)
	}
	return nil
}

// destinations reads destination and tells the version by its shape.
func destinations(top object) ([]string, string, error) {
	raw, ok := present(top, "destination")
	if !ok {
		return nil, "", fmt.Errorf(`destination: missing (want {"numbers": [...]} or [{"contact_uri": ...}])`)
	}
	var (
		list    []string
		version string
	)
	switch kind(raw) {
	case "an object":
		var o object
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, "", fmt.Errorf("destination: %s", jsonReason(err))
		}
		nums, ok := present(o, "numbers")
		if !ok {
			if raw, trunk := present(o, "trunk"); trunk {
				id, err := str(raw, "destination.trunk")
				if err != nil {
					return nil, "", err
				}
				if id = strings.TrimSpace(id); !dialstr.TrunkID(id) {
					return nil, "", fmt.Errorf("destination.trunk: not a trunk ID (1-64 letters, digits, '.', '_' or '-') (got %q)", clip([]byte(id), 40))
				}
				return []string{"sip:" + id}, Version10, nil
			}
			return nil, "", fmt.Errorf(`destination: an object needs "numbers" (an array of phone numbers or sip: URIs) or "trunk"`)
		}
		if kind(nums) != "an array" {
			return nil, "", fmt.Errorf("destination.numbers: must be an array of strings (got %s)", kind(nums))
		}
		var items []json.RawMessage
		if err := json.Unmarshal(nums, &items); err != nil {
			return nil, "", fmt.Errorf("destination.numbers: %s", jsonReason(err))
		}
		for i, item := range items {
			field := fmt.Sprintf("destination.numbers[%d]", i)
			s, err := str(item, field)
			if err != nil {
				return nil, "", err
			}
			list = append(list, s)
		}
		version = Version10
	case "an array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", fmt.Errorf("destination: %s", jsonReason(err))
		}
		for i, item := range items {
			field := fmt.Sprintf("destination[%d]", i)
			if k := kind(item); k != "an object" {
				return nil, "", fmt.Errorf(`%s: must be an object with "contact_uri" (got %s)`, field, k)
			}
			var o object
			if err := json.Unmarshal(item, &o); err != nil {
				return nil, "", fmt.Errorf("%s: %s", field, jsonReason(err))
			}
			uri, ok := present(o, "contact_uri")
			if !ok {
				return nil, "", fmt.Errorf("%s.contact_uri: missing", field)
			}
			s, err := str(uri, field+".contact_uri")
			if err != nil {
				return nil, "", err
			}
			list = append(list, s)
		}
		version = Version11
	default:
		return nil, "", fmt.Errorf(`destination: must be an object with "numbers" (v1.0) or an array of objects with "contact_uri" (v1.1) (got %s)`, kind(raw))
	}

	out, err := dedupe(list, func(i int) string {
		if version == Version11 {
			return fmt.Sprintf("destination[%d].contact_uri", i)
		}
		return fmt.Sprintf("destination.numbers[%d]", i)
	})
	if err != nil {
		return nil, "", err
	}
	return out, version, nil
}

// dedupe checks each destination, drops duplicates and normalises them;
// field names an entry for an error.
func dedupe(list []string, field func(int) string) ([]string, error) {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		s = strings.TrimSpace(s)
		key, ok := contactKey(s)
		if !ok {
			return nil, fmt.Errorf("%s: not a phone number or sip: URI (got %q)", field(i), clip([]byte(s), 40))
		}
		if seen[key] {
			continue
		}
		s = dialstr.Normalize(s) // SIP: is sip: to the media node
		seen[key] = true
		out = append(out, s)
	}
	if len(out) > flows.MaxDestinations {
		return nil, fmt.Errorf("destination: at most %d destinations (got %d)", flows.MaxDestinations, len(out))
	}
	return out, nil
}

// contactKey accepts a phone number (+ and 3-15 digits, national forms
// included) or a SIP URI that fits in a dial string, and returns its
// store.ContactKey, under which duplicates are told.
func contactKey(s string) (string, bool) {
	if !dialstr.Contact(s) {
		return "", false
	}
	return store.ContactKey(s)
}

// settings applies the answer's optional fields to the plan.
func settings(top object, plan *call.Plan, ans *answer) error {
	d := &plan.Dial

	// Recording: v1.0's flat fields, then v1.1's object; both are read
	// whatever the version.
	if v, ok, err := boolField(top, "record", "record"); err != nil {
		return err
	} else if ok {
		d.Record = v
	}
	if v, ok, err := channelsField(top, "recording_channels", "recording_channels"); err != nil {
		return err
	} else if ok {
		d.RecordingChannels = v
	}
	if rec, ok, err := objectField(top, "recording", "recording"); err != nil {
		return err
	} else if ok {
		if v, ok, err := boolField(rec, "record", "recording.record"); err != nil {
			return err
		} else if ok {
			d.Record = v
		}
		if v, ok, err := channelsField(rec, "channels", "recording.channels"); err != nil {
			return err
		} else if ok {
			d.RecordingChannels = v
		}
	}

	if v, ok, err := intField(top, "max_ringing_duration", "max_ringing_duration", minRinging, maxRinging, " seconds"); err != nil {
		return err
	} else if ok {
		d.RingTimeout = v
	}
	if v, ok, err := intField(top, "max_conversation_duration", "max_conversation_duration", 0, flows.MaxConversationCap, " seconds"); err != nil {
		return err
	} else if ok {
		d.MaxConversation = v
	}

	if pr, ok, err := objectField(top, "parallel_ringing", "parallel_ringing"); err != nil {
		return err
	} else if ok {
		if v, ok, err := boolField(pr, "activate", "parallel_ringing.activate"); err != nil {
			return err
		} else if ok {
			d.Strategy = flows.Sequential
			if v {
				d.Strategy = flows.Parallel
			}
		}
		if v, ok, err := intField(pr, "max_parallel_attempts", "parallel_ringing.max_parallel_attempts", 1, flows.MaxParallelAttempts, ""); err != nil {
			return err
		} else if ok {
			d.MaxParallel = v
		}
	}

	if err := musicOnHold(top, d); err != nil {
		return err
	}
	if err := startPlayback(top, d); err != nil {
		return err
	}

	if v, ok, err := stringField(top, "outgoing_phone_number", "outgoing_phone_number"); err != nil {
		return err
	} else if ok && v != "" {
		if !dialstr.CallerID(v) {
			return fmt.Errorf("outgoing_phone_number: not a phone number (got %q)", clip([]byte(v), 40))
		}
		if _, ok := store.ContactKey(v); !ok {
			return fmt.Errorf("outgoing_phone_number: not a phone number (got %q)", v)
		}
		d.CallerID = v
		ans.callerID = v
	}

	if v, ok, err := boolField(top, "state_management", "state_management"); err != nil {
		return err
	} else if ok {
		d.StateManagement = d.StateManagement || v
	}
	if v, ok, err := boolField(top, "sticky_agent", "sticky_agent"); err != nil {
		return err
	} else if ok {
		switch {
		case !v:
			d.StickyPeriod = 0
		case d.StickyPeriod == 0:
			d.StickyPeriod = DefaultStickyPeriod
		}
	}
	if v, ok, err := boolField(top, "fetch_after_attempt", "fetch_after_attempt"); err != nil {
		return err
	} else if ok {
		plan.FetchAfterAttempt = v
	}

	if v, ok, err := stringField(top, "custom_params", "custom_params"); err != nil {
		return err
	} else if ok && v != "" {
		h, err := customParams(v)
		if err != nil {
			return err
		}
		d.SIPHeaders = h
	}

	// The event URL: v1.0's name, then v1.1's; both are read whatever the
	// version.
	for _, name := range []string{"dial_passthru_event_url", "call_event_passthru_url"} {
		v, ok, err := stringField(top, name, name)
		if err != nil {
			return err
		}
		if !ok || v == "" {
			continue
		}
		if err := checkWebURL(v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		d.DialEventURL = v
	}
	return nil
}

// musicOnHold applies music_on_hold {type, value}.
func musicOnHold(top object, d *flows.Dial) error {
	moh, ok, err := objectField(top, "music_on_hold", "music_on_hold")
	if err != nil || !ok {
		return err
	}
	typ, ok, err := stringField(moh, "type", "music_on_hold.type")
	switch {
	case err != nil:
		return err
	case !ok || typ == "":
		return fmt.Errorf("music_on_hold.type: missing (operator_tone, default_tone, audio_url or none)")
	}
	switch typ {
	case "default_tone":
		d.MusicOnHold = "" // the media node's own ringback
	case "operator_tone":
		d.MusicOnHold = OperatorTone
	case "none":
		d.MusicOnHold = Silence
	case "audio_url":
		v, err := mediaURL(moh, "music_on_hold.value")
		if err != nil {
			return err
		}
		d.MusicOnHold = v
	default:
		return fmt.Errorf("music_on_hold.type: must be operator_tone, default_tone, audio_url or none (got %q)", clip([]byte(typ), 40))
	}
	return nil
}

// startPlayback applies start_call_playback {playback_to, type, value}.
func startPlayback(top object, d *flows.Dial) error {
	sp, ok, err := objectField(top, "start_call_playback", "start_call_playback")
	if err != nil || !ok {
		return err
	}
	to, ok, err := stringField(sp, "playback_to", "start_call_playback.playback_to")
	switch {
	case err != nil:
		return err
	case !ok || to == "":
		to = "callee"
	case to != "callee" && to != "both":
		return fmt.Errorf("start_call_playback.playback_to: must be callee or both (got %q)", clip([]byte(to), 40))
	}
	typ, ok, err := stringField(sp, "type", "start_call_playback.type")
	switch {
	case err != nil:
		return err
	case !ok || typ == "":
		return fmt.Errorf("start_call_playback.type: missing (text or audio_url)")
	}
	p := &flows.Playback{To: to}
	switch typ {
	case "text":
		v, ok, err := stringField(sp, "value", "start_call_playback.value")
		switch {
		case err != nil:
			return err
		case !ok || strings.TrimSpace(v) == "":
			return fmt.Errorf("start_call_playback.value: missing (the text to speak)")
		case len(v) > flows.MaxPromptText:
			return fmt.Errorf("start_call_playback.value: longer than %d characters", flows.MaxPromptText)
		case hasControl(v):
			return fmt.Errorf("start_call_playback.value: contains a control character")
		}
		p.Prompt.Text = v
	case "audio_url":
		v, err := mediaURL(sp, "start_call_playback.value")
		if err != nil {
			return err
		}
		p.Prompt.Audio = v
	default:
		return fmt.Errorf("start_call_playback.type: must be text or audio_url (got %q)", clip([]byte(typ), 40))
	}
	d.StartPlayback = p
	return nil
}

// mediaURL reads an object's value as an audio URL the media node can
// fetch: http(s), and free of what breaks FreeSWITCH arguments.
func mediaURL(o object, field string) (string, error) {
	v, ok, err := stringField(o, "value", field)
	switch {
	case err != nil:
		return "", err
	case !ok || v == "":
		return "", fmt.Errorf("%s: missing (an http or https audio URL)", field)
	}
	if err := checkWebURL(v); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if err := dialstr.Media(v); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

// checkWebURL accepts an absolute http or https URL.
func checkWebURL(v string) error {
	if hasControl(v) {
		return fmt.Errorf("must be an absolute http or https URL (got %q)", clip([]byte(v), 60))
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http or https URL (got %q)", clip([]byte(v), 60))
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// channelsField reads recording channels: single or dual.
func channelsField(o object, name, field string) (string, bool, error) {
	v, ok, err := stringField(o, name, field)
	if err != nil || !ok {
		return "", false, err
	}
	switch c := strings.ToLower(strings.TrimSpace(v)); c {
	case "single", "dual":
		return c, true, nil
	case "":
		return "", false, nil
	}
	return "", false, fmt.Errorf("%s: must be single or dual (got %q)", field, clip([]byte(v), 40))
}

// present returns a member of o unless it is absent or null: null is
// taken as absent, as many servers write unset fields.
func present(o object, name string) (json.RawMessage, bool) {
	raw, ok := o[name]
	if !ok || kind(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func boolField(o object, name, field string) (bool, bool, error) {
	raw, ok := present(o, name)
	if !ok {
		return false, false, nil
	}
	switch string(raw) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, fmt.Errorf("%s: must be true or false (got %s)", field, got(raw))
}

// intField reads a whole number in lo..hi; unit follows the range in the
// error.
func intField(o object, name, field string, lo, hi int, unit string) (int, bool, error) {
	raw, ok := present(o, name)
	if !ok {
		return 0, false, nil
	}
	if kind(raw) != "a number" {
		return 0, false, fmt.Errorf("%s: must be a number (got %s)", field, got(raw))
	}
	s := string(raw)
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil && strings.ContainsAny(s, ".eE"):
		return 0, false, fmt.Errorf("%s: must be a whole number (got %s)", field, clip(raw, 40))
	case err != nil || n < int64(lo) || n > int64(hi):
		return 0, false, fmt.Errorf("%s: must be %d..%d%s (got %s)", field, lo, hi, unit, clip(raw, 40))
	}
	return int(n), true, nil
}

func stringField(o object, name, field string) (string, bool, error) {
	raw, ok := present(o, name)
	if !ok {
		return "", false, nil
	}
	s, err := str(raw, field)
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(s), true, nil
}

func objectField(o object, name, field string) (object, bool, error) {
	raw, ok := present(o, name)
	if !ok {
		return nil, false, nil
	}
	if k := kind(raw); k != "an object" {
		return nil, false, fmt.Errorf("%s: must be an object (got %s)", field, k)
	}
	var out object
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false, fmt.Errorf("%s: %s", field, jsonReason(err))
	}
	return out, true, nil
}

// str decodes a JSON string.
func str(raw json.RawMessage, field string) (string, error) {
	if kind(raw) != "a string" {
		return "", fmt.Errorf("%s: must be a string (got %s)", field, got(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %s", field, jsonReason(err))
	}
	return s, nil
}

// kind names the JSON type of a (valid) value.
func kind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "not JSON"
}

// got describes a value for an error message: its type and its start.
func got(raw []byte) string {
	k := kind(raw)
	if k == "null" {
		return k
	}
	return k + " " + clip(bytes.TrimSpace(raw), 40)
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

// jsonReason is a decoding error without the package's prefix.
func jsonReason(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

func clonePlayback(p *flows.Playback) *flows.Playback {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// maxCustomParams is how many SIP headers custom_params may set, as
// Exotel allows.
const maxCustomParams = 3

// customParams reads a trunk's custom_params, "k1=v1&k2=v2", into SIP
// headers: each name gets an X- prefix unless it has one.
func customParams(v string) (map[string]string, error) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, fmt.Errorf("custom_params: not k1=v1&k2=v2 (got %q)", clip([]byte(v), 40))
	}
	if len(q) > maxCustomParams {
		return nil, fmt.Errorf("custom_params: at most %d parameters (got %d)", maxCustomParams, len(q))
	}
	h := make(map[string]string, len(q))
	for name, values := range q {
		header := name
		if !strings.HasPrefix(strings.ToLower(header), "x-") {
			header = "X-" + header
		}
		value := values[len(values)-1]
		if !dialstr.SIPHeader(header, value) {
			return nil, fmt.Errorf("custom_params: %q=%q cannot be sent as a SIP header (letters, digits and - in names; letters, digits and . _ ~ - + @ : / in values)", clip([]byte(name), 40), clip([]byte(value), 40))
		}
		h[header] = value
	}
	return h, nil
}

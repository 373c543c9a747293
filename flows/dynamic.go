package flows

import (
	"encoding/json"
	"mime"
	"strconv"
	"strings"
)

// Answers of the customer's URLs: dynamic greetings, gathers and messages,
// and the passthru answer a switch reads. They are read here, in the pure
// interpreter, so that the same answer always takes a call the same way;
// the orchestrator only carries the body back (FetchResult). An answer
// that is not usable (a failed request, a status other than 2xx, a body
// that does not parse or breaks a limit) makes the applet use its static
// config.

// usable reports whether a fetch got a 2xx answer.
func (ev FetchResult) usable() bool {
	return ev.Err == "" && ev.StatusCode >= 200 && ev.StatusCode < 300
}

// isJSON reports whether an answer is meant as JSON: its Content-Type
// says so, or its body is an object.
func (ev FetchResult) isJSON(body string) bool {
	if mt, _, err := mime.ParseMediaType(ev.ContentType); err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return true
	}
	return strings.HasPrefix(body, "{")
}

// greetingAnswer reads a dynamic greeting's answer: text/plain with the
// text to speak, or an http(s) URL of audio to play; or JSON
// {"type": "text"|"audio_url", "value": "..."}.
func greetingAnswer(ev FetchResult) (Prompt, bool) {
	if !ev.usable() {
		return Prompt{}, false
	}
	body := strings.TrimSpace(ev.Body)
	var p Prompt
	if ev.isJSON(body) {
		var a struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		}
		if json.Unmarshal([]byte(body), &a) != nil {
			return Prompt{}, false
		}
		switch strings.ToLower(strings.TrimSpace(a.Type)) {
		case "text":
			p.Text = oneLine(a.Value)
		case "audio_url", "audio":
			p.Audio = strings.TrimSpace(a.Value)
		default:
			return Prompt{}, false
		}
	} else if isWebURL(body) {
		p.Audio = body
	} else {
		p.Text = oneLine(body)
	}
	return p, answerPrompt(p)
}

// gatherAnswer reads a dynamic gather's answer (Exotel's JSON, reference
// 5.3) over the applet's own settings; false when it is not usable.
func gatherAnswer(ev FetchResult, base *Gather) (*Gather, bool) {
	if !ev.usable() {
		return nil, false
	}
	var a struct {
		Prompt       *gatherPrompt `json:"gather_prompt"`
		MaxDigits    *int          `json:"max_input_digits"`
		FinishOnKey  *string       `json:"finish_on_key"`
		Timeout      *int          `json:"input_timeout"`
		RepeatMenu   *int          `json:"repeat_menu"`
		RepeatPrompt *gatherPrompt `json:"repeat_gather_prompt"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(ev.Body)), &a) != nil {
		return nil, false
	}
	g := &Gather{Prompt: base.Prompt, RepeatPrompt: base.RepeatPrompt, MaxDigits: base.MaxDigits,
		FinishOnKey: base.FinishOnKey, Timeout: base.Timeout, MaxAttempts: base.MaxAttempts}
	if a.Prompt != nil {
		g.Prompt = a.Prompt.prompt()
	}
	if a.RepeatPrompt != nil {
		p := a.RepeatPrompt.prompt()
		g.RepeatPrompt = &p
	}
	if a.MaxDigits != nil {
		g.MaxDigits = *a.MaxDigits
	}
	if a.FinishOnKey != nil {
		g.FinishOnKey = strings.TrimSpace(*a.FinishOnKey)
	}
	if a.Timeout != nil {
		g.Timeout = *a.Timeout
	}
	if a.RepeatMenu != nil {
		// repeat_menu counts the repeats after the first offer.
		if *a.RepeatMenu < 0 || *a.RepeatMenu > 9 {
			return nil, false
		}
		g.MaxAttempts = 1 + *a.RepeatMenu
	}
	// The answer is held to the applet's own limits.
	var c collector
	configChecker{c: &c, id: "answer"}.check(g)
	if c.list.HasErrors() || !answerPrompt(g.Prompt) || (g.RepeatPrompt != nil && !answerPrompt(*g.RepeatPrompt)) {
		return nil, false
	}
	return g, true
}

// gatherPrompt is a prompt in a gather answer: {"text": ...} or
// {"audio_url": ...}.
type gatherPrompt struct {
	Text     string `json:"text"`
	AudioURL string `json:"audio_url"`
}

func (g gatherPrompt) prompt() Prompt {
	return Prompt{Text: oneLine(g.Text), Audio: strings.TrimSpace(g.AudioURL)}
}

// smsAnswer reads a dynamic SMS's answer: its text/plain body is the
// message.
func smsAnswer(ev FetchResult) (string, bool) {
	if !ev.usable() {
		return "", false
	}
	body := strings.TrimSpace(ev.Body)
	if body == "" || len(body) > MaxSMSBody {
		return "", false
	}
	for _, r := range body {
		if (r < 0x20 && r != '\n' && r != '\r' && r != '\t') || r == 0x7f {
			return "", false
		}
	}
	return body, true
}

// answerPrompt holds a prompt from an answer to the rules of a configured
// one, and its audio to an http(s) URL: a customer's server names no file
// or stream on the media node.
func answerPrompt(p Prompt) bool {
	var c collector
	configChecker{c: &c, id: "answer"}.prompt("prompt", &p)
	return !c.list.HasErrors() && (p.Audio == "" || isWebURL(p.Audio))
}

// oneLine turns line breaks and tabs into spaces: text is spoken, and a
// control character cannot travel in a command.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s))
}

func isWebURL(s string) bool {
	if strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// choose picks a switch's output for the call's state: the matching case,
// else default.
func (sw *Switch) choose(s State, outputs map[string]string) string {
	on := orString(sw.On, SwitchPassthru)
	if on == SwitchCallerPrefix {
		caller := strings.TrimPrefix(strings.TrimSpace(s.Call.From), "+")
		best, bestLen := OutDefault, -1
		for name := range outputs {
			if name == OutDefault {
				continue
			}
			p := strings.TrimPrefix(name, "+")
			if strings.HasPrefix(caller, p) && (len(p) > bestLen || (len(p) == bestLen && name < best)) {
				best, bestLen = name, len(p)
			}
		}
		return best
	}
	var v string
	switch on {
	case SwitchDigits:
		v = s.Digits
	case SwitchCustomField:
		v = s.Call.CustomField
	default:
		v = switchValue(s.Passthru, orString(sw.Field, defaultSwitchField))
	}
	v = strings.TrimSpace(v)
	if _, ok := outputs[v]; ok && v != "" && v != OutDefault {
		return v
	}
	return OutDefault
}

// switchValue reads field from a passthru answer: a JSON object's member
// (a string, or a number or boolean as written), or a body that is not a
// JSON object, whole.
func switchValue(body, field string) string {
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "{") {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b)
	}
	return ""
}

package call

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
)

// Media settings, from Config.
type media struct {
	ttsEngine, ttsVoice string
}

// play returns the application and argument that play one prompt: speak
// for text, playback for audio.
func (m media) play(p flows.Prompt) (app, arg string) {
	if p.Text != "" {
		voice := p.Voice
		if voice == "" {
			voice = m.ttsVoice
		}
		return "speak", m.ttsEngine + "|" + voice + "|" + ttsText(p.Text)
	}
	return "playback", audio(p.Audio)
}

// audio is a prompt's source as it goes into an argument: one that
// slipped past the input checks (dialstr.Media) is played as silence.
func audio(src string) string {
	if dialstr.Media(src) != nil {
		return unsafeAudio
	}
	return src
}

// unsafeAudio stands in for an audio source that would break its argument.
const unsafeAudio = "silence_stream://500"

// menuVoice is the voice a menu's text prompts are spoken in: "say:"
// sources speak in the channel's tts_voice, one voice for the whole
// play_and_get_digits, so a menu takes the voice of its first text prompt
// (its own when it names one, else the default); "" when no prompt is
// text. FreeSWITCH 1.10.12 has no source that names its own voice (it
// answers tts:// with "Invalid file format [tts]"), so the call sets the
// channel's voice before the menu when it changes (call.exec). A voice
// with a "$" in it, which set would expand as a variable, falls back to
// the default.
func (m media) menuVoice(ps []flows.Prompt) string {
	for _, p := range ps {
		if p.Text == "" {
			continue
		}
		if p.Voice == "" || strings.Contains(p.Voice, "$") {
			return m.ttsVoice
		}
		return p.Voice
	}
	return ""
}

// file renders a prompt as one playback source: "say:" runs the channel's
// TTS engine in its voice (tts_engine and tts_voice are set when the call
// starts; a menu sets its own voice first: menuVoice).
func (m media) file(p flows.Prompt) string {
	if p.Text != "" {
		return "say:" + ttsText(p.Text)
	}
	return audio(p.Audio)
}

// ttsText keeps spoken text from breaking the argument syntax it travels
// in: single quotes group arguments, '!' separates file_string parts and
// '|' separates speak's fields.
func ttsText(s string) string { return ttsEscapes.Replace(s) }

// ttsEscapes is built once: a Replacer builds its tables on first use.
var ttsEscapes = strings.NewReplacer("'", "’", "!", ".", "|", ",")

// files joins prompts into one playback source. Prompts that are all
// text become one utterance: a real node loses the digits keyed while it
// plays a file_string of several say: parts inside play_and_get_digits,
// so file_string is kept for prompts with audio in them.
func (m media) files(ps []flows.Prompt) string {
	if len(ps) == 1 {
		return m.file(ps[0])
	}
	texts := make([]string, 0, len(ps))
	for i, p := range ps {
		if p.Text == "" {
			texts = nil
			break
		}
		t := strings.TrimSpace(p.Text)
		if i < len(ps)-1 && t != "" && !strings.ContainsAny(t[len(t)-1:], ".?!,;:") {
			t += "." // a pause between the prompts
		}
		texts = append(texts, t)
	}
	if texts != nil {
		return m.file(flows.Prompt{Text: strings.Join(texts, " ")})
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = m.file(p)
	}
	return "file_string://" + strings.Join(parts, "!")
}

// invalidFile is played by play_and_get_digits after a failed try; the
// flow plays its own invalid prompts, so this is a short silence.
const invalidFile = "silence_stream://250"

// collect builds play_and_get_digits arguments for one attempt:
// min max tries timeout terminators prompt invalid var regex digit_timeout.
func (m media) collect(c flows.CollectDigits, variable string) string {
	terminators := c.FinishOnKey
	if terminators == "" {
		terminators = "none"
	}
	regex := `^[0-9*#]+$`
	if c.ValidKeys != "" {
		regex = "^[" + c.ValidKeys + "]$"
	}
	timeout := max(c.Timeout, 1) * 1000
	return fmt.Sprintf("1 %d 1 %d %s '%s' %s %s %s %d",
		c.MaxDigits, timeout, terminators, m.files(c.Prompts), invalidFile, variable, regex, 3000)
}

// beep is the tone before a voicemail recording.
const beep = "tone_stream://%(500,0,800)"

// silenceThreshold is the energy level below which a frame counts as
// silence for record's silence detection.
const silenceThreshold = 200

// record builds the record application's argument.
func record(path string, r flows.Record) string {
	arg := path + " " + strconv.Itoa(r.MaxLength)
	if r.SilenceEnd > 0 {
		arg += " " + strconv.Itoa(silenceThreshold) + " " + strconv.Itoa(r.SilenceEnd)
	}
	return arg
}

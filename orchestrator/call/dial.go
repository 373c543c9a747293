package call

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
)

// Endpoints turns a destination into a FreeSWITCH endpoint.
type Endpoints struct {
	// Number is the endpoint for a phone number, with {number} in it, e.g.
	// "sofia/gateway/carrier/{number}" or, for the test phone network,
	// "loopback/{number}/switchyard_testnet".
	Number string
	// SIP is the endpoint for a sip: URI, with {uri} (the URI without its
	// scheme), e.g. "sofia/external/{uri}".
	SIP string
	// Trunk is the endpoint for a SIP trunk destination, sip:<TrunkID>
	// (Exotel's form; dialstr.Trunk), with {gateway} and {user}: default
	// "sofia/gateway/{gateway}/{user}". The user is the number the call
	// came in on (its ExoPhone), which the trunk's far end routes on.
	Trunk string
	// Gateways maps a trunk ID to the FreeSWITCH gateway (a sofia
	// gateway defined on every node) it is dialled through; a trunk ID
	// not in the map names a gateway of the same name.
	Gateways map[string]string
}

// DefaultTrunkEndpoint is Endpoints.Trunk's default.
const DefaultTrunkEndpoint = "sofia/gateway/{gateway}/{user}"

// unsafeEndpoint is dialled for a destination dialstr refuses: the leg
// fails at once with this cause, and nothing of the value reaches the
// dial string.
const unsafeEndpoint = "error/INVALID_NUMBER_FORMAT"

// endpoint renders one destination. The inputs were checked where they
// entered (API, flow, CRM answer); this is the last check, at the one
// place a dial string is built.
func (e Endpoints) endpoint(dest string) string {
	return e.endpointFor(dest, "")
}

// endpointFor renders one destination; user is what a trunk destination
// dials on its gateway (none: the trunk cannot be dialled).
func (e Endpoints) endpointFor(dest, user string) string {
	if !dialstr.Contact(dest) {
		return unsafeEndpoint
	}
	if id, ok := dialstr.Trunk(dest); ok {
		gw := id
		if g, ok := e.Gateways[id]; ok {
			gw = g
		}
		if !dialstr.TrunkID(gw) || !dialstr.Contact(user) || strings.Contains(user, ":") {
			return unsafeEndpoint
		}
		tpl := e.Trunk
		if tpl == "" {
			tpl = DefaultTrunkEndpoint
		}
		return strings.NewReplacer("{gateway}", gw, "{user}", user).Replace(tpl)
	}
	dest = dialstr.Normalize(dest)
	if rest, ok := strings.CutPrefix(dest, "sip:"); ok {
		return strings.ReplaceAll(e.SIP, "{uri}", rest)
	}
	if rest, ok := strings.CutPrefix(dest, "sips:"); ok {
		return strings.ReplaceAll(e.SIP, "{uri}", rest)
	}
	return strings.ReplaceAll(e.Number, "{number}", dest)
}

// dialLeg is one destination of a Dial with the UUID its channel will have.
type dialLeg struct {
	uuid, dest string
	held       bool // the destination is held for this leg
}

// dialString builds a bridge argument: every leg gets its own UUID, ring
// timeout and caller id (number masking: destinations see the ExoPhone);
// parallel legs are joined with ',' and sequential ones with '|'.
func dialString(e Endpoints, d flows.Dial, legs []dialLeg, callSID string) string {
	return dialStringFor(e, d, legs, callSID, "", "", media{})
}

// dialStringFor is dialString for a call: trunkUser is what trunk legs
// dial on their gateway (the call's ExoPhone), mark (name=value, or
// empty) is set on every leg, and m speaks a whisper.
// Trunk legs carry the Dial's SIP headers (sip_h_ variables); with a
// whisper every leg runs it once answered and before it is bridged
// (group_confirm_key=exec: FreeSWITCH's originate executes
// group_confirm_file on the answered leg and bridges when it returns,
// while the caller keeps hearing the ringback).
func dialStringFor(e Endpoints, d flows.Dial, legs []dialLeg, callSID, trunkUser, mark string, m media) string {
	sep := "|"
	if d.Strategy == flows.Parallel {
		sep = ","
	}
	parts := make([]string, len(legs))
	for i, l := range legs {
		vars := []string{
			"leg_timeout=" + strconv.Itoa(d.RingTimeout),
			"origination_uuid=" + l.uuid,
		}
		if dialstr.CallerID(d.CallerID) {
			vars = append(vars, "origination_caller_id_number="+d.CallerID)
		}
		vars = append(vars, "switchyard_call="+callSID)
		if mark != "" {
			vars = append(vars, mark)
		}
		if d.MaxConversation > 0 {
			// FreeSWITCH enforces the limit itself, on its own clock, even if
			// Switchyard is gone.
			vars = append(vars, fmt.Sprintf("execute_on_answer='sched_hangup +%d ALLOTTED_TIMEOUT'", d.MaxConversation))
		}
		if _, trunk := dialstr.Trunk(l.dest); trunk {
			vars = append(vars, sipHeaders(d.SIPHeaders)...)
		}
		parts[i] = "[" + strings.Join(vars, ",") + "]" + e.endpointFor(l.dest, trunkUser)
	}
	global := "{ignore_early_media=true}"
	if d.Whisper != nil {
		// group_confirm is read from the originate's own variables, not
		// a leg's.
		global = "{" + strings.Join(append([]string{"ignore_early_media=true"}, whisperVars(*d.Whisper, m)...), ",") + "}"
	}
	return global + strings.Join(parts, sep)
}

// whisperVars play a prompt on a leg once it answers, before the bridge.
func whisperVars(p flows.Prompt, m media) []string {
	var file string
	if p.Text != "" {
		file = "say:" + dialText(p.Text)
	} else {
		file = audio(p.Audio)
		if strings.ContainsAny(file, dialSyntax) {
			file = unsafeAudio
		}
	}
	vars := []string{"group_confirm_key=exec", "group_confirm_file='playback " + file + "'"}
	if p.Text != "" {
		voice := p.Voice
		if voice == "" || strings.ContainsAny(voice, dialSyntax+" ") {
			voice = m.ttsVoice
		}
		vars = append(vars, "tts_engine="+m.ttsEngine, "tts_voice="+voice)
	}
	return vars
}

// dialSyntax are the characters that separate variables, legs and
// arguments in a dial string.
const dialSyntax = ",|[]{}<>'\"!^"

// dialText is text spoken from inside a dial string: dial string syntax
// becomes spaces.
func dialText(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(dialSyntax, r) || r < 0x20 {
			return ' '
		}
		return r
	}, s)
}

// sipHeaders renders custom SIP headers as sip_h_ variables, in name
// order; a header dialstr refuses is left out.
func sipHeaders(h map[string]string) []string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if dialstr.SIPHeader(n, h[n]) {
			out = append(out, "sip_h_"+n+"="+h[n])
		}
	}
	return out
}

package call

import (
	"fmt"
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
}

// unsafeEndpoint is dialled for a destination dialstr refuses: the leg
// fails at once with this cause, and nothing of the value reaches the
// dial string.
const unsafeEndpoint = "error/INVALID_NUMBER_FORMAT"

// endpoint renders one destination. The inputs were checked where they
// entered (API, flow, CRM answer); this is the last check, at the one
// place a dial string is built.
func (e Endpoints) endpoint(dest string) string {
	if !dialstr.Contact(dest) {
		return unsafeEndpoint
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
		if d.MaxConversation > 0 {
			// FreeSWITCH enforces the limit itself, on its own clock, even if
			// Switchyard is gone.
			vars = append(vars, fmt.Sprintf("execute_on_answer='sched_hangup +%d ALLOTTED_TIMEOUT'", d.MaxConversation))
		}
		parts[i] = "[" + strings.Join(vars, ",") + "]" + e.endpoint(l.dest)
	}
	return "{ignore_early_media=true}" + strings.Join(parts, sep)
}

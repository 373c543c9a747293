// Package dialstr is the one gate between outside values and FreeSWITCH's
// dial strings: every destination and caller id that reaches an originate
// or a bridge, whether it came from the REST API, a flow or a CRM's
// answer, is checked here.
//
// A dial string is a small language. ',' and '|' separate endpoints (ring
// in parallel, then in sequence), ":_:" separates enterprise groups,
// '{…}', '[…]' and '<…>' set channel variables, '^^' changes the
// delimiter, and a quote or a space ends the argument. A destination that
// carries any of these can add legs through any gateway or context and set
// any variable, caller id included: toll fraud. So destinations are not
// escaped but held to a grammar with none of these characters in it:
//
//   - a phone number: an optional '+' and 3 to 15 digits;
//   - a SIP URI: sip: or sips: (any case), a user part of unreserved
//     characters and percent escapes, an optional @host of letters,
//     digits, dots and hyphens, an optional :port, and optional
//     ;name=value parameters of the same characters (;transport=tcp).
//
// Prompts are checked by Media. Callers normalise with Normalize and
// check what they build with Check;
// the call runtime checks again when it builds the dial string, so a value
// that slipped past an input check fails its leg instead of dialling.
package dialstr

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen caps a destination: longer ones are not numbers or SIP URIs
// anyone dials.
const MaxLen = 255

// ErrUnsafe is what Check wraps for a value that is not a destination.
var ErrUnsafe = errors.New("not a phone number or sip: URI")

// Number reports whether s is a phone number as dialled: an optional '+'
// and 3 to 15 digits, nothing else.
func Number(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 3 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !digit(s[i]) {
			return false
		}
	}
	return true
}

// SIPURI reports whether s is a sip: or sips: URI of the safe grammar
// (see the package doc).
func SIPURI(s string) bool {
	if len(s) > MaxLen {
		return false
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !(strings.EqualFold(scheme, "sip") || strings.EqualFold(scheme, "sips")) {
		return false
	}
	rest, params, _ := strings.Cut(rest, ";")
	user, host, hasHost := strings.Cut(rest, "@")
	if !userPart(user) {
		return false
	}
	if hasHost && !hostPort(host) {
		return false
	}
	if params == "" {
		return !strings.HasSuffix(s, ";")
	}
	for _, p := range strings.Split(params, ";") {
		name, value, ok := strings.Cut(p, "=")
		if !token(name) || (ok && !token(value)) {
			return false
		}
	}
	return true
}

// Contact reports whether s is a phone number or a SIP URI.
func Contact(s string) bool { return Number(s) || SIPURI(s) }

// Normalize returns a contact in the form the media node gets: a SIP
// URI's scheme in lower case (SIP: is sip:), a number unchanged.
func Normalize(s string) string {
	if scheme, rest, ok := strings.Cut(s, ":"); ok && SIPURI(s) {
		return strings.ToLower(scheme) + ":" + rest
	}
	return s
}

// Check returns nil for a contact, else an error wrapping ErrUnsafe that
// quotes the value (clipped), for logs and API answers.
func Check(s string) error {
	if Contact(s) {
		return nil
	}
	q := s
	if len(q) > 40 {
		q = q[:40] + "…"
	}
	return fmt.Errorf("%q: %w", q, ErrUnsafe)
}

// ErrUnsafeMedia is what Media wraps.
var ErrUnsafeMedia = errors.New("must not contain ' or ! (URL-encode them as %27 and %21) or control characters")

// Media checks a prompt's source (an audio URL, a FreeSWITCH stream or a
// file path) for what would break the application argument it travels
// in: prompts are quoted with ' and joined with ! (file_string), and a
// control character ends an ESL command.
func Media(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\'' || c == '!' || c < 0x20 || c == 0x7f {
			return ErrUnsafeMedia
		}
	}
	return nil
}

// CallerID reports whether s may be sent as a caller id number: a phone
// number as Number has it.
func CallerID(s string) bool { return Number(s) }

func digit(c byte) bool { return c >= '0' && c <= '9' }

func alnum(c byte) bool {
	return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// userPart: unreserved characters (RFC 3986) and '+', with '%' only as
// the start of a two-digit hex escape.
func userPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case alnum(c), c == '.', c == '_', c == '~', c == '-', c == '+':
		case c == '%':
			if i+2 >= len(s) || !hex(s[i+1]) || !hex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func hex(c byte) bool {
	return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// hostPort: a host name or IPv4 address of letters, digits, dots and
// hyphens, and an optional port of 1 to 5 digits.
func hostPort(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if host == "" || host[0] == '.' || host[0] == '-' {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !alnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	if !hasPort {
		return true
	}
	if port == "" || len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if !digit(port[i]) {
			return false
		}
	}
	return true
}

// token: a URI parameter's name or value.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '~' && c != '-' {
			return false
		}
	}
	return true
}

// Trunk reports whether s names a SIP trunk, as Exotel writes one in a
// Connect's destinations: sip:<TrunkID>, a sip: URI with no host, no
// parameters and a user part of letters, digits, '.', '_' and '-' (at most
// 64). It returns the trunk ID. Such a URI cannot be dialled as a SIP URI
// (it names no host); the call runtime dials it through the trunk's
// gateway.
func Trunk(s string) (string, bool) {
	scheme, id, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "sip") || !TrunkID(id) {
		return "", false
	}
	return id, true
}

// TrunkID reports whether s may name a trunk (and the FreeSWITCH gateway
// it maps to): 1 to 64 letters, digits, '.', '_' or '-', starting with a
// letter or digit.
func TrunkID(s string) bool {
	if s == "" || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// SIPHeader reports whether name and value may travel as a custom SIP
// header in a dial string (a sip_h_ variable): a name of letters, digits
// and '-' (at most 64), and a value of at most 128 letters, digits and
// . _ ~ - + @ : / (nothing that separates variables, legs or arguments).
func SIPHeader(name, value string) bool {
	if name == "" || len(name) > 64 || len(value) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case alnum(c), c == '.', c == '_', c == '~', c == '-', c == '+', c == '@', c == ':', c == '/':
		default:
			return false
		}
	}
	return true
}

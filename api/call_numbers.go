package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Phone numbers and contacts in call requests.
//
// Accepted forms:
//   - E.164: '+' and 7 to 15 digits, the first not 0 (+919800000001);
//   - national or local digit strings, 6 to 15 digits (09800000001,
//     08047000000), kept as given: Exotel's own responses echo numbers in
//     the form the request used, and the dial plan decides how to reach
//     them;
//   - where a SIP endpoint may be dialled (v1 From, v3 from.contact_uri):
//     sip: and sips: URIs of the grammar package dialstr allows, which
//     keeps every dial-string separator and variable out.
//
// Spaces, dashes, dots and parentheses inside a number are dropped (but a
// number may not start with a dash: it is no sign). A
// number that starts with a space followed by a digit other than 0 is
// taken to be E.164 whose '+' reached us unencoded in a form body or query
// string (where '+' decodes to a space): "From=+9198…" sent raw by curl.

// callNumber normalises a number (or, with sip, a number or SIP URI) given
// as the request field field. The error is a 400 naming the field.
func callNumber(field, raw string, sip bool) (string, error) {
	v := raw
	if rest, ok := strings.CutPrefix(v, " "); ok {
		if t := strings.TrimLeft(rest, " "); t != "" && t[0] >= '1' && t[0] <= '9' {
			v = "+" + t
		}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", badRequest(field + " is required")
	}
	if sip {
		if u, ok := callSIPURI(v); ok {
			return u, nil
		}
	}
	if v[0] == '-' {
		// "-9198…" is not 9198…: a sign is no part of a number.
		return "", badRequest(fmt.Sprintf("%s %q is not a valid phone number: it must start with + or a digit", field, raw))
	}
	digits := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, v)
	rest, plus := strings.CutPrefix(digits, "+")
	switch {
	case !callDigitsOnly(rest):
	case plus && len(rest) >= 7 && len(rest) <= 15 && rest[0] != '0':
		return "+" + rest, nil
	case !plus && len(rest) >= 6 && len(rest) <= 15:
		return rest, nil
	}
	want := "an E.164 number such as +919800000001 or a national number such as 09800000001"
	if sip {
		want += ", or a sip: URI"
	}
	return "", badRequest(fmt.Sprintf("%s %q is not a valid phone number: want %s", field, raw, want))
}

// callSIPURI reports whether v is a sip: or sips: URI that may reach a
// dial string (dialstr.SIPURI), returning it with the scheme in lower case.
func callSIPURI(v string) (string, bool) {
	if !dialstr.SIPURI(v) {
		return "", false
	}
	return dialstr.Normalize(v), true
}

func callDigitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// errNoExoPhone: a caller id / virtual number names no ExoPhone of the
// account. Handlers map it to their surface's status.
var errNoExoPhone = errors.New("not an ExoPhone of this account")

// callExoPhone finds the account's ExoPhone a request names, in any of the
// forms clients use: E.164 (+918047000000), E.164 without the '+'
// (918047000000), or national with the trunk 0 (08047000000, matched
// against the national part of the account's numbers). A malformed number
// is a 400; an unknown one errNoExoPhone.
func (s *Server) callExoPhone(ctx context.Context, accountSID, field, raw string) (*store.ExoPhone, error) {
	n, err := callNumber(field, raw, false)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Numbers().Match(ctx, accountSID, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%s %s: %w", field, raw, errNoExoPhone)
	case err != nil:
		return nil, fmt.Errorf("look up ExoPhone %s: %w", n, err)
	}
	return p, nil
}

// callMaxURLLen caps URLs given in requests.
const callMaxURLLen = 2048

// callHTTPURL checks that raw is an absolute http(s) URL, for the request
// field field.
func callHTTPURL(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || len(raw) > callMaxURLLen || u.Host == "" ||
		(!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return "", badRequest(fmt.Sprintf("%s %q is not an absolute http or https URL", field, raw))
	}
	return raw, nil
}

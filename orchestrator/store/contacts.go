package store

import (
	"strings"
)

// UserLockPrefix starts the hold key of a user: a user is busy as a whole,
// whichever of their devices is on a call.
const UserLockPrefix = "user:"

// ContactKey is the canonical form of a contact, under which it is held
// and matched to users' devices: "sip:" and the URI lowercased for SIP
// URIs, otherwise the digits of the number without a leading + or 0s, so
// +15550100001, 15550100001 and 015550100001 are one contact. It reports
// false for something that is neither.
//
// A national number and its international form (09800000001,
// +919800000001) are not matched: telling them apart needs the country,
// which a contact does not carry.
func ContactKey(contact string) (string, bool) {
	c := strings.TrimSpace(contact)
	lower := strings.ToLower(c)
	for _, scheme := range []string{"sip:", "sips:"} {
		if rest, ok := strings.CutPrefix(lower, scheme); ok {
			if rest == "" || strings.ContainsAny(rest, " \t\r\n,'\"") {
				return "", false
			}
			return "sip:" + rest, true
		}
	}
	var b strings.Builder
	for i, r := range c {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", false
		}
	}
	digits := strings.TrimLeft(b.String(), "0")
	if len(digits) < 3 || len(digits) > 15 {
		return "", false
	}
	return digits, true
}

// UserLockKey is the hold key of a user.
func UserLockKey(userSID string) string { return UserLockPrefix + userSID }

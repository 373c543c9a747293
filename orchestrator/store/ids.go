package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
)

// NewSID returns a new call SID: 32 lowercase hex characters (128 random bits).
func NewSID() string {
	return randomHex(16)
}

// ValidSID reports whether s has the shape of a call SID.
func ValidSID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newID returns a prefixed random identifier such as "fl_3f9a…" (96 bits).
func newID(prefix string) string {
	return prefix + "_" + randomHex(12)
}

// newToken returns a fresh secret: 256 random bits, hex encoded.
func newToken() string {
	return randomHex(32)
}

// randomHex reads n bytes from crypto/rand (which never fails since Go 1.24)
// and hex-encodes them.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hashToken is how tokens are stored: sha256, hex encoded. Tokens are 256
// random bits, so a fast hash is enough; there is nothing to brute-force.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenMatches compares the hash of token with storedHash in constant time.
func tokenMatches(storedHash, token string) bool {
	got := hashToken(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(storedHash)) == 1
}

// dummyHash is compared against when the user does not exist, so a miss
// costs the same as a wrong token.
var dummyHash = hashToken("switchyard-no-such-user")

var accountSIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,63}$`)

// ValidAccountSID reports whether s is an acceptable account SID: 2 to 64
// characters of lowercase letters, digits, '-' and '_', starting with a
// letter or digit (it appears in URL paths).
func ValidAccountSID(s string) bool {
	return accountSIDPattern.MatchString(s)
}

// accountSIDFor derives a readable SID from an account name: up to 16
// characters of its lowercase letters and digits, then 6 random hex digits
// ("Acme Corp" → "acmecorp3f9a1c").
func accountSIDFor(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 16 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("ac")
	}
	return b.String() + randomHex(3)
}

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidE164 reports whether s is an E.164 number such as +918047000000.
func ValidE164(s string) bool {
	return e164Pattern.MatchString(s)
}

// storable makes text from outside (a receiver's reply, an error from a
// remote server) storable in every database: valid UTF-8 without NULs,
// which PostgreSQL refuses in text columns.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// utc normalises a timestamp the way it is stored: UTC, microsecond
// precision (PostgreSQL's), so values read back compare equal on both
// dialects. The zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// utcPtr is utc for optional timestamps.
func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := utc(*t)
	return &v
}

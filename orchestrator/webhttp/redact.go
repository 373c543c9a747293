package webhttp

import (
	"net/url"
	"strings"
	"unicode"
)

// redacted replaces a secret in a logged URL.
const redacted = "xxxxx"

// unparsable stands for a URL Redact cannot parse, so cannot clean.
const unparsable = "[unparsable URL]"

// Redact returns rawURL fit for a log: a password in its userinfo is
// replaced by xxxxx (a user without a password, often a token, is
// replaced whole), and so is the value of every query (and fragment)
// parameter whose name looks secret (see secretKey). A URL with nothing
// to hide is returned unchanged; one that does not parse is replaced by
// "[unparsable URL]". Only logs get the redacted form: what is sent and
// stored is the URL as given.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return unparsable
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		} else {
			u.User = url.User(redacted)
		}
		changed = true
	}
	if q, ok := maskPairs(u.RawQuery); ok {
		u.RawQuery, changed = q, true
	}
	if f, ok := maskPairs(u.Fragment); ok {
		u.Fragment, u.RawFragment, changed = f, "", true
	}
	if !changed {
		return rawURL
	}
	return u.String()
}

// RedactURLs returns text (an error's, say) with every http or https URL
// in it redacted as Redact does.
func RedactURLs(text string) string {
	lower := strings.ToLower(text)
	var b strings.Builder
	done := 0
	for {
		start := nextURL(lower, done)
		if start < 0 {
			break
		}
		end := len(text)
		if n := strings.IndexFunc(text[start:], endsURL); n >= 0 {
			end = start + n
		}
		// Punctuation after a URL in prose is not part of it.
		for end > start && strings.ContainsRune(".,;:!?)]}", rune(text[end-1])) {
			end--
		}
		b.WriteString(text[done:start])
		b.WriteString(Redact(text[start:end]))
		done = end
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

// nextURL is the index of the first "http://" or "https://" in lower at
// or after from, or -1.
func nextURL(lower string, from int) int {
	best := -1
	for _, scheme := range []string{"http://", "https://"} {
		if i := strings.Index(lower[from:], scheme); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	return best
}

// endsURL tells the characters that end a URL in text: spaces and quotes.
func endsURL(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("\"'`<>", r)
}

// maskPairs masks the values of the secret-looking keys of an
// &-separated list of key=value pairs, keeping everything else as it is;
// ok tells whether anything was masked.
func maskPairs(list string) (string, bool) {
	if !strings.Contains(list, "=") {
		return list, false
	}
	parts := strings.Split(list, "&")
	masked := false
	for i, part := range parts {
		k, v, found := strings.Cut(part, "=")
		if !found || v == "" || v == redacted {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if secretKey(key) {
			parts[i] = k + "=" + redacted
			masked = true
		}
	}
	if !masked {
		return list, false
	}
	return strings.Join(parts, "&"), true
}

// Words that make a parameter name secret: anywhere in one of its words
// (access_token, X-Amz-Signature, client_secret, ...), or a whole word or
// its end (api_key, apikey, sig, auth, oauth, ...).
var (
	secretInWord  = []string{"token", "secret", "passw", "passphrase", "signature", "credential", "authoriz"}
	secretWordEnd = []string{"key", "sig", "auth", "pwd", "pass"}
)

// secretKey tells whether a query parameter's name looks like it holds a
// secret (token, key, secret, password, sig, signature, auth, api_key,
// access_token, ...), case-insensitively. It errs on the side of masking.
func secretKey(key string) bool {
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		for _, s := range secretInWord {
			if strings.Contains(w, s) {
				return true
			}
		}
		for _, s := range secretWordEnd {
			if strings.HasSuffix(w, s) {
				return true
			}
		}
	}
	return false
}

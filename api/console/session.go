package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Sessions.
const (
	// SessionCookie holds a signed session: account SID, API key id and
	// expiry.
	SessionCookie = "switchyard_console"
	// SessionTTL is how long a session lasts after its login.
	SessionTTL = 12 * time.Hour
	// csrfField is the hidden form field carrying the CSRF token.
	csrfField = "csrf"
	// csrfHeader carries the CSRF token of the console's script requests
	// (JSON bodies have no form field).
	csrfHeader = "X-CSRF-Token"
	// sessionVersion starts every session payload, so the format can
	// change without old cookies being misread.
	sessionVersion = "v1"
	// ctxSession is where requireSession leaves the request's session.
	ctxSession = "console.session"
)

// errBadSession: the cookie is missing, malformed, forged or expired.
var errBadSession = errors.New("console: no valid session")

// sessionKeys are the keys derived from the server's signing key, one
// per use, so a value signed for one use (a pre-signed recording URL, a
// session, a CSRF token) is never valid for another.
type sessionKeys struct {
	session, csrf []byte
}

func deriveKeys(signingKey []byte) sessionKeys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, signingKey)
		m.Write([]byte("switchyard console " + label))
		return m.Sum(nil)
	}
	return sessionKeys{session: derive("session v1"), csrf: derive("csrf v1")}
}

func (k sessionKeys) mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// session is a signed-in browser: the account, the API key it signed in
// with ("" when it signed in with the account's own token), when the
// session ends, and a random nonce that makes every login's session (and
// so its CSRF token) its own.
type session struct {
	Account string
	Key     string
	Expires time.Time
	Nonce   string
	// raw is the cookie's value, which the CSRF token is derived from.
	raw string
}

// encode returns the cookie value of a session: the payload
// (version|account|key|expiry|nonce) and its HMAC-SHA256, each
// base64url.
func (k sessionKeys) encode(s session) string {
	payload := strings.Join([]string{sessionVersion, s.Account, s.Key, strconv.FormatInt(s.Expires.Unix(), 10), s.Nonce}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(k.mac(k.session, payload))
}

// decode checks a cookie value's signature and expiry at now.
func (k sessionKeys) decode(value string, now time.Time) (session, error) {
	p64, s64, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return session{}, errBadSession
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil || !hmac.Equal(sig, k.mac(k.session, string(payload))) {
		return session{}, errBadSession
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 5 || f[0] != sessionVersion || f[1] == "" {
		return session{}, errBadSession
	}
	exp, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, errBadSession
	}
	return session{Account: f[1], Key: f[2], Expires: time.Unix(exp, 0), Nonce: f[4], raw: value}, nil
}

// csrfToken is the token forms of session s carry: an HMAC of the
// session's cookie, so it changes with every login and is worthless
// without the cookie.
func (k sessionKeys) csrfToken(s session) string {
	return base64.RawURLEncoding.EncodeToString(k.mac(k.csrf, "session", s.raw))
}

// loginToken is the token the login form carries, bound to the login
// cookie's nonce.
func (k sessionKeys) loginToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(k.mac(k.csrf, "login", nonce))
}

// tokenEqual compares a token from a form with the expected one in
// constant time.
func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// secure reports whether cookies must be Secure: the request came over
// TLS, or the server's public URL is https.
func (cs *console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(cs.d.PublicURL), "https://")
}

// cookie builds a console cookie (HttpOnly, SameSite=Lax, Path=/console);
// maxAge < 0 deletes it.
func (cs *console) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: cs.secure(r)}
}

// sessionOf returns the request's valid session: the cookie's signature
// and expiry hold, and its API key is still active (checked on every
// request, so revoking a key ends its sessions at once).
func (cs *console) sessionOf(c echo.Context) (session, error) {
	ck, err := c.Cookie(SessionCookie)
	if err != nil {
		return session{}, errBadSession
	}
	s, err := cs.keys.decode(ck.Value, cs.d.Now())
	if err != nil {
		return session{}, err
	}
	if err := cs.stillValid(c.Request().Context(), s); err != nil {
		return session{}, err
	}
	return s, nil
}

// stillValid checks that the credential a session signed in with still
// opens its account: the API key exists, is the account's and is not
// revoked; or, for a sign-in with the account's token, the account
// exists. One small query.
func (cs *console) stillValid(ctx context.Context, s session) error {
	if s.Key == "" {
		_, err := cs.d.Store.Accounts().Get(ctx, s.Account)
		if errors.Is(err, store.ErrNotFound) {
			return errBadSession
		}
		if err != nil {
			return fmt.Errorf("console: session account: %w", err)
		}
		return nil
	}
	keys, err := cs.d.Store.Accounts().APIKeys(ctx, s.Account)
	if err != nil {
		return fmt.Errorf("console: session key: %w", err)
	}
	for _, k := range keys {
		if k.Key == s.Key {
			if k.RevokedAt != nil {
				return errBadSession
			}
			return nil
		}
	}
	return errBadSession
}

// requireSession lets requests with a valid session through, with the
// session in the context. Without one, a page is redirected to the login
// (which comes back to it), the live stream answers 401 (an EventSource
// cannot follow a login), and a form is refused with 403.
func (cs *console) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, err := cs.sessionOf(c)
		switch {
		case errors.Is(err, errBadSession):
			r := c.Request()
			if ck, cerr := c.Cookie(SessionCookie); cerr == nil && ck.Value != "" {
				c.SetCookie(cs.cookie(r, SessionCookie, "", -1))
			}
			switch {
			case r.Method != http.MethodGet && r.Method != http.MethodHead:
				return echo.NewHTTPError(http.StatusForbidden, "Your session has ended. Sign in again.")
			case strings.HasSuffix(r.URL.Path, "/events"):
				return echo.NewHTTPError(http.StatusUnauthorized, "Your session has ended. Sign in again.")
			}
			return c.Redirect(http.StatusSeeOther, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()))
		case err != nil:
			return err
		}
		c.Set(ctxSession, s)
		return next(c)
	}
}

// sessionFrom returns the session requireSession found.
func sessionFrom(c echo.Context) session {
	s, _ := c.Get(ctxSession).(session)
	return s
}

// checkCSRF refuses a form that does not come from the console: its
// Origin (or, without one, its Referer) must be this server, and its
// token must be the session's.
func (cs *console) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !cs.sameOrigin(c.Request()) {
			return echo.NewHTTPError(http.StatusForbidden, "This form was not sent from the console.")
		}
		token := c.Request().Header.Get(csrfHeader)
		if token == "" {
			token = c.FormValue(csrfField)
		}
		if !tokenEqual(token, cs.keys.csrfToken(sessionFrom(c))) {
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired. Reload the page and try again.")
		}
		return next(c)
	}
}

// sameOrigin reports whether a form came from a page of this server: the
// Origin header, or the Referer's origin when the browser sent no
// Origin, is the request's own (scheme and host) or the public URL's.
func (cs *console) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref, err := url.Parse(r.Header.Get("Referer"))
		if err != nil || ref.Scheme == "" || ref.Host == "" {
			return false
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	origin = strings.ToLower(origin)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if origin == scheme+"://"+strings.ToLower(r.Host) {
		return true
	}
	if pub, err := url.Parse(cs.d.PublicURL); err == nil && pub.Scheme != "" && pub.Host != "" {
		return origin == strings.ToLower(pub.Scheme+"://"+pub.Host)
	}
	return false
}

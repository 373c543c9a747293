package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// loginCookie holds the nonce the login form's token is bound to.
const loginCookie = "switchyard_console_login"

// loginView is the login page's data.
type loginView struct {
	Key, Next, Error string
	CSRF             string
}

// loginPage shows the login form (or, with a session already, goes to
// the console). It sets a fresh nonce cookie the form's token is bound
// to, so a login form cannot be posted from another site either.
func (cs *console) loginPage(c echo.Context) error {
	if _, err := cs.sessionOf(c); err == nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return cs.renderLogin(c, http.StatusOK, loginView{Next: safeNext(c.QueryParam("next"))})
}

func (cs *console) renderLogin(c echo.Context, status int, v loginView) error {
	nonce := newNonce()
	c.SetCookie(cs.cookie(c.Request(), loginCookie, nonce, 3600))
	v.CSRF = cs.keys.loginToken(nonce)
	return cs.renderStatus(c, status, "login", pageData{Title: "Sign in", Data: v})
}

// login checks an API key and token (or, as legacy API clients may, the
// account SID and a token) with the store's authentication, and opens a
// session. A wrong one counts against the client address's failed
// authentications, as on the API.
func (cs *console) login(c echo.Context) error {
	r := c.Request()
	if !cs.sameOrigin(r) {
		return echo.NewHTTPError(http.StatusForbidden, "This form was not sent from the console.")
	}
	v := loginView{Key: strings.TrimSpace(c.FormValue("key")), Next: safeNext(c.FormValue("next"))}
	ck, err := c.Cookie(loginCookie)
	if err != nil || ck.Value == "" || !tokenEqual(c.FormValue(csrfField), cs.keys.loginToken(ck.Value)) {
		v.Error = "The sign-in form expired. Please try again."
		return cs.renderLogin(c, http.StatusForbidden, v)
	}
	if l := cs.d.AuthFailures; l != nil {
		if ok, wait := l.Take(r); !ok {
			secs := max(int64(math.Ceil(wait.Seconds())), 1)
			c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			v.Error = fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d s.", secs)
			return cs.renderLogin(c, http.StatusTooManyRequests, v)
		}
	}
	ctx := r.Context()
	acc, keyID, err := cs.authenticate(ctx, v.Key, c.FormValue("token"))
	switch {
	case errors.Is(err, store.ErrUnauthorized):
		cs.log.InfoContext(ctx, "console: failed sign-in", "key", clip(v.Key))
		v.Error = "Unknown API key or wrong token."
		return cs.renderLogin(c, http.StatusUnauthorized, v)
	case err != nil:
		if l := cs.d.AuthFailures; l != nil {
			l.Refund(r) // the database failed, not the client
		}
		return fmt.Errorf("console: sign in: %w", err)
	}
	if l := cs.d.AuthFailures; l != nil {
		l.Refund(r)
	}
	s := session{Account: acc.SID, Key: keyID, Expires: cs.d.Now().Add(SessionTTL), Nonce: newNonce()}
	s.raw = cs.keys.encode(s)
	c.SetCookie(cs.cookie(r, SessionCookie, s.raw, int(SessionTTL.Seconds())))
	c.SetCookie(cs.cookie(r, loginCookie, "", -1))
	cs.log.InfoContext(ctx, "console: signed in", "account", acc.SID, "key", keyID)
	return c.Redirect(http.StatusSeeOther, v.Next)
}

// authenticate checks the credentials with the store and tells which API
// key they are ("" for the account's own token): the session is tied to
// it, and ends when it is revoked.
func (cs *console) authenticate(ctx context.Context, user, token string) (*store.Account, string, error) {
	accounts := cs.d.Store.Accounts()
	acc, err := accounts.Authenticate(ctx, user, token)
	if err != nil {
		return nil, "", err
	}
	if user != acc.SID {
		return acc, user, nil
	}
	// The legacy form: the account SID with the account token or with
	// the token of one of its active keys. Find which, so that revoking
	// that key ends the session.
	keys, err := accounts.APIKeys(ctx, acc.SID)
	if err != nil {
		return nil, "", fmt.Errorf("keys of %s: %w", acc.SID, err)
	}
	for _, k := range keys {
		if k.RevokedAt != nil {
			continue
		}
		if _, err := accounts.Authenticate(ctx, k.Key, token); err == nil {
			return acc, k.Key, nil
		} else if !errors.Is(err, store.ErrUnauthorized) {
			return nil, "", err
		}
	}
	return acc, "", nil
}

// logout ends the session: its cookie is cleared.
func (cs *console) logout(c echo.Context) error {
	c.SetCookie(cs.cookie(c.Request(), SessionCookie, "", -1))
	cs.log.InfoContext(c.Request().Context(), "console: signed out", "account", sessionFrom(c).Account)
	return c.Redirect(http.StatusSeeOther, Prefix+"/login")
}

// safeNext is where to go after signing in: a console path, never
// another site (an absolute URL, or //host); the call log otherwise.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, Prefix+"//") &&
		!strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, Prefix+"/login") &&
		!strings.HasSuffix(strings.SplitN(next, "?", 2)[0], "/events") {
		return next
	}
	return Prefix + "/calls"
}

// newNonce returns 16 random bytes in hex.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clip shortens text for a log line.
func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

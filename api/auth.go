package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// authenticate is the middleware of every account route: HTTP Basic with
// an API key and token, or (legacy clients) the account SID and token. The
// credentials must belong to the account in the path (:sid); valid
// credentials for another account are 403, so one tenant learns nothing
// about another.
//
// It also applies the rate limits (per instance, see ratelimit.go): a
// client address that failed authentication too often gets 429 until its
// budget refills, whatever it sends, so tokens cannot be guessed at speed
// (and a storm of failures locks out that address, not the account it
// aims at); an authenticated request spends one of its account's
// requests, 429 when none is left.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		acc, err := s.requestAccount(c)
		if err != nil {
			return err
		}
		if ok, wait := s.requests.take(acc.SID, s.opts.Now()); !ok {
			s.log.DebugContext(c.Request().Context(), "api: account over its rate limit", "account", acc.SID)
			return tooManyRequests(c, wait, fmt.Sprintf("too many requests: the limit is %d a minute per account", s.opts.RateLimit))
		}
		if acc.SID != c.Param("sid") {
			return fail(http.StatusForbidden, CodeForbidden, "these credentials do not grant access to account "+c.Param("sid"))
		}
		c.Set(keyAccount, acc)
		return next(c)
	}
}

// requestAccount returns the account a request acts as: the console
// session's, for a request the console forwarded (see consoleAccountKey),
// or the one its Basic credentials authenticate, failures counted per
// client address.
func (s *Server) requestAccount(c echo.Context) (*store.Account, error) {
	r := c.Request()
	if sid, ok := r.Context().Value(consoleAccountKey{}).(string); ok {
		acc, err := s.store.Accounts().Get(r.Context(), sid)
		if err != nil {
			return nil, storeFail(err, CodeForbidden, "account "+sid)
		}
		return acc, nil
	}
	client := clientKey(r, s.opts.TrustedProxies)
	// A token is taken before the attempt, so concurrent failures
	// cannot overdraw the budget, and given back when it succeeds (an
	// attempt finding none waits for those in flight, see attempt).
	if ok, wait := s.authFailures.attempt(r.Context(), client, s.opts.Now); !ok {
		s.log.DebugContext(r.Context(), "api: too many failed authentications", "client", client)
		return nil, tooManyRequests(c, wait, "too many failed authentications from your address")
	}
	acc, err := s.credentials(c)
	var ae *apiError
	// A database that failed is not the client's failure.
	failed := err != nil && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
	s.authFailures.settle(client, s.opts.Now(), failed)
	if err != nil {
		return nil, err
	}
	return acc, nil
}

// credentials returns the account the request's Basic credentials
// authenticate; 401 when they are missing or wrong.
func (s *Server) credentials(c echo.Context) (*store.Account, error) {
	user, token, ok := c.Request().BasicAuth()
	if !ok {
		return nil, fail(http.StatusUnauthorized, CodeAuthFailed, "authentication required: HTTP Basic with your API key and token")
	}
	acc, err := s.store.Accounts().Authenticate(c.Request().Context(), user, token)
	switch {
	case errors.Is(err, store.ErrUnauthorized):
		return nil, fail(http.StatusUnauthorized, CodeAuthFailed, "authentication failed: unknown API key or wrong token")
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return acc, nil
}

// account returns the authenticated account of the request.
func account(c echo.Context) *store.Account {
	a, _ := c.Get(keyAccount).(*store.Account)
	return a
}

// consoleAccountKey marks a request the web console forwards to the
// management API (see consoleAPI): its value is the account of the
// console's session, which the console has already authenticated. Only
// this server can set a context value: no client can send one.
type consoleAccountKey struct{}

package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// authenticate is the middleware of every account route: HTTP Basic with
// an API key and token, or (legacy clients) the account SID and token. The
// credentials must belong to the account in the path (:sid); valid
// credentials for another account are 403, so one tenant learns nothing
// about another.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		user, token, ok := c.Request().BasicAuth()
		if !ok {
			return fail(http.StatusUnauthorized, CodeAuthFailed, "authentication required: HTTP Basic with your API key and token")
		}
		acc, err := s.store.Accounts().Authenticate(c.Request().Context(), user, token)
		switch {
		case errors.Is(err, store.ErrUnauthorized):
			return fail(http.StatusUnauthorized, CodeAuthFailed, "authentication failed: unknown API key or wrong token")
		case err != nil:
			return err
		}
		if acc.SID != c.Param("sid") {
			return fail(http.StatusForbidden, CodeForbidden, "these credentials do not grant access to account "+c.Param("sid"))
		}
		c.Set(keyAccount, acc)
		return next(c)
	}
}

// account returns the authenticated account of the request.
func account(c echo.Context) *store.Account {
	a, _ := c.Get(keyAccount).(*store.Account)
	return a
}

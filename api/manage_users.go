package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// userView is a user (agent) in management responses.
type userView struct {
	SID   string  `json:"sid"`
	Name  string  `json:"name"`
	Email *string `json:"email"`
	// Devices are the user's numbers and SIP URIs as stored (canonical
	// form), in the order they are tried.
	Devices   []string `json:"devices"`
	Available bool     `json:"available"`
	// Busy: the user is on a call, BusyCallSID (null otherwise).
	Busy        bool    `json:"busy"`
	BusyCallSID *string `json:"busy_call_sid"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// userBody is the body of POST /users (name and devices required) and
// PUT /users/:user_sid (any of the fields; devices replaces the list).
// email may be null on PUT to remove it.
type userBody struct {
	Name      *string         `json:"name"`
	Email     json.RawMessage `json:"email"`
	Devices   *[]string       `json:"devices"`
	Available *bool           `json:"available"`
}

// email reads the email field: absent, null (clears it) or a string.
func (b *userBody) email() (*string, error) {
	if len(b.Email) == 0 {
		return nil, nil
	}
	var s string
	if jsonPresent(b.Email) {
		if err := json.Unmarshal(b.Email, &s); err != nil {
			return nil, badRequest("email must be a string (an email address) or null")
		}
	}
	return &s, nil
}

func (s *Server) userView(u *store.User, busy map[string]string) userView {
	v := userView{
		SID:       u.SID,
		Name:      u.Name,
		Devices:   make([]string, len(u.Devices)),
		Available: u.Available,
		CreatedAt: s.manageTime(u.CreatedAt),
		UpdatedAt: s.manageTime(u.UpdatedAt),
	}
	if u.Email != "" {
		e := u.Email
		v.Email = &e
	}
	for i, d := range u.Devices {
		v.Devices[i] = d.Device
		if d.Device == "" {
			v.Devices[i] = d.Contact
		}
	}
	if call, ok := busy[u.SID]; ok {
		v.Busy, v.BusyCallSID = true, &call
	}
	return v
}

// userURI is the user's management path.
func userURI(accountSID, sid string) string {
	return "/v2/accounts/" + accountSID + "/users/" + sid
}

// userFail maps a users repository error: a refused field is 400 (or 409
// for a device another user has) with the store's message, an unknown
// user 404 code 10731.
func userFail(err error, sid string) error {
	var ue *store.UserInputError
	switch {
	case errors.As(err, &ue) && errors.Is(ue.Err, store.ErrConflict):
		return fail(http.StatusConflict, CodeConflict, ue.Message)
	case errors.As(err, &ue):
		return badRequest(ue.Message)
	}
	what := "user"
	if sid != "" {
		what += " " + sid
	}
	return storeFail(err, CodeUserNotFound, what)
}

// createUser: POST /users {name, email?, devices, available?}.
func (s *Server) createUser(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	var req userBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name is required")
	}
	if req.Devices == nil {
		return badRequest(`devices is required: a list of numbers or SIP URIs, e.g. ["+15550100001", "sip:alice@pbx.example"]`)
	}
	email, err := req.email()
	if err != nil {
		return err
	}
	in := store.UserInput{Name: *req.Name, Devices: *req.Devices, Available: req.Available}
	if email != nil {
		in.Email = *email
	}
	u, err := s.store.Users().Create(ctx, acc.SID, in)
	if err != nil {
		return userFail(err, "")
	}
	s.log.InfoContext(ctx, "api: user created", "account", acc.SID, "user", u.SID)
	c.Response().Header().Set(echo.HeaderLocation, userURI(acc.SID, u.SID))
	// A new user holds no call yet.
	return writeEnvelope(c, http.StatusCreated, nil, success(http.StatusCreated, "user", s.userView(u, nil)))
}

// listUsers: GET /users?offset&limit, oldest first, each with whether it
// is on a call.
func (s *Server) listUsers(c echo.Context) error {
	p, err := listPage(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	all, err := s.store.Users().List(ctx, acc.SID)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	page := pageSlice(all, p)
	sids := make([]string, len(page))
	for i := range page {
		sids[i] = page[i].SID
	}
	busy, err := s.store.Users().Busy(ctx, acc.SID, sids)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	views := make([]userView, len(page))
	for i := range page {
		views[i] = s.userView(&page[i], busy)
	}
	return writeList(c, p, int64(len(all)), views)
}

// userParam reads the :user_sid path parameter.
func userParam(c echo.Context) (string, error) {
	return pathParam(c, "user_sid")
}

// writeUser answers with the user and whether it is on a call.
func (s *Server) writeUser(c echo.Context, u *store.User) error {
	busy, err := s.store.Users().Busy(c.Request().Context(), u.AccountSID, []string{u.SID})
	if err != nil {
		return fmt.Errorf("user %s: %w", u.SID, err)
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "user", s.userView(u, busy)))
}

// getUser: GET /users/:user_sid.
func (s *Server) getUser(c echo.Context) error {
	sid, err := userParam(c)
	if err != nil {
		return err
	}
	u, err := s.store.Users().Get(c.Request().Context(), account(c).SID, sid)
	if err != nil {
		return userFail(err, sid)
	}
	return s.writeUser(c, u)
}

// updateUser: PUT /users/:user_sid {name?, email?, devices?, available?}
// changes the fields sent (at least one); devices replaces the list. All
// or nothing.
func (s *Server) updateUser(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	sid, err := userParam(c)
	if err != nil {
		return err
	}
	var req userBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	email, err := req.email()
	if err != nil {
		return err
	}
	if req.Name == nil && email == nil && req.Devices == nil && req.Available == nil {
		return badRequest("nothing to update: send name, email, devices and/or available")
	}
	u, err := s.store.Users().Update(ctx, acc.SID, sid, store.UserUpdate{
		Name: req.Name, Email: email, Available: req.Available, Devices: req.Devices,
	})
	if err != nil {
		return userFail(err, sid)
	}
	s.log.InfoContext(ctx, "api: user updated", "account", acc.SID, "user", sid)
	return s.writeUser(c, u)
}

// deleteUser: DELETE /users/:user_sid, with its devices. A call the user
// is on goes on.
func (s *Server) deleteUser(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	sid, err := userParam(c)
	if err != nil {
		return err
	}
	if err := s.store.Users().Delete(ctx, acc.SID, sid); err != nil {
		return userFail(err, sid)
	}
	s.log.InfoContext(ctx, "api: user deleted", "account", acc.SID, "user", sid)
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "user", manageDeleted{ID: sid, Deleted: true}))
}

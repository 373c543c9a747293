package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// userView is a user (agent) in management responses: Exotel's CCM user
// (id, first_name, last_name, email, role, devices with their ids and
// switches, active_call, last_login) with Switchyard's own fields (sid,
// name, available, busy).
type userView struct {
	SID       string  `json:"sid"`
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Email     *string `json:"email"`
	Role      string  `json:"role"`
	// Devices are in the order they are tried.
	Devices   []deviceView `json:"devices"`
	Available bool         `json:"available"`
	// Busy: the user is on a call, BusyCallSID (null otherwise);
	// ActiveCall says the same in Exotel's words.
	Busy        bool            `json:"busy"`
	BusyCallSID *string         `json:"busy_call_sid"`
	ActiveCall  *activeCallView `json:"active_call"`
	// LastLogin is always null: Switchyard has no dashboard logins.
	LastLogin *string `json:"last_login"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// deviceView is one of a user's devices.
type deviceView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is tel (a number) or sip.
	Type string `json:"type"`
	// ContactURI is the number or SIP URI as it was given.
	ContactURI string `json:"contact_uri"`
	// Available is the device's own switch: off, it is never dialled.
	Available bool `json:"available"`
	// Verified is always true: Switchyard does not verify devices.
	Verified bool `json:"verified"`
}

type activeCallView struct {
	CallSID string `json:"call_sid"`
}

// userBody is the body of POST /users and PUT /users/:user_sid. POST
// needs name, or first_name and last_name (Exotel's CCM fields); devices
// (Switchyard: a list) or device_contact_uri with device_name (Exotel:
// one device) are optional. PUT changes the fields sent (at least one);
// devices replaces the list, email null removes it.
type userBody struct {
	Name             *string         `json:"name"`
	FirstName        *string         `json:"first_name"`
	LastName         *string         `json:"last_name"`
	Role             *string         `json:"role"`
	Email            json.RawMessage `json:"email"`
	Devices          *[]string       `json:"devices"`
	DeviceContactURI *string         `json:"device_contact_uri"`
	DeviceName       *string         `json:"device_name"`
	Available        *bool           `json:"available"`
}

// devices reads the device fields of a body: devices, or
// device_contact_uri (one device), not both.
func (b *userBody) devices() (*[]string, error) {
	switch {
	case b.Devices != nil && b.DeviceContactURI != nil:
		return nil, badRequest("give devices or device_contact_uri, not both")
	case b.DeviceContactURI != nil:
		return &[]string{*b.DeviceContactURI}, nil
	case b.DeviceName != nil && b.Devices == nil:
		return nil, badRequest("device_name names the device of device_contact_uri: send both")
	}
	return b.Devices, nil
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
		ID:        u.SID,
		Name:      u.Name,
		FirstName: u.FirstName,
		LastName:  u.LastName,
		Role:      u.Role,
		Devices:   make([]deviceView, len(u.Devices)),
		Available: u.Available,
		CreatedAt: s.manageTime(u.CreatedAt),
		UpdatedAt: s.manageTime(u.UpdatedAt),
	}
	if u.Email != "" {
		e := u.Email
		v.Email = &e
	}
	for i, d := range u.Devices {
		dv := deviceView{ID: d.SID, Name: d.Name, Type: "tel", ContactURI: d.Device, Available: d.Available, Verified: true}
		if dv.ContactURI == "" {
			dv.ContactURI = d.Contact
		}
		if strings.HasPrefix(d.Contact, "sip:") {
			dv.Type = "sip"
		}
		v.Devices[i] = dv
	}
	if call, ok := busy[u.SID]; ok {
		v.Busy, v.BusyCallSID, v.ActiveCall = true, &call, &activeCallView{CallSID: call}
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
	if err := decodeJSONOrForm(c, &req, req.fromForm, false); err != nil {
		return err
	}
	if req.Name == nil && req.FirstName == nil && req.LastName == nil {
		return badRequest("name (or first_name and last_name) is required")
	}
	email, err := req.email()
	if err != nil {
		return err
	}
	devices, err := req.devices()
	if err != nil {
		return err
	}
	in := store.UserInput{Name: deref(req.Name), FirstName: deref(req.FirstName), LastName: deref(req.LastName),
		Role: deref(req.Role), DeviceName: deref(req.DeviceName), Available: req.Available}
	if devices != nil {
		in.Devices = *devices
	}
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
	filter, err := readUserFilter(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	listed, err := s.store.Users().List(ctx, acc.SID)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	all := listed[:0]
	for i := range listed {
		if filter.match(&listed[i]) {
			all = append(all, listed[i])
		}
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
	if err := decodeJSONOrForm(c, &req, req.fromForm, false); err != nil {
		return err
	}
	email, err := req.email()
	if err != nil {
		return err
	}
	if req.DeviceName != nil {
		return badRequest("device_name: rename a device with PUT /users/{user_sid}/devices/{device_id}")
	}
	devices, err := req.devices()
	if err != nil {
		return err
	}
	if req.Name == nil && req.FirstName == nil && req.LastName == nil && req.Role == nil && email == nil &&
		devices == nil && req.Available == nil {
		return badRequest("nothing to update: send name, first_name, last_name, role, email, devices and/or available")
	}
	u, err := s.store.Users().Update(ctx, acc.SID, sid, store.UserUpdate{
		Name: req.Name, FirstName: req.FirstName, LastName: req.LastName, Role: req.Role,
		Email: email, Available: req.Available, Devices: devices,
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

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// deviceBody is the body of PUT /users/:user_sid/devices/:device_id.
type deviceBody struct {
	Available  *bool   `json:"available"`
	ContactURI *string `json:"contact_uri"`
	Name       *string `json:"name"`
}

// updateUserDevice: PUT /users/:user_sid/devices/:device_id switches a
// device on or off (available, in the JSON body or the query: Exotel's
// clients send either), moves it to another contact_uri or renames it.
// The body may be left out when the query says it all.
func (s *Server) updateUserDevice(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	sid, err := userParam(c)
	if err != nil {
		return err
	}
	dev, err := pathParam(c, "device_id")
	if err != nil {
		return err
	}
	var req deviceBody
	if err := decodeJSONOrForm(c, &req, req.fromForm, true); err != nil {
		return err
	}
	if q := c.QueryParam("available"); q != "" {
		on, err := strconv.ParseBool(q)
		if err != nil {
			return badRequest(fmt.Sprintf("available=%q: want true or false", q))
		}
		if req.Available != nil && *req.Available != on {
			return badRequest("available differs between the query and the body")
		}
		req.Available = &on
	}
	if req.Available == nil && req.ContactURI == nil && req.Name == nil {
		return badRequest("nothing to update: send available, contact_uri and/or name")
	}
	u, err := s.store.Users().UpdateDevice(ctx, acc.SID, sid, dev, store.DeviceUpdate{
		Available: req.Available, Contact: req.ContactURI, Name: req.Name,
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return manageNotFound(CodeUserNotFound, "device "+dev+" of user "+sid)
		}
		return userFail(err, sid)
	}
	s.log.InfoContext(ctx, "api: user device updated", "account", acc.SID, "user", sid, "device", dev)
	return s.writeUser(c, u)
}

// userFilter is GET /users' Exotel filters: devices.contact_uri and email,
// each comma-separated; a user matches when any value does.
type userFilter struct {
	contacts map[string]bool // ContactKey form
	emails   map[string]bool // lowercased
}

func readUserFilter(c echo.Context) (userFilter, error) {
	var f userFilter
	if v := c.QueryParam("fields"); v != "" {
		for _, field := range strings.Split(v, ",") {
			switch strings.TrimSpace(field) {
			case "devices", "active_call", "last_login":
			default:
				return f, badRequest(fmt.Sprintf("fields: %q is not devices, active_call or last_login (every user carries all three)", field))
			}
		}
	}
	if v := c.QueryParam("devices.contact_uri"); v != "" {
		f.contacts = map[string]bool{}
		for _, d := range strings.Split(v, ",") {
			k, ok := store.ContactKey(d)
			if !ok {
				return f, badRequest(fmt.Sprintf("devices.contact_uri: %q is not a phone number or SIP URI", d))
			}
			f.contacts[k] = true
		}
	}
	if v := c.QueryParam("email"); v != "" {
		f.emails = map[string]bool{}
		for _, e := range strings.Split(v, ",") {
			f.emails[strings.ToLower(strings.TrimSpace(e))] = true
		}
	}
	return f, nil
}

func (f userFilter) match(u *store.User) bool {
	if f.emails != nil && !f.emails[strings.ToLower(u.Email)] {
		return false
	}
	if f.contacts == nil {
		return true
	}
	for _, d := range u.Devices {
		if f.contacts[d.Contact] {
			return true
		}
	}
	return false
}

// decodeJSONOrForm reads a users request body: JSON, as Exotel documents
// it, or a URL-encoded form, which some of Exotel's clients send (under a
// form Content-Type, or even under application/json), handed to
// fromForm. optional lets the body be left out.
func decodeJSONOrForm(c echo.Context, v any, fromForm func(url.Values) error, optional bool) error {
	r := c.Request()
	ct := strings.ToLower(r.Header.Get(echo.HeaderContentType))
	if strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm) {
		form, err := formParams(c)
		if err != nil {
			return err
		}
		for k := range c.QueryParams() {
			form.Del(k) // the body's fields only
		}
		return fromForm(form)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyErr(err)
	}
	body := bytes.TrimSpace(raw)
	switch {
	case len(body) == 0 && optional:
		return nil
	case len(body) > 0 && body[0] != '{' && strings.HasPrefix(ct, echo.MIMEApplicationJSON):
		form, err := url.ParseQuery(string(body))
		if err != nil || len(form) == 0 {
			return badRequest("the body is neither a JSON object nor a URL-encoded form")
		}
		return fromForm(form)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if ct == "" && len(body) == 0 {
		r.ContentLength = 0
	}
	return decodeJSON(c, v)
}

// formFields checks that a form names only known fields, each once.
func formFields(form url.Values, known ...string) error {
	for k, vs := range form {
		if !slices.Contains(known, k) {
			return badRequest(fmt.Sprintf("unknown field %q", k))
		}
		if len(vs) > 1 && k != "devices" {
			return badRequest(fmt.Sprintf("field %q is given %d times", k, len(vs)))
		}
	}
	return nil
}

// formBool reads a true/false form field into *dst when it is there.
func formBool(form url.Values, name string, dst **bool) error {
	if _, ok := form[name]; !ok {
		return nil
	}
	b, err := strconv.ParseBool(form.Get(name))
	if err != nil {
		return badRequest(fmt.Sprintf("%s=%q: want true or false", name, form.Get(name)))
	}
	*dst = &b
	return nil
}

// formString reads a form field into *dst when it is there.
func formString(form url.Values, name string, dst **string) {
	if _, ok := form[name]; ok {
		v := form.Get(name)
		*dst = &v
	}
}

// fromForm fills the body from a form: the JSON fields by the same
// names, devices repeated (or comma-separated) for a list.
func (b *userBody) fromForm(form url.Values) error {
	if err := formFields(form, "name", "first_name", "last_name", "role", "email", "devices",
		"device_contact_uri", "device_name", "available"); err != nil {
		return err
	}
	formString(form, "name", &b.Name)
	formString(form, "first_name", &b.FirstName)
	formString(form, "last_name", &b.LastName)
	formString(form, "role", &b.Role)
	formString(form, "device_contact_uri", &b.DeviceContactURI)
	formString(form, "device_name", &b.DeviceName)
	if _, ok := form["email"]; ok {
		e, _ := json.Marshal(form.Get("email"))
		b.Email = e
	}
	if vs, ok := form["devices"]; ok {
		var devs []string
		for _, v := range vs {
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					devs = append(devs, d)
				}
			}
		}
		b.Devices = &devs
	}
	return formBool(form, "available", &b.Available)
}

// fromForm fills the body from a form.
func (b *deviceBody) fromForm(form url.Values) error {
	if err := formFields(form, "available", "contact_uri", "name"); err != nil {
		return err
	}
	formString(form, "contact_uri", &b.ContactURI)
	formString(form, "name", &b.Name)
	return formBool(form, "available", &b.Available)
}

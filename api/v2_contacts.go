package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Limits of a contact's fields.
const (
	v2MaxText        = 200 // names, company, tag
	v2MaxEmail       = 254
	v2MaxCustomKeys  = 50
	v2MaxCustomKey   = 64
	v2MaxCustomValue = 1000
)

// v2Contact is a contact in v2 answers.
type v2Contact struct {
	SID         string            `json:"sid"`
	Number      string            `json:"number"`
	FirstName   string            `json:"first_name"`
	LastName    string            `json:"last_name"`
	CompanyName string            `json:"company_name"`
	Email       string            `json:"email"`
	Tag         string            `json:"tag"`
	CustomField map[string]string `json:"custom_field"`
	// Timezone is the contact's IANA zone; null for the campaign's.
	Timezone    *string `json:"timezone"`
	DateCreated string  `json:"date_created"`
	DateUpdated string  `json:"date_updated"`
	URI         string  `json:"uri"`
}

func v2ContactView(ct *store.Contact) v2Contact {
	cf := make(map[string]string, len(ct.CustomField))
	for k, v := range ct.CustomField {
		cf[k] = v
	}
	return v2Contact{
		SID:         ct.SID,
		Number:      ct.Number,
		FirstName:   ct.FirstName,
		LastName:    ct.LastName,
		CompanyName: ct.CompanyName,
		Email:       ct.Email,
		Tag:         ct.Tag,
		CustomField: cf,
		Timezone:    v2Str(ct.Timezone),
		DateCreated: campaign.Time(ct.CreatedAt),
		DateUpdated: campaign.Time(ct.UpdatedAt),
		URI:         "/v2/accounts/" + ct.AccountSID + "/contacts/" + ct.SID,
	}
}

func v2ContactViews(cs []store.Contact) []v2Contact {
	out := make([]v2Contact, len(cs))
	for i := range cs {
		out[i] = v2ContactView(&cs[i])
	}
	return out
}

// v2ContactIn is a contact in a request. custom_field (Exotel's example)
// and custom (its table) are the same object of free-form fields, whose
// values are strings (numbers and booleans are taken as their text).
type v2ContactIn struct {
	Number      *string         `json:"number"`
	FirstName   *string         `json:"first_name"`
	LastName    *string         `json:"last_name"`
	CompanyName *string         `json:"company_name"`
	Email       *string         `json:"email"`
	Tag         *string         `json:"tag"`
	CustomField json.RawMessage `json:"custom_field"`
	Custom      json.RawMessage `json:"custom"`
	Timezone    *string         `json:"timezone"`
}

// apply sets the fields given onto ct and checks the result.
func (in *v2ContactIn) apply(ct *store.Contact) error {
	for _, f := range []struct {
		v   *string
		dst *string
	}{{in.Number, &ct.Number}, {in.FirstName, &ct.FirstName}, {in.LastName, &ct.LastName},
		{in.CompanyName, &ct.CompanyName}, {in.Email, &ct.Email}, {in.Tag, &ct.Tag}, {in.Timezone, &ct.Timezone}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	custom, field := in.CustomField, "custom_field"
	if len(in.Custom) > 0 {
		if len(custom) > 0 {
			return badRequest("give custom_field or custom, not both")
		}
		custom, field = in.Custom, "custom"
	}
	if len(custom) > 0 {
		m, err := v2CustomObject(field, custom)
		if err != nil {
			return err
		}
		ct.CustomField = m
	}
	return v2CheckContact(ct)
}

// v2CustomObject reads a contact's free-form fields: an object (null for
// none) whose values are strings, numbers or booleans.
func v2CustomObject(field string, raw json.RawMessage) (map[string]string, error) {
	if !jsonPresent(raw) {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, badRequest(field + " must be an object of text fields")
	}
	m := make(map[string]string, len(obj))
	for k, v := range obj {
		var str string
		switch t := bytes.TrimSpace(v); {
		case json.Unmarshal(t, &str) == nil:
		case bytes.Equal(t, []byte("null")):
			continue
		case len(t) > 0 && (t[0] == '{' || t[0] == '['):
			return nil, badRequest(fmt.Sprintf("%s.%s must be text, a number or a boolean", field, clipText(k)))
		default:
			str = string(t)
		}
		m[k] = str
	}
	return m, nil
}

// v2CheckContact normalises and checks a contact: number (a phone number
// or sip: URI, normalised like a call's), the text fields, email,
// timezone (an IANA zone) and the custom fields. Every field is held to
// the input gate's rules too, since a CSV upload's file is not checked
// by it.
func v2CheckContact(ct *store.Contact) error {
	n, err := callNumber("number", ct.Number, true)
	if err != nil {
		return err
	}
	ct.Number = n
	for _, f := range []struct {
		name string
		v    *string
	}{{"first_name", &ct.FirstName}, {"last_name", &ct.LastName}, {"company_name", &ct.CompanyName}, {"tag", &ct.Tag}} {
		*f.v = strings.TrimSpace(*f.v)
		if err := v2CheckText(f.name, *f.v, v2MaxText); err != nil {
			return err
		}
	}
	ct.Email = strings.TrimSpace(ct.Email)
	if err := v2CheckText("email", ct.Email, v2MaxEmail); err != nil {
		return err
	}
	if ct.Email != "" {
		local, domain, ok := strings.Cut(ct.Email, "@")
		if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(ct.Email, " \t,;<>\"") ||
			strings.Contains(domain, "@") {
			return badRequest(fmt.Sprintf("email %q is not an email address such as asha@example.com", clipText(ct.Email)))
		}
	}
	ct.Timezone = strings.TrimSpace(ct.Timezone)
	if ct.Timezone != "" {
		if _, err := campaign.Zone(ct.Timezone); err != nil || v2CheckText("timezone", ct.Timezone, 64) != nil {
			return badRequest(fmt.Sprintf("timezone %q is not an IANA time zone such as Asia/Kolkata", clipText(ct.Timezone)))
		}
	}
	if len(ct.CustomField) > v2MaxCustomKeys {
		return badRequest(fmt.Sprintf("custom_field has %d fields: at most %d", len(ct.CustomField), v2MaxCustomKeys))
	}
	keys := make([]string, 0, len(ct.CustomField))
	for k := range ct.CustomField {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad one, the same each time
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			return badRequest("custom_field has a field without a name")
		}
		if err := v2CheckText("custom_field name", k, v2MaxCustomKey); err != nil {
			return err
		}
		if err := v2CheckText("custom_field."+clipText(k), ct.CustomField[k], v2MaxCustomValue); err != nil {
			return err
		}
	}
	if len(ct.CustomField) == 0 {
		ct.CustomField = nil
	}
	return nil
}

// v2CheckText refuses text that is too long, not UTF-8, or holds a
// control character.
func v2CheckText(field, v string, limit int) error {
	if why := badText(v, false); why != "" {
		return badRequest(field + " " + why)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return badRequest(fmt.Sprintf("%s is %d characters long: at most %d", field, n, limit))
	}
	return nil
}

// v2CreateContacts is POST /contacts {"contacts": [{…}, …]}: up to
// store.MaxContactsPerRequest contacts, each checked on its own (a bad
// one is that item's 400); the good ones are created together.
func (s *Server) v2CreateContacts(c echo.Context) error {
	items, err := v2Items(c, "contacts", store.MaxContactsPerRequest)
	if err != nil {
		return err
	}
	results := make([]listItem, len(items))
	var valid []store.Contact
	var at []int
	for i, raw := range items {
		var in v2ContactIn
		ct := store.Contact{}
		err := v2Decode(raw, &in)
		if err == nil {
			if in.Number == nil {
				err = badRequest("number is required")
			} else {
				err = in.apply(&ct)
			}
		}
		if err != nil {
			item, ok := v2ItemFail(err, nil)
			if !ok {
				return err
			}
			results[i] = item
			continue
		}
		valid = append(valid, ct)
		at = append(at, i)
	}
	ctx := c.Request().Context()
	acc := account(c)
	if len(valid) > 0 {
		created, err := s.store.Contacts().Create(ctx, acc.SID, valid)
		if err != nil {
			return v2Fail(err, "contacts")
		}
		for j, i := range at {
			results[i] = v2OK(v2ContactView(&created[j]))
		}
		s.log.InfoContext(ctx, "api: contacts created", "account", acc.SID, "contacts", len(created))
	}
	return writeItems(c, results)
}

// v2ListContacts is GET /contacts?offset&limit: oldest first.
func (s *Server) v2ListContacts(c echo.Context) error {
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	cs, total, err := s.store.Contacts().List(c.Request().Context(), account(c).SID, p)
	if err != nil {
		return fmt.Errorf("api: list contacts: %w", err)
	}
	return writeList(c, p, int64(total), v2ContactViews(cs))
}

// v2LoadContact loads the contact the path names.
func (s *Server) v2LoadContact(c echo.Context) (*store.Contact, error) {
	return v2Load(c, "contact_sid", "contact", s.store.Contacts().Get)
}

// v2Load loads the object of the account that the path parameter param
// names, with get; what names it in errors.
func v2Load[T any](c echo.Context, param, what string, get func(ctx context.Context, accountSID, sid string) (*T, error)) (*T, error) {
	sid, err := v2PathID(c, param, what)
	if err != nil {
		return nil, err
	}
	v, err := get(c.Request().Context(), account(c).SID, sid)
	if err != nil {
		return nil, v2Fail(err, what+" "+sid)
	}
	return v, nil
}

// v2GetContact is GET /contacts/:contact_sid.
func (s *Server) v2GetContact(c echo.Context) error {
	ct, err := s.v2LoadContact(c)
	if err != nil {
		return err
	}
	return writeOne(c, v2ContactView(ct))
}

// v2UpdateContact is PUT /contacts/:contact_sid: the fields given change
// (custom_field, when given, replaces the custom fields; null clears
// them), the others stay.
func (s *Server) v2UpdateContact(c echo.Context) error {
	ct, err := s.v2LoadContact(c)
	if err != nil {
		return err
	}
	items, err := v2Items(c, "contacts", 1)
	if err != nil {
		return err
	}
	var in v2ContactIn
	if err := v2Decode(items[0], &in); err != nil {
		return err
	}
	if len(in.CustomField) > 0 || len(in.Custom) > 0 {
		ct.CustomField = nil
	}
	if err := in.apply(ct); err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	got, err := s.store.Contacts().Update(ctx, acc.SID, ct.SID, *ct)
	if err != nil {
		return v2Fail(err, "contact "+ct.SID)
	}
	s.log.InfoContext(ctx, "api: contact updated", "account", acc.SID, "contact", ct.SID)
	return writeOne(c, v2ContactView(got))
}

// v2DeleteContact is DELETE /contacts/:contact_sid: the contact leaves
// the phone book and every list (campaigns that took it already keep
// their copy of the number).
func (s *Server) v2DeleteContact(c echo.Context) error {
	return s.v2Delete(c, "contact_sid", "contact", s.store.Contacts().Delete)
}

// v2Delete deletes the object of the account that the path parameter
// param names, with del, and answers its id.
func (s *Server) v2Delete(c echo.Context, param, what string, del func(ctx context.Context, accountSID, sid string) error) error {
	sid, err := v2PathID(c, param, what)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	if err := del(ctx, acc.SID, sid); err != nil {
		return v2Fail(err, what+" "+sid)
	}
	s.log.InfoContext(ctx, "api: "+what+" deleted", "account", acc.SID, what, sid)
	return writeEnvelope(c, http.StatusOK, nil, []listItem{v2OK(manageDeleted{ID: sid, Deleted: true})})
}

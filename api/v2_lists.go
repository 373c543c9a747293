package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// v2List is a list of contacts in v2 answers.
type v2List struct {
	SID          string `json:"sid"`
	Name         string `json:"name"`
	Tag          string `json:"tag"`
	ContactCount int    `json:"contact_count"`
	DateCreated  string `json:"date_created"`
	DateUpdated  string `json:"date_updated"`
	URI          string `json:"uri"`
}

func listURI(accountSID, sid string) string { return "/v2/accounts/" + accountSID + "/lists/" + sid }

func v2ListView(l *store.List) v2List {
	return v2List{SID: l.SID, Name: l.Name, Tag: l.Tag, ContactCount: l.Contacts,
		DateCreated: campaign.Time(l.CreatedAt), DateUpdated: campaign.Time(l.UpdatedAt), URI: listURI(l.AccountSID, l.SID)}
}

// v2ListIn is a list in a create request.
type v2ListIn struct {
	Name *string `json:"name"`
	Tag  *string `json:"tag"`
}

// v2CreateLists is POST /lists {"lists": [{"name", "tag"}]}: each list is
// created on its own; a name the account already uses is that item's 409.
func (s *Server) v2CreateLists(c echo.Context) error {
	items, err := v2Items(c, "lists", v2MaxCampaignsPerRequest)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	results := make([]listItem, len(items))
	for i, raw := range items {
		l, err := s.v2CreateList(c, raw)
		if err != nil {
			item, ok := v2ItemFail(err, nil)
			if !ok {
				return err
			}
			results[i] = item
			continue
		}
		s.log.InfoContext(ctx, "api: list created", "account", acc.SID, "list", l.SID)
		results[i] = v2OK(v2ListView(l))
	}
	return writeItems(c, results)
}

func (s *Server) v2CreateList(c echo.Context, raw []byte) (*store.List, error) {
	var in v2ListIn
	if err := v2Decode(raw, &in); err != nil {
		return nil, err
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return nil, badRequest("name is required")
	}
	name, tag := strings.TrimSpace(*in.Name), ""
	if in.Tag != nil {
		tag = strings.TrimSpace(*in.Tag)
	}
	if err := v2CheckText("name", name, v2MaxText); err != nil {
		return nil, err
	}
	if err := v2CheckText("tag", tag, v2MaxText); err != nil {
		return nil, err
	}
	l, err := s.store.Lists().Create(c.Request().Context(), account(c).SID, name, tag)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, fail(http.StatusConflict, CodeConflict, fmt.Sprintf("a list named %q already exists", clipText(name)))
	case err != nil:
		return nil, v2Fail(err, "list")
	}
	return l, nil
}

// v2ListLists is GET /lists: offset, limit, name (substring), sort_by
// (date_created or name).
func (s *Server) v2ListLists(c echo.Context) error {
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	f := store.ListFilter{Page: p, Name: strings.TrimSpace(c.QueryParam("name"))}
	if f.SortBy, f.Desc, err = v2Sort(c, "date_created", "name"); err != nil {
		return err
	}
	ls, total, err := s.store.Lists().List(c.Request().Context(), account(c).SID, f)
	if err != nil {
		return fmt.Errorf("api: list lists: %w", err)
	}
	views := make([]v2List, len(ls))
	for i := range ls {
		views[i] = v2ListView(&ls[i])
	}
	return writeList(c, p, int64(total), views)
}

// v2LoadList loads the list the path names, with its contact count.
func (s *Server) v2LoadList(c echo.Context) (*store.List, error) {
	return v2Load(c, "list_sid", "list", s.store.Lists().Get)
}

// v2GetList is GET /lists/:list_sid.
func (s *Server) v2GetList(c echo.Context) error {
	l, err := s.v2LoadList(c)
	if err != nil {
		return err
	}
	return writeOne(c, v2ListView(l))
}

// v2DeleteList is DELETE /lists/:list_sid: its contacts stay in the phone
// book; campaigns that took the list's numbers keep them.
func (s *Server) v2DeleteList(c echo.Context) error {
	return s.v2Delete(c, "list_sid", "list", s.store.Lists().Delete)
}

// v2ListMembers is GET /lists/:list_sid/contacts?offset&limit, in list
// order.
func (s *Server) v2ListMembers(c echo.Context) error {
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	sid, err := v2PathID(c, "list_sid", "list")
	if err != nil {
		return err
	}
	cs, total, err := s.store.Lists().Members(c.Request().Context(), account(c).SID, sid, p)
	if err != nil {
		return v2Fail(err, "list "+sid)
	}
	return writeList(c, p, int64(total), v2ContactViews(cs))
}

// v2ListRef is the result of adding one contact to a list. SID repeats
// ContactSID: clients read the contact's SID of each item as data.sid,
// as in a create of contacts (exotelpy's create_campaign_with_list
// takes the list from data.list_id and the contacts from data.sid).
type v2ListRef struct {
	ListID     string `json:"list_id"`
	SID        string `json:"sid"`
	ContactSID string `json:"contact_sid"`
}

// v2RefsIn is the body that adds existing contacts to a list.
type v2RefsIn struct {
	ContactReferences []struct {
		ContactSID string `json:"contact_sid"`
	} `json:"contact_references"`
}

// v2AddListContacts is POST /lists/:list_sid/contacts. A JSON body
// {"contact_references": [{"contact_sid"}]} puts existing contacts on the
// list, with a result each; a CSV (the body, as text/csv, or the "file"
// field of a multipart/form-data upload) creates its contacts and puts
// them on the list, all or none.
func (s *Server) v2AddListContacts(c echo.Context) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch {
	case err != nil && c.Request().Header.Get(echo.HeaderContentType) != "":
		return fail(http.StatusUnsupportedMediaType, 0, "malformed Content-Type")
	case v2CSVType(mt) || mt == echo.MIMEMultipartForm:
		return s.v2ImportCSV(c, mt)
	case mt != echo.MIMEApplicationJSON:
		return fail(http.StatusUnsupportedMediaType, 0,
			"Content-Type must be application/json (contact_references), text/csv or multipart/form-data (a CSV file)")
	}
	l, err := s.v2LoadList(c)
	if err != nil {
		return err
	}
	var in v2RefsIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	refs := in.ContactReferences
	switch {
	case len(refs) == 0:
		return badRequest(`contact_references is required: [{"contact_sid": "…"}, …]`)
	case len(refs) > store.MaxContactsPerRequest:
		return badRequest(fmt.Sprintf("%d contact_references in one request: at most %d", len(refs), store.MaxContactsPerRequest))
	case l.Contacts+len(refs) > store.MaxListContacts:
		return badRequest(fmt.Sprintf("the list has %d contacts: it can take at most %d more", l.Contacts, store.MaxListContacts-l.Contacts))
	}
	results := make([]listItem, len(refs))
	var sids []string
	var at []int
	for i, r := range refs {
		sid := strings.TrimSpace(r.ContactSID)
		ref := v2ListRef{ListID: l.SID, SID: sid, ContactSID: sid}
		switch {
		case sid == "":
			results[i], _ = v2ItemFail(badRequest("contact_sid is required"), ref)
		case !v2ID(sid):
			// Nothing by that id can exist.
			results[i], _ = v2ItemFail(manageNotFound(CodeNotFound, "contact "+clipText(sid)), ref)
		default:
			sids = append(sids, sid)
			at = append(at, i)
		}
	}
	ctx := c.Request().Context()
	acc := account(c)
	if len(sids) > 0 {
		added, err := s.store.Lists().Add(ctx, acc.SID, l.SID, sids)
		if err != nil {
			return v2Fail(err, "list "+l.SID)
		}
		n := 0
		for j, r := range added {
			ref := v2ListRef{ListID: l.SID, SID: r.ContactSID, ContactSID: r.ContactSID}
			switch {
			case r.Err == nil:
				results[at[j]] = v2OK(ref)
				n++
			case errors.Is(r.Err, store.ErrConflict):
				results[at[j]], _ = v2ItemFail(fail(http.StatusConflict, CodeConflict, "contact "+r.ContactSID+" is already on the list"), ref)
			default:
				results[at[j]], _ = v2ItemFail(manageNotFound(CodeNotFound, "contact "+r.ContactSID), ref)
			}
		}
		s.log.InfoContext(ctx, "api: contacts added to list", "account", acc.SID, "list", l.SID, "added", n)
	}
	return writeItems(c, results)
}

// v2CSVMaxReported bounds the bad rows an upload reports (all are
// counted).
const v2CSVMaxReported = 1000

// v2ImportCSV creates the contacts of a CSV and puts them on the list, in
// one transaction. The first row is the header: number (required),
// first_name, last_name, company_name, email, tag and timezone (names
// matched without regard to case, spaces or dashes); any other column is
// a custom field under its header's name. Every row is checked; if any is
// bad, nothing is created and the answer is 400 with each bad row's line.
func (s *Server) v2ImportCSV(c echo.Context, mt string) error {
	l, err := s.v2LoadList(c)
	if err != nil {
		return err
	}
	src, err := v2CSVSource(c, mt)
	if err != nil {
		return err
	}
	contacts, bad, failed, err := v2ParseContacts(src, store.MaxListContacts-l.Contacts)
	if err != nil {
		return err
	}
	total := len(contacts) + failed
	if total == 0 {
		return badRequest("the CSV has no contacts: a header row (number,first_name,…) and a row per contact")
	}
	if failed > 0 {
		return writeEnvelope(c, http.StatusBadRequest, v2BulkMetadata{Total: total, Failed: failed}, bad)
	}
	ctx := c.Request().Context()
	acc := account(c)
	created, err := s.store.Lists().Import(ctx, acc.SID, l.SID, contacts)
	if err != nil {
		return v2Fail(err, "list "+l.SID)
	}
	s.log.InfoContext(ctx, "api: contacts imported", "account", acc.SID, "list", l.SID, "contacts", len(created))
	results := make([]listItem, len(created))
	for i := range created {
		results[i] = v2OK(v2ContactView(&created[i]))
	}
	return writeItems(c, results)
}

// v2CSVSource is the CSV of an upload: the body, or the "file" field of
// a multipart form.
func v2CSVSource(c echo.Context, mt string) (io.Reader, error) {
	if mt != echo.MIMEMultipartForm {
		return c.Request().Body, nil
	}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, badRequest("malformed multipart body: " + err.Error())
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, badRequest(`the upload has no "file" field: send the CSV as the form's file field`)
		}
		if err != nil {
			return nil, v2ReadErr(err)
		}
		if p.FormName() == "file" {
			return p, nil
		}
	}
}

// v2ReadErr maps a failure to read an upload: too large is 413, anything
// else a malformed body.
func v2ReadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return bodyErr(err)
	}
	return badRequest("malformed upload: " + err.Error())
}

// v2ParseContacts reads a contacts CSV of at most limit contacts
// (campaign.ReadContactsCSV). It returns the contacts, the failed
// per-item results of bad rows (at most v2CSVMaxReported, each with its
// line) and how many rows were bad. A CSV that cannot be read (no
// header, malformed quoting, too many rows) is an error.
func v2ParseContacts(src io.Reader, limit int) ([]store.Contact, []listItem, int, error) {
	var contacts []store.Contact
	var bad []listItem
	failed := 0
	tooMany := errors.New("too many contacts")
	err := campaign.ReadContactsCSV(src, func(line int, ct store.Contact, fields, columns int) error {
		if len(contacts)+failed >= limit {
			return tooMany
		}
		err := v2CheckContact(&ct)
		switch {
		case fields != columns:
			err = badRequest(fmt.Sprintf("the row has %d fields, the header %d", fields, columns))
		case ct.Number == "":
			err = badRequest("number is required")
		}
		if err == nil {
			contacts = append(contacts, ct)
			return nil
		}
		failed++
		if len(bad) < v2CSVMaxReported {
			item, _ := v2ItemFail(err, map[string]int{"line": line})
			if ed, ok := item.ErrorData.(errorData); ok {
				ed.Description = fmt.Sprintf("line %d: %s", line, ed.Description)
				ed.Message = ed.Description
				item.ErrorData = ed
			}
			bad = append(bad, item)
		}
		return nil
	})
	var ce *campaign.CSVError
	switch {
	case errors.Is(err, tooMany):
		return nil, nil, 0, badRequest(fmt.Sprintf("the CSV has more contacts than the list can take: %d more (a list holds at most %d)",
			limit, store.MaxListContacts))
	case errors.As(err, &ce):
		return nil, nil, 0, badRequest(ce.Error())
	case err != nil:
		return nil, nil, 0, v2ReadErr(err)
	}
	return contacts, bad, failed, nil
}

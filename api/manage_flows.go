package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// flowView is a flow in management responses. Document (the draft) is
// left out of lists.
type flowView struct {
	ID         string `json:"id"`
	AccountSID string `json:"account_sid"`
	Name       string `json:"name"`
	Published  bool   `json:"published"`
	// LiveVersion is the version new calls run; null until published.
	LiveVersion *int `json:"live_version"`
	// FlowURL is the flow in Exotel's URL form, for Calls/connect's Url.
	FlowURL     string          `json:"flow_url"`
	URI         string          `json:"uri"`
	DateCreated string          `json:"date_created"`
	DateUpdated string          `json:"date_updated"`
	Document    json.RawMessage `json:"document,omitempty"`
}

// flowVersionView is a published version. Document is left out of lists.
type flowVersionView struct {
	FlowID      string          `json:"flow_id"`
	Version     int             `json:"version"`
	Live        bool            `json:"live"`
	PublishedAt string          `json:"published_at"`
	URI         string          `json:"uri"`
	Document    json.RawMessage `json:"document,omitempty"`
}

// problemView is one validation problem: its severity, the applet and the
// field (JSON path inside the applet, or the document) it is about.
type problemView struct {
	Severity string `json:"severity"`
	Applet   string `json:"applet"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

// validationView answers POST /flows/:flow_id/validate.
type validationView struct {
	FlowID string `json:"flow_id"`
	// Source is "draft" (the stored draft) or "body" (a document sent
	// with the request, not stored).
	Source   string        `json:"source"`
	Valid    bool          `json:"valid"`
	Errors   []problemView `json:"errors"`
	Warnings []problemView `json:"warnings"`
}

// flowErrorData is error_data for an invalid flow document: the usual
// code/description/message plus every problem found.
type flowErrorData struct {
	Code        int           `json:"code"`
	Description string        `json:"description"`
	Message     string        `json:"message"`
	Problems    []problemView `json:"problems"`
}

// flowBody is the body of POST /flows and PUT /flows/:flow_id.
type flowBody struct {
	Name     *string         `json:"name"`
	Document json.RawMessage `json:"document"`
}

// flowNameBody is the body of POST /flows/:flow_id/duplicate.
type flowNameBody struct {
	Name *string `json:"name"`
}

// flowDocumentBody is the optional body of POST /flows/:flow_id/validate.
type flowDocumentBody struct {
	Document json.RawMessage `json:"document"`
}

var (
	errInvalidDraft = errors.New("the draft is not a valid flow")
	errDraftChanged = errors.New("the draft changed while it was being published")
)

func (s *Server) flowView(c echo.Context, f *store.Flow, withDocument bool) flowView {
	v := flowView{
		ID:          f.ID,
		AccountSID:  f.AccountSID,
		Name:        f.Name,
		Published:   f.LiveVersion > 0,
		FlowURL:     exotelFlowURL(c, f.AccountSID, f.ID),
		URI:         "/v2/accounts/" + f.AccountSID + "/flows/" + f.ID,
		DateCreated: s.manageTime(f.CreatedAt),
		DateUpdated: s.manageTime(f.UpdatedAt),
	}
	if f.LiveVersion > 0 {
		live := f.LiveVersion
		v.LiveVersion = &live
	}
	if withDocument {
		v.Document = rawJSON(f.Draft)
	}
	return v
}

func (s *Server) flowVersionView(v *store.FlowVersion, live int, withDocument bool) flowVersionView {
	out := flowVersionView{
		FlowID:      v.FlowID,
		Version:     v.Version,
		Live:        v.Version == live,
		PublishedAt: s.manageTime(v.PublishedAt),
		URI:         fmt.Sprintf("/v2/accounts/%s/flows/%s/versions/%d", v.AccountSID, v.FlowID, v.Version),
	}
	if withDocument {
		out.Document = rawJSON(v.Document)
	}
	return out
}

// exotelFlowURL is the flow's Exotel URL form,
// http(s)://<host>/<AccountSid>/exoml/start_voice/<flow_id>, on the host
// the request came to.
func exotelFlowURL(c echo.Context, accountSID, flowID string) string {
	return requestBase(c) + "/" + accountSID + "/exoml/start_voice/" + flowID
}

func problemViews(ps flows.Problems) []problemView {
	out := make([]problemView, len(ps))
	for i, p := range ps {
		out[i] = problemView{Severity: p.Severity.String(), Applet: p.Applet, Field: p.Field, Message: p.Message}
	}
	return out
}

// writeInvalidFlow answers 400 for a flow document with errors, listing
// every problem (warnings too) in error_data.problems.
func writeInvalidFlow(c echo.Context, problems flows.Problems) error {
	errs := problems.Errors()
	msg := fmt.Sprintf("invalid flow document: %d error(s), %d warning(s)", len(errs), len(problems.Warnings()))
	if len(errs) > 0 {
		msg += "; first: " + errs[0].String()
	}
	return writeEnvelope(c, http.StatusBadRequest, nil, map[string]any{
		"code":       http.StatusBadRequest,
		"status":     "failure",
		"error_data": flowErrorData{Code: CodeBadRequest, Description: msg, Message: msg, Problems: problemViews(problems)},
	})
}

// jsonPresent reports whether a JSON field was sent with a non-null value.
func jsonPresent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// flowName checks a flow name from a request body.
func flowName(name *string) (string, error) {
	if name == nil {
		return "", badRequest("name is required")
	}
	n := strings.TrimSpace(*name)
	switch {
	case n == "":
		return "", badRequest("name must not be empty")
	case utf8.RuneCountInString(n) > store.MaxFlowName:
		return "", badRequest(fmt.Sprintf("name is longer than %d characters", store.MaxFlowName))
	}
	return n, nil
}

// checkFlowDocument validates a flow document for the account: the flows
// package's problems, plus warnings for transfers to flows the account
// does not have or has not published (db is the store or a transaction).
// It returns the document compacted, ready to store.
func checkFlowDocument(ctx context.Context, db *store.DB, accountSID string, raw []byte) ([]byte, flows.Problems, error) {
	f, problems := flows.Load(raw)
	if problems.HasErrors() || f == nil {
		return nil, problems, nil
	}
	ids := make([]string, 0, len(f.Applets))
	for id := range f.Applets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t, ok := f.Applets[id].Config.(*flows.Transfer)
		if !ok || t.Flow == "" {
			continue
		}
		target, err := db.Flows().Get(ctx, accountSID, t.Flow)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, flows.Problem{Severity: flows.SeverityWarning, Applet: id, Field: "config.flow",
				Message: fmt.Sprintf("flow %q does not exist in this account: the transfer fails until it does", t.Flow)})
		case err != nil:
			return nil, nil, fmt.Errorf("check transfer target %s: %w", t.Flow, err)
		case target.LiveVersion == 0:
			problems = append(problems, flows.Problem{Severity: flows.SeverityWarning, Applet: id, Field: "config.flow",
				Message: fmt.Sprintf("flow %q is not published: the transfer fails until it is", t.Flow)})
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, nil, fmt.Errorf("compact flow document: %w", err)
	}
	return buf.Bytes(), problems, nil
}

// createFlow: POST /flows {name, document}. An invalid document is 400
// with every problem; warnings come back with the created flow.
func (s *Server) createFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	var req flowBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	name, err := flowName(req.Name)
	if err != nil {
		return err
	}
	if !jsonPresent(req.Document) {
		return badRequest("document is required: the flow JSON object")
	}
	doc, problems, err := checkFlowDocument(ctx, s.store, acc.SID, req.Document)
	if err != nil {
		return err
	}
	if problems.HasErrors() {
		return writeInvalidFlow(c, problems)
	}
	f, err := s.store.Flows().Create(ctx, acc.SID, name, doc)
	if err != nil {
		return storeFail(err, CodeNotFound, "flow")
	}
	s.log.InfoContext(ctx, "api: flow created", "account", acc.SID, "flow", f.ID)
	c.Response().Header().Set(echo.HeaderLocation, "/v2/accounts/"+acc.SID+"/flows/"+f.ID)
	resp := success(http.StatusCreated, "flow", s.flowView(c, f, true))
	resp["warnings"] = problemViews(problems.Warnings())
	return writeEnvelope(c, http.StatusCreated, nil, resp)
}

// listFlows: GET /flows?offset&limit, oldest first, without documents.
func (s *Server) listFlows(c echo.Context) error {
	p, err := listPage(c)
	if err != nil {
		return err
	}
	acc := account(c)
	list, total, err := s.store.Flows().List(c.Request().Context(), acc.SID, p)
	if err != nil {
		return fmt.Errorf("list flows: %w", err)
	}
	views := make([]flowView, len(list))
	for i := range list {
		views[i] = s.flowView(c, &list[i], false)
	}
	return writeList(c, p, total, views)
}

// loadFlow reads the flow named by the :flow_id path parameter.
func (s *Server) loadFlow(c echo.Context) (*store.Flow, error) {
	id, err := pathParam(c, "flow_id")
	if err != nil {
		return nil, err
	}
	f, err := s.store.Flows().Get(c.Request().Context(), account(c).SID, id)
	if err != nil {
		return nil, storeFail(err, CodeNotFound, "flow "+id)
	}
	return f, nil
}

// getFlow: GET /flows/:flow_id, with its draft document.
func (s *Server) getFlow(c echo.Context) error {
	f, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "flow", s.flowView(c, f, true)))
}

// updateFlow: PUT /flows/:flow_id {name?, document?} replaces the draft
// and/or renames the flow, in one transaction. Published versions, and
// so live calls, are unaffected.
func (s *Server) updateFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	f, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	var req flowBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil && !jsonPresent(req.Document) {
		return badRequest("nothing to update: send name and/or document")
	}
	name := ""
	if req.Name != nil {
		if name, err = flowName(req.Name); err != nil {
			return err
		}
	}
	var (
		doc      []byte
		problems flows.Problems
	)
	if jsonPresent(req.Document) {
		doc, problems, err = checkFlowDocument(ctx, s.store, acc.SID, req.Document)
		if err != nil {
			return err
		}
		if problems.HasErrors() {
			return writeInvalidFlow(c, problems)
		}
	}
	updated, err := s.store.Flows().Update(ctx, acc.SID, f.ID, store.FlowUpdate{Name: name, Draft: doc})
	if err != nil {
		return storeFail(err, CodeNotFound, "flow "+f.ID)
	}
	s.log.InfoContext(ctx, "api: flow updated", "account", acc.SID, "flow", f.ID, "document", doc != nil, "name", name != "")
	resp := success(http.StatusOK, "flow", s.flowView(c, updated, true))
	resp["warnings"] = problemViews(problems.Warnings())
	return writeEnvelope(c, http.StatusOK, nil, resp)
}

// deleteFlow: DELETE /flows/:flow_id, refused with 409 while an ExoPhone
// points at the flow.
func (s *Server) deleteFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	id, err := pathParam(c, "flow_id")
	if err != nil {
		return err
	}
	if err := s.store.Flows().Delete(ctx, acc.SID, id); err != nil {
		return storeFail(err, CodeNotFound, "flow "+id)
	}
	s.log.InfoContext(ctx, "api: flow deleted", "account", acc.SID, "flow", id)
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "flow", manageDeleted{ID: id, Deleted: true}))
}

// validateFlow: POST /flows/:flow_id/validate. Without a body (or with
// one that has no document) it validates the stored draft; with
// {"document": {...}} it validates that document instead, storing
// nothing. An invalid document is not a failed request: the answer is 200
// with valid=false and the problems.
func (s *Server) validateFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	f, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return bodyErr(err)
	}
	raw, source := []byte(f.Draft), "draft"
	if len(bytes.TrimSpace(body)) > 0 {
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		var req flowDocumentBody
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if jsonPresent(req.Document) {
			raw, source = req.Document, "body"
		}
	}
	_, problems, err := checkFlowDocument(ctx, s.store, acc.SID, raw)
	if err != nil {
		return err
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "validation", validationView{
		FlowID:   f.ID,
		Source:   source,
		Valid:    !problems.HasErrors(),
		Errors:   problemViews(problems.Errors()),
		Warnings: problemViews(problems.Warnings()),
	}))
}

// publishFlow: POST /flows/:flow_id/publish freezes the draft as the next
// version and makes it live. An invalid draft is refused with 400 and its
// problems. The check and the publish share a transaction, and a draft
// replaced in between (possible on PostgreSQL) aborts it with 409.
func (s *Server) publishFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	id, err := pathParam(c, "flow_id")
	if err != nil {
		return err
	}
	var (
		version  *store.FlowVersion
		flow     *store.Flow
		problems flows.Problems
	)
	err = s.store.InTx(ctx, func(tx *store.DB) error {
		cur, err := tx.Flows().Get(ctx, acc.SID, id)
		if err != nil {
			return err
		}
		if _, problems, err = checkFlowDocument(ctx, tx, acc.SID, []byte(cur.Draft)); err != nil {
			return err
		}
		if problems.HasErrors() {
			return errInvalidDraft
		}
		if version, err = tx.Flows().Publish(ctx, acc.SID, id); err != nil {
			return err
		}
		if version.Document != cur.Draft {
			return errDraftChanged
		}
		flow, err = tx.Flows().Get(ctx, acc.SID, id)
		return err
	})
	switch {
	case errors.Is(err, errInvalidDraft):
		return writeInvalidFlow(c, problems)
	case errors.Is(err, errDraftChanged):
		return fail(http.StatusConflict, CodeConflict, "the draft changed while it was being published: try again")
	case err != nil:
		return storeFail(err, CodeNotFound, "flow "+id)
	}
	s.log.InfoContext(ctx, "api: flow published", "account", acc.SID, "flow", id, "version", version.Version)
	resp := success(http.StatusOK, "flow_version", s.flowVersionView(version, flow.LiveVersion, true))
	resp["flow"] = s.flowView(c, flow, false)
	resp["warnings"] = problemViews(problems.Warnings())
	return writeEnvelope(c, http.StatusOK, nil, resp)
}

// duplicateFlow: POST /flows/:flow_id/duplicate {name} copies the draft
// into a new, unpublished flow.
func (s *Server) duplicateFlow(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	src, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	var req flowNameBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	name, err := flowName(req.Name)
	if err != nil {
		return err
	}
	f, err := s.store.Flows().Duplicate(ctx, acc.SID, src.ID, name)
	if err != nil {
		return storeFail(err, CodeNotFound, "flow "+src.ID)
	}
	s.log.InfoContext(ctx, "api: flow duplicated", "account", acc.SID, "from", src.ID, "flow", f.ID)
	c.Response().Header().Set(echo.HeaderLocation, "/v2/accounts/"+acc.SID+"/flows/"+f.ID)
	return writeEnvelope(c, http.StatusCreated, nil, success(http.StatusCreated, "flow", s.flowView(c, f, true)))
}

// listFlowVersions: GET /flows/:flow_id/versions?offset&limit, oldest
// first, without documents.
func (s *Server) listFlowVersions(c echo.Context) error {
	p, err := listPage(c)
	if err != nil {
		return err
	}
	f, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	all, err := s.store.Flows().Versions(c.Request().Context(), f.AccountSID, f.ID)
	if err != nil {
		return storeFail(err, CodeNotFound, "flow "+f.ID)
	}
	page := pageSlice(all, p)
	views := make([]flowVersionView, len(page))
	for i := range page {
		views[i] = s.flowVersionView(&page[i], f.LiveVersion, false)
	}
	return writeList(c, p, int64(len(all)), views)
}

// getFlowVersion: GET /flows/:flow_id/versions/:version, with its document.
func (s *Server) getFlowVersion(c echo.Context) error {
	f, err := s.loadFlow(c)
	if err != nil {
		return err
	}
	raw, err := pathParam(c, "version")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return badRequest("version must be a positive integer")
	}
	v, err := s.store.Flows().Version(c.Request().Context(), f.AccountSID, f.ID, n)
	if err != nil {
		return storeFail(err, CodeNotFound, fmt.Sprintf("flow %s version %d", f.ID, n))
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "flow_version", s.flowVersionView(v, f.LiveVersion, true)))
}

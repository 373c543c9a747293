package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// maxFriendlyName bounds an ExoPhone's friendly name (characters).
const maxFriendlyName = 200

// exoPhoneView is an ExoPhone in management responses.
type exoPhoneView struct {
	Number       string  `json:"number"`
	AccountSID   string  `json:"account_sid"`
	FriendlyName string  `json:"friendly_name"`
	FlowID       *string `json:"flow_id"`
	// FlowURL is the assigned flow's Exotel URL, null when none.
	FlowURL     *string `json:"flow_url"`
	URI         string  `json:"uri"`
	DateCreated string  `json:"date_created"`
	DateUpdated string  `json:"date_updated"`
}

// exoPhoneCreateBody is the body of POST /exophones.
type exoPhoneCreateBody struct {
	Number       *string `json:"number"`
	FriendlyName string  `json:"friendly_name"`
	FlowID       *string `json:"flow_id"`
}

// exoPhoneUpdateBody is the body of PUT /exophones/:number; flow_id must
// be present: a flow id assigns, null unassigns.
type exoPhoneUpdateBody struct {
	FlowID json.RawMessage `json:"flow_id"`
}

func (s *Server) exoPhoneView(c echo.Context, p *store.ExoPhone) exoPhoneView {
	v := exoPhoneView{
		Number:       p.Number,
		AccountSID:   p.AccountSID,
		FriendlyName: p.FriendlyName,
		URI:          exoPhoneURI(p.AccountSID, p.Number),
		DateCreated:  s.manageTime(p.CreatedAt),
		DateUpdated:  s.manageTime(p.UpdatedAt),
	}
	if p.FlowID != nil {
		id := *p.FlowID
		u := exotelFlowURL(c, p.AccountSID, id)
		v.FlowID, v.FlowURL = &id, &u
	}
	return v
}

// exoPhoneURI is the ExoPhone's management path, its + escaped.
func exoPhoneURI(accountSID, number string) string {
	return "/v2/accounts/" + accountSID + "/exophones/" + strings.ReplaceAll(number, "+", "%2B")
}

// numberParam reads the :number path parameter: E.164 with its + escaped
// (%2B15550000100) or not, or the bare digits (15550000100).
func numberParam(c echo.Context) (string, error) {
	raw, err := pathParam(c, "number")
	if err != nil {
		return "", err
	}
	n := strings.TrimSpace(raw)
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "+" + n
	}
	if !store.ValidE164(n) {
		return "", badRequest(fmt.Sprintf("%q is not an E.164 number: use %%2B15550000100 or 15550000100 in the path", raw))
	}
	return n, nil
}

// createExoPhone: POST /exophones {number, friendly_name, flow_id?}. The
// number and its flow are set in one transaction.
func (s *Server) createExoPhone(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	var req exoPhoneCreateBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Number == nil || *req.Number == "" {
		return badRequest("number is required: an E.164 number such as +15550000100")
	}
	number := strings.TrimSpace(*req.Number)
	if !store.ValidE164(number) {
		return badRequest(fmt.Sprintf("number %q is not an E.164 number such as +15550000100", *req.Number))
	}
	if utf8.RuneCountInString(req.FriendlyName) > maxFriendlyName {
		return badRequest(fmt.Sprintf("friendly_name is longer than %d characters", maxFriendlyName))
	}
	if req.FlowID != nil && *req.FlowID == "" {
		return badRequest("flow_id must be a flow id or null")
	}
	var created *store.ExoPhone
	err := s.store.InTx(ctx, func(tx *store.DB) error {
		if _, err := tx.Numbers().Create(ctx, acc.SID, number, req.FriendlyName); err != nil {
			return storeFail(err, CodeNumberNotFound, "ExoPhone "+number)
		}
		if req.FlowID != nil {
			if err := tx.Numbers().AssignFlow(ctx, acc.SID, number, req.FlowID); err != nil {
				return storeFail(err, CodeNotFound, "flow "+*req.FlowID)
			}
		}
		var err error
		created, err = tx.Numbers().Get(ctx, acc.SID, number)
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "api: ExoPhone created", "account", acc.SID, "number", number)
	c.Response().Header().Set(echo.HeaderLocation, exoPhoneURI(acc.SID, number))
	return writeEnvelope(c, http.StatusCreated, nil, success(http.StatusCreated, "exophone", s.exoPhoneView(c, created)))
}

// listExoPhones: GET /exophones?offset&limit, ordered by number.
func (s *Server) listExoPhones(c echo.Context) error {
	return listNumbers(c, s, s.exoPhoneView)
}

// listNumbers answers a v2 list (offset, limit) of the account's
// ExoPhones, by number, each as view renders it.
func listNumbers[V any](c echo.Context, s *Server, view func(echo.Context, *store.ExoPhone) V) error {
	p, err := listPage(c)
	if err != nil {
		return err
	}
	all, err := s.store.Numbers().List(c.Request().Context(), account(c).SID)
	if err != nil {
		return fmt.Errorf("list ExoPhones: %w", err)
	}
	page := pageSlice(all, p)
	views := make([]V, len(page))
	for i := range page {
		views[i] = view(c, &page[i])
	}
	return writeList(c, p, int64(len(all)), views)
}

// loadExoPhone reads the ExoPhone named by the :number path parameter.
func (s *Server) loadExoPhone(c echo.Context) (*store.ExoPhone, error) {
	return s.loadNumber(c, numberParam)
}

// loadNumber reads the account's ExoPhone the :number path parameter
// names, as param reads it.
func (s *Server) loadNumber(c echo.Context, param func(echo.Context) (string, error)) (*store.ExoPhone, error) {
	number, err := param(c)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Numbers().Get(c.Request().Context(), account(c).SID, number)
	if err != nil {
		return nil, storeFail(err, CodeNumberNotFound, "ExoPhone "+number)
	}
	return p, nil
}

// getExoPhone: GET /exophones/:number.
func (s *Server) getExoPhone(c echo.Context) error {
	p, err := s.loadExoPhone(c)
	if err != nil {
		return err
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "exophone", s.exoPhoneView(c, p)))
}

// updateExoPhone: PUT /exophones/:number {flow_id: "…"|null} assigns a
// published flow of the account, or unassigns.
func (s *Server) updateExoPhone(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	p, err := s.loadExoPhone(c)
	if err != nil {
		return err
	}
	var req exoPhoneUpdateBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.FlowID) == 0 {
		return badRequest("flow_id is required: a flow id to assign, or null to unassign")
	}
	var flowID *string
	if jsonPresent(req.FlowID) {
		var id string
		if err := json.Unmarshal(req.FlowID, &id); err != nil || id == "" {
			return badRequest("flow_id must be a flow id (string) or null")
		}
		flowID = &id
	}
	if err := s.store.Numbers().AssignFlow(ctx, acc.SID, p.Number, flowID); err != nil {
		what := "ExoPhone " + p.Number
		if flowID != nil {
			what = "flow " + *flowID
		}
		if errors.Is(err, store.ErrNotFound) && flowID == nil {
			return storeFail(err, CodeNumberNotFound, what)
		}
		return storeFail(err, CodeNotFound, what)
	}
	updated, err := s.store.Numbers().Get(ctx, acc.SID, p.Number)
	if err != nil {
		return storeFail(err, CodeNumberNotFound, "ExoPhone "+p.Number)
	}
	flow := ""
	if updated.FlowID != nil {
		flow = *updated.FlowID
	}
	s.log.InfoContext(ctx, "api: ExoPhone flow set", "account", acc.SID, "number", p.Number, "flow", flow)
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "exophone", s.exoPhoneView(c, updated)))
}

// deleteExoPhone: DELETE /exophones/:number. Calls made through it keep
// their records.
func (s *Server) deleteExoPhone(c echo.Context) error {
	ctx := c.Request().Context()
	acc := account(c)
	number, err := numberParam(c)
	if err != nil {
		return err
	}
	if err := s.store.Numbers().Delete(ctx, acc.SID, number); err != nil {
		return storeFail(err, CodeNumberNotFound, "ExoPhone "+number)
	}
	s.log.InfoContext(ctx, "api: ExoPhone deleted", "account", acc.SID, "number", number)
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "exophone", manageDeleted{ID: number, Deleted: true}))
}

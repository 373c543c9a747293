package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// v2DND is a number of the account's do-not-call list: campaigns settle
// it as failed-dnd instead of calling it.
type v2DND struct {
	Number      string  `json:"number"`
	Reason      *string `json:"reason"`
	DateCreated string  `json:"date_created,omitempty"`
}

// v2DNDIn is the body of POST /dnd-numbers.
type v2DNDIn struct {
	Numbers []string `json:"numbers"`
	Reason  string   `json:"reason"`
}

// v2ListDND is GET /dnd-numbers?offset&limit, in the order added.
func (s *Server) v2ListDND(c echo.Context) error {
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	ns, total, err := s.store.DND().List(c.Request().Context(), account(c).SID, p)
	if err != nil {
		return fmt.Errorf("api: list do-not-call numbers: %w", err)
	}
	views := make([]v2DND, len(ns))
	for i, n := range ns {
		views[i] = v2DND{Number: n.Number, Reason: v2Str(n.Reason), DateCreated: campaign.Time(n.CreatedAt)}
	}
	return writeList(c, p, int64(total), views)
}

// v2AddDND is POST /dnd-numbers {"numbers": [...], "reason": "..."}: each
// number is checked on its own (a bad one is that item's 400); the good
// ones are added together. A number already on the list stays as it was.
func (s *Server) v2AddDND(c echo.Context) error {
	var in v2DNDIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	switch {
	case len(in.Numbers) == 0:
		return badRequest(`numbers is required: ["+919800000001", …]`)
	case len(in.Numbers) > store.MaxContactsPerRequest:
		return badRequest(fmt.Sprintf("%d numbers in one request: at most %d", len(in.Numbers), store.MaxContactsPerRequest))
	}
	reason := strings.TrimSpace(in.Reason)
	if err := v2CheckText("reason", reason, v2MaxText); err != nil {
		return err
	}
	results := make([]listItem, len(in.Numbers))
	var valid []string
	for i, raw := range in.Numbers {
		n, err := callNumber(fmt.Sprintf("numbers[%d]", i), raw, false)
		if err != nil {
			results[i], _ = v2ItemFail(err, v2DND{Number: raw, Reason: v2Str(reason)})
			continue
		}
		valid = append(valid, n)
		results[i] = v2OK(v2DND{Number: n, Reason: v2Str(reason)})
	}
	ctx := c.Request().Context()
	acc := account(c)
	if len(valid) > 0 {
		if err := s.store.DND().Add(ctx, acc.SID, reason, valid...); err != nil {
			return v2Fail(err, "do-not-call numbers")
		}
		s.log.InfoContext(ctx, "api: do-not-call numbers added", "account", acc.SID, "numbers", len(valid))
	}
	return writeItems(c, results)
}

// v2RemoveDND is DELETE /dnd-numbers/:dnd_number (its + escaped as %2B,
// or left out: the list matches numbers by their digits).
func (s *Server) v2RemoveDND(c echo.Context) error {
	raw, err := pathParam(c, "dnd_number")
	if err != nil {
		return err
	}
	n := strings.TrimSpace(raw)
	if _, ok := store.ContactKey(n); !ok || badText(n, false) != "" {
		return badRequest(fmt.Sprintf("%q is not a phone number", clipText(n)))
	}
	ctx := c.Request().Context()
	acc := account(c)
	err = s.store.DND().Remove(ctx, acc.SID, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return manageNotFound(CodeNotFound, fmt.Sprintf("number %s on the do-not-call list", clipText(n)))
	case err != nil:
		return v2Fail(err, "do-not-call number")
	}
	s.log.InfoContext(ctx, "api: do-not-call number removed", "account", acc.SID, "number", n)
	return writeEnvelope(c, http.StatusOK, nil, []listItem{v2OK(manageDeleted{ID: n, Deleted: true})})
}

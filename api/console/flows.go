package console

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// flowRow is a flow as the flows page shows it.
type flowRow struct {
	store.Flow
	Phones []store.ExoPhone
}

// flowsMax is how many flows the page lists.
const flowsMax = 1000

// flows lists the account's flows with their published version and the
// ExoPhones that run them (read-only).
func (cs *console) flows(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	fs, _, err := cs.d.Store.Flows().List(ctx, s.Account, store.Page{Limit: flowsMax})
	if err != nil {
		return fmt.Errorf("console: flows: %w", err)
	}
	phones, err := cs.d.Store.Numbers().List(ctx, s.Account)
	if err != nil {
		return fmt.Errorf("console: ExoPhones: %w", err)
	}
	byFlow := map[string][]store.ExoPhone{}
	for _, p := range phones {
		if p.FlowID != nil {
			byFlow[*p.FlowID] = append(byFlow[*p.FlowID], p)
		}
	}
	rows := make([]flowRow, len(fs))
	for i, f := range fs {
		rows[i] = flowRow{Flow: f, Phones: byFlow[f.ID]}
	}
	return cs.page(c, "flows", "Flows", "flows", rows)
}

package console

import (
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// agentRow is a user (agent) as the agents page shows it.
type agentRow struct {
	store.User
	Devices []deviceRow
	// BusyCall is the call holding the agent ("" when free).
	BusyCall string
}

type deviceRow struct {
	Name, Contact, Type string
	Available           bool
}

// agentsView is the agents page's data.
type agentsView struct {
	Agents                 []agentRow
	Available, Busy, Total int
}

// agents lists the account's users with their devices, whether they
// take calls, and who is on a call now (as the management API's users
// do).
func (cs *console) agents(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	users, err := cs.d.Store.Users().List(ctx, s.Account)
	if err != nil {
		return fmt.Errorf("console: users: %w", err)
	}
	sids := make([]string, len(users))
	for i, u := range users {
		sids[i] = u.SID
	}
	busy, err := cs.d.Store.Users().Busy(ctx, s.Account, sids)
	if err != nil {
		return fmt.Errorf("console: busy users: %w", err)
	}
	v := agentsView{Total: len(users)}
	for _, u := range users {
		row := agentRow{User: u, BusyCall: busy[u.SID]}
		for _, d := range u.Devices {
			dr := deviceRow{Name: d.Name, Contact: d.Device, Type: "number", Available: d.Available}
			if dr.Contact == "" {
				dr.Contact = d.Contact
			}
			if strings.HasPrefix(d.Contact, "sip:") {
				dr.Type = "SIP"
			}
			row.Devices = append(row.Devices, dr)
		}
		if u.Available {
			v.Available++
		}
		if row.BusyCall != "" {
			v.Busy++
		}
		v.Agents = append(v.Agents, row)
	}
	return cs.page(c, "agents", "Agents", "agents", v)
}

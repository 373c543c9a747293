package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// campaignsMax is how many campaigns the list shows.
const campaignsMax = 200

// campaignRow is a campaign with its numbers' counts.
type campaignRow struct {
	store.Campaign
	Stats store.CampaignStats
	// Done counts the numbers with a final outcome.
	Done int
}

// doneKeys are the stats of numbers that are finished.
var doneKeys = []string{"completed", "failed", "failed-dnd", "invalid", "failed-no-attempt"}

func newCampaignRow(cp store.Campaign, st store.CampaignStats) campaignRow {
	r := campaignRow{Campaign: cp, Stats: st}
	for _, k := range doneKeys {
		r.Done += st[k]
	}
	return r
}

// campaigns lists the account's campaigns, newest first, with progress.
func (cs *console) campaigns(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	list, _, err := cs.d.Store.Campaigns().List(ctx, s.Account, store.CampaignFilter{
		Page: store.Page{Limit: campaignsMax}, SortBy: "date_created", Desc: true})
	if err != nil {
		return fmt.Errorf("console: campaigns: %w", err)
	}
	stats, err := cs.d.Store.Campaigns().Stats(ctx, list)
	if err != nil {
		return fmt.Errorf("console: campaign stats: %w", err)
	}
	rows := make([]campaignRow, len(list))
	for i, cp := range list {
		rows[i] = newCampaignRow(cp, stats[cp.SID])
	}
	return cs.page(c, "campaigns", "Campaigns", "campaigns", rows)
}

// campaignView is a campaign's page data.
type campaignView struct {
	campaignRow
	StatKeys []string
	// Outcomes counts the calls placed by outcome.
	Outcomes []outcomeCount
	Placed   int
	Answered int
	// AnswerRate is the answered share of calls placed, in percent.
	AnswerRate int
	Plot       plot
	CanPause   bool
	CanResume  bool
	// Notice says what the last action did; Error why it was refused.
	Notice, Error string
}

type outcomeCount struct {
	Outcome string
	N       int
}

// campaignPage shows a campaign: its numbers' progress, its calls'
// outcomes, a plot of calls placed and answered over time, and pause or
// resume. Another account's campaign is 404.
func (cs *console) campaignPage(c echo.Context) error {
	v, err := cs.campaignView(c)
	if err != nil {
		return err
	}
	switch c.QueryParam("done") {
	case "pause":
		v.Notice = "The campaign is paused: it places no new calls."
	case "resume":
		v.Notice = "The campaign is resumed."
	}
	return cs.page(c, "campaign", v.title(), "campaigns", v)
}

// title is the campaign page's heading: its name, or its id.
func (v *campaignView) title() string {
	if v.Name != "" {
		return v.Name
	}
	return "Campaign " + v.SID
}

func (cs *console) campaignView(c echo.Context) (*campaignView, error) {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	cp, err := cs.d.Store.Campaigns().Get(ctx, s.Account, id)
	if err != nil {
		return nil, storeErr(err, "campaign "+clip(id))
	}
	stats, err := cs.d.Store.Campaigns().Stats(ctx, []store.Campaign{*cp})
	if err != nil {
		return nil, fmt.Errorf("console: campaign stats: %w", err)
	}
	marks, err := cs.d.Store.Campaigns().Marks(ctx, s.Account, cp.SID)
	if err != nil {
		return nil, storeErr(err, "campaign "+clip(id))
	}
	v := &campaignView{campaignRow: newCampaignRow(*cp, stats[cp.SID]), StatKeys: store.StatsKeys,
		CanPause:  cp.Status == store.CampaignCreated || cp.Status == store.CampaignInProgress,
		CanResume: cp.Status == store.CampaignPaused}
	counts := map[string]int{}
	for _, m := range marks {
		counts[m.Status]++
	}
	for _, o := range []string{store.NumberCompleted, store.NumberBusy, store.NumberNoAnswer, store.NumberFailed, store.AttemptDialing} {
		label := o
		if o == store.AttemptDialing {
			label = "in progress"
		}
		v.Outcomes = append(v.Outcomes, outcomeCount{Outcome: label, N: counts[o]})
	}
	v.Placed, v.Answered = len(marks), counts[store.NumberCompleted]
	if v.Placed > 0 {
		v.AnswerRate = v.Answered * 100 / v.Placed
	}
	v.Plot = callsPlot(marks, cs.when)
	return v, nil
}

// campaignAction pauses or resumes a campaign (a POST from its page),
// through the same code as the API's campaign update, which tells the
// dialer; then back to the campaign's page. An action its status does
// not allow is shown there with 409.
func (cs *console) campaignAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := sessionFrom(c)
		id := c.Param("id")
		if _, err := cs.d.Store.Campaigns().Get(c.Request().Context(), s.Account, id); err != nil {
			return storeErr(err, "campaign "+clip(id))
		}
		if cs.d.CampaignAction == nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "Campaign actions are not available.")
		}
		err := cs.d.CampaignAction(c, s.Account, id, action)
		switch {
		case errors.Is(err, store.ErrCampaignState):
			v, verr := cs.campaignView(c)
			if verr != nil {
				return verr
			}
			v.Error = fmt.Sprintf("The campaign cannot be %s now: it is %s.", map[string]string{"pause": "paused", "resume": "resumed"}[action], v.Status)
			return cs.pageStatus(c, http.StatusConflict, "campaign", v.title(), "campaigns", v)
		case err != nil:
			return storeErr(err, "campaign "+clip(id))
		}
		cs.log.InfoContext(c.Request().Context(), "console: campaign action", "account", s.Account, "campaign", id, "action", action)
		return c.Redirect(http.StatusSeeOther, Prefix+"/campaigns/"+url.PathEscape(id)+"?done="+action)
	}
}

// campaignReport downloads the campaign's report as CSV, the API's
// call-details.csv.
func (cs *console) campaignReport(c echo.Context) error {
	s := sessionFrom(c)
	id := c.Param("id")
	if _, err := cs.d.Store.Campaigns().Get(c.Request().Context(), s.Account, id); err != nil {
		return storeErr(err, "campaign "+clip(id))
	}
	if cs.d.CampaignReport == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Reports are not available.")
	}
	return cs.d.CampaignReport(c, s.Account, id)
}

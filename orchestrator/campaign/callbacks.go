package campaign

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Callback events of campaigns, as stored in the outbox (and sent in the
// X-Switchyard-Event header).
const (
	EventCallStatus   = "call_status"
	EventCallSchedule = "call_schedule"
	EventCampaign     = "campaign_status"
)

// Callbacks builds a campaign's callbacks; all are JSON POSTs, delivered
// at least once like call callbacks. The outbox key of a campaign's
// status callbacks is the campaign SID, of a number's schedule callback
// the number's ID, of an attempt's status callback its call SID, so each
// sequence is numbered on its own.
type Callbacks struct {
	// PublicURL is where the API is reached, for report_url ("" leaves
	// it out).
	PublicURL string
}

// Time writes a timestamp as v2 answers do: RFC 3339 in IST.
func Time(t time.Time) string {
	return t.In(exotime.IST).Format(time.RFC3339)
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return Time(*t)
}

// Started builds the status_callback of a campaign's start.
func (b Callbacks) Started(c *store.Campaign, _ []store.CampaignNumber) ([]store.Callback, error) {
	return b.status(c)
}

func (b Callbacks) status(c *store.Campaign) ([]store.Callback, error) {
	if c.StatusCallback == "" {
		return nil, nil
	}
	p := map[string]any{
		"campaign_sid": c.SID, "status": c.Status, "name": c.Name,
		"date_created": Time(c.CreatedAt), "date_updated": Time(c.UpdatedAt),
		"date_started": timePtr(c.DateStarted), "date_ended": timePtr(c.DateEnded),
	}
	if c.ParentSID != "" {
		p["parent_campaign_sid"], p["run"] = c.ParentSID, c.Run
	}
	if !c.Open() && b.PublicURL != "" {
		p["report_url"] = fmt.Sprintf("%s/v2/accounts/%s/campaigns/%s/call-details.csv", b.PublicURL, c.AccountSID, c.SID)
	}
	return one(c.AccountSID, c.SID, EventCampaign, c.StatusCallback, p)
}

// Number builds the callbacks of a number's change: call_status_callback
// when an attempt ended (a set), and call_schedule_callback when the
// number is final (after its retries, or without a call: DND, invalid,
// not attempted).
func (b Callbacks) Number(c *store.Campaign, n *store.CampaignNumber, a *store.CampaignAttempt, calls []string) ([]store.Callback, error) {
	var out []store.Callback
	if a != nil && c.CallStatusCallback != "" {
		cb, err := one(c.AccountSID, a.CallSID, EventCallStatus, c.CallStatusCallback, map[string]any{
			"campaign_sid": c.SID, "call_sid": a.CallSID, "number": a.Number, "status": a.Status,
			"attempt": a.Attempt, "date_created": Time(a.CreatedAt), "date_updated": Time(a.UpdatedAt),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, cb...)
	}
	if final(n.Status) && c.CallScheduleCallback != "" {
		if calls == nil {
			calls = []string{}
		}
		cb, err := one(c.AccountSID, n.ID, EventCallSchedule, c.CallScheduleCallback, map[string]any{
			"campaign_sid": c.SID, "to": n.Number, "from": c.CallerID, "call_sids": calls, "status": n.Status,
			"attempts": n.Attempts, "date_created": Time(n.CreatedAt), "date_updated": Time(n.UpdatedAt),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, cb...)
	}
	return out, nil
}

// Ended builds the status_callback of a campaign's end, and the schedule
// callbacks of the numbers it ended without calling.
func (b Callbacks) Ended(c *store.Campaign, ended []store.CampaignNumber) ([]store.Callback, error) {
	out, err := b.status(c)
	if err != nil {
		return nil, err
	}
	for i := range ended {
		cbs, err := b.Number(c, &ended[i], nil, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, cbs...)
	}
	return out, nil
}

func final(status string) bool {
	switch status {
	case store.NumberPending, store.NumberInProgress, store.NumberRetry:
		return false
	}
	return true
}

func one(account, key, event, url string, p map[string]any) ([]store.Callback, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("campaign callback %s: %w", event, err)
	}
	return []store.Callback{{AccountSID: account, CallSID: key, Event: event, URL: url,
		ContentType: store.ContentJSON, Payload: string(raw)}}, nil
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// v2Campaign is a campaign in v2 answers: Exotel's fields, and
// Switchyard's own (max_concurrent, calling_window, timezone,
// schedule.recurrence, date_ended, and parent_campaign_sid and run for
// the runs of a recurring campaign).
type v2Campaign struct {
	ID                   string          `json:"id"`
	AccountSID           string          `json:"account_sid"`
	Name                 string          `json:"name"`
	Type                 string          `json:"type"`
	CallerID             string          `json:"caller_id"`
	CampaignType         string          `json:"campaign_type"`
	From                 []string        `json:"from"`
	Lists                []string        `json:"lists"`
	URL                  string          `json:"url"`
	FlowType             *string         `json:"flow_type"`
	ReadViaText          *string         `json:"read_via_text"`
	RepeatMenuAttempts   int             `json:"repeat_menu_attempts"`
	Retries              v2Retries       `json:"retries"`
	Schedule             v2Schedule      `json:"schedule"`
	StatusCallback       *string         `json:"status_callback"`
	CallStatusCallback   *string         `json:"call_status_callback"`
	CallScheduleCallback *string         `json:"call_schedule_callback"`
	Mode                 string          `json:"mode"`
	Throttle             *int            `json:"throttle"`
	MaxConcurrent        *int            `json:"max_concurrent"`
	CallingWindow        v2Window        `json:"calling_window"`
	Timezone             string          `json:"timezone"`
	CustomField          json.RawMessage `json:"custom_field"`
	CallDuplicateNumbers bool            `json:"call_duplicate_numbers"`
	DateCreated          string          `json:"date_created"`
	DateUpdated          string          `json:"date_updated"`
	DateStarted          *string         `json:"date_started"`
	DateEnded            *string         `json:"date_ended"`
	Status               string          `json:"status"`
	Stats                v2Stats         `json:"stats"`
	ParentCampaignSID    string          `json:"parent_campaign_sid,omitempty"`
	Run                  int             `json:"run,omitempty"`
	URI                  string          `json:"uri"`
}

// v2Retries is Exotel's retries object.
type v2Retries struct {
	NumberOfRetries int      `json:"number_of_retries"`
	IntervalMins    int      `json:"interval_mins"`
	Mechanism       string   `json:"mechanism"`
	OnStatus        []string `json:"on_status"`
}

// v2Schedule is Exotel's schedule object, with the recurrence of a
// recurring campaign and when it fires next.
type v2Schedule struct {
	SendAt     *string `json:"send_at"`
	EndAt      *string `json:"end_at"`
	Recurrence *string `json:"recurrence"`
	NextRunAt  *string `json:"next_run_at,omitempty"`
}

// v2Window is the local hours numbers are called in.
type v2Window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func campaignURI(accountSID, sid string) string {
	return "/v2/accounts/" + accountSID + "/campaigns/" + sid
}

// v2CampaignView renders a campaign with its stats (every key of
// store.StatsKeys, zero when missing).
func v2CampaignView(cp *store.Campaign, st store.CampaignStats) v2Campaign {
	v := v2Campaign{
		ID:                   cp.SID,
		AccountSID:           cp.AccountSID,
		Name:                 cp.Name,
		Type:                 cp.Type,
		CallerID:             cp.CallerID,
		CampaignType:         cp.CampaignType,
		From:                 append([]string{}, cp.Numbers...),
		Lists:                append([]string{}, cp.Lists...),
		URL:                  cp.URL,
		FlowType:             v2Str(cp.FlowType),
		ReadViaText:          v2Str(cp.ReadViaText),
		RepeatMenuAttempts:   cp.RepeatMenuAttempts,
		Retries:              v2RetriesView(cp.Retries),
		StatusCallback:       v2Str(cp.StatusCallback),
		CallStatusCallback:   v2Str(cp.CallStatusCallback),
		CallScheduleCallback: v2Str(cp.CallScheduleCallback),
		Mode:                 cp.Mode,
		Timezone:             cp.Timezone,
		CustomField:          v2CustomField(cp.CustomField),
		CallDuplicateNumbers: cp.CallDuplicateNumbers,
		DateCreated:          campaign.Time(cp.CreatedAt),
		DateUpdated:          campaign.Time(cp.UpdatedAt),
		DateStarted:          v2Time(cp.DateStarted),
		DateEnded:            v2Time(cp.DateEnded),
		Status:               cp.Status,
		Stats:                v2Stats(st),
		ParentCampaignSID:    cp.ParentSID,
		Run:                  cp.Run,
		URI:                  campaignURI(cp.AccountSID, cp.SID),
	}
	v.Schedule = v2Schedule{SendAt: v2Time(cp.SendAt), EndAt: v2Time(cp.EndAt), Recurrence: v2Str(cp.Recurrence)}
	if cp.Recurrence != "" {
		v.Schedule.NextRunAt = v2Time(cp.NextRunAt)
	}
	if cp.Throttle > 0 {
		v.Throttle = &cp.Throttle
	}
	if cp.MaxConcurrent > 0 {
		v.MaxConcurrent = &cp.MaxConcurrent
	}
	if v.Timezone == "" {
		v.Timezone = campaign.DefaultZone
	}
	v.CallingWindow = v2Window{Start: cp.WindowStart, End: cp.WindowEnd}
	if w, err := campaign.ParseWindow(cp.WindowStart, cp.WindowEnd); err == nil {
		v.CallingWindow = v2Window{Start: v2Clock(w.Start), End: v2Clock(w.End)}
	}
	return v
}

// v2Stats is a campaign's stats, every key of store.StatsKeys in its
// order (a missing one is 0).
type v2Stats store.CampaignStats

// MarshalJSON writes the keys in store.StatsKeys order.
func (st v2Stats) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range store.StatsKeys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", k, st[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func v2RetriesView(p store.RetryPolicy) v2Retries {
	r := v2Retries{NumberOfRetries: p.NumberOfRetries, IntervalMins: p.IntervalMins, Mechanism: p.Mechanism,
		OnStatus: append([]string{}, p.OnStatus...)}
	if r.Mechanism == "" {
		r.Mechanism = campaign.Linear
	}
	return r
}

// v2Clock writes minutes after midnight as HH:MM.
func v2Clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// v2CustomField renders a stored custom_field: an object given as one
// goes back as that object, a string as that string, none as null.
func v2CustomField(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	if strings.HasPrefix(s, "{") && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// v2CampaignViews renders campaigns with their stats, read in one query.
func (s *Server) v2CampaignViews(ctx context.Context, cs []store.Campaign) ([]v2Campaign, error) {
	stats, err := s.store.Campaigns().Stats(ctx, cs)
	if err != nil {
		return nil, fmt.Errorf("api: campaign stats: %w", err)
	}
	out := make([]v2Campaign, len(cs))
	for i := range cs {
		out[i] = v2CampaignView(&cs[i], stats[cs[i].SID])
	}
	return out, nil
}

// v2Spec decodes one campaign of a request, and puts its caller_id in
// the form the ExoPhone lookup takes: a malformed caller_id is 400 here,
// one that is no ExoPhone of the account 404 from the campaign rules.
func v2Spec(raw json.RawMessage) (campaign.Spec, error) {
	var spec campaign.Spec
	if err := v2Decode(raw, &spec); err != nil {
		return spec, err
	}
	if spec.CallerID != nil {
		n, err := callNumber("caller_id", *spec.CallerID, false)
		if err != nil {
			return spec, err
		}
		spec.CallerID = &n
	}
	return spec, nil
}

// v2CreateCampaigns is POST /campaigns: each campaign of the body is
// checked and created on its own (campaign.Build), with a result each.
func (s *Server) v2CreateCampaigns(c echo.Context) error {
	items, err := v2Items(c, "campaigns", v2MaxCampaignsPerRequest)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	look := campaign.StoreLookup(s.store)
	results := make([]listItem, len(items))
	var created []store.Campaign
	var at []int // index in results of each created campaign
	for i, raw := range items {
		cp, err := s.v2BuildCampaign(ctx, look, acc.SID, raw)
		if err == nil {
			err = s.store.Campaigns().Create(ctx, cp)
			if err != nil {
				err = v2Fail(err, "campaign")
			}
		}
		if err != nil {
			item, ok := v2ItemFail(err, nil)
			if !ok {
				return fmt.Errorf("api: create campaign: %w", err)
			}
			results[i] = item
			continue
		}
		s.log.InfoContext(ctx, "api: campaign created", "account", acc.SID, "campaign", cp.SID,
			"numbers", len(cp.Numbers), "lists", len(cp.Lists))
		created = append(created, *cp)
		at = append(at, i)
	}
	if len(created) > 0 {
		s.campaignChanged()
	}
	views, err := s.v2CampaignViews(ctx, created)
	if err != nil {
		return err
	}
	for j, i := range at {
		results[i] = v2OK(views[j])
	}
	return writeItems(c, results)
}

func (s *Server) v2BuildCampaign(ctx context.Context, look campaign.Lookup, accountSID string, raw json.RawMessage) (*store.Campaign, error) {
	spec, err := v2Spec(raw)
	if err != nil {
		return nil, err
	}
	cp, err := campaign.Build(ctx, look, accountSID, spec, time.Now())
	if err != nil {
		return nil, v2FieldFail(err)
	}
	return cp, nil
}

// v2CampaignStatuses are the status filter's values: Exotel's statuses,
// matched without regard to case, '-' or '_' (in-progress is InProgress).
var v2CampaignStatuses = map[string]string{
	"created": store.CampaignCreated, "inprogress": store.CampaignInProgress, "paused": store.CampaignPaused,
	"completed": store.CampaignCompleted, "failed": store.CampaignFailed, "canceled": store.CampaignCanceled,
	"cancelled": store.CampaignCanceled, "deleted": store.CampaignDeleted, "archived": store.CampaignArchived,
}

// v2ListCampaigns is GET /campaigns: offset, limit (or page, page_size),
// name (substring), status (comma-separated), type, sort_by and parent
// (the runs of a recurring campaign).
func (s *Server) v2ListCampaigns(c echo.Context) error {
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	f := store.CampaignFilter{Page: p, Name: strings.TrimSpace(c.QueryParam("name")),
		Type: strings.TrimSpace(c.QueryParam("type")), Parent: strings.TrimSpace(c.QueryParam("parent"))}
	if f.SortBy, f.Desc, err = v2Sort(c, "date_created", "name"); err != nil {
		return err
	}
	if f.Parent != "" && !v2ID(f.Parent) {
		return badRequest(fmt.Sprintf("parent %q is not a campaign id", clipText(f.Parent)))
	}
	for _, st := range strings.Split(c.QueryParam("status"), ",") {
		key := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(st))
		if key == "" {
			continue
		}
		status, ok := v2CampaignStatuses[key]
		if !ok {
			return badRequest(fmt.Sprintf("status %q is not valid: Created, InProgress, Paused, Completed, Failed, Canceled, Deleted or Archived",
				clipText(strings.TrimSpace(st))))
		}
		f.Statuses = append(f.Statuses, status)
	}
	ctx := c.Request().Context()
	cs, total, err := s.store.Campaigns().List(ctx, account(c).SID, f)
	if err != nil {
		return fmt.Errorf("api: list campaigns: %w", err)
	}
	views, err := s.v2CampaignViews(ctx, cs)
	if err != nil {
		return err
	}
	return writeList(c, p, int64(total), views)
}

// v2Campaign loads the campaign the path names: one of the account's
// (another account's, or a deleted one, is 404).
func (s *Server) v2LoadCampaign(c echo.Context) (*store.Campaign, error) {
	sid, err := v2PathID(c, "campaign_sid", "campaign")
	if err != nil {
		return nil, err
	}
	cp, err := s.store.Campaigns().Get(c.Request().Context(), account(c).SID, sid)
	if err != nil {
		return nil, v2Fail(err, "campaign "+sid)
	}
	return cp, nil
}

// v2RenderCampaign answers with one campaign, read again with its stats;
// as an update's result (its metadata counting the one item) when
// updated.
func (s *Server) v2RenderCampaign(c echo.Context, accountSID, sid string, updated bool) error {
	ctx := c.Request().Context()
	cp, err := s.store.Campaigns().Get(ctx, accountSID, sid)
	if err != nil {
		return v2Fail(err, "campaign "+sid)
	}
	views, err := s.v2CampaignViews(ctx, []store.Campaign{*cp})
	if err != nil {
		return err
	}
	if updated {
		return writeItems(c, []listItem{v2OK(views[0])})
	}
	return writeOne(c, views[0])
}

// v2GetCampaign is GET /campaigns/:campaign_sid.
func (s *Server) v2GetCampaign(c echo.Context) error {
	sid, err := v2PathID(c, "campaign_sid", "campaign")
	if err != nil {
		return err
	}
	return s.v2RenderCampaign(c, account(c).SID, sid, false)
}

// v2Actions are the update actions.
var v2Actions = []string{store.ActionPause, store.ActionResume, store.ActionComplete, store.ActionArchive}

// v2UpdateCampaign is PUT /campaigns/:campaign_sid: one campaign, wrapped
// ({"campaigns": [{…}]}) or not. Fields change under Exotel's rule
// (campaign.Update: any field before the campaign starts, only the three
// callback URLs after); action then moves the campaign (pause, resume,
// complete, archive), 409 when its status does not allow that. Fields
// are checked before anything is written.
func (s *Server) v2UpdateCampaign(c echo.Context) error {
	cp, err := s.v2LoadCampaign(c)
	if err != nil {
		return err
	}
	items, err := v2Items(c, "campaigns", 1)
	if err != nil {
		return err
	}
	spec, err := v2Spec(items[0])
	if err != nil {
		return err
	}
	action := ""
	if spec.Action != nil {
		action = strings.ToLower(strings.TrimSpace(*spec.Action))
		ok := false
		for _, a := range v2Actions {
			ok = ok || action == a
		}
		if !ok {
			return badRequest(fmt.Sprintf("action %q is not valid: pause, resume, complete or archive", clipText(*spec.Action)))
		}
	}
	fields := spec
	fields.Action = nil
	hasFields := !v2EmptySpec(fields)
	if action == "" && !hasFields {
		return badRequest("nothing to update: give action or the fields to change")
	}
	ctx := c.Request().Context()
	acc := account(c)
	now := time.Now()
	if hasFields {
		others, err := campaign.Update(ctx, campaign.StoreLookup(s.store), cp, fields, now)
		if err != nil {
			return v2FieldFail(err)
		}
		if others {
			err = s.store.Campaigns().Update(ctx, cp, now)
		} else {
			err = s.store.Campaigns().UpdateCallbacks(ctx, acc.SID, cp.SID, v2Given(fields.StatusCallback, &cp.StatusCallback),
				v2Given(fields.CallStatusCallback, &cp.CallStatusCallback), v2Given(fields.CallScheduleCallback, &cp.CallScheduleCallback))
		}
		if err != nil {
			return v2Fail(err, "campaign "+cp.SID)
		}
		s.log.InfoContext(ctx, "api: campaign updated", "account", acc.SID, "campaign", cp.SID, "callbacks_only", !others)
	}
	if action != "" {
		end := campaign.Callbacks{PublicURL: s.publicURL(c)}
		if _, err := s.store.Campaigns().Act(ctx, acc.SID, cp.SID, action, end.Ended); err != nil {
			if hasFields {
				s.campaignChanged()
			}
			return v2Fail(err, "campaign "+cp.SID)
		}
		s.log.InfoContext(ctx, "api: campaign action", "account", acc.SID, "campaign", cp.SID, "action", action)
		if action == store.ActionComplete {
			s.callbacksWritten()
		}
	}
	s.campaignChanged()
	return s.v2RenderCampaign(c, acc.SID, cp.SID, true)
}

// v2EmptySpec reports whether a spec gives no field at all.
func v2EmptySpec(s campaign.Spec) bool {
	b, err := json.Marshal(s)
	return err == nil && string(b) == "{}"
}

// v2Given is value when the field was given (given non-nil), else nil.
func v2Given(given *string, value *string) *string {
	if given == nil {
		return nil
	}
	return value
}

// v2DeleteCampaign is DELETE /campaigns/:campaign_sid: the campaign (and
// the runs of a recurring one) is marked deleted; numbers not yet called
// are not called, calls in progress go on to their end.
func (s *Server) v2DeleteCampaign(c echo.Context) error {
	return s.v2Delete(c, "campaign_sid", "campaign", func(ctx context.Context, accountSID, sid string) error {
		if err := s.store.Campaigns().Delete(ctx, accountSID, sid); err != nil {
			return err
		}
		s.campaignChanged()
		return nil
	})
}

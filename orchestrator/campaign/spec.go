package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Limits of a campaign request (Exotel's).
const (
	MaxNumbers     = 5000
	MaxStaticLists = 5
	// DefaultSpan is how long a campaign without end_at may dial.
	DefaultSpan = 30 * 24 * time.Hour
	MaxName     = 200
	MaxText     = 2000
)

// Spec is a campaign as a client writes it: Exotel's fields, plus
// Switchyard's own (max_concurrent, calling_window, timezone and
// schedule.recurrence). A field left out is nil; Build fills defaults and
// Update leaves the campaign's value.
type Spec struct {
	// From holds the numbers: a JSON array, or a comma-separated string.
	From                 json.RawMessage `json:"from,omitempty"`
	Lists                *[]string       `json:"lists,omitempty"`
	CallerID             *string         `json:"caller_id,omitempty"`
	URL                  *string         `json:"url,omitempty"`
	CampaignType         *string         `json:"campaign_type,omitempty"`
	FlowType             *string         `json:"flow_type,omitempty"`
	ReadViaText          *string         `json:"read_via_text,omitempty"`
	RepeatMenuAttempts   *int            `json:"repeat_menu_attempts,omitempty"`
	Name                 *string         `json:"name,omitempty"`
	Type                 *string         `json:"type,omitempty"`
	CallDuplicateNumbers *bool           `json:"call_duplicate_numbers,omitempty"`
	Retries              *RetrySpec      `json:"retries,omitempty"`
	Schedule             *ScheduleSpec   `json:"schedule,omitempty"`
	CallStatusCallback   *string         `json:"call_status_callback,omitempty"`
	CallScheduleCallback *string         `json:"call_schedule_callback,omitempty"`
	StatusCallback       *string         `json:"status_callback,omitempty"`
	Mode                 *string         `json:"mode,omitempty"`
	Throttle             *int            `json:"throttle,omitempty"`
	// CustomField is a string, or an object kept as its JSON text.
	CustomField   json.RawMessage `json:"custom_field,omitempty"`
	MaxConcurrent *int            `json:"max_concurrent,omitempty"`
	CallingWindow *WindowSpec     `json:"calling_window,omitempty"`
	Timezone      *string         `json:"timezone,omitempty"`
	// Action is an update's action: pause, resume, complete, archive.
	Action *string `json:"action,omitempty"`
}

// RetrySpec is Exotel's retries object.
type RetrySpec struct {
	NumberOfRetries *int     `json:"number_of_retries,omitempty"`
	IntervalMins    *int     `json:"interval_mins,omitempty"`
	Mechanism       string   `json:"mechanism,omitempty"`
	OnStatus        []string `json:"on_status,omitempty"`
}

// ScheduleSpec is Exotel's schedule object, plus recurrence: a cron
// expression (five fields, in the campaign's timezone) that makes the
// campaign recurring, each firing a run of its own, from send_at to
// end_at.
type ScheduleSpec struct {
	SendAt     string `json:"send_at,omitempty"`
	EndAt      string `json:"end_at,omitempty"`
	Recurrence string `json:"recurrence,omitempty"`
}

// WindowSpec is the local hours numbers may be called in ("09:00",
// "21:00"; "00:00" to "24:00" for any time).
type WindowSpec struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// FieldError is a request refused for one field, in words fit for the
// client.
type FieldError struct {
	Field   string
	Message string
	// NotFound marks a reference to something that does not exist (a
	// list, a flow, an ExoPhone).
	NotFound bool
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func missing(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...), NotFound: true}
}

// Lookup answers what a Spec refers to.
type Lookup interface {
	// ExoPhone reports whether number is an ExoPhone of the account,
	// returning it in its stored form.
	ExoPhone(ctx context.Context, accountSID, number string) (string, error)
	// LiveFlow errors unless the flow exists and is published.
	LiveFlow(ctx context.Context, accountSID, flowID string) error
	// List errors unless the list exists.
	List(ctx context.Context, accountSID, listSID string) error
	// Limits returns the account's dialing limits.
	Limits(ctx context.Context, accountSID string) (store.DialLimits, error)
	// BuildFlow stores a flow the campaign built (flow_type and
	// read_via_text) and publishes it, returning its id.
	BuildFlow(ctx context.Context, accountSID, name string, doc []byte) (string, error)
}

// StoreLookup answers lookups from the database.
func StoreLookup(db *store.DB) Lookup { return storeLookup{db} }

type storeLookup struct{ db *store.DB }

func (l storeLookup) ExoPhone(ctx context.Context, accountSID, number string) (string, error) {
	// Match, not Get: clients write the ExoPhone as Exotel's samples do
	// (08047000000, 918047000000), and the campaign keeps it as stored.
	p, err := l.db.Numbers().Match(ctx, accountSID, number)
	if err != nil {
		return "", err
	}
	return p.Number, nil
}

func (l storeLookup) LiveFlow(ctx context.Context, accountSID, flowID string) error {
	f, err := l.db.Flows().Get(ctx, accountSID, flowID)
	if err != nil {
		return err
	}
	if f.LiveVersion == 0 {
		return fmt.Errorf("flow %s: %w", flowID, store.ErrNotPublished)
	}
	return nil
}

func (l storeLookup) List(ctx context.Context, accountSID, listSID string) error {
	_, err := l.db.Lists().Get(ctx, accountSID, listSID)
	return err
}

func (l storeLookup) BuildFlow(ctx context.Context, accountSID, name string, doc []byte) (string, error) {
	var id string
	err := l.db.InTx(ctx, func(tx *store.DB) error {
		f, err := tx.Flows().Create(ctx, accountSID, name, doc)
		if err != nil {
			return err
		}
		if _, err := tx.Flows().Publish(ctx, accountSID, f.ID); err != nil {
			return err
		}
		id = f.ID
		return nil
	})
	return id, err
}

func (l storeLookup) Limits(ctx context.Context, accountSID string) (store.DialLimits, error) {
	m, err := l.db.Accounts().DialLimits(ctx, []string{accountSID})
	if err != nil {
		return store.DialLimits{}, err
	}
	lim, ok := m[accountSID]
	if !ok {
		return store.DialLimits{}, fmt.Errorf("dial limits of %s: %w", accountSID, store.ErrNotFound)
	}
	return lim, nil
}

// Build turns a create request into a campaign of the account, checking
// every field and what it refers to. A refused field is a *FieldError;
// other errors are the lookups' (the database's).
func Build(ctx context.Context, look Lookup, accountSID string, s Spec, at time.Time) (*store.Campaign, error) {
	c := &store.Campaign{AccountSID: accountSID, Type: "trans", CampaignType: "static", Mode: "auto", Status: store.CampaignCreated}
	if s.From == nil && s.Lists == nil {
		return nil, invalid("from", "give the numbers to call in from, or lists")
	}
	if s.CallerID == nil {
		return nil, invalid("caller_id", "caller_id is required: the ExoPhone the campaign calls from")
	}
	if s.URL == nil && s.FlowType == nil {
		return nil, invalid("url", "url is required: the flow the campaign's calls run")
	}
	if s.Action != nil {
		return nil, invalid("action", "action applies to an existing campaign (PUT)")
	}
	if err := apply(ctx, look, c, s, at); err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = accountSID + " " + at.In(exotime.IST).Format("2006-01-02 15:04:05")
	}
	return c, nil
}

// Update applies an update request to c, following Exotel's rule: before
// the campaign starts (status Created and send_at still ahead) any field
// may change; after, only the callback URLs (the action is the caller's).
// It reports whether fields other than the callbacks changed.
func Update(ctx context.Context, look Lookup, c *store.Campaign, s Spec, at time.Time) (bool, error) {
	callbacksOnly := s
	callbacksOnly.Action, callbacksOnly.StatusCallback, callbacksOnly.CallStatusCallback, callbacksOnly.CallScheduleCallback = nil, nil, nil, nil
	others := !isZero(callbacksOnly)
	if others {
		started := c.Status != store.CampaignCreated || c.DateStarted != nil || (c.SendAt != nil && !c.SendAt.After(at))
		if started {
			return false, &FieldError{Field: "campaigns", Message: "the campaign has started: only action, status_callback, call_status_callback and call_schedule_callback may change"}
		}
	}
	if err := apply(ctx, look, c, s, at); err != nil {
		return false, err
	}
	return others, nil
}

func isZero(s Spec) bool {
	b, _ := json.Marshal(s)
	return string(b) == "{}"
}

func apply(ctx context.Context, look Lookup, c *store.Campaign, s Spec, at time.Time) error {
	limits, err := look.Limits(ctx, c.AccountSID)
	if err != nil {
		return err
	}
	if s.Name != nil {
		name := strings.TrimSpace(*s.Name)
		if utf8.RuneCountInString(name) <= 3 || len(name) > MaxName {
			return invalid("name", "name must be more than 3 and at most %d characters", MaxName)
		}
		c.Name = name
	}
	if s.Type != nil && *s.Type != "trans" {
		return invalid("type", "type must be trans")
	}
	if s.CampaignType != nil {
		if *s.CampaignType != "static" && *s.CampaignType != "dynamic" {
			return invalid("campaign_type", "campaign_type must be static or dynamic")
		}
		c.CampaignType = *s.CampaignType
	}
	if s.From != nil {
		nums, err := numbers(s.From)
		if err != nil {
			return err
		}
		c.Numbers = nums
	}
	if s.Lists != nil {
		c.Lists = slices.Clone(*s.Lists)
	}
	if err := checkLists(ctx, look, c); err != nil {
		return err
	}
	if s.CallerID != nil {
		id, err := look.ExoPhone(ctx, c.AccountSID, strings.TrimSpace(*s.CallerID))
		if errors.Is(err, store.ErrNotFound) {
			return missing("caller_id", "caller_id %q is not an ExoPhone of the account", *s.CallerID)
		}
		if err != nil {
			return err
		}
		c.CallerID = id
	}
	if s.RepeatMenuAttempts != nil {
		if *s.RepeatMenuAttempts < 0 || *s.RepeatMenuAttempts > 9 {
			return invalid("repeat_menu_attempts", "repeat_menu_attempts must be 0 to 9")
		}
		c.RepeatMenuAttempts = *s.RepeatMenuAttempts
	}
	if s.URL != nil && s.FlowType != nil {
		return invalid("flow_type", "give url (a flow of the account) or flow_type with read_via_text, not both")
	}
	if s.FlowType != nil || s.ReadViaText != nil || (s.RepeatMenuAttempts != nil && c.FlowType != "") {
		if err := builtFlow(ctx, look, c, s); err != nil {
			return err
		}
	}
	if s.URL != nil {
		id, err := FlowIDOf(strings.TrimSpace(*s.URL), c.AccountSID)
		if err != nil {
			return invalid("url", "url %s", strings.TrimSuffix(err.Error(), ": "+ErrFlowURL.Error()))
		}
		if err := look.LiveFlow(ctx, c.AccountSID, id); errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotPublished) {
			return missing("url", "flow %s does not exist or has no published version", id)
		} else if err != nil {
			return err
		}
		c.URL, c.FlowID, c.FlowType, c.ReadViaText = strings.TrimSpace(*s.URL), id, "", ""
	}
	if s.CallDuplicateNumbers != nil {
		c.CallDuplicateNumbers = *s.CallDuplicateNumbers
	}
	if s.Retries != nil {
		p, err := retries(*s.Retries)
		if err != nil {
			return err
		}
		c.Retries = p
	}
	if s.Timezone != nil {
		if _, err := Zone(*s.Timezone); err != nil || *s.Timezone == "" {
			return invalid("timezone", "timezone %q is not an IANA time zone such as Asia/Kolkata", *s.Timezone)
		}
		c.Timezone = *s.Timezone
	}
	if s.CallingWindow != nil {
		w, err := ParseWindow(s.CallingWindow.Start, s.CallingWindow.End)
		if err != nil {
			return invalid("calling_window", "calling_window %s", err)
		}
		c.WindowStart, c.WindowEnd = s.CallingWindow.Start, s.CallingWindow.End
		if w == DefaultWindow {
			c.WindowStart, c.WindowEnd = "", ""
		}
	}
	if s.Schedule != nil {
		if err := schedule(c, *s.Schedule, at); err != nil {
			return err
		}
	}
	if c.SendAt == nil && c.Recurrence == "" {
		// Exotel's default span: 30 days from now.
		if c.EndAt == nil {
			end := at.Add(DefaultSpan)
			c.EndAt = &end
		}
	}
	for field, p := range map[string]**string{"status_callback": &s.StatusCallback, "call_status_callback": &s.CallStatusCallback, "call_schedule_callback": &s.CallScheduleCallback} {
		if *p == nil {
			continue
		}
		u := strings.TrimSpace(**p)
		if u != "" {
			if err := callbackURL(u); err != nil {
				return invalid(field, "%s %s", field, err)
			}
		}
		switch field {
		case "status_callback":
			c.StatusCallback = u
		case "call_status_callback":
			c.CallStatusCallback = u
		default:
			c.CallScheduleCallback = u
		}
	}
	if s.Mode != nil {
		if *s.Mode != "auto" && *s.Mode != "custom" {
			return invalid("mode", "mode must be auto or custom")
		}
		c.Mode = *s.Mode
	}
	if s.Throttle != nil {
		if *s.Throttle < 1 || *s.Throttle > limits.Rate {
			return invalid("throttle", "throttle must be 1 to %d calls per minute (the account's dialing rate)", limits.Rate)
		}
		c.Throttle = *s.Throttle
		if s.Mode == nil {
			c.Mode = "custom"
		}
	}
	if c.Mode == "custom" && c.Throttle == 0 {
		return invalid("throttle", "mode custom needs throttle, in calls per minute")
	}
	if c.Mode == "auto" {
		c.Throttle = 0
	}
	if s.MaxConcurrent != nil {
		if *s.MaxConcurrent < 1 || *s.MaxConcurrent > limits.Concurrency {
			return invalid("max_concurrent", "max_concurrent must be 1 to %d (the account's cap on live campaign calls)", limits.Concurrency)
		}
		c.MaxConcurrent = *s.MaxConcurrent
	}
	if s.CustomField != nil {
		cf, err := customField(s.CustomField)
		if err != nil {
			return err
		}
		c.CustomField = cf
	}
	if len(c.Numbers) == 0 && len(c.Lists) == 0 {
		return invalid("from", "give the numbers to call in from, or lists")
	}
	return nil
}

// builtFlow makes the flow of a campaign that gives flow_type and
// read_via_text instead of url: a greeting that speaks the text and hangs
// up, or a menu that speaks it, takes one key (stored as the call's
// digits) and hangs up, repeating the text repeat_menu_attempts times when
// no key comes. @@Column placeholders in the text are spoken as the
// contact's values.
func builtFlow(ctx context.Context, look Lookup, c *store.Campaign, s Spec) error {
	ft, text := c.FlowType, c.ReadViaText
	if s.FlowType != nil {
		ft = *s.FlowType
	}
	if s.ReadViaText != nil {
		text = strings.TrimSpace(*s.ReadViaText)
	}
	if ft != "greeting" && ft != "ivr" {
		return invalid("flow_type", "flow_type must be greeting or ivr (with read_via_text)")
	}
	if text == "" || len(text) > MaxText {
		return invalid("read_via_text", "read_via_text must be 1 to %d characters: what the flow says", MaxText)
	}
	prompt := map[string]any{"text": text}
	applets := map[string]any{"bye": map[string]any{"type": "hangup", "config": map[string]any{}}}
	start := "say"
	if ft == "greeting" {
		applets["say"] = map[string]any{"type": "greeting", "config": map[string]any{"prompt": prompt}, "outputs": map[string]string{"next": "bye"}}
	} else {
		out := map[string]string{"timeout": "bye", "invalid": "bye"}
		for k := range 10 {
			out[fmt.Sprint(k)] = "bye"
		}
		applets["say"] = map[string]any{"type": "ivr", "outputs": out,
			"config": map[string]any{"prompt": prompt, "timeout": 5, "max_attempts": c.RepeatMenuAttempts + 1}}
	}
	doc, err := json.Marshal(map[string]any{"name": "Campaign " + ft, "start": start, "applets": applets})
	if err != nil {
		return fmt.Errorf("campaign flow: %w", err)
	}
	if _, problems := flows.Load(doc); problems.HasErrors() {
		return invalid("read_via_text", "the campaign's %s flow is not valid: %v", ft, problems)
	}
	id, err := look.BuildFlow(ctx, c.AccountSID, "Campaign "+ft+": "+clip(text), doc)
	if err != nil {
		return err
	}
	c.FlowType, c.ReadViaText, c.FlowID, c.URL = ft, text, id, ""
	return nil
}

func numbers(raw json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("from", "from must be an array of numbers or a comma-separated string")
		}
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				list = append(list, n)
			}
		}
	}
	if len(list) == 0 || len(list) > MaxNumbers {
		return nil, invalid("from", "from must have 1 to %d numbers, not %d", MaxNumbers, len(list))
	}
	out := make([]string, len(list))
	for i, n := range list {
		n = dialstr.Normalize(strings.TrimSpace(n))
		if !dialstr.Contact(n) {
			return nil, invalid(fmt.Sprintf("from[%d]", i), "%q is not a number (+ and 3 to 15 digits) or a SIP URI", clip(n))
		}
		out[i] = n
	}
	return out, nil
}

func checkLists(ctx context.Context, look Lookup, c *store.Campaign) error {
	switch {
	case c.CampaignType == "dynamic" && len(c.Lists) != 1:
		return invalid("lists", "a dynamic campaign takes exactly 1 list")
	case len(c.Lists) > MaxStaticLists:
		return invalid("lists", "a static campaign takes at most %d lists", MaxStaticLists)
	}
	seen := map[string]bool{}
	for i, l := range c.Lists {
		if seen[l] {
			return invalid(fmt.Sprintf("lists[%d]", i), "list %s is given twice", clip(l))
		}
		seen[l] = true
		if err := look.List(ctx, c.AccountSID, l); errors.Is(err, store.ErrNotFound) {
			return missing(fmt.Sprintf("lists[%d]", i), "list %s does not exist", clip(l))
		} else if err != nil {
			return err
		}
	}
	return nil
}

func retries(r RetrySpec) (store.RetryPolicy, error) {
	var p store.RetryPolicy
	if r.NumberOfRetries != nil {
		p.NumberOfRetries = *r.NumberOfRetries
	}
	if p.NumberOfRetries < 0 || p.NumberOfRetries > MaxRetries {
		return p, invalid("retries.number_of_retries", "number_of_retries must be 0 to %d", MaxRetries)
	}
	if r.IntervalMins != nil {
		p.IntervalMins = *r.IntervalMins
	}
	if p.NumberOfRetries > 0 && (r.IntervalMins == nil || p.IntervalMins < 1 || p.IntervalMins > MaxIntervalMins) {
		return p, invalid("retries.interval_mins", "interval_mins must be 1 to %d with retries", MaxIntervalMins)
	}
	switch strings.ToLower(r.Mechanism) {
	case "", "linear":
		p.Mechanism = Linear
	case "exponential":
		p.Mechanism = Exponential
	default:
		return p, invalid("retries.mechanism", "mechanism must be Linear or Exponential")
	}
	for _, s := range r.OnStatus {
		if !slices.Contains(RetryStatuses, s) {
			return p, invalid("retries.on_status", "on_status takes busy, no-answer and failed, not %q", clip(s))
		}
		if !slices.Contains(p.OnStatus, s) {
			p.OnStatus = append(p.OnStatus, s)
		}
	}
	return p, nil
}

func schedule(c *store.Campaign, s ScheduleSpec, at time.Time) error {
	if s.SendAt != "" {
		t, err := ParseTime(s.SendAt)
		if err != nil {
			return invalid("schedule.send_at", "send_at %s", err)
		}
		c.SendAt = &t
	}
	if s.EndAt != "" {
		t, err := ParseTime(s.EndAt)
		if err != nil {
			return invalid("schedule.end_at", "end_at %s", err)
		}
		c.EndAt = &t
	}
	if s.Recurrence != "" {
		loc, err := Zone(c.Timezone)
		if err != nil {
			return invalid("timezone", "%s", err)
		}
		if _, err := ParseRecurrence(s.Recurrence); err != nil {
			return invalid("schedule.recurrence", "recurrence %q is not a cron expression (minute hour day month weekday)", clip(s.Recurrence))
		}
		from := at
		if c.SendAt != nil && c.SendAt.After(at) {
			from = c.SendAt.Add(-time.Second)
		}
		next, _ := NextRun(s.Recurrence, loc, from)
		if next.IsZero() {
			return invalid("schedule.recurrence", "recurrence %q never fires", clip(s.Recurrence))
		}
		c.Recurrence, c.NextRunAt = s.Recurrence, &next
	}
	if c.SendAt != nil && c.EndAt != nil && !c.EndAt.After(*c.SendAt) {
		return invalid("schedule.end_at", "end_at must be after send_at")
	}
	if c.EndAt != nil && !c.EndAt.After(at) {
		return invalid("schedule.end_at", "end_at is in the past")
	}
	if c.SendAt != nil && c.EndAt == nil && c.Recurrence == "" {
		end := c.SendAt.Add(DefaultSpan)
		c.EndAt = &end
	}
	return nil
}

// ParseTime reads a v2 timestamp: RFC 3339, or "YYYY-MM-DD HH:mm:ss" with
// an offset (+05:30) or without (IST, as v1).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05-07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation(time.DateTime, s, exotime.IST); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-01-14T16:30:00+05:30", clip(s))
}

func callbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || len(raw) > MaxURLLen {
		return fmt.Errorf("must be an http(s) URL of at most %d characters", MaxURLLen)
	}
	return nil
}

func customField(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if len(s) > MaxText {
			return "", invalid("custom_field", "custom_field is longer than %d characters", MaxText)
		}
		return s, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", invalid("custom_field", "custom_field must be a string or an object")
	}
	b, _ := json.Marshal(obj)
	if len(b) > MaxText {
		return "", invalid("custom_field", "custom_field is longer than %d characters", MaxText)
	}
	return string(b), nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

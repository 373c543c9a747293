package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Campaign statuses (Exotel's).
const (
	CampaignCreated    = "Created"
	CampaignInProgress = "InProgress"
	CampaignPaused     = "Paused"
	CampaignCompleted  = "Completed"
	CampaignFailed     = "Failed"
	CampaignCanceled   = "Canceled"
	CampaignDeleted    = "Deleted"
	CampaignArchived   = "Archived"
)

// Statuses of a campaign's numbers. The first three are open; the rest
// are final. A number's final status is its last attempt's (completed,
// busy, no-answer, failed), or why it was never called.
const (
	NumberPending         = "pending"
	NumberInProgress      = "in-progress"
	NumberRetry           = "retry"
	NumberCompleted       = "completed"
	NumberBusy            = "busy"
	NumberNoAnswer        = "no-answer"
	NumberFailed          = "failed"
	NumberFailedDND       = "failed-dnd"
	NumberInvalid         = "invalid"
	NumberFailedNoAttempt = "failed-no-attempt"
)

// AttemptDialing is the status of an attempt whose call has not ended (or
// whose end the dialer has not taken in yet).
const AttemptDialing = "dialing"

// RetryPolicy is a campaign's retries (Exotel's retries object).
type RetryPolicy struct {
	NumberOfRetries int      `json:"number_of_retries"`
	IntervalMins    int      `json:"interval_mins"`
	Mechanism       string   `json:"mechanism"`
	OnStatus        []string `json:"on_status"`
}

// Campaign is an outbound dialing campaign, or one run of a recurring
// campaign (ParentSID and Run set).
type Campaign struct {
	SID          string `gorm:"column:sid;primaryKey"`
	AccountSID   string `gorm:"column:account_sid"`
	Name         string `gorm:"column:name"`
	Type         string `gorm:"column:type"`
	CampaignType string `gorm:"column:campaign_type"`
	CallerID     string `gorm:"column:caller_id"`
	// URL is the flow URL as given; FlowID the flow it names (or the
	// flow built from FlowType and ReadViaText).
	URL                string `gorm:"column:url"`
	FlowID             string `gorm:"column:flow_id"`
	FlowType           string `gorm:"column:flow_type"`
	ReadViaText        string `gorm:"column:read_via_text"`
	RepeatMenuAttempts int    `gorm:"column:repeat_menu_attempts"`
	// Numbers are those given in `from`; Lists the list SIDs.
	Numbers []string    `gorm:"column:numbers;serializer:json"`
	Lists   []string    `gorm:"column:lists;serializer:json"`
	Retries RetryPolicy `gorm:"column:retries;serializer:json"`
	SendAt  *time.Time  `gorm:"column:send_at"`
	EndAt   *time.Time  `gorm:"column:end_at"`
	// Recurrence is a cron expression: the campaign is a template, and
	// each time it fires a run (a campaign of its own) starts.
	Recurrence string `gorm:"column:recurrence"`
	// Timezone is the IANA zone of Recurrence and of contacts that have
	// none; WindowStart and WindowEnd ("09:00", "21:00") the local hours
	// numbers may be called ("" for the defaults, "00:00"-"24:00" for
	// any time).
	Timezone             string `gorm:"column:timezone"`
	WindowStart          string `gorm:"column:window_start"`
	WindowEnd            string `gorm:"column:window_end"`
	StatusCallback       string `gorm:"column:status_callback"`
	CallStatusCallback   string `gorm:"column:call_status_callback"`
	CallScheduleCallback string `gorm:"column:call_schedule_callback"`
	Mode                 string `gorm:"column:mode"`
	// Throttle is the campaign's dial rate in calls per minute (0: the
	// account's); MaxConcurrent its cap on live calls (0: the account's).
	Throttle             int    `gorm:"column:throttle"`
	MaxConcurrent        int    `gorm:"column:max_concurrent"`
	CustomField          string `gorm:"column:custom_field"`
	CallDuplicateNumbers bool   `gorm:"column:call_duplicate_numbers"`
	Status               string `gorm:"column:status"`
	ParentSID            string `gorm:"column:parent_sid"`
	Run                  int    `gorm:"column:run"`
	// NextRunAt is when a recurring campaign fires next.
	NextRunAt *time.Time `gorm:"column:next_run_at"`
	// Skipped counts duplicate numbers left out when the campaign started.
	Skipped     int        `gorm:"column:skipped"`
	DateStarted *time.Time `gorm:"column:date_started"`
	DateEnded   *time.Time `gorm:"column:date_ended"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Campaign) TableName() string { return "campaigns" }

// Open reports whether the campaign may still dial.
func (c *Campaign) Open() bool {
	return c.Status == CampaignCreated || c.Status == CampaignInProgress || c.Status == CampaignPaused
}

// CampaignNumber is one number a campaign calls.
type CampaignNumber struct {
	ID          string `gorm:"column:id;primaryKey"`
	CampaignSID string `gorm:"column:campaign_sid"`
	AccountSID  string `gorm:"column:account_sid"`
	Seq         int    `gorm:"column:seq"`
	Number      string `gorm:"column:number"`
	NumberKey   string `gorm:"column:number_key"`
	ContactSID  string `gorm:"column:contact_sid"`
	Name        string `gorm:"column:name"`
	// Data is the contact's fields, for @@Column placeholders.
	Data      map[string]string `gorm:"column:data;serializer:json"`
	Timezone  string            `gorm:"column:timezone"`
	Status    string            `gorm:"column:status"`
	Attempts  int               `gorm:"column:attempts"`
	NextAt    time.Time         `gorm:"column:next_at"`
	CreatedAt time.Time         `gorm:"column:created_at"`
	UpdatedAt time.Time         `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (CampaignNumber) TableName() string { return "campaign_numbers" }

// CampaignAttempt is one call a campaign placed.
type CampaignAttempt struct {
	CallSID     string    `gorm:"column:call_sid;primaryKey"`
	CampaignSID string    `gorm:"column:campaign_sid"`
	AccountSID  string    `gorm:"column:account_sid"`
	NumberID    string    `gorm:"column:number_id"`
	Attempt     int       `gorm:"column:attempt"`
	Number      string    `gorm:"column:number"`
	Status      string    `gorm:"column:status"`
	InstanceID  string    `gorm:"column:instance_id"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (CampaignAttempt) TableName() string { return "campaign_attempts" }

// ErrCampaignState: the campaign's status does not allow the change.
var ErrCampaignState = errors.New("not allowed in the campaign's status")

// Campaigns stores campaigns, their numbers and attempts. The methods
// taking an account are the API's; the others are the dialer's.
type Campaigns struct{ db *DB }

// Campaigns returns the campaigns repository.
func (db *DB) Campaigns() *Campaigns { return &Campaigns{db: db} }

// Create stores a new campaign, assigning its SID and timestamps; its
// numbers are taken from Numbers and Lists when it starts.
func (r *Campaigns) Create(ctx context.Context, c *Campaign) error {
	t := now()
	if c.SID == "" {
		c.SID = newID("cp")
	}
	c.CreatedAt, c.UpdatedAt = t, t
	c.SendAt, c.EndAt, c.NextRunAt = utcPtr(c.SendAt), utcPtr(c.EndAt), utcPtr(c.NextRunAt)
	if c.Status == "" {
		c.Status = CampaignCreated
	}
	if err := r.db.conn(ctx).Create(c).Error; err != nil {
		return insertErr("create campaign", err)
	}
	return nil
}

// Get returns one campaign of the account (a deleted one is ErrNotFound).
func (r *Campaigns) Get(ctx context.Context, accountSID, sid string) (*Campaign, error) {
	var c Campaign
	err := r.db.read(ctx).Where("account_sid = ? AND sid = ? AND status <> ?", accountSID, sid, CampaignDeleted).Take(&c).Error
	if err != nil {
		return nil, dbErr("get campaign "+sid, err)
	}
	return &c, nil
}

// BySID returns a campaign whatever its account and status (the dialer's).
func (r *Campaigns) BySID(ctx context.Context, sid string) (*Campaign, error) {
	var c Campaign
	if err := r.db.read(ctx).Where("sid = ?", sid).Take(&c).Error; err != nil {
		return nil, dbErr("get campaign "+sid, err)
	}
	return &c, nil
}

// CampaignFilter selects campaigns for the API's listing.
type CampaignFilter struct {
	Page
	Name     string
	Statuses []string
	Type     string
	// SortBy is "date_created" (default) or "name"; Desc reverses it.
	SortBy string
	Desc   bool
	// Parent lists the runs of a recurring campaign.
	Parent string
}

// List returns a page of the account's campaigns (not deleted ones unless
// asked for by status) and how many match.
func (r *Campaigns) List(ctx context.Context, accountSID string, f CampaignFilter) ([]Campaign, int, error) {
	where := func() *gorm.DB {
		q := r.db.read(ctx).Model(&Campaign{}).Where("account_sid = ?", accountSID)
		if len(f.Statuses) > 0 {
			q = q.Where("status IN ?", f.Statuses)
		} else {
			q = q.Where("status <> ?", CampaignDeleted)
		}
		if f.Name != "" {
			q = q.Where("LOWER(name) LIKE ?", "%"+strings.ToLower(f.Name)+"%")
		}
		if f.Type != "" {
			q = q.Where("type = ?", f.Type)
		}
		if f.Parent != "" {
			q = q.Where("parent_sid = ?", f.Parent)
		}
		return q
	}
	var total int64
	if err := where().Count(&total).Error; err != nil {
		return nil, 0, dbErr("count campaigns", err)
	}
	var cs []Campaign
	err := f.Page.apply(where().Order(listOrder(f.SortBy, f.Desc))).Find(&cs).Error
	return cs, int(total), dbErr("list campaigns", err)
}

// Update saves the editable fields of c, as long as the campaign has not
// started (status Created and send_at, if any, after at): Exotel's rule.
// After that only the callback URLs may change (UpdateCallbacks).
func (r *Campaigns) Update(ctx context.Context, c *Campaign, at time.Time) error {
	c.UpdatedAt = now()
	c.SendAt, c.EndAt, c.NextRunAt = utcPtr(c.SendAt), utcPtr(c.EndAt), utcPtr(c.NextRunAt)
	res := r.db.conn(ctx).Model(&Campaign{}).
		Where("account_sid = ? AND sid = ? AND status = ? AND date_started IS NULL AND (send_at IS NULL OR send_at > ?)",
			c.AccountSID, c.SID, CampaignCreated, utc(at)).
		Select("name", "caller_id", "url", "flow_id", "flow_type", "read_via_text", "repeat_menu_attempts", "numbers",
			"lists", "campaign_type", "retries", "send_at", "end_at", "recurrence", "timezone", "window_start", "window_end",
			"status_callback", "call_status_callback", "call_schedule_callback", "mode", "throttle", "max_concurrent",
			"custom_field", "call_duplicate_numbers", "next_run_at", "updated_at").
		Updates(c)
	if res.Error != nil {
		return dbErr("update campaign "+c.SID, res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := r.Get(ctx, c.AccountSID, c.SID); err != nil {
			return err
		}
		return fmt.Errorf("update campaign %s: it has started; only action and the callback URLs may change: %w", c.SID, ErrCampaignState)
	}
	return nil
}

// UpdateCallbacks changes a campaign's callback URLs, whatever its status
// (except deleted).
func (r *Campaigns) UpdateCallbacks(ctx context.Context, accountSID, sid string, status, callStatus, callSchedule *string) error {
	set := map[string]any{"updated_at": now()}
	for col, v := range map[string]*string{"status_callback": status, "call_status_callback": callStatus, "call_schedule_callback": callSchedule} {
		if v != nil {
			set[col] = *v
		}
	}
	res := r.db.conn(ctx).Model(&Campaign{}).Where("account_sid = ? AND sid = ? AND status <> ?", accountSID, sid, CampaignDeleted).Updates(set)
	if res.Error != nil {
		return dbErr("update campaign callbacks "+sid, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update campaign %s: %w", sid, ErrNotFound)
	}
	return nil
}

// Campaign actions (Exotel's update actions).
const (
	ActionPause    = "pause"
	ActionResume   = "resume"
	ActionComplete = "complete"
	ActionArchive  = "archive"
)

// Act applies an action: pause (from Created or InProgress), resume
// (from Paused, back to InProgress, or Created if it never started),
// complete (from Paused: the numbers not yet called are marked
// failed-no-attempt), archive (from Completed). Another status is
// ErrCampaignState. end is the callbacks a completion produces, written
// in the same transaction (nil for none).
func (r *Campaigns) Act(ctx context.Context, accountSID, sid, action string, end CampaignOutbox) (*Campaign, error) {
	err := r.db.atomic(ctx, func(tx *DB) error {
		c, err := tx.Campaigns().Get(ctx, accountSID, sid)
		if err != nil {
			return err
		}
		var from []string
		var to string
		switch action {
		case ActionPause:
			from, to = []string{CampaignCreated, CampaignInProgress}, CampaignPaused
		case ActionResume:
			from, to = []string{CampaignPaused}, CampaignInProgress
			if c.DateStarted == nil {
				to = CampaignCreated
			}
		case ActionComplete:
			from, to = []string{CampaignPaused}, CampaignCompleted
		case ActionArchive:
			from, to = []string{CampaignCompleted}, CampaignArchived
		default:
			return fmt.Errorf("campaign %s: unknown action %q: %w", sid, action, ErrInvalid)
		}
		ok, err := tx.Campaigns().move(ctx, sid, from, to)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("campaign %s is %s; %s needs %s: %w", sid, c.Status, action, strings.Join(from, " or "), ErrCampaignState)
		}
		if to == CampaignCompleted {
			return tx.Campaigns().close(ctx, sid, end)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, accountSID, sid)
}

// Delete marks a campaign deleted; numbers not yet called are marked
// failed-no-attempt, and calls in progress go on to their end.
func (r *Campaigns) Delete(ctx context.Context, accountSID, sid string) error {
	return r.db.atomic(ctx, func(tx *DB) error {
		n, err := tx.exec(ctx, "UPDATE campaigns SET status = ?, updated_at = ?, date_ended = COALESCE(date_ended, ?) WHERE account_sid = ? AND (sid = ? OR parent_sid = ?) AND status <> ?",
			CampaignDeleted, now(), now(), accountSID, sid, sid, CampaignDeleted)
		if err != nil {
			return dbErr("delete campaign "+sid, err)
		}
		if n == 0 {
			return fmt.Errorf("delete campaign %s: %w", sid, ErrNotFound)
		}
		_, err = tx.exec(ctx, "UPDATE campaign_numbers SET status = ?, updated_at = ? WHERE campaign_sid IN (SELECT sid FROM campaigns WHERE sid = ? OR parent_sid = ?) AND status IN (?, ?)",
			NumberFailedNoAttempt, now(), sid, sid, NumberPending, NumberRetry)
		return dbErr("delete campaign numbers "+sid, err)
	})
}

// move changes a campaign's status if it is one of from.
func (r *Campaigns) move(ctx context.Context, sid string, from []string, to string) (bool, error) {
	set := "status = ?, updated_at = ?"
	args := []any{to, now()}
	switch to {
	case CampaignInProgress:
		set += ", date_started = COALESCE(date_started, ?)"
		args = append(args, now())
	case CampaignCompleted, CampaignFailed, CampaignCanceled:
		set += ", date_ended = COALESCE(date_ended, ?)"
		args = append(args, now())
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")
	args = append(args, sid)
	for _, f := range from {
		args = append(args, f)
	}
	n, err := r.db.exec(ctx, "UPDATE campaigns SET "+set+" WHERE sid = ? AND status IN ("+marks+")", args...)
	if err != nil {
		return false, dbErr("campaign "+sid+" to "+to, err)
	}
	return n > 0, nil
}

// CampaignOutbox builds the callbacks of a campaign's end: it runs in the
// transaction that ends it, with the campaign as it now is and the
// numbers that end with it (not called: failed-no-attempt).
type CampaignOutbox func(c *Campaign, ended []CampaignNumber) ([]Callback, error)

// close marks the open numbers of an ended campaign failed-no-attempt
// and writes its end callbacks.
func (r *Campaigns) close(ctx context.Context, sid string, out CampaignOutbox) error {
	var ended []CampaignNumber
	if err := r.db.conn(ctx).Where("campaign_sid = ? AND status IN ?", sid, []string{NumberPending, NumberRetry}).
		Order("seq").Find(&ended).Error; err != nil {
		return dbErr("open numbers of "+sid, err)
	}
	if _, err := r.db.exec(ctx, "UPDATE campaign_numbers SET status = ?, updated_at = ? WHERE campaign_sid = ? AND status IN (?, ?)",
		NumberFailedNoAttempt, now(), sid, NumberPending, NumberRetry); err != nil {
		return dbErr("close numbers of "+sid, err)
	}
	if out == nil {
		return nil
	}
	c, err := r.BySID(ctx, sid)
	if err != nil {
		return err
	}
	for i := range ended {
		ended[i].Status = NumberFailedNoAttempt
	}
	cbs, err := out(c, ended)
	if err != nil {
		return fmt.Errorf("campaign %s: end callbacks: %w", sid, err)
	}
	return insertCallbacks(ctx, r.db, cbs)
}

// CampaignStats counts a campaign's numbers by Exotel's stats keys.
type CampaignStats map[string]int

// StatsKeys are Exotel's campaign stats keys, in the order they are shown.
var StatsKeys = []string{"created", "pending", "in-progress", "retry", "retrying", "completed", "failed",
	"failed-dnd", "invalid", "paused", "failed-no-attempt"}

// Stats returns the stats of the campaigns (by SID); every key is present.
func (r *Campaigns) Stats(ctx context.Context, cs []Campaign) (map[string]CampaignStats, error) {
	out := make(map[string]CampaignStats, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	sids := make([]string, len(cs))
	paused := map[string]bool{}
	for i, c := range cs {
		sids[i] = c.SID
		paused[c.SID] = c.Status == CampaignPaused
		st := CampaignStats{}
		for _, k := range StatsKeys {
			st[k] = 0
		}
		out[c.SID] = st
	}
	var rows []struct {
		CampaignSID string `gorm:"column:campaign_sid"`
		Status      string `gorm:"column:status"`
		Retrying    bool   `gorm:"column:retrying"`
		N           int    `gorm:"column:n"`
	}
	if err := r.db.read(ctx).Model(&CampaignNumber{}).
		Select("campaign_sid, status, attempts > 1 AS retrying, COUNT(*) AS n").
		Where("campaign_sid IN ?", sids).Group("campaign_sid, status, attempts > 1").Scan(&rows).Error; err != nil {
		return nil, dbErr("campaign stats", err)
	}
	for _, row := range rows {
		st := out[row.CampaignSID]
		st["created"] += row.N
		key := row.Status
		switch row.Status {
		case NumberPending, NumberRetry:
			if paused[row.CampaignSID] {
				key = "paused"
			}
		case NumberInProgress:
			if row.Retrying {
				key = "retrying"
			}
		case NumberBusy, NumberNoAnswer:
			key = NumberFailed
		}
		st[key] += row.N
	}
	return out, nil
}

// ReportFilter selects a campaign's calls for its report.
type ReportFilter struct {
	Page
	// Statuses are call statuses: completed, failed, busy, no-answer.
	Statuses []string
	Desc     bool
	// All returns every row, ignoring Page (the CSV download).
	All bool
}

// ReportRow is one call of a campaign: its attempt and the call's record.
type ReportRow struct {
	CampaignAttempt
	Name         string     `gorm:"column:name"`
	CallStatus   string     `gorm:"column:call_status"`
	Duration     int        `gorm:"column:duration"`
	Digits       string     `gorm:"column:digits"`
	RecordingURL string     `gorm:"column:recording_url"`
	StartTime    *time.Time `gorm:"column:start_time"`
	EndTime      *time.Time `gorm:"column:end_time"`
	CallerID     string     `gorm:"column:caller_id"`
}

// Report returns a page of a campaign's calls, in the order placed, and
// how many match.
func (r *Campaigns) Report(ctx context.Context, accountSID, sid string, f ReportFilter) ([]ReportRow, int, error) {
	if _, err := r.Get(ctx, accountSID, sid); err != nil {
		return nil, 0, err
	}
	where := func() *gorm.DB {
		q := r.db.read(ctx).Table("campaign_attempts a").
			Joins("LEFT JOIN calls c ON c.sid = a.call_sid").
			Joins("LEFT JOIN campaign_numbers n ON n.id = a.number_id").
			Where("a.account_sid = ? AND a.campaign_sid = ?", accountSID, sid)
		if len(f.Statuses) > 0 {
			q = q.Where("a.status IN ?", f.Statuses)
		}
		return q
	}
	var total int64
	if err := where().Count(&total).Error; err != nil {
		return nil, 0, dbErr("count campaign calls", err)
	}
	q := where().Select("a.*, n.name AS name, c.status AS call_status, c.duration AS duration, c.digits AS digits, " +
		"c.recording_url AS recording_url, c.start_time AS start_time, c.end_time AS end_time, c.phone_number AS caller_id")
	if f.Desc {
		q = q.Order("a.created_at DESC, a.call_sid DESC")
	} else {
		q = q.Order("a.created_at, a.call_sid")
	}
	if !f.All {
		q = f.Page.apply(q)
	}
	var rows []ReportRow
	err := q.Scan(&rows).Error
	return rows, int(total), dbErr("campaign calls", err)
}

// AttemptMark is when a campaign call was placed and how it ended so far
// (a Number* outcome, or AttemptDialing while it is up).
type AttemptMark struct {
	At     time.Time `gorm:"column:created_at"`
	Status string    `gorm:"column:status"`
}

// Marks returns when each of a campaign's calls was placed and its
// outcome, in the order placed: two columns of the attempts alone, for a
// plot of the campaign over time (Report reads whole rows with their
// calls and numbers).
func (r *Campaigns) Marks(ctx context.Context, accountSID, sid string) ([]AttemptMark, error) {
	if _, err := r.Get(ctx, accountSID, sid); err != nil {
		return nil, err
	}
	var marks []AttemptMark
	err := r.db.read(ctx).Table("campaign_attempts").Select("created_at, status").
		Where("account_sid = ? AND campaign_sid = ?", accountSID, sid).
		Order("created_at, call_sid").Scan(&marks).Error
	return marks, dbErr("campaign call marks", err)
}

// insertCallbacks writes campaign callbacks to the outbox, numbering each
// after the callbacks of its key (CallSID: the call, the campaign, or the
// campaign's number).
func insertCallbacks(ctx context.Context, db *DB, cbs []Callback) error {
	if len(cbs) == 0 {
		return nil
	}
	t := now()
	last := map[string]int{}
	for i := range cbs {
		cb := &cbs[i]
		if cb.URL == "" || cb.Event == "" || cb.CallSID == "" || cb.AccountSID == "" {
			return fmt.Errorf("campaign callback without URL, event or key: %w", ErrInvalid)
		}
		seq, ok := last[cb.CallSID]
		if !ok {
			if err := db.conn(ctx).Model(&Callback{}).Where("call_sid = ?", cb.CallSID).
				Select("COALESCE(MAX(seq), 0)").Scan(&seq).Error; err != nil {
				return dbErr("outbox: last seq of "+cb.CallSID, err)
			}
		}
		seq++
		last[cb.CallSID] = seq
		cb.ID, cb.Seq, cb.Status, cb.Attempts = newID("cb"), seq, CallbackPending, 0
		cb.RelayedAt, cb.DeliveredAt, cb.CreatedAt, cb.UpdatedAt = nil, nil, t, t
		if err := db.conn(ctx).Create(cb).Error; err != nil {
			return insertErr("outbox: insert campaign callback", err)
		}
	}
	return nil
}

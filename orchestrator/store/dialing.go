package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file is the dialer's side of campaigns: starting them, claiming
// numbers, taking in the calls' outcomes. Every write that decides who is
// called is fenced by the dialer's lease (see Leases), so an instance that
// lost the lead cannot dial.

// Lease is a named lease held by one instance; Epoch grows each time the
// lease changes hands, and fences writes made under it.
type Lease struct {
	Name      string    `gorm:"column:name;primaryKey"`
	Holder    string    `gorm:"column:holder"`
	Epoch     int64     `gorm:"column:epoch"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

// TableName implements gorm's tabler.
func (Lease) TableName() string { return "leases" }

// ErrLeaseLost: the lease a fenced write relies on is held by another
// instance now (or expired).
var ErrLeaseLost = errors.New("lease lost")

// Leases grants named leases.
type Leases struct{ db *DB }

// Leases returns the leases repository.
func (db *DB) Leases() *Leases { return &Leases{db: db} }

// Acquire takes or renews the lease name for holder until ttl from now;
// it takes it from a holder among dead (instances known dead) at once.
// It returns the lease and true if holder has it, or the current holder's
// lease and false.
func (r *Leases) Acquire(ctx context.Context, name, holder string, ttl time.Duration, dead ...string) (Lease, bool, error) {
	var l Lease
	var got bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		t := now()
		until := utc(t.Add(ttl))
		if _, err := tx.exec(ctx, "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, '', 0, ?) ON CONFLICT DO NOTHING", name, utc(t)); err != nil {
			return dbErr("lease "+name, err)
		}
		n, err := tx.exec(ctx, "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?", until, name, holder, utc(t))
		if err != nil {
			return dbErr("renew lease "+name, err)
		}
		if n == 0 {
			cond, args := "expires_at <= ? OR holder = ''", []any{holder, until, name, utc(t)}
			if len(dead) > 0 {
				cond += " OR holder IN ?"
				args = append(args, dead)
			}
			res := tx.conn(ctx).Exec("UPDATE leases SET holder = ?, epoch = epoch + 1, expires_at = ? WHERE name = ? AND ("+cond+")", args...)
			if res.Error != nil {
				return dbErr("take lease "+name, res.Error)
			}
			n = res.RowsAffected
		}
		got = n > 0
		return dbErr("read lease "+name, tx.conn(ctx).Where("name = ?", name).Take(&l).Error)
	})
	return l, got && l.Holder == holder, err
}

// Release gives the lease up, if holder still has it under epoch.
func (r *Leases) Release(ctx context.Context, l Lease) error {
	_, err := r.db.exec(ctx, "UPDATE leases SET holder = '', expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?", utc(now()), l.Name, l.Holder, l.Epoch)
	return dbErr("release lease "+l.Name, err)
}

// fence proves, inside a transaction, that l is still held: on
// PostgreSQL the row stays locked to the commit, so a takeover waits for
// it and a write after a takeover fails here.
func (db *DB) fence(ctx context.Context, l Lease) error {
	n, err := db.exec(ctx, "UPDATE leases SET epoch = epoch WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ?",
		l.Name, l.Holder, l.Epoch, utc(now()))
	if err != nil {
		return dbErr("fence "+l.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("lease %s (epoch %d): %w", l.Name, l.Epoch, ErrLeaseLost)
	}
	return nil
}

// DialLimits are an account's campaign dialing limits, across its
// campaigns: calls per minute and live calls.
type DialLimits struct {
	Rate        int `gorm:"column:dial_rate"`
	Concurrency int `gorm:"column:dial_concurrency"`
}

// DialLimits returns the accounts' limits, by account SID.
func (r *Accounts) DialLimits(ctx context.Context, sids []string) (map[string]DialLimits, error) {
	var rows []struct {
		SID string `gorm:"column:sid"`
		DialLimits
	}
	if len(sids) == 0 {
		return map[string]DialLimits{}, nil // an idle dialer asks every second
	}
	if err := r.db.conn(ctx).Model(&Account{}).Select("sid, dial_rate, dial_concurrency").Where("sid IN ?", sids).Scan(&rows).Error; err != nil {
		return nil, dbErr("dial limits", err)
	}
	out := make(map[string]DialLimits, len(rows))
	for _, row := range rows {
		out[row.SID] = row.DialLimits
	}
	return out, nil
}

// SetDialLimits changes an account's limits.
func (r *Accounts) SetDialLimits(ctx context.Context, sid string, l DialLimits) error {
	if l.Rate < 1 || l.Concurrency < 1 {
		return fmt.Errorf("dial limits of %s: rate and concurrency must be at least 1: %w", sid, ErrInvalid)
	}
	n, err := r.db.exec(ctx, "UPDATE accounts SET dial_rate = ?, dial_concurrency = ?, updated_at = ? WHERE sid = ?", l.Rate, l.Concurrency, now(), sid)
	if err != nil {
		return dbErr("dial limits of "+sid, err)
	}
	if n == 0 {
		return fmt.Errorf("dial limits of %s: %w", sid, ErrNotFound)
	}
	return nil
}

// Active returns the campaigns the dialer looks after at at: those to
// start (Created, due), running ones, and recurring ones due to fire.
func (r *Campaigns) Active(ctx context.Context, at time.Time) ([]Campaign, error) {
	var cs []Campaign
	err := r.db.conn(ctx).
		Where("(status = ? AND recurrence = '' AND (send_at IS NULL OR send_at <= ?)) OR (status = ? AND recurrence = '') OR (recurrence <> '' AND status IN ? AND next_run_at <= ?)",
			CampaignCreated, utc(at), CampaignInProgress, []string{CampaignCreated, CampaignInProgress}, utc(at)).
		Order("created_at, sid").Find(&cs).Error
	return cs, dbErr("active campaigns", err)
}

// Start takes a campaign's numbers (its own, then its lists' in order,
// duplicates left out unless it calls them) and moves it from Created to
// InProgress, in one fenced transaction. It reports false if the
// campaign was not Created (started already, paused, deleted). Numbers
// that are not numbers are stored as invalid. out builds the start
// callbacks.
func (r *Campaigns) Start(ctx context.Context, l Lease, sid string, at time.Time, out CampaignOutbox) (bool, error) {
	var started bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		ok, err := tx.Campaigns().move(ctx, sid, []string{CampaignCreated}, CampaignInProgress)
		if err != nil || !ok {
			return err
		}
		started = true
		c, err := tx.Campaigns().BySID(ctx, sid)
		if err != nil {
			return err
		}
		if err := tx.Campaigns().materialize(ctx, c, at); err != nil {
			return err
		}
		if out == nil {
			return nil
		}
		cbs, err := out(c, nil)
		if err != nil {
			return fmt.Errorf("campaign %s: start callbacks: %w", sid, err)
		}
		return insertCallbacks(ctx, tx, cbs)
	})
	return started, err
}

func (r *Campaigns) materialize(ctx context.Context, c *Campaign, at time.Time) error {
	_, err := r.takeNumbers(ctx, c, at, false)
	return err
}

// takeNumbers adds a campaign's numbers after those it has: its own
// numbers (not when more is set), then its lists' contacts it does not
// have yet, in list order; numbers it calls already are skipped unless it
// calls duplicates. It returns how many it added.
func (r *Campaigns) takeNumbers(ctx context.Context, c *Campaign, at time.Time, more bool) (int, error) {
	t := now()
	seen := map[string]bool{}
	var tail struct {
		Seq int `gorm:"column:seq"`
	}
	if more {
		var keys []string
		if err := r.db.conn(ctx).Model(&CampaignNumber{}).Where("campaign_sid = ?", c.SID).Pluck("number_key", &keys).Error; err != nil {
			return 0, dbErr("numbers of "+c.SID, err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		if err := r.db.conn(ctx).Model(&CampaignNumber{}).Select("COALESCE(MAX(seq), 0) AS seq").Where("campaign_sid = ?", c.SID).
			Scan(&tail).Error; err != nil {
			return 0, dbErr("last number of "+c.SID, err)
		}
	}
	var batch []CampaignNumber
	seq, skipped, added := tail.Seq, 0, 0
	add := func(number, contactSID, name, tz string, data map[string]string) error {
		key, ok := ContactKey(number)
		status := NumberPending
		if !ok {
			status, key = NumberInvalid, ""
		} else if seen[key] && !c.CallDuplicateNumbers {
			skipped++
			return nil
		}
		seen[key] = true
		seq++
		added++
		batch = append(batch, CampaignNumber{ID: newID("cn"), CampaignSID: c.SID, AccountSID: c.AccountSID, Seq: seq,
			Number: number, NumberKey: key, ContactSID: contactSID, Name: name, Data: data, Timezone: tz,
			Status: status, NextAt: utc(at), CreatedAt: t, UpdatedAt: t})
		if len(batch) >= 500 {
			return r.flushNumbers(ctx, &batch)
		}
		return nil
	}
	if !more {
		for _, n := range c.Numbers {
			if err := add(n, "", "", "", nil); err != nil {
				return 0, err
			}
		}
	}
	for _, list := range c.Lists {
		for off := 0; ; off += 5000 {
			q := r.db.conn(ctx).Table("contacts").Select("contacts.*").
				Joins("JOIN list_members m ON m.contact_sid = contacts.sid AND m.account_sid = contacts.account_sid").
				Where("m.list_sid = ? AND m.account_sid = ?", list, c.AccountSID)
			if more {
				q = q.Where("NOT EXISTS (SELECT 1 FROM campaign_numbers n WHERE n.campaign_sid = ? AND n.contact_sid = contacts.sid)", c.SID)
			}
			var cs []Contact
			if err := q.Order("m.seq").Offset(off).Limit(5000).Find(&cs).Error; err != nil {
				return 0, dbErr("contacts of list "+list, err)
			}
			for i := range cs {
				ct := &cs[i]
				name := ct.FirstName
				if ct.LastName != "" {
					name += " " + ct.LastName
				}
				if err := add(ct.Number, ct.SID, name, ct.Timezone, ct.Fields()); err != nil {
					return 0, err
				}
			}
			if len(cs) < 5000 {
				break
			}
		}
	}
	if err := r.flushNumbers(ctx, &batch); err != nil {
		return 0, err
	}
	// Skipped counts the duplicates left out at the start; a dynamic
	// campaign meets its list's duplicates again at each look.
	if !more && skipped > 0 {
		if _, err := r.db.exec(ctx, "UPDATE campaigns SET skipped = ? WHERE sid = ?", skipped, c.SID); err != nil {
			return 0, dbErr("campaign skipped", err)
		}
	}
	return added, nil
}

// Extend takes into a running dynamic campaign the contacts its list
// gained since it last looked (a contact already called is not taken
// again; a number already called is skipped unless it calls
// duplicates), fenced. It returns how many numbers it added.
func (r *Campaigns) Extend(ctx context.Context, l Lease, c *Campaign, at time.Time) (int, error) {
	var n int
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		var err error
		n, err = tx.Campaigns().takeNumbers(ctx, c, at, true)
		return err
	})
	return n, err
}

func (r *Campaigns) flushNumbers(ctx context.Context, batch *[]CampaignNumber) error {
	if len(*batch) == 0 {
		return nil
	}
	if err := r.db.conn(ctx).CreateInBatches(*batch, 500).Error; err != nil {
		return insertErr("campaign numbers", err)
	}
	*batch = (*batch)[:0]
	return nil
}

// Spawn starts run, a new run of the recurring campaign parent, as a
// campaign of its own (status Created, so Start takes its numbers), and
// moves parent's next run to next (nil: no more runs; the parent is
// Completed). It reports false if another spawn moved the parent first.
func (r *Campaigns) Spawn(ctx context.Context, l Lease, parent *Campaign, run *Campaign, next *time.Time) (bool, error) {
	var ok bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		status := CampaignInProgress
		if next == nil {
			status = CampaignCompleted
		}
		n, err := tx.exec(ctx, "UPDATE campaigns SET next_run_at = ?, run = run + 1, status = ?, updated_at = ?, date_started = COALESCE(date_started, ?), date_ended = ? WHERE sid = ? AND run = ? AND status IN (?, ?)",
			utcPtr(next), status, now(), now(), endedAt(next), parent.SID, parent.Run, CampaignCreated, CampaignInProgress)
		if err != nil {
			return dbErr("move recurring campaign "+parent.SID, err)
		}
		if n == 0 {
			return nil
		}
		ok = true
		if run == nil {
			return nil
		}
		run.ParentSID, run.Run = parent.SID, parent.Run+1
		return tx.Campaigns().Create(ctx, run)
	})
	return ok, err
}

func endedAt(next *time.Time) *time.Time {
	if next != nil {
		return nil
	}
	t := now()
	return &t
}

// Due returns up to limit numbers of a campaign that may be dialled at
// at, in order: those whose time came first, then by their place.
func (r *Campaigns) Due(ctx context.Context, sid string, at time.Time, limit int) ([]CampaignNumber, error) {
	var ns []CampaignNumber
	err := r.db.conn(ctx).Where("campaign_sid = ? AND status IN ? AND next_at <= ?", sid, []string{NumberPending, NumberRetry}, utc(at)).
		Order("next_at, seq").Limit(limit).Find(&ns).Error
	return ns, dbErr("due numbers of "+sid, err)
}

// Later moves a number's next dial time (outside its calling window).
func (r *Campaigns) Later(ctx context.Context, id string, at time.Time) error {
	_, err := r.db.exec(ctx, "UPDATE campaign_numbers SET next_at = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)",
		utc(at), now(), id, NumberPending, NumberRetry)
	return dbErr("defer number "+id, err)
}

// NumberOutbox builds the callbacks of a number's change (its attempt
// ended, or it is final without a call): a is the attempt (nil for none),
// n the number as it now is, calls the SIDs of all its calls in order.
type NumberOutbox func(c *Campaign, n *CampaignNumber, a *CampaignAttempt, calls []string) ([]Callback, error)

// Begin claims number n for its next attempt, the call callSID placed by
// instance: the number moves to in-progress and the attempt row is
// written, fenced. It reports false if the number moved meanwhile.
func (r *Campaigns) Begin(ctx context.Context, l Lease, n *CampaignNumber, callSID, instance string) (bool, error) {
	var ok bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		c, err := tx.exec(ctx, "UPDATE campaign_numbers SET status = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = ? AND attempts = ?",
			NumberInProgress, now(), n.ID, n.Status, n.Attempts)
		if err != nil || c == 0 {
			return dbErr("claim number "+n.ID, err)
		}
		t := now()
		a := &CampaignAttempt{CallSID: callSID, CampaignSID: n.CampaignSID, AccountSID: n.AccountSID, NumberID: n.ID,
			Attempt: n.Attempts + 1, Number: n.Number, Status: AttemptDialing, InstanceID: instance, CreatedAt: t, UpdatedAt: t}
		if err := tx.conn(ctx).Create(a).Error; err != nil {
			return insertErr("attempt of "+n.ID, err)
		}
		ok = true
		return nil
	})
	return ok, err
}

// Unbegin takes back an attempt whose call was never created (the call
// could not be placed, or its instance died before): the attempt row goes,
// and the number is due again at at with the attempt count it had.
func (r *Campaigns) Unbegin(ctx context.Context, callSID string, at time.Time) error {
	return r.db.atomic(ctx, func(tx *DB) error {
		var a CampaignAttempt
		if err := tx.conn(ctx).Where("call_sid = ? AND status = ?", callSID, AttemptDialing).Take(&a).Error; err != nil {
			if errNoRows(err) {
				return nil
			}
			return dbErr("attempt "+callSID, err)
		}
		var calls int64
		if err := tx.conn(ctx).Model(&Call{}).Where("sid = ?", callSID).Count(&calls).Error; err != nil {
			return dbErr("call of attempt "+callSID, err)
		}
		if calls > 0 {
			return nil // placed after all: its outcome decides
		}
		if _, err := tx.exec(ctx, "DELETE FROM campaign_attempts WHERE call_sid = ?", callSID); err != nil {
			return dbErr("drop attempt "+callSID, err)
		}
		back := NumberPending
		if a.Attempt > 1 {
			back = NumberRetry
		}
		_, err := tx.exec(ctx, "UPDATE campaign_numbers SET status = ?, attempts = ?, next_at = ?, updated_at = ? WHERE id = ? AND status = ? AND attempts = ?",
			back, a.Attempt-1, utc(at), now(), a.NumberID, NumberInProgress, a.Attempt)
		return dbErr("release number "+a.NumberID, err)
	})
}

// Settle gives a number a final status without calling it (failed-dnd,
// invalid), fenced, with the callbacks out builds.
func (r *Campaigns) Settle(ctx context.Context, l Lease, n *CampaignNumber, status string, out NumberOutbox) error {
	return r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		c, err := tx.exec(ctx, "UPDATE campaign_numbers SET status = ?, updated_at = ? WHERE id = ? AND status = ? AND attempts = ?",
			status, now(), n.ID, n.Status, n.Attempts)
		if err != nil || c == 0 {
			return dbErr("settle number "+n.ID, err)
		}
		n.Status = status
		return tx.Campaigns().numberCallbacks(ctx, n, nil, out)
	})
}

func (r *Campaigns) numberCallbacks(ctx context.Context, n *CampaignNumber, a *CampaignAttempt, out NumberOutbox) error {
	if out == nil {
		return nil
	}
	c, err := r.BySID(ctx, n.CampaignSID)
	if err != nil {
		return err
	}
	var calls []string
	if err := r.db.conn(ctx).Model(&CampaignAttempt{}).Where("number_id = ?", n.ID).Order("attempt").
		Pluck("call_sid", &calls).Error; err != nil {
		return dbErr("calls of number "+n.ID, err)
	}
	cbs, err := out(c, n, a, calls)
	if err != nil {
		return fmt.Errorf("number %s: callbacks: %w", n.ID, err)
	}
	return insertCallbacks(ctx, r.db, cbs)
}

// EndedAttempt is an attempt whose call has its final record.
type EndedAttempt struct {
	CampaignAttempt
	CallStatus Status `gorm:"column:call_status"`
}

// Ended returns up to limit attempts still dialing whose calls ended.
func (r *Campaigns) Ended(ctx context.Context, limit int) ([]EndedAttempt, error) {
	var out []EndedAttempt
	err := r.db.conn(ctx).Table("campaign_attempts a").Select("a.*, c.status AS call_status").
		Joins("JOIN calls c ON c.sid = a.call_sid").
		Where("a.status = ? AND c.end_time IS NOT NULL", AttemptDialing).
		Order("a.created_at").Limit(limit).Scan(&out).Error
	return out, dbErr("ended attempts", err)
}

// Conclude records an attempt's outcome (status: completed, busy,
// no-answer, failed) and moves its number: to final (its status) or to
// retry at next, fenced, with the callbacks out builds. It reports false
// if the attempt was concluded before.
func (r *Campaigns) Conclude(ctx context.Context, l Lease, a *CampaignAttempt, status string, retryAt *time.Time, out NumberOutbox) (bool, error) {
	var ok bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		c, err := tx.exec(ctx, "UPDATE campaign_attempts SET status = ?, updated_at = ? WHERE call_sid = ? AND status = ?",
			status, now(), a.CallSID, AttemptDialing)
		if err != nil || c == 0 {
			return dbErr("conclude attempt "+a.CallSID, err)
		}
		ok = true
		a.Status = status
		set, args := "status = ?", []any{status}
		if retryAt != nil {
			set, args = "status = ?, next_at = ?", []any{NumberRetry, utc(*retryAt)}
		}
		args = append(args, now(), a.NumberID, NumberInProgress, a.Attempt)
		if _, err := tx.exec(ctx, "UPDATE campaign_numbers SET "+set+", updated_at = ? WHERE id = ? AND status = ? AND attempts = ?", args...); err != nil {
			return dbErr("number of attempt "+a.CallSID, err)
		}
		var n CampaignNumber
		if err := tx.conn(ctx).Where("id = ?", a.NumberID).Take(&n).Error; err != nil {
			return dbErr("number "+a.NumberID, err)
		}
		return tx.Campaigns().numberCallbacks(ctx, &n, a, out)
	})
	return ok, err
}

// Unplaced returns attempts still dialing that have no call and were
// begun before cutoff, or by one of the dead instances: their call was
// never placed.
func (r *Campaigns) Unplaced(ctx context.Context, dead []string, cutoff time.Time, limit int) ([]CampaignAttempt, error) {
	q := r.db.conn(ctx).Where("status = ? AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.sid = campaign_attempts.call_sid)", AttemptDialing)
	if len(dead) > 0 {
		q = q.Where("(created_at < ? OR instance_id IN ?)", utc(cutoff), dead)
	} else {
		q = q.Where("created_at < ?", utc(cutoff))
	}
	var out []CampaignAttempt
	err := q.Order("created_at").Limit(limit).Find(&out).Error
	return out, dbErr("unplaced attempts", err)
}

// Dialing counts attempts still dialing, by campaign and by account.
func (r *Campaigns) Dialing(ctx context.Context) (byCampaign, byAccount map[string]int, err error) {
	var rows []struct {
		AccountSID  string `gorm:"column:account_sid"`
		CampaignSID string `gorm:"column:campaign_sid"`
		N           int    `gorm:"column:n"`
	}
	if err := r.db.conn(ctx).Model(&CampaignAttempt{}).Select("account_sid, campaign_sid, COUNT(*) AS n").
		Where("status = ?", AttemptDialing).Group("account_sid, campaign_sid").Scan(&rows).Error; err != nil {
		return nil, nil, dbErr("dialing attempts", err)
	}
	byCampaign, byAccount = make(map[string]int, len(rows)), map[string]int{}
	for _, row := range rows {
		byCampaign[row.CampaignSID] = row.N
		byAccount[row.AccountSID] += row.N
	}
	return byCampaign, byAccount, nil
}

// Left counts a campaign's numbers not yet final.
func (r *Campaigns) Left(ctx context.Context, sid string) (int, error) {
	var n int64
	err := r.db.conn(ctx).Model(&CampaignNumber{}).
		Where("campaign_sid = ? AND status IN ?", sid, []string{NumberPending, NumberRetry, NumberInProgress}).Count(&n).Error
	return int(n), dbErr("numbers left of "+sid, err)
}

// Finish ends a running campaign whose numbers are all final (or, with
// force, whose end_at passed or which cannot go on: numbers not called
// become failed-no-attempt), as status (Completed or Failed), with its end
// callbacks. It reports false if the campaign still has numbers to call
// or calls in progress, or was not InProgress.
func (r *Campaigns) Finish(ctx context.Context, l Lease, sid, status string, force bool, out CampaignOutbox) (bool, error) {
	var done bool
	err := r.db.atomic(ctx, func(tx *DB) error {
		if err := tx.fence(ctx, l); err != nil {
			return err
		}
		open := []string{NumberPending, NumberRetry, NumberInProgress}
		if force {
			open = []string{NumberInProgress}
		}
		var left int64
		if err := tx.conn(ctx).Model(&CampaignNumber{}).Where("campaign_sid = ? AND status IN ?", sid, open).Count(&left).Error; err != nil {
			return dbErr("open numbers of "+sid, err)
		}
		if left > 0 {
			return nil
		}
		ok, err := tx.Campaigns().move(ctx, sid, []string{CampaignInProgress}, status)
		if err != nil || !ok {
			return err
		}
		done = true
		return tx.Campaigns().close(ctx, sid, out)
	})
	return done, err
}

// Progress is how far a campaign got, for `campaign show --follow`.
type Progress struct {
	Stats CampaignStats
	// Dialed counts attempts placed; Answered those whose call completed.
	Dialed, Answered int
	// LastMinute counts attempts placed in the minute before at.
	LastMinute int
}

// Progress returns a campaign's progress at at.
func (r *Campaigns) Progress(ctx context.Context, c *Campaign, at time.Time) (*Progress, error) {
	stats, err := r.Stats(ctx, []Campaign{*c})
	if err != nil {
		return nil, err
	}
	p := &Progress{Stats: stats[c.SID]}
	var row struct {
		Dialed   int `gorm:"column:dialed"`
		Answered int `gorm:"column:answered"`
		Recent   int `gorm:"column:recent"`
	}
	if err := r.db.read(ctx).Model(&CampaignAttempt{}).
		Select("COUNT(*) AS dialed, COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS answered, COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0) AS recent",
			NumberCompleted, utc(at.Add(-time.Minute))).
		Where("campaign_sid = ?", c.SID).Scan(&row).Error; err != nil {
		return nil, dbErr("campaign progress", err)
	}
	p.Dialed, p.Answered, p.LastMinute = row.Dialed, row.Answered, row.Recent
	return p, nil
}

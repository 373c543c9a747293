package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Limits of the phone book (Exotel's).
const (
	// MaxContactsPerRequest bounds a bulk contact create.
	MaxContactsPerRequest = 5000
	// MaxListContacts bounds a static list.
	MaxListContacts = 100000
)

// Contact is an entry of an account's address book (Exotel's contacts),
// which lists reference and campaigns call.
type Contact struct {
	SID         string `gorm:"column:sid;primaryKey"`
	AccountSID  string `gorm:"column:account_sid"`
	Number      string `gorm:"column:number"`
	FirstName   string `gorm:"column:first_name"`
	LastName    string `gorm:"column:last_name"`
	CompanyName string `gorm:"column:company_name"`
	Email       string `gorm:"column:email"`
	Tag         string `gorm:"column:tag"`
	// CustomField holds free-form columns (@@Column placeholders).
	CustomField map[string]string `gorm:"column:custom_field;serializer:json"`
	// Timezone is the contact's IANA zone ("" for the campaign's).
	Timezone  string    `gorm:"column:timezone"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Contact) TableName() string { return "contacts" }

// Fields is the contact as named columns, the data @@Column placeholders
// read: number, first_name, last_name, company_name, email, tag, and the
// custom fields (which do not override the named ones).
func (c *Contact) Fields() map[string]string {
	m := make(map[string]string, len(c.CustomField)+6)
	for k, v := range c.CustomField {
		m[k] = v
	}
	for k, v := range map[string]string{"number": c.Number, "first_name": c.FirstName, "last_name": c.LastName,
		"company_name": c.CompanyName, "email": c.Email, "tag": c.Tag} {
		m[k] = v
	}
	return m
}

// List is a named list of contacts.
type List struct {
	SID        string    `gorm:"column:sid;primaryKey"`
	AccountSID string    `gorm:"column:account_sid"`
	Name       string    `gorm:"column:name"`
	Tag        string    `gorm:"column:tag"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
	// Contacts is how many contacts the list has (filled by reads).
	Contacts int `gorm:"-"`
}

// TableName implements gorm's tabler.
func (List) TableName() string { return "lists" }

type listMember struct {
	ListSID    string    `gorm:"column:list_sid;primaryKey"`
	ContactSID string    `gorm:"column:contact_sid;primaryKey"`
	AccountSID string    `gorm:"column:account_sid"`
	Seq        int       `gorm:"column:seq"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

func (listMember) TableName() string { return "list_members" }

// listOrder is the ORDER BY of a listing sorted by "name" or (any other
// value) creation, then SID, ascending unless desc.
func listOrder(sortBy string, desc bool) string {
	order := "created_at"
	if sortBy == "name" {
		order = "name"
	}
	if desc {
		return order + " DESC, sid DESC"
	}
	return order + ", sid"
}

// apply pages a query.
func (p Page) apply(q *gorm.DB) *gorm.DB {
	return q.Offset(max(p.Offset, 0)).Limit(p.limit())
}

// Contacts is the phone book. Every operation is scoped to an account.
type Contacts struct{ db *DB }

// Contacts returns the contacts repository.
func (db *DB) Contacts() *Contacts { return &Contacts{db: db} }

// Create stores new contacts in one transaction, assigning their SIDs and
// timestamps, and returns them. Numbers must be valid already (the API
// checks them one by one and reports each).
func (r *Contacts) Create(ctx context.Context, accountSID string, cs []Contact) ([]Contact, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	err := r.db.atomic(ctx, func(tx *DB) error { return createContacts(ctx, tx, accountSID, cs) })
	if err != nil {
		return nil, err
	}
	return cs, nil
}

func createContacts(ctx context.Context, tx *DB, accountSID string, cs []Contact) error {
	t := now()
	for i := range cs {
		c := &cs[i]
		if _, ok := ContactKey(c.Number); !ok {
			return fmt.Errorf("create contact %q: %w", c.Number, ErrInvalid)
		}
		c.SID, c.AccountSID, c.CreatedAt, c.UpdatedAt = newID("ct"), accountSID, t, t
	}
	if err := tx.conn(ctx).CreateInBatches(cs, 500).Error; err != nil {
		return insertErr("create contacts", err)
	}
	return nil
}

// Get returns one contact.
func (r *Contacts) Get(ctx context.Context, accountSID, sid string) (*Contact, error) {
	var c Contact
	err := r.db.read(ctx).Where("account_sid = ? AND sid = ?", accountSID, sid).Take(&c).Error
	return &c, dbErr("get contact "+sid, err)
}

// List returns a page of the account's contacts, oldest first, and how
// many there are.
func (r *Contacts) List(ctx context.Context, accountSID string, p Page) ([]Contact, int, error) {
	q := r.db.read(ctx).Model(&Contact{}).Where("account_sid = ?", accountSID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, dbErr("count contacts", err)
	}
	var cs []Contact
	err := p.apply(r.db.read(ctx).Where("account_sid = ?", accountSID).Order("created_at, sid")).Find(&cs).Error
	return cs, int(total), dbErr("list contacts", err)
}

// Update replaces the editable fields of a contact with those of c
// (number, names, company, email, tag, custom fields, timezone).
func (r *Contacts) Update(ctx context.Context, accountSID, sid string, c Contact) (*Contact, error) {
	if _, ok := ContactKey(c.Number); !ok {
		return nil, fmt.Errorf("update contact %s: number %q: %w", sid, c.Number, ErrInvalid)
	}
	res := r.db.conn(ctx).Model(&Contact{}).Where("account_sid = ? AND sid = ?", accountSID, sid).
		Select("number", "first_name", "last_name", "company_name", "email", "tag", "custom_field", "timezone", "updated_at").
		Updates(&Contact{Number: c.Number, FirstName: c.FirstName, LastName: c.LastName, CompanyName: c.CompanyName,
			Email: c.Email, Tag: c.Tag, CustomField: c.CustomField, Timezone: c.Timezone, UpdatedAt: now()})
	if res.Error != nil {
		return nil, dbErr("update contact "+sid, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("update contact %s: %w", sid, ErrNotFound)
	}
	return r.Get(ctx, accountSID, sid)
}

// Delete removes a contact and takes it off every list.
func (r *Contacts) Delete(ctx context.Context, accountSID, sid string) error {
	return r.db.atomic(ctx, func(tx *DB) error {
		if _, err := tx.exec(ctx, "DELETE FROM list_members WHERE account_sid = ? AND contact_sid = ?", accountSID, sid); err != nil {
			return dbErr("delete contact "+sid+" from lists", err)
		}
		n, err := tx.exec(ctx, "DELETE FROM contacts WHERE account_sid = ? AND sid = ?", accountSID, sid)
		if err != nil {
			return dbErr("delete contact "+sid, err)
		}
		if n == 0 {
			return fmt.Errorf("delete contact %s: %w", sid, ErrNotFound)
		}
		return nil
	})
}

// Lists stores contact lists. Every operation is scoped to an account.
type Lists struct{ db *DB }

// Lists returns the lists repository.
func (db *DB) Lists() *Lists { return &Lists{db: db} }

// ListFilter selects lists: a page, a name substring, and the order
// ("date_created" or "name", ascending unless Desc).
type ListFilter struct {
	Page
	Name   string
	SortBy string
	Desc   bool
}

// Create stores a new list; a name the account already uses is
// ErrConflict.
func (r *Lists) Create(ctx context.Context, accountSID, name, tag string) (*List, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, fmt.Errorf("create list: name must be 1 to 200 characters: %w", ErrInvalid)
	}
	t := now()
	l := &List{SID: newID("ls"), AccountSID: accountSID, Name: name, Tag: tag, CreatedAt: t, UpdatedAt: t}
	if err := r.db.conn(ctx).Create(l).Error; err != nil {
		return nil, insertErr("create list "+name, err)
	}
	return l, nil
}

// Get returns one list with its contact count.
func (r *Lists) Get(ctx context.Context, accountSID, sid string) (*List, error) {
	var l List
	if err := r.db.read(ctx).Where("account_sid = ? AND sid = ?", accountSID, sid).Take(&l).Error; err != nil {
		return nil, dbErr("get list "+sid, err)
	}
	ls := []List{l}
	if err := r.count(ctx, ls); err != nil {
		return nil, err
	}
	return &ls[0], nil
}

// List returns a page of the account's lists and how many match.
func (r *Lists) List(ctx context.Context, accountSID string, f ListFilter) ([]List, int, error) {
	where := r.db.read(ctx).Model(&List{}).Where("account_sid = ?", accountSID)
	if f.Name != "" {
		where = where.Where("LOWER(name) LIKE ?", "%"+strings.ToLower(f.Name)+"%")
	}
	var total int64
	if err := where.Count(&total).Error; err != nil {
		return nil, 0, dbErr("count lists", err)
	}
	order := listOrder(f.SortBy, f.Desc)
	q := r.db.read(ctx).Where("account_sid = ?", accountSID)
	if f.Name != "" {
		q = q.Where("LOWER(name) LIKE ?", "%"+strings.ToLower(f.Name)+"%")
	}
	var ls []List
	if err := f.Page.apply(q.Order(order)).Find(&ls).Error; err != nil {
		return nil, 0, dbErr("list lists", err)
	}
	return ls, int(total), r.count(ctx, ls)
}

func (r *Lists) count(ctx context.Context, ls []List) error {
	if len(ls) == 0 {
		return nil
	}
	sids := make([]string, len(ls))
	for i := range ls {
		sids[i] = ls[i].SID
	}
	var rows []struct {
		ListSID string `gorm:"column:list_sid"`
		N       int    `gorm:"column:n"`
	}
	if err := r.db.read(ctx).Model(&listMember{}).Select("list_sid, COUNT(*) AS n").
		Where("list_sid IN ?", sids).Group("list_sid").Scan(&rows).Error; err != nil {
		return dbErr("count list contacts", err)
	}
	n := make(map[string]int, len(rows))
	for _, row := range rows {
		n[row.ListSID] = row.N
	}
	for i := range ls {
		ls[i].Contacts = n[ls[i].SID]
	}
	return nil
}

// Delete removes a list (its contacts stay in the phone book).
func (r *Lists) Delete(ctx context.Context, accountSID, sid string) error {
	return r.db.atomic(ctx, func(tx *DB) error {
		if _, err := tx.exec(ctx, "DELETE FROM list_members WHERE account_sid = ? AND list_sid = ?", accountSID, sid); err != nil {
			return dbErr("empty list "+sid, err)
		}
		n, err := tx.exec(ctx, "DELETE FROM lists WHERE account_sid = ? AND sid = ?", accountSID, sid)
		if err != nil {
			return dbErr("delete list "+sid, err)
		}
		if n == 0 {
			return fmt.Errorf("delete list %s: %w", sid, ErrNotFound)
		}
		return nil
	})
}

// AddResult is the outcome of adding one contact to a list: nil, or an
// error wrapping ErrNotFound (no such contact in the account) or
// ErrConflict (already on the list).
type AddResult struct {
	ContactSID string
	Err        error
}

// Add puts existing contacts on a list, after those it has, in one
// transaction, and reports each. The list must exist (ErrNotFound) and
// stay within MaxListContacts (ErrInvalid).
func (r *Lists) Add(ctx context.Context, accountSID, listSID string, contactSIDs []string) ([]AddResult, error) {
	out := make([]AddResult, len(contactSIDs))
	err := r.db.atomic(ctx, func(tx *DB) error {
		seq, err := tx.listTail(ctx, accountSID, listSID, len(contactSIDs))
		if err != nil {
			return err
		}
		var found []string
		if err := tx.conn(ctx).Model(&Contact{}).Where("account_sid = ? AND sid IN ?", accountSID, contactSIDs).
			Pluck("sid", &found).Error; err != nil {
			return dbErr("find contacts", err)
		}
		exists := make(map[string]bool, len(found))
		for _, s := range found {
			exists[s] = true
		}
		var on []string
		if err := tx.conn(ctx).Model(&listMember{}).Where("list_sid = ? AND contact_sid IN ?", listSID, contactSIDs).
			Pluck("contact_sid", &on).Error; err != nil {
			return dbErr("list members", err)
		}
		member := make(map[string]bool, len(on))
		for _, s := range on {
			member[s] = true
		}
		t := now()
		var rows []listMember
		for i, sid := range contactSIDs {
			out[i].ContactSID = sid
			switch {
			case !exists[sid]:
				out[i].Err = fmt.Errorf("contact %s: %w", sid, ErrNotFound)
			case member[sid]:
				out[i].Err = fmt.Errorf("contact %s is already on the list: %w", sid, ErrConflict)
			default:
				member[sid] = true
				seq++
				rows = append(rows, listMember{ListSID: listSID, ContactSID: sid, AccountSID: accountSID, Seq: seq, CreatedAt: t})
			}
		}
		if len(rows) > 0 {
			if err := tx.conn(ctx).CreateInBatches(rows, 500).Error; err != nil {
				return insertErr("add contacts to list "+listSID, err)
			}
		}
		return nil
	})
	return out, err
}

// Import creates contacts and puts them on a list in one transaction (a
// CSV upload): all or nothing.
func (r *Lists) Import(ctx context.Context, accountSID, listSID string, cs []Contact) ([]Contact, error) {
	err := r.db.atomic(ctx, func(tx *DB) error {
		seq, err := tx.listTail(ctx, accountSID, listSID, len(cs))
		if err != nil {
			return err
		}
		if err := createContacts(ctx, tx, accountSID, cs); err != nil {
			return err
		}
		t := now()
		rows := make([]listMember, len(cs))
		for i := range cs {
			rows[i] = listMember{ListSID: listSID, ContactSID: cs[i].SID, AccountSID: accountSID, Seq: seq + i + 1, CreatedAt: t}
		}
		if err := tx.conn(ctx).CreateInBatches(rows, 500).Error; err != nil {
			return insertErr("add contacts to list "+listSID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// listTail locks the list (PostgreSQL) and returns its last seq, after
// checking that adding more contacts keeps it within MaxListContacts.
func (db *DB) listTail(ctx context.Context, accountSID, listSID string, more int) (int, error) {
	if _, err := db.exec(ctx, "UPDATE lists SET updated_at = ? WHERE account_sid = ? AND sid = ?", now(), accountSID, listSID); err != nil {
		return 0, dbErr("lock list "+listSID, err)
	}
	var l List
	if err := db.conn(ctx).Where("account_sid = ? AND sid = ?", accountSID, listSID).Take(&l).Error; err != nil {
		return 0, dbErr("get list "+listSID, err)
	}
	var tail struct {
		N   int `gorm:"column:n"`
		Max int `gorm:"column:max"`
	}
	if err := db.conn(ctx).Model(&listMember{}).Select("COUNT(*) AS n, COALESCE(MAX(seq), 0) AS max").
		Where("list_sid = ?", listSID).Scan(&tail).Error; err != nil {
		return 0, dbErr("list tail", err)
	}
	if tail.N+more > MaxListContacts {
		return 0, fmt.Errorf("list %s would have %d contacts, more than %d: %w", listSID, tail.N+more, MaxListContacts, ErrInvalid)
	}
	return tail.Max, nil
}

// Members returns a page of a list's contacts in list order, and how many
// it has.
func (r *Lists) Members(ctx context.Context, accountSID, listSID string, p Page) ([]Contact, int, error) {
	if _, err := r.Get(ctx, accountSID, listSID); err != nil {
		return nil, 0, err
	}
	var total int64
	if err := r.db.read(ctx).Model(&listMember{}).Where("list_sid = ?", listSID).Count(&total).Error; err != nil {
		return nil, 0, dbErr("count list contacts", err)
	}
	var cs []Contact
	err := p.apply(r.db.read(ctx).Table("contacts").Select("contacts.*").
		Joins("JOIN list_members m ON m.contact_sid = contacts.sid AND m.account_sid = contacts.account_sid").
		Where("m.list_sid = ? AND m.account_sid = ?", listSID, accountSID).Order("m.seq")).Find(&cs).Error
	return cs, int(total), dbErr("list contacts of "+listSID, err)
}

// DND is an account's do-not-call list.
type DND struct{ db *DB }

// DND returns the do-not-call repository.
func (db *DB) DND() *DND { return &DND{db: db} }

// DNDNumber is a number the account must not call from a campaign.
type DNDNumber struct {
	AccountSID string    `gorm:"column:account_sid;primaryKey"`
	NumberKey  string    `gorm:"column:number_key;primaryKey"`
	Number     string    `gorm:"column:number"`
	Reason     string    `gorm:"column:reason"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (DNDNumber) TableName() string { return "dnd_numbers" }

// Add puts numbers on the list (one already there is left as it is).
func (r *DND) Add(ctx context.Context, accountSID, reason string, numbers ...string) error {
	t := now()
	return r.db.atomic(ctx, func(tx *DB) error {
		for _, n := range numbers {
			key, ok := ContactKey(n)
			if !ok {
				return fmt.Errorf("do-not-call: %q is not a number: %w", n, ErrInvalid)
			}
			if _, err := tx.exec(ctx, "INSERT INTO dnd_numbers (account_sid, number_key, number, reason, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
				accountSID, key, n, reason, t); err != nil {
				return dbErr("do-not-call add "+n, err)
			}
		}
		return nil
	})
}

// Remove takes a number off the list.
func (r *DND) Remove(ctx context.Context, accountSID, number string) error {
	key, ok := ContactKey(number)
	if !ok {
		return fmt.Errorf("do-not-call: %q is not a number: %w", number, ErrInvalid)
	}
	n, err := r.db.exec(ctx, "DELETE FROM dnd_numbers WHERE account_sid = ? AND number_key = ?", accountSID, key)
	if err != nil {
		return dbErr("do-not-call remove", err)
	}
	if n == 0 {
		return fmt.Errorf("do-not-call: %s: %w", number, ErrNotFound)
	}
	return nil
}

// List returns the account's do-not-call numbers, in the order added.
func (r *DND) List(ctx context.Context, accountSID string, p Page) ([]DNDNumber, int, error) {
	var total int64
	if err := r.db.read(ctx).Model(&DNDNumber{}).Where("account_sid = ?", accountSID).Count(&total).Error; err != nil {
		return nil, 0, dbErr("count do-not-call", err)
	}
	var out []DNDNumber
	err := p.apply(r.db.read(ctx).Where("account_sid = ?", accountSID).Order("created_at, number_key")).Find(&out).Error
	return out, int(total), dbErr("list do-not-call", err)
}

// Listed returns which of the number keys are on the account's list.
func (r *DND) Listed(ctx context.Context, accountSID string, keys []string) (map[string]bool, error) {
	var found []string
	if len(keys) > 0 {
		if err := r.db.conn(ctx).Model(&DNDNumber{}).Where("account_sid = ? AND number_key IN ?", accountSID, keys).
			Pluck("number_key", &found).Error; err != nil {
			return nil, dbErr("do-not-call lookup", err)
		}
	}
	m := make(map[string]bool, len(found))
	for _, k := range found {
		m[k] = true
	}
	return m, nil
}

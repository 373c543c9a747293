package store

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Limits of a user's fields.
const (
	// MaxUserName bounds a user's name (characters).
	MaxUserName = 200
	// MaxUserEmail bounds a user's email address (bytes, RFC 5321).
	MaxUserEmail = 254
	// MaxUserDevices is how many devices a user may have; at least one
	// is needed.
	MaxUserDevices = 10
)

// Users stores users (agents) and the devices they are reached on. Every
// operation is scoped to an account: another account's user is
// ErrNotFound.
type Users struct{ db *DB }

// Users returns the users repository.
func (db *DB) Users() *Users { return &Users{db: db} }

// UserInput is a new user.
type UserInput struct {
	Name  string
	Email string // "" for none
	// Devices are numbers or SIP URIs, in the order they are tried; they
	// are stored in ContactKey form.
	Devices []string
	// Available defaults to true.
	Available *bool
}

// UserUpdate is what Update changes: the fields that are set.
type UserUpdate struct {
	Name  *string
	Email *string // "" clears it
	// Available switches the user on or off for state-managed connects.
	Available *bool
	// Devices replaces the user's devices.
	Devices *[]string
}

// UserInputError is a user refused for one of its fields, in words fit to
// hand to the client that sent it. It wraps ErrInvalid (a malformed
// value) or ErrConflict (a device of another user of the account).
type UserInputError struct {
	// Field is the field at fault: name, email, devices or devices[i].
	Field string
	// Message says what is wrong, naming the field.
	Message string
	// Err is ErrInvalid or ErrConflict.
	Err error
}

func (e *UserInputError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) (or ErrConflict) hold.
func (e *UserInputError) Unwrap() error { return e.Err }

func invalidUser(field, format string, args ...any) error {
	return &UserInputError{Field: field, Message: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// deviceTaken is the error for a device that another user of the account
// holds; owner is "" when it is not known (a concurrent insert won).
func deviceTaken(field, contact, owner string) error {
	msg := fmt.Sprintf("%s: device %s already belongs to another user of the account", field, contact)
	if owner != "" {
		msg = fmt.Sprintf("%s: device %s already belongs to user %s", field, contact, owner)
	}
	return &UserInputError{Field: field, Message: msg, Err: ErrConflict}
}

// userName checks and normalises a name: trimmed, 1 to MaxUserName
// characters, storable.
func userName(name string) (string, error) {
	n := strings.TrimSpace(storable(name))
	switch {
	case n == "":
		return "", invalidUser("name", "name must not be empty")
	case utf8.RuneCountInString(n) > MaxUserName:
		return "", invalidUser("name", "name is longer than %d characters", MaxUserName)
	}
	return n, nil
}

// userEmail checks an email address: "" (none) or a bare address such as
// alice@example.com, without a display name.
func userEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", nil
	}
	bad := invalidUser("email", "email %q is not an email address such as alice@example.com", email)
	if len(e) > MaxUserEmail {
		return "", invalidUser("email", "email is longer than %d characters", MaxUserEmail)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return "", bad
	}
	local, domain, ok := strings.Cut(e, "@")
	// A host name with a dot: no address literals, no bare hosts.
	if !ok || local == "" || strings.ContainsAny(domain, "@ []") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", bad
	}
	return e, nil
}

// userDevices checks a device list and returns it in ContactKey form, in
// the order given: 1 to MaxUserDevices devices, each a number or SIP URI,
// no two the same contact.
func userDevices(devices []string) ([]device, error) {
	switch {
	case len(devices) == 0:
		return nil, invalidUser("devices", "devices must list at least one number or SIP URI")
	case len(devices) > MaxUserDevices:
		return nil, invalidUser("devices", "devices lists %d devices: at most %d are allowed", len(devices), MaxUserDevices)
	}
	keys := make([]device, len(devices))
	seen := make(map[string]int, len(devices))
	for i, d := range devices {
		field := fmt.Sprintf("devices[%d]", i)
		k, ok := ContactKey(d)
		if !ok {
			return nil, invalidUser(field, "%s: %q is not a phone number or SIP URI", field, storable(d))
		}
		if j, dup := seen[k]; dup {
			return nil, invalidUser(field, "%s: %q is the same device as devices[%d]", field, storable(d), j)
		}
		seen[k] = i
		keys[i] = device{key: k, given: storable(strings.TrimSpace(d))}
	}
	return keys, nil
}

// device is a device as given and its canonical key.
type device struct{ key, given string }

// Create adds a user with its devices, in one transaction. Errors: a
// *UserInputError wrapping ErrInvalid for a bad name, email or device
// list, or ErrConflict for a device another user of the account has;
// ErrNotFound for an unknown account.
func (r *Users) Create(ctx context.Context, accountSID string, in UserInput) (*User, error) {
	const op = "create user"
	name, err := userName(in.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	email, err := userEmail(in.Email)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	keys, err := userDevices(in.Devices)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	available := true
	if in.Available != nil {
		available = *in.Available
	}
	t := now()
	u := &User{SID: newID("us"), AccountSID: accountSID, Name: name, Email: email, Available: available, CreatedAt: t, UpdatedAt: t}
	err = r.db.InTx(ctx, func(tx *DB) error {
		g := tx.conn(ctx)
		if err := g.Omit(clause.Associations).Create(u).Error; err != nil {
			return insertErr(op, err)
		}
		devs, err := putDevices(g, accountSID, u.SID, keys, nil, t)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		u.Devices = devs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// putDevices inserts the user's devices (keys, in ContactKey form) in
// order; the user must have none. A device another user of the account
// has is a *UserInputError wrapping ErrConflict. since keeps the creation
// time of devices the user had before a replacement.
func putDevices(g *gorm.DB, accountSID, userSID string, devices []device, since map[string]time.Time, t time.Time) ([]UserDevice, error) {
	keys := make([]string, len(devices))
	for i, d := range devices {
		keys[i] = d.key
	}
	var taken []UserDevice
	err := g.Where("account_sid = ? AND contact IN ? AND user_sid <> ?", accountSID, keys, userSID).Find(&taken).Error
	if err != nil {
		return nil, dbErr("devices", err)
	}
	owner := make(map[string]string, len(taken))
	for _, d := range taken {
		owner[d.Contact] = d.UserSID
	}
	devs := make([]UserDevice, len(keys))
	for i, k := range keys {
		field := fmt.Sprintf("devices[%d]", i)
		if o, ok := owner[k]; ok {
			return nil, deviceTaken(field, k, o)
		}
		devs[i] = UserDevice{AccountSID: accountSID, Contact: k, Device: devices[i].given, UserSID: userSID, Position: i, CreatedAt: cmpTime(since[k], t)}
	}
	// One row at a time, so a device taken by a concurrent request is
	// named in the error.
	for i := range devs {
		if err := g.Create(&devs[i]).Error; err != nil {
			if isUniqueViolation(err) {
				return nil, deviceTaken(fmt.Sprintf("devices[%d]", i), devs[i].Contact, "")
			}
			return nil, insertErr("device "+devs[i].Contact, err)
		}
	}
	return devs, nil
}

// Get returns one of the account's users with its devices in order.
func (r *Users) Get(ctx context.Context, accountSID, sid string) (*User, error) {
	return getUser(ctx, r.db.conn(ctx), accountSID, sid, false)
}

func getUser(ctx context.Context, g *gorm.DB, accountSID, sid string, lock bool) (*User, error) {
	q := g.WithContext(ctx)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var u User
	if err := q.Where("sid = ? AND account_sid = ?", sid, accountSID).Take(&u).Error; err != nil {
		return nil, dbErr("get user "+sid, err)
	}
	var devs []UserDevice
	err := g.WithContext(ctx).Where("account_sid = ? AND user_sid = ?", accountSID, sid).Order("position, contact").Find(&devs).Error
	if err != nil {
		return nil, dbErr("devices of user "+sid, err)
	}
	u.Devices = devs
	return &u, nil
}

// List returns the account's users, oldest first, each with its devices
// in order.
func (r *Users) List(ctx context.Context, accountSID string) ([]User, error) {
	g := r.db.conn(ctx)
	var users []User
	if err := g.Where("account_sid = ?", accountSID).Order("created_at, sid").Find(&users).Error; err != nil {
		return nil, dbErr("list users", err)
	}
	if len(users) == 0 {
		return users, nil
	}
	var devs []UserDevice
	if err := g.Where("account_sid = ?", accountSID).Order("user_sid, position, contact").Find(&devs).Error; err != nil {
		return nil, dbErr("list user devices", err)
	}
	byUser := make(map[string][]UserDevice, len(users))
	for _, d := range devs {
		byUser[d.UserSID] = append(byUser[d.UserSID], d)
	}
	for i := range users {
		users[i].Devices = byUser[users[i].SID]
	}
	return users, nil
}

// Update changes the fields of u that are set and returns the user, in one
// transaction; Devices replaces the whole list (a device the user already
// has is fine, one of another user is ErrConflict). Errors as Create, and
// ErrNotFound for an unknown user. An empty update changes nothing.
func (r *Users) Update(ctx context.Context, accountSID, sid string, u UserUpdate) (*User, error) {
	op := "update user " + sid
	set := map[string]any{}
	if u.Name != nil {
		name, err := userName(*u.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		set["name"] = name
	}
	if u.Email != nil {
		email, err := userEmail(*u.Email)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		set["email"] = email
	}
	if u.Available != nil {
		set["available"] = *u.Available
	}
	var keys []device
	if u.Devices != nil {
		var err error
		if keys, err = userDevices(*u.Devices); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if len(set) == 0 && u.Devices == nil {
		return r.Get(ctx, accountSID, sid)
	}
	var out *User
	err := r.db.InTx(ctx, func(tx *DB) error {
		g := tx.conn(ctx)
		cur, err := getUser(ctx, g, accountSID, sid, true)
		if err != nil {
			return err
		}
		t := now()
		set["updated_at"] = t
		if err := g.Model(&User{}).Where("sid = ? AND account_sid = ?", sid, accountSID).Updates(set).Error; err != nil {
			return dbErr(op, err)
		}
		if u.Devices != nil {
			since := make(map[string]time.Time, len(cur.Devices))
			for _, d := range cur.Devices {
				since[d.Contact] = d.CreatedAt
			}
			if err := g.Where("account_sid = ? AND user_sid = ?", accountSID, sid).Delete(&UserDevice{}).Error; err != nil {
				return dbErr(op+": devices", err)
			}
			if _, err := putDevices(g, accountSID, sid, keys, since, t); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		out, err = getUser(ctx, g, accountSID, sid, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes one of the account's users and its devices. A hold the
// user has on a live call stays until that call ends.
func (r *Users) Delete(ctx context.Context, accountSID, sid string) error {
	op := "delete user " + sid
	return r.db.InTx(ctx, func(tx *DB) error {
		g := tx.conn(ctx)
		// The foreign key cascades too (SQLite connections enable
		// foreign_keys), but a DSN may turn that off: remove the devices
		// explicitly.
		if err := g.Where("account_sid = ? AND user_sid = ?", accountSID, sid).Delete(&UserDevice{}).Error; err != nil {
			return dbErr(op+": devices", err)
		}
		res := g.Where("sid = ? AND account_sid = ?", sid, accountSID).Delete(&User{})
		if res.Error != nil {
			return dbErr(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
		return nil
	})
}

// Busy tells which of the account's users sids are on a call, in one
// query: for each busy user, the SID of the call that holds them. A user
// is busy while a hold on UserLockKey(sid) exists whose lease has not run
// out and whose call has not ended. Users not busy (or unknown) are left
// out of the map.
func (r *Users) Busy(ctx context.Context, accountSID string, sids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(sids) == 0 {
		return out, nil
	}
	keys := make([]string, len(sids))
	for i, s := range sids {
		keys[i] = UserLockKey(s)
	}
	held, err := r.db.Agents().Holders(ctx, accountSID, keys)
	if err != nil {
		return nil, fmt.Errorf("busy users: %w", err)
	}
	for key, callSID := range held {
		out[strings.TrimPrefix(key, UserLockPrefix)] = callSID
	}
	return out, nil
}

// ByContact returns the user of the account that has contact (a number or
// SIP URI, in any form ContactKey accepts) as a device. ErrNotFound when
// none has, or contact is neither.
func (r *Users) ByContact(ctx context.Context, accountSID, contact string) (*User, error) {
	key, ok := ContactKey(contact)
	if !ok {
		return nil, fmt.Errorf("user by contact %q: not a number or SIP URI: %w", contact, ErrNotFound)
	}
	g := r.db.conn(ctx)
	var d UserDevice
	if err := g.Where("account_sid = ? AND contact = ?", accountSID, key).Take(&d).Error; err != nil {
		return nil, dbErr("user by contact "+key, err)
	}
	return getUser(ctx, g, accountSID, d.UserSID, false)
}

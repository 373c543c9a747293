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

// User roles (Exotel's CCM roles).
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleUser       = "user"
)

// UserInput is a new user. Name, or FirstName and LastName (Exotel's CCM
// fields), must be given; each defaults from the other.
type UserInput struct {
	Name      string
	FirstName string
	LastName  string
	// Role defaults to RoleUser.
	Role  string
	Email string // "" for none
	// Devices are numbers or SIP URIs, in the order they are tried; they
	// are stored in ContactKey form. A user may have none (Exotel's CCM
	// users need not have a device); nobody can reach them then.
	Devices []string
	// DeviceName is the first device's friendly name.
	DeviceName string
	// Available defaults to true.
	Available *bool
}

// UserUpdate is what Update changes: the fields that are set. A new
// FirstName or LastName without Name renames the user to the two joined.
type UserUpdate struct {
	Name      *string
	FirstName *string
	LastName  *string
	Role      *string
	Email     *string // "" clears it
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

// nameParts checks a first or last name: trimmed, at most MaxUserName
// characters, storable; may be empty.
func namePart(field, v string) (string, error) {
	n := strings.TrimSpace(storable(v))
	if utf8.RuneCountInString(n) > MaxUserName {
		return "", invalidUser(field, "%s is longer than %d characters", field, MaxUserName)
	}
	return n, nil
}

// userNames works out the name, first name and last name of a new user:
// name defaults to first and last joined, and first and last default to
// name split at its first space.
func userNames(name, first, last string) (n, f, l string, err error) {
	if f, err = namePart("first_name", first); err != nil {
		return
	}
	if l, err = namePart("last_name", last); err != nil {
		return
	}
	if strings.TrimSpace(name) == "" && (f != "" || l != "") {
		name = strings.TrimSpace(f + " " + l)
	}
	if n, err = userName(name); err != nil {
		return
	}
	if f == "" && l == "" {
		f, l, _ = strings.Cut(n, " ")
		l = strings.TrimSpace(l)
	}
	return n, f, l, nil
}

// userRole checks a role; "" is RoleUser.
func userRole(role string) (string, error) {
	switch r := strings.ToLower(strings.TrimSpace(role)); r {
	case "":
		return RoleUser, nil
	case RoleAdmin, RoleSupervisor, RoleUser:
		return r, nil
	}
	return "", invalidUser("role", "role %q is not admin, supervisor or user", storable(role))
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
// the order given: at most MaxUserDevices devices, each a number or SIP
// URI, no two the same contact.
func userDevices(devices []string) ([]device, error) {
	switch {
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

// device is a device as given and its canonical key, with its friendly
// name.
type device struct{ key, given, name string }

// Create adds a user with its devices, in one transaction. Errors: a
// *UserInputError wrapping ErrInvalid for a bad name, email or device
// list, or ErrConflict for a device another user of the account has;
// ErrNotFound for an unknown account.
func (r *Users) Create(ctx context.Context, accountSID string, in UserInput) (*User, error) {
	const op = "create user"
	name, first, last, err := userNames(in.Name, in.FirstName, in.LastName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	role, err := userRole(in.Role)
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
	if len(keys) > 0 {
		if keys[0].name, err = namePart("device_name", in.DeviceName); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	available := true
	if in.Available != nil {
		available = *in.Available
	}
	t := now()
	u := &User{SID: newID("us"), AccountSID: accountSID, Name: name, FirstName: first, LastName: last, Role: role,
		Email: email, Available: available, CreatedAt: t, UpdatedAt: t}
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
// has is a *UserInputError wrapping ErrConflict. before keeps the id,
// name, switch and creation time of devices the user had before a
// replacement.
func putDevices(g *gorm.DB, accountSID, userSID string, devices []device, before map[string]UserDevice, t time.Time) ([]UserDevice, error) {
	if len(devices) == 0 {
		return nil, nil
	}
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
		devs[i] = UserDevice{AccountSID: accountSID, Contact: k, Device: devices[i].given, UserSID: userSID, Position: i,
			SID: newID("dv"), Name: devices[i].name, Available: true, CreatedAt: t}
		if old, ok := before[k]; ok {
			devs[i].SID, devs[i].Available, devs[i].CreatedAt = old.SID, old.Available, old.CreatedAt
			if devs[i].Name == "" {
				devs[i].Name = old.Name
			}
		}
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
	return getUser(ctx, r.db.read(ctx), accountSID, sid, false)
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
	g := r.db.read(ctx)
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
		if u.FirstName == nil && u.LastName == nil {
			// A new name without its parts: the parts follow it.
			first, last, _ := strings.Cut(name, " ")
			set["first_name"], set["last_name"] = first, strings.TrimSpace(last)
		}
	}
	for field, v := range map[string]*string{"first_name": u.FirstName, "last_name": u.LastName} {
		if v == nil {
			continue
		}
		part, err := namePart(field, *v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		set[field] = part
	}
	if u.Role != nil {
		role, err := userRole(*u.Role)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		set["role"] = role
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
		if u.Name == nil && (u.FirstName != nil || u.LastName != nil) {
			first, last := cur.FirstName, cur.LastName
			if u.FirstName != nil {
				first = set["first_name"].(string)
			}
			if u.LastName != nil {
				last = set["last_name"].(string)
			}
			name, err := userName(strings.TrimSpace(first + " " + last))
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			set["name"] = name
		}
		if err := g.Model(&User{}).Where("sid = ? AND account_sid = ?", sid, accountSID).Updates(set).Error; err != nil {
			return dbErr(op, err)
		}
		if u.Devices != nil {
			before := make(map[string]UserDevice, len(cur.Devices))
			for _, d := range cur.Devices {
				before[d.Contact] = d
			}
			if err := g.Where("account_sid = ? AND user_sid = ?", accountSID, sid).Delete(&UserDevice{}).Error; err != nil {
				return dbErr(op+": devices", err)
			}
			if _, err := putDevices(g, accountSID, sid, keys, before, t); err != nil {
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

// DeviceUpdate is what UpdateDevice changes: the fields that are set.
type DeviceUpdate struct {
	// Available switches the device on or off.
	Available *bool
	// Contact moves the device to another number or SIP URI.
	Contact *string
	Name    *string
}

// UpdateDevice changes one device of one of the account's users and
// returns the user. Errors: ErrNotFound for an unknown user or a device
// that is not theirs; a *UserInputError for a bad contact or name, or
// (ErrConflict) a contact another device of the account has.
func (r *Users) UpdateDevice(ctx context.Context, accountSID, userSID, deviceSID string, u DeviceUpdate) (*User, error) {
	op := "update device " + deviceSID
	set := map[string]any{}
	if u.Available != nil {
		set["available"] = *u.Available
	}
	if u.Name != nil {
		name, err := namePart("name", *u.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		set["name"] = name
	}
	if u.Contact != nil {
		key, ok := ContactKey(*u.Contact)
		if !ok {
			return nil, fmt.Errorf("%s: %w", op, invalidUser("contact_uri", "contact_uri: %q is not a phone number or SIP URI", storable(*u.Contact)))
		}
		set["contact"], set["device"] = key, storable(strings.TrimSpace(*u.Contact))
	}
	var out *User
	err := r.db.InTx(ctx, func(tx *DB) error {
		g := tx.conn(ctx)
		cur, err := getUser(ctx, g, accountSID, userSID, true)
		if err != nil {
			return err
		}
		var dev *UserDevice
		for i := range cur.Devices {
			if cur.Devices[i].SID == deviceSID {
				dev = &cur.Devices[i]
			}
		}
		if dev == nil {
			return fmt.Errorf("%s of user %s: %w", op, userSID, ErrNotFound)
		}
		if key, ok := set["contact"].(string); ok && key != dev.Contact {
			var other UserDevice
			err := g.Where("account_sid = ? AND contact = ?", accountSID, key).Take(&other).Error
			switch {
			case err == nil:
				return deviceTaken("contact_uri", key, other.UserSID)
			case !errNoRows(err):
				return dbErr(op, err)
			}
		}
		if len(set) > 0 {
			res := g.Model(&UserDevice{}).Where("account_sid = ? AND sid = ?", accountSID, deviceSID).Updates(set)
			if res.Error != nil {
				if isUniqueViolation(res.Error) {
					return deviceTaken("contact_uri", fmt.Sprint(set["contact"]), "")
				}
				return insertErr(op, res.Error)
			}
			if err := g.Model(&User{}).Where("sid = ? AND account_sid = ?", userSID, accountSID).
				Update("updated_at", now()).Error; err != nil {
				return dbErr(op, err)
			}
		}
		out, err = getUser(ctx, g, accountSID, userSID, false)
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

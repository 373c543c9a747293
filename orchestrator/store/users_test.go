package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestUsersSQLite(t *testing.T) {
	t.Parallel()
	testUsers(t, storetest.SQLiteDSN)
}

func TestUsersPostgres(t *testing.T) {
	t.Parallel()
	testUsers(t, storetest.PostgresDSN)
}

func TestUsersBusySQLite(t *testing.T) {
	t.Parallel()
	testUsersBusy(t, storetest.SQLiteDSN)
}

func TestUsersBusyPostgres(t *testing.T) {
	t.Parallel()
	testUsersBusy(t, storetest.PostgresDSN)
}

func TestUsersConcurrentDeviceSQLite(t *testing.T) {
	t.Parallel()
	testUsersConcurrentDevice(t, storetest.SQLiteDSN)
}

func TestUsersConcurrentDevicePostgres(t *testing.T) {
	t.Parallel()
	testUsersConcurrentDevice(t, storetest.PostgresDSN)
}

// usersSetup opens a migrated database with two accounts, acme1 and
// globex2.
func usersSetup(t *testing.T, fresh storetest.Fresh) (*store.DB, string, string) {
	t.Helper()
	ctx := t.Context()
	db := storetest.OpenMigrated(t, fresh(t))
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	usersMust(t, err)
	b, _, err := db.Accounts().CreateWithSID(ctx, "globex2", "Globex")
	usersMust(t, err)
	return db, a.SID, b.SID
}

func usersMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantUserErr checks that err is a *UserInputError on field wrapping want.
func wantUserErr(t *testing.T, what string, err, want error, field string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
		return
	}
	var ue *store.UserInputError
	if !errors.As(err, &ue) {
		t.Errorf("%s: %v is not a *UserInputError", what, err)
		return
	}
	if ue.Field != field || !strings.Contains(ue.Message, strings.SplitN(field, "[", 2)[0]) {
		t.Errorf("%s: field %q message %q, want field %q", what, ue.Field, ue.Message, field)
	}
}

func deviceContacts(u *store.User) []string {
	out := make([]string, len(u.Devices))
	for i, d := range u.Devices {
		out[i] = d.Contact
		if d.Position != i || d.UserSID != u.SID || d.AccountSID != u.AccountSID {
			out[i] += "(bad row)"
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}

func testUsers(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db, a, b := usersSetup(t, fresh)
	users := db.Users()

	alice, err := users.Create(ctx, a, store.UserInput{Name: "  Alice  ", Email: "alice@example.com",
		Devices: []string{"+1 555 010 0001", "SIP:Alice@PBX.example"}})
	usersMust(t, err)
	if !strings.HasPrefix(alice.SID, "us_") || len(alice.SID) != len("us_")+24 || alice.Name != "Alice" ||
		alice.Email != "alice@example.com" || !alice.Available || alice.AccountSID != a ||
		alice.CreatedAt.IsZero() || !alice.UpdatedAt.Equal(alice.CreatedAt) {
		t.Errorf("created %+v", alice)
	}
	if got := deviceContacts(alice); !sameStrings(got, []string{"15550100001", "sip:alice@pbx.example"}) {
		t.Errorf("devices %v", got)
	}
	off := false
	bob, err := users.Create(ctx, a, store.UserInput{Name: "Bob", Devices: []string{"015550100002"}, Available: &off})
	usersMust(t, err)
	if bob.Available || bob.Email != "" || bob.SID == alice.SID {
		t.Errorf("bob %+v", bob)
	}
	long := strings.Repeat("é", store.MaxUserName)
	carol, err := users.Create(ctx, a, store.UserInput{Name: long, Devices: []string{"sip:carol@pbx.example"}})
	usersMust(t, err)
	if carol.Name != long {
		t.Errorf("a %d-character name was changed", store.MaxUserName)
	}

	// Validation.
	eleven := make([]string, store.MaxUserDevices+1)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("+1555020%04d", i)
	}
	for _, tc := range []struct {
		name  string
		in    store.UserInput
		field string
	}{
		{"no name", store.UserInput{Devices: []string{"+15550100009"}}, "name"},
		{"blank name", store.UserInput{Name: " \t ", Devices: []string{"+15550100009"}}, "name"},
		{"long name", store.UserInput{Name: long + "x", Devices: []string{"+15550100009"}}, "name"},
		{"bare word email", store.UserInput{Name: "X", Email: "alice", Devices: []string{"+15550100009"}}, "email"},
		{"no domain", store.UserInput{Name: "X", Email: "alice@", Devices: []string{"+15550100009"}}, "email"},
		{"display name", store.UserInput{Name: "X", Email: "Alice <alice@example.com>", Devices: []string{"+15550100009"}}, "email"},
		{"bare host", store.UserInput{Name: "X", Email: "alice@localhost", Devices: []string{"+15550100009"}}, "email"},
		{"two ats", store.UserInput{Name: "X", Email: "a@b@example.com", Devices: []string{"+15550100009"}}, "email"},
		{"bad role", store.UserInput{Name: "X", Role: "owner"}, "role"},
		{"long first name", store.UserInput{FirstName: long + "x", LastName: "Y"}, "first_name"},
		{"long device name", store.UserInput{Name: "X", Devices: []string{"+15550100009"}, DeviceName: long + "x"}, "device_name"},
		{"too many devices", store.UserInput{Name: "X", Devices: eleven}, "devices"},
		{"bad device", store.UserInput{Name: "X", Devices: []string{"+15550100009", "not a phone"}}, "devices[1]"},
		{"empty sip", store.UserInput{Name: "X", Devices: []string{"sip:"}}, "devices[0]"},
		{"same device twice", store.UserInput{Name: "X", Devices: []string{"+15550100009", "15550100009"}}, "devices[1]"},
	} {
		_, err := users.Create(ctx, a, tc.in)
		wantUserErr(t, tc.name, err, store.ErrInvalid, tc.field)
	}

	// A device of another user of the account: nothing is created.
	_, err = users.Create(ctx, a, store.UserInput{Name: "Mallory", Devices: []string{"+15550100003", "+1-555-010-0001"}})
	wantUserErr(t, "taken device", err, store.ErrConflict, "devices[1]")
	if err != nil && (!strings.Contains(err.Error(), "15550100001") || !strings.Contains(err.Error(), alice.SID)) {
		t.Errorf("conflict message does not name the device and its user: %v", err)
	}
	if _, err := users.ByContact(ctx, a, "+15550100003"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused user's first device was stored: %v", err)
	}
	list, err := users.List(ctx, a)
	usersMust(t, err)
	if len(list) != 3 || list[0].SID != alice.SID || list[1].SID != bob.SID || list[2].SID != carol.SID {
		t.Fatalf("List = %+v", list)
	}
	if !sameStrings(deviceContacts(&list[0]), deviceContacts(alice)) || !sameStrings(deviceContacts(&list[1]), []string{"15550100002"}) {
		t.Errorf("List devices %v %v", list[0].Devices, list[1].Devices)
	}
	if !list[0].CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("CreatedAt round trip %v, want %v", list[0].CreatedAt, alice.CreatedAt)
	}

	// Another account: its own users, the same device allowed, nothing of
	// acme's visible or changeable.
	bAlice, err := users.Create(ctx, b, store.UserInput{Name: "Other Alice", Devices: []string{"+15550100001"}})
	usersMust(t, err)
	if got, err := users.ByContact(ctx, b, "15550100001"); err != nil || got.SID != bAlice.SID {
		t.Errorf("ByContact(b) = %+v, %v", got, err)
	}
	if got, err := users.ByContact(ctx, a, "+1 (555) 010-0001"); err != nil || got.SID != alice.SID || len(got.Devices) != 2 {
		t.Errorf("ByContact(a) = %+v, %v", got, err)
	}
	if got, err := users.ByContact(ctx, a, "sip:ALICE@pbx.example"); err != nil || got.SID != alice.SID {
		t.Errorf("ByContact(sip) = %+v, %v", got, err)
	}
	for _, c := range []string{"+15550100099", "nonsense", ""} {
		if _, err := users.ByContact(ctx, a, c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByContact(%q) = %v, want ErrNotFound", c, err)
		}
	}
	if _, err := users.Get(ctx, b, alice.SID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get another account's user: %v", err)
	}
	name := "Hijacked"
	if _, err := users.Update(ctx, b, alice.SID, store.UserUpdate{Name: &name}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update another account's user: %v", err)
	}
	if err := users.Delete(ctx, b, alice.SID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete another account's user: %v", err)
	}
	if bl, err := users.List(ctx, b); err != nil || len(bl) != 1 || bl[0].SID != bAlice.SID {
		t.Errorf("List(b) = %+v, %v", bl, err)
	}
	if _, err := users.Create(ctx, "nobody", store.UserInput{Name: "X", Devices: []string{"+15550100009"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}

	// Update.
	got, err := users.Get(ctx, a, alice.SID)
	usersMust(t, err)
	if got.Name != "Alice" || got.Email != "alice@example.com" || !sameStrings(deviceContacts(got), deviceContacts(alice)) {
		t.Errorf("Get = %+v", got)
	}
	// Back-date the row so that the update's timestamp is later whatever
	// the clock's resolution.
	alice.UpdatedAt = alice.UpdatedAt.Add(-time.Minute)
	usersMust(t, db.Gorm().Model(&store.User{}).Where("sid = ?", alice.SID).Update("updated_at", alice.UpdatedAt).Error)
	name = " Alice Smith "
	upd, err := users.Update(ctx, a, alice.SID, store.UserUpdate{Name: &name})
	usersMust(t, err)
	if upd.Name != "Alice Smith" || upd.Email != "alice@example.com" || !upd.Available ||
		!sameStrings(deviceContacts(upd), deviceContacts(alice)) || !upd.UpdatedAt.After(alice.UpdatedAt) ||
		!upd.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("rename: %+v", upd)
	}
	kept := alice.Devices[1].CreatedAt
	devices := []string{"sip:alice@pbx.example", "+15550100011"}
	upd, err = users.Update(ctx, a, alice.SID, store.UserUpdate{Devices: &devices})
	usersMust(t, err)
	if !sameStrings(deviceContacts(upd), []string{"sip:alice@pbx.example", "15550100011"}) {
		t.Errorf("replaced devices: %v", deviceContacts(upd))
	}
	if !upd.Devices[0].CreatedAt.Equal(kept) {
		t.Errorf("a kept device's CreatedAt changed: %v, want %v", upd.Devices[0].CreatedAt, kept)
	}
	if _, err := users.ByContact(ctx, a, "+15550100001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed device still finds the user: %v", err)
	}

	// Refused updates change nothing, not even the fields that were fine.
	before, err := users.Get(ctx, a, alice.SID)
	usersMust(t, err)
	name, email, role := "Never", "not-an-email", "owner"
	taken := []string{"+15550100012", "sip:carol@pbx.example"}
	bad := []string{"+15550100012", "???"}
	for _, tc := range []struct {
		name  string
		upd   store.UserUpdate
		want  error
		field string
	}{
		{"taken device", store.UserUpdate{Name: &name, Devices: &taken}, store.ErrConflict, "devices[1]"},
		{"bad email", store.UserUpdate{Name: &name, Email: &email}, store.ErrInvalid, "email"},
		{"bad role", store.UserUpdate{Name: &name, Role: &role}, store.ErrInvalid, "role"},
		{"bad device", store.UserUpdate{Name: &name, Devices: &bad}, store.ErrInvalid, "devices[1]"},
	} {
		_, err := users.Update(ctx, a, alice.SID, tc.upd)
		wantUserErr(t, tc.name, err, tc.want, tc.field)
	}
	after, err := users.Get(ctx, a, alice.SID)
	usersMust(t, err)
	if after.Name != before.Name || !after.UpdatedAt.Equal(before.UpdatedAt) || !sameStrings(deviceContacts(after), deviceContacts(before)) {
		t.Errorf("a refused update changed the user: %+v, was %+v", after, before)
	}
	if _, err := users.ByContact(ctx, a, "+15550100012"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused update stored a device: %v", err)
	}

	// Clear the email, switch off; an empty update changes nothing.
	email, off = "", false
	upd, err = users.Update(ctx, a, alice.SID, store.UserUpdate{Email: &email, Available: &off})
	usersMust(t, err)
	if upd.Email != "" || upd.Available || upd.Name != "Alice Smith" {
		t.Errorf("clear email, unavailable: %+v", upd)
	}
	same, err := users.Update(ctx, a, alice.SID, store.UserUpdate{})
	usersMust(t, err)
	if !same.UpdatedAt.Equal(upd.UpdatedAt) || len(same.Devices) != 2 {
		t.Errorf("empty update: %+v", same)
	}
	if _, err := users.Update(ctx, a, "us_000000000000000000000000", store.UserUpdate{Name: &name}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update unknown: %v", err)
	}
	if _, err := users.Update(ctx, a, "us_000000000000000000000000", store.UserUpdate{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("empty Update unknown: %v", err)
	}

	// Delete: the devices go too, and are free again.
	usersMust(t, users.Delete(ctx, a, alice.SID))
	if _, err := users.Get(ctx, a, alice.SID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get deleted: %v", err)
	}
	if err := users.Delete(ctx, a, alice.SID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete twice: %v", err)
	}
	var left int64
	usersMust(t, db.Gorm().Model(&store.UserDevice{}).Where("user_sid = ?", alice.SID).Count(&left).Error)
	if left != 0 {
		t.Errorf("%d devices left after delete", left)
	}
	if _, err := users.Create(ctx, a, store.UserInput{Name: "New Alice", Devices: []string{"sip:alice@pbx.example"}}); err != nil {
		t.Errorf("a deleted user's device is not free: %v", err)
	}

	// The foreign key cascades on its own too (SQLite connections enable
	// foreign keys).
	usersMust(t, db.Gorm().Exec("DELETE FROM users WHERE sid = ?", bob.SID).Error)
	usersMust(t, db.Gorm().Model(&store.UserDevice{}).Where("user_sid = ?", bob.SID).Count(&left).Error)
	if left != 0 {
		t.Errorf("the foreign key did not cascade: %d devices left", left)
	}
}

func testUsersBusy(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db, a, b := usersSetup(t, fresh)
	users := db.Users()
	mk := func(account, name, device string) *store.User {
		t.Helper()
		u, err := users.Create(ctx, account, store.UserInput{Name: name, Devices: []string{device}})
		usersMust(t, err)
		return u
	}
	alice, bob, carol, dave := mk(a, "Alice", "+15550100001"), mk(a, "Bob", "+15550100002"), mk(a, "Carol", "+15550100003"), mk(a, "Dave", "+15550100004")
	other := mk(b, "Eve", "+15550100005")

	call := func(account string, ended bool) string {
		t.Helper()
		c := &store.Call{AccountSID: account, Direction: store.DirectionOutboundAPI, From: "+15550100001",
			To: "+15550100009", Status: store.InProgress}
		if ended {
			end := time.Now()
			c.Status, c.EndTime = store.Completed, &end
		}
		usersMust(t, db.Calls().Create(ctx, c))
		return c.SID
	}
	lock := func(account, contact, callSID string, expires time.Time) {
		t.Helper()
		usersMust(t, db.Gorm().WithContext(ctx).Create(&store.ContactLock{AccountSID: account, Contact: contact,
			CallSID: callSID, ExpiresAt: expires.UTC(), CreatedAt: time.Now().UTC()}).Error)
	}
	live, ended, theirs := call(a, false), call(a, true), call(b, false)
	hour := time.Now().Add(time.Hour)
	lock(a, store.UserLockKey(alice.SID), live, hour)                         // busy
	lock(a, store.UserLockKey(bob.SID), ended, hour)                          // the call ended
	lock(a, store.UserLockKey(carol.SID), live, time.Now().Add(-time.Minute)) // lease ran out
	lock(a, "15550100004", live, hour)                                        // Dave's device, not Dave
	lock(b, store.UserLockKey(other.SID), theirs, hour)                       // busy in its own account

	busy, err := users.Busy(ctx, a, []string{alice.SID, bob.SID, carol.SID, dave.SID, other.SID, "us_nope"})
	usersMust(t, err)
	if len(busy) != 1 || busy[alice.SID] != live {
		t.Errorf("Busy(a) = %v, want only %s on %s", busy, alice.SID, live)
	}
	busy, err = users.Busy(ctx, b, []string{alice.SID, other.SID})
	usersMust(t, err)
	if len(busy) != 1 || busy[other.SID] != theirs {
		t.Errorf("Busy(b) = %v", busy)
	}
	if busy, err := users.Busy(ctx, a, nil); err != nil || len(busy) != 0 {
		t.Errorf("Busy(none) = %v, %v", busy, err)
	}

	// Once the call ends, Alice is free.
	_, err = db.Calls().Finish(ctx, live, store.CallFinal{Status: store.Completed})
	usersMust(t, err)
	lock(a, store.UserLockKey(alice.SID), live, hour) // a hold left behind
	busy, err = users.Busy(ctx, a, []string{alice.SID})
	usersMust(t, err)
	if len(busy) != 0 {
		t.Errorf("Busy after the call ended = %v", busy)
	}
}

// testUsersConcurrentDevice races two creations claiming one device:
// exactly one wins, the other is a conflict naming the device.
func testUsersConcurrentDevice(t *testing.T, fresh storetest.Fresh) {
	db, a, _ := usersSetup(t, fresh)
	ctx := context.Background()
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = db.Users().Create(ctx, a, store.UserInput{Name: "Racer", Devices: []string{"sip:desk@pbx.example"}})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrConflict):
			if !strings.Contains(err.Error(), "sip:desk@pbx.example") {
				t.Errorf("conflict does not name the device: %v", err)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d creations won, want 1", won)
	}
	list, err := db.Users().List(ctx, a)
	usersMust(t, err)
	if len(list) != 1 || len(list[0].Devices) != 1 {
		t.Errorf("after the race: %+v", list)
	}
}

func TestUsersCCMSQLite(t *testing.T) {
	t.Parallel()
	testUsersCCM(t, storetest.SQLiteDSN)
}

func TestUsersCCMPostgres(t *testing.T) {
	t.Parallel()
	testUsersCCM(t, storetest.PostgresDSN)
}

// Exotel's CCM users: first and last name, role, a user without devices,
// device ids that survive a device list replacement, and each device's
// own switch, which routing honours.
func testUsersCCM(t *testing.T, fresh storetest.Fresh) {
	ctx := t.Context()
	db, a, b := usersSetup(t, fresh)
	users := db.Users()

	u, err := users.Create(ctx, a, store.UserInput{FirstName: "Asha", LastName: "Rao", Role: "Supervisor",
		Devices: []string{"+919800000001", "sip:asha@pbx.example"}, DeviceName: "desk"})
	usersMust(t, err)
	if u.Name != "Asha Rao" || u.FirstName != "Asha" || u.LastName != "Rao" || u.Role != store.RoleSupervisor {
		t.Errorf("names and role: %+v", u)
	}
	if len(u.Devices) != 2 || u.Devices[0].SID == "" || u.Devices[0].SID == u.Devices[1].SID ||
		u.Devices[0].Name != "desk" || !u.Devices[0].Available || !u.Devices[1].Available {
		t.Fatalf("devices: %+v", u.Devices)
	}
	plain, err := users.Create(ctx, a, store.UserInput{Name: "Vikram Singh Negi"})
	usersMust(t, err)
	if plain.FirstName != "Vikram" || plain.LastName != "Singh Negi" || plain.Role != store.RoleUser || len(plain.Devices) != 0 {
		t.Errorf("from a name, without devices: %+v", plain)
	}

	// A new last name renames; a device list replacement keeps the ids
	// and switches of the devices that stay.
	deskSID, sipSID := u.Devices[0].SID, u.Devices[1].SID
	off := false
	u, err = users.UpdateDevice(ctx, a, u.SID, sipSID, store.DeviceUpdate{Available: &off})
	usersMust(t, err)
	last := "Rao-Kumar"
	devs := []string{"sip:asha@pbx.example", "+919800000002"}
	u, err = users.Update(ctx, a, u.SID, store.UserUpdate{LastName: &last, Devices: &devs})
	usersMust(t, err)
	if u.Name != "Asha Rao-Kumar" || u.LastName != last {
		t.Errorf("renamed: %+v", u)
	}
	if u.Devices[0].SID != sipSID || u.Devices[0].Available || u.Devices[1].SID == deskSID || !u.Devices[1].Available {
		t.Errorf("after replacing the list: %+v", u.Devices)
	}

	// Routing: the switched-off device is not available; the other is.
	targets, err := db.Agents().Resolve(ctx, a, []string{"sip:asha@pbx.example", "+919800000002"})
	usersMust(t, err)
	if targets[0].Available || !targets[1].Available || targets[0].UserSID != u.SID {
		t.Errorf("Resolve: %+v", targets)
	}

	// Moving a device to another contact, renaming it; errors change
	// nothing.
	moved := "+919800000003"
	name := "mobile"
	u, err = users.UpdateDevice(ctx, a, u.SID, u.Devices[1].SID, store.DeviceUpdate{Contact: &moved, Name: &name})
	usersMust(t, err)
	if u.Devices[1].Contact != "919800000003" || u.Devices[1].Device != moved || u.Devices[1].Name != "mobile" {
		t.Errorf("moved: %+v", u.Devices[1])
	}
	other, err := users.Create(ctx, a, store.UserInput{Name: "Other", Devices: []string{"+919800000009"}})
	usersMust(t, err)
	taken, bad := "+919800000009", "call me"
	_, err = users.UpdateDevice(ctx, a, u.SID, u.Devices[1].SID, store.DeviceUpdate{Contact: &taken})
	wantUserErr(t, "taken contact", err, store.ErrConflict, "contact_uri")
	_, err = users.UpdateDevice(ctx, a, u.SID, u.Devices[1].SID, store.DeviceUpdate{Contact: &bad})
	wantUserErr(t, "bad contact", err, store.ErrInvalid, "contact_uri")
	for name, call := range map[string]func() error{
		"another user's device": func() error {
			_, err := users.UpdateDevice(ctx, a, u.SID, other.Devices[0].SID, store.DeviceUpdate{Available: &off})
			return err
		},
		"another account": func() error {
			_, err := users.UpdateDevice(ctx, b, u.SID, u.Devices[1].SID, store.DeviceUpdate{Available: &off})
			return err
		},
		"unknown device": func() error {
			_, err := users.UpdateDevice(ctx, a, u.SID, "dv_nope", store.DeviceUpdate{Available: &off})
			return err
		},
	} {
		if err := call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	got, err := users.Get(ctx, a, u.SID)
	usersMust(t, err)
	if got.Devices[1].Contact != "919800000003" || !got.Devices[1].Available {
		t.Errorf("refused updates changed the device: %+v", got.Devices[1])
	}
}

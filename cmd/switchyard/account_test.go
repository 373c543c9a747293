package main

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// accountField reads "Label:  value" from command output.
func accountField(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output lacks %q:\n%s", label, out)
	}
	return m[1]
}

// accountAuthAs checks credentials against the database the command wrote.
func accountAuthAs(t *testing.T, dsn, user, token string) (*store.Account, error) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Accounts().Authenticate(context.Background(), user, token)
}

func TestAccountCreateAndKeys(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "accounts.db")

	code, out, errOut := runCmd(t, "account", "create", "--name", "Acme Corp", "--sid", "acme1", "-db", dsn)
	if code != 0 {
		t.Fatalf("create: exit %d\n%s%s", code, out, errOut)
	}
	if accountField(t, out, "Account SID") != "acme1" || !strings.Contains(out, "shown once") {
		t.Errorf("create output:\n%s", out)
	}
	key, token, accToken := accountField(t, out, "API key"), accountField(t, out, "API token"), accountField(t, out, "Account token")
	if a, err := accountAuthAs(t, dsn, key, token); err != nil || a.SID != "acme1" || a.Name != "Acme Corp" {
		t.Fatalf("the printed API key does not authenticate: %+v %v", a, err)
	}
	if a, err := accountAuthAs(t, dsn, "acme1", accToken); err != nil || a.SID != "acme1" {
		t.Fatalf("the printed account token does not authenticate: %+v %v", a, err)
	}

	// A generated SID, from SWITCHYARD_DB.
	t.Setenv("SWITCHYARD_DB", dsn)
	code, out, errOut = runCmd(t, "account", "create", "-name", "Globex")
	if code != 0 {
		t.Fatalf("create with generated SID: exit %d\n%s%s", code, out, errOut)
	}
	if sid := accountField(t, out, "Account SID"); !strings.HasPrefix(sid, "globex") || !store.ValidAccountSID(sid) {
		t.Errorf("generated SID %q", sid)
	}

	// A second key, listed without its token, then revoked.
	code, out, errOut = runCmd(t, "account", "key", "create", "--account", "acme1", "--description", "CRM integration")
	if code != 0 {
		t.Fatalf("key create: exit %d\n%s%s", code, out, errOut)
	}
	key2, token2 := accountField(t, out, "API key"), accountField(t, out, "API token")
	if a, err := accountAuthAs(t, dsn, key2, token2); err != nil || a.SID != "acme1" {
		t.Fatalf("new key does not authenticate: %v", err)
	}
	code, out, errOut = runCmd(t, "account", "key", "list", "--account", "acme1")
	if code != 0 {
		t.Fatalf("key list: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, key) || !strings.Contains(out, key2) || !strings.Contains(out, "CRM integration") ||
		!strings.Contains(out, "2 key(s)") || strings.Contains(out, token) || strings.Contains(out, token2) {
		t.Errorf("key list:\n%s", out)
	}

	// KEY before or after the flags.
	code, out, errOut = runCmd(t, "account", "key", "revoke", key2, "--account", "acme1")
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("key revoke: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := accountAuthAs(t, dsn, key2, token2); !errors.Is(err, store.ErrUnauthorized) {
		t.Errorf("revoked key still authenticates: %v", err)
	}
	if _, err := accountAuthAs(t, dsn, key, token); err != nil {
		t.Errorf("revoking one key broke the other: %v", err)
	}
	code, out, _ = runCmd(t, "account", "key", "list", "--account", "acme1")
	if code != 0 || regexp.MustCompile(`(?m)^`+key2+`\s+\S+ \S+\s+-`).MatchString(out) {
		t.Errorf("revoked key listed as active:\n%s", out)
	}
	if code, _, _ := runCmd(t, "account", "key", "revoke", "--account", "acme1", key); code != 0 {
		t.Errorf("revoke with KEY last: exit %d", code)
	}
}

func TestAccountCommandErrors(t *testing.T) {
	t.Parallel()
	dsn := filepath.Join(t.TempDir(), "accounts.db")
	if code, out, errOut := runCmd(t, "account", "create", "--name", "Acme", "--sid", "acme1", "-db", dsn); code != 0 {
		t.Fatalf("setup: exit %d\n%s%s", code, out, errOut)
	}
	_, out, _ := runCmd(t, "account", "create", "--name", "Globex", "--sid", "globex", "-db", dsn)
	globexKey := accountField(t, out, "API key")

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no subcommand", []string{"account"}, 2, "Usage"},
		{"unknown subcommand", []string{"account", "delete"}, 2, "Usage"},
		{"key without verb", []string{"account", "key"}, 2, "Usage"},
		{"create without name", []string{"account", "create", "-db", dsn}, 2, "--name is required"},
		{"create with bad SID", []string{"account", "create", "--name", "X", "--sid", "Bad SID!", "-db", dsn}, 2, "--sid"},
		{"create with stray argument", []string{"account", "create", "--name", "X", "extra", "-db", dsn}, 2, "unexpected argument"},
		{"create taken SID", []string{"account", "create", "--name", "Again", "--sid", "acme1", "-db", dsn}, 1, "already exists"},
		{"unknown flag", []string{"account", "create", "--nmae", "X", "-db", dsn}, 2, "not defined"},
		{"key create without account", []string{"account", "key", "create", "-db", dsn}, 2, "--account is required"},
		{"key create unknown account", []string{"account", "key", "create", "--account", "nobody", "-db", dsn}, 1, "does not exist"},
		{"key list unknown account", []string{"account", "key", "list", "--account", "nobody", "-db", dsn}, 1, "does not exist"},
		{"revoke without key", []string{"account", "key", "revoke", "--account", "acme1", "-db", dsn}, 2, "exactly one KEY"},
		{"revoke unknown key", []string{"account", "key", "revoke", "--account", "acme1", "nokey", "-db", dsn}, 1, "has no API key"},
		{"revoke another account's key", []string{"account", "key", "revoke", "--account", "acme1", globexKey, "-db", dsn}, 1, "has no API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.message) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.message, out, errOut)
			}
		})
	}
	// Globex's key survived the attempt through acme1.
	_, out, _ = runCmd(t, "account", "key", "list", "--account", "globex", "-db", dsn)
	if !regexp.MustCompile(`(?m)^` + globexKey + `\s+\S+ \S+\s+-`).MatchString(out) {
		t.Errorf("globex's key was revoked through another account:\n%s", out)
	}
	if code, out, _ := runCmd(t, "account", "-h"); code != 0 || !strings.Contains(out, "key revoke") {
		t.Errorf("account -h: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCmd(t, "account", "create", "-h"); code != 0 || !strings.Contains(errOut, "SWITCHYARD_DB") {
		t.Errorf("account create -h: exit %d\n%s", code, errOut)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// onEachDB runs fn on SQLite and, when TEST_DATABASE_URL is set, on
// PostgreSQL.
func onEachDB(t *testing.T, fn func(t *testing.T, fresh storetest.Fresh)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteDSN) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvPostgres) == "" {
			t.Skip(storetest.EnvPostgres + " is not set")
		}
		fn(t, storetest.PostgresDSN)
	})
}

func TestSettingsEnsureFirstValueWins(t *testing.T) {
	onEachDB(t, func(t *testing.T, fresh storetest.Fresh) {
		ctx := t.Context()
		dsn := fresh(t)
		storetest.OpenMigrated(t, dsn)
		const n = 6
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			db := storetest.Open(t, dsn) // one instance each
			wg.Go(func() { got[i], errs[i] = db.Settings().Ensure(ctx, "key", fmt.Sprintf("value-%d", i)) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("instance %d: %v", i, errs[i])
			}
			if got[i] != got[0] {
				t.Fatalf("instances disagree: %q and %q", got[0], got[i])
			}
		}
		again, err := storetest.Open(t, dsn).Settings().Ensure(ctx, "key", "later")
		if err != nil || again != got[0] {
			t.Errorf("after the first: %q %v, want %q", again, err, got[0])
		}
		other, err := storetest.Open(t, dsn).Settings().Ensure(ctx, "other", "o")
		if err != nil || other != "o" {
			t.Errorf("another name: %q %v", other, err)
		}
		if _, err := storetest.Open(t, dsn).Settings().Ensure(ctx, "", "x"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("empty name: %v", err)
		}
	})
}

func TestSeedAPIKeyNeverUndoesARevocation(t *testing.T) {
	onEachDB(t, func(t *testing.T, fresh storetest.Fresh) {
		ctx := t.Context()
		db := storetest.OpenMigrated(t, fresh(t))
		accts := db.Accounts()
		_, _, err := accts.CreateWithSID(ctx, "demo", "Demo")
		if err != nil {
			t.Fatal(err)
		}
		revoked, err := accts.SeedAPIKey(ctx, "demo", "demo_key", "demo_token", "demo")
		if err != nil || revoked {
			t.Fatalf("first seed: revoked %v, %v", revoked, err)
		}
		if _, err := accts.Authenticate(ctx, "demo_key", "demo_token"); err != nil {
			t.Fatalf("seeded key: %v", err)
		}
		// Seeding again with another token changes nothing.
		if revoked, err := accts.SeedAPIKey(ctx, "demo", "demo_key", "other", "x"); err != nil || revoked {
			t.Fatalf("second seed: %v %v", revoked, err)
		}
		if _, err := accts.Authenticate(ctx, "demo_key", "other"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("a reseed changed the token: %v", err)
		}
		if err := accts.RevokeAPIKey(ctx, "demo", "demo_key"); err != nil {
			t.Fatal(err)
		}
		revoked, err = accts.SeedAPIKey(ctx, "demo", "demo_key", "demo_token", "demo")
		if err != nil || !revoked {
			t.Fatalf("seed after revoking: revoked %v, %v", revoked, err)
		}
		if _, err := accts.Authenticate(ctx, "demo_key", "demo_token"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("the revoked key authenticates after a reseed: %v", err)
		}
		_, _, err = accts.CreateWithSID(ctx, "other", "Other")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := accts.SeedAPIKey(ctx, "other", "demo_key", "t", ""); !errors.Is(err, store.ErrConflict) {
			t.Errorf("another account's key: %v", err)
		}
		if _, err := accts.SeedAPIKey(ctx, "nobody", "fresh_key", "t", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown account: %v", err)
		}
		if _, err := accts.SeedAPIKey(ctx, "demo", "bad key", "t", ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("malformed key: %v", err)
		}
	})
}

// Text PostgreSQL refuses (NUL, invalid UTF-8) is the caller's error,
// never a bare driver error: the credentials are simply wrong, any other
// value ErrInvalid.
func TestBadTextIsInvalidInput(t *testing.T) {
	onEachDB(t, func(t *testing.T, fresh storetest.Fresh) {
		ctx := t.Context()
		db := storetest.OpenMigrated(t, fresh(t))
		if _, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme"); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"a\x00b", "caf\xe9", "\xff"} {
			if _, err := db.Accounts().Authenticate(ctx, bad, "token"); !errors.Is(err, store.ErrUnauthorized) {
				t.Errorf("Authenticate(user %q): %v", bad, err)
			}
			if _, err := db.Accounts().Authenticate(ctx, "acme1", bad); !errors.Is(err, store.ErrUnauthorized) {
				t.Errorf("Authenticate(token %q): %v", bad, err)
			}
			_, err := db.Flows().Get(ctx, "acme1", bad)
			if err == nil || !store.InvalidInput(err) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Flows.Get(%q): %v", bad, err)
			}
			if db.Dialect() == store.DialectPostgres && !store.InvalidInput(err) {
				t.Errorf("PostgreSQL: Flows.Get(%q) is not InvalidInput: %v", bad, err)
			}
		}
	})
}

// A legacy client sends the account SID with a token: the account token
// or the token of any of the account's unrevoked API keys, never another
// account's.
func TestLegacySIDTakesTheAccountsAPITokens(t *testing.T) {
	onEachDB(t, func(t *testing.T, fresh storetest.Fresh) {
		ctx := t.Context()
		db := storetest.OpenMigrated(t, fresh(t))
		accts := db.Accounts()
		for _, sid := range []string{"demo", "other"} {
			if _, _, err := accts.CreateWithSID(ctx, sid, sid); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := accts.SeedAPIKey(ctx, "demo", "demo_key", "demo_token", "demo"); err != nil {
			t.Fatal(err)
		}
		if _, err := accts.SeedAPIKey(ctx, "other", "other_key", "other_token", "other"); err != nil {
			t.Fatal(err)
		}
		a, err := accts.Authenticate(ctx, "demo", "demo_token")
		if err != nil || a.SID != "demo" {
			t.Fatalf("SID with the key's token: %v %v", a, err)
		}
		if _, err := accts.Authenticate(ctx, "demo", "other_token"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("SID with another account's key token: %v", err)
		}
		if _, err := accts.Authenticate(ctx, "demo", "demo_key"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("SID with the key itself as token: %v", err)
		}
		if err := accts.RevokeAPIKey(ctx, "demo", "demo_key"); err != nil {
			t.Fatal(err)
		}
		if _, err := accts.Authenticate(ctx, "demo", "demo_token"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("SID with a revoked key's token: %v", err)
		}
	})
}

// On a SQLite file, authentication does not wait for the writer either:
// every API request authenticates, by API key or by account SID, while
// the call writes hold the read-write connection; a key revoked in the
// transaction still authenticates until it commits.
func TestSQLiteAuthenticateDoesNotWaitForTheWriter(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	accts := db.Accounts()
	acct, acctToken, err := accts.CreateWithSID(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	key, token, err := accts.CreateAPIKey(ctx, "acme", "integration")
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.Accounts().RevokeAPIKey(ctx, "acme", key.Key); err != nil {
			return err
		}
		// The transaction holds the read-write connection until it returns.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, c := range []struct{ user, token string }{{key.Key, token}, {acct.SID, acctToken}, {acct.SID, token}} {
			if a, err := accts.Authenticate(rctx, c.user, c.token); err != nil || a.SID != "acme" {
				t.Errorf("authenticate %s during a write: %v, %v", c.user, a, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accts.Authenticate(ctx, key.Key, token); !errors.Is(err, store.ErrUnauthorized) {
		t.Errorf("the key revoked and committed still authenticates: %v", err)
	}
}

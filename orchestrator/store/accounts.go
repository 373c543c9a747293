package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Accounts stores accounts and their API keys and authenticates API
// callers. Tokens are generated here, returned once, and stored only as
// sha256 hashes.
type Accounts struct{ db *DB }

// Create makes an account with a SID derived from name plus random hex
// digits, and returns it with its token. The token is not stored and
// cannot be shown again.
func (r *Accounts) Create(ctx context.Context, name string) (*Account, string, error) {
	return r.CreateWithSID(ctx, "", name)
}

// CreateWithSID is Create with a chosen SID (e.g. "acme1" for a seeded
// development account); an empty sid is generated. A taken SID is
// ErrConflict.
func (r *Accounts) CreateWithSID(ctx context.Context, sid, name string) (*Account, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", fmt.Errorf("create account: empty name: %w", ErrInvalid)
	}
	if sid == "" {
		sid = accountSIDFor(name)
	}
	if !ValidAccountSID(sid) {
		return nil, "", fmt.Errorf("create account: SID %q: %w", sid, ErrInvalid)
	}
	token := newToken()
	t := now()
	a := &Account{SID: sid, Name: name, TokenHash: hashToken(token), CreatedAt: t, UpdatedAt: t}
	if err := r.db.conn(ctx).Create(a).Error; err != nil {
		return nil, "", dbErr("create account", err)
	}
	return a, token, nil
}

// Get returns an account.
func (r *Accounts) Get(ctx context.Context, sid string) (*Account, error) {
	var a Account
	if err := r.db.read(ctx).Where("sid = ?", sid).Take(&a).Error; err != nil {
		return nil, dbErr("get account "+sid, err)
	}
	return &a, nil
}

// CreateAPIKey adds an API key to an account and returns it with its token
// (shown once). An unknown account is ErrNotFound.
func (r *Accounts) CreateAPIKey(ctx context.Context, accountSID, description string) (*APIKey, string, error) {
	token := newToken()
	k := &APIKey{
		Key:         randomHex(20),
		AccountSID:  accountSID,
		TokenHash:   hashToken(token),
		Description: description,
		CreatedAt:   now(),
	}
	if err := r.db.conn(ctx).Create(k).Error; err != nil {
		return nil, "", insertErr("create API key", err)
	}
	return k, token, nil
}

// PutAPIKey installs a key with a caller-chosen token, for seeding
// well-known development or test credentials; real keys come from
// CreateAPIKey. It is idempotent: an existing key of the same account gets
// the token and description and is un-revoked. A key held by another
// account is ErrConflict, an unknown account ErrNotFound.
func (r *Accounts) PutAPIKey(ctx context.Context, accountSID, key, token, description string) error {
	op := "put API key " + key
	if !apiKeyPattern.MatchString(key) || token == "" {
		return fmt.Errorf("%s: malformed key or empty token: %w", op, ErrInvalid)
	}
	return r.db.tx(ctx, func(tx *gorm.DB) error {
		var k APIKey
		err := tx.Where("api_key = ?", key).Take(&k).Error
		switch {
		case errNoRows(err):
			k = APIKey{Key: key, AccountSID: accountSID, TokenHash: hashToken(token), Description: description, CreatedAt: now()}
			return insertErr(op, tx.Create(&k).Error)
		case err != nil:
			return dbErr(op, err)
		case k.AccountSID != accountSID:
			return fmt.Errorf("%s: held by another account: %w", op, ErrConflict)
		}
		return dbErr(op, tx.Model(&APIKey{}).Where("api_key = ?", key).Updates(map[string]any{
			"token_hash": hashToken(token), "description": description, "revoked_at": nil,
		}).Error)
	})
}

// SeedAPIKey installs a well-known key with a caller-chosen token (the
// demo's) if the key does not exist, and otherwise leaves it as it is:
// unlike PutAPIKey it never changes a token and never un-revokes a key an
// operator revoked. It reports whether the key is revoked. A key held by
// another account is ErrConflict, an unknown account ErrNotFound.
func (r *Accounts) SeedAPIKey(ctx context.Context, accountSID, key, token, description string) (revoked bool, err error) {
	op := "seed API key " + key
	if !apiKeyPattern.MatchString(key) || token == "" {
		return false, fmt.Errorf("%s: malformed key or empty token: %w", op, ErrInvalid)
	}
	k := APIKey{Key: key, AccountSID: accountSID, TokenHash: hashToken(token), Description: description, CreatedAt: now()}
	if err := r.db.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&k).Error; err != nil {
		return false, insertErr(op, err)
	}
	var got APIKey
	if err := r.db.conn(ctx).Where("api_key = ?", key).Take(&got).Error; err != nil {
		return false, dbErr(op, err)
	}
	if got.AccountSID != accountSID {
		return false, fmt.Errorf("%s: held by another account: %w", op, ErrConflict)
	}
	return got.RevokedAt != nil, nil
}

var apiKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// APIKeys lists an account's keys, revoked ones included, oldest first.
func (r *Accounts) APIKeys(ctx context.Context, accountSID string) ([]APIKey, error) {
	var keys []APIKey
	err := r.db.conn(ctx).Where("account_sid = ?", accountSID).Order("created_at, api_key").Find(&keys).Error
	if err != nil {
		return nil, dbErr("list API keys", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes one of the account's keys. Revoking twice keeps the
// first revocation time. Another account's key is ErrNotFound.
func (r *Accounts) RevokeAPIKey(ctx context.Context, accountSID, key string) error {
	res := r.db.conn(ctx).Model(&APIKey{}).
		Where("api_key = ? AND account_sid = ? AND revoked_at IS NULL", key, accountSID).
		Update("revoked_at", now())
	if res.Error != nil {
		return dbErr("revoke API key", res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	return notFoundUnlessExists(ctx, r.db, "revoke API key", APIKey{}.TableName(), "api_key = ? AND account_sid = ?", key, accountSID)
}

// Authenticate checks HTTP Basic credentials. user is an API key or, for
// legacy clients, an account SID; token is the matching secret: the key's
// token, or for an account SID the account token or the token of any of
// the account's unrevoked API keys. Any
// failure (unknown user, wrong token, revoked key) is ErrUnauthorized and
// takes the same work; database failures are returned as they are.
//
// On a SQLite file it reads through the read-only connections: every API
// request authenticates, and on the one read-write connection it waited
// for whatever the call writes held it for (a batch's transaction, or an
// outage's full request deadline when another process held the lock).
func (r *Accounts) Authenticate(ctx context.Context, user, token string) (*Account, error) {
	if user == "" || token == "" {
		return nil, fmt.Errorf("authenticate: missing credentials: %w", ErrUnauthorized)
	}
	if !storableText(user) || !storableText(token) {
		// No key or SID holds such bytes, and PostgreSQL would refuse
		// the lookup.
		return nil, fmt.Errorf("authenticate: credentials are not valid text: %w", ErrUnauthorized)
	}
	var k APIKey
	err := r.db.read(ctx).Where("api_key = ?", user).Take(&k).Error
	switch {
	case err == nil:
		ok := tokenMatches(k.TokenHash, token)
		if !ok || k.RevokedAt != nil {
			return nil, fmt.Errorf("authenticate: %w", ErrUnauthorized)
		}
		a, err := r.Get(ctx, k.AccountSID)
		if err != nil {
			return nil, fmt.Errorf("authenticate: key's account: %w", err)
		}
		return a, nil
	case !errNoRows(err):
		return nil, dbErr("authenticate", err)
	}

	var a Account
	err = r.db.read(ctx).Where("sid = ?", user).Take(&a).Error
	switch {
	case errNoRows(err):
		tokenMatches(dummyHash, token)
		return nil, fmt.Errorf("authenticate: %w", ErrUnauthorized)
	case err != nil:
		return nil, dbErr("authenticate", err)
	case tokenMatches(a.TokenHash, token):
		return &a, nil
	}
	// Legacy clients send the account SID with whatever token the
	// account's owner has: any of its API keys' tokens, while the key is
	// not revoked, is as good as the account token.
	var n int64
	err = r.db.read(ctx).Model(&APIKey{}).
		Where("account_sid = ? AND token_hash = ? AND revoked_at IS NULL", a.SID, hashToken(token)).
		Count(&n).Error
	switch {
	case err != nil:
		return nil, dbErr("authenticate", err)
	case n == 0:
		return nil, fmt.Errorf("authenticate: %w", ErrUnauthorized)
	}
	return &a, nil
}

// storableText reports whether s can be stored in or compared with a text
// column on every dialect: valid UTF-8 without NUL bytes.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

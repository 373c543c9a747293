package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// MinSigningKey is the length, in bytes, of the shortest key accepted for
// signing pre-signed recording URLs.
const MinSigningKey = 32

// signingKeySetting names the shared signing key among the store's
// settings.
const signingKeySetting = "recording_url_signing_key"

// ParseSigningKey decodes a configured signing key, written in hex or in
// base64 (standard or URL alphabet, padded or not), of at least
// MinSigningKey bytes.
func ParseSigningKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := hex.DecodeString(s)
	if err != nil {
		key, err = decodeBase64(s)
	}
	if err != nil {
		return nil, errors.New("signing key: not hex or base64")
	}
	if len(key) < MinSigningKey {
		return nil, fmt.Errorf("signing key: %d bytes, need at least %d", len(key), MinSigningKey)
	}
	return key, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("not base64")
}

// SharedSigningKey returns the signing key kept in the database,
// generating and storing a random one first if there is none (once, in a
// transaction: instances starting together agree on it). Every instance
// on the database, and every restart, gets the same key, so a pre-signed
// URL handed out by one opens on any of them until it expires.
func SharedSigningKey(ctx context.Context, db *store.DB) ([]byte, error) {
	fresh := make([]byte, MinSigningKey)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("signing key: generate: %w", err)
	}
	stored, err := db.Settings().Ensure(ctx, signingKeySetting, hex.EncodeToString(fresh))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := hex.DecodeString(stored)
	if err != nil || len(key) < MinSigningKey {
		return nil, fmt.Errorf("signing key: the stored %s is not %d or more hex-encoded bytes", signingKeySetting, MinSigningKey)
	}
	return key, nil
}

package main

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// apiOptions returns the API settings that come from the configuration:
// the rate limit (0 turns it off), the trusted proxies, and the key that
// signs pre-signed recording URLs: -signing-key, or else the key kept in
// the database, so every instance and every restart share it.
func apiOptions(ctx context.Context, cfg Config, db *store.DB) (api.Options, error) {
	opts := api.Options{RateLimit: cfg.RateLimit}
	if cfg.RateLimit == 0 {
		opts.RateLimit = -1
	}
	proxies, err := api.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return opts, fmt.Errorf("-trusted-proxies: %w", err)
	}
	opts.TrustedProxies = proxies
	if cfg.SigningKey != "" {
		opts.SigningKey, err = api.ParseSigningKey(cfg.SigningKey)
		if err != nil {
			return opts, fmt.Errorf("-signing-key: %w", err)
		}
		return opts, nil
	}
	if opts.SigningKey, err = api.SharedSigningKey(ctx, db); err != nil {
		return opts, fmt.Errorf("api: %w", err)
	}
	return opts, nil
}

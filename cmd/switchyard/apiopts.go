package main

import (
	"context"
	"fmt"
	"os"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/numinfo"
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
	if opts.NumberInfo, err = numberSeries(cfg.NumberSeries); err != nil {
		return opts, err
	}
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

// numberSeries is the built-in number series table with the series of
// the file path names (none when empty) on top.
func numberSeries(path string) (*numinfo.Table, error) {
	t := numinfo.Builtin()
	if path == "" {
		return t, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-number-series: %w", err)
	}
	defer f.Close()
	if err := t.Load(f); err != nil {
		return nil, fmt.Errorf("-number-series %s: %w", path, err)
	}
	return t, nil
}

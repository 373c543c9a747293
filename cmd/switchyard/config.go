package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything the binary can be told, from flags or SWITCHYARD_*
// environment variables (a flag wins over the environment).
type Config struct {
	Database  string        // SWITCHYARD_DB
	HTTPAddr  string        // SWITCHYARD_HTTP
	LogLevel  string        // SWITCHYARD_LOG_LEVEL
	LogFormat string        // SWITCHYARD_LOG_FORMAT
	Demo      bool          // SWITCHYARD_DEMO
	Drain     time.Duration // SWITCHYARD_DRAIN
}

func defaultConfig() Config {
	return Config{
		Database:  "data/switchyard.db",
		HTTPAddr:  "127.0.0.1:8080",
		LogLevel:  "info",
		LogFormat: "text",
		Drain:     30 * time.Second,
	}
}

// option binds one setting to a flag and an environment variable.
type option struct {
	flag, env, usage string
	str              *string
	boolean          *bool
	dur              *time.Duration
}

func (c *Config) options(http bool) []option {
	opts := []option{
		{flag: "db", env: "SWITCHYARD_DB", str: &c.Database,
			usage: "database: a SQLite file path, or a postgres:// URL"},
		{flag: "log-level", env: "SWITCHYARD_LOG_LEVEL", str: &c.LogLevel,
			usage: "log level: debug, info, warn or error"},
		{flag: "log-format", env: "SWITCHYARD_LOG_FORMAT", str: &c.LogFormat,
			usage: "log format: text or json"},
	}
	if http {
		opts = append(opts,
			option{flag: "http", env: "SWITCHYARD_HTTP", str: &c.HTTPAddr,
				usage: "address the HTTP API listens on"},
			option{flag: "demo", env: "SWITCHYARD_DEMO", boolean: &c.Demo,
				usage: "seed a demo account, its flows and ExoPhones (idempotent) and print the credentials"},
			option{flag: "drain", env: "SWITCHYARD_DRAIN", dur: &c.Drain,
				usage: "how long shutdown waits for live work to finish"},
		)
	}
	return opts
}

// parse reads the environment, then the flags, then checks the result.
func (c *Config) parse(fs *flag.FlagSet, args []string, http bool) error {
	opts := c.options(http)
	for _, o := range opts {
		if err := o.fromEnv(); err != nil {
			return err
		}
		usage := fmt.Sprintf("%s (env %s)", o.usage, o.env)
		switch {
		case o.str != nil:
			fs.StringVar(o.str, o.flag, *o.str, usage)
		case o.boolean != nil:
			fs.BoolVar(o.boolean, o.flag, *o.boolean, usage)
		case o.dur != nil:
			fs.DurationVar(o.dur, o.flag, *o.dur, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.validate()
}

func (o option) fromEnv() error {
	v, ok := os.LookupEnv(o.env)
	if !ok || v == "" {
		return nil
	}
	switch {
	case o.str != nil:
		*o.str = v
	case o.boolean != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a boolean", o.env, v)
		}
		*o.boolean = b
	case o.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a duration such as 30s", o.env, v)
		}
		*o.dur = d
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	if c.Database == "" {
		errs = append(errs, errors.New("a database is required (-db or SWITCHYARD_DB)"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: use text or json", c.LogFormat))
	}
	if c.Drain < 0 {
		errs = append(errs, fmt.Errorf("drain %s: must not be negative", c.Drain))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

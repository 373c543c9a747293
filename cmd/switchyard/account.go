package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

const accountUsage = `Usage:
  switchyard account create --name NAME [--sid SID] [flags]
      create an account; prints its SID, a first API key and the tokens (shown once)
  switchyard account key create --account SID [--description TEXT] [flags]
      add an API key; prints the key and its token (shown once)
  switchyard account key list --account SID [flags]
      list the account's API keys (tokens are never shown)
  switchyard account key revoke --account SID KEY [flags]
      revoke an API key
  switchyard account limits --account SID [--rate N] [--concurrency N] [flags]
      show or set the account's campaign dialing limits (calls per minute, live calls)

The database is -db or SWITCHYARD_DB, as for the other commands; it is
migrated first if needed. Run "switchyard account create -h" for flags.
`

// accountCommand is "switchyard account": accounts and their API keys.
func accountCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, accountUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return accountCreate(ctx, args[1:], stdout, stderr)
	case "limits":
		return accountLimits(ctx, args[1:], stdout, stderr)
	case "key":
		if len(args) > 1 {
			switch args[1] {
			case "create":
				return keyCreate(ctx, args[2:], stdout, stderr)
			case "list":
				return keyList(ctx, args[2:], stdout, stderr)
			case "revoke":
				return keyRevoke(ctx, args[2:], stdout, stderr)
			}
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, accountUsage)
		return nil
	}
	fmt.Fprint(stderr, accountUsage)
	return errUsage
}

// parseAccountFlags parses the common configuration and the command's
// flags, letting flags and positional arguments come in any order
// ("key revoke KEY --account acme" as well as "key revoke --account acme
// KEY"). It returns the positional arguments.
func parseAccountFlags(cfg *Config, fs *flag.FlagSet, args []string) ([]string, error) {
	if err := cfg.parse(fs, args, false); err != nil {
		return nil, flagErr(err)
	}
	var pos []string
	for fs.NArg() > 0 {
		pos = append(pos, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return nil, flagErr(err)
		}
	}
	return pos, nil
}

// openAccountDB opens and migrates the configured database.
func openAccountDB(ctx context.Context, cfg Config, stderr io.Writer) (*store.DB, error) {
	db, err := openDB(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// accountUsageErr prints a command-line mistake and the command's usage.
func accountUsageErr(fs *flag.FlagSet, stderr io.Writer, msg string) error {
	fmt.Fprintf(stderr, "switchyard %s: %s\n", fs.Name(), msg)
	fs.Usage()
	return errUsage
}

func accountCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := newFlagSet("account create", "account create --name NAME [--sid SID] [flags]", stderr)
	name := fs.String("name", "", "the account's name (required)")
	sid := fs.String("sid", "", "the account SID: 2 to 64 of a-z, 0-9, - and _ (default: made from the name)")
	pos, err := parseAccountFlags(&cfg, fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return accountUsageErr(fs, stderr, fmt.Sprintf("unexpected argument %q", pos[0]))
	case strings.TrimSpace(*name) == "":
		return accountUsageErr(fs, stderr, "--name is required")
	case *sid != "" && !store.ValidAccountSID(*sid):
		return accountUsageErr(fs, stderr, fmt.Sprintf("--sid %q: use 2 to 64 lowercase letters, digits, - and _, starting with a letter or digit", *sid))
	}
	db, err := openAccountDB(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()

	var (
		acc                  *store.Account
		key                  *store.APIKey
		accToken, keyToken   string
		errAccountConflicted = errors.New("account exists")
	)
	err = db.InTx(ctx, func(tx *store.DB) error {
		var err error
		acc, accToken, err = tx.Accounts().CreateWithSID(ctx, *sid, *name)
		if errors.Is(err, store.ErrConflict) {
			return errAccountConflicted
		}
		if err != nil {
			return err
		}
		key, keyToken, err = tx.Accounts().CreateAPIKey(ctx, acc.SID, "first key (switchyard account create)")
		return err
	})
	switch {
	case errors.Is(err, errAccountConflicted):
		return fmt.Errorf("account %s already exists", *sid)
	case err != nil:
		return fmt.Errorf("create account: %w", err)
	}
	fmt.Fprintln(stdout, "Account created. The tokens are shown once: store them now.")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Account SID:\t%s\n", acc.SID)
	fmt.Fprintf(tw, "Name:\t%s\n", acc.Name)
	fmt.Fprintf(tw, "API key:\t%s\n", key.Key)
	fmt.Fprintf(tw, "API token:\t%s\n", keyToken)
	fmt.Fprintf(tw, "Account token:\t%s\t(legacy clients: the account SID as username)\n", accToken)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "HTTP Basic: username = API key, password = API token, e.g.\n  curl -u %s:<API token> http://%s/v2/accounts/%s/flows\n",
		key.Key, cfg.HTTPAddr, acc.SID)
	return nil
}

// accountOf checks that the --account flag names an existing account.
func accountOf(ctx context.Context, db *store.DB, sid string) error {
	_, err := db.Accounts().Get(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("account %s does not exist", sid)
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", sid, err)
	}
	return nil
}

// keyCmd is what every "account key" subcommand starts from: its flags
// parsed, the account checked, the database open.
type keyCmd struct {
	db  *store.DB
	sid string
	pos []string // positional arguments
}

// openKeyCmd parses a key subcommand's flags (the common ones, --account,
// and those extra declares), checks it got wantPos positional arguments
// (naming them with posName) and opens the database on the account.
func openKeyCmd(ctx context.Context, name, usage string, args []string, stderr io.Writer,
	wantPos int, posName string, extra func(*flag.FlagSet)) (*keyCmd, error) {
	cfg := defaultConfig()
	fs := newFlagSet(name, usage, stderr)
	sid := fs.String("account", "", "the account SID (required)")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseAccountFlags(&cfg, fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case *sid == "":
		return nil, accountUsageErr(fs, stderr, "--account is required")
	case len(pos) != wantPos && wantPos == 0:
		return nil, accountUsageErr(fs, stderr, fmt.Sprintf("unexpected argument %q", pos[0]))
	case len(pos) != wantPos:
		return nil, accountUsageErr(fs, stderr, fmt.Sprintf("give exactly one %s", posName))
	}
	db, err := openAccountDB(ctx, cfg, stderr)
	if err != nil {
		return nil, err
	}
	if err := accountOf(ctx, db, *sid); err != nil {
		db.Close()
		return nil, err
	}
	return &keyCmd{db: db, sid: *sid, pos: pos}, nil
}

func keyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var desc *string
	k, err := openKeyCmd(ctx, "account key create", "account key create --account SID [--description TEXT] [flags]",
		args, stderr, 0, "", func(fs *flag.FlagSet) { desc = fs.String("description", "", "what the key is for") })
	if err != nil {
		return err
	}
	defer k.db.Close()
	key, token, err := k.db.Accounts().CreateAPIKey(ctx, k.sid, strings.TrimSpace(*desc))
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	fmt.Fprintln(stdout, "API key created. The token is shown once: store it now.")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Account SID:\t%s\n", k.sid)
	fmt.Fprintf(tw, "API key:\t%s\n", key.Key)
	fmt.Fprintf(tw, "API token:\t%s\n", token)
	return tw.Flush()
}

func keyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	k, err := openKeyCmd(ctx, "account key list", "account key list --account SID [flags]", args, stderr, 0, "", nil)
	if err != nil {
		return err
	}
	defer k.db.Close()
	keys, err := k.db.Accounts().APIKeys(ctx, k.sid)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tCREATED\tREVOKED\tDESCRIPTION")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Key, k.CreatedAt.UTC().Format(time.DateTime), revoked, k.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d key(s), times in UTC\n", len(keys))
	return nil
}

func keyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	k, err := openKeyCmd(ctx, "account key revoke", "account key revoke --account SID KEY [flags]", args, stderr, 1, "KEY to revoke", nil)
	if err != nil {
		return err
	}
	defer k.db.Close()
	key := k.pos[0]
	err = k.db.Accounts().RevokeAPIKey(ctx, k.sid, key)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("account %s has no API key %s", k.sid, key)
	}
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	fmt.Fprintf(stdout, "API key %s of account %s is revoked.\n", key, k.sid)
	return nil
}

func accountLimits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var fs *flag.FlagSet
	var rate, concurrency *int
	k, err := openKeyCmd(ctx, "account limits", "account limits --account SID [--rate N] [--concurrency N] [flags]",
		args, stderr, 0, "", func(f *flag.FlagSet) {
			fs = f
			rate = f.Int("rate", 0, "set the calls per minute the account's campaigns place together (at least 1)")
			concurrency = f.Int("concurrency", 0, "set the live calls the account's campaigns have together (at least 1)")
		})
	if err != nil {
		return err
	}
	defer k.db.Close()
	m, err := k.db.Accounts().DialLimits(ctx, []string{k.sid})
	if err != nil {
		return fmt.Errorf("dialing limits: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	l := m[k.sid]
	if set["rate"] {
		l.Rate = *rate
	}
	if set["concurrency"] {
		l.Concurrency = *concurrency
	}
	switch {
	case l.Rate < 1:
		return accountUsageErr(fs, stderr, fmt.Sprintf("--rate %d: must be at least 1", l.Rate))
	case l.Concurrency < 1:
		return accountUsageErr(fs, stderr, fmt.Sprintf("--concurrency %d: must be at least 1", l.Concurrency))
	case set["rate"] || set["concurrency"]:
		if err := k.db.Accounts().SetDialLimits(ctx, k.sid, l); err != nil {
			return fmt.Errorf("set dialing limits: %w", err)
		}
	}
	fmt.Fprintf(stdout, "Dialing limits of account %s, across its campaigns:\n  rate         %d calls/min\n  concurrency  %d live calls\n",
		k.sid, l.Rate, l.Concurrency)
	return nil
}

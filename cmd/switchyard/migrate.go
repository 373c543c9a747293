package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := newFlagSet("migrate", "migrate [-status] [flags]", stderr)
	status := fs.Bool("status", false, "list applied and pending migrations instead of applying them")
	if err := cfg.parse(fs, args, false); err != nil {
		return flagErr(err)
	}
	log := cfg.logger(stderr)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()

	if !*status {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS")
	pending := 0
	for _, s := range states {
		state := "pending"
		switch {
		case s.Unknown:
			state = "applied by a newer switchyard"
		case s.Applied:
			state = "applied " + s.AppliedAt.UTC().Format(time.DateTime)
		default:
			pending++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.Name, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database: %d migrations, %d pending\n", db.Dialect(), len(states), pending)
	return nil
}

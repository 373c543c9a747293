package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/orchestrator/nodes"
	"github.com/switchyard/switchyard/orchestrator/store"
)

const nodeUsage = `Usage:
  switchyard node list [--json] [flags]
      the FreeSWITCH nodes the instances know: address, state, sessions,
      heartbeat age, Core-UUID, which instance saw it last
  switchyard node drain ADDRESS [flags]
      place no new calls on the node, from any instance (within 2 s);
      its live calls go on. The node shows "draining" until they are
      over, then "drained": it can be stopped
  switchyard node undrain ADDRESS [flags]
      place calls on the node again
  switchyard node forget ADDRESS [flags]
      remove a node taken out of the cluster from the list (refused
      while an instance is connected to it)

ADDRESS is the node's event socket as serve's -fs names it (host:port).
These work on the database (-db or SWITCHYARD_DB) directly, like the
operator API (GET /ops/v1/nodes, POST /ops/v1/nodes/ADDRESS/drain).
States: up, draining, drained, down (no instance reached it in the last
6 s).
`

// nodeCommand is "switchyard node".
func nodeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, nodeUsage)
		return errUsage
	}
	verb := args[0]
	switch verb {
	case "list", "drain", "undrain", "forget":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, nodeUsage)
		return nil
	default:
		fmt.Fprint(stderr, nodeUsage)
		return errUsage
	}
	var asJSON bool
	synopsis := "node " + verb + " ADDRESS [flags]"
	if verb == "list" {
		synopsis = "node list [--json] [flags]"
	}
	cl, err := parseCmd("node "+verb, synopsis, args[1:], stderr, func(fs *flag.FlagSet) {
		if verb == "list" {
			fs.BoolVar(&asJSON, "json", false, "print the nodes as a JSON array")
		}
	})
	if err != nil {
		return err
	}
	switch {
	case verb == "list" && len(cl.pos) > 0:
		return cl.usage("unexpected argument %q", cl.pos[0])
	case verb != "list" && len(cl.pos) != 1:
		return cl.usage("give one node address (host:port) to %s", verb)
	}
	db, err := cl.open(ctx, "")
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	switch verb {
	case "list":
		rows, err := db.Nodes().List(ctx)
		if err != nil {
			return err
		}
		views := make([]nodes.View, 0, len(rows))
		for _, r := range rows {
			views = append(views, nodes.ViewOf(r, now, nodes.DefaultStale))
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(views)
		}
		printNodes(stdout, views)
	case "drain", "undrain":
		row, err := db.Nodes().SetDrained(ctx, cl.pos[0], verb == "drain")
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no node %s is known (switchyard node list shows the known ones)", cl.pos[0])
		}
		if err != nil {
			return err
		}
		v := nodes.ViewOf(*row, now, nodes.DefaultStale)
		if verb == "drain" {
			fmt.Fprintf(stdout, "node %s drained: no new calls are placed on it; %d live (%s).\n", v.Address, v.Sessions, v.State)
		} else {
			fmt.Fprintf(stdout, "node %s undrained: calls are placed on it again (%s).\n", v.Address, v.State)
		}
	case "forget":
		err := db.Nodes().Forget(ctx, cl.pos[0], now.Add(-nodes.DefaultStale))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no node %s is known", cl.pos[0])
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("node %s is still up: an instance is connected to it; stop it or take it out of -fs first", cl.pos[0])
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "node %s forgotten.\n", cl.pos[0])
	}
	return nil
}

func printNodes(w io.Writer, views []nodes.View) {
	if len(views) == 0 {
		fmt.Fprintln(w, "No nodes yet: a running serve reports its nodes within 2 s.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSTATE\tSESSIONS\tHEARTBEAT\tCORE-UUID\tSEEN BY\tSEEN")
	for _, v := range views {
		beat, seen := "-", "-"
		if v.HeartbeatAge != nil {
			beat = fmt.Sprintf("%.0fs ago", *v.HeartbeatAge)
		}
		if v.SeenAt != nil {
			seen = time.Since(*v.SeenAt).Round(time.Second).String() + " ago"
		}
		sessions := fmt.Sprint(v.Sessions)
		if v.MaxSessions > 0 {
			sessions += "/" + fmt.Sprint(v.MaxSessions)
		}
		core := v.CoreUUID
		if core == "" {
			core = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Address, v.State, sessions, beat, core, orDash(v.SeenBy), seen)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

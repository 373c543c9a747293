// Command switchyard is the Switchyard control plane: it runs call flows on
// FreeSWITCH and serves the Exotel-compatible API.
//
// main only reads configuration, wires the parts together and handles
// signals; the logic lives in flows/, orchestrator/ and api/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Switchyard: Exotel-style call flows on FreeSWITCH.

Usage:
  switchyard serve [flags]             run the control plane (migrates the database first)
  switchyard migrate [flags]           apply pending database migrations
  switchyard migrate -status [flags]   list applied and pending migrations
  switchyard flow validate FILE...     check flow documents; exit status 1 on any error
  switchyard sim call --to EXOPHONE    place a simulated call on a node and print the path it took
  switchyard sim crm --agents N,...    run a sample CRM answering programmable connects
  switchyard sim node                  run a real FreeSWITCH from the archive, configured from freeswitch-conf/
  switchyard sim node --emulator       run the in-tree FreeSWITCH emulator as a process of its own
  switchyard sim load --to EXOPHONE    place many simulated calls on a node (or, with --api, through the REST API) and measure how Switchyard takes them
  switchyard call show CALLSID         print a call's record and legs
  switchyard account create --name N   create an account, its first API key and tokens
  switchyard account key ...           create, list or revoke an account's API keys
  switchyard account limits ...        show or set an account's campaign dialing limits
  switchyard campaign create ...       create an outbound campaign from numbers, lists or a CSV file
  switchyard campaign list|show ...    list campaigns; show one (--follow: its live progress)
  switchyard campaign pause ID         pause (or resume, complete, archive) a campaign; report ID: its calls
  switchyard dnd add|list|remove ...   an account's do-not-call list
  switchyard node list|drain|undrain   the cluster's FreeSWITCH nodes; drain one (no new calls placed there)
  switchyard version                   print the version

Every flag can also be set with an environment variable (SWITCHYARD_*);
run "switchyard COMMAND -h" for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case "flow":
		err = flowCommand(args[1:], stdout, stderr)
	case "sim":
		err = simCommand(ctx, args[1:], stdout, stderr)
	case "call":
		err = callCommand(ctx, args[1:], stdout, stderr)
	case "account":
		err = accountCommand(ctx, args[1:], stdout, stderr)
	case "campaign":
		err = campaignCommand(ctx, args[1:], stdout, stderr)
	case "node":
		err = nodeCommand(ctx, args[1:], stdout, stderr)
	case "dnd":
		err = dndCommand(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "switchyard", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errInvalidFlow), errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "switchyard %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet makes a command's flag set with its usage text.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchyard %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// errHelp is flag.ErrHelp: -h was asked for (exit 0).
var errHelp = flag.ErrHelp

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// simCommand places a simulated inbound call on a node (the embedded
// emulator of a running `switchyard serve`, or a real FreeSWITCH) and
// prints the path the flow took.
func simCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "crm" {
		return simCRM(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "node" {
		return simNode(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "load" {
		return simLoad(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "call" {
		fmt.Fprint(stderr, "Usage: switchyard sim call --to EXOPHONE [--from NUMBER] [--digits 1] [--hangup-on speak] [--hangup-after 20s] [--carrier HOST:PORT]\n"+
			"       switchyard sim crm --agents NUMBER[,NUMBER...] [--listen 127.0.0.1:9090] [--version 1.1|1.0]\n"+
			"       switchyard "+simNodeSynopsis+"\n"+
			"       switchyard "+simLoadSynopsis+"\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	fs := newFlagSet("sim call", "sim call --to EXOPHONE [flags]", stderr)
	to := fs.String("to", "", "the ExoPhone to call (required)")
	from := fs.String("from", "+15550109999", "the caller's number")
	digits := fs.String("digits", "", `digits entered at each menu, comma-separated: "1", or ",2" to stay silent at the first`)
	hangupOn := fs.String("hangup-on", "", "hang up when this application first starts, e.g. speak (mid-greeting)")
	hangupAfter := fs.Duration("hangup-after", 0, "hang up this long after the call is answered, e.g. 20s (0: never first)")
	message := fs.Duration("message", 3*time.Second, "how long the caller speaks into a voicemail or other recording (0: silence)")
	node := fs.String("fs", envOr("SWITCHYARD_SIM_ESL", "127.0.0.1:8021"), "the node's event socket (env SWITCHYARD_SIM_ESL)")
	password := fs.String("fs-password", envOr("SWITCHYARD_FS_PASSWORD", "ClueCon"), "event socket password (env SWITCHYARD_FS_PASSWORD)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	carrier := fs.String("carrier", "", "call over SIP as a carrier's call comes, to this host:port (sim node prints it; a real node only); default loopback")
	if err := fs.Parse(args[1:]); err != nil {
		return flagErr(err)
	}
	if *to == "" {
		fmt.Fprintln(stderr, "sim call: --to is required")
		return errUsage
	}
	script := testphone.Script{From: *from, To: *to, Digits: testphone.ParseDigits(*digits),
		HangupOnApp: *hangupOn, HangupOnAppN: 1, HangupAfter: *hangupAfter, Message: *message, Timeout: *timeout, Carrier: *carrier}
	fmt.Fprintf(stdout, "calling %s from %s via %s\n", *to, *from, *node)
	res, err := testphone.New(*node, *password).Call(ctx, script)
	if res != nil {
		for i, step := range res.Path {
			fmt.Fprintf(stdout, "  %2d. %s\n", i+1, step)
		}
		for i, d := range res.DigitsSent {
			if d == "" {
				d = "(nothing)"
			}
			fmt.Fprintf(stdout, "  menu %d: pressed %s\n", i+1, d)
		}
		fmt.Fprintf(stdout, "ended: %s, answered: %v\n", res.HangupCause, res.Answered)
		if res.CallSid != "" {
			fmt.Fprintf(stdout, "CallSid: %s\n  switchyard call show %s\n", res.CallSid, res.CallSid)
		}
	}
	if err != nil {
		return err
	}
	if res.CallSid == "" {
		return errors.New("switchyard did not take the call (is the number an ExoPhone with a published flow?)")
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/switchyard/switchyard/orchestrator/fsnode"
)

// simNode runs a real FreeSWITCH from the project's archive, configured
// from freeswitch-conf/ as the tests configure theirs, until ctx ends, and
// prints the serve flags that use it.
func simNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim node", "sim node [--archive FILE] [--socket 127.0.0.1:8084]", stderr)
	archive := fs.String("archive", envOr("SWITCHYARD_FS_ARCHIVE", ""), "the FreeSWITCH archive (env SWITCHYARD_FS_ARCHIVE; default: shared/freeswitch/ beside the checkout)")
	socket := fs.String("socket", "127.0.0.1:8084", "where the node hands calls for managed numbers (switchyard serve's -socket)")
	dir := fs.String("dir", "", "folder to unpack into and keep the node's state in (default: a temporary one, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	n, err := fsnode.Start(ctx, fsnode.Config{Archive: *archive, Dir: *dir, Sockets: *socket, Logger: log})
	if err != nil {
		return err
	}
	defer n.Stop()
	fmt.Fprintf(stdout, "%s\n  event socket  %s (password %s)\n  test network  loopback/<number>/switchyard_testnet, sip:<number>@%s\n  log           %s\n",
		n.Version, n.ESL, n.Password, n.SIP, n.Log())
	if len(n.Skipped) > 0 {
		fmt.Fprintf(stdout, "  not loaded    %v (the archive lacks them; see freeswitch-conf/README.md)\n", n.Skipped)
	}
	fmt.Fprintf(stdout, "Run Switchyard on it:\n  go run ./cmd/switchyard serve -demo -fs %s -fs-password %s -socket %s -recordings %s -sip-endpoint 'sofia/switchyard_testnet/{uri}'\n"+
		"and call it:\n  go run ./cmd/switchyard sim call --fs %s --fs-password %s --to +15550000100 --digits 1 --hangup-after 20s\n",
		n.ESL, n.Password, *socket, n.RecordingsDir, n.ESL, n.Password)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping FreeSWITCH")
	return nil
}

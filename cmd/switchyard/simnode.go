package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/fsnode"
)

const simNodeSynopsis = "sim node [--archive FILE] [--socket 127.0.0.1:8084] [--native-basic-support]\n" +
	"       switchyard sim node --emulator [--esl 127.0.0.1:8021] [--socket 127.0.0.1:8084] [--speed 1] [--recordings DIR]"

// simNode runs a node until ctx ends and prints the serve flags that use
// it: a real FreeSWITCH from the project's archive, configured from
// freeswitch-conf/ as the tests configure theirs, or with --emulator the
// in-tree emulator as a process of its own.
func simNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim node", simNodeSynopsis, stderr)
	archive := fs.String("archive", envOr("SWITCHYARD_FS_ARCHIVE", ""), "the FreeSWITCH archive (env SWITCHYARD_FS_ARCHIVE; default: shared/freeswitch/ beside the checkout)")
	socket := fs.String("socket", "127.0.0.1:8084", "where the node hands calls for managed numbers (switchyard serve's -socket)")
	dir := fs.String("dir", "", "folder to unpack into and keep the node's state in (default: a temporary one, removed at exit)")
	native := fs.Bool("native-basic-support", false, "add the Basic Support flow with tones written natively in the dialplan on +15550009000, "+
		"the baseline to compare Switchyard's +15550000400 (serve -demo) with under switchyard sim load, "+
		"and on +15550009001 the same behind a socket that hands the call straight back (what a socket costs in itself)")
	emulator := fs.Bool("emulator", false, "run the in-tree FreeSWITCH emulator (orchestrator/fsim) instead of a real node")
	eslAddr := fs.String("esl", "127.0.0.1:8021", "with --emulator: the event socket address to listen on")
	speed := fs.Float64("speed", 1, "with --emulator: simulated seconds per real second (rings, prompts, timeouts)")
	recordings := fs.String("recordings", "data/recordings", "with --emulator: where recordings with a relative path go (serve's -recordings)")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *emulator && *native {
		fmt.Fprintln(stderr, "sim node: --native-basic-support needs a real node (the emulator has no dialplan of its own)")
		return errUsage
	}
	if *emulator {
		return simEmulator(ctx, emulatorNode{ESL: *eslAddr, Socket: *socket, Speed: *speed, Recordings: *recordings}, stdout, log)
	}
	n, err := fsnode.Start(ctx, fsnode.Config{Archive: *archive, Dir: *dir, Sockets: *socket, NativeBasicSupport: *native, Logger: log})
	if err != nil {
		return err
	}
	defer n.Stop()
	fmt.Fprintf(stdout, "%s, pid %d\n  event socket  %s (password %s)\n  test network  loopback/<number>/switchyard_testnet, sip:<number>@%s\n  carrier       sip:public<number>@%s (enters the public context over SIP: sim call --carrier)\n  log           %s\n",
		n.Version, n.PID(), n.ESL, n.Password, n.SIP, n.Carrier, n.Log())
	if *native {
		fmt.Fprintln(stdout, "  native twin   +15550009000 (Basic Support in the dialplan), +15550009001 (the same behind a bare socket)")
	}
	if len(n.Skipped) > 0 {
		fmt.Fprintf(stdout, "  not loaded    %v (the archive lacks them; see freeswitch-conf/README.md)\n", n.Skipped)
	}
	fmt.Fprintf(stdout, "Run Switchyard on it:\n  go run ./cmd/switchyard serve -demo -fs %s -fs-password %s -socket %s -recordings %s -sip-endpoint 'sofia/switchyard_testnet/{uri}'\n"+
		"and call it:\n  go run ./cmd/switchyard sim call --fs %s --fs-password %s --to +15550000100 --digits 1 --hangup-after 20s\n"+
		"  go run ./cmd/switchyard sim load --fs %s --fs-password %s --to +15550000100 --calls 200 --cps 20 --concurrency 50 --node-pid %d\n",
		n.ESL, n.Password, *socket, n.RecordingsDir, n.ESL, n.Password, n.ESL, n.Password, n.PID())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping FreeSWITCH")
	return nil
}

// emulatorNode is what `sim node --emulator` runs.
type emulatorNode struct {
	ESL, Socket, Recordings string
	Speed                   float64
}

// simEmulator runs the emulator on its own event socket until ctx ends,
// handing calls for managed numbers to Switchyard at n.Socket.
func simEmulator(ctx context.Context, n emulatorNode, stdout io.Writer, log *slog.Logger) error {
	if !(n.Speed > 0) {
		return fmt.Errorf("--speed %v: must be positive", n.Speed)
	}
	recordings, err := filepath.Abs(n.Recordings)
	if err != nil {
		return fmt.Errorf("recordings folder: %w", err)
	}
	if err := os.MkdirAll(recordings, 0o750); err != nil {
		return fmt.Errorf("recordings folder: %w", err)
	}
	const password = "ClueCon"
	emu := fsim.New(fsim.Config{Password: password, Tick: fsim.DefaultTick, Speed: n.Speed, SocketAddr: n.Socket,
		RecordingsDir: recordings, Logger: log.With("component", "emulator")})
	defer emu.Close()
	if err := emu.Listen(n.ESL); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	addr := emu.Addr()
	fmt.Fprintf(stdout, "FreeSWITCH emulator (orchestrator/fsim), pid %d, speed %g\n  event socket  %s (password %s)\n"+
		"  calls go to   %s (the socket application)\n  recordings    %s\n  test network  loopback/<number>/switchyard_testnet\n",
		os.Getpid(), n.Speed, addr, password, n.Socket, recordings)
	fmt.Fprintf(stdout, "Run Switchyard on it:\n  go run ./cmd/switchyard serve -demo -fs %s -fs-password %s -socket %s -recordings %s\n"+
		"and call it:\n  go run ./cmd/switchyard sim call --fs %s --fs-password %s --to +15550000100 --digits 1 --hangup-after 20s\n"+
		"  go run ./cmd/switchyard sim load --fs %s --fs-password %s --to +15550000100 --calls 200 --cps 20 --concurrency 50 --node-pid %d\n",
		addr, password, n.Socket, recordings, addr, password, addr, password, os.Getpid())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the emulator")
	return nil
}

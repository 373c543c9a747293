package fsnode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// TestNodeRunsShippedConfig starts the archive's FreeSWITCH on the
// project's freeswitch-conf/ and checks what the project relies on: the
// variables, the modules, the test phone network on loopback and over SIP,
// and the public context's hand-off to switchyard_sockets; with the native
// Basic Support twin added, which answers its number itself, and its copy
// behind a socket, which answers once the socket handed the call back.
func TestNodeRunsShippedConfig(t *testing.T) {
	if _, err := Locate(); errors.Is(err, ErrNoArchive) {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := Start(ctx, Config{NativeBasicSupport: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	t.Logf("%s; modules the archive lacks: %v", n.Version, n.Skipped)
	conn, err := esl.DialInbound(ctx, n.ESL, n.Password, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := func(cmd string) string {
		t.Helper()
		out, err := conn.API(ctx, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return strings.TrimSpace(out)
	}
	if got := api("global_getvar switchyard_recordings_dir"); got != n.RecordingsDir {
		t.Errorf("switchyard_recordings_dir = %q, want %q", got, n.RecordingsDir)
	}
	for _, m := range []string{"mod_event_socket", "mod_sofia", "mod_loopback", "mod_dptools", "mod_commands", "mod_tone_stream", "mod_flite", "mod_sndfile"} {
		if got := api("module_exists " + m); got != "true" {
			t.Errorf("module_exists %s = %q", m, got)
		}
	}
	for _, c := range []struct{ dial, want string }{
		{"loopback/+15550100101/switchyard_testnet", "-ERR USER_BUSY"},
		{"loopback/15550100301/public", "-ERR CALL_REJECTED"},
		{"sofia/switchyard_testnet/sip:+15550100101@" + n.SIP, "-ERR USER_BUSY"},
		{"sofia/switchyard_testnet/sip:+15550100301@" + n.SIP, "-ERR CALL_REJECTED"},
		// A managed number goes to switchyard_sockets, here a closed
		// port: the fallback ends the call NORMAL_TEMPORARY_FAILURE.
		{"loopback/+15550000100/public", "-ERR NORMAL_TEMPORARY_FAILURE"},
	} {
		_, err := conn.API(ctx, "originate {ignore_early_media=true,originate_timeout=10}"+c.dial+" &park()")
		if err == nil || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("originate %s: %v, want %q", c.dial, err, c.want)
		}
	}
	for _, dial := range []string{
		"sofia/switchyard_testnet/sip:+15550100001@" + n.SIP,
		// The native twin answers in the dialplan, before the managed
		// numbers' extension could refuse it.
		"loopback/+15550009000/public",
		"loopback/+15550009001/public",
	} {
		out := api("originate {originate_timeout=10}" + dial + " &park()")
		uuid, ok := strings.CutPrefix(out, "+OK ")
		if !ok {
			t.Fatalf("originate to %s, which answers: %q", dial, out)
		}
		if got := api("uuid_kill " + uuid); !strings.HasPrefix(got, "+OK") {
			t.Errorf("uuid_kill: %q", got)
		}
	}
	if got := n.letGo.calls.Load(); got != 1 {
		t.Errorf("the twin's socket handed back %d calls, want 1", got)
	}
}

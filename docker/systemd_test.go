package docker_test

import (
	"bufio"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

// unitFile reads a systemd unit: section -> key -> values, in order (a key
// may repeat, as SystemCallFilter= does).
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		case section == "":
			t.Errorf("%s:%d: %q outside any section", path, n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s:%d: %q is not Key=Value", path, n, line)
				continue
			}
			k = strings.TrimSpace(k)
			unit[section][k] = append(unit[section][k], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return unit
}

// TestSystemdUnit: the unit runs serve unprivileged and hardened, drains on
// stop and waits for the drain, and restarts it when it fails.
func TestSystemdUnit(t *testing.T) {
	unit := unitFile(t, "systemd/switchyard.service")
	svc := unit["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	one := func(key string) string {
		t.Helper()
		v := svc[key]
		if len(v) == 0 {
			t.Errorf("[Service] has no %s=", key)
			return ""
		}
		return v[len(v)-1]
	}
	yes := func(key string) {
		t.Helper()
		if v := one(key); v != "" && v != "yes" && v != "true" {
			t.Errorf("%s=%s, want yes", key, v)
		}
	}

	if exec := strings.Fields(one("ExecStart")); len(exec) < 2 || path.Base(exec[0]) != "switchyard" || exec[1] != "serve" {
		t.Errorf("ExecStart=%s does not run switchyard serve", one("ExecStart"))
	}
	if len(svc["DynamicUser"]) == 0 && len(svc["User"]) == 0 {
		t.Error("neither DynamicUser= nor User=: serve would run as root")
	}
	if v := svc["User"]; len(v) > 0 && (v[0] == "root" || v[0] == "0") {
		t.Error("User=root")
	}
	if len(svc["DynamicUser"]) > 0 {
		yes("DynamicUser")
	}
	if one("ProtectSystem") != "strict" {
		t.Errorf("ProtectSystem=%s, want strict", one("ProtectSystem"))
	}
	if one("StateDirectory") == "" {
		t.Error("no StateDirectory= (a SQLite database, if any, needs somewhere to live under ProtectSystem=strict)")
	}
	yes("NoNewPrivileges")
	families := strings.Fields(one("RestrictAddressFamilies"))
	for _, want := range []string{"AF_INET", "AF_INET6"} {
		if !slices.Contains(families, want) {
			t.Errorf("RestrictAddressFamilies=%v lacks %s", families, want)
		}
	}
	if one("KillSignal") != "SIGTERM" {
		t.Errorf("KillSignal=%s, want SIGTERM: serve drains on it", one("KillSignal"))
	}
	if one("Restart") != "on-failure" {
		t.Errorf("Restart=%s, want on-failure", one("Restart"))
	}

	// The stop timeout outlasts the drain of the example environment.
	if !slices.Contains(svc["EnvironmentFile"], "/etc/switchyard/switchyard.env") {
		t.Errorf("EnvironmentFile=%v, want /etc/switchyard/switchyard.env (the README installs switchyard.env.example there)", svc["EnvironmentFile"])
	}
	drain, err := time.ParseDuration(envFile(t, "systemd/switchyard.env.example")["SWITCHYARD_DRAIN"])
	if err != nil {
		t.Fatalf("switchyard.env.example: SWITCHYARD_DRAIN: %v", err)
	}
	stop, err := systemdSeconds(one("TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if stop <= drain+15*time.Second {
		t.Errorf("TimeoutStopSec=%v must exceed SWITCHYARD_DRAIN %v + 15 s: systemd would kill serve mid-drain", stop, drain)
	}

	if got := unit["Install"]["WantedBy"]; !slices.Contains(got, "multi-user.target") {
		t.Errorf("[Install] WantedBy=%v, want multi-user.target", got)
	}
}

// systemdSeconds reads a systemd time span: "180", "180s", "3min", "2min 30s".
func systemdSeconds(v string) (time.Duration, error) {
	if !strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz") {
		v += "s"
	}
	v = strings.NewReplacer("min", "m", " ", "").Replace(v)
	return time.ParseDuration(v)
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestFlowValidateAcceptsSeedFlows(t *testing.T) {
	code, out, errOut := runCmd(t, "flow", "validate",
		"../../flows/examples/basic-support.json", "../../flows/examples/after-hours.json", "../../flows/examples/main-line.json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"basic-support.json: ok (0 warnings)", "after-hours.json: ok (0 warnings)", "main-line.json: ok"} {
		if !strings.Contains(out, name) {
			t.Errorf("output lacks %q:\n%s", name, out)
		}
	}
}

func TestFlowValidateRejectsBrokenFlow(t *testing.T) {
	code, out, _ := runCmd(t, "flow", "validate", "../../flows/testdata/broken.json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		`error: colour: unknown field`,
		`error: applet "menu": outputs.timeout: dangling output: applet "nowhere" does not exist`,
		`error: applet "orphan": type: unknown applet type "fax"`,
		`error: applet "again": outputs: loop with no caller-input step`,
		`warning: applet "orphan": unreachable from the start applet`,
		`broken.json: invalid (16 errors, 2 warnings)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFlowValidateMissingFile(t *testing.T) {
	code, _, errOut := runCmd(t, "flow", "validate", "does-not-exist.json")
	if code != 1 || !strings.Contains(errOut, "does-not-exist.json") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "flow", "validate"); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "flow", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
}

func TestUsage(t *testing.T) {
	if code, _, errOut := runCmd(t); code != 2 || !strings.Contains(errOut, "switchyard serve") {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, errOut := runCmd(t, "bogus"); code != 2 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Errorf("bogus: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, "serve", "-h"); code != 0 || !strings.Contains(errOut, "SWITCHYARD_DB") {
		t.Errorf("serve -h: exit %d\n%s", code, errOut)
	}
	if code, _, _ := runCmd(t, "serve", "-no-such-flag"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

func TestConfigEnvironmentAndFlags(t *testing.T) {
	t.Setenv("SWITCHYARD_DB", "postgres://env")
	t.Setenv("SWITCHYARD_HTTP", "127.0.0.1:9999")
	t.Setenv("SWITCHYARD_DEMO", "true")
	t.Setenv("SWITCHYARD_DRAIN", "5s")
	cfg := defaultConfig()
	fs := newFlagSet("serve", "serve", &bytes.Buffer{})
	if err := cfg.parse(fs, []string{"-http", "127.0.0.1:7777"}, true); err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "postgres://env" || cfg.HTTPAddr != "127.0.0.1:7777" || !cfg.Demo || cfg.Drain != 5*time.Second {
		t.Errorf("config = %+v", cfg)
	}

	t.Setenv("SWITCHYARD_DEMO", "maybe")
	cfg = defaultConfig()
	if err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), nil, true); err == nil || !strings.Contains(err.Error(), "SWITCHYARD_DEMO") {
		t.Errorf("bad boolean: %v", err)
	}
	t.Setenv("SWITCHYARD_DEMO", "")
	t.Setenv("SWITCHYARD_LOG_LEVEL", "loud")
	cfg = defaultConfig()
	if err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), nil, true); err == nil || !strings.Contains(err.Error(), "log level") {
		t.Errorf("bad level: %v", err)
	}
}

func TestConfigEgressAllow(t *testing.T) {
	cfg := defaultConfig()
	if err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), nil, true); err != nil || cfg.EgressAllow != "" {
		t.Fatalf("default: %q, %v; want public addresses only", cfg.EgressAllow, err)
	}
	t.Setenv("SWITCHYARD_EGRESS_ALLOW", "loopback, 10.0.0.0/8")
	cfg = defaultConfig()
	if err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), nil, true); err != nil || cfg.EgressAllow != "loopback, 10.0.0.0/8" {
		t.Errorf("from the environment: %q, %v", cfg.EgressAllow, err)
	}
	cfg = defaultConfig()
	if err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), []string{"-egress-allow", "private"}, true); err != nil || cfg.EgressAllow != "private" {
		t.Errorf("flag over the environment: %q, %v", cfg.EgressAllow, err)
	}
	cfg = defaultConfig()
	err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), []string{"-egress-allow", "10.0.0.0/33"}, true)
	if err == nil || !strings.Contains(err.Error(), "-egress-allow") || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("bad prefix: %v", err)
	}
}

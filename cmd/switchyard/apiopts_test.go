package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestConfigRateLimitSigningKeyProxies(t *testing.T) {
	cfg, err := parseServe()
	if err != nil || cfg.RateLimit != api.DefaultRateLimit || cfg.SigningKey != "" || cfg.TrustedProxies != "" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	key := strings.Repeat("ab", 32)
	t.Setenv("SWITCHYARD_RATE_LIMIT", "600")
	t.Setenv("SWITCHYARD_SIGNING_KEY", key)
	t.Setenv("SWITCHYARD_TRUSTED_PROXIES", "10.0.0.0/8")
	if cfg, err = parseServe(); err != nil || cfg.RateLimit != 600 || cfg.SigningKey != key || cfg.TrustedProxies != "10.0.0.0/8" {
		t.Errorf("from the environment: %+v %v", cfg, err)
	}
	if cfg, err = parseServe("-rate-limit", "0"); err != nil || cfg.RateLimit != 0 {
		t.Errorf("-rate-limit 0: %d %v", cfg.RateLimit, err)
	}
	for _, bad := range [][]string{
		{"-rate-limit", "-5"},
		{"-signing-key", strings.Repeat("ab", 31)},
		{"-signing-key", "not a key"},
		{"-trusted-proxies", "proxy.example"},
	} {
		if _, err := parseServe(bad...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "-")) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestAPIOptions(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.SQLiteDSN(t)
	db := storetest.OpenMigrated(t, dsn)

	cfg := defaultConfig()
	cfg.SigningKey = strings.Repeat("0f", 40)
	cfg.TrustedProxies = "192.0.2.1, 10.0.0.0/8"
	o, err := apiOptions(ctx, cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(o.SigningKey) != cfg.SigningKey || o.RateLimit != api.DefaultRateLimit || len(o.TrustedProxies) != 2 {
		t.Errorf("configured: %+v", o)
	}
	cfg.RateLimit = 0
	if o, _ = apiOptions(ctx, cfg, db); o.RateLimit >= 0 {
		t.Errorf("-rate-limit 0 gives api.Options.RateLimit %d, want negative (off)", o.RateLimit)
	}

	// No key configured: the database's, the same for every instance and
	// after a restart.
	cfg = defaultConfig()
	first, err := apiOptions(ctx, cfg, db)
	if err != nil || len(first.SigningKey) < api.MinSigningKey {
		t.Fatalf("from the database: %x %v", first.SigningKey, err)
	}
	second, err := apiOptions(ctx, cfg, storetest.Open(t, dsn))
	if err != nil || !bytes.Equal(first.SigningKey, second.SigningKey) {
		t.Errorf("second instance: %x %v, want %x", second.SigningKey, err, first.SigningKey)
	}
}

func TestPrintDemoRevokedKey(t *testing.T) {
	var out bytes.Buffer
	printDemo(&out, defaultConfig(), &demo.Tenant{AccountSID: "demo", APIKey: "demo_api_key", APIToken: "t"})
	if strings.Contains(out.String(), "revoked") {
		t.Errorf("active key reported revoked:\n%s", out.String())
	}
	out.Reset()
	printDemo(&out, defaultConfig(), &demo.Tenant{AccountSID: "demo", APIKey: "demo_api_key", APIToken: "t", KeyRevoked: true})
	if !strings.Contains(out.String(), "demo_api_key is revoked") {
		t.Errorf("revoked key not reported:\n%s", out.String())
	}
}

// -number-series adds an operator's series on top of the built-in table;
// a missing or malformed file stops serve with a message naming it.
func TestAPIOptionsNumberSeries(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	dir := t.TempDir()
	good := filepath.Join(dir, "series.csv")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte("prefix,type,circle,circle_name,operator,operator_name\n91987,Mobile,KA,Karnataka,A,Airtel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("91987,Mobile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	o, err := apiOptions(ctx, cfg, db)
	if err != nil || o.NumberInfo.Lookup("+918047000000").Circle != "KA" {
		t.Fatalf("built-in table: %v", err)
	}
	cfg.NumberSeries = good
	if o, err = apiOptions(ctx, cfg, db); err != nil || o.NumberInfo.Lookup("+919876543210").Operator != "A" {
		t.Errorf("with %s: %+v %v", good, o.NumberInfo.Lookup("+919876543210"), err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.csv")} {
		cfg.NumberSeries = path
		if _, err := apiOptions(ctx, cfg, db); err == nil || !strings.Contains(err.Error(), "-number-series") {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// -trunks maps trunk IDs to gateways; -trunk-endpoint must name the
// gateway.
func TestConfigTrunks(t *testing.T) {
	cfg, err := parseServe("-trunks", "carrier=gw_carrier, backup.1=gw-2")
	if err != nil {
		t.Fatal(err)
	}
	gws, err := cfg.trunkGateways()
	if err != nil || len(gws) != 2 || gws["carrier"] != "gw_carrier" || gws["backup.1"] != "gw-2" {
		t.Errorf("gateways %v %v", gws, err)
	}
	if cfg.TrunkEndpoint != "sofia/gateway/{gateway}/{user}" {
		t.Errorf("default trunk endpoint %q", cfg.TrunkEndpoint)
	}
	for _, bad := range [][]string{
		{"-trunks", "carrier"},
		{"-trunks", "carrier=gw/x"},
		{"-trunks", "a=b,a=c"},
		{"-trunk-endpoint", "sofia/gateway/carrier/{user}"},
	} {
		if _, err := parseServe(bad...); err == nil || !strings.Contains(err.Error(), "trunk") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// The SMS provider follows the settings given; the webhook's reports need
// a token to check them against.
func TestConfigSMSProvider(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "testnet"},
		{[]string{"-sms-webhook", "https://gw.example/sms"}, "webhook"},
		{[]string{"-smpp-addr", "smsc.example:2775"}, "smpp"},
		{[]string{"-sms-provider", "testnet", "-sms-webhook", "https://gw.example/sms"}, "testnet"},
		{[]string{"-sms-webhook", "https://gw.example/sms", "-sms-webhook-reports", "-sms-token", "0123456789abcdef"}, "webhook"},
	} {
		cfg, err := parseServe(tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if got, err := cfg.smsProvider(); err != nil || got != tc.want {
			t.Errorf("%v: %q %v, want %q", tc.args, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{
		{"-sms-provider", "carrier-pigeon"},
		{"-sms-provider", "smpp"},
		{"-sms-provider", "webhook"},
		{"-sms-webhook", "https://gw.example/sms", "-sms-webhook-reports"},
		{"-sms-webhook", "https://gw.example/sms", "-sms-webhook-reports", "-sms-token", "short"},
	} {
		if _, err := parseServe(bad...); err == nil || !strings.Contains(err.Error(), "sms") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestConfigDemoCampaign(t *testing.T) {
	if cfg, err := parseServe("-demo"); err != nil || !cfg.DemoCampaign {
		t.Fatalf("default: %v %v", cfg.DemoCampaign, err)
	}
	if cfg, err := parseServe("-demo", "-demo-campaign=false"); err != nil || cfg.DemoCampaign {
		t.Errorf("-demo-campaign=false: %v %v", cfg.DemoCampaign, err)
	}
	t.Setenv("SWITCHYARD_DEMO_CAMPAIGN", "false")
	if cfg, err := parseServe("-demo"); err != nil || cfg.DemoCampaign {
		t.Errorf("from the environment: %v %v", cfg.DemoCampaign, err)
	}
}

func TestConfigWriteLinger(t *testing.T) {
	if cfg, err := parseServe(); err != nil || cfg.WriteLinger != store.DefaultLinger {
		t.Fatalf("default: %v %v", cfg.WriteLinger, err)
	}
	t.Setenv("SWITCHYARD_WRITE_LINGER", "20ms")
	if cfg, err := parseServe(); err != nil || cfg.WriteLinger != 20*time.Millisecond {
		t.Errorf("from the environment: %v %v", cfg.WriteLinger, err)
	}
	if cfg, err := parseServe("-write-linger", "0"); err != nil || cfg.WriteLinger != 0 {
		t.Errorf("-write-linger 0: %v %v", cfg.WriteLinger, err)
	}
	for _, bad := range []string{"-1ms", "2s"} {
		if _, err := parseServe("-write-linger", bad); err == nil || !strings.Contains(err.Error(), "write linger") {
			t.Errorf("-write-linger %s: %v, want an error naming it", bad, err)
		}
	}
}

func TestConfigControl(t *testing.T) {
	if cfg, err := parseServe(); err != nil || cfg.Control != "socket" {
		t.Fatalf("default: %q %v, want socket", cfg.Control, err)
	}
	if cfg, err := parseServe("-control", "node"); err != nil || cfg.Control != "node" {
		t.Errorf("-control node: %q %v", cfg.Control, err)
	}
	if cfg, err := parseServe("-control", "park"); err != nil || cfg.Control != "park" {
		t.Errorf("-control park: %q %v", cfg.Control, err)
	}
	t.Setenv("SWITCHYARD_CONTROL", "node")
	if cfg, err := parseServe(); err != nil || cfg.Control != "node" {
		t.Errorf("SWITCHYARD_CONTROL=node: %q %v", cfg.Control, err)
	}
	for _, bad := range []string{"inbound", "", "Node"} {
		if _, err := parseServe("-control", bad); err == nil || !strings.Contains(err.Error(), "control") {
			t.Errorf("-control %q: %v, want an error naming it", bad, err)
		}
	}
}

func TestConfigSchedulerSwitches(t *testing.T) {
	for _, sw := range []struct {
		flag, env string
		get       func(Config) bool
	}{
		{"adapt-procs", "SWITCHYARD_ADAPT_PROCS", func(c Config) bool { return c.AdaptProcs }},
		{"steady-monitor", "SWITCHYARD_STEADY_MONITOR", func(c Config) bool { return c.SteadyMonitor }},
	} {
		t.Run(sw.flag, func(t *testing.T) {
			if cfg, err := parseServe(); err != nil || !sw.get(cfg) {
				t.Fatalf("default: %v %v", sw.get(cfg), err)
			}
			if cfg, err := parseServe("-" + sw.flag + "=false"); err != nil || sw.get(cfg) {
				t.Errorf("-%s=false: %v %v", sw.flag, sw.get(cfg), err)
			}
			t.Setenv(sw.env, "false")
			if cfg, err := parseServe(); err != nil || sw.get(cfg) {
				t.Errorf("%s=false: %v %v", sw.env, sw.get(cfg), err)
			}
		})
	}
}

// parseServe parses serve's flags over the defaults.
func parseServe(args ...string) (Config, error) {
	cfg := defaultConfig()
	err := cfg.parse(newFlagSet("serve", "serve", &bytes.Buffer{}), args, true)
	return cfg, err
}

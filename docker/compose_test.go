package docker_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeEnv is what an operator puts in docker/.env: every variable the
// compose file requires, with stand-in values.
var composeEnv = map[string]string{
	"POSTGRES_PASSWORD":      "pg-password-for-tests",
	"SWITCHYARD_FS_PASSWORD": "esl-password-for-tests",
	"SWITCHYARD_OPS_TOKEN":   "ops-token-for-tests",
	"GRAFANA_ADMIN_PASSWORD": "grafana-password-for-tests",
}

// loadCompose reads docker/compose.yaml as `docker compose config` does,
// with only the given variables (neither the shell's nor docker/.env).
func loadCompose(env map[string]string, profiles ...string) (*types.Project, error) {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"},
		cli.WithWorkingDirectory("."),
		cli.WithEnv(list),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func mustLoadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	p, err := loadCompose(composeEnv, profiles...)
	if err != nil {
		t.Fatalf("docker compose config: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("compose.yaml: no service %q (have %v)", name, p.ServiceNames())
	}
	return s
}

func env(t *testing.T, s types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := s.Environment[key]
	if !ok || v == nil {
		t.Fatalf("service %s: no %s in its environment", s.Name, key)
	}
	return *v
}

var instances = []string{"switchyard-a", "switchyard-b"}

func TestComposeServices(t *testing.T) {
	p := mustLoadCompose(t)
	if got, want := p.ServiceNames(), []string{"freeswitch", "postgres", "switchyard-a", "switchyard-b"}; !slices.Equal(got, want) {
		t.Errorf("services without a profile: %v, want %v", got, want)
	}
	mon := mustLoadCompose(t, "monitoring")
	for _, name := range []string{"prometheus", "grafana"} {
		s := service(t, mon, name)
		if !slices.Equal(s.Profiles, []string{"monitoring"}) {
			t.Errorf("%s: profiles %v, want [monitoring]", name, s.Profiles)
		}
	}
	for _, s := range mon.Services {
		if s.Name != "prometheus" && s.Name != "grafana" && len(s.Profiles) > 0 {
			t.Errorf("%s: profiles %v: the core services run without a profile", s.Name, s.Profiles)
		}
	}
}

// TestComposeInstancesShareOneDatabase: both instances name the same
// PostgreSQL, the compose project's, with its user, password and database.
func TestComposeInstancesShareOneDatabase(t *testing.T) {
	p := mustLoadCompose(t)
	pg := service(t, p, "postgres")
	var dbs []string
	for _, name := range instances {
		dbs = append(dbs, env(t, service(t, p, name), "SWITCHYARD_DB"))
	}
	if dbs[0] != dbs[1] {
		t.Fatalf("the instances use different databases:\n  %s\n  %s", dbs[0], dbs[1])
	}
	u, err := url.Parse(dbs[0])
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "postgres" {
		t.Errorf("SWITCHYARD_DB %s: not a postgres:// URL", dbs[0])
	}
	pw, _ := u.User.Password()
	if u.User.Username() != env(t, pg, "POSTGRES_USER") || pw != env(t, pg, "POSTGRES_PASSWORD") ||
		strings.TrimPrefix(u.Path, "/") != env(t, pg, "POSTGRES_DB") {
		t.Errorf("SWITCHYARD_DB %s does not match the postgres service's user, password and database", dbs[0])
	}
	if pw != composeEnv["POSTGRES_PASSWORD"] {
		t.Errorf("SWITCHYARD_DB's password does not come from POSTGRES_PASSWORD")
	}
	published := false
	for _, port := range pg.Ports {
		if port.Target == 5432 && net.JoinHostPort(port.HostIP, port.Published) == u.Host {
			published = true
		}
	}
	if !published {
		t.Errorf("SWITCHYARD_DB reaches %s, where the postgres service publishes nothing (ports %+v)", u.Host, pg.Ports)
	}
}

// TestComposeNodeFailsOverBetweenInstances: the node's socket list names
// both instances' socket addresses, first a then b, and the image's
// switchyard_vars.xml takes the list from that variable; node and
// instances agree on the event socket's address and password.
func TestComposeNodeFailsOverBetweenInstances(t *testing.T) {
	p := mustLoadCompose(t)
	fs := service(t, p, "freeswitch")
	var sockets []string
	for _, name := range instances {
		sockets = append(sockets, env(t, service(t, p, name), "SWITCHYARD_SOCKET"))
	}
	if got := strings.Split(env(t, fs, "SWITCHYARD_SOCKETS"), "|"); !slices.Equal(got, sockets) {
		t.Errorf("freeswitch SWITCHYARD_SOCKETS: %q, want the instances' sockets in order, %q", got, sockets)
	}
	if sockets[0] == sockets[1] {
		t.Errorf("both instances listen on %s", sockets[0])
	}

	vars := mountedFile(t, fs, "/etc/freeswitch/switchyard_vars.xml")
	for _, setting := range []string{"switchyard_sockets", "switchyard_esl_password", "switchyard_esl_ip", "switchyard_esl_port"} {
		directive := `cmd="env-set" data="` + setting + `=$` + strings.ToUpper(setting) + `"`
		if !strings.Contains(vars, directive) {
			t.Errorf("the node's switchyard_vars.xml does not take %s from the environment (%s)", setting, directive)
		}
	}
	defaults := mountedFile(t, fs, "/etc/freeswitch/switchyard_vars.defaults.xml")
	if defaults != readFile(t, repo("freeswitch-conf/switchyard_vars.xml")) {
		t.Errorf("switchyard_vars.defaults.xml is not freeswitch-conf/switchyard_vars.xml")
	}

	esl := net.JoinHostPort(env(t, fs, "SWITCHYARD_ESL_IP"), env(t, fs, "SWITCHYARD_ESL_PORT"))
	for _, name := range instances {
		s := service(t, p, name)
		if got := env(t, s, "SWITCHYARD_FS_ESL"); got != esl {
			t.Errorf("%s: SWITCHYARD_FS_ESL %s, but the node listens on %s", name, got, esl)
		}
		if env(t, s, "SWITCHYARD_FS_PASSWORD") != env(t, fs, "SWITCHYARD_ESL_PASSWORD") {
			t.Errorf("%s: SWITCHYARD_FS_PASSWORD is not the node's SWITCHYARD_ESL_PASSWORD", name)
		}
		if s.NetworkMode != fs.NetworkMode {
			t.Errorf("%s: network_mode %q, the node's %q: they reach each other on loopback", name, s.NetworkMode, fs.NetworkMode)
		}
	}
}

// mountedFile returns the content of the file a service bind-mounts at target.
func mountedFile(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			return readFile(t, v.Source)
		}
	}
	t.Fatalf("service %s mounts nothing at %s", s.Name, target)
	return ""
}

// TestComposeHealthchecksUseReadyz: each instance is healthy when its own
// /readyz says so (503 while draining, without the database or a node).
func TestComposeHealthchecksUseReadyz(t *testing.T) {
	p := mustLoadCompose(t)
	for _, name := range instances {
		s := service(t, p, name)
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		want := "http://" + env(t, s, "SWITCHYARD_HTTP") + "/readyz"
		if !slices.Contains(s.HealthCheck.Test, want) {
			t.Errorf("%s: healthcheck %q does not ask %s", name, s.HealthCheck.Test, want)
		}
	}
}

// TestComposeStopsAfterTheDrain: docker stop sends SIGTERM and waits
// longer than serve's drain plus the 15 s it may take to close its queues.
func TestComposeStopsAfterTheDrain(t *testing.T) {
	p := mustLoadCompose(t)
	for _, name := range instances {
		s := service(t, p, name)
		drain, err := time.ParseDuration(env(t, s, "SWITCHYARD_DRAIN"))
		if err != nil {
			t.Fatalf("%s: SWITCHYARD_DRAIN: %v", name, err)
		}
		if s.StopSignal != "SIGTERM" {
			t.Errorf("%s: stop_signal %q, want SIGTERM (serve drains on it)", name, s.StopSignal)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= drain+15*time.Second {
			t.Errorf("%s: stop_grace_period %v must exceed SWITCHYARD_DRAIN %v + 15s", name, s.StopGracePeriod, drain)
		}
	}
}

// TestComposeBindsLoopback: nothing listens beyond 127.0.0.1 but the
// node's SIP profiles and RTP. Published ports must name 127.0.0.1; a
// service on the host's network must say where it listens.
func TestComposeBindsLoopback(t *testing.T) {
	p := mustLoadCompose(t, "monitoring")
	loopback := func(t *testing.T, what, addr string) {
		t.Helper()
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s listens on %q, not on loopback", what, addr)
		}
	}
	// How each service on the host's network binds its listeners.
	hostNetwork := map[string]func(t *testing.T, s types.ServiceConfig){
		"freeswitch": func(t *testing.T, s types.ServiceConfig) {
			// The event socket; SIP and RTP bind the host's addresses on purpose.
			loopback(t, "freeswitch's event socket (SWITCHYARD_ESL_IP)", env(t, s, "SWITCHYARD_ESL_IP"))
		},
		"prometheus": func(t *testing.T, s types.ServiceConfig) {
			listen := ""
			for _, arg := range s.Command {
				if v, ok := strings.CutPrefix(arg, "--web.listen-address="); ok {
					listen = v
				}
			}
			loopback(t, "prometheus (--web.listen-address)", listen)
		},
		"grafana": func(t *testing.T, s types.ServiceConfig) {
			loopback(t, "grafana (GF_SERVER_HTTP_ADDR)", env(t, s, "GF_SERVER_HTTP_ADDR"))
		},
	}
	for _, name := range instances {
		hostNetwork[name] = func(t *testing.T, s types.ServiceConfig) {
			for _, key := range []string{"SWITCHYARD_HTTP", "SWITCHYARD_SOCKET"} {
				loopback(t, name+" "+key, env(t, s, key))
			}
			if v, ok := s.Environment["SWITCHYARD_PPROF"]; ok && v != nil && *v != "" {
				loopback(t, name+" SWITCHYARD_PPROF", *v)
			}
		}
	}
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if ip := net.ParseIP(port.HostIP); ip == nil || !ip.IsLoopback() {
				t.Errorf("%s publishes %s:%s on %q: publish on 127.0.0.1", s.Name, port.Published, port.Protocol, port.HostIP)
			}
		}
		if s.NetworkMode == "host" {
			check, ok := hostNetwork[s.Name]
			if !ok {
				t.Errorf("%s uses the host's network: add how it binds its listeners to this test", s.Name)
				continue
			}
			check(t, s)
		}
	}
}

// TestComposeFilesExist: every file compose mounts or builds from is in
// the repository (a missing bind source would become an empty directory).
func TestComposeFilesExist(t *testing.T) {
	p := mustLoadCompose(t, "monitoring")
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s at %s: %v", s.Name, v.Source, v.Target, err)
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s builds from %s: %v", s.Name, s.Build.Dockerfile, err)
			}
		}
	}
}

// TestComposeImagesMountWhatTheImageHas: the node's configuration files are
// mounted where the project's image installs the same files, so that the
// built image and an image of your own run the same configuration.
func TestComposeImagesMountWhatTheImageHas(t *testing.T) {
	p := mustLoadCompose(t)
	fs := service(t, p, "freeswitch")
	copied := map[string]string{} // target in the image -> source in the repository
	for _, c := range dockerfileCopies(t, "freeswitch/Dockerfile") {
		for _, src := range c.sources {
			target := c.dest
			if strings.HasSuffix(target, "/") {
				target += filepath.Base(src)
			}
			copied[target] = src
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mounted := 0
	for _, v := range fs.Volumes {
		if v.Type != types.VolumeTypeBind || !strings.HasPrefix(v.Target, "/etc/freeswitch/") {
			continue
		}
		mounted++
		rel, err := filepath.Rel(root, v.Source)
		if err != nil {
			t.Fatal(err)
		}
		if src, ok := copied[v.Target]; !ok || src != filepath.ToSlash(rel) {
			t.Errorf("compose mounts %s at %s; the image installs %q there", rel, v.Target, src)
		}
		if !v.ReadOnly {
			t.Errorf("%s is mounted read-write", v.Target)
		}
	}
	if mounted == 0 {
		t.Error("freeswitch: no configuration mounted under /etc/freeswitch")
	}
}

// TestComposeMonitoringWiring: Prometheus reads the files and the token
// compose gives it, Grafana the dashboard and provisioning.
func TestComposeMonitoringWiring(t *testing.T) {
	p := mustLoadCompose(t, "monitoring")
	prom := service(t, p, "prometheus")
	config := ""
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			config = v
		}
	}
	if got := mountedFile(t, prom, config); got != readFile(t, "prometheus/prometheus.yml") {
		t.Errorf("prometheus: --config.file %s is not docker/prometheus/prometheus.yml", config)
	}
	cfg := prometheusConfig(t)
	for _, rules := range cfg.RuleFiles {
		if got := mountedFile(t, prom, rules); got != readFile(t, "prometheus/alerts.yml") {
			t.Errorf("prometheus: rule file %s is not docker/prometheus/alerts.yml", rules)
		}
	}
	secret, ok := p.Secrets["switchyard_ops_token"]
	if !ok || secret.Environment != "SWITCHYARD_OPS_TOKEN" {
		t.Errorf("secret switchyard_ops_token: %+v, want it from the environment variable SWITCHYARD_OPS_TOKEN", secret)
	}
	given := map[string]bool{}
	for _, s := range prom.Secrets {
		target := s.Target
		if target == "" {
			target = s.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		given[target] = s.Source == "switchyard_ops_token"
	}
	for _, job := range cfg.ScrapeConfigs {
		if job.Authorization.CredentialsFile != "" && !given[job.Authorization.CredentialsFile] {
			t.Errorf("prometheus job %s reads its token from %s, where compose puts no switchyard_ops_token secret", job.JobName, job.Authorization.CredentialsFile)
		}
	}

	grafana := service(t, p, "grafana")
	provider := readFile(t, "grafana/provisioning/dashboards/switchyard.yml")
	path := regexp.MustCompile(`(?m)^\s*path:\s*(\S+)`).FindStringSubmatch(provider)
	if path == nil {
		t.Fatal("grafana dashboard provider: no path")
	}
	if got := mountedFile(t, grafana, path[1]+"/switchyard.json"); got != readFile(t, "grafana/switchyard.json") {
		t.Errorf("grafana: %s/switchyard.json is not docker/grafana/switchyard.json", path[1])
	}
	provisioned := false
	for _, v := range grafana.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == "/etc/grafana/provisioning" && filepath.Base(v.Source) == "provisioning" {
			provisioned = true
		}
	}
	if !provisioned {
		t.Error("grafana: docker/grafana/provisioning is not mounted at /etc/grafana/provisioning")
	}
	datasource := readFile(t, "grafana/provisioning/datasources/prometheus.yml")
	listen := ""
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--web.listen-address="); ok {
			listen = v
		}
	}
	if !strings.Contains(datasource, "url: http://"+listen+"\n") {
		t.Errorf("grafana's Prometheus data source does not point at %s, where Prometheus listens", listen)
	}
}

// requiredVar matches ${NAME:?message}: compose refuses to run without NAME.
var requiredVar = regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`)

// TestComposeRequiresSecrets: without a required variable, loading fails
// and names it, and docker/.env.example lists every one of them.
func TestComposeRequiresSecrets(t *testing.T) {
	raw := readFile(t, "compose.yaml")
	required := map[string]bool{}
	for _, m := range requiredVar.FindAllStringSubmatch(raw, -1) {
		required[m[1]] = true
	}
	if len(required) == 0 {
		t.Fatal("compose.yaml requires no variable: where do its secrets come from?")
	}
	example := envFile(t, ".env.example")
	for name := range required {
		if _, ok := composeEnv[name]; !ok {
			t.Errorf("compose.yaml requires %s: add it to composeEnv", name)
		}
		if _, ok := example[name]; !ok {
			t.Errorf("compose.yaml requires %s, which docker/.env.example does not list", name)
		}
		for _, empty := range []bool{false, true} {
			env := map[string]string{}
			for k, v := range composeEnv {
				if k != name {
					env[k] = v
				}
			}
			how := "unset"
			if empty {
				env[name], how = "", "empty"
			}
			_, err := loadCompose(env)
			if err == nil {
				t.Errorf("compose.yaml loads with %s %s", name, how)
				continue
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), ".env.example") {
				t.Errorf("with %s %s: %v; the error should name the variable and docker/.env.example", name, how, err)
			}
		}
	}
	for name := range composeEnv {
		if !required[name] {
			t.Errorf("composeEnv sets %s, which compose.yaml does not require", name)
		}
	}
}

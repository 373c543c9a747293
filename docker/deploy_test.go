// Package docker_test checks the deployment files under docker/ without
// Docker: the compose file as `docker compose config` reads it (the same
// library, compose-go), the Grafana dashboard and the Prometheus files
// against the metrics Switchyard exports, the Dockerfiles, the FreeSWITCH
// image's helper scripts and the systemd unit. `make test` runs it as part
// of `go test ./...`; alone: go test ./docker/...
package docker_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// metricKind is how a metric is exported: histograms are used through
// their _bucket, _count and _sum series.
type metricKind int

const (
	counter metricKind = iota
	gauge
	histogram
)

// metrics is every Switchyard metric the dashboard, the alerts and the
// README may name, with its labels. Keep it in step with the code that
// registers them: a panel or rule naming anything else is a typo.
var metrics = map[string]struct {
	kind   metricKind
	labels []string
}{
	"switchyard_calls_started_total":                  {counter, []string{"direction"}},
	"switchyard_calls_ended_total":                    {counter, []string{"direction", "status", "cause"}},
	"switchyard_calls_live":                           {gauge, nil},
	"switchyard_applet_steps_total":                   {counter, []string{"applet"}},
	"switchyard_applet_step_seconds":                  {histogram, []string{"applet"}},
	"switchyard_applet_dispatch_seconds":              {histogram, []string{"applet"}},
	"switchyard_esl_command_seconds":                  {histogram, []string{"node"}},
	"switchyard_esl_command_errors_total":             {counter, []string{"node"}},
	"switchyard_node_up":                              {gauge, []string{"node"}},
	"switchyard_node_drained":                         {gauge, []string{"node"}},
	"switchyard_node_sessions":                        {gauge, []string{"node"}},
	"switchyard_node_max_sessions":                    {gauge, []string{"node"}},
	"switchyard_node_heartbeat_age_seconds":           {gauge, []string{"node"}},
	"switchyard_node_idle_cpu_percent":                {gauge, []string{"node"}},
	"switchyard_node_restarts_total":                  {counter, []string{"node"}},
	"switchyard_store_write_seconds":                  {histogram, nil},
	"switchyard_store_writes_total":                   {counter, nil},
	"switchyard_store_write_errors_total":             {counter, nil},
	"switchyard_store_queue_depth":                    {gauge, nil},
	"switchyard_callback_attempts_total":              {counter, []string{"outcome"}},
	"switchyard_callback_seconds":                     {histogram, []string{"outcome"}},
	"switchyard_callbacks_pending":                    {gauge, nil},
	"switchyard_http_request_seconds":                 {histogram, []string{"kind", "outcome"}},
	"switchyard_campaign_calls_placed_total":          {counter, nil},
	"switchyard_campaign_calls_failed_to_place_total": {counter, nil},
	"switchyard_api_requests_total":                   {counter, []string{"method", "route", "code"}},
	"switchyard_api_request_seconds":                  {histogram, []string{"method", "route"}},
	"switchyard_socket_calls_refused_total":           {counter, []string{"reason"}},
	"switchyard_instance_draining":                    {gauge, nil},
	"switchyard_build_info":                           {gauge, []string{"version"}},
}

var metricName = regexp.MustCompile(`\bswitchyard_[a-z0-9_]+`)

// metricsIn returns the Switchyard metrics a PromQL expression reads, with
// histogram series (_bucket, _count, _sum) folded into their metric. Names
// that are not metrics at all come back as they are, for the caller to
// report.
func metricsIn(expr string) []string {
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if m, known := metrics[base]; known && m.kind == histogram {
					name = base
					break
				}
			}
		}
		out = append(out, name)
	}
	return out
}

// repo returns the path of a file of the repository, from docker/.
func repo(path string) string {
	return filepath.Join("..", filepath.FromSlash(path))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envFile reads a KEY=VALUE file as systemd's EnvironmentFile= and
// compose's .env read the simple cases: comments and blank lines skipped,
// no quoting.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=VALUE", path, line)
			continue
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// secretKey tells the settings whose values are secrets.
var secretKey = regexp.MustCompile(`PASSWORD|TOKEN|SECRET|SIGNING_KEY|ACCESS_KEY`)

// TestExamplesHoldNoSecrets: the example environment files leave every
// secret to the operator.
func TestExamplesHoldNoSecrets(t *testing.T) {
	for _, path := range []string{".env.example", "systemd/switchyard.env.example"} {
		for k, v := range envFile(t, path) {
			if secretKey.MatchString(k) && v != "" {
				t.Errorf("%s: %s has a value (%q); leave secrets empty for the operator to fill in", path, k, v)
			}
		}
	}
}

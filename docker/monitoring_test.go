package docker_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, "grafana/switchyard.json")), &d); err != nil {
		t.Fatalf("grafana/switchyard.json: %v", err)
	}
	return d
}

// allPanels flattens rows, collapsed ones included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// TestDashboardMetrics: every metric a panel reads is one Switchyard
// exports, and every metric it exports has a panel.
func TestDashboardMetrics(t *testing.T) {
	d := loadDashboard(t)
	used := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		for _, target := range p.Targets {
			for _, name := range metricsIn(target.Expr) {
				if _, ok := metrics[name]; !ok {
					t.Errorf("panel %q reads %s, which is not a Switchyard metric", p.Title, name)
				}
				used[name] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, name := range metricsIn(v.Definition + " " + string(v.Query)) {
			if _, ok := metrics[name]; !ok {
				t.Errorf("variable %s reads %s, which is not a Switchyard metric", v.Name, name)
			}
		}
	}
	for name := range metrics {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// TestDashboardShape: the dashboard loads in a current Grafana, every
// panel asks the selected data source and honours the instance variable.
func TestDashboardShape(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title (provisioning keys on the uid)")
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d: write it for Grafana 10 or 11 (about 39)", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s does not query the selected data source", v.Name)
		}
	}
	if vars["datasource"] != "datasource" {
		t.Error("no data source variable named datasource")
	}
	for _, name := range []string{"instance", "node"} {
		if vars[name] != "query" {
			t.Errorf("no %s variable", name)
		}
	}
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the data source variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			if target.Datasource == nil || target.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q, query %s: not on the data source variable", p.Title, target.RefID)
			}
			if !strings.Contains(target.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q, query %s ignores the instance variable: %s", p.Title, target.RefID, target.Expr)
			}
			if strings.Contains(target.Expr, "switchyard_node_") && !strings.Contains(target.Expr, `node=~"$node"`) {
				t.Errorf("panel %q, query %s ignores the node variable: %s", p.Title, target.RefID, target.Expr)
			}
		}
	}
}

// prometheusYAML is the part of prometheus.yml these tests read.
type prometheusYAML struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Scheme        string `yaml:"scheme"`
		Authorization struct {
			Type            string `yaml:"type"`
			CredentialsFile string `yaml:"credentials_file"`
		} `yaml:"authorization"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func prometheusConfig(t *testing.T) prometheusYAML {
	t.Helper()
	var cfg prometheusYAML
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/prometheus.yml")), &cfg); err != nil {
		t.Fatalf("prometheus/prometheus.yml: %v", err)
	}
	return cfg
}

// TestPrometheusScrapesBothInstances: one job reads /metrics of every
// instance compose runs, with the operator token.
func TestPrometheusScrapesBothInstances(t *testing.T) {
	cfg := prometheusConfig(t)
	p := mustLoadCompose(t)
	// target -> whether its job reads /metrics with a bearer token
	scraped := map[string]bool{}
	for _, job := range cfg.ScrapeConfigs {
		path := job.MetricsPath
		if path == "" {
			path = "/metrics"
		}
		bearer := job.Authorization.CredentialsFile != "" && (job.Authorization.Type == "" || job.Authorization.Type == "Bearer")
		for _, sc := range job.StaticConfigs {
			for _, target := range sc.Targets {
				if path == "/metrics" && (job.Scheme == "" || job.Scheme == "http") {
					scraped[target] = scraped[target] || bearer
				}
			}
		}
	}
	for _, name := range instances {
		addr := env(t, service(t, p, name), "SWITCHYARD_HTTP")
		withToken, ok := scraped[addr]
		if !ok {
			t.Errorf("Prometheus does not scrape %s's /metrics at %s", name, addr)
		} else if !withToken {
			t.Errorf("Prometheus scrapes %s at %s without the bearer token /metrics wants", name, addr)
		}
	}
	if !slices.Contains(cfg.RuleFiles, "/etc/prometheus/alerts.yml") {
		t.Errorf("rule_files %v does not load the alerts", cfg.RuleFiles)
	}
}

// alertRules is the part of alerts.yml these tests read.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertsUseKnownMetrics: the alert rules read only Switchyard's
// metrics (and Prometheus's own up).
func TestAlertsUseKnownMetrics(t *testing.T) {
	var rules alertRules
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/alerts.yml")), &rules); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: a rule without alert or expr", g.Name)
			}
			for _, name := range metricsIn(r.Expr) {
				if _, ok := metrics[name]; !ok {
					t.Errorf("alert %s reads %s, which is not a Switchyard metric", r.Alert, name)
				}
			}
		}
	}
	if n == 0 {
		t.Error("prometheus/alerts.yml has no rule")
	}
}

// TestPromtool: when promtool is installed (Debian: apt-get install
// prometheus), the configuration, the alerts and every dashboard query go
// through Prometheus's own parser. Skipped otherwise.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed; the YAML and metric names are checked by the other tests")
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// The container's paths, made local.
	config := readFile(t, "prometheus/prometheus.yml")
	config = strings.ReplaceAll(config, "/etc/prometheus/alerts.yml", write("alerts.yml", readFile(t, "prometheus/alerts.yml")))
	config = regexp.MustCompile(`/run/secrets/\S+`).ReplaceAllString(config, write("token", "token"))
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "config", write("prometheus.yml", config))

	// Dashboard queries as recording rules, with Grafana's variables filled in.
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$instance", ".*", "$node", ".*")
	n := 0
	for _, p := range allPanels(loadDashboard(t).Panels) {
		for _, target := range p.Targets {
			n++
			expr, _ := json.Marshal(vars.Replace(target.Expr))
			fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", n, expr)
		}
	}
	run("check", "rules", write("dashboard.yml", b.String()))
}

package docker_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, file string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for i, line := range strings.Split(readFile(t, file), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (cur == nil && trimmed == "") {
			continue // comments, also between continuation lines
		}
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd)}
			trimmed = args
		}
		cont := strings.HasSuffix(trimmed, `\`)
		cur.args += " " + strings.TrimSuffix(trimmed, `\`)
		if !cont {
			cur.args = strings.Join(strings.Fields(cur.args), " ")
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Errorf("%s: the last instruction ends with a continuation", file)
	}
	return out
}

// dockerfileCopy is a COPY from the build context.
type dockerfileCopy struct {
	line    int
	sources []string // relative to the context, the repository root
	dest    string
}

func dockerfileCopies(t *testing.T, file string) []dockerfileCopy {
	t.Helper()
	var out []dockerfileCopy
	for _, in := range parseDockerfile(t, file) {
		if in.cmd != "COPY" && in.cmd != "ADD" {
			continue
		}
		var words []string
		if strings.HasPrefix(in.args, "[") {
			if err := json.Unmarshal([]byte(in.args), &words); err != nil {
				t.Errorf("%s:%d: %v", file, in.line, err)
				continue
			}
		} else {
			words = strings.Fields(in.args)
		}
		fromStage := false
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			fromStage = fromStage || strings.HasPrefix(words[0], "--from=")
			words = words[1:]
		}
		if fromStage {
			continue
		}
		if len(words) < 2 {
			t.Errorf("%s:%d: %s %s: no source or destination", file, in.line, in.cmd, in.args)
			continue
		}
		out = append(out, dockerfileCopy{line: in.line, sources: words[:len(words)-1], dest: words[len(words)-1]})
	}
	return out
}

var dockerfiles = []string{"Dockerfile", "freeswitch/Dockerfile"}

// debianBase is what the images may start from: Debian, or Go's Debian
// (bookworm) images.
var debianBase = regexp.MustCompile(`^(debian:[a-z0-9.-]+|golang:[0-9.]+-bookworm)(@sha256:[0-9a-f]{64})?$`)

// TestDockerfilesBuildOnDebian: every stage starts from a Debian image or
// from an earlier stage.
func TestDockerfilesBuildOnDebian(t *testing.T) {
	for _, file := range dockerfiles {
		stages := map[string]bool{}
		froms := 0
		for _, in := range parseDockerfile(t, file) {
			if in.cmd != "FROM" {
				continue
			}
			words := strings.Fields(in.args)
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:]
			}
			if len(words) == 0 {
				t.Errorf("%s:%d: FROM without an image", file, in.line)
				continue
			}
			froms++
			image := words[0]
			if !stages[image] && !debianBase.MatchString(image) {
				t.Errorf("%s:%d: FROM %s: not a Debian image (debian:*, golang:*-bookworm) nor an earlier stage", file, in.line, image)
			}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				stages[words[2]] = true
			}
		}
		if froms == 0 {
			t.Errorf("%s: no FROM", file)
		}
	}
}

// TestDockerfilesCopyWhatExists: every COPY source is in the repository and
// not left out of the build context by the ignore file that applies.
func TestDockerfilesCopyWhatExists(t *testing.T) {
	for _, file := range dockerfiles {
		ignore := file + ".dockerignore" // BuildKit prefers it to the root's
		if _, err := os.Stat(ignore); err != nil {
			ignore = repo(".dockerignore")
		}
		patterns := dockerignore(t, ignore)
		copies := dockerfileCopies(t, file)
		if len(copies) == 0 {
			t.Errorf("%s copies nothing from the context", file)
		}
		for _, c := range copies {
			for _, src := range c.sources {
				if strings.ContainsAny(src, "*?[$") {
					t.Errorf("%s:%d: COPY %s: name the files (no patterns or variables) so this test can check them", file, c.line, src)
					continue
				}
				if _, err := os.Stat(repo(src)); err != nil {
					t.Errorf("%s:%d: COPY %s: %v", file, c.line, src, err)
				}
				if src != "." && ignored(patterns, path.Clean(src)) {
					t.Errorf("%s:%d: COPY %s: %s leaves it out of the build context", file, c.line, src, ignore)
				}
			}
		}
	}
}

// dockerignore reads an ignore file's patterns, in order.
func dockerignore(t *testing.T, file string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(readFile(t, file), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// ignored applies .dockerignore's rules to a path of the context: the
// last pattern matching the path or one of its parents wins, "!" keeps.
func ignored(patterns []string, p string) bool {
	out := false
	for _, pat := range patterns {
		keep := strings.HasPrefix(pat, "!")
		pat = path.Clean(strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"))
		for q := p; ; q = path.Dir(q) {
			if ok, _ := path.Match(pat, q); ok {
				out = !keep
				break
			}
			if path.Dir(q) == q || path.Dir(q) == "." {
				break
			}
		}
	}
	return out
}

// TestFreeSWITCHImage: the node's image is built from the module list of
// freeswitch-conf, exposes what a node serves, checks its health with
// fs_cli and does not run as root.
func TestFreeSWITCHImage(t *testing.T) {
	const file = "freeswitch/Dockerfile"
	sources := map[string]bool{}
	for _, c := range dockerfileCopies(t, file) {
		for _, s := range c.sources {
			sources[s] = true
		}
	}
	for _, want := range []string{
		"freeswitch-conf/autoload_configs/modules.conf.xml",
		"freeswitch-conf/autoload_configs/switch.conf.xml.fragment",
		"docker/freeswitch/modules-conf.sh",
	} {
		if !sources[want] {
			t.Errorf("%s does not copy %s", file, want)
		}
	}
	var exposed []string
	user, healthcheck := "", ""
	for _, in := range parseDockerfile(t, file) {
		switch in.cmd {
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		case "HEALTHCHECK":
			healthcheck = in.args
		}
	}
	for _, port := range []string{"5060/udp", "5060/tcp", "5080/udp", "5080/tcp", "8021/tcp", "16384-32768/udp"} {
		if !slices.Contains(exposed, port) {
			t.Errorf("%s does not EXPOSE %s (have %v)", file, port, exposed)
		}
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("%s runs as %q: use the freeswitch user", file, user)
	}
	if !strings.Contains(healthcheck, "switchyard-freeswitch-healthcheck") {
		t.Errorf("%s: HEALTHCHECK %q does not run the health check script", file, healthcheck)
	}
	script := readFile(t, "freeswitch/healthcheck.sh")
	if !strings.Contains(script, "fs_cli") || !strings.Contains(script, "-x status") {
		t.Error("freeswitch/healthcheck.sh does not ask fs_cli -x status")
	}
}

// modulesLoaded reads the modules a modules.conf.xml loads; encoding/xml
// skips the commented-out ones.
func modulesLoaded(t *testing.T) []string {
	t.Helper()
	var conf struct {
		Modules []struct {
			Module string `xml:"module,attr"`
		} `xml:"modules>load"`
	}
	if err := xml.Unmarshal([]byte(readFile(t, repo("freeswitch-conf/autoload_configs/modules.conf.xml"))), &conf); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range conf.Modules {
		out = append(out, m.Module)
	}
	return out
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// TestModulesConf runs the image's modules-conf.sh on a stand-in source
// tree: it builds exactly the modules modules.conf.xml loads, from their
// category folders, and fails on one the source lacks.
func TestModulesConf(t *testing.T) {
	needTools(t, "sh", "perl")
	loaded := modulesLoaded(t)
	if len(loaded) == 0 {
		t.Fatal("modules.conf.xml loads nothing")
	}
	src := t.TempDir()
	var want []string
	for i, m := range loaded {
		dir := []string{"applications", "endpoints", "formats"}[i%3] + "/" + m
		if err := os.MkdirAll(filepath.Join(src, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		want = append(want, dir)
	}
	// Modules that exist but are not loaded stay out of the build.
	if err := os.MkdirAll(filepath.Join(src, "codecs", "mod_opus"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "freeswitch/modules-conf.sh", repo("freeswitch-conf/autoload_configs/modules.conf.xml"), src).Output()
	if err != nil {
		t.Fatalf("modules-conf.sh: %v", err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, want) {
		t.Errorf("modules-conf.sh printed %v, want %v", got, want)
	}

	if err := os.RemoveAll(filepath.Join(src, want[0])); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "freeswitch/modules-conf.sh", repo("freeswitch-conf/autoload_configs/modules.conf.xml"), src)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), loaded[0]) {
		t.Errorf("modules-conf.sh without %s: %v, %s; want a failure naming it", loaded[0], err, out)
	}
}

// TestMergeSwitchConf runs the image's merge of switch.conf.xml.fragment on
// a file shaped like the vanilla one: each parameter replaces its line,
// commented out or not, and the fragment's comments stay comments.
func TestMergeSwitchConf(t *testing.T) {
	needTools(t, "perl")
	vanilla := `<configuration name="switch.conf" description="Core Configuration">
  <settings>
    <!-- Interval between heartbeat events -->
    <!-- <param name="event-heartbeat-interval" value="20"/> -->
    <param name="max-sessions" value="1000"/>
    <param name="sessions-per-second" value="30"/>
    <!-- <param name="rtp-start-port" value="16384"/> -->
  </settings>
</configuration>
`
	conf := filepath.Join(t.TempDir(), "switch.conf.xml")
	if err := os.WriteFile(conf, []byte(vanilla), 0o600); err != nil {
		t.Fatal(err)
	}
	fragment := repo("freeswitch-conf/autoload_configs/switch.conf.xml.fragment")
	if out, err := exec.Command("perl", "freeswitch/merge-switch-conf.pl", fragment, conf).CombinedOutput(); err != nil {
		t.Fatalf("merge-switch-conf.pl: %v\n%s", err, out)
	}
	got := readFile(t, conf)

	var frag struct {
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal([]byte(readFile(t, fragment)), &frag); err != nil {
		t.Fatal(err)
	}
	if len(frag.Params) == 0 {
		t.Fatal("the fragment has no parameter")
	}
	var merged struct {
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal([]byte(got), &merged); err != nil {
		t.Fatalf("merged switch.conf.xml is not XML: %v\n%s", err, got)
	}
	for _, p := range frag.Params {
		n := 0
		for _, m := range merged.Params {
			if m.Name == p.Name {
				n++
				if m.Value != p.Value {
					t.Errorf("%s = %s after the merge, want %s", p.Name, m.Value, p.Value)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s appears %d times after the merge, want once", p.Name, n)
		}
	}
	if !strings.Contains(got, `<!-- <param name="rtp-start-port" value="16384"/> -->`) {
		t.Errorf("the merge touched a parameter the fragment leaves commented out:\n%s", got)
	}
}

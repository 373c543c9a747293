package fsnode

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Settings are the values a node's switchyard_vars.xml is given: the only
// place the project's freeswitch-conf/ is adapted for a test node, as an
// operator adapts it for theirs.
type Settings struct {
	ESLIP, ESLPort string
	ESLPassword    string
	Sockets        string // switchyard_sockets: host:port[|host:port...]
	RecordingsDir  string
	TestnetSIPIP   string
	TestnetSIPPort string
}

// varLine matches one pre-processor variable of switchyard_vars.xml.
var varLine = regexp.MustCompile(`(<X-PRE-PROCESS cmd="set" data=")([a-z_]+)=([^"]*)("/>)`)

// renderVars rewrites the shipped switchyard_vars.xml with s. Every
// variable the file defines must be known here, and every value of s must
// land on a variable the file defines: a renamed or new variable in the
// shipped file fails the node's start instead of being silently ignored.
func renderVars(shipped []byte, s Settings) ([]byte, error) {
	want := map[string]string{
		"switchyard_esl_ip":             s.ESLIP,
		"switchyard_esl_port":           s.ESLPort,
		"switchyard_esl_password":       s.ESLPassword,
		"switchyard_esl_cidr":           "127.0.0.1/32",
		"switchyard_sockets":            s.Sockets,
		"switchyard_recordings_dir":     s.RecordingsDir,
		"switchyard_testnet_sip_ip":     s.TestnetSIPIP,
		"switchyard_testnet_sip_port":   s.TestnetSIPPort,
		"switchyard_managed_numbers":    "", // "": kept as shipped
		"switchyard_unavailable_prompt": "",
	}
	seen := map[string]bool{}
	var unknown []string
	out := varLine.ReplaceAllFunc(shipped, func(m []byte) []byte {
		sub := varLine.FindSubmatch(m)
		name := string(sub[2])
		v, ok := want[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		seen[name] = true
		if v == "" {
			return m
		}
		return []byte(string(sub[1]) + name + "=" + v + string(sub[4]))
	})
	if len(unknown) > 0 {
		return nil, fmt.Errorf("fsnode: switchyard_vars.xml defines %s, which the test node does not set", strings.Join(unknown, ", "))
	}
	var missing []string
	for name := range want {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("fsnode: switchyard_vars.xml lacks %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// The archive's own freeswitch.xml stands in for the vanilla configuration
// an operator installs the project's files on. These are the parts of it
// the project's files replace, as they replace the vanilla files.
var (
	inlineESL     = regexp.MustCompile(`(?s)<configuration name="event_socket\.conf".*?</configuration>`)
	inlineModules = regexp.MustCompile(`(?s)<configuration name="modules\.conf".*?</configuration>`)
	sipPort       = regexp.MustCompile(`<param name="sip-port" value="[0-9]+"/>`)
	rtpStart      = regexp.MustCompile(`<param name="rtp-start-port" value="[0-9]+"/>`)
	rtpEnd        = regexp.MustCompile(`<param name="rtp-end-port" value="[0-9]+"/>`)
	loadModule    = regexp.MustCompile(`<load module="(mod_[a-z0-9_]+)"/>`)
)

// layout is where the node's configuration comes from and what it got.
type layout struct {
	bundle  string // the unpacked archive's freeswitch/ folder
	project string // the project's freeswitch-conf/
	conf    string // the configuration folder to write
	s       Settings
	sipPort string // the archive's own "lo" profile
	rtp     [2]int
	// native adds the native Basic Support twin to the public context;
	// nativeSocket is where its copy behind a socket connects.
	native       bool
	nativeSocket string
	// skipped lists the modules the project's modules.conf.xml loads that
	// the archive does not ship.
	skipped []string
}

// write builds the node's configuration folder: the archive's freeswitch.xml
// with the project's event socket, ACL and module list in place of its
// own, the project's dialplan and SIP profile files where the vanilla
// configuration keeps them, and switchyard_vars.xml rendered from the
// shipped one.
func (l *layout) write() error {
	base, err := os.ReadFile(filepath.Join(l.bundle, "conf", "freeswitch.xml"))
	if err != nil {
		return fmt.Errorf("fsnode: %w", err)
	}
	mods, err := l.modules()
	if err != nil {
		return err
	}
	for _, r := range []struct {
		re   *regexp.Regexp
		with string
	}{
		{inlineESL, `<X-PRE-PROCESS cmd="include" data="autoload_configs/acl.conf.xml"/>` + "\n" +
			`<X-PRE-PROCESS cmd="include" data="autoload_configs/event_socket.conf.xml"/>`},
		{inlineModules, `<X-PRE-PROCESS cmd="include" data="autoload_configs/modules.conf.xml"/>`},
		{sipPort, `<param name="sip-port" value="` + l.sipPort + `"/>`},
		{rtpStart, fmt.Sprintf(`<param name="rtp-start-port" value="%d"/>`, l.rtp[0])},
		{rtpEnd, fmt.Sprintf(`<param name="rtp-end-port" value="%d"/>`, l.rtp[1])},
	} {
		if !r.re.Match(base) {
			return fmt.Errorf("fsnode: the archive's freeswitch.xml has no %s", r.re)
		}
		base = r.re.ReplaceAllLiteral(base, []byte(r.with))
	}
	vars, err := os.ReadFile(filepath.Join(l.project, "switchyard_vars.xml"))
	if err != nil {
		return fmt.Errorf("fsnode: %w", err)
	}
	if vars, err = renderVars(vars, l.s); err != nil {
		return err
	}
	// Written here, or (nil) copied from the project as shipped.
	files := map[string][]byte{
		"freeswitch.xml":                          base,
		"switchyard_vars.xml":                     vars,
		"autoload_configs/modules.conf.xml":       mods,
		"dialplan/public.xml":                     []byte(publicContext),
		"dialplan/default/switchyard_carrier.xml": []byte(carrierCalls),
		"autoload_configs/acl.conf.xml":           nil,
		"autoload_configs/event_socket.conf.xml":  nil,
		"dialplan/switchyard_testnet.xml":         nil,
		"dialplan/public/00_switchyard.xml":       nil,
		"sip_profiles/switchyard_testnet.xml":     nil,
	}
	if l.native {
		files["dialplan/public/000_native_basic_support.xml"] = nativeTwin(l.nativeSocket)
	}
	for name, body := range files {
		if body == nil {
			if body, err = os.ReadFile(filepath.Join(l.project, name)); err != nil {
				return fmt.Errorf("fsnode: the project's configuration: %w", err)
			}
		}
		path := filepath.Join(l.conf, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("fsnode: %w", err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return fmt.Errorf("fsnode: %w", err)
		}
	}
	return nil
}

// nativeBasicSupport is the Basic Support flow with tones, in the
// dialplan: load tests' baseline.
//
//go:embed native_basic_support.xml
var nativeBasicSupport []byte

// nativeTwin is native_basic_support.xml with the address its copy
// behind a socket connects to, set where the file opens.
func nativeTwin(socket string) []byte {
	set := `<X-PRE-PROCESS cmd="set" data="native_basic_support_socket=` + socket + `"/>`
	return bytes.Replace(nativeBasicSupport, []byte("<include>"), []byte("<include>\n  "+set), 1)
}

// publicContext stands in for vanilla's dialplan/public.xml, which pulls in
// dialplan/public/*.xml; the archive has no public context of its own.
const publicContext = `<include>
  <context name="public">
    <X-PRE-PROCESS cmd="include" data="public/*.xml"/>
  </context>
</include>
`

// carrierCalls stands in for a carrier: the archive's "lo" profile sends
// its calls to the default context, where a number dialled as
// public<number> goes on to <number> in the public context, on the
// sofia channel that took the INVITE (Node.Carrier).
const carrierCalls = `<include>
  <extension name="switchyard_carrier_calls">
    <condition field="destination_number" expression="^public(\+?[0-9]+)$">
      <action application="transfer" data="$1 XML public"/>
    </condition>
  </extension>
</include>
`

// modules is the project's modules.conf.xml without the modules the
// archive lacks (recorded in l.skipped; freeswitch-conf/README.md says
// which features need them).
func (l *layout) modules() ([]byte, error) {
	mods, err := os.ReadFile(filepath.Join(l.project, "autoload_configs", "modules.conf.xml"))
	if err != nil {
		return nil, fmt.Errorf("fsnode: %w", err)
	}
	var lines [][]byte
	inComment := false
	for _, line := range bytes.SplitAfter(mods, []byte("\n")) {
		if bytes.Contains(line, []byte("<!--")) {
			inComment = true
		}
		m := loadModule.FindSubmatch(line)
		if bytes.Contains(line, []byte("-->")) {
			inComment = false
		}
		if m != nil && !inComment {
			if _, err := os.Stat(filepath.Join(l.bundle, "mod", string(m[1])+".so")); err != nil {
				l.skipped = append(l.skipped, string(m[1]))
				continue
			}
		}
		lines = append(lines, line)
	}
	return bytes.Join(lines, nil), nil
}

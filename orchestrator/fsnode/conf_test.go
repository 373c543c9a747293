package fsnode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderVars: the shipped switchyard_vars.xml gets the node's values,
// keeps the ones the node leaves alone, and a variable the writer does not
// know (or one it lacks) is an error, not silently ignored.
func TestRenderVars(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "freeswitch-conf", "switchyard_vars.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{ESLIP: "127.0.0.1", ESLPort: "18021", ESLPassword: "s3cret", Sockets: "127.0.0.1:18084",
		RecordingsDir: "/var/rec", TestnetSIPIP: "127.0.0.1", TestnetSIPPort: "15090"}
	out, err := renderVars(shipped, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data="switchyard_esl_port=18021"`, `data="switchyard_esl_password=s3cret"`,
		`data="switchyard_sockets=127.0.0.1:18084"`, `data="switchyard_esl_cidr=127.0.0.1/32"`,
		`data="switchyard_testnet_sip_port=15090"`, `data="switchyard_recordings_dir=/var/rec"`,
		`data="switchyard_managed_numbers=^(?![+]?15550100`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered vars lack %s", want)
		}
	}
	extra := append([]byte(nil), shipped...)
	extra = append(extra, []byte(`<X-PRE-PROCESS cmd="set" data="switchyard_new_thing=1"/>`)...)
	if _, err := renderVars(extra, s); err == nil || !strings.Contains(err.Error(), "switchyard_new_thing") {
		t.Errorf("an unknown variable: %v", err)
	}
	lacking := strings.Replace(string(shipped), `data="switchyard_sockets=`, `data="switchyard_sockets_old=`, 1)
	if _, err := renderVars([]byte(lacking), s); err == nil || !strings.Contains(err.Error(), "switchyard_sockets") {
		t.Errorf("a missing variable: %v", err)
	}
}

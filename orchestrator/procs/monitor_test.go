package procs

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSteadyMonitorEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []string
		want   []string
		change bool
	}{
		{"no GODEBUG", []string{"A=1", "B=2"}, []string{"A=1", "B=2", "GODEBUG=" + steadyTrace}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + steadyTrace, "A=1"}, true},
		{"other settings kept", []string{"GODEBUG=gctrace=1,madvdontneed=1"}, []string{"GODEBUG=gctrace=1,madvdontneed=1," + steadyTrace}, true},
		{"the operator's schedtrace", []string{"GODEBUG=gctrace=1, schedtrace=1000", "A=1"}, []string{"GODEBUG=gctrace=1, schedtrace=1000", "A=1"}, false},
		{"the operator's schedtrace=0", []string{"GODEBUG=schedtrace=0"}, []string{"GODEBUG=schedtrace=0"}, false},
		{"a duplicate GODEBUG: the first counts", []string{"GODEBUG=x=1", "GODEBUG=schedtrace=5"}, []string{"GODEBUG=x=1," + steadyTrace}, true},
		{"a look-alike name", []string{"XGODEBUG=schedtrace=1"}, []string{"XGODEBUG=schedtrace=1", "GODEBUG=" + steadyTrace}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got, change := SteadyMonitorEnv(in)
			if change != tc.change || !slices.Equal(got, tc.want) {
				t.Errorf("SteadyMonitorEnv(%q) = %q, %v; want %q, %v", tc.in, got, change, tc.want, tc.change)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("the input was changed: %q", in)
			}
		})
	}
}

// reexecChild marks the test binary run as the child of
// TestReexecKeepsThePidAndArgumentsAndSetsGODEBUG.
const reexecChild = "PROCS_TEST_REEXEC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(reexecChild) != "" {
		// first run: replaced by the second; second run: returns nil
		if err := ReexecSteadyMonitor(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("pid %d\nargs %q\ngodebug %s\n", os.Getpid(), os.Args[1:], os.Getenv("GODEBUG"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestReexecKeepsThePidAndArgumentsAndSetsGODEBUG(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("re-execution is Unix only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "extra-arg")
	env := []string{reexecChild + "=1", "GODEBUG=gctrace=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	want := fmt.Sprintf("pid %s\nargs %q\ngodebug gctrace=0,%s\n", strconv.Itoa(pid), []string{"-test.run=^$", "extra-arg"}, steadyTrace)
	if out.String() != want {
		t.Errorf("child printed\n%s\nwant\n%s", out.String(), want)
	}
}

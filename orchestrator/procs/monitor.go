package procs

import (
	"strings"
)

// The Go runtime's monitor thread (sysmon) sleeps "deep" while every
// scheduler slot is idle, and the next system call made the usual way
// wakes it (entersyscall). Woken, it starts over at its shortest period:
// it polls every 20 µs for 1 ms, then backs off to 10 ms, and drops back
// into deep sleep as soon as the process is idle again. A process that
// idles between every few events, as serve does at light load, pays that
// wake-up and a burst of 20 µs polls for each of them: `perf record` on
// serve at 10 calls/s on the real node put 13 % of its CPU in sysmon,
// most of it woken by SQLite's writes, which go through modernc's libc
// and cannot be made raw as the sockets' are (package esl).
//
// The runtime keeps sysmon out of deep sleep while GODEBUG's schedtrace
// is set, so that it can print the trace on time; it then settles at its
// 10 ms period and stays there: 100 wake-ups a second, busy or idle,
// instead of a burst per idle spell. schedtrace's period is set to the
// largest the runtime takes (2^31-1 ms, 24.8 days), so it prints nothing
// in practice: at most one "SCHED" line to stderr at start when the
// machine has been up longer than that, and the scheduler's state on a
// fatal error, where it helps. GODEBUG is read once, at the process's
// start, so serve sets it by re-executing itself (SteadyMonitorEnv,
// ReexecSteadyMonitor).

// steadyTrace is GODEBUG's setting that keeps sysmon awake.
const steadyTrace = "schedtrace=2147483647"

// SteadyMonitorEnv returns environ with GODEBUG's schedtrace set so the
// runtime's monitor thread never sleeps deep, and whether that changed
// anything. An environment whose GODEBUG already sets schedtrace is the
// operator's choice and comes back unchanged (false).
func SteadyMonitorEnv(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	found := false
	for _, kv := range environ {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if found {
			continue // a duplicate: the runtime reads the first
		}
		found = true
		for _, s := range strings.Split(v, ",") {
			if k, _, _ := strings.Cut(s, "="); strings.TrimSpace(k) == "schedtrace" {
				return environ, false
			}
		}
		if v == "" {
			out = append(out, "GODEBUG="+steadyTrace)
		} else {
			out = append(out, "GODEBUG="+v+","+steadyTrace)
		}
	}
	if !found {
		out = append(out, "GODEBUG="+steadyTrace)
	}
	return out, true
}

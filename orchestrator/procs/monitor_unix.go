//go:build unix

package procs

import (
	"fmt"
	"os"
	"syscall"
)

// ReexecSteadyMonitor replaces the process with itself, same arguments,
// with the monitor thread kept out of deep sleep (SteadyMonitorEnv). It
// returns nil without doing anything when the environment already sets
// schedtrace (the operator's, or this very re-execution's), and an error
// when the process cannot re-execute itself; on success it does not
// return. Call it first thing, before the process starts goroutines or
// opens files it means to keep: nothing survives the exec but the pid,
// the arguments, the environment and open descriptors without
// close-on-exec.
func ReexecSteadyMonitor() error {
	env, change := SteadyMonitorEnv(os.Environ())
	if !change {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("procs: find own executable: %w", err)
	}
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("procs: re-execute %s: %w", exe, err)
	}
	return nil
}

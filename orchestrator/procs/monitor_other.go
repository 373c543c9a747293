//go:build !unix

package procs

import "errors"

// ReexecSteadyMonitor is Unix only; elsewhere the runtime's monitor
// thread is left as it is.
func ReexecSteadyMonitor() error {
	return errors.New("procs: re-executing with a steady monitor thread needs Unix")
}

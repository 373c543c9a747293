//go:build !unix

package procs

import (
	"errors"
	"time"
)

// processCPU cannot be read here: the governor does not run.
func processCPU() (time.Duration, error) {
	return 0, errors.New("procs: the process's CPU time is not available on this system")
}

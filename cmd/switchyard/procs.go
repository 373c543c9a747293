package main

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/switchyard/switchyard/orchestrator/procs"
)

// governProcs sizes the Go scheduler to serve's load until ctx ends
// (package procs), unless the operator chose: -adapt-procs=false, or
// GOMAXPROCS in the environment.
func governProcs(ctx context.Context, cfg Config, running *sync.WaitGroup, log *slog.Logger) {
	if !cfg.AdaptProcs {
		return
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		log.Info("procs: GOMAXPROCS is set in the environment; the scheduler is left as it is", "gomaxprocs", v)
		return
	}
	running.Go(func() {
		if err := procs.Run(ctx, procs.Config{Logger: log}); err != nil {
			log.Warn("procs: the scheduler is left as it is", "err", err)
		}
	})
}

// steadyMonitor re-executes serve with the Go runtime's monitor thread
// kept out of deep sleep (procs.ReexecSteadyMonitor), unless the
// operator chose otherwise: -steady-monitor=false, or schedtrace in
// GODEBUG. On success it does not return, so it runs before serve opens
// or starts anything.
func steadyMonitor(cfg Config, log *slog.Logger) {
	if !cfg.SteadyMonitor {
		return
	}
	if err := procs.ReexecSteadyMonitor(); err != nil {
		log.Warn("procs: the runtime's monitor thread is left as it is", "err", err)
	}
}

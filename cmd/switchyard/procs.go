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

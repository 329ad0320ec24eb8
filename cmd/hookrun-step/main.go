// Command hookrun-step is what runs inside a TaskRun Pod: prepare (`init`), the step wrapper (`run`) and
// hookrun-results (`results`). It is a small binary on purpose — the standard library, package
// entrypoint and fsnotify, no Kubernetes client or CEL — so a wrapped step starts in a few milliseconds.
// A step whose when expressions use cel asks the full hookrun binary beside it (`hookrun step cel`),
// which prepare copies into the Pod only then. See executor/doc.go.
//
// The container-aware GOMAXPROCS is off: the wrapper only waits on its step, so reading the cgroup's CPU
// limit at start (and re-reading it while the step runs) is work every step would pay for nothing.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/entrypoint/stepcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	// `hookrun-step step run …` is accepted as well, the form the full binary takes.
	if len(args) > 0 && args[0] == "step" {
		args = args[1:]
	}
	code := stepcli.Main(ctx, args, os.Stdout, os.Stderr, stepcli.Options{
		Prog: "hookrun-step", CEL: entrypoint.ExecCEL(sibling("hookrun")), Hookrun: func() (string, error) {
			return sibling("hookrun"), nil
		},
	})
	stop()
	os.Exit(code)
}

// sibling is the executable NAME in this executable's directory: in a Pod /tekton/bin/NAME, in the
// image and beside bin/hookrun-step on a laptop the full hookrun binary.
func sibling(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return name
	}
	return filepath.Join(filepath.Dir(exe), name)
}

package main

import (
	"context"
	"io"
	"os"

	"github.com/hookrun/hookrun/executor/entrypoint/celwhen"
	"github.com/hookrun/hookrun/executor/entrypoint/stepcli"
)

// stepBinary is the small in-Pod binary's name (cmd/hookrun-step). Invoked under that name (a copy of
// this binary standing in for it, e.g. when a node agent finds no hookrun-step beside hookrun), hookrun
// behaves as it.
const stepBinary = "hookrun-step"

// runStep implements `hookrun step init|run|results|cel`, the commands of cmd/hookrun-step, kept in the full
// binary so Pods made by older executors (`/tekton/bin/hookrun step run …`) still run.
func runStep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if code := stepMain(ctx, "hookrun step", args, stdout, stderr); code != 0 {
		os.Exit(code)
	}
	return nil
}

func stepMain(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	return stepcli.Main(ctx, args, stdout, stderr, stepcli.Options{Prog: prog, CEL: celwhen.Eval})
}

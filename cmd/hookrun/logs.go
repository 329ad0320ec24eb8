package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hookrun/hookrun/node"
)

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logs", "logs [--state DIR] [-n NAMESPACE] POD [-c CONTAINER] [-f]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(stderr, "\nPrints the logs the local node agent kept for a Pod: every container in run order, each line\n"+
			"prefixed with [container], or only CONTAINER with -c. -f follows until the container(s) end.")
	}
	state := fs.String("state", node.DefaultStateDir, "the node agent's state directory")
	namespace := fs.String("n", "default", "namespace of the Pod")
	container := fs.String("c", "", "only this container")
	follow := fs.Bool("f", false, "follow the log until the container ends")
	// Accept flags after the Pod name too (hookrun logs POD -c step-build).
	var pod string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		if pod != "" {
			fmt.Fprintf(stderr, "hookrun logs: more than one Pod given (%q, %q)\n", pod, fs.Arg(0))
			return errUsage
		}
		pod, rest = fs.Arg(0), fs.Args()[1:]
	}
	if pod == "" {
		fmt.Fprintln(stderr, "hookrun logs: give the Pod name")
		fs.Usage()
		return errUsage
	}
	return node.WriteLogs(ctx, stdout, *state, *namespace, pod, *container, *follow)
}

// Command hookrun is a webhook-driven event trigger service that runs Tekton YAML: an EventListener at /hooks,
// an executor that turns PipelineRuns into TaskRuns and Pods, and a local node agent for laptops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run the whole loop locally: control plane, listener, executor, node agent", runDev},
		{"listener", "serve /hooks: verify webhooks, run interceptors, create resources", runListener},
		{"executor", "run PipelineRuns and TaskRuns as Pods (controller)", runExecutor},
		{"dashboard", "web UI: runs, task graphs, live step logs, deliveries (--allow-actions: cancel, re-run)", runDashboard},
		{"node", "node agent: run Pods bound to this node as local processes", runNode},
		{"logs", "print the logs of a PipelineRun, TaskRun or Pod (-f follows it)", runLogs},
		{"send", "sign and send a webhook payload to a listener", runSend},
		{"deliveries", "list dead letters: deliveries kept while the Kubernetes API was unavailable", runDeliveries},
		{"redeliver", "replay one dead letter (hookrun deliveries lists them) to a listener", runRedeliver},
		{"step", "run one TaskRun step inside its container (used in Pods the executor makes)", runStep},
		{"validate", "check Tekton / Triggers YAML files and report every problem", runValidate},
		{"test", "dry run: a payload through interceptors, bindings and templates of local YAML, no cluster", runTest},
		{"version", "print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			_, err := fmt.Fprintln(out, "hookrun", version)
			return err
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hookrun — webhooks in, Tekton PipelineRuns out.")
	fmt.Fprintln(w, "\nUsage: hookrun COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'hookrun COMMAND --help' for the flags of a command.")
}

// errUsage is returned for bad invocations; main exits 2 for it.
var errUsage = errors.New("usage")

// errFailed means the command ran and reported failure itself; main exits 1 without printing more.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv(profileDirEnv), os.Stderr)
	var code int
	if filepath.Base(os.Args[0]) == stepBinary {
		args := os.Args[1:]
		if len(args) > 0 && args[0] == "step" {
			args = args[1:]
		}
		code = stepMain(ctx, stepBinary, args, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errFailed):
			return 1
		default:
			fmt.Fprintf(stderr, "hookrun %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "hookrun: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newFlags returns a FlagSet whose usage prints the command's synopsis.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hookrun "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hookrun %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// stepFlagErr maps flag parse errors to errUsage, keeping --help a success.
func stepFlagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

// Package stepcli is the command line of what runs inside a TaskRun Pod: `init` (prepare), `run` (the
// step wrapper), `results` (hookrun-results) and `cel`. The small binary cmd/hookrun-step is this package
// alone; the full hookrun binary serves the same commands as `hookrun step …` (Pods made by older
// executors call it so). It imports only the standard library, package entrypoint and fsnotify: the
// wrapper starts in a few milliseconds because no client-go, apimachinery or CEL initialisation runs.
package stepcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// Exit codes of Main besides a step's own: 0 success, 1 failure reported, 2 bad invocation.
const (
	exitFailed = 1
	exitUsage  = 2
)

// Options are what differs between the small and the full binary.
type Options struct {
	// Prog names the command in messages ("hookrun-step" or "hookrun step").
	Prog string
	// CEL evaluates cel when expressions: in process in the full binary, entrypoint.ExecCEL in the small.
	CEL entrypoint.CELFunc
	// Hookrun finds the full hookrun binary for `init --copy-hookrun` (nil: the running executable).
	Hookrun func() (string, error)
}

// Main runs one command (args[0]: init, run, results or cel) and returns the process exit code; `run`
// returns the step's own (0 under onError: continue).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, opts Options) int {
	if opts.Prog == "" {
		opts.Prog = "hookrun-step"
	}
	usage := "Usage: " + opts.Prog + " init|run|results|cel [flags]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "init":
		return runInit(ctx, args[1:], stderr, opts)
	case "run":
		return runRun(args[1:], stdout, stderr, opts)
	case "results":
		return runResults(ctx, args[1:], stdout, stderr, opts)
	case "cel":
		return runCEL(args[1:], stdout, stderr, opts)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown command %q (want init, run, results or cel)\n", opts.Prog, args[0])
	return exitUsage
}

func newFlags(opts Options, name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(opts.Prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s %s\n\nFlags:\n", opts.Prog, name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagExit is the exit code for a flag parse error: 0 for --help, else a usage error.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return exitUsage
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// commaList splits a comma-separated flag value ("" is none).
func commaList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func runInit(ctx context.Context, args []string, stderr io.Writer, opts Options) int {
	fs := newFlags(opts, "init", "[--copy-self PATH] [--copy-hookrun PATH] [--dir DIR]... [--step NAME]... [--cred KIND:SECRET=URL]... [--done-file FILE] | --await FILE", stderr)
	done := fs.String("done-file", "", "announce the outcome in `FILE` and end once `init --await FILE` acknowledged it (prepare as a regular container)")
	await := fs.String("await", "", "only wait for the outcome announced in `FILE`, acknowledge it, and fail if prepare did (prepare's postStart hook)")
	copySelf := fs.String("copy-self", "", "copy this executable to `PATH`")
	copyHookrun := fs.String("copy-hookrun", "", "copy the full hookrun binary (beside this one) to `PATH`, for cel when expressions")
	var dirs, creds, steps stringList
	fs.Var(&dirs, "dir", "create `DIR` (repeatable; default: the /tekton run directories)")
	fs.Var(&steps, "step", "the TaskRun's steps in order (repeatable): `NAME` gets --steps-dir/NAME with the aliases step-NAME and its index")
	stepsDir := fs.String("steps-dir", entrypoint.StepsDir, "per-step state directory")
	runDir := fs.String("run-dir", "", "steps as containers: each --step's state directory links to `DIR`/INDEX/status, its own volume")
	fs.Var(&creds, "cred", "turn Secret mounted at --secrets-dir/SECRET into credentials: docker:SECRET=REGISTRY or git:SECRET=URL (repeatable)")
	home := fs.String("home", entrypoint.HomeDir, "home directory that receives credentials")
	secretsDir := fs.String("secrets-dir", entrypoint.CredsDir, "directory holding one mounted Secret per --cred")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if *await != "" {
		if err := entrypoint.AwaitPrepared(ctx, *await); err != nil {
			fmt.Fprintf(stderr, "%s init: %v\n", opts.Prog, err)
			return exitFailed
		}
		return 0
	}
	prep := entrypoint.InitOptions{CopySelf: *copySelf, CopyHookrun: *copyHookrun, Hookrun: opts.Hookrun,
		Dirs: dirs, Home: *home, SecretsDir: *secretsDir, Steps: steps, StepsDir: *stepsDir, RunDir: *runDir}
	if len(prep.Dirs) == 0 {
		prep.Dirs = []string{entrypoint.ResultsDir, entrypoint.StepsDir, entrypoint.ScriptsDir, entrypoint.HomeDir}
	}
	var err error
	for _, c := range creds {
		cred, cerr := entrypoint.ParseCredential(c)
		if cerr != nil && *done == "" {
			fmt.Fprintf(stderr, "%s init: %v\n", opts.Prog, cerr)
			return exitUsage
		}
		err = errors.Join(err, cerr)
		prep.Credentials = append(prep.Credentials, cred)
	}
	if err == nil {
		err = entrypoint.Init(prep)
	}
	if *done != "" {
		err = entrypoint.Announce(ctx, *done, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s init: %v\n", opts.Prog, err)
		return exitFailed
	}
	return 0
}

func runResults(ctx context.Context, args []string, stdout, stderr io.Writer, opts Options) int {
	fs := newFlags(opts, "results", "[--dir DIR]", stderr)
	dir := fs.String("dir", entrypoint.ResultsDir, "results directory")
	stepsDir := fs.String("steps-dir", entrypoint.StepsDir, "per-step state directory")
	term := fs.String("termination-path", entrypoint.TerminationPath, "termination message file")
	msgLimit := fs.Int("message-limit", entrypoint.MaxMessageSize, "termination message size in this Pod (the kubelet splits 12 KiB between its containers)")
	waitFile := fs.String("wait-file", "", "collect only once the last step's record appears here (steps as regular containers)")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if err := entrypoint.AwaitRecord(ctx, *waitFile); err != nil {
		fmt.Fprintf(stderr, "%s results: %v\n", opts.Prog, err)
		return exitFailed
	}
	ro := entrypoint.ResultsOptions{Dir: *dir, StepsDir: *stepsDir, TerminationPath: *term, Stdout: stdout, MessageLimit: *msgLimit}
	if err := entrypoint.Results(ro); err != nil {
		fmt.Fprintf(stderr, "%s results: %v\n", opts.Prog, err)
		return exitFailed
	}
	return 0
}

// runCEL evaluates one cel when expression: prints true or false, or the error on stderr and exits 1
// (the protocol of entrypoint.ExecCEL).
func runCEL(args []string, stdout, stderr io.Writer, opts Options) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "Usage: %s cel EXPRESSION\n", opts.Prog)
		return exitUsage
	}
	if opts.CEL == nil {
		fmt.Fprintf(stderr, "cel %q: %s cannot evaluate cel expressions\n", args[0], opts.Prog)
		return exitFailed
	}
	ok, err := opts.CEL(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	fmt.Fprintln(stdout, ok)
	return 0
}

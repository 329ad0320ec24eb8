package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// runStep implements `hookrun step init|run|results`, the commands the executor puts in TaskRun Pods.
func runStep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: hookrun step init|run|results [flags]")
		return errUsage
	}
	switch args[0] {
	case "init":
		return runStepInit(args[1:], stderr)
	case "run":
		return runStepRun(ctx, args[1:], stdout, stderr)
	case "results":
		return runStepResults(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "Usage: hookrun step init|run|results [flags]")
		return nil
	}
	fmt.Fprintf(stderr, "hookrun step: unknown subcommand %q (want init, run or results)\n", args[0])
	return errUsage
}

func runStepInit(args []string, stderr io.Writer) error {
	fs := newFlags("step init", "step init [--copy-self PATH] [--dir DIR]... [--cred KIND:SECRET=URL]...", stderr)
	copySelf := fs.String("copy-self", "", "copy this executable to `PATH`")
	var dirs, creds stringList
	fs.Var(&dirs, "dir", "create `DIR` (repeatable; default: the /tekton run directories)")
	fs.Var(&creds, "cred", "turn Secret mounted at --secrets-dir/SECRET into credentials: docker:SECRET=REGISTRY or git:SECRET=URL (repeatable)")
	home := fs.String("home", entrypoint.HomeDir, "home directory that receives credentials")
	secretsDir := fs.String("secrets-dir", entrypoint.CredsDir, "directory holding one mounted Secret per --cred")
	if err := fs.Parse(args); err != nil {
		return stepFlagErr(err)
	}
	opts := entrypoint.InitOptions{CopySelf: *copySelf, Dirs: dirs, Home: *home, SecretsDir: *secretsDir}
	if len(opts.Dirs) == 0 {
		opts.Dirs = []string{entrypoint.ResultsDir, entrypoint.StepsDir, entrypoint.ScriptsDir, entrypoint.HomeDir}
	}
	for _, c := range creds {
		cred, err := entrypoint.ParseCredential(c)
		if err != nil {
			fmt.Fprintln(stderr, "hookrun step init:", err)
			return errUsage
		}
		opts.Credentials = append(opts.Credentials, cred)
	}
	if err := entrypoint.Init(opts); err != nil {
		fmt.Fprintln(stderr, "hookrun step init:", err)
		return errFailed
	}
	return nil
}

func runStepRun(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("step run", "step run --name NAME [--timeout D] [--on-error continue|stopAndFail] [--results a,b] [--step-results a,b] [--step-result-refs S/R,…] [--step-artifact-refs S/KIND[/N],…] [--when JSON] [--stdout-path P] [--stderr-path P] -- COMMAND [ARG...]", stderr)
	name := fs.String("name", "", "step name")
	timeout := fs.Duration("timeout", 0, "kill the step after this long (0 = no limit)")
	onError := fs.String("on-error", "stopAndFail", "continue: record a failure but exit 0; stopAndFail: exit with the step's code")
	results := fs.String("results", "", "comma-separated result names the step may write")
	resultsDir := fs.String("results-dir", entrypoint.ResultsDir, "results directory")
	stepsDir := fs.String("steps-dir", entrypoint.StepsDir, "per-step state directory")
	scriptsDir := fs.String("scripts-dir", entrypoint.ScriptsDir, "where scripts are written")
	term := fs.String("termination-path", entrypoint.TerminationPath, "termination message file")
	when := fs.String("when", "", "JSON list of when expressions ({input, operator, values} or {cel}); false skips the step")
	stepResults := fs.String("step-results", "", "comma-separated step result names the step may write to "+entrypoint.StepsDir+"/NAME/results")
	stepRefs := fs.String("step-result-refs", "", "comma-separated STEP/RESULT references $(steps.STEP.results.RESULT) to replace before the step runs")
	artifactRefs := fs.String("step-artifact-refs", "", "comma-separated STEP/inputs|outputs[/NAME] references $(steps.STEP.outputs.NAME) to replace before the step runs")
	stdoutPath := fs.String("stdout-path", "", "also write the step's stdout to this file (stdoutConfig.path)")
	stderrPath := fs.String("stderr-path", "", "also write the step's stderr to this file (stderrConfig.path)")
	msgLimit := fs.Int("message-limit", entrypoint.MaxMessageSize, "termination message size in this Pod (the kubelet splits 12 KiB between its containers)")
	waitFile := fs.String("wait-file", "", "run only once the previous step's record appears here (steps as regular containers); a failure recorded there is passed on")
	postFile := fs.String("post-file", "", "write this step's record here when it ends, for the next step")
	maskEnv := fs.String("mask-env", "", "comma-separated environment variables whose values (Secrets) are replaced by *** in the step's output")
	var maskDirs stringList
	fs.Var(&maskDirs, "mask-dir", "mounted Secret `DIR` whose files' values are replaced by *** in the step's output (repeatable)")
	if err := fs.Parse(args); err != nil {
		return stepFlagErr(err)
	}
	whenList, err := entrypoint.ParseWhen(*when)
	if err != nil {
		fmt.Fprintln(stderr, "hookrun step run: --when:", err)
		return errUsage
	}
	refs, err := entrypoint.ParseStepResultRefs(*stepRefs)
	if err != nil {
		fmt.Fprintln(stderr, "hookrun step run: --step-result-refs:", err)
		return errUsage
	}
	artRefs, err := entrypoint.ParseStepArtifactRefs(*artifactRefs)
	if err != nil {
		fmt.Fprintln(stderr, "hookrun step run: --step-artifact-refs:", err)
		return errUsage
	}
	if *onError != "continue" && *onError != "stopAndFail" {
		fmt.Fprintf(stderr, "hookrun step run: --on-error %q: want continue or stopAndFail\n", *onError)
		return errUsage
	}
	opts := entrypoint.RunOptions{
		Name: *name, Timeout: *timeout, Continue: *onError == "continue",
		Command: fs.Args(), Script: os.Getenv(entrypoint.ScriptEnv),
		ResultsDir: *resultsDir, StepsDir: *stepsDir, ScriptsDir: *scriptsDir, TerminationPath: *term,
		Stdout: stdout, Stderr: stderr,
		When: whenList, StepResultRefs: refs, StepArtifactRefs: artRefs, StdoutPath: *stdoutPath, StderrPath: *stderrPath,
		MessageLimit: *msgLimit, WaitFile: *waitFile, PostFile: *postFile,
		MaskDirs: maskDirs, MaskHome: entrypoint.HomeDir,
	}
	if *maskEnv != "" {
		opts.MaskEnv = strings.Split(*maskEnv, ",")
	}
	if *results != "" {
		opts.Results = strings.Split(*results, ",")
	}
	if *stepResults != "" {
		opts.StepResults = strings.Split(*stepResults, ",")
	}
	// A step with when expressions may have nothing to run here: an image-entrypoint step the executor
	// found skipped when it built the Pod.
	if opts.Script == "" && len(opts.Command) == 0 && len(opts.When) == 0 {
		fmt.Fprintln(stderr, "hookrun step run: no command after -- and no", entrypoint.ScriptEnv)
		return errUsage
	}
	sigs, stop := entrypoint.ForwardSignals()
	defer stop()
	opts.Signals = sigs
	// The step runs to its own end (or timeout); SIGTERM from the kubelet is forwarded to it rather than
	// abandoning it, so the background context is deliberate.
	code, err := entrypoint.Run(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(stderr, "hookrun step run:", err)
	}
	if code != 0 {
		os.Exit(code)
	}
	return nil
}

func runStepResults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("step results", "step results [--dir DIR]", stderr)
	dir := fs.String("dir", entrypoint.ResultsDir, "results directory")
	stepsDir := fs.String("steps-dir", entrypoint.StepsDir, "per-step state directory")
	term := fs.String("termination-path", entrypoint.TerminationPath, "termination message file")
	msgLimit := fs.Int("message-limit", entrypoint.MaxMessageSize, "termination message size in this Pod (the kubelet splits 12 KiB between its containers)")
	waitFile := fs.String("wait-file", "", "collect only once the last step's record appears here (steps as regular containers)")
	if err := fs.Parse(args); err != nil {
		return stepFlagErr(err)
	}
	if err := entrypoint.AwaitRecord(ctx, *waitFile); err != nil {
		fmt.Fprintln(stderr, "hookrun step results:", err)
		return errFailed
	}
	if err := entrypoint.Results(entrypoint.ResultsOptions{Dir: *dir, StepsDir: *stepsDir, TerminationPath: *term, Stdout: stdout, MessageLimit: *msgLimit}); err != nil {
		fmt.Fprintln(stderr, "hookrun step results:", err)
		return errFailed
	}
	return nil
}

// stepFlagErr maps flag parse errors to errUsage, keeping --help a success.
func stepFlagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

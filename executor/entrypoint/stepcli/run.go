package stepcli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

const runSynopsis = "--name NAME [--timeout D] [--on-error continue|stopAndFail] [--results a,b] [--step-results a,b] " +
	"[--step-result-refs S/R,…] [--step-artifact-refs S/KIND[/N],…] [--when JSON] [--stdout-path P] [--stderr-path P] [--wait-file F] [--post-file F] -- COMMAND [ARG...]"

// runRun is the step wrapper: it runs the step and returns the container's exit code.
func runRun(args []string, stdout, stderr io.Writer, opts Options) int {
	ro, code := parseRun(args, stderr, opts)
	if code >= 0 {
		return code
	}
	ro.Stdout, ro.Stderr, ro.CEL = stdout, stderr, opts.CEL
	// A step with when expressions may have nothing to run here: an image-entrypoint step the executor
	// found skipped when it built the Pod.
	if ro.Script == "" && len(ro.Command) == 0 && len(ro.When) == 0 {
		fmt.Fprintf(stderr, "%s run: no command after -- and no %s\n", opts.Prog, entrypoint.ScriptEnv)
		return exitUsage
	}
	sigs, stop := entrypoint.ForwardSignals()
	defer stop()
	ro.Signals = sigs
	// The step runs to its own end (or timeout); SIGTERM from the kubelet is forwarded to it rather than
	// abandoning it, so the background context is deliberate.
	code, err := entrypoint.Run(context.Background(), ro)
	if err != nil {
		fmt.Fprintf(stderr, "%s run: %v\n", opts.Prog, err)
	}
	return code
}

// parseRun turns the flags into RunOptions; a code ≥ 0 means stop with that exit code.
func parseRun(args []string, stderr io.Writer, opts Options) (entrypoint.RunOptions, int) {
	fs := newFlags(opts, "run", runSynopsis, stderr)
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
		return entrypoint.RunOptions{}, flagExit(err)
	}
	whenList, err := entrypoint.ParseWhen(*when)
	if err != nil {
		fmt.Fprintf(stderr, "%s run: --when: %v\n", opts.Prog, err)
		return entrypoint.RunOptions{}, exitUsage
	}
	refs, err := entrypoint.ParseStepResultRefs(*stepRefs)
	if err != nil {
		fmt.Fprintf(stderr, "%s run: --step-result-refs: %v\n", opts.Prog, err)
		return entrypoint.RunOptions{}, exitUsage
	}
	artRefs, err := entrypoint.ParseStepArtifactRefs(*artifactRefs)
	if err != nil {
		fmt.Fprintf(stderr, "%s run: --step-artifact-refs: %v\n", opts.Prog, err)
		return entrypoint.RunOptions{}, exitUsage
	}
	if *onError != "continue" && *onError != "stopAndFail" {
		fmt.Fprintf(stderr, "%s run: --on-error %q: want continue or stopAndFail\n", opts.Prog, *onError)
		return entrypoint.RunOptions{}, exitUsage
	}
	return entrypoint.RunOptions{
		Name: *name, Timeout: *timeout, Continue: *onError == "continue",
		Command: fs.Args(), Script: os.Getenv(entrypoint.ScriptEnv),
		Results: commaList(*results), StepResults: commaList(*stepResults), MaskEnv: commaList(*maskEnv),
		ResultsDir: *resultsDir, StepsDir: *stepsDir, ScriptsDir: *scriptsDir, TerminationPath: *term,
		When: whenList, StepResultRefs: refs, StepArtifactRefs: artRefs, StdoutPath: *stdoutPath, StderrPath: *stderrPath,
		MessageLimit: *msgLimit, WaitFile: *waitFile, PostFile: *postFile,
		MaskDirs: maskDirs, MaskHome: entrypoint.HomeDir,
	}, -1
}

package entrypoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ScriptEnv is the environment variable that carries a step's script into the wrapper.
const ScriptEnv = "HOOKRUN_SCRIPT"

// RunOptions configure Run.
type RunOptions struct {
	// Name is the step name (used for the script file and the exit-code file).
	Name string
	// Timeout bounds the step; 0 means none.
	Timeout time.Duration
	// Continue is onError: continue — the step's failure is recorded but the container exits 0.
	Continue bool
	// Results are the result names the step may write, read back from ResultsDir after it ends.
	Results []string
	// Command is the command and arguments to run; with Script they are the script's arguments.
	Command []string
	// Script, if set, is run instead of Command[0]: with a shebang as written, otherwise under /bin/sh
	// with "set -e" first.
	Script string
	// When are the step's when expressions: when they do not all hold the step is skipped (exit 0, reason
	// Skipped) and nothing is run.
	When []When
	// CEL evaluates the cel form of When (nil: a cel expression fails the step).
	CEL CELFunc
	// StepResults are the step's own results, read back from StepsDir/NAME/results after it ends.
	StepResults []string
	// StepResultRefs are the $(steps.STEP.results.NAME) references replaced, before the step runs, in its
	// command, script, environment and when expressions.
	StepResultRefs []StepResultRef
	// StepArtifactRefs are the $(steps.STEP.inputs|outputs[.NAME]) references replaced, before the step
	// runs, in its command, script and environment (artifacts.go).
	StepArtifactRefs []StepArtifactRef
	// StdoutPath and StderrPath (stdoutConfig/stderrConfig) receive a copy of the step's output.
	StdoutPath, StderrPath string
	// WaitFile, when set, is the previous step's record (seq.go): the step runs once it says "ok", and
	// is not run when it reports a failure. PostFile receives this step's record when it ends.
	WaitFile, PostFile string
	// MaskEnv and MaskDirs name the environment variables and directories whose values come from
	// Secrets; with the credentials under MaskHome they are masked in the step's output (masking.go).
	MaskEnv, MaskDirs []string
	MaskHome          string
	// MessageLimit is the termination message's size in this Pod (0: MaxMessageSize); results beyond it
	// are left for the results container.
	MessageLimit int

	ResultsDir      string
	StepsDir        string
	ScriptsDir      string
	TerminationPath string

	Stdout, Stderr io.Writer
	// Signals, if set, receives signals to forward to the step's process group (SIGTERM from the kubelet).
	Signals <-chan os.Signal
}

func (o *RunOptions) defaults() {
	if o.ResultsDir == "" {
		o.ResultsDir = ResultsDir
	}
	if o.StepsDir == "" {
		o.StepsDir = StepsDir
	}
	if o.ScriptsDir == "" {
		o.ScriptsDir = ScriptsDir
	}
	if o.TerminationPath == "" {
		o.TerminationPath = TerminationPath
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
}

// scriptPath writes the script to a file and returns it. A script without a shebang gets "#!/bin/sh" and
// "set -e" (Tekton's behaviour).
func writeScript(dir, name, script string) (string, error) {
	if !strings.HasPrefix(script, "#!") {
		script = "#!/bin/sh\nset -e\n" + script
	}
	if name == "" {
		name = "step"
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// Run runs one step and returns the exit code the container should exit with. The termination message
// always records the step's own exit code. An error is returned only when the wrapper itself failed before
// the step could be judged (the exit code is then non-zero too).
func Run(ctx context.Context, opts RunOptions) (int, error) {
	opts.defaults()
	if opts.PostFile != "" {
		// The step's state directory /tekton/steps/NAME links there (prepare --run-dir).
		if err := os.MkdirAll(StatusDir(opts.PostFile), 0o777); err != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: step state directory:", err)
		}
	}
	if opts.Name != "" {
		if err := os.MkdirAll(StepResultsDir(opts.StepsDir, opts.Name), 0o777); err != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: step results directory:", err)
		}
		prepareArtifacts(opts)
	}
	var failure string
	var err error
	if opts.WaitFile != "" {
		wctx, done := waitContext(ctx, opts.Signals)
		failure, err = awaitTurn(wctx, opts.WaitFile)
		done()
	}
	if err != nil || failure != "" {
		return notRun(opts, failure, err)
	}
	flush := maskOutputs(&opts)
	msg, err := runStep(ctx, &opts)
	flush()
	if err != nil && msg.ExitCode == 0 {
		msg.ExitCode = 1
	}
	defer func() { post(opts, msg) }()
	if msg.Reason == ReasonSkipped {
		if _, _, werr := writeMessage(opts.TerminationPath, msg, opts.MessageLimit); werr != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: write termination message:", werr)
		}
		return 0, nil
	}
	msg = withResults(opts, msg)
	if opts.Name != "" {
		msg = withArtifacts(opts, msg)
	}
	reported, reportedSteps := copyMap(msg.Results), map[string]string{}
	for k, v := range msg.StepResults {
		reportedSteps[opts.Name+"/"+k] = v
	}
	// What does not fit stays unreported: the results container reports it.
	dropped, droppedSteps, werr := writeMessage(opts.TerminationPath, msg, opts.MessageLimit)
	if werr != nil {
		fmt.Fprintln(opts.Stderr, "hookrun step: write termination message:", werr)
	}
	for _, d := range dropped {
		delete(reported, d)
	}
	for _, d := range droppedSteps {
		delete(reportedSteps, opts.Name+"/"+d)
	}
	if werr == nil {
		merr := markReported(opts.StepsDir, reported)
		if merr == nil {
			merr = markStepsReported(opts.StepsDir, reportedSteps)
		}
		if merr != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: record results:", merr)
		}
	}
	writeExitCode(opts.StepsDir, opts.Name, msg.ExitCode)
	code := msg.ExitCode
	if code != 0 && opts.Continue {
		fmt.Fprintf(opts.Stderr, "hookrun step: %s exited with %d; onError: continue\n", opts.Name, code)
		code = 0
	}
	return code, err
}

// withResults adds to msg the results and step results the step wrote; one that cannot be read (too
// large) fails a step that had succeeded.
func withResults(opts RunOptions, msg Message) Message {
	fail := func(err error) {
		fmt.Fprintln(opts.Stderr, "hookrun step:", err)
		if msg.ExitCode == 0 {
			msg = Message{ExitCode: 1, Reason: ReasonResultTooLarge, Message: err.Error()}
		}
	}
	if len(opts.StepResults) > 0 {
		if res, err := collectStepResults(opts.StepsDir, opts.Name, opts.StepResults); err != nil {
			fail(err)
		} else {
			msg.StepResults = res
		}
	}
	if len(opts.Results) > 0 {
		if res, err := collectResults(opts.ResultsDir, opts.StepsDir, opts.Results); err != nil {
			fail(err)
		} else if len(res) > 0 {
			msg.Results = res
		}
	}
	return msg
}

// writeExitCode records the exit code at /tekton/steps/<name>/exitCode ($(steps.<name>.exitCode.path)).
func writeExitCode(stepsDir, name string, code int) {
	if name == "" {
		return
	}
	dir := filepath.Join(stepsDir, name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "exitCode"), []byte(strconv.Itoa(code)), 0o666)
}

func runStep(ctx context.Context, opts *RunOptions) (Message, error) {
	env, err := newStepResultExpander(opts.StepsDir, opts.StepResultRefs).expandInputs(opts)
	if err == nil {
		env, err = expandArtifactRefs(opts, env)
	}
	if err != nil {
		fmt.Fprintln(opts.Stderr, "hookrun step:", err)
		return Message{ExitCode: 1, Reason: ReasonStartFailed, Message: err.Error()}, nil
	}
	if len(opts.When) > 0 {
		ok, err := EvalWhen(opts.When, opts.CEL)
		if err != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step:", err)
			return Message{ExitCode: 1, Reason: ReasonStartFailed, Message: err.Error()}, nil
		}
		if !ok {
			fmt.Fprintf(opts.Stderr, "hookrun step: %s skipped: its when expressions are false\n", opts.Name)
			return Message{Reason: ReasonSkipped, Message: "when expressions evaluated to false"}, nil
		}
	}
	stdout, stderr, closeOutputs, err := outputFiles(opts)
	if err != nil {
		fmt.Fprintln(opts.Stderr, "hookrun step:", err)
		return Message{ExitCode: 1, Reason: ReasonStartFailed, Message: err.Error()}, nil
	}
	defer closeOutputs()
	argv := opts.Command
	if opts.Script != "" {
		p, err := writeScript(opts.ScriptsDir, opts.Name, opts.Script)
		if err != nil {
			return Message{ExitCode: 1, Reason: ReasonStartFailed, Message: err.Error()}, fmt.Errorf("write script: %w", err)
		}
		argv = append([]string{p}, opts.Command...)
	}
	if len(argv) == 0 {
		return Message{ExitCode: 1, Reason: ReasonStartFailed, Message: "no command"}, errors.New("no command to run")
	}
	argv = hostShellArgv(argv, opts.Script, strings.Fields(os.Getenv(HostShellEnv))) // hostshell.go: node agent only
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(opts.Stderr, "hookrun step: start %s: %v\n", argv[0], err)
		code := 1
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return Message{ExitCode: code, Reason: ReasonStartFailed, Message: err.Error()}, nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var timeout <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	kill := func(sig syscall.Signal) { _ = syscall.Kill(-cmd.Process.Pid, sig) }
	for {
		select {
		case err := <-done:
			return Message{ExitCode: exitCode(cmd, err)}, nil
		case <-timeout:
			kill(syscall.SIGKILL)
			<-done
			m := fmt.Sprintf("step %q timed out after %s", opts.Name, opts.Timeout)
			fmt.Fprintln(opts.Stderr, "hookrun step:", m)
			return Message{ExitCode: 1, Reason: ReasonTimeout, Message: m}, nil
		case sig := <-opts.Signals:
			if s, ok := sig.(syscall.Signal); ok {
				kill(s)
			}
		case <-ctx.Done():
			kill(syscall.SIGKILL)
			<-done
			return Message{ExitCode: 1, Reason: "Cancelled", Message: ctx.Err().Error()}, nil
		}
	}
}

func exitCode(cmd *exec.Cmd, err error) int {
	st := cmd.ProcessState
	if st == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// ForwardSignals returns a channel of SIGTERM/SIGINT for RunOptions.Signals and a stop function.
func ForwardSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	return ch, func() { signal.Stop(ch) }
}

// Package entrypoint is what runs inside the containers of a TaskRun's Pod, as `hookrun step …`:
//
//   - Init (`hookrun step init`, the "prepare" init container) copies the hookrun binary into the shared
//     /tekton/bin volume, creates the run directories and writes credentials (docker config, git
//     credentials, ssh keys) into /tekton/home from the ServiceAccount's annotated Secrets.
//   - Run (`hookrun step run`) wraps one step: it runs the step's command or script in its own process
//     group, enforces the step timeout, implements onError: continue, and writes the step's exit code and
//     the results it produced as JSON to the container's termination message.
//   - Results (`hookrun step results`, the final hookrun-results container) reports results no wrapped step
//     reported — those written by image-entrypoint steps — in its termination message.
//
// The executor reads the termination messages back (Message) into TaskRun status.
package entrypoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Paths inside every step container.
const (
	BinDir = "/tekton/bin"
	// BinPath is the small step binary (cmd/hookrun-step: wrapper, results), copied by prepare.
	BinPath = "/tekton/bin/hookrun-step"
	// HookrunPath is the full hookrun binary, copied by prepare only for Pods with a step whose when
	// expressions use cel (the small binary asks it: ExecCEL).
	HookrunPath     = "/tekton/bin/hookrun"
	ResultsDir      = "/tekton/results"
	StepsDir        = "/tekton/steps"
	ScriptsDir      = "/tekton/scripts"
	HomeDir         = "/tekton/home"
	CredsDir        = "/tekton/creds-secrets"
	TerminationPath = "/tekton/termination"
	WorkspaceDir    = "/workspace"
)

// MaxResultSize is the largest result a step may write, in bytes.
const MaxResultSize = 4096

// MaxMessageSize is the kubelet's limit on one container's termination message.
const MaxMessageSize = 4096

// Termination reasons a Message can carry.
const (
	ReasonTimeout         = "TimeoutExceeded"
	ReasonResultTooLarge  = "ResultTooLarge"
	ReasonContinued       = "Continued"
	ReasonStartFailed     = "StartFailed"
	ReasonResultsOverflow = "ResultsOverflow"
)

// Message is the JSON termination message of a wrapped step or of the results container.
type Message struct {
	// ExitCode is the step's real exit code (the container exits 0 for onError: continue).
	ExitCode int `json:"exitCode"`
	// Results are the results this container reports (name → value).
	Results map[string]string `json:"results,omitempty"`
	// StepResults are the step's own results ($(step.results.NAME.path)), name → value.
	StepResults map[string]string `json:"stepResults,omitempty"`
	// LogResults names the results that did not fit this message: the results container printed them to
	// its log (LogResultPrefix lines) for the executor to read.
	LogResults []string `json:"logResults,omitempty"`
	// LogStepResults names, as STEP/RESULT, the step results no step's message had room for: the results
	// container printed them to its log.
	LogStepResults []string `json:"logStepResults,omitempty"`
	// StepArtifacts and Artifacts are what the step wrote to $(step.artifacts.path) and what
	// $(artifacts.path) held after it (artifacts.go), as JSON.
	StepArtifacts json.RawMessage `json:"stepArtifacts,omitempty"`
	Artifacts     json.RawMessage `json:"artifacts,omitempty"`
	// Reason is set when the step ended for a reason other than its own exit (e.g. TimeoutExceeded).
	Reason string `json:"reason,omitempty"`
	// Message explains Reason.
	Message string `json:"message,omitempty"`
}

// ParseMessage reads a termination message; it returns false for text that is not one of ours (an
// image-entrypoint step may write anything to /dev/termination-log).
func ParseMessage(s string) (Message, bool) {
	var m Message
	if s == "" || s[0] != '{' {
		return m, false
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Message{}, false
	}
	return m, true
}

// writeMessage writes m to path within limit bytes (0 means MaxMessageSize), dropping results, then step
// results, largest first, that do not fit: their names are returned so they can be left for the results
// container. An explanation that does not fit is shortened.
func writeMessage(path string, m Message, limit int) (dropped, droppedSteps []string, err error) {
	limit = messageLimit(limit)
	for {
		data, err := json.Marshal(m)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case len(data) <= limit:
		case len(m.Results) > 0:
			n := largest(m.Results)
			dropped = append(dropped, n)
			delete(m.Results, n)
			continue
		case len(m.StepResults) > 0:
			n := largest(m.StepResults)
			droppedSteps = append(droppedSteps, n)
			delete(m.StepResults, n)
			continue
		case len(m.Message) > 0:
			cut := max(len(m.Message)-(len(data)-limit)-3, 0)
			m.Message = m.Message[:cut] + "…"
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, nil, err
		}
		return dropped, droppedSteps, os.WriteFile(path, data, 0o644)
	}
}

// largest is the name of the longest value (the greatest name among equals).
func largest(m map[string]string) string {
	out := ""
	for k, v := range m {
		if out == "" || len(v) > len(m[out]) || len(v) == len(m[out]) && k > out {
			out = k
		}
	}
	return out
}

// reportedMarker is where a result's last reported content hash is kept, so each value is reported once.
func reportedMarker(stepsDir, name string) string {
	return filepath.Join(stepsDir, ".reported", name)
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// errResultTooLarge reports a result bigger than MaxResultSize.
var errResultTooLarge = errors.New("result too large")

// collectResults reads the named results (all files in dir when names is nil) that were not reported
// before with the same content.
func collectResults(dir, stepsDir string, names []string) (map[string]string, error) {
	if names == nil {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read result %s: %w", n, err)
		}
		if len(data) > MaxResultSize {
			return nil, fmt.Errorf("%w: result %q is %d bytes, the limit is %d", errResultTooLarge, n, len(data), MaxResultSize)
		}
		if prev, err := os.ReadFile(reportedMarker(stepsDir, n)); err == nil && string(prev) == digest(data) {
			continue
		}
		out[n] = string(data)
	}
	return out, nil
}

// markReported records that results were reported.
func markReported(stepsDir string, results map[string]string) error {
	if len(results) == 0 {
		return nil
	}
	dir := filepath.Join(stepsDir, ".reported")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	for n, v := range results {
		if err := os.WriteFile(reportedMarker(stepsDir, n), []byte(digest([]byte(v))), 0o666); err != nil {
			return err
		}
	}
	return nil
}

// ResultsOptions configure Results.
type ResultsOptions struct {
	Dir             string
	StepsDir        string
	TerminationPath string
	// Stdout is the container's log: results that do not fit the termination message go there.
	Stdout io.Writer
	// MessageLimit is the termination message's size in this Pod (0: MaxMessageSize): the kubelet keeps
	// 12 KiB of messages per Pod, split evenly between its containers.
	MessageLimit int
}

// Results writes every result in opts.Dir not yet reported by a wrapped step to the termination message;
// those that do not fit, and every step result no step could report, are printed to opts.Stdout and named
// in the message (LogResults, LogStepResults).
func Results(opts ResultsOptions) error {
	res, err := collectResults(opts.Dir, opts.StepsDir, nil)
	var steps map[string]string
	if err == nil {
		steps, err = pendingStepResults(opts.StepsDir)
	}
	if err != nil {
		_, _, _ = writeMessage(opts.TerminationPath, Message{ExitCode: 1, Reason: ReasonResultTooLarge, Message: err.Error()}, opts.MessageLimit)
		return err
	}
	overflow := func(names []string) error {
		msg := fmt.Sprintf("results %q do not fit the %d-byte termination message", names, messageLimit(opts.MessageLimit))
		_, _, _ = writeMessage(opts.TerminationPath, Message{ExitCode: 1, Reason: ReasonResultsOverflow, Message: msg}, opts.MessageLimit)
		return errors.New(msg)
	}
	stepNames := sortedNames(steps)
	if len(steps) > 0 {
		if opts.Stdout == nil {
			return overflow(stepNames)
		}
		if err := writeLogStepResults(opts.Stdout, steps, stepNames); err != nil {
			return fmt.Errorf("write step results to the log: %w", err)
		}
	}
	kept := copyMap(res)
	var logged []string
	for {
		m := Message{Results: copyMap(kept), LogResults: logged, LogStepResults: stepNames}
		more, _, err := writeMessage(opts.TerminationPath, m, opts.MessageLimit)
		if err != nil {
			return fmt.Errorf("write termination message: %w", err)
		}
		if len(more) == 0 {
			break
		}
		sort.Strings(more)
		if opts.Stdout == nil {
			return overflow(more)
		}
		if err := writeLogResults(opts.Stdout, res, more); err != nil {
			return fmt.Errorf("write results to the log: %w", err)
		}
		for _, d := range more {
			delete(kept, d)
		}
		logged = append(logged, more...)
		sort.Strings(logged)
	}
	if err := markStepsReported(opts.StepsDir, steps); err != nil {
		return err
	}
	return markReported(opts.StepsDir, res)
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func messageLimit(n int) int {
	if n <= 0 || n > MaxMessageSize {
		return MaxMessageSize
	}
	return n
}

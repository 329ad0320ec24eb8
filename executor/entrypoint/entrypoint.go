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
	BinDir          = "/tekton/bin"
	BinPath         = "/tekton/bin/hookrun"
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

// writeMessage writes m to path, dropping results (largest first) that do not fit limit bytes (0 means
// MaxMessageSize). The dropped names are returned so they can be left for the results container. Step
// results that do not fit fail the step; an explanation that does not fit is shortened.
func writeMessage(path string, m Message, limit int) ([]string, error) {
	if limit <= 0 || limit > MaxMessageSize {
		limit = MaxMessageSize
	}
	var dropped []string
	for {
		data, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if len(data) > limit && len(m.Results) == 0 && len(m.StepResults) > 0 {
			// Step results have no later container to report them: fail the step, saying why.
			size := 0
			for _, v := range m.StepResults {
				size += len(v)
			}
			m = Message{ExitCode: 1, Reason: ReasonResultsOverflow, Message: fmt.Sprintf(
				"step results %q total %d bytes and do not fit the %d-byte termination message", sortedNames(m.StepResults), size, limit)}
			continue
		}
		if len(data) > limit && len(m.Results) == 0 && len(m.Message) > 0 {
			cut := len(m.Message) - (len(data) - limit) - 3
			if cut < 0 {
				cut = 0
			}
			m.Message = m.Message[:cut] + "…"
			continue
		}
		if len(data) <= limit || len(m.Results) == 0 {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			return dropped, os.WriteFile(path, data, 0o644)
		}
		largest := ""
		for k, v := range m.Results {
			if largest == "" || len(v) > len(m.Results[largest]) || len(v) == len(m.Results[largest]) && k > largest {
				largest = k
			}
		}
		dropped = append(dropped, largest)
		delete(m.Results, largest)
	}
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
// those that do not fit are printed to opts.Stdout and named in the message's LogResults.
func Results(opts ResultsOptions) error {
	res, err := collectResults(opts.Dir, opts.StepsDir, nil)
	if err != nil {
		_, _ = writeMessage(opts.TerminationPath, Message{ExitCode: 1, Reason: ReasonResultTooLarge, Message: err.Error()}, opts.MessageLimit)
		return err
	}
	// writeMessage drops from the map it is given: give it a copy.
	dropped, err := writeMessage(opts.TerminationPath, Message{Results: copyMap(res)}, opts.MessageLimit)
	if err != nil {
		return fmt.Errorf("write termination message: %w", err)
	}
	if len(dropped) > 0 {
		sort.Strings(dropped)
		if opts.Stdout == nil {
			msg := fmt.Sprintf("results %q do not fit the %d-byte termination message", dropped, messageLimit(opts.MessageLimit))
			_, _ = writeMessage(opts.TerminationPath, Message{ExitCode: 1, Reason: ReasonResultsOverflow, Message: msg}, opts.MessageLimit)
			return errors.New(msg)
		}
		if err := writeLogResults(opts.Stdout, res, dropped); err != nil {
			return fmt.Errorf("write results to the log: %w", err)
		}
		kept := copyMap(res)
		for _, d := range dropped {
			delete(kept, d)
		}
		// The names of what went to the log must fit; results that still do not fit go to the log too.
		m := Message{Results: copyMap(kept), LogResults: dropped}
		more, err := writeMessage(opts.TerminationPath, m, opts.MessageLimit)
		if err != nil {
			return fmt.Errorf("write termination message: %w", err)
		}
		if len(more) > 0 {
			if err := writeLogResults(opts.Stdout, res, more); err != nil {
				return fmt.Errorf("write results to the log: %w", err)
			}
			for _, d := range more {
				delete(kept, d)
			}
			m = Message{Results: kept, LogResults: append(dropped, more...)}
			sort.Strings(m.LogResults)
			if _, err := writeMessage(opts.TerminationPath, m, opts.MessageLimit); err != nil {
				return fmt.Errorf("write termination message: %w", err)
			}
		}
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

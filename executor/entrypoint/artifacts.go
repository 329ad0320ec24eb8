package entrypoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// TaskArtifactsPath is $(artifacts.path), the Task's artifacts file every step may write (Tekton keeps it
// at /tekton/artifacts/provenance.json; hookrun in the steps volume, under a name no step can have).
const TaskArtifactsPath = StepsDir + "/.artifacts/provenance.json"

// ReasonArtifactsInvalid ends a step whose artifacts file is not an artifacts document.
const ReasonArtifactsInvalid = "ArtifactsInvalid"

// StepArtifactsPath is $(step.artifacts.path) of step NAME.
func StepArtifactsPath(stepsDir, name string) string {
	return filepath.Join(stepsDir, name, "artifacts", "provenance.json")
}

func taskArtifactsPath(stepsDir string) string {
	return filepath.Join(stepsDir, ".artifacts", "provenance.json")
}

// artifactsDoc is the artifacts file's shape (Tekton's): inputs and outputs, each a list of named
// categories of values.
type artifactsDoc struct {
	Inputs  []artifactDoc `json:"inputs,omitempty"`
	Outputs []artifactDoc `json:"outputs,omitempty"`
}

type artifactDoc struct {
	Name        string             `json:"name,omitempty"`
	Values      []artifactValueDoc `json:"values,omitempty"`
	BuildOutput bool               `json:"buildOutput,omitempty"`
}

type artifactValueDoc struct {
	Digest map[string]string `json:"digest,omitempty"`
	URI    string            `json:"uri,omitempty"`
}

// readArtifacts reads an artifacts file: nil when it is absent or empty, else the document re-encoded
// compactly; an error when it is not an artifacts document.
func readArtifacts(p string) (*artifactsDoc, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc artifactsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("artifacts %s: %w", p, err)
	}
	return &doc, nil
}

// prepareArtifacts creates the directories of $(step.artifacts.path) and $(artifacts.path).
func prepareArtifacts(opts RunOptions) {
	for _, p := range []string{StepArtifactsPath(opts.StepsDir, opts.Name), taskArtifactsPath(opts.StepsDir)} {
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: artifacts directory:", err)
		}
	}
}

// withArtifacts adds to msg the step's artifacts and the Task's artifacts file as it is after the step
// (the executor merges them into status.artifacts). An artifacts file that is not valid, or artifacts too
// large for the termination message, fail a step that had succeeded (Tekton fails it too).
func withArtifacts(opts RunOptions, msg Message) Message {
	fail := func(reason string, err error) Message {
		fmt.Fprintln(opts.Stderr, "hookrun step:", err)
		if msg.ExitCode == 0 {
			return Message{ExitCode: 1, Reason: reason, Message: err.Error()}
		}
		return msg
	}
	for _, f := range []struct {
		path string
		into *json.RawMessage
	}{{StepArtifactsPath(opts.StepsDir, opts.Name), &msg.StepArtifacts}, {taskArtifactsPath(opts.StepsDir), &msg.Artifacts}} {
		doc, err := readArtifacts(f.path)
		if err != nil {
			return fail(ReasonArtifactsInvalid, err)
		}
		if doc != nil {
			*f.into, _ = json.Marshal(doc) // plain strings and bools: cannot fail
		}
	}
	if n, limit := len(msg.StepArtifacts)+len(msg.Artifacts), messageLimit(opts.MessageLimit)/2; n > limit {
		return fail(ReasonResultTooLarge, fmt.Errorf("artifacts are %d bytes: hookrun reports them in the step's termination message, which has room for %d", n, limit))
	}
	return msg
}

// StepArtifactRef is a $(steps.STEP.inputs[.NAME]) or $(steps.STEP.outputs[.NAME]) reference: the wrapper
// replaces it, before the step runs, with the JSON list of values of that category of STEP's artifacts
// (the first category when NAME is empty).
type StepArtifactRef struct {
	Step, Kind, Name string
}

// String is the form the --step-artifact-refs flag takes: STEP/KIND[/NAME].
func (r StepArtifactRef) String() string {
	if r.Name == "" {
		return r.Step + "/" + r.Kind
	}
	return r.Step + "/" + r.Kind + "/" + r.Name
}

// StepArtifactExpr matches $(steps.STEP.inputs|outputs[.NAME]); compiled on first use, so a wrapped
// step that refers to no artifact does not pay for it at start.
var StepArtifactExpr = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\$\(steps\.([^.()\s]+)\.(inputs|outputs)(?:\.([^.()\s]+))?\)`)
})

// ParseStepArtifactRefs decodes a comma-separated list of STEP/KIND[/NAME].
func ParseStepArtifactRefs(s string) ([]StepArtifactRef, error) {
	if s == "" {
		return nil, nil
	}
	var out []StepArtifactRef
	for _, p := range strings.Split(s, ",") {
		parts := strings.Split(p, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] != "inputs" && parts[1] != "outputs" || len(parts) == 3 && parts[2] == "" {
			return nil, fmt.Errorf("step artifact reference %q: want STEP/inputs|outputs[/NAME]", p)
		}
		r := StepArtifactRef{Step: parts[0], Kind: parts[1]}
		if len(parts) == 3 {
			r.Name = parts[2]
		}
		out = append(out, r)
	}
	return out, nil
}

// expandArtifactRefs replaces the listed step artifact references in the step's command, script and
// environment (env: the environment so far, nil meaning the wrapper's own).
func expandArtifactRefs(opts *RunOptions, env []string) ([]string, error) {
	if len(opts.StepArtifactRefs) == 0 {
		return env, nil
	}
	allowed := map[StepArtifactRef]bool{}
	for _, r := range opts.StepArtifactRefs {
		allowed[r] = true
	}
	var firstErr error
	expand := func(s string) string {
		expr := StepArtifactExpr()
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			sub := expr.FindStringSubmatch(m)
			ref := StepArtifactRef{Step: strings.TrimPrefix(sub[1], "step-"), Kind: sub[2], Name: sub[3]}
			if !allowed[ref] {
				return m
			}
			v, err := artifactValues(opts.StepsDir, ref)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", m, err)
				}
				return m
			}
			return v
		})
	}
	for i := range opts.Command {
		opts.Command[i] = expand(opts.Command[i])
	}
	opts.Script = expand(opts.Script)
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = expand(kv)
	}
	return out, firstErr
}

// artifactValues is the JSON list of values a reference stands for.
func artifactValues(stepsDir string, ref StepArtifactRef) (string, error) {
	doc, err := readArtifacts(StepArtifactsPath(stepsDir, ref.Step))
	if err != nil {
		return "", err
	}
	if doc == nil {
		return "", fmt.Errorf("step %q wrote no artifacts", ref.Step)
	}
	list := doc.Outputs
	if ref.Kind == "inputs" {
		list = doc.Inputs
	}
	for _, a := range list {
		if ref.Name == "" || a.Name == ref.Name {
			b, err := json.Marshal(a.Values)
			return string(b), err
		}
	}
	return "", fmt.Errorf("step %q has no %s artifact %q", ref.Step, ref.Kind, ref.Name)
}

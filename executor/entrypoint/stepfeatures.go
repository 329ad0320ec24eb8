package entrypoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ReasonSkipped is the termination reason of a step whose when expressions were false (Tekton's).
const ReasonSkipped = "Skipped"

// When is one of a step's when expressions, after the executor replaced params in it: either
// input/operator/values or cel.
type When struct {
	Input    string   `json:"input,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Values   []string `json:"values,omitempty"`
	CEL      string   `json:"cel,omitempty"`
}

// StepResultsDir is where step NAME writes its step results ($(step.results.R.path) is a file in it).
func StepResultsDir(stepsDir, name string) string {
	return filepath.Join(stepsDir, name, "results")
}

// CELFunc evaluates the cel form of a when expression to a bool. The full hookrun binary evaluates in
// process (package celwhen); the small in-Pod binary asks the full one (ExecCEL), so it links no CEL.
type CELFunc func(expr string) (bool, error)

// EvalWhen reports whether every expression holds. "in" holds when the input is one of the values,
// "notin" when it is none of them; a cel expression, evaluated by cel, must evaluate to a bool.
func EvalWhen(list []When, cel CELFunc) (bool, error) {
	for i, w := range list {
		ok, err := evalOne(w, cel)
		if err != nil {
			return false, fmt.Errorf("when[%d]: %w", i, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func evalOne(w When, cel CELFunc) (bool, error) {
	if w.CEL != "" {
		if cel == nil {
			return false, fmt.Errorf("cel %q: this binary cannot evaluate cel expressions", w.CEL)
		}
		return cel(w.CEL)
	}
	in := slices.Contains(w.Values, w.Input)
	switch w.Operator {
	case "in":
		return in, nil
	case "notin":
		return !in, nil
	}
	return false, fmt.Errorf("operator %q: want in or notin", w.Operator)
}

// ParseWhen decodes the --when flag.
func ParseWhen(s string) ([]When, error) {
	if s == "" {
		return nil, nil
	}
	var out []When
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("when expressions: %w", err)
	}
	return out, nil
}

// StepResultRef is a $(steps.STEP.results.NAME) reference a step may use: the wrapper replaces it with the
// content STEP wrote to its step result NAME before running the step.
type StepResultRef struct {
	Step, Result string
}

// String is the form the --step-result-refs flag takes: STEP/NAME.
func (r StepResultRef) String() string { return r.Step + "/" + r.Result }

// ParseStepResultRefs decodes a comma-separated list of STEP/NAME.
func ParseStepResultRefs(s string) ([]StepResultRef, error) {
	if s == "" {
		return nil, nil
	}
	var out []StepResultRef
	for _, p := range strings.Split(s, ",") {
		step, res, ok := strings.Cut(p, "/")
		if !ok || step == "" || res == "" {
			return nil, fmt.Errorf("step result reference %q: want STEP/RESULT", p)
		}
		out = append(out, StepResultRef{Step: step, Result: res})
	}
	return out, nil
}

// stepResultExpr matches $(steps.S.results.R), $(steps.S.results.R[*]), $(steps.S.results.R[i]) and
// $(steps.S.results.R.key) (array and object step results hold JSON).
// Compiled on first use: only steps with step-result references need it, and every wrapper start would
// pay for a package-level compile.
var stepResultExpr = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\$\(steps\.([^.()\s]+)\.results\.([^.()\s\[\]]+)(\[[^\]()]*\]|\.[^.()\s\[\]]+)?\)`)
})

// stepResultExpander replaces the listed $(steps.STEP.results.NAME) references with what STEP wrote.
// Only references the executor listed (a step declared before this one, with that result) are replaced:
// anything else that looks like one — in a webhook payload, say — stays as written.
type stepResultExpander struct {
	stepsDir string
	allowed  map[StepResultRef]bool
	err      error
}

func newStepResultExpander(stepsDir string, refs []StepResultRef) *stepResultExpander {
	e := &stepResultExpander{stepsDir: stepsDir, allowed: map[StepResultRef]bool{}}
	for _, r := range refs {
		e.allowed[r] = true
	}
	return e
}

func (e *stepResultExpander) expand(s string) string {
	if len(e.allowed) == 0 || !strings.Contains(s, "$(steps.") {
		return s
	}
	return stepResultExpr().ReplaceAllStringFunc(s, func(m string) string {
		vals, ok := e.lookup(m)
		if !ok {
			return m
		}
		return strings.Join(vals, " ")
	})
}

// lookup returns the value of one reference (an array's elements for R[*]); false leaves it as written.
func (e *stepResultExpander) lookup(m string) ([]string, bool) {
	sub := stepResultExpr().FindStringSubmatch(m)
	ref := StepResultRef{Step: strings.TrimPrefix(sub[1], "step-"), Result: sub[2]}
	if !e.allowed[ref] {
		ref.Step = sub[1]
		if !e.allowed[ref] {
			return nil, false
		}
	}
	fail := func(err error) ([]string, bool) {
		if e.err == nil {
			e.err = err
		}
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(StepResultsDir(e.stepsDir, ref.Step), ref.Result))
	if err != nil {
		return fail(fmt.Errorf("step %q did not write its result %q (read %s): %w", ref.Step, ref.Result, m, err))
	}
	sel := sub[3]
	switch {
	case sel == "":
		return []string{string(data)}, true
	case strings.HasPrefix(sel, "."):
		var obj map[string]string
		if err := json.Unmarshal(data, &obj); err != nil {
			return fail(fmt.Errorf("%s: step result %q of step %q is not a JSON object of strings: %w", m, ref.Result, ref.Step, err))
		}
		v, ok := obj[sel[1:]]
		if !ok {
			return fail(fmt.Errorf("%s: step result %q of step %q has no key %q", m, ref.Result, ref.Step, sel[1:]))
		}
		return []string{v}, true
	}
	var arr []string
	if err := json.Unmarshal(data, &arr); err != nil {
		return fail(fmt.Errorf("%s: step result %q of step %q is not a JSON array of strings: %w", m, ref.Result, ref.Step, err))
	}
	idx := sel[1 : len(sel)-1]
	if idx == "*" {
		return arr, true
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(arr) {
		return fail(fmt.Errorf("%s: index %s out of the %d elements of step result %q of step %q", m, idx, len(arr), ref.Result, ref.Step))
	}
	return []string{arr[i]}, true
}

// expandAll replaces references in each element; an element that is exactly one R[*] reference becomes
// the array's elements (as a Task's array params do in args).
func (e *stepResultExpander) expandAll(list []string) []string {
	if len(e.allowed) == 0 {
		return list
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if loc := stepResultExpr().FindStringSubmatchIndex(s); loc != nil && loc[0] == 0 && loc[1] == len(s) && loc[6] >= 0 && s[loc[6]:loc[7]] == "[*]" {
			if vals, ok := e.lookup(s); ok {
				out = append(out, vals...)
				continue
			}
		}
		out = append(out, e.expand(s))
	}
	return out
}

// expandInputs replaces step result references in the step's command, script, when expressions and
// environment (returned as the child's environment; nil means inherit unchanged).
func (e *stepResultExpander) expandInputs(opts *RunOptions) (env []string, err error) {
	if len(e.allowed) == 0 {
		return nil, nil
	}
	opts.Command = e.expandAll(opts.Command)
	opts.Script = e.expand(opts.Script)
	for i := range opts.When {
		opts.When[i].Input = e.expand(opts.When[i].Input)
		opts.When[i].Values = e.expandAll(opts.When[i].Values)
		opts.When[i].CEL = e.expand(opts.When[i].CEL)
	}
	env = e.expandAll(os.Environ())
	return env, e.err
}

// outputFiles opens the stdoutConfig/stderrConfig files and returns writers that copy the step's output
// to them as well as to the container log.
func outputFiles(opts *RunOptions) (stdout, stderr io.Writer, closeAll func(), err error) {
	stdout, stderr = opts.Stdout, opts.Stderr
	var files []*os.File
	closeAll = func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	open := func(p string) (*os.File, error) {
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	if opts.StdoutPath != "" {
		f, err := open(opts.StdoutPath)
		if err != nil {
			closeAll()
			return nil, nil, nil, fmt.Errorf("stdoutConfig.path: %w", err)
		}
		stdout = io.MultiWriter(opts.Stdout, f)
	}
	if opts.StderrPath != "" {
		if opts.StderrPath == opts.StdoutPath {
			stderr = io.MultiWriter(opts.Stderr, files[len(files)-1])
		} else {
			f, err := open(opts.StderrPath)
			if err != nil {
				closeAll()
				return nil, nil, nil, fmt.Errorf("stderrConfig.path: %w", err)
			}
			stderr = io.MultiWriter(opts.Stderr, f)
		}
	}
	return stdout, stderr, closeAll, nil
}

// collectStepResults reads the step results the step wrote to its own results directory.
func collectStepResults(stepsDir, name string, names []string) (map[string]string, error) {
	dir := StepResultsDir(stepsDir, name)
	out := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read step result %s: %w", n, err)
		}
		if len(data) > MaxResultSize {
			return nil, fmt.Errorf("%w: step result %q is %d bytes, the limit is %d", errResultTooLarge, n, len(data), MaxResultSize)
		}
		out[n] = string(data)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// stepReportedMarker is where the reported content hash of step result "STEP/RESULT" is kept.
func stepReportedMarker(stepsDir, ref string) string {
	return filepath.Join(stepsDir, ".reported-steps", filepath.FromSlash(ref))
}

// markStepsReported records that step results ("STEP/RESULT" → value) were reported.
func markStepsReported(stepsDir string, results map[string]string) error {
	for ref, v := range results {
		p := stepReportedMarker(stepsDir, ref)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(digest([]byte(v))), 0o666); err != nil {
			return err
		}
	}
	return nil
}

// pendingStepResults reads the step results ("STEP/RESULT" → value) under stepsDir that no step reported.
func pendingStepResults(stepsDir string) (map[string]string, error) {
	steps, err := os.ReadDir(stepsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, st := range steps {
		if !st.IsDir() || strings.HasPrefix(st.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(StepResultsDir(stepsDir, st.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			ref := st.Name() + "/" + f.Name()
			data, err := os.ReadFile(filepath.Join(StepResultsDir(stepsDir, st.Name()), f.Name()))
			if err != nil {
				return nil, fmt.Errorf("read step result %s: %w", ref, err)
			}
			if len(data) > MaxResultSize {
				return nil, fmt.Errorf("%w: step result %q is %d bytes, the limit is %d", errResultTooLarge, ref, len(data), MaxResultSize)
			}
			if prev, err := os.ReadFile(stepReportedMarker(stepsDir, ref)); err == nil && string(prev) == digest(data) {
				continue
			}
			out[ref] = string(data)
		}
	}
	return out, nil
}

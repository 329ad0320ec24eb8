package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// Matrix fan-out (Tekton's docs/matrix.md): a pipeline task with a matrix runs one TaskRun per combination
// of its params. matrix.params are arrays whose cross product gives the combinations (the first param
// varying fastest, as Tekton orders them); each matrix.include entry either adds its params to every
// combination it agrees with or, when no combination has any of its values, becomes a combination of its
// own (with only matrix.include, the entries are the combinations). The TaskRuns are PIPELINERUN-TASK-I,
// each listed in childReferences; the task is done when all are, failed when one failed, and its string
// results are aggregated, in combination order, into arrays ($(tasks.T.results.R[*])).

// DefaultMaxMatrixCombinations is Tekton's default-max-matrix-combinations-count.
const DefaultMaxMatrixCombinations = 256

// Matrix reasons (Tekton's).
const (
	ReasonInvalidMatrixParameterTypes = "InvalidMatrixParameterTypes"
	SkipEmptyMatrixArray              = "Matrix Parameters have an empty array"
)

// isMatrixed reports whether pt fans out.
func isMatrixed(pt *pipelinev1.PipelineTask) bool {
	return pt.Matrix != nil && (len(pt.Matrix.Params) > 0 || len(pt.Matrix.Include) > 0)
}

// matrixCombo is one combination of a matrixed task: its params, sorted by name, and the name of the
// matrix.include entry that made or extended it (the TaskRun's display name).
type matrixCombo struct {
	params pipelinev1.Params
	name   string
}

// combination is a combination being built: param name → value.
type combination struct {
	values map[string]string
	name   string
}

// namedArray is one matrix param after substitution.
type namedArray struct {
	name   string
	values []string
}

// fanOut builds the combinations of array params and include entries (see the package comment above).
func fanOut(params []namedArray, include []combination) []combination {
	if len(params) == 0 {
		return include
	}
	combos := []combination{{values: map[string]string{}}}
	for _, p := range params {
		next := make([]combination, 0, len(combos)*len(p.values))
		for _, v := range p.values {
			for _, c := range combos {
				m := make(map[string]string, len(c.values)+1)
				for k, x := range c.values {
					m[k] = x
				}
				m[p.name] = v
				next = append(next, combination{values: m})
			}
		}
		combos = next
	}
	// First every include entry extends the combinations it agrees with; then each entry none of the
	// combinations (including entries added before it) shares a value with becomes a combination.
	for _, inc := range include {
		for i := range combos {
			if agrees(combos[i].values, inc.values) {
				for k, v := range inc.values {
					combos[i].values[k] = v
				}
				if inc.name != "" {
					combos[i].name = inc.name
				}
			}
		}
	}
	for _, inc := range include {
		shared := false
		for i := range combos {
			if sharesValue(combos[i].values, inc.values) {
				shared = true
				break
			}
		}
		if !shared && len(inc.values) > 0 {
			combos = append(combos, inc)
		}
	}
	return combos
}

// agrees reports whether every param of inc that c has has the same value in c.
func agrees(c, inc map[string]string) bool {
	for k, v := range inc {
		if x, ok := c[k]; ok && x != v {
			return false
		}
	}
	return true
}

// sharesValue reports whether c has one of inc's params with inc's value.
func sharesValue(c, inc map[string]string) bool {
	for k, v := range inc {
		if x, ok := c[k]; ok && x == v {
			return true
		}
	}
	return false
}

// literalCombinations counts the combinations of a matrix whose arrays are written out (Tekton's count
// for validation and $(tasks.T.matrix.length) before the task runs); ok is false when a param is a
// reference whose length is known only at run time.
func literalCombinations(m *pipelinev1.Matrix) (n int, ok bool) {
	var params []namedArray
	ok = true
	for _, p := range m.Params {
		if p.Value.Type != pipelinev1.ParamTypeArray {
			ok = false
			continue
		}
		params = append(params, namedArray{name: p.Name, values: p.Value.ArrayVal})
	}
	return len(fanOut(params, includeCombinations(m, nil))), ok
}

func includeCombinations(m *pipelinev1.Matrix, vars subst.Resolver) []combination {
	out := make([]combination, 0, len(m.Include))
	for _, inc := range m.Include {
		c := combination{values: map[string]string{}, name: inc.Name}
		for _, p := range inc.Params {
			v := p.Value.StringVal
			if vars != nil {
				v = subst.String(v, vars)
			}
			c.values[p.Name] = v
		}
		out = append(out, c)
	}
	return out
}

// matrixCombos substitutes a matrixed task's matrix with vars and fans it out. A param that is not an
// array after substitution, or more combinations than max, is a problem that fails the run.
func matrixCombos(field string, pt *pipelinev1.PipelineTask, vars subst.Resolver, max int) ([]matrixCombo, *validationError) {
	var params []namedArray
	for i, p := range pt.Matrix.Params {
		v := substituteParamValue(p.Value, vars)
		if v.Type != pipelinev1.ParamTypeArray {
			return nil, &validationError{reason: ReasonInvalidMatrixParameterTypes, msg: fmt.Sprintf(
				"%s.matrix.params[%d]: matrix param %q of pipeline task %q must be an array, got %s %q",
				field, i, p.Name, pt.Name, v.Type, v.StringVal)}
		}
		params = append(params, namedArray{name: p.Name, values: v.ArrayVal})
	}
	combos := fanOut(params, includeCombinations(pt.Matrix, vars))
	if len(combos) > max {
		return nil, &validationError{reason: ReasonPipelineValidationFailed, msg: fmt.Sprintf(
			"%s.matrix: pipeline task %q fans out to %d combinations, more than the maximum of %d (Tekton's default-max-matrix-combinations-count)",
			field, pt.Name, len(combos), max)}
	}
	out := make([]matrixCombo, len(combos))
	for i, c := range combos {
		names := sortedKeys(c.values)
		ps := make(pipelinev1.Params, 0, len(names))
		for _, n := range names {
			ps = append(ps, pipelinev1.Param{Name: n, Value: *pipelinev1.NewStringValue(c.values[n])})
		}
		out[i] = matrixCombo{params: ps, name: c.name}
	}
	return out, nil
}

// hasEmptyMatrixArray reports whether a matrix param is an empty array (Tekton skips the task).
func hasEmptyMatrixArray(pt *pipelinev1.PipelineTask, vars subst.Resolver) bool {
	for _, p := range pt.Matrix.Params {
		if v := substituteParamValue(p.Value, vars); v.Type == pipelinev1.ParamTypeArray && len(v.ArrayVal) == 0 {
			return true
		}
	}
	return false
}

// validateMatrix checks a matrix's shape before the run starts: param types, duplicate names, params given
// both ways, and (when max > 0) the number of combinations of written-out arrays.
func validateMatrix(field string, pt *pipelinev1.PipelineTask, max int) error {
	if !isMatrixed(pt) {
		return nil
	}
	plain := map[string]bool{}
	for _, p := range pt.Params {
		plain[p.Name] = true
	}
	seen := map[string]bool{}
	for i, p := range pt.Matrix.Params {
		f := fmt.Sprintf("%s.matrix.params[%d]", field, i)
		switch {
		case seen[p.Name]:
			return invalid(ReasonPipelineValidationFailed, "%s: matrix param %q is given twice", f, p.Name)
		case plain[p.Name]:
			return invalid(ReasonPipelineValidationFailed, "%s: param %q is given in both params and matrix", f, p.Name)
		case p.Value.Type == pipelinev1.ParamTypeObject:
			return invalid(ReasonInvalidMatrixParameterTypes, "%s: matrix param %q must be an array, not an object", f, p.Name)
		case p.Value.Type == pipelinev1.ParamTypeString && !wholeArrayRef(p.Value.StringVal):
			return invalid(ReasonInvalidMatrixParameterTypes, "%s: matrix param %q must be an array (or a whole array reference such as $(params.NAME[*])), got the string %q", f, p.Name, p.Value.StringVal)
		}
		seen[p.Name] = true
	}
	for i, inc := range pt.Matrix.Include {
		for j, p := range inc.Params {
			if p.Value.Type != pipelinev1.ParamTypeString && p.Value.Type != "" {
				return invalid(ReasonInvalidMatrixParameterTypes, "%s.matrix.include[%d].params[%d]: param %q must be a string", field, i, j, p.Name)
			}
		}
	}
	if n, _ := literalCombinations(pt.Matrix); max > 0 && n > max {
		return invalid(ReasonPipelineValidationFailed, "%s.matrix: pipeline task %q fans out to %d combinations, more than the maximum of %d (Tekton's default-max-matrix-combinations-count)", field, pt.Name, n, max)
	}
	return nil
}

// wholeArrayRef reports whether s is exactly one variable reference (e.g. $(params.a[*]),
// $(tasks.t.results.r)).
func wholeArrayRef(s string) bool {
	return strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1
}

// matrixRunName is the TaskRun of combination i: PIPELINERUN-TASK-I (Tekton's naming).
func matrixRunName(prName, task string, i int) string {
	return childName(prName, fmt.Sprintf("%s-%d", task, i))
}

// matrixState is the fan-out of a matrixed pipeline task in a PipelineRun.
type matrixState struct {
	// combos are the combinations, nil until computed (when the task starts, or on the first reconcile
	// after a restart).
	combos []matrixCombo
	// runs are the cached TaskRuns by combination (nil when not cached); made marks those created.
	runs []*pipelinev1.TaskRun
	made []bool
	// found are the TaskRuns listed before combos are known, by name; refs the childReferences the
	// run's status had, by name.
	found map[string]*pipelinev1.TaskRun
	refs  map[string]bool
	// prev are the childReferences the run's status had for the task.
	prev []pipelinev1.ChildStatusReference
}

func newMatrixState() *matrixState {
	return &matrixState{found: map[string]*pipelinev1.TaskRun{}, refs: map[string]bool{}}
}

// setCombos records the combinations and matches the TaskRuns already found to them.
func (m *matrixState) setCombos(prName, task string, combos []matrixCombo) {
	m.combos = combos
	m.runs = make([]*pipelinev1.TaskRun, len(combos))
	m.made = make([]bool, len(combos))
	for i := range combos {
		name := matrixRunName(prName, task, i)
		m.runs[i] = m.found[name]
		m.made[i] = m.runs[i] != nil || m.refs[name]
	}
}

// complete reports whether every combination's TaskRun was made.
func (m *matrixState) complete() bool {
	if m.combos == nil {
		return false
	}
	for _, ok := range m.made {
		if !ok {
			return false
		}
	}
	return true
}

// startMatrix fans a matrixed task out: it computes the combinations and creates their TaskRuns, or skips
// the task when a matrix param is an empty array.
func (r *PipelineRunReconciler) startMatrix(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, vars subst.Vars, now time.Time) (*validationError, error) {
	if hasEmptyMatrixArray(s.pt, vars) {
		s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipEmptyMatrixArray, WhenExpressions: s.pt.When}
		return nil, nil
	}
	combos, ve := matrixCombos(s.field, s.pt, vars, r.maxMatrix())
	if ve != nil {
		return ve, nil
	}
	s.mx.setCombos(pr.Name, s.pt.Name, combos)
	s.known = true
	return nil, r.createMatrixRuns(ctx, pr, st, s, vars, now)
}

// fillMatrices recomputes the combinations of the matrixed tasks an earlier reconcile (or executor)
// started — the same, since a task's inputs are done before it starts — so that their TaskRuns are
// matched to combinations and the tasks' state is known before anything is decided. Tasks whose inputs
// are themselves matrixed are filled after those (hence the loop).
func (r *PipelineRunReconciler) fillMatrices(pr *pipelinev1.PipelineRun, st *runState) *validationError {
	for progress := true; progress; {
		progress = false
		for _, s := range st.all() {
			if s.mx == nil || !s.started() || s.mx.combos != nil {
				continue
			}
			if ready, _ := st.parentsDone(s); !ready || (s.finally && !st.dagDone()) {
				continue
			}
			combos, ve := matrixCombos(s.field, s.pt, r.vars(pr, st), r.maxMatrix())
			if ve != nil {
				return ve
			}
			s.mx.setCombos(pr.Name, s.pt.Name, combos)
			progress = true
		}
	}
	return nil
}

// matrixCreators is how many TaskRuns of a fan-out are created at once: the API server's latency, not
// the executor, bounds a sequential loop (256 TaskRuns took ~8 s one by one on a loaded 2-core machine).
const matrixCreators = 16

// createMatrixRuns creates the TaskRuns of a matrixed task not made yet, several at once (AlreadyExists
// means adopt). It returns the first error; TaskRuns made before it are recorded.
func (r *PipelineRunReconciler) createMatrixRuns(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, vars subst.Vars, now time.Time) error {
	m := s.mx
	var todo []int
	for i := range m.combos {
		if !m.made[i] {
			todo = append(todo, i)
		}
	}
	errs := make([]error, len(todo))
	sem := make(chan struct{}, matrixCreators)
	var wg sync.WaitGroup
	for k, i := range todo {
		// Built here, in one goroutine: buildTaskRun reads shared state.
		tr := r.buildTaskRun(pr, st, s, matrixRunName(pr.Name, s.pt.Name, i), m.combos[i].params, vars, now)
		podTemplate, err := substitutePodTemplate(tr.Spec.PodTemplate, m.combos[i].params)
		if err != nil {
			errs[k] = err
			continue
		}
		tr.Spec.PodTemplate = podTemplate
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			switch err := r.client.Create(ctx, tr); {
			case err == nil:
				m.runs[i] = tr
			case apierrors.IsAlreadyExists(err):
			default:
				errs[k] = fmt.Errorf("create taskrun %s: %w", tr.Name, err)
				return
			}
			m.made[i] = true
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkMatrixSizes fails a Pipeline whose written-out matrices fan out beyond the maximum.
func (r *PipelineRunReconciler) checkMatrixSizes(spec *pipelinev1.PipelineSpec) error {
	for i := range spec.Tasks {
		if err := validateMatrix(fmt.Sprintf("spec.tasks[%d]", i), &spec.Tasks[i], r.maxMatrix()); err != nil {
			return err
		}
	}
	for i := range spec.Finally {
		if err := validateMatrix(fmt.Sprintf("spec.finally[%d]", i), &spec.Finally[i], r.maxMatrix()); err != nil {
			return err
		}
	}
	return nil
}

func (r *PipelineRunReconciler) maxMatrix() int {
	if n := r.opts.config().MaxMatrixCombinations; n > 0 { // config-defaults' default-max-matrix-combinations-count
		return n
	}
	if r.opts.MaxMatrixCombinations > 0 {
		return r.opts.MaxMatrixCombinations
	}
	return DefaultMaxMatrixCombinations
}

// substitutePodTemplate replaces a matrix combination's $(params.NAME) in a pod template the PipelineRun
// gives the task (taskRunSpecs[].podTemplate may select a node per combination, as Tekton allows).
func substitutePodTemplate(pt *pipelinev1.PodTemplate, combo pipelinev1.Params) (*pipelinev1.PodTemplate, error) {
	if pt == nil || len(combo) == 0 {
		return pt, nil
	}
	raw, err := json.Marshal(pt)
	if err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	if !bytes.Contains(raw, []byte("$(params.")) {
		return pt, nil
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	v := subst.Vars{}
	for _, p := range combo {
		v.SetString("params."+p.Name, p.Value.StringVal)
	}
	if raw, err = json.Marshal(substituteStrings(doc, v)); err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	out := &pipelinev1.PodTemplate{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	return out, nil
}

// substituteStrings replaces variables in every string (values and map keys) of a decoded JSON document.
func substituteStrings(doc any, v subst.Resolver) any {
	switch d := doc.(type) {
	case string:
		return subst.String(d, v)
	case []any:
		for i := range d {
			d[i] = substituteStrings(d[i], v)
		}
	case map[string]any:
		out := make(map[string]any, len(d))
		for k, x := range d {
			out[subst.String(k, v)] = substituteStrings(x, v)
		}
		return out
	}
	return doc
}

// matrixDisplayName is the childReferences display name of combination c: the matrix.include entry's
// name, else the task's displayName, with the combination's params substituted.
func matrixDisplayName(pt *pipelinev1.PipelineTask, c matrixCombo) string {
	name := pt.DisplayName
	if c.name != "" {
		name = c.name
	}
	if name == "" || !strings.Contains(name, "$(") {
		return name
	}
	v := subst.Vars{}
	for _, p := range c.params {
		v.SetString("params."+p.Name, p.Value.StringVal)
	}
	for _, p := range pt.Params {
		if _, ok := v["params."+p.Name]; !ok && p.Value.Type == pipelinev1.ParamTypeString {
			v.SetString("params."+p.Name, p.Value.StringVal)
		}
	}
	return subst.String(name, v)
}

// aggregateResults sets a finished matrixed task's results as arrays of its TaskRuns' string results
// (in combination order), and $(tasks.T.matrix.R.length).
func aggregateResults(v subst.Vars, prefix string, runs []*pipelinev1.TaskRun) {
	byName := map[string][]string{}
	for _, tr := range runs {
		if tr == nil {
			continue
		}
		for _, res := range tr.Status.Results {
			if res.Value.Type == pipelinev1.ParamTypeString || res.Value.Type == "" {
				byName[res.Name] = append(byName[res.Name], res.Value.StringVal)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.Set(prefix+"results."+n, subst.Arr(byName[n]))
		v.SetString(prefix+"matrix."+n+".length", fmt.Sprint(len(byName[n])))
	}
}

// matrixLength is $(tasks.T.matrix.length): the number of combinations (counted from the spec until
// the task has started).
func (s *ptState) matrixLength() (int, bool) {
	if s.mx.combos != nil {
		return len(s.mx.combos), true
	}
	n, ok := literalCombinations(s.pt.Matrix)
	return n, ok
}

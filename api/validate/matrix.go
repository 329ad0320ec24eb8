package validate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/cel-go/cel"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// maxMatrixCombinations is Tekton's default-max-matrix-combinations-count (the executor's default).
const maxMatrixCombinations = 256

// variableRef is one $(…) reference.
var variableRef = regexp.MustCompile(`\$\([^)]*\)`)

// pipelineTaskFeatures checks what a pipeline task may use beyond a Task: a pipeline in its place
// (refused), a matrix and cel when expressions. spec is the task's Task when known.
func (v *validator) pipelineTaskFeatures(tp string, pt *pipelinev1.PipelineTask, spec *pipelinev1.TaskSpec) {
	if pt.PipelineSpec != nil {
		v.add(tp+".pipelineSpec", "Pipelines in Pipelines are not supported by hookrun: write the Pipeline's tasks into this Pipeline")
	}
	if pt.PipelineRef != nil {
		v.add(tp+".pipelineRef", "Pipelines in Pipelines are not supported by hookrun: write the Pipeline's tasks into this Pipeline")
	}
	for i, w := range pt.When {
		if w.CEL == "" {
			continue
		}
		f := fmt.Sprintf("%s.when[%d].cel", tp, i)
		if w.Input != "" || w.Operator != "" || len(w.Values) > 0 {
			v.add(f, "cannot be combined with input, operator or values")
		}
		if err := checkWhenCEL(w.CEL); err != nil {
			v.add(f, "%v", err)
		}
	}
	if pt.Matrix != nil {
		v.matrix(tp+".matrix", pt, spec)
	}
}

// checkWhenCEL compiles a cel when expression. Variables are replaced by a placeholder first, so only the
// syntax can be checked when it has any; without variables it must also be of type bool.
func checkWhenCEL(expr string) error {
	env, err := cel.NewEnv()
	if err != nil {
		return err
	}
	if variableRef.MatchString(expr) {
		if _, iss := env.Parse(variableRef.ReplaceAllString(expr, "x")); iss.Err() != nil {
			return fmt.Errorf("does not parse: %w", iss.Err())
		}
		return nil
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return fmt.Errorf("does not compile: %w", iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return fmt.Errorf("is of type %s, a when expression must be a bool", t)
	}
	return nil
}

// matrix checks a matrix: param types (arrays, or whole-array references; include params strings; the
// Task's params they fill are strings), names given once, not also in params, and the number of
// combinations of written-out arrays within Tekton's default maximum.
func (v *validator) matrix(path string, pt *pipelinev1.PipelineTask, spec *pipelinev1.TaskSpec) {
	plain := map[string]bool{}
	for _, p := range pt.Params {
		plain[p.Name] = true
	}
	declared := map[string]pipelinev1.ParamType{}
	if spec != nil {
		for _, ps := range spec.Params {
			declared[ps.Name] = ps.EffectiveType()
		}
	}
	checkTarget := func(f, name string) {
		if t, ok := declared[name]; ok && t != pipelinev1.ParamTypeString {
			v.add(f, "param %q is declared %s by the Task: a matrix gives each TaskRun a string", name, t)
		}
	}
	seen := map[string]bool{}
	for i, p := range pt.Matrix.Params {
		f := fmt.Sprintf("%s.params[%d]", path, i)
		switch {
		case seen[p.Name]:
			v.add(f+".name", "matrix param %q is given twice", p.Name)
		case plain[p.Name]:
			v.add(f+".name", "param %q is given in both params and matrix", p.Name)
		}
		seen[p.Name] = true
		checkTarget(f+".name", p.Name)
		if t := p.Value.Type; t == pipelinev1.ParamTypeObject || (t == pipelinev1.ParamTypeString && !isWholeRef(p.Value.StringVal)) {
			v.add(f+".value", "a matrix param must be an array (or a whole array reference such as $(params.NAME[*]))")
		}
	}
	for i, inc := range pt.Matrix.Include {
		for j, p := range inc.Params {
			f := fmt.Sprintf("%s.include[%d].params[%d]", path, i, j)
			if p.Value.Type != "" && p.Value.Type != pipelinev1.ParamTypeString {
				v.add(f+".value", "an include param is a string")
			}
			checkTarget(f+".name", p.Name)
		}
	}
	if n, ok := literalCombinations(pt.Matrix); ok && n > maxMatrixCombinations {
		v.add(path, "fans out to %d combinations, more than Tekton's default-max-matrix-combinations-count (%d)", n, maxMatrixCombinations)
	}
}

// literalCombinations counts a matrix's combinations as Tekton does: the product of the arrays' lengths,
// plus the include entries that share no value with a combination (nor with an entry added before them).
// ok is false when a param is a reference, whose length is known only at run time.
func literalCombinations(m *pipelinev1.Matrix) (int, bool) {
	values := map[string]map[string]bool{}
	n := 0
	for _, p := range m.Params {
		if p.Value.Type != pipelinev1.ParamTypeArray {
			return 0, false
		}
		set := map[string]bool{}
		for _, x := range p.Value.ArrayVal {
			set[x] = true
		}
		values[p.Name] = set
		if n == 0 {
			n = 1
		}
		n *= len(p.Value.ArrayVal)
	}
	var added []map[string]string
	for _, inc := range m.Include {
		shared := false
		entry := map[string]string{}
		for _, p := range inc.Params {
			entry[p.Name] = p.Value.StringVal
			if values[p.Name][p.Value.StringVal] && n > 0 {
				shared = true
			}
			for _, a := range added {
				if x, ok := a[p.Name]; ok && x == p.Value.StringVal {
					shared = true
				}
			}
		}
		if !shared && len(entry) > 0 {
			added = append(added, entry)
		}
	}
	return n + len(added), true
}

// isWholeRef reports whether s is exactly one variable reference.
func isWholeRef(s string) bool {
	return strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1
}

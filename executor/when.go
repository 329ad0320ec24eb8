package executor

import (
	"fmt"

	"github.com/google/cel-go/cel"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// ReasonCELEvaluationFailed fails a PipelineRun whose cel when expression does not evaluate to a bool
// (Tekton's reason).
const ReasonCELEvaluationFailed = "CELEvaluationFailed"

// whenAllows evaluates a pipeline task's when expressions, already substituted: input/operator/values as
// evalWhen does, and Tekton's cel expressions, each compiled and evaluated once here. A cel expression
// that does not compile or yields anything but a bool is an error.
func whenAllows(list pipelinev1.WhenExpressions) (bool, error) {
	for i, w := range list {
		if w.CEL == "" {
			if !evalWhen(pipelinev1.WhenExpressions{w}) {
				return false, nil
			}
			continue
		}
		ok, err := evalCEL(w.CEL)
		if err != nil {
			return false, fmt.Errorf("when[%d]: %w", i, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// evalCEL evaluates a cel when expression (variables already substituted) to a bool.
func evalCEL(expr string) (bool, error) {
	env, err := cel.NewEnv()
	if err != nil {
		return false, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return false, fmt.Errorf("cel expression %q does not compile: %w", expr, iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		return false, fmt.Errorf("cel expression %q is of type %s, not bool", expr, ast.OutputType())
	}
	prg, err := env.Program(ast)
	if err != nil {
		return false, fmt.Errorf("cel expression %q: %w", expr, err)
	}
	out, _, err := prg.Eval(cel.NoVars())
	if err != nil {
		return false, fmt.Errorf("cel expression %q: %w", expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("cel expression %q evaluated to %v (%s), not a bool", expr, out.Value(), out.Type())
	}
	return b, nil
}

// celProblem is the validation problem that fails a run whose when expression cannot be evaluated.
func celProblem(pr *pipelinev1.PipelineRun, s *ptState, err error) *validationError {
	return &validationError{reason: ReasonCELEvaluationFailed, msg: fmt.Sprintf("Error evaluating CEL %s: %s.when (pipeline task %q): %v", pr.Name, s.field, s.pt.Name, err)}
}

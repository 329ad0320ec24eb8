// Package celwhen evaluates the cel form of a step's when expressions with cel-go. It is kept out of
// package entrypoint so that the small in-Pod binary (cmd/hookrun-step) does not link cel-go: that binary
// asks the full hookrun binary (`hookrun step cel EXPR`) when a step has a cel expression.
package celwhen

import (
	"fmt"

	"github.com/google/cel-go/cel"
)

// Eval compiles and evaluates expr with no variables; it must evaluate to a bool.
func Eval(expr string) (bool, error) {
	env, err := cel.NewEnv()
	if err != nil {
		return false, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return false, fmt.Errorf("cel %q: %w", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		return false, fmt.Errorf("cel %q: %w", expr, err)
	}
	out, _, err := prg.Eval(map[string]any{})
	if err != nil {
		return false, fmt.Errorf("cel %q: %w", expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("cel %q evaluates to %v, not a bool", expr, out.Type())
	}
	return b, nil
}

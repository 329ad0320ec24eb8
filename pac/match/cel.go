package match

import (
	"context"
	"fmt"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// celCostLimit bounds one evaluation (the expression sees a stranger's payload).
const celCostLimit = 1_000_000

// celRule is a compiled on-cel-expression. The program is planned per event: "GLOB".pathChanged() is bound
// to that event's files.
type celRule struct {
	src string
	env *cel.Env
	ast *cel.Ast
}

func newEnv(files func() []string) (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.StringType),
		cel.Variable("event_title", cel.StringType),
		cel.Variable("target_branch", cel.StringType),
		cel.Variable("source_branch", cel.StringType),
		cel.Variable("target_url", cel.StringType),
		cel.Variable("source_url", cel.StringType),
		cel.Variable("body", cel.DynType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("files", cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
		ext.Strings(), ext.Lists(), ext.Sets(),
		cel.Function("pathChanged", cel.MemberOverload("string_pathChanged", []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				g, ok := v.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.Bool(anyGlob([]string{normGlob(string(g))}, files()...))
			}))),
	)
}

func compileCEL(src string) (*celRule, error) {
	env, err := newEnv(func() []string { return nil })
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("the expression gives %s, want bool", t)
	}
	return &celRule{src: src, env: env, ast: ast}, nil
}

func (c *celRule) eval(ctx context.Context, ev Event) (bool, error) {
	env, err := newEnv(func() []string { return ev.Files.All })
	if err != nil {
		return false, err
	}
	prg, err := env.Program(c.ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	headers := ev.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	body := ev.Body
	if body == nil {
		body = map[string]any{}
	}
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	out, _, err := prg.ContextEval(ctx, map[string]any{
		"event": ev.Type, "event_title": ev.Title, "target_branch": ev.TargetBranch, "source_branch": ev.SourceBranch,
		"target_url": ev.TargetURL, "source_url": ev.SourceURL, "body": body, "headers": headers,
		"files": map[string][]string{"all": nz(ev.Files.All), "added": nz(ev.Files.Added), "deleted": nz(ev.Files.Deleted),
			"modified": nz(ev.Files.Modified), "renamed": nz(ev.Files.Renamed)},
	})
	if err != nil {
		return false, fmt.Errorf("%q: %w", c.src, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%q gave %v, want a bool", c.src, out.Value())
	}
	return b, nil
}

// Eval evaluates a boolean CEL expression over ev with on-cel-expression's variables (a Repository
// param's filter).
func Eval(ctx context.Context, src string, ev Event) (bool, error) {
	c, err := compileCEL(src)
	if err != nil {
		return false, err
	}
	return c.eval(ctx, ev)
}

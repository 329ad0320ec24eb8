package match

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// celCostLimit bounds one evaluation (the expression sees a stranger's payload).
const celCostLimit = 1_000_000

// builtinVars are the variables every on-cel-expression sees; a Repository param of the same name is not
// declared again.
var builtinVars = map[string]bool{"event": true, "event_title": true, "target_branch": true, "source_branch": true,
	"target_url": true, "source_url": true, "body": true, "headers": true, "files": true}

// celRule is an on-cel-expression. It is checked per event: the Repository's params are variables too,
// and "GLOB".pathChanged() is bound to that event's files.
type celRule struct {
	src string
}

func newEnv(files func() []string, params []string) (*cel.Env, error) {
	opts := []cel.EnvOption{
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
	}
	for _, p := range params {
		if !builtinVars[p] && validIdent(p) {
			opts = append(opts, cel.Variable(p, cel.StringType))
		}
	}
	return cel.NewEnv(opts...)
}

var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validIdent(s string) bool { return identPattern.MatchString(s) }

// undeclaredPattern is cel-go's message for an unknown identifier.
var undeclaredPattern = regexp.MustCompile(`undeclared reference to '([A-Za-z_][A-Za-z0-9_]*)'`)

// check compiles src with params declared. It returns the identifiers that are neither variables nor
// params when they are the only problem (they may be params of a Repository not known here), else the
// error.
func check(src string, params []string) (*cel.Ast, *cel.Env, []string, error) {
	env, err := newEnv(func() []string { return nil }, params)
	if err != nil {
		return nil, nil, nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var names []string
		for _, e := range iss.Errors() {
			m := undeclaredPattern.FindStringSubmatch(e.Message)
			if m == nil {
				return nil, nil, nil, iss.Err()
			}
			names = append(names, m[1])
		}
		sort.Strings(names)
		return nil, nil, names, nil
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, nil, nil, fmt.Errorf("the expression gives %s, want bool", t)
	}
	return ast, env, nil, nil
}

// compileCEL checks src's syntax and types, identifiers other than the variables aside (Repository params).
func compileCEL(src string) (*celRule, error) {
	if _, _, _, err := check(src, nil); err != nil {
		return nil, err
	}
	return &celRule{src: src}, nil
}

// Undeclared returns the identifiers of annotations' on-cel-expression that are not Pipelines-as-Code's
// variables: they must be params of the Repository (`hookrun validate` warns about them).
func Undeclared(annotations map[string]string) []string {
	src := strings.TrimSpace(annotations[OnCELExpression])
	if src == "" {
		return nil
	}
	_, _, names, _ := check(src, nil)
	return names
}

func (c *celRule) eval(ctx context.Context, ev Event) (bool, error) {
	params := make([]string, 0, len(ev.Params))
	for k := range ev.Params {
		params = append(params, k)
	}
	sort.Strings(params)
	ast, _, undeclared, err := check(c.src, params)
	if err != nil {
		return false, fmt.Errorf("%q: %w", c.src, err)
	}
	if len(undeclared) > 0 {
		return false, fmt.Errorf("%q: %s is neither a Pipelines-as-Code variable nor a param of the Repository", c.src, strings.Join(undeclared, ", "))
	}
	env, err := newEnv(func() []string { return ev.Files.All }, params)
	if err != nil {
		return false, err
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out, _, err := prg.ContextEval(ctx, activation(ev, params))
	if err != nil {
		return false, fmt.Errorf("%q: %w", c.src, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%q gave %v, want a bool", c.src, out.Value())
	}
	return b, nil
}

func activation(ev Event, params []string) map[string]any {
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
	vars := map[string]any{
		"event": ev.Type, "event_title": ev.Title, "target_branch": ev.TargetBranch, "source_branch": ev.SourceBranch,
		"target_url": ev.TargetURL, "source_url": ev.SourceURL, "body": body, "headers": headers,
		"files": map[string][]string{"all": nz(ev.Files.All), "added": nz(ev.Files.Added), "deleted": nz(ev.Files.Deleted),
			"modified": nz(ev.Files.Modified), "renamed": nz(ev.Files.Renamed)},
	}
	for _, p := range params {
		if !builtinVars[p] && validIdent(p) {
			vars[p] = ev.Params[p]
		}
	}
	return vars
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

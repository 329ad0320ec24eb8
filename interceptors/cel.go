package interceptors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// celInterruptCheckFrequency is how many comprehension iterations pass
// between checks of the request context during evaluation.
const celInterruptCheckFrequency = 100

// celEvalTimeLimit bounds the wall-clock time of one Process call of a CEL
// interceptor. The cost limit alone does not bound time: cel-go's runtime
// cost tracker (v0.31) is quadratic in the number of comprehension
// iterations, so a payload with a very large array could keep a core busy
// for many seconds before reaching the cost budget.
const celEvalTimeLimit = time.Second

// errCELTimeLimit is the cancellation cause used when celEvalTimeLimit is reached.
var errCELTimeLimit = errors.New("cel evaluation time limit exceeded")

// celInterceptor filters events and adds extensions with CEL expressions.
// All expressions are compiled and type-checked by Build; Process only
// evaluates them.
type celInterceptor struct {
	filter    cel.Program // nil when no filter
	filterSrc string
	overlays  []celOverlay
	secrets   SecretGetter
	adapter   types.Adapter
	scopeType *types.Type
	// loops: some expression holds a comprehension (all, exists, map, filter…), the only CEL form
	// whose evaluation time the cost budget does not bound in practice; only then is an evaluation
	// given celEvalTimeLimit (a timer per event otherwise paid for nothing).
	loops bool
}

type celOverlay struct {
	key  string
	path []string
	src  string
	prg  cel.Program
}

// celOverlayParam is one element of the overlays param.
type celOverlayParam struct {
	Key        string `json:"key"`
	Expression string `json:"expression"`
}

// newCELEnv returns the CEL environment of Tekton's CEL interceptor: the
// variables body, header, extensions and requestURL, Tekton's functions and
// the cel-go Strings, Encoders, Sets, Lists and Math extensions.
func newCELEnv() (*cel.Env, error) {
	mapStrDyn := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("body", cel.DynType),
		// Tekton declares header as map(string, dyn); its values are lists of strings.
		cel.Variable("header", mapStrDyn),
		cel.Variable("extensions", mapStrDyn),
		cel.Variable("requestURL", cel.StringType),
		ext.Strings(),
		ext.Encoders(),
		ext.Sets(),
		ext.Lists(),
		ext.Math(),
		cel.Lib(triggersLib{}),
	)
}

func newCEL(params map[string]json.RawMessage, secrets SecretGetter, opts Options) (ic *celInterceptor, err error) {
	const iname = "cel"
	if err := checkParamNames(iname, params, "filter", "overlays"); err != nil {
		return nil, err
	}
	var filter string
	if raw, present := params["filter"]; present && !isNull(raw) {
		if err := json.Unmarshal(raw, &filter); err != nil {
			return nil, paramError(iname, "filter", errors.New("must be a string"))
		}
	}
	var overlays []celOverlayParam
	if raw, present := params["overlays"]; present && !isNull(raw) {
		if err := decodeStrict(raw, &overlays); err != nil {
			return nil, paramError(iname, "overlays", fmt.Errorf("must be a list of {key, expression}: %w", err))
		}
	}
	// The CEL front end is robust, but a malformed expression must never take
	// the listener down while it loads its configuration.
	defer func() {
		if r := recover(); r != nil {
			ic, err = nil, fmt.Errorf("cel interceptor: internal error compiling expressions: %v", r)
		}
	}()
	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("cel interceptor: creating environment: %w", err)
	}
	c := &celInterceptor{
		secrets:   secrets,
		adapter:   env.CELTypeAdapter(),
		scopeType: types.NewOpaqueType(secretScopeTypeName),
	}
	progOpts := []cel.ProgramOption{
		cel.EvalOptions(cel.OptTrackCost),
		cel.CostLimit(opts.celCostLimit()),
		cel.InterruptCheckFrequency(celInterruptCheckFrequency),
	}
	if strings.TrimSpace(filter) != "" {
		ast, iss := env.Compile(filter)
		if iss != nil && iss.Err() != nil {
			return nil, paramError(iname, "filter", iss.Err())
		}
		if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
			return nil, fmt.Errorf("cel interceptor: filter must evaluate to bool, got %s", t)
		}
		c.loops = c.loops || hasComprehension(ast)
		if c.filter, err = env.Program(ast, progOpts...); err != nil {
			return nil, paramError(iname, "filter", err)
		}
		c.filterSrc = filter
	}
	for i, o := range overlays {
		if o.Key == "" {
			return nil, paramError(iname, "overlays", fmt.Errorf("overlay %d: key is empty", i))
		}
		path, err := splitOverlayKey(o.Key)
		if err != nil {
			return nil, paramError(iname, "overlays", fmt.Errorf("overlay key %q: %w", o.Key, err))
		}
		if strings.TrimSpace(o.Expression) == "" {
			return nil, paramError(iname, "overlays", fmt.Errorf("overlay key %q: expression is empty", o.Key))
		}
		ast, iss := env.Compile(o.Expression)
		if iss != nil && iss.Err() != nil {
			return nil, paramError(iname, "overlays", fmt.Errorf("overlay key %q: %w", o.Key, iss.Err()))
		}
		prg, err := env.Program(ast, progOpts...)
		if err != nil {
			return nil, paramError(iname, "overlays", fmt.Errorf("overlay key %q: %w", o.Key, err))
		}
		c.loops = c.loops || hasComprehension(ast)
		c.overlays = append(c.overlays, celOverlay{key: o.Key, path: path, src: o.Expression, prg: prg})
	}
	return c, nil
}

// splitOverlayKey splits an overlay key on dots into the path of nested
// extension keys; "\." stands for a literal dot.
func splitOverlayKey(key string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch {
		case key[i] == '\\' && i+1 < len(key) && key[i+1] == '.':
			cur.WriteByte('.')
			i++
		case key[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(key[i])
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		if p == "" {
			return nil, errors.New("empty path segment")
		}
	}
	return parts, nil
}

// setPath stores v in m at the nested path, creating (or replacing non-map
// values with) intermediate maps.
func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, isMap := m[p].(map[string]any)
		if !isMap {
			next = make(map[string]any)
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// hasComprehension reports whether a checked expression holds a comprehension (a macro such as all,
// exists, map or filter, or a comprehension of the extension libraries).
func hasComprehension(a *cel.Ast) bool {
	return len(celast.MatchDescendants(celast.NavigateAST(a.NativeRep()), celast.KindMatcher(celast.ComprehensionKind))) > 0
}

// celActivation resolves the CEL variables of one request without building a map; each variable's
// CEL value is made when an expression first reads it (a filter on the body never converts the header).
type celActivation struct {
	adapter    types.Adapter
	req        *Request
	body       any
	extensions map[string]any
	secrets    ref.Val

	bodyVal, headerVal, extensionsVal ref.Val
}

func (a *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "body":
		if a.bodyVal == nil {
			a.bodyVal = a.adapter.NativeToValue(a.body)
		}
		return a.bodyVal, true
	case "header":
		if a.headerVal == nil {
			a.headerVal = newHeaderVal(a.adapter, a.req.Header)
		}
		return a.headerVal, true
	case "extensions":
		if a.extensionsVal == nil {
			a.extensionsVal = types.NewStringInterfaceMap(a.adapter, a.extensions)
		}
		return a.extensionsVal, true
	case "requestURL":
		return types.String(a.req.Context.EventURL), true
	case secretsVar:
		return a.secrets, true
	}
	return nil, false
}

func (a *celActivation) Parent() interpreter.Activation { return nil }

// Process implements Interceptor.
func (c *celInterceptor) Process(ctx context.Context, req *Request) Response {
	body, err := decodedBody(req)
	if err != nil {
		return fail(InvalidArgument, "%v", err)
	}
	extensions := req.Extensions
	if extensions == nil {
		extensions = map[string]any{}
	}
	evalCtx := ctx
	if c.loops {
		var cancel context.CancelFunc
		evalCtx, cancel = context.WithTimeoutCause(ctx, celEvalTimeLimit, errCELTimeLimit)
		defer cancel()
	}
	act := &celActivation{adapter: c.adapter, req: req, body: body, extensions: extensions,
		secrets: &secretScope{ctx: evalCtx, namespace: req.Namespace, getter: c.secrets, typ: c.scopeType}}
	if c.filter != nil {
		out, _, err := c.filter.ContextEval(evalCtx, act)
		if err != nil {
			return evalFailure(ctx, evalCtx, "filter", c.filterSrc, err)
		}
		matched, isBool := out.(types.Bool)
		if !isBool {
			return fail(InvalidArgument, "filter %q returned %s, not bool", c.filterSrc, out.Type().TypeName())
		}
		if !matched {
			return fail(Skip, "expression %s did not return true", c.filterSrc)
		}
	}
	var ext map[string]any
	for _, o := range c.overlays {
		out, _, err := o.prg.ContextEval(evalCtx, act)
		if err != nil {
			return evalFailure(ctx, evalCtx, "overlay "+o.key, o.src, err)
		}
		v, err := celToJSON(out, true)
		if err != nil {
			return fail(InvalidArgument, "overlay %s: expression %q: result not representable in JSON: %v", o.key, o.src, err)
		}
		if ext == nil {
			ext = make(map[string]any, len(c.overlays))
		}
		setPath(ext, o.path, v)
	}
	return proceed(ext)
}

// evalFailure maps an evaluation error: cancellation of the request context
// is Internal; anything else, including "cost limit exceeded" and the
// evaluation time limit, is InvalidArgument.
func evalFailure(ctx, evalCtx context.Context, what, src string, err error) Response {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fail(Internal, "%s: evaluation of %q interrupted: %v", what, src, ctxErr)
	}
	if errors.Is(context.Cause(evalCtx), errCELTimeLimit) {
		return fail(InvalidArgument, "%s: evaluation of %q took longer than %v: time limit exceeded", what, src, celEvalTimeLimit)
	}
	return fail(InvalidArgument, "%s: error evaluating %q: %v", what, src, err)
}

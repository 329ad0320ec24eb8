package interceptors

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/parser"
	"sigs.k8s.io/yaml"
)

// secretsVar is the hidden CEL variable through which compareSecret reaches
// the request-scoped secret lookup. '@' cannot appear in a user identifier,
// so expressions cannot refer to it directly.
const secretsVar = "@hookrun_secrets"

// secretScopeTypeName names the runtime type of the secretsVar value.
const secretScopeTypeName = "hookrun.secretScope"

// triggersLib declares Tekton Triggers' CEL extension functions:
//
//	<header>.match(name, value) -> bool         first value of the canonicalised header == value
//	<header>.canonical(name) -> string          first value of the canonicalised header, "" if absent
//	<string>.truncate(n) -> string              at most n characters; also truncate(s, n)
//	<string>.compareSecret(key, name[, ns]) -> bool  constant-time compare with a Secret key
//	<string>.parseJSON() -> map                 decode a JSON object
//	<string>.parseYAML() -> map                 decode a YAML mapping
//	<string>.parseURL() -> map                  scheme, host, path, rawQuery, fragment, query, queryStrings, auth
//	<value>.marshalJSON() -> string             JSON encoding; also marshalJSON(value)
//	<list>.first(), <list>.last() -> dyn        also first(list), last(list); null on an empty list (as Tekton)
//	<string>.translate(regex, repl) -> string   regexp replace-all
type triggersLib struct{}

func (triggersLib) CompileOptions() []cel.EnvOption {
	mapStrDyn := cel.MapType(cel.StringType, cel.DynType)
	listT := cel.ListType(cel.TypeParamType("T"))
	return []cel.EnvOption{
		cel.Variable(secretsVar, cel.DynType),
		cel.Function("match",
			cel.MemberOverload("hookrun_match_map_string_string", []*cel.Type{mapStrDyn, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(celMatchHeader))),
		cel.Function("canonical",
			cel.MemberOverload("hookrun_canonical_map_string", []*cel.Type{mapStrDyn, cel.StringType}, cel.StringType,
				cel.BinaryBinding(celCanonicalHeader))),
		cel.Function("truncate",
			cel.MemberOverload("hookrun_truncate_string_int", []*cel.Type{cel.StringType, cel.IntType}, cel.StringType,
				cel.BinaryBinding(celTruncate)),
			cel.Overload("hookrun_truncate_global_string_int", []*cel.Type{cel.StringType, cel.IntType}, cel.StringType,
				cel.BinaryBinding(celTruncate))),
		// x.compareSecret(k, n[, ns]) is rewritten by a macro into
		// compareSecret(@hookrun_secrets, x, k, n[, ns]).
		cel.Macros(
			cel.ReceiverMacro("compareSecret", 2, expandCompareSecret),
			cel.ReceiverMacro("compareSecret", 3, expandCompareSecret),
		),
		cel.Function("compareSecret",
			cel.Overload("hookrun_compareSecret_scope_string_string_string",
				[]*cel.Type{cel.DynType, cel.StringType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(celCompareSecret)),
			cel.Overload("hookrun_compareSecret_scope_string_string_string_string",
				[]*cel.Type{cel.DynType, cel.StringType, cel.StringType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(celCompareSecret))),
		cel.Function("parseJSON",
			cel.MemberOverload("hookrun_parseJSON_string", []*cel.Type{cel.StringType}, mapStrDyn,
				cel.UnaryBinding(celParseJSON))),
		cel.Function("parseYAML",
			cel.MemberOverload("hookrun_parseYAML_string", []*cel.Type{cel.StringType}, mapStrDyn,
				cel.UnaryBinding(celParseYAML))),
		cel.Function("parseURL",
			cel.MemberOverload("hookrun_parseURL_string", []*cel.Type{cel.StringType}, mapStrDyn,
				cel.UnaryBinding(celParseURL))),
		cel.Function("marshalJSON",
			cel.MemberOverload("hookrun_marshalJSON_dyn", []*cel.Type{cel.DynType}, cel.StringType,
				cel.UnaryBinding(celMarshalJSON)),
			cel.Overload("hookrun_marshalJSON_global_dyn", []*cel.Type{cel.DynType}, cel.StringType,
				cel.UnaryBinding(celMarshalJSON))),
		cel.Function("first",
			cel.MemberOverload("hookrun_first_list", []*cel.Type{listT}, cel.DynType,
				cel.UnaryBinding(celFirst)),
			cel.Overload("hookrun_first_global_list", []*cel.Type{listT}, cel.DynType,
				cel.UnaryBinding(celFirst))),
		cel.Function("last",
			cel.MemberOverload("hookrun_last_list", []*cel.Type{listT}, cel.DynType,
				cel.UnaryBinding(celLast)),
			cel.Overload("hookrun_last_global_list", []*cel.Type{listT}, cel.DynType,
				cel.UnaryBinding(celLast))),
		cel.Function("translate",
			cel.MemberOverload("hookrun_translate_string_string_string", []*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.StringType,
				cel.FunctionBinding(celTranslate))),
	}
}

func (triggersLib) ProgramOptions() []cel.ProgramOption { return nil }

// expandCompareSecret rewrites value.compareSecret(args...) into the global
// call compareSecret(@hookrun_secrets, value, args...).
func expandCompareSecret(eh parser.ExprHelper, target ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
	callArgs := make([]ast.Expr, 0, len(args)+2)
	callArgs = append(callArgs, eh.NewIdent(secretsVar), target)
	callArgs = append(callArgs, args...)
	return eh.NewCall("compareSecret", callArgs...), nil
}

// headerVal is the CEL value of the header variable: a map(string, list(string))
// that keeps the http.Header at hand so match/canonical need no conversion.
type headerVal struct {
	traits.Mapper
	h http.Header
}

func newHeaderVal(adapter types.Adapter, h http.Header) *headerVal {
	if h == nil {
		h = http.Header{}
	}
	return &headerVal{Mapper: types.NewDynamicMap(adapter, map[string][]string(h)), h: h}
}

// headerOf returns the http.Header a match/canonical receiver stands for.
func headerOf(v ref.Val) (http.Header, error) {
	if hv, isHeader := v.(*headerVal); isHeader {
		return hv.h, nil
	}
	n, err := v.ConvertToNative(reflect.TypeOf(http.Header{}))
	if err != nil {
		return nil, fmt.Errorf("failed to convert to http.Header: %w", err)
	}
	h, _ := n.(http.Header)
	return h, nil
}

func celMatchHeader(args ...ref.Val) ref.Val {
	h, err := headerOf(args[0])
	if err != nil {
		return types.NewErrFromString("match: " + err.Error())
	}
	name, ok1 := args[1].(types.String)
	want, ok2 := args[2].(types.String)
	if !ok1 || !ok2 {
		return types.NewErrFromString("match: arguments must be strings")
	}
	return types.Bool(h.Get(string(name)) == string(want))
}

func celCanonicalHeader(lhs, rhs ref.Val) ref.Val {
	h, err := headerOf(lhs)
	if err != nil {
		return types.NewErrFromString("canonical: " + err.Error())
	}
	name, isString := rhs.(types.String)
	if !isString {
		return types.NewErrFromString("canonical: argument must be a string")
	}
	return types.String(h.Get(string(name)))
}

// celTruncate keeps at most n characters (code points, so the result stays
// valid UTF-8) of the string.
func celTruncate(lhs, rhs ref.Val) ref.Val {
	s, ok1 := lhs.(types.String)
	n, ok2 := rhs.(types.Int)
	if !ok1 || !ok2 {
		return types.NewErrFromString("truncate: want (string, int)")
	}
	if n < 0 {
		return types.NewErr("truncate: negative length %d", int64(n))
	}
	if int64(n) >= int64(len(s)) {
		return s
	}
	count := types.Int(0)
	for i := range string(s) {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// secretScope is the per-request value of secretsVar.
type secretScope struct {
	ctx       context.Context
	namespace string
	getter    SecretGetter
	typ       *types.Type
}

func (s *secretScope) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("secret scope is not convertible")
}
func (s *secretScope) ConvertToType(ref.Type) ref.Val {
	return types.NewErrFromString("secret scope is not convertible")
}
func (s *secretScope) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(s)) }
func (s *secretScope) Type() ref.Type              { return s.typ }
func (s *secretScope) Value() any                  { return s }

// celCompareSecret implements compareSecret(scope, value, key, name[, namespace]).
// Like Tekton, the secret is read from the trigger's namespace; a different
// explicit namespace is refused rather than silently ignored.
func celCompareSecret(args ...ref.Val) ref.Val {
	scope, isScope := args[0].(*secretScope)
	if !isScope {
		return types.NewErrFromString("compareSecret: must be called as <string>.compareSecret(key, secretName[, namespace])")
	}
	strs := make([]string, len(args)-1)
	for i, a := range args[1:] {
		s, isString := a.(types.String)
		if !isString {
			return types.NewErrFromString("compareSecret: arguments must be strings")
		}
		strs[i] = string(s)
	}
	value, key, name := strs[0], strs[1], strs[2]
	if len(strs) == 4 && strs[3] != "" && strs[3] != scope.namespace {
		return types.NewErr("compareSecret: secret %s/%s is outside the trigger's namespace %q", strs[3], name, scope.namespace)
	}
	if scope.getter == nil {
		return types.NewErrFromString("compareSecret: no SecretGetter configured")
	}
	secret, err := scope.getter.GetSecretKey(scope.ctx, scope.namespace, name, key)
	if err != nil {
		return types.NewErr("compareSecret: reading key %q of secret %s/%s: %v", key, scope.namespace, name, err)
	}
	if len(secret) == 0 {
		return types.NewErr("compareSecret: key %q of secret %s/%s is empty", key, scope.namespace, name)
	}
	return types.Bool(subtle.ConstantTimeCompare(secret, []byte(value)) == 1)
}

func celParseJSON(v ref.Val) ref.Val {
	s, isString := v.(types.String)
	if !isString {
		return types.NewErrFromString("parseJSON: receiver must be a string")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return types.NewErr("parseJSON: %s", jsonErrSummary(err))
	}
	if m == nil {
		m = map[string]any{}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

func celParseYAML(v ref.Val) ref.Val {
	s, isString := v.(types.String)
	if !isString {
		return types.NewErrFromString("parseYAML: receiver must be a string")
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return types.NewErr("parseYAML: %v", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

func celParseURL(v ref.Val) ref.Val {
	s, isString := v.(types.String)
	if !isString {
		return types.NewErrFromString("parseURL: receiver must be a string")
	}
	u, err := url.Parse(string(s))
	if err != nil {
		return types.NewErrFromString("parseURL: not a valid URL")
	}
	q := u.Query()
	query := make(map[string]any, len(q))
	queryStrings := make(map[string]any, len(q))
	for k, vs := range q {
		query[k] = strings.Join(vs, ",")
		queryStrings[k] = vs
	}
	m := map[string]any{
		"scheme":       u.Scheme,
		"host":         u.Host,
		"path":         u.Path,
		"rawQuery":     u.RawQuery,
		"fragment":     u.Fragment,
		"query":        query,
		"queryStrings": queryStrings,
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		m["auth"] = map[string]any{"username": u.User.Username(), "password": pass}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

func celMarshalJSON(v ref.Val) ref.Val {
	native, err := celToJSON(v, false)
	if err != nil {
		return types.NewErr("marshalJSON: %v", err)
	}
	// encoding/json's defaults, as Tekton's: sorted keys, <, > and & escaped as \u003c, \u003e, \u0026.
	out, err := json.Marshal(native)
	if err != nil {
		return types.NewErr("marshalJSON: %v", err)
	}
	return types.String(out)
}

func celFirst(v ref.Val) ref.Val { return listEnd(v, "first", false) }
func celLast(v ref.Val) ref.Val  { return listEnd(v, "last", true) }

func listEnd(v ref.Val, fn string, last bool) ref.Val {
	l, isList := v.(traits.Lister)
	if !isList {
		return types.NewErr("%s: receiver must be a list", fn)
	}
	n, _ := l.Size().(types.Int)
	if n == 0 {
		return types.NullValue // Tekton's first()/last() of an empty list is null, not an error
	}
	if last {
		return l.Get(n - 1)
	}
	return l.Get(types.IntZero)
}

func celTranslate(args ...ref.Val) ref.Val {
	s, ok1 := args[0].(types.String)
	pattern, ok2 := args[1].(types.String)
	repl, ok3 := args[2].(types.String)
	if !ok1 || !ok2 || !ok3 {
		return types.NewErrFromString("translate: arguments must be strings")
	}
	re, err := regexp.Compile(string(pattern))
	if err != nil {
		return types.NewErr("translate: %v", err)
	}
	return types.String(re.ReplaceAllString(string(s), string(repl)))
}

// celToJSON converts a CEL value to the JSON data model encoding/json uses
// (map[string]any, []any, string, float64, bool, nil). Numbers become
// float64, bytes base64 strings, timestamps RFC 3339 strings and durations
// "<seconds>s", which is what Tekton's protobuf round trip produces. With
// deep set, values backed by native JSON data are copied so the result
// never aliases the shared request body.
func celToJSON(v ref.Val, deep bool) (any, error) {
	switch t := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(t), nil
	case types.Int:
		return float64(t), nil
	case types.Uint:
		return float64(t), nil
	case types.Double:
		f := float64(t)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not representable in JSON", f)
		}
		return f, nil
	case types.String:
		return string(t), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(t), nil
	case types.Timestamp:
		return t.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return strconv.FormatFloat(t.Duration.Seconds(), 'f', -1, 64) + "s", nil
	case traits.Mapper:
		if native, isJSON := t.Value().(map[string]any); isJSON {
			if !deep {
				return native, nil
			}
			return copyJSON(native)
		}
		out := make(map[string]any)
		it := t.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, isString := k.(types.String)
			if !isString {
				return nil, fmt.Errorf("map key of type %s is not representable in JSON", k.Type().TypeName())
			}
			val, err := celToJSON(t.Get(k), deep)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = val
		}
		return out, nil
	case traits.Lister:
		if native, isJSON := t.Value().([]any); isJSON {
			if !deep {
				return native, nil
			}
			return copyJSON(native)
		}
		n, _ := t.Size().(types.Int)
		out := make([]any, 0, int(n))
		it := t.Iterator()
		for it.HasNext() == types.True {
			val, err := celToJSON(it.Next(), deep)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	case *types.Err:
		return nil, t
	}
	return nil, fmt.Errorf("value of type %s is not representable in JSON", v.Type().TypeName())
}

// copyJSON deep-copies native JSON data; values of other Go types (which
// can appear in maps built by this package) go through the CEL conversion.
func copyJSON(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, float64, string, json.Number:
		return t, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := copyJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := copyJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return celToJSON(types.DefaultTypeAdapter.NativeToValue(v), true)
}

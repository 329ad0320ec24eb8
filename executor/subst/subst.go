// Package subst replaces Tekton variables — $(params.x), $(params['x']), $(params.x[*]), $(params.x.key),
// $(results.x.path), $(workspaces.x.path), $(tasks.t.results.r), $(context.taskRun.name) … — in strings.
//
// Replacement is single-pass: the text a variable expands to is never scanned again, so a value that itself
// contains "$(params.y)" (webhook payloads reach PipelineRun params verbatim) arrives in the step unchanged.
// Expressions that name no known variable — notably shell command substitutions such as $(git rev-parse HEAD)
// in scripts — are left exactly as written.
package subst

import (
	"strconv"
	"strings"
)

// Kind is the shape of a Value.
type Kind int

// The value shapes.
const (
	KindString Kind = iota
	KindArray
	KindObject
)

// Value is what a variable expands to.
type Value struct {
	Kind Kind
	Str  string
	Arr  []string
	Obj  map[string]string
}

// Str returns a string Value.
func Str(s string) Value { return Value{Kind: KindString, Str: s} }

// Arr returns an array Value.
func Arr(a []string) Value { return Value{Kind: KindArray, Arr: a} }

// Obj returns an object Value.
func Obj(o map[string]string) Value { return Value{Kind: KindObject, Obj: o} }

// Vars maps variable names, written without "$(" and ")" and with names as dotted segments
// ("params.IMAGE", "tasks.build.results.digest", "workspaces.source.path"), to values. Array elements,
// object keys and the bracket spellings of names are resolved by Lookup.
type Vars map[string]Value

// Set records a variable.
func (v Vars) Set(name string, val Value) { v[name] = val }

// SetString records a string variable.
func (v Vars) SetString(name, s string) { v[name] = Str(s) }

// Merge copies every variable of o into v (o wins).
func (v Vars) Merge(o Vars) {
	for k, val := range o {
		v[k] = val
	}
}

// segment is one part of a variable expression: a name ("params", "x", quoted names keep their dots), or
// an index "[*]" / "[3]".
type segment struct {
	text  string
	index bool
}

// parse splits an expression like params['a.b'][*] or tasks.t.results.r.key into segments. ok is false
// when the text cannot be a variable (spaces, quotes out of place, …).
func parse(expr string) ([]segment, bool) {
	var segs []segment
	i := 0
	for i < len(expr) {
		switch c := expr[i]; {
		case c == '.':
			if i == 0 || i == len(expr)-1 {
				return nil, false
			}
			i++
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, false
			}
			inner := expr[i+1 : i+end]
			i += end + 1
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				segs = append(segs, segment{text: inner[1 : len(inner)-1]})
				continue
			}
			if inner != "*" {
				if _, err := strconv.Atoi(inner); err != nil {
					return nil, false
				}
			}
			segs = append(segs, segment{text: inner, index: true})
		default:
			j := i
			for j < len(expr) && expr[j] != '.' && expr[j] != '[' {
				if !nameByte(expr[j]) {
					return nil, false
				}
				j++
			}
			segs = append(segs, segment{text: expr[i:j]})
			i = j
		}
	}
	return segs, len(segs) > 0
}

func nameByte(c byte) bool {
	return c == '-' || c == '_' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Lookup resolves a variable expression (the text between "$(" and ")").
func (v Vars) Lookup(expr string) (Value, bool) {
	if val, ok := v[expr]; ok {
		return val, true
	}
	segs, ok := parse(expr)
	if !ok {
		return Value{}, false
	}
	// $(inputs.params.x) is the v1alpha1 spelling some v1beta1 tutorials still use.
	if len(segs) > 2 && segs[0].text == "inputs" && segs[1].text == "params" && !segs[0].index && !segs[1].index {
		segs = segs[1:]
	}
	for k := len(segs); k >= 1; k-- {
		names := make([]string, 0, k)
		for _, s := range segs[:k] {
			if s.index {
				names = nil
				break
			}
			names = append(names, s.text)
		}
		if names == nil {
			continue
		}
		val, ok := v[strings.Join(names, ".")]
		if !ok {
			continue
		}
		return selectPart(val, segs[k:])
	}
	return Value{}, false
}

// selectPart applies the trailing [*], [i] or .key of an expression to a value.
func selectPart(val Value, rest []segment) (Value, bool) {
	switch len(rest) {
	case 0:
		return val, true
	case 1:
	default:
		return Value{}, false
	}
	s := rest[0]
	switch {
	case s.index && s.text == "*":
		// $(params.a[*]) is the whole array; $(params.o[*]) the whole object (a pipeline task param passing
		// an object on).
		return val, true
	case s.index:
		i, _ := strconv.Atoi(s.text)
		if val.Kind != KindArray || i < 0 || i >= len(val.Arr) {
			return Value{}, false
		}
		return Str(val.Arr[i]), true
	default:
		if val.Kind != KindObject {
			return Value{}, false
		}
		x, ok := val.Obj[s.text]
		if !ok {
			return Value{}, false
		}
		return Str(x), true
	}
}

// Resolver resolves variable expressions; Vars is one.
type Resolver interface {
	Lookup(expr string) (Value, bool)
}

// String replaces every known variable in s, in one pass. Arrays are joined with spaces; objects and
// unknown expressions are left as written.
func String(s string, r Resolver) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	var b strings.Builder
	i := 0
	for {
		start := strings.Index(s[i:], "$(")
		if start < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		start += i
		b.WriteString(s[i:start])
		end := strings.IndexByte(s[start+2:], ')')
		if end < 0 {
			b.WriteString(s[start:])
			return b.String()
		}
		end += start + 2
		expr := s[start+2 : end]
		val, ok := r.Lookup(expr)
		switch {
		case ok && val.Kind == KindString:
			b.WriteString(val.Str)
			i = end + 1
		case ok && val.Kind == KindArray:
			b.WriteString(strings.Join(val.Arr, " "))
			i = end + 1
		default:
			// Not ours (e.g. a shell "$(cmd …)"): keep "$(" and scan on inside it, so a variable nested in a
			// command substitution is still replaced.
			b.WriteString("$(")
			i = start + 2
		}
	}
}

// Strings replaces variables in each element of list. An element that is exactly one array variable
// ($(params.a) or $(params.a[*]) of an array param) expands to that many elements (none for an empty array).
func Strings(list []string, r Resolver) []string {
	if list == nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1 &&
			strings.IndexByte(s, ')') == len(s)-1 {
			if val, ok := r.Lookup(s[2 : len(s)-1]); ok && val.Kind == KindArray {
				out = append(out, val.Arr...)
				continue
			}
		}
		out = append(out, String(s, r))
	}
	return out
}

// Refs returns the variable expressions in s whose first segment is one of prefixes (e.g. "params",
// "tasks"), in order of appearance. It is used to find result references and undeclared params.
func Refs(s string, prefixes ...string) []string {
	var out []string
	for i := 0; ; {
		start := strings.Index(s[i:], "$(")
		if start < 0 {
			return out
		}
		start += i
		end := strings.IndexByte(s[start+2:], ')')
		if end < 0 {
			return out
		}
		expr := s[start+2 : start+2+end]
		i = start + 2
		segs, ok := parse(expr)
		if !ok {
			continue
		}
		for _, p := range prefixes {
			if segs[0].text == p && !segs[0].index {
				out = append(out, expr)
				break
			}
		}
	}
}

// Segments splits a variable expression into its names, dropping index parts; ok is false if expr is not
// a well-formed variable. Refs callers use it to pick out e.g. the task and result of tasks.t.results.r.
func Segments(expr string) ([]string, bool) {
	segs, ok := parse(expr)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		if !s.index {
			out = append(out, s.text)
		}
	}
	return out, true
}

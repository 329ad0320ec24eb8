package conformance

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Root is one kind to compare: Tekton's Go type and the hookrun type that serves it.
type Root struct {
	Kind    string // "tekton.dev/v1 Task"
	Tekton  reflect.Type
	Hookrun reflect.Type
}

// Path is one JSON field path of a Tekton kind and what hookrun has there.
type Path struct {
	Kind string // the root's Kind
	Path string // "spec.steps[].name"
	// Present: hookrun's type has a field of this JSON name at this path.
	Present bool
	// Note says how a present field is checked when it is not expanded here: its fields are listed under
	// another path (the same pair of Go types), or hookrun keeps it as raw JSON.
	Note string
}

// field is one JSON field of a struct after flattening embedded and inline structs, as encoding/json does.
type field struct {
	name string
	typ  reflect.Type
}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	rawTypeNames  = map[string]bool{
		"k8s.io/apimachinery/pkg/runtime.RawExtension":                   true,
		"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSON":  true,
		"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured.Unstructured": true,
	}
)

// jsonFields lists the JSON fields of struct type t: exported fields by their json tag name, embedded
// structs without a name (or tagged ",inline") flattened into their parent.
func jsonFields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := strings.Contains(","+opts+",", ",inline,")
		ft := f.Type
		if (f.Anonymous && name == "") || inline {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !isRaw(ft) {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, typ: f.Type})
	}
	return out
}

// isRaw reports whether t holds arbitrary JSON (hookrun keeps what is below it as is).
func isRaw(t reflect.Type) bool {
	switch {
	case t.Kind() == reflect.Interface:
		return true
	case t.Kind() == reflect.Struct && t.NumField() == 1 && t.Field(0).Anonymous:
		return isRaw(t.Field(0).Type) // a wrapper of raw JSON, inline
	}
	return rawTypeNames[t.PkgPath()+"."+t.Name()]
}

// expandable reports whether the walk goes into struct type t: Tekton's, hookrun's and Knative's own types
// (status duck types), not Kubernetes' (shared by both sides as is) nor types with their own JSON form.
func expandable(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || isRaw(t) {
		return false
	}
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return false
	}
	p := t.PkgPath()
	for _, prefix := range []string{"github.com/tektoncd/", "github.com/hookrun/", "knative.dev/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// elem strips pointers, slices and maps off t, returning the element type and the path suffix they add.
func elem(t reflect.Type) (reflect.Type, string) {
	var suffix strings.Builder
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Slice, reflect.Array:
			if t.Elem().Kind() == reflect.Uint8 { // []byte is a base64 string
				return t, suffix.String()
			}
			suffix.WriteString("[]")
			t = t.Elem()
		case reflect.Map:
			suffix.WriteString("{}")
			t = t.Elem()
		default:
			return t, suffix.String()
		}
	}
}

type pair struct{ tekton, hookrun reflect.Type }

type visit struct {
	root   string
	path   string
	tekton reflect.Type
	hook   reflect.Type // nil when hookrun has no type here
}

// Walk lists every JSON field path of the roots' Tekton types, breadth first, each Tekton struct type
// expanded once per hookrun type it meets (later places say where its fields are listed), and reports
// for each path whether hookrun's types have it. Paths below a field hookrun lacks are not listed: the
// decision is taken on the field itself.
func Walk(roots []Root) []Path {
	var out []Path
	seen := map[pair]string{}
	var queue []visit
	for _, r := range roots {
		queue = append(queue, visit{root: r.Kind, tekton: r.Tekton, hook: r.Hookrun})
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		key := pair{v.tekton, v.hook}
		if _, ok := seen[key]; ok {
			continue // the parent row already says where these fields are listed
		}
		seen[key] = v.root + " " + v.path
		hookFields := map[string]reflect.Type{}
		if v.hook != nil && v.hook.Kind() == reflect.Struct {
			for _, f := range jsonFields(v.hook) {
				hookFields[f.name] = f.typ
			}
		}
		for _, f := range jsonFields(v.tekton) {
			if v.path == "" && (f.name == "apiVersion" || f.name == "kind") {
				continue
			}
			p := f.name
			if v.path != "" {
				p = v.path + "." + f.name
			}
			row := Path{Kind: v.root, Path: p}
			ht, ok := hookFields[f.name]
			if !ok {
				out = append(out, row)
				continue
			}
			row.Present = true
			te, suffix := elem(f.typ)
			he, _ := elem(ht)
			switch {
			case !expandable(te):
			case isRaw(he):
				row.Note = "hookrun keeps it as raw JSON"
			default:
				child := pair{te, he}
				if at, ok := seen[child]; ok {
					row.Note = "fields as at " + at
				} else if at := queued(queue, child); at != "" {
					row.Note = "fields as at " + at
				} else {
					queue = append(queue, visit{root: v.root, path: p + suffix, tekton: te, hook: he})
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// queued returns where pair k is already waiting to be expanded, or "".
func queued(queue []visit, k pair) string {
	for _, v := range queue {
		if v.tekton == k.tekton && v.hook == k.hookrun {
			return v.root + " " + v.path
		}
	}
	return ""
}

package templates

import (
	"sort"
	"strings"
)

// refKind is the kind of a $(...) reference found in a resource template.
type refKind uint8

const (
	refParam  refKind = iota + 1 // $(tt.params.NAME)
	refLegacy                    // $(params.NAME)
	refUID                       // $(uid)
)

// ref is one reference: raw[start:end] is the whole "$(...)" text.
type ref struct {
	start, end int
	kind       refKind
	name       string
}

const (
	openRef     = "$("
	paramPrefix = "tt.params."
	legacyPref  = "params."
	uidRef      = "uid)"
)

// findRefs returns the references in raw, in order and not overlapping. A
// reference runs to the first ")"; scanning resumes right after the "$(" of
// anything that is not a reference, so "$($(tt.params.a))" holds one.
func findRefs(raw string) []ref {
	var refs []ref
	i := 0
	for {
		j := strings.Index(raw[i:], openRef)
		if j < 0 {
			return refs
		}
		start := i + j
		body := raw[start+len(openRef):]
		var kind refKind
		var prefix int
		switch {
		case strings.HasPrefix(body, uidRef):
			refs = append(refs, ref{start: start, end: start + len(openRef) + len(uidRef), kind: refUID})
			i = start + len(openRef) + len(uidRef)
			continue
		case strings.HasPrefix(body, paramPrefix):
			kind, prefix = refParam, len(paramPrefix)
		case strings.HasPrefix(body, legacyPref):
			kind, prefix = refLegacy, len(legacyPref)
		default:
			i = start + len(openRef)
			continue
		}
		closing := strings.IndexByte(body[prefix:], ')')
		if closing < 0 {
			i = start + len(openRef)
			continue
		}
		name := body[prefix : prefix+closing]
		if strings.Contains(name, openRef) || strings.ContainsAny(name, `"\`) {
			// "$(tt.params.a$(tt.params.b))": only the inner one is a
			// reference. A quote or backslash would let a reference reach
			// outside its JSON string; no param name has one.
			i = start + len(openRef)
			continue
		}
		end := start + len(openRef) + prefix + closing + 1
		refs = append(refs, ref{start: start, end: end, kind: kind, name: name})
		i = end
	}
}

// validParamName reports whether name has the shape Tekton accepts in a
// $(tt.params.NAME) reference: [_a-zA-Z][_a-zA-Z0-9.-]*.
func validParamName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Undeclared returns the names used as $(tt.params.NAME) in the resource
// templates but not declared in t.Params, sorted and without duplicates.
// Such templates do not compile; `hookrun validate` reports them all.
func Undeclared(t *Template) []string {
	declared := declaredNames(t)
	return collect(t, func(r ref) bool {
		return r.kind == refParam && !declared[r.name] && validParamName(r.name)
	})
}

// LegacyRefs returns the declared param names that the resource templates
// reference with the $(params.NAME) form, which Tekton Triggers no longer
// substitutes (use $(tt.params.NAME)); sorted and without duplicates. A
// $(params.NAME) that matches no declared param is a Pipeline or Task param
// reference and is not listed.
func LegacyRefs(t *Template) []string {
	declared := declaredNames(t)
	return collect(t, func(r ref) bool {
		return r.kind == refLegacy && declared[r.name]
	})
}

func declaredNames(t *Template) map[string]bool {
	declared := make(map[string]bool, len(t.Params))
	for _, p := range t.Params {
		declared[p.Name] = true
	}
	return declared
}

func collect(t *Template, keep func(ref) bool) []string {
	seen := map[string]bool{}
	var names []string
	for _, raw := range t.ResourceTemplates {
		for _, r := range findRefs(string(raw)) {
			if keep(r) && !seen[r.name] {
				seen[r.name] = true
				names = append(names, r.name)
			}
		}
	}
	sort.Strings(names)
	return names
}

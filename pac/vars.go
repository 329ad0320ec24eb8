package pac

import (
	"encoding/json"
	"errors"

	"github.com/hookrun/hookrun/forge"
	"regexp"
	"strconv"
	"strings"
)

// varPattern is a Pipelines-as-Code variable: {{name}}, spaces allowed inside the braces ({{ revision }}),
// names of letters, digits, _, -, . and [N] (body.commits[0].id, headers.X-Header).
var varPattern = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.\-\[\]]*)\s*\}\}`)

// Substitute replaces the variables of text: vars by name, body.PATH and headers.NAME from the event.
// Unknown variables are left as they are (a Tekton or Go template may use the same braces).
func Substitute(text string, vars map[string]string, body any, header map[string]string) string {
	return varPattern.ReplaceAllStringFunc(text, func(m string) string {
		name := varPattern.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		if p, ok := strings.CutPrefix(name, "body."); ok {
			if v, ok := lookupPath(body, p); ok {
				return v
			}
			return m
		}
		if h, ok := strings.CutPrefix(name, "headers."); ok {
			if v, ok := header[strings.ToLower(h)]; ok {
				return v
			}
		}
		return m
	})
}

// lookupPath walks a decoded JSON value along "a.b[0].c".
func lookupPath(v any, path string) (string, bool) {
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return "", false
			}
			if v, ok = m[name]; !ok {
				return "", false
			}
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if !ok {
				return "", false
			}
			n, err := strconv.Atoi(idx)
			l, isList := v.([]any)
			if err != nil || !isList || n < 0 || n >= len(l) {
				return "", false
			}
			v = l[n]
			rest = strings.TrimPrefix(after, "[")
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case nil:
		return "", true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// SubstituteDocs parses files and substitutes variables with sub. A file that parses as it is has the
// variables of its string values substituted, so a value from the event (a branch name, a title, a
// comment) stays inside its string whatever characters it holds. A file that only parses once its
// variables are in place (an unquoted `value: {{ revision }}`) is substituted as text first, as
// Pipelines-as-Code does.
func SubstituteDocs(files []forge.File, sub func(string) string) ([]Doc, error) {
	var out []Doc
	var errs []error
	for _, f := range files {
		docs, err := SplitDocs([]forge.File{f})
		if err != nil { // e.g. an unquoted {{ x }}: YAML reads a flow mapping with a mapping for key
			docs, err = SplitDocs([]forge.File{{Path: f.Path, Content: []byte(sub(string(f.Content)))}})
			if err != nil {
				errs = append(errs, err)
				continue
			}
		} else {
			for i := range docs {
				docs[i].Obj = substituteValue(docs[i].Obj, sub).(map[string]any)
				docs[i].Name = docName(docs[i].Obj)
			}
		}
		out = append(out, docs...)
	}
	return out, errors.Join(errs...)
}

func substituteValue(v any, sub func(string) string) any {
	switch x := v.(type) {
	case string:
		return sub(x)
	case map[string]any:
		for k, e := range x {
			x[k] = substituteValue(e, sub)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = substituteValue(e, sub)
		}
		return x
	}
	return v
}

func docName(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if name == "" {
		name, _ = md["generateName"].(string)
	}
	return name
}

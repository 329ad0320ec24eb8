package pac

import (
	"encoding/json"
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

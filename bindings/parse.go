package bindings

import (
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"
)

// part is one piece of a param value: literal text, or an expression.
type part struct {
	lit  string
	expr *expr
}

// rootKind names the top-level object an expression reads.
type rootKind uint8

const (
	rootUnknown rootKind = iota
	rootBody
	rootHeader
	rootExtensions
	rootContext
)

// step is one plain path step: a map key, or an array index.
type step struct {
	key     string
	index   int
	isIndex bool
}

// expr is one compiled $(...) expression.
type expr struct {
	// src is the expression as written, e.g. "$(body.ref)", for messages.
	src string
	// root and steps describe a plain path, walked directly.
	root  rootKind
	steps []step
	// jp is set when the path needs client-go JSONPath (filters, wildcards,
	// slices, unions, recursive descent); root and steps are then unused.
	jp *jsonPathExpr
}

// splitValue splits a param value into literal and expression parts.
//
// Like Tekton, an expression runs from "$(" to the first unbalanced ")"; if
// another "$(" starts before that, the outer "$(" is literal text (so
// "$($(body.b))" evaluates body.b and keeps the outer "$(" and ")").
// Parentheses inside [...] quotes are not counted, so filters such as
// [?(@.msg=="a)")] work.
func splitValue(s string) ([]part, error) {
	var parts []part
	var lit strings.Builder
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "$(")
		if j < 0 {
			lit.WriteString(s[i:])
			break
		}
		start := i + j
		end, nested := scanExpr(s, start+2)
		if nested >= 0 {
			lit.WriteString(s[i:nested])
			i = nested
			continue
		}
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated %q at offset %d", ErrSyntax, "$(", start)
		}
		lit.WriteString(s[i:start])
		if lit.Len() > 0 {
			parts = append(parts, part{lit: lit.String()})
			lit.Reset()
		}
		e, err := parseExpr(s[start:end+1], s[start+2:end])
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{expr: e})
		i = end + 1
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	return parts, nil
}

// scanExpr looks for the ")" closing an expression whose content starts at
// from. It returns end >= 0 (the index of that ")"), or nested >= 0 (the index
// of a "$(" met first), or both -1 when the expression is unterminated.
func scanExpr(s string, from int) (end, nested int) {
	depth, brackets := 0, 0
	var quote byte
	for k := from; k < len(s); k++ {
		c := s[k]
		if quote != 0 {
			if c == quote && s[k-1] != '\\' {
				quote = 0
			}
			continue
		}
		switch c {
		case '$':
			if brackets == 0 && k+1 < len(s) && s[k+1] == '(' {
				return -1, k
			}
		case '[':
			brackets++
		case ']':
			if brackets > 0 {
				brackets--
			}
		case '\'', '"':
			if brackets > 0 {
				quote = c
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return k, -1
			}
			depth--
		}
	}
	return -1, -1
}

// parseExpr compiles the content of one $(...) expression. src is the whole
// expression including "$(" and ")".
func parseExpr(src, content string) (*expr, error) {
	c := content
	// Tekton's relaxed JSONPath: optional {...} and an optional leading dot.
	if len(c) >= 2 && c[0] == '{' && c[len(c)-1] == '}' {
		c = c[1 : len(c)-1]
	}
	c = strings.TrimPrefix(c, ".")
	if c == "" {
		return nil, fmt.Errorf("%w: %s: empty expression", ErrSyntax, src)
	}
	if strings.ContainsAny(c, "{}") {
		return nil, fmt.Errorf("%w: %s: unexpected brace", ErrSyntax, src)
	}
	steps, rest := parseSteps(c)
	if len(steps) > 0 && steps[0].key == "header" && len(steps) > 1 && !steps[1].isIndex {
		steps[1].key = textproto.CanonicalMIMEHeaderKey(steps[1].key)
	}
	e := &expr{src: src}
	if rest == len(c) {
		e.root = rootOf(steps[0].key)
		e.steps = steps[1:]
		return e, nil
	}
	text := "{" + encodeSteps(steps) + c[rest:] + "}"
	if len(steps) == 0 {
		text = "{." + c + "}"
	}
	jp, err := newJSONPathExpr(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, src, err)
	}
	e.jp = jp
	return e, nil
}

func rootOf(name string) rootKind {
	switch name {
	case "body":
		return rootBody
	case "header":
		return rootHeader
	case "extensions":
		return rootExtensions
	case "context":
		return rootContext
	}
	return rootUnknown
}

// parseSteps reads the longest prefix of c made of plain steps: a root name,
// then .name, [N] and ['key'] steps. rest is where the first step that needs
// full JSONPath begins (len(c) when there is none).
func parseSteps(c string) (steps []step, rest int) {
	name, pos, ok := readName(c, 0)
	if !ok {
		return nil, 0
	}
	steps = append(steps, step{key: name})
	for pos < len(c) {
		switch c[pos] {
		case '.':
			name, n, ok := readName(c, pos+1)
			if !ok {
				return steps, pos
			}
			steps = append(steps, step{key: name})
			pos = n
		case '[':
			closing := strings.IndexByte(c[pos:], ']')
			if closing < 0 {
				return steps, pos
			}
			inner := c[pos+1 : pos+closing]
			switch {
			case len(inner) >= 2 && inner[0] == '\'' && inner[len(inner)-1] == '\'' &&
				!strings.Contains(inner[1:len(inner)-1], "'"):
				steps = append(steps, step{key: inner[1 : len(inner)-1]})
			case isInteger(inner):
				n, err := strconv.Atoi(inner)
				if err != nil {
					return steps, pos
				}
				steps = append(steps, step{index: n, isIndex: true})
			default:
				return steps, pos
			}
			pos += closing + 1
		default:
			return steps, pos
		}
	}
	return steps, pos
}

// readName reads a field name starting at from, the way client-go JSONPath
// does: up to a terminator, a backslash escaping the next character, and all
// backslashes removed. ok is false for names that are not plain fields (empty,
// the "*" wildcard, or a dangling backslash).
func readName(c string, from int) (name string, end int, ok bool) {
	k := from
	escaped := false
	for k < len(c) {
		ch := c[k]
		if ch == '\\' {
			if k+1 >= len(c) {
				return "", k, false
			}
			_, size := utf8.DecodeRuneInString(c[k+1:])
			k += 1 + size
			escaped = true
			continue
		}
		if isTerminator(ch) {
			break
		}
		k++
	}
	name = c[from:k]
	if escaped {
		name = strings.ReplaceAll(name, `\`, "")
	}
	if name == "" || name == "*" {
		return "", k, false
	}
	return name, k, true
}

// isTerminator reports whether ch ends a field name in client-go JSONPath.
func isTerminator(ch byte) bool {
	switch ch {
	case ' ', '\t', '\r', '\n', '.', ',', '[', ']', '$', '@', '{', '}':
		return true
	}
	return false
}

func isInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeSteps writes plain steps back as JSONPath text, quoting names so that
// ['a.b'] keeps meaning the key "a.b".
func encodeSteps(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		if s.isIndex {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		for i := 0; i < len(s.key); i++ {
			if isTerminator(s.key[i]) {
				b.WriteByte('\\')
			}
			b.WriteByte(s.key[i])
		}
	}
	return b.String()
}

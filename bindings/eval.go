package bindings

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
)

// multi holds the results of a JSONPath expression that can match any number
// of values; it is printed as a JSON array unless it holds exactly one value.
type multi []any

// evaluator evaluates expressions against one event, building the derived
// views (joined headers, the JSONPath root) at most once and only if needed.
type evaluator struct {
	ev      *Event
	joined  map[string]string
	root    map[string]any
	hasRoot bool
}

// eval returns the value an expression selects. A missing field is an error
// wrapping ErrFieldNotFound.
func (x *evaluator) eval(e *expr) (any, error) {
	if e.jp != nil {
		values, err := e.jp.find(x.jsonPathRoot())
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", e.src, ErrFieldNotFound, err)
		}
		if len(values) == 1 {
			return values[0], nil
		}
		return multi(values), nil
	}
	var v any
	steps := e.steps
	switch e.root {
	case rootBody:
		v = x.ev.Body
	case rootExtensions:
		if len(steps) == 0 {
			return x.ev.Extensions, nil
		}
		v = x.ev.Extensions
	case rootHeader:
		if len(steps) == 0 {
			return x.joinedHeaders(), nil
		}
		if steps[0].isIndex {
			return nil, notFound(e, "header is not an array")
		}
		h, ok := lookupHeader(x.ev.Header, steps[0].key)
		if !ok {
			return nil, notFound(e, "")
		}
		v, steps = h, steps[1:]
	case rootContext:
		if len(steps) == 0 {
			return x.context(), nil
		}
		if steps[0].isIndex {
			return nil, notFound(e, "context is not an array")
		}
		var s string
		switch steps[0].key {
		case "eventID":
			s = x.ev.EventID
		case "eventURL":
			s = x.ev.EventURL
		case "triggerName":
			s = x.ev.TriggerName
		default:
			return nil, notFound(e, "")
		}
		v, steps = s, steps[1:]
	default:
		return nil, notFound(e, "unknown root")
	}
	v, detail, ok := walk(v, steps)
	if !ok {
		return nil, notFound(e, detail)
	}
	return v, nil
}

func notFound(e *expr, detail string) error {
	if detail == "" {
		return fmt.Errorf("%s: %w", e.src, ErrFieldNotFound)
	}
	return fmt.Errorf("%s: %w: %s", e.src, ErrFieldNotFound, detail)
}

// walk follows plain steps through decoded JSON (and, for extensions set by
// interceptors, other Go maps and slices).
func walk(v any, steps []step) (any, string, bool) {
	for _, s := range steps {
		if s.isIndex {
			var n int
			switch a := v.(type) {
			case []any:
				n = len(a)
				i, ok := arrayIndex(s.index, n)
				if !ok {
					return nil, fmt.Sprintf("array index %d out of bounds (length %d)", s.index, n), false
				}
				v = a[i]
				continue
			}
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
				return nil, fmt.Sprintf("[%d]: not an array", s.index), false
			}
			i, ok := arrayIndex(s.index, rv.Len())
			if !ok {
				return nil, fmt.Sprintf("array index %d out of bounds (length %d)", s.index, rv.Len()), false
			}
			v = rv.Index(i).Interface()
			continue
		}
		switch m := v.(type) {
		case map[string]any:
			next, ok := m[s.key]
			if !ok {
				return nil, "", false
			}
			v = next
			continue
		case map[string]string:
			next, ok := m[s.key]
			if !ok {
				return nil, "", false
			}
			v = next
			continue
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return nil, "", false
		}
		next := rv.MapIndex(reflect.ValueOf(s.key).Convert(rv.Type().Key()))
		if !next.IsValid() {
			return nil, "", false
		}
		v = next.Interface()
	}
	return v, "", true
}

// arrayIndex resolves a possibly negative index like client-go JSONPath.
func arrayIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// lookupHeader returns the values of a header joined with ",". name is
// already canonical; a non-canonical key in a hand-built http.Header is found
// too.
func lookupHeader(h http.Header, name string) (string, bool) {
	vs, ok := h[name]
	if !ok {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				vs, ok = v, true
				break
			}
		}
		if !ok {
			return "", false
		}
	}
	if len(vs) == 1 {
		return vs[0], true
	}
	return strings.Join(vs, ","), true
}

// joinedHeaders is the header map Tekton exposes: one string per header.
func (x *evaluator) joinedHeaders() map[string]string {
	if x.joined == nil {
		x.joined = make(map[string]string, len(x.ev.Header))
		for k, v := range x.ev.Header {
			x.joined[k] = strings.Join(v, ",")
		}
	}
	return x.joined
}

func (x *evaluator) context() map[string]any {
	return map[string]any{
		"eventID":     x.ev.EventID,
		"eventURL":    x.ev.EventURL,
		"triggerName": x.ev.TriggerName,
	}
}

// jsonPathRoot is the object JSONPath expressions are evaluated against.
func (x *evaluator) jsonPathRoot() map[string]any {
	if !x.hasRoot {
		x.root = map[string]any{
			"body":       x.ev.Body,
			"header":     x.joinedHeaders(),
			"extensions": x.ev.Extensions,
			"context":    x.context(),
		}
		x.hasRoot = true
	}
	return x.root
}

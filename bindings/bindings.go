package bindings

import "fmt"

// Set is a compiled list of binding params. It is immutable and safe for
// concurrent use; compile it once per configuration change.
type Set struct {
	params []compiledParam
}

type compiledParam struct {
	name  string
	parts []part
}

// Compile parses every param value. It fails on an empty or duplicate param
// name and on malformed expressions, naming the param; such errors wrap
// ErrSyntax.
func Compile(params []Param) (*Set, error) {
	s := &Set{params: make([]compiledParam, 0, len(params))}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if p.Name == "" {
			return nil, fmt.Errorf("%w: binding param with an empty name (value %q)", ErrSyntax, p.Value)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: duplicate binding param %q", ErrSyntax, p.Name)
		}
		seen[p.Name] = true
		parts, err := splitValue(p.Value)
		if err != nil {
			return nil, fmt.Errorf("binding param %q: %w", p.Name, err)
		}
		s.params = append(s.params, compiledParam{name: p.Name, parts: parts})
	}
	return s, nil
}

// Resolve evaluates every param against ev.
//
// values maps each param name to its resolved text. A param whose expression
// names a field the event does not have is left out of values and put in
// missing instead, with an error naming the expression and wrapping
// ErrFieldNotFound, so that the caller can fall back to the TriggerTemplate
// default. err is reserved for other failures (a value that cannot be
// printed as JSON) and names the param. missing is nil when nothing is
// missing.
func (s *Set) Resolve(ev *Event) (values map[string]string, missing map[string]error, err error) {
	if ev == nil {
		ev = &Event{}
	}
	x := evaluator{ev: ev}
	values = make(map[string]string, len(s.params))
	var buf []byte
params:
	for _, p := range s.params {
		// The common cases: plain text, or one expression selecting a string.
		if len(p.parts) == 1 {
			if p.parts[0].expr == nil {
				values[p.name] = p.parts[0].lit
				continue
			}
			v, err := x.eval(p.parts[0].expr)
			if err != nil {
				if missing == nil {
					missing = make(map[string]error)
				}
				missing[p.name] = err
				continue
			}
			if str, ok := v.(string); ok {
				values[p.name] = str
				continue
			}
			buf, err = appendValue(buf[:0], v)
			if err != nil {
				return nil, nil, fmt.Errorf("binding param %q: %s: %w", p.name, p.parts[0].expr.src, err)
			}
			values[p.name] = string(buf)
			continue
		}
		buf = buf[:0]
		for _, pt := range p.parts {
			if pt.expr == nil {
				buf = append(buf, pt.lit...)
				continue
			}
			v, err := x.eval(pt.expr)
			if err != nil {
				if missing == nil {
					missing = make(map[string]error)
				}
				missing[p.name] = err
				continue params
			}
			buf, err = appendValue(buf, v)
			if err != nil {
				return nil, nil, fmt.Errorf("binding param %q: %s: %w", p.name, pt.expr.src, err)
			}
		}
		values[p.name] = string(buf)
	}
	return values, missing, nil
}

// Resolve compiles params and evaluates them against ev; see Compile and
// (*Set).Resolve. Compile errors are returned as err.
func Resolve(params []Param, ev *Event) (values map[string]string, missing map[string]error, err error) {
	s, err := Compile(params)
	if err != nil {
		return nil, nil, err
	}
	return s.Resolve(ev)
}

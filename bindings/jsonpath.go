package bindings

import (
	"fmt"
	"sync"

	"k8s.io/client-go/util/jsonpath"
)

// jsonPathExpr is an expression evaluated with client-go JSONPath. A parsed
// *jsonpath.JSONPath is not documented as safe for concurrent use, so each
// evaluation borrows one from a pool.
type jsonPathExpr struct {
	text string
	pool sync.Pool
}

// newJSONPathExpr parses a JSONPath template such as {.body.a[*].b}.
func newJSONPathExpr(text string) (_ *jsonPathExpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("jsonpath parser failed: %v", r)
		}
	}()
	j, err := parseJSONPath(text)
	if err != nil {
		return nil, err
	}
	e := &jsonPathExpr{text: text}
	e.pool.New = func() any {
		j, _ := parseJSONPath(text) // parsed fine once, so it parses again
		return j
	}
	e.pool.Put(j)
	return e, nil
}

func parseJSONPath(text string) (*jsonpath.JSONPath, error) {
	j := jsonpath.New("binding").AllowMissingKeys(false)
	if err := j.Parse(text); err != nil {
		return nil, err
	}
	return j, nil
}

// find evaluates the expression against root and returns every result.
// Any evaluation error (missing key, index out of range, wrong type, bad
// comparison) is returned as is; callers treat it as a missing field.
func (e *jsonPathExpr) find(root any) (values []any, err error) {
	j := e.pool.Get().(*jsonpath.JSONPath)
	defer func() {
		if r := recover(); r != nil {
			// Do not return j to the pool: its state is unknown.
			values, err = nil, fmt.Errorf("jsonpath evaluation failed: %v", r)
		}
	}()
	results, err := j.FindResults(root)
	e.pool.Put(j)
	if err != nil {
		return nil, err
	}
	values = []any{}
	for _, group := range results {
		for _, v := range group {
			if !v.IsValid() || !v.CanInterface() {
				values = append(values, nil)
				continue
			}
			values = append(values, v.Interface())
		}
	}
	return values, nil
}

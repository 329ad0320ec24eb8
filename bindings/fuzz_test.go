package bindings

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func FuzzResolve(f *testing.F) {
	body := `{"a":{"b":[1,"x",null,{"c":true}]},"s":"v","k.d":2}`
	for _, seed := range []string{
		"$(body.a.b[0])", "$(body['k.d'])", "$(body.a.b[?(@.c==true)].c)", "$(body..c)",
		"x $(header.x-foo) y", "$(header)", "$(body)", "$($(body.s))", "$(body.a.b[-1:])",
		"$(extensions.e.f)", "$(context.eventID)", "$(body.a[", "$(", "$()", "$({.body.s})",
		`$(body.a\.b)`, "$(body.a.b[0,1])", "$(body.a.*)", "$(body.s[0])", "$(body.a.b[1:2:0])",
	} {
		f.Add(seed, body)
	}
	f.Add("$(body)", `"just a string"`)
	f.Add("$(body[0])", `[1,2]`)
	f.Add("$(body.x)", `not json`)
	f.Fuzz(func(t *testing.T, value, rawBody string) {
		var decoded any
		if err := json.Unmarshal([]byte(rawBody), &decoded); err != nil {
			decoded = rawBody
		}
		ev := &Event{
			Body:       decoded,
			Header:     http.Header{"X-Foo": {"a", "b"}},
			Extensions: map[string]any{"e": decoded},
			EventID:    "id",
		}
		values, missing, err := Resolve([]Param{{Name: "p", Value: value}}, ev)
		if err != nil {
			return
		}
		_, hasValue := values["p"]
		m, hasMissing := missing["p"]
		if hasValue == hasMissing {
			t.Fatalf("value %q: in values %v, in missing %v", value, hasValue, hasMissing)
		}
		if hasMissing && !errors.Is(m, ErrFieldNotFound) {
			t.Fatalf("missing error %v does not wrap ErrFieldNotFound", m)
		}
	})
}

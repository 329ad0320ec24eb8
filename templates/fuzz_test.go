package templates

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzRender(f *testing.F) {
	for _, seed := range []struct{ tmpl, value string }{
		{`{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"$(tt.params.p)"}}`, "plain"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"x-$(tt.params.p)-"}}`, `q"uote\` + "\n"},
		{`{"apiVersion":"v1","kind":"ConfigMap","data":{"$(tt.params.p)":"$(uid)"}}`, "$(tt.params.p) $(uid)"},
		{`{"apiVersion":"$(tt.params.p)","kind":"X","metadata":{"labels":null}}`, "v1"},
		{`{"metadata":"x"}`, "\x00\x1f\x7f"},
		{`[1,2]`, "a"},
		{`{"a":"$($(tt.params.p))","b":"$(tt.params.q)"}`, "é世🚀"},
		{`{"apiVersion":"v1","kind":"K","n":1e400}`, "\xff"},
	} {
		f.Add(seed.tmpl, seed.value)
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		opts := Options{Namespace: "ns", Labels: map[string]string{"l": "v"}, NameSeed: "seed"}
		values := map[string]string{"p": value}

		// Any template text: must not panic.
		_, _ = Render(&Template{Params: []ParamSpec{{Name: "p"}}, ResourceTemplates: [][]byte{[]byte(tmpl)}}, values, nil, opts)

		// A fuzzed object with a field holding the param: when rendering
		// succeeds the field reads back exactly.
		var obj map[string]any
		if json.Unmarshal([]byte(tmpl), &obj) != nil || obj == nil {
			obj = map[string]any{}
		}
		for k := range obj {
			if strings.Contains(k, "$(") {
				delete(obj, k) // a substituted top-level key could shadow fuzzField
			}
		}
		obj["apiVersion"], obj["kind"] = "v1", "ConfigMap"
		obj["fuzzField"] = "<$(tt.params.p)>"
		raw, err := json.Marshal(obj)
		if err != nil {
			return
		}
		objs, err := Render(&Template{Params: []ParamSpec{{Name: "p"}}, ResourceTemplates: [][]byte{raw}}, values, nil, opts)
		if err != nil {
			return // invalid UTF-8, an undeclared reference, malformed metadata
		}
		if !utf8.ValidString(value) {
			t.Fatalf("Render accepted invalid UTF-8 %q", value)
		}
		if got := objs[0].Object["fuzzField"]; got != "<"+value+">" {
			t.Fatalf("value %q read back as %q", value, got)
		}
	})
}

package templates

import (
	"reflect"
	"strings"
	"testing"
)

// textOnly returns a copy of c that renders every resource from its text, as Render did before trees.
func textOnly(c *Compiled) *Compiled {
	t := &Compiled{params: c.params}
	for _, r := range c.resources {
		r.tree = nil
		t.resources = append(t.resources, r)
	}
	return t
}

// checkTreeMatchesText renders tmpl both ways and fails unless the objects (types included) or the
// errors are the same.
func checkTreeMatchesText(t *testing.T, tmpl string, values map[string]string) {
	t.Helper()
	c, err := Compile(&Template{Params: []ParamSpec{{Name: "p"}, {Name: "q", Default: strp("dq")}}, ResourceTemplates: [][]byte{[]byte(tmpl)}})
	if err != nil {
		return
	}
	opts := Options{UID: "u1x2z", Namespace: "ns", Labels: map[string]string{"l": "v"}, NameSeed: "seed"}
	tree, terr := c.Render(values, nil, opts)
	text, xerr := textOnly(c).Render(values, nil, opts)
	if (terr == nil) != (xerr == nil) || terr != nil && terr.Error() != xerr.Error() {
		t.Fatalf("template %s, values %q: tree error %v, text error %v", tmpl, values, terr, xerr)
	}
	if terr == nil && !reflect.DeepEqual(tree[0].Object, text[0].Object) {
		t.Fatalf("template %s, values %q:\ntree %#v\ntext %#v", tmpl, values, tree[0].Object, text[0].Object)
	}
}

var treeCases = []string{
	`{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"$(tt.params.p)"}}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"x-$(tt.params.p)-"}}`,
	`{"apiVersion":"v1","kind":"ConfigMap","data":{"$(tt.params.p)":"$(uid)","b":"$(tt.params.q)"}}`,
	`{"apiVersion":"$(tt.params.p)","kind":"X","metadata":{"labels":null}}`,
	`{"metadata":"x"}`,
	`{"a":"$($(tt.params.p))","b":"$(tt.params.q)","apiVersion":"v1","kind":"K"}`,
	`{"apiVersion":"v1","kind":"K","n":1e400}`,
	`{"apiVersion":"v1","kind":"K","n":[1,-0,2.5,1e3,9223372036854775807,9223372036854775808,-9223372036854775809,0.0,1E-2]}`,
	` { "apiVersion" : "v1" , "kind" : "K" , "e" : { } , "a" : [ ] , "t" : true , "f" : false , "z" : null } `,
	`{"apiVersion":"v1","kind":"K","s":"\u0041\"\\\/\b\f\n\r\t\u00e9\ud83d\ude80 $(tt.params.p) \\$(tt.params.p)"}`,
	`{"apiVersion":"v1","kind":"K","\u0024(tt.params.p)":"\u0024(tt.params.p)","s":"\ud800 $(tt.params.p)"}`,
	`{"apiVersion":"v1","kind":"K","b":"one","$(tt.params.p)":"two","b":"three"}`,
	`{"apiVersion":"v1","kind":"K","$(tt.params.p)":{"x":1},"b":{"y":2}}`,
	`{"apiVersion":"v1","kind":"K","x":"$(params.p) $(tt.params.not-declared!) $(tt.params.p"}`,
	`{"apiVersion":"v1","kind":"K","x":"$(tt.params.p)","y":"` + "\xff\xfe" + `"}`,
	`{"apiVersion":"v1","kind":"K","x":"` + "\xff" + `$(tt.params.p)"}`,
	`{"apiVersion":"v1","kind":"K","metadata":{"name":"","generateName":"g-$(tt.params.p)","labels":{"l":"old","m":"$(uid)"}},"a":[[{"b":["$(tt.params.q)"]}]]}`,
}

func TestTreeMatchesText(t *testing.T) {
	for _, tmpl := range treeCases {
		c, err := Compile(&Template{Params: []ParamSpec{{Name: "p"}, {Name: "q"}}, ResourceTemplates: [][]byte{[]byte(tmpl)}})
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		// Only a number no decoder value holds sends a resource back to its text.
		if hasTree, want := c.resources[0].tree != nil, !strings.Contains(tmpl, "1e400"); hasTree != want {
			t.Errorf("%s: tree %v, want %v", tmpl, hasTree, want)
		}
		for _, v := range []string{"", "plain", `q"uote\` + "\n\t\x00\x1f", "$(tt.params.p) $(uid)", "é世🚀", "b", "\xff", "\u2028"} {
			checkTreeMatchesText(t, tmpl, map[string]string{"p": v})
		}
	}
}

func FuzzTreeMatchesText(f *testing.F) {
	for _, tmpl := range treeCases {
		f.Add(tmpl, "plain")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		checkTreeMatchesText(t, tmpl, map[string]string{"p": value})
	})
}

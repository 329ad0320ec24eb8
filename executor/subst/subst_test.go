package subst

import (
	"reflect"
	"testing"
)

func testVars() Vars {
	v := Vars{}
	v.SetString("params.IMAGE", "reg/app:1")
	v.SetString("params.a.b", "dotted")
	v.Set("params.EXTRA", Arr([]string{"--x", "--y"}))
	v.Set("params.EMPTY", Arr(nil))
	v.Set("params.obj", Obj(map[string]string{"url": "https://g", "rev": "main"}))
	v.SetString("params.evil", "$(params.IMAGE)")
	v.SetString("results.IMAGE_DIGEST.path", "/tekton/results/IMAGE_DIGEST")
	v.SetString("tasks.t.results.r", "v1")
	return v
}

func TestString(t *testing.T) {
	v := testVars()
	for _, tc := range []struct{ in, want string }{
		{"no vars", "no vars"},
		{"$(params.IMAGE)", "reg/app:1"},
		{"x=$(params['IMAGE'])", "x=reg/app:1"},
		{`x=$(params["IMAGE"])`, "x=reg/app:1"},
		{"$(inputs.params.IMAGE)", "reg/app:1"},
		{"$(params['a.b'])", "dotted"},
		{"$(params.obj.url)@$(params.obj.rev)", "https://g@main"},
		{"$(params['obj']['rev'])", "main"},
		{"$(params.EXTRA[1])", "--y"},
		{"$(params.EXTRA[*])", "--x --y"},
		{"$(params.evil)", "$(params.IMAGE)"},
		{"$(params.evil)$(params.evil)", "$(params.IMAGE)$(params.IMAGE)"},
		{"$(git rev-parse HEAD)", "$(git rev-parse HEAD)"},
		{"$(echo $(params.IMAGE))", "$(echo reg/app:1)"},
		{"$(params.unknown)", "$(params.unknown)"},
		{"$(params.obj)", "$(params.obj)"},
		{"$(params.obj[*])", "$(params.obj[*])"}, // a whole object has no string form
		{"--digest-file=$(results.IMAGE_DIGEST.path)", "--digest-file=/tekton/results/IMAGE_DIGEST"},
		{"$(tasks.t.results.r)-$(", "v1-$("},
		{"$(params.EXTRA[9])", "$(params.EXTRA[9])"},
	} {
		if got := String(tc.in, v); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStrings(t *testing.T) {
	v := testVars()
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"$(params.EXTRA)", "--d=$(params.IMAGE)"}, []string{"--x", "--y", "--d=reg/app:1"}},
		{[]string{"$(params.EMPTY)", "a"}, []string{"a"}},
		{[]string{"$(params.EXTRA[*])"}, []string{"--x", "--y"}},
		{[]string{"pre $(params.EXTRA)"}, []string{"pre --x --y"}},
		{nil, nil},
	} {
		if got := Strings(tc.in, v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Strings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefs(t *testing.T) {
	got := Refs("$(tasks.a.results.x) $(params.p) $(tasks.b.results.y[*]) $(date)", "tasks")
	want := []string{"tasks.a.results.x", "tasks.b.results.y[*]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Refs = %q, want %q", got, want)
	}
	segs, ok := Segments("tasks.b.results.y[*]")
	if !ok || !reflect.DeepEqual(segs, []string{"tasks", "b", "results", "y"}) {
		t.Fatalf("Segments = %q %v", segs, ok)
	}
}

func TestLookupWholeObject(t *testing.T) {
	v := testVars()
	for _, expr := range []string{"params.obj", "params.obj[*]"} {
		got, ok := v.Lookup(expr)
		if !ok || got.Kind != KindObject || got.Obj["url"] != "https://g" {
			t.Errorf("Lookup(%q) = %+v, %v; want the whole object", expr, got, ok)
		}
	}
}

package conformance

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

type tekStep struct {
	Name    string   `json:"name"`
	Args    []string `json:"args,omitempty"`
	NewKnob string   `json:"newKnob,omitempty"`
}

type tekSpec struct {
	Steps    []tekStep         `json:"steps"`
	Sidecars []tekStep         `json:"sidecars,omitempty"`
	Raw      map[string]string `json:"raw,omitempty"`
	Nested   *tekSpec          `json:"nested,omitempty"`
}

type tekKind struct {
	Kind string  `json:"kind"`
	Spec tekSpec `json:"spec"`
}

type hookStep struct {
	Name string   `json:"name"`
	Args []string `json:"args,omitempty"`
}

type hookInline struct {
	Sidecars []hookStep `json:"sidecars,omitempty"`
}

type hookSpec struct {
	Steps      []hookStep `json:"steps"`
	hookInline `json:",inline"`
	Nested     *runtime.RawExtension `json:"nested,omitempty"`
}

type hookKind struct {
	Spec hookSpec `json:"spec"`
}

func TestWalkAndDecide(t *testing.T) {
	paths := Walk([]Root{{Kind: "x/v1 K", Tekton: reflect.TypeFor[tekKind](), Hookrun: reflect.TypeFor[hookKind]()}})
	got := map[string]Path{}
	for _, p := range paths {
		got[p.Path] = p
	}
	tests := []struct {
		path    string
		present bool
		note    string
	}{
		{"spec", true, ""},
		{"spec.steps", true, ""},
		{"spec.steps[].name", true, ""},
		{"spec.steps[].args", true, ""},
		{"spec.steps[].newKnob", false, ""},
		{"spec.sidecars", true, "fields as at x/v1 K spec.steps[]"}, // inline struct flattened, same pair of types
		{"spec.raw", false, ""},
		{"spec.nested", true, "hookrun keeps it as raw JSON"},
	}
	for _, tt := range tests {
		p, ok := got[tt.path]
		if !ok {
			t.Errorf("%s: not walked", tt.path)
			continue
		}
		if p.Present != tt.present || p.Note != tt.note {
			t.Errorf("%s: present %v note %q, want %v %q", tt.path, p.Present, p.Note, tt.present, tt.note)
		}
	}
	if _, ok := got["kind"]; ok {
		t.Error("the root's kind is listed")
	}
	if _, ok := got["spec.nested.steps"]; ok {
		t.Error("a raw field's Tekton sub-fields are listed")
	}

	rows := Rows(paths, nil)
	undecided := 0
	for _, r := range rows {
		if r.Status == Undecided {
			undecided++
		}
	}
	if undecided != 2 { // newKnob, raw
		t.Fatalf("undecided = %d, want 2: %+v", undecided, rows)
	}
	doc := Render(rows, "v9", "v8")
	d, err := ParseTable(strings.Replace(doc, "| `spec.raw` | undecided | TODO: implement it, or refuse/ignore it with the reason |",
		"| `spec.raw` | refused | a reason \\| with a bar |", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rows(paths, d) {
		if r.Path == "spec.raw" && (r.Status != Refused || r.Reason != "a reason | with a bar") {
			t.Errorf("decision not kept: %+v", r)
		}
	}
	// A field refused for lack of a schema entry becomes implemented once hookrun's types carry it; one
	// refused by hookrun's own check stays refused.
	present := []Path{{Kind: "K", Path: "a", Present: true}, {Kind: "K", Path: "b", Present: true}}
	kept := Rows(present, Decisions{
		"K\x00a": {Kind: "K", Path: "a", Status: Refused, Reason: NotInSchema + ", so the API server refuses it"},
		"K\x00b": {Kind: "K", Path: "b", Status: Refused, Reason: "hookrun's validation refuses it"},
	})
	if kept[0].Status != Implemented || kept[1].Status != Refused {
		t.Errorf("rows after the fields appeared: %+v", kept)
	}
	if _, err := ParseTable("| K | `p` | maybe | x |\n"); err == nil {
		t.Error("an unknown status parses")
	}
}

package v1beta1

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTriggerTemplateSpecResourceTemplatesSpellings(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int    // resource templates decoded
		err      string // decoding error, if any
	}{
		{"lowercase", `{"params":[{"name":"a"}],"resourcetemplates":[{"kind":"TaskRun"}]}`, 1, ""},
		{"camelCase", `{"resourceTemplates":[{"kind":"TaskRun"},{"kind":"PipelineRun"}]}`, 2, ""},
		{"lowercase-wins", `{"resourcetemplates":[{"kind":"A"}],"resourceTemplates":[{"kind":"B"},{"kind":"C"}]}`, 1, ""},
		{"unknown-field", `{"resourcetemplate":[{"kind":"A"}]}`, 0, `unknown field "resourcetemplate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s TriggerTemplateSpec
			err := json.Unmarshal([]byte(tc.in), &s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.ResourceTemplates) != tc.want || s.ResourceTemplatesCamelCase != nil {
				t.Errorf("decoded %d templates (camelCase field %v), want %d", len(s.ResourceTemplates), s.ResourceTemplatesCamelCase, tc.want)
			}
			out, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "resourceTemplates") {
				t.Errorf("re-encoded with the camelCase spelling: %s", out)
			}
		})
	}
}

func TestInterceptorRefKind(t *testing.T) {
	for _, tc := range []struct {
		kind string
		err  string
	}{
		{"", ""},
		{"ClusterInterceptor", ""},
		{"NamespacedInterceptor", ""},
		{"Interceptor", ""},
		{"Service", `ref.kind "Service" is not ClusterInterceptor or NamespacedInterceptor`},
	} {
		ti := &TriggerInterceptor{Ref: InterceptorRef{Name: "x", Kind: tc.kind}}
		r, err := ti.Resolve()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("kind %q: %v", tc.kind, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("kind %q: err %v, want %q", tc.kind, err, tc.err)
		case err == nil && (r.Kind != tc.kind || r.Builtin()):
			t.Errorf("kind %q: resolved %+v", tc.kind, r)
		}
	}
}

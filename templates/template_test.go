package templates

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func strp(s string) *string { return &s }

func sha256Hex(t *testing.T, s string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fromYAML converts a resource template written as YAML to its JSON text, as
// the API server stores spec.resourcetemplates items.
func fromYAML(t testing.TB, y string) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return j
}

// pipelineRunYAML is a typical TriggerTemplate resource template.
const pipelineRunYAML = `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: build-$(tt.params.reponame)-
  labels:
    app: $(tt.params.reponame)
    tekton.dev/pipeline: build
spec:
  pipelineRef:
    name: build-and-push
  params:
  - name: git-url
    value: $(tt.params.gitrepositoryurl)
  - name: git-revision
    value: $(tt.params.gitrevision)
  - name: git-ref
    value: $(tt.params.gitref)
  - name: image
    value: registry.example.com/$(tt.params.reponame):$(tt.params.gitrevision)
  - name: message
    value: "$(tt.params.message)"
  - name: pusher
    value: $(tt.params.pusher)
  - name: run-id
    value: run-$(uid)
  timeouts:
    pipeline: 1h0m0s
  workspaces:
  - name: shared
    volumeClaimTemplate:
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 1Gi
`

func pipelineRunTemplate(t testing.TB) *Template {
	return &Template{
		Params: []ParamSpec{
			{Name: "gitrevision"},
			{Name: "gitrepositoryurl"},
			{Name: "gitref", Default: strp("refs/heads/main")},
			{Name: "reponame"},
			{Name: "message", Default: strp("no message")},
			{Name: "pusher", Default: strp("nobody")},
		},
		ResourceTemplates: [][]byte{fromYAML(t, pipelineRunYAML)},
	}
}

func pushValues() map[string]string {
	return map[string]string{
		"gitrevision":      "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		"gitrepositoryurl": "https://github.com/Codertocat/Hello-World.git",
		"gitref":           "refs/heads/master",
		"reponame":         "hello-world",
		"message":          "Initial commit",
		"pusher":           "Codertocat",
	}
}

// pipelineParam returns spec.params[name].value of a rendered PipelineRun.
func pipelineParam(t *testing.T, u *unstructured.Unstructured, name string) string {
	t.Helper()
	params, _, err := unstructured.NestedSlice(u.Object, "spec", "params")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		m := p.(map[string]any)
		if m["name"] == name {
			s, ok := m["value"].(string)
			if !ok {
				t.Fatalf("param %s value is %T", name, m["value"])
			}
			return s
		}
	}
	t.Fatalf("no param %s in %v", name, params)
	return ""
}

func TestRenderPipelineRun(t *testing.T) {
	objs, err := Render(pipelineRunTemplate(t), pushValues(), nil, Options{
		UID:       "x7k2p",
		Namespace: "ci",
		Labels: map[string]string{
			"triggers.tekton.dev/eventlistener":    "github",
			"triggers.tekton.dev/trigger":          "push",
			"triggers.tekton.dev/triggers-eventid": "ev-1",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("got %d objects", len(objs))
	}
	u := objs[0]
	if u.GetAPIVersion() != "tekton.dev/v1" || u.GetKind() != "PipelineRun" {
		t.Errorf("apiVersion/kind = %s/%s", u.GetAPIVersion(), u.GetKind())
	}
	if u.GetGenerateName() != "build-hello-world-" || u.GetName() != "" {
		t.Errorf("generateName %q name %q", u.GetGenerateName(), u.GetName())
	}
	if u.GetNamespace() != "ci" {
		t.Errorf("namespace = %q", u.GetNamespace())
	}
	wantLabels := map[string]string{
		"app":                                  "hello-world",
		"tekton.dev/pipeline":                  "build",
		"triggers.tekton.dev/eventlistener":    "github",
		"triggers.tekton.dev/trigger":          "push",
		"triggers.tekton.dev/triggers-eventid": "ev-1",
	}
	if got := u.GetLabels(); fmt.Sprint(got) != fmt.Sprint(wantLabels) {
		t.Errorf("labels = %v, want %v", got, wantLabels)
	}
	for name, want := range map[string]string{
		"git-url":      "https://github.com/Codertocat/Hello-World.git",
		"git-revision": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		"git-ref":      "refs/heads/master",
		"image":        "registry.example.com/hello-world:6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		"message":      "Initial commit",
		"pusher":       "Codertocat",
		"run-id":       "run-x7k2p",
	} {
		if got := pipelineParam(t, u, name); got != want {
			t.Errorf("param %s = %q, want %q", name, got, want)
		}
	}
	// The object must be usable as an unstructured value (DeepCopy panics on
	// types it does not know).
	_ = u.DeepCopy()
}

func TestRenderParamValues(t *testing.T) {
	tmpl := &Template{
		Params: []ParamSpec{
			{Name: "withdefault", Default: strp("the default")},
			{Name: "emptydefault", Default: strp("")},
			{Name: "nodefault"},
		},
		ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{
			"a":"$(tt.params.withdefault)","b":"$(tt.params.emptydefault)","c":"$(tt.params.nodefault)"}}`)},
	}
	bindingErr := fmt.Errorf("$(body.head_commit.id): %w", errors.New("field not found"))
	tests := []struct {
		name    string
		values  map[string]string
		missing map[string]error
		want    map[string]string // data, when no error
		wantErr []string          // substrings, when an error
		errIs   []error
	}{
		{
			name:   "values win over defaults",
			values: map[string]string{"withdefault": "v1", "emptydefault": "v2", "nodefault": "v3"},
			want:   map[string]string{"a": "v1", "b": "v2", "c": "v3"},
		},
		{
			name:   "defaults when absent",
			values: map[string]string{"nodefault": "v3"},
			want:   map[string]string{"a": "the default", "b": "", "c": "v3"},
		},
		{
			name:    "defaults when the binding field is missing",
			values:  map[string]string{"nodefault": "v3"},
			missing: map[string]error{"withdefault": bindingErr, "emptydefault": bindingErr},
			want:    map[string]string{"a": "the default", "b": "", "c": "v3"},
		},
		{
			name:   "empty value is a value",
			values: map[string]string{"withdefault": "", "nodefault": ""},
			want:   map[string]string{"a": "", "b": "", "c": ""},
		},
		{
			name:   "undeclared values are ignored",
			values: map[string]string{"nodefault": "v3", "extra": "ignored", "other": "$(tt.params.nodefault)"},
			want:   map[string]string{"a": "the default", "b": "", "c": "v3"},
		},
		{
			name:    "no value and no default",
			values:  map[string]string{},
			wantErr: []string{`param "nodefault" has no value and no default`},
			errIs:   []error{ErrMissingParam},
		},
		{
			name:    "missing binding and no default",
			missing: map[string]error{"nodefault": bindingErr},
			wantErr: []string{`param "nodefault"`, "$(body.head_commit.id): field not found"},
			errIs:   []error{ErrMissingParam, bindingErr},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Render(tmpl, tc.values, tc.missing, Options{})
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Render succeeded, want error")
				}
				for _, sub := range tc.wantErr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				for _, target := range tc.errIs {
					if !errors.Is(err, target) {
						t.Errorf("error %q does not wrap %v", err, target)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _, _ := unstructured.NestedStringMap(objs[0].Object, "data")
			if fmt.Sprint(data) != fmt.Sprint(tc.want) {
				t.Errorf("data = %q, want %q", data, tc.want)
			}
		})
	}
}

func TestRenderEscaping(t *testing.T) {
	tmpl := &Template{
		Params: []ParamSpec{{Name: "a"}, {Name: "b", Default: strp(`default "quoted" \ value`)}},
		ResourceTemplates: [][]byte{fromYAML(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-$(uid)
data:
  whole: $(tt.params.a)
  embedded: "<<$(tt.params.a)>>"
  twice: $(tt.params.a)|$(tt.params.a)
  other: $(tt.params.b)
  $(tt.params.b): as a key
`)},
	}
	values := []string{
		`plain`,
		`with "double" and 'single' quotes`,
		`back\slash \" \\ \n (literal backslash n)`,
		"line one\nline two\r\nwindows\ttab",
		"control \x00 \x01 \x1f \x7f chars",
		`$(tt.params.b) and $(uid) and $(tt.params.a) and $(params.a)`,
		"key: value\n- item: [1, \"2\"]\n  nested: {a: b}\n---\n# comment\n&anchor *alias !tag |\n",
		`{"json": ["object", 1, null]}`,
		"unicode héllo 世界 🚀 \u2028 \u2029 </script> & <b>",
		"",
		`\`,
		`"`,
	}
	for _, v := range values {
		t.Run(fmt.Sprintf("%.20q", v), func(t *testing.T) {
			objs, err := Render(tmpl, map[string]string{"a": v}, nil, Options{UID: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			data, _, _ := unstructured.NestedStringMap(objs[0].Object, "data")
			want := map[string]string{
				"whole":                    v,
				"embedded":                 "<<" + v + ">>",
				"twice":                    v + "|" + v,
				"other":                    `default "quoted" \ value`,
				`default "quoted" \ value`: "as a key",
			}
			for k, w := range want {
				if data[k] != w {
					t.Errorf("data[%q] = %q, want %q", k, data[k], w)
				}
			}
			if len(data) != len(want) {
				t.Errorf("data has %d keys, want %d: %q", len(data), len(want), data)
			}
			if objs[0].GetName() != "cm-u1" {
				t.Errorf("name = %q", objs[0].GetName())
			}
		})
	}
}

func TestRenderNestedReference(t *testing.T) {
	tmpl := &Template{
		Params:            []ParamSpec{{Name: "a"}},
		ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap","data":{"x":"$($(tt.params.a))","y":"$(tt.params.a$(tt.params.a))","z":"$(tt.params.a"}}`)},
	}
	objs, err := Render(tmpl, map[string]string{"a": "A"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedStringMap(objs[0].Object, "data")
	want := map[string]string{"x": "$(A)", "y": "$(tt.params.aA)", "z": "$(tt.params.a"}
	if fmt.Sprint(data) != fmt.Sprint(want) {
		t.Errorf("data = %q, want %q", data, want)
	}
}

func TestRenderQuoteInParamName(t *testing.T) {
	tmpl := &Template{
		Params:            []ParamSpec{{Name: `a"b`}, {Name: `a", "c`}},
		ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap","data":{"x":"$(tt.params.a\"b)","y":"$(tt.params.a", "c":")"}}`)},
	}
	objs, err := Render(tmpl, map[string]string{`a"b`: "B", `a", "c`: "C"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedStringMap(objs[0].Object, "data")
	want := map[string]string{"x": `$(tt.params.a"b)`, "y": "$(tt.params.a", "c": ")"}
	if fmt.Sprint(data) != fmt.Sprint(want) {
		t.Errorf("data = %q, want %q", data, want)
	}
}

func TestRenderInvalidUTF8(t *testing.T) {
	tmpl := &Template{
		Params:            []ParamSpec{{Name: "bad"}},
		ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap","data":{"x":"$(tt.params.bad)"}}`)},
	}
	_, err := Render(tmpl, map[string]string{"bad": "ok \xff\xfe not"}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), `param "bad"`) || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("err = %v, want a UTF-8 error naming the param", err)
	}
}

func TestRenderUID(t *testing.T) {
	tmpl := &Template{
		ResourceTemplates: [][]byte{
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a-$(uid)"}}`),
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b-$(uid)"},"data":{"ref":"a-$(uid)"}}`),
		},
	}
	objs, err := Render(tmpl, nil, nil, Options{UID: "fixed"})
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].GetName() != "a-fixed" || objs[1].GetName() != "b-fixed" {
		t.Errorf("names %q %q", objs[0].GetName(), objs[1].GetName())
	}

	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		objs, err := Render(tmpl, nil, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		uid := strings.TrimPrefix(objs[0].GetName(), "a-")
		if len(uid) != uidLen || strings.Trim(uid, uidAlphabet) != "" {
			t.Fatalf("uid %q is not %d characters of %q", uid, uidLen, uidAlphabet)
		}
		if objs[1].GetName() != "b-"+uid {
			t.Errorf("resources got different uids: %q %q", objs[0].GetName(), objs[1].GetName())
		}
		ref, _, _ := unstructured.NestedString(objs[1].Object, "data", "ref")
		if ref != "a-"+uid {
			t.Errorf("data.ref = %q", ref)
		}
		seen[uid] = true
	}
	if len(seen) < 19 {
		t.Errorf("only %d distinct uids in 20 renders", len(seen))
	}
}

func TestDeterministicNames(t *testing.T) {
	tmpl := &Template{
		ResourceTemplates: [][]byte{
			[]byte(`{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"generateName":"build-"}}`),
			[]byte(`{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"generateName":"build-"}}`),
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fixed","generateName":"ignored-"}}`),
			[]byte(`{"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"generateName":"` + strings.Repeat("long-", 20) + `"}}`),
		},
	}
	render := func(seed string) []*unstructured.Unstructured {
		t.Helper()
		objs, err := Render(tmpl, nil, nil, Options{NameSeed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	a1, a2, b := render("delivery-1/push"), render("delivery-1/push"), render("delivery-2/push")
	for i := range a1 {
		if a1[i].GetName() != a2[i].GetName() {
			t.Errorf("resource %d: same seed gave %q and %q", i, a1[i].GetName(), a2[i].GetName())
		}
	}
	for _, i := range []int{0, 1, 3} {
		if a1[i].GetName() == b[i].GetName() {
			t.Errorf("resource %d: different seeds gave the same name %q", i, a1[i].GetName())
		}
		if a1[i].GetGenerateName() != "" {
			t.Errorf("resource %d: generateName %q kept beside the name", i, a1[i].GetGenerateName())
		}
		if n := a1[i].GetName(); len(n) > 63 {
			t.Errorf("resource %d: name %q is %d characters", i, n, len(n))
		}
	}
	if a1[0].GetName() == a1[1].GetName() {
		t.Errorf("two resources with one generateName got the same name %q", a1[0].GetName())
	}
	if want := DeterministicName("build-", "delivery-1/push", 0); a1[0].GetName() != want {
		t.Errorf("name = %q, want %q", a1[0].GetName(), want)
	}
	if n := a1[0].GetName(); !strings.HasPrefix(n, "build-") || len(n) != len("build-")+NameHashLen || strings.Trim(n[6:], "0123456789abcdef") != "" {
		t.Errorf("name %q is not build- + %d hex characters", n, NameHashLen)
	}
	if a1[2].GetName() != "fixed" || a1[2].GetGenerateName() != "ignored-" {
		t.Errorf("a resource with a name was changed: %q %q", a1[2].GetName(), a1[2].GetGenerateName())
	}
	if n := a1[3].GetName(); len(n) != 63 || !strings.HasPrefix(n, "long-long-") {
		t.Errorf("long prefix: name %q (%d characters)", n, len(n))
	}

	plain := render("")
	if plain[0].GetName() != "" || plain[0].GetGenerateName() != "build-" {
		t.Errorf("without a seed: name %q generateName %q", plain[0].GetName(), plain[0].GetGenerateName())
	}
}

func TestDeterministicNameValue(t *testing.T) {
	got := DeterministicName("pr-", "seed", 0)
	want := "pr-" + sha256Hex(t, "seed/0")[:NameHashLen]
	if got != want {
		t.Errorf("DeterministicName = %q, want %q", got, want)
	}
	if got := DeterministicName(strings.Repeat("é", 40), "s", 1); len(got) > 63 || !strings.HasSuffix(got, sha256Hex(t, "s/1")[:NameHashLen]) {
		t.Errorf("multi-byte prefix: %q", got)
	} else if strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("prefix cut inside a character: %q", got)
	}
}

func TestNamespaceAndLabels(t *testing.T) {
	tmpl := &Template{
		ResourceTemplates: [][]byte{
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap"}`),
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"namespace":"other","labels":{"keep":"me","triggers.tekton.dev/trigger":"template-value"}}}`),
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"namespace":"","labels":null}}`),
		},
	}
	labels := map[string]string{"triggers.tekton.dev/eventlistener": "el", "triggers.tekton.dev/trigger": "t", "triggers.tekton.dev/triggers-eventid": "id"}
	objs, err := Render(tmpl, nil, nil, Options{Namespace: "ci", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	wantNS := []string{"ci", "other", "ci"}
	wantLabels := []map[string]string{
		labels,
		{"keep": "me", "triggers.tekton.dev/eventlistener": "el", "triggers.tekton.dev/trigger": "t", "triggers.tekton.dev/triggers-eventid": "id"},
		labels,
	}
	for i, u := range objs {
		if u.GetNamespace() != wantNS[i] {
			t.Errorf("resource %d: namespace %q, want %q", i, u.GetNamespace(), wantNS[i])
		}
		if fmt.Sprint(u.GetLabels()) != fmt.Sprint(wantLabels[i]) {
			t.Errorf("resource %d: labels %v, want %v", i, u.GetLabels(), wantLabels[i])
		}
	}
	// Annotations go over the template's own of the same key and keep the others.
	tmpl.ResourceTemplates[1] = []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"annotations":{"keep":"me","hookrun.dev/delivery-id":"from-template"}}}`)
	objs, err = Render(tmpl, nil, nil, Options{Annotations: map[string]string{"hookrun.dev/delivery-id": "d1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(objs[1].GetAnnotations()); got != "map[hookrun.dev/delivery-id:d1 keep:me]" {
		t.Errorf("annotations %s", got)
	}
	if got := fmt.Sprint(objs[0].GetAnnotations()); got != "map[hookrun.dev/delivery-id:d1]" {
		t.Errorf("annotations %s", got)
	}
	objs, err = Render(tmpl, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].GetNamespace() != "" || objs[0].GetLabels() != nil {
		t.Errorf("no options: namespace %q labels %v", objs[0].GetNamespace(), objs[0].GetLabels())
	}
}

func TestRenderPreservesTypes(t *testing.T) {
	tmpl := &Template{
		Params:            []ParamSpec{{Name: "n"}},
		ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3,"ratio":0.5,"paused":false,"note":null,"n":"$(tt.params.n)"}}`)},
	}
	objs, err := Render(tmpl, map[string]string{"n": "42"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := objs[0].Object["spec"].(map[string]any)
	if _, ok := spec["replicas"].(int64); !ok {
		t.Errorf("replicas is %T, want int64", spec["replicas"])
	}
	if spec["ratio"] != 0.5 || spec["paused"] != false || spec["note"] != nil || spec["n"] != "42" {
		t.Errorf("spec = %v", spec)
	}
	_ = objs[0].DeepCopy()
}

func TestCompileErrors(t *testing.T) {
	ok := `{"apiVersion":"v1","kind":"ConfigMap"}`
	tests := []struct {
		name      string
		resources []string
		wantSub   []string
		errIs     error
	}{
		{"array", []string{ok, `[{"apiVersion":"v1"}]`}, []string{"resourcetemplates[1]", "not a JSON object"}, ErrInvalidResource},
		{"string", []string{`"text"`}, []string{"resourcetemplates[0]", "not a JSON object"}, ErrInvalidResource},
		{"null", []string{`null`}, []string{"resourcetemplates[0]"}, ErrInvalidResource},
		{"invalid JSON", []string{`{"apiVersion":`}, []string{"resourcetemplates[0]", "not valid JSON"}, ErrInvalidResource},
		{"empty", []string{``}, []string{"resourcetemplates[0]"}, ErrInvalidResource},
		{"undeclared", []string{ok, `{"apiVersion":"v1","kind":"ConfigMap","data":{"x":"$(tt.params.gitrevison)"}}`},
			[]string{"resourcetemplates[1]", "$(tt.params.gitrevison)"}, ErrUndeclaredParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &Template{Params: []ParamSpec{{Name: "gitrevision"}}}
			for _, r := range tc.resources {
				tmpl.ResourceTemplates = append(tmpl.ResourceTemplates, []byte(r))
			}
			_, err := Compile(tmpl)
			if err == nil {
				t.Fatal("Compile succeeded, want error")
			}
			for _, sub := range tc.wantSub {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
			if !errors.Is(err, tc.errIs) {
				t.Errorf("error %q does not wrap %v", err, tc.errIs)
			}
			if _, err := Render(tmpl, map[string]string{"gitrevision": "x"}, nil, Options{}); err == nil {
				t.Error("Render succeeded, want the compile error")
			}
		})
	}
}

func TestRenderInvalidResource(t *testing.T) {
	tests := []struct {
		name, resource, wantSub string
	}{
		{"no apiVersion", `{"kind":"ConfigMap"}`, "apiVersion is required"},
		{"empty apiVersion from param", `{"apiVersion":"$(tt.params.p)","kind":"ConfigMap"}`, "apiVersion is required"},
		{"no kind", `{"apiVersion":"v1"}`, "kind is required"},
		{"kind not a string", `{"apiVersion":"v1","kind":3}`, "kind is required"},
		{"metadata not an object", `{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}`, "metadata is a string"},
		{"labels not an object", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":["a"]}}`, "labels is a []interface {}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &Template{
				Params:            []ParamSpec{{Name: "p", Default: strp("")}},
				ResourceTemplates: [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap"}`), []byte(tc.resource)},
			}
			_, err := Render(tmpl, nil, nil, Options{Labels: map[string]string{"a": "b"}})
			if err == nil {
				t.Fatal("Render succeeded, want error")
			}
			if !strings.Contains(err.Error(), "resourcetemplates[1]") || !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q, want resourcetemplates[1] and %q", err, tc.wantSub)
			}
			if !errors.Is(err, ErrInvalidResource) {
				t.Errorf("error %q does not wrap ErrInvalidResource", err)
			}
		})
	}
}

func TestUndeclared(t *testing.T) {
	tmpl := &Template{
		Params: []ParamSpec{{Name: "declared"}, {Name: "old"}},
		ResourceTemplates: [][]byte{
			[]byte(`{"a":"$(tt.params.declared) $(tt.params.zeta) $(tt.params.alpha)","b":"$(tt.params.zeta)"}`),
			[]byte(`{"c":"$(tt.params.beta-1.x) $(tt.params.not valid) $(tt.params.) $(params.old) $(params.pipelineparam) $(uid)"}`),
			[]byte(`not json $(tt.params.gamma)`),
		},
	}
	got := Undeclared(tmpl)
	want := []string{"alpha", "beta-1.x", "gamma", "zeta"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Undeclared = %q, want %q", got, want)
	}
	if got := Undeclared(&Template{Params: tmpl.Params, ResourceTemplates: tmpl.ResourceTemplates[:0]}); got != nil {
		t.Errorf("Undeclared of no templates = %q", got)
	}
	if got := LegacyRefs(tmpl); fmt.Sprint(got) != "[old]" {
		t.Errorf("LegacyRefs = %q, want [old]", got)
	}
}

func TestLegacyParamsLeftAlone(t *testing.T) {
	tmpl := &Template{
		Params: []ParamSpec{{Name: "image"}},
		ResourceTemplates: [][]byte{fromYAML(t, `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: build-
spec:
  params:
  - name: image
    value: $(tt.params.image)
  pipelineSpec:
    params:
    - name: image
    tasks:
    - name: build
      params:
      - name: image
        value: $(params.image)
`)},
	}
	objs, err := Render(tmpl, map[string]string{"image": "registry/app:1"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tasks, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "pipelineSpec", "tasks")
	v := tasks[0].(map[string]any)["params"].([]any)[0].(map[string]any)["value"]
	if v != "$(params.image)" {
		t.Errorf("pipeline param reference = %q, want it left for Pipelines", v)
	}
	if got := pipelineParam(t, objs[0], "image"); got != "registry/app:1" {
		t.Errorf("image = %q", got)
	}
}

func TestCompiledConcurrent(t *testing.T) {
	c, err := Compile(pipelineRunTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 100; i++ {
				v := pushValues()
				v["reponame"] = fmt.Sprintf("repo-%d-%d", g, i)
				objs, err := c.Render(v, nil, Options{NameSeed: v["reponame"]})
				if err == nil && !strings.HasPrefix(objs[0].GetName(), "build-"+v["reponame"]+"-") {
					err = fmt.Errorf("name %q for %s", objs[0].GetName(), v["reponame"])
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

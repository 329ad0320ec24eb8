package validate_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
	"github.com/hookrun/hookrun/test/seeds"
)

func check(t *testing.T, yaml string) []string {
	t.Helper()
	objs, problems := load.Reader("in.yaml", strings.NewReader(yaml))
	problems = append(problems, validate.Objects(objs)...)
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.String()
	}
	return out
}

const okTemplate = `
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tt}
spec:
  params: [{name: rev}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: run-}
    spec:
      pipelineRef: {name: p}
      params: [{name: rev, value: $(tt.params.rev)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: tb}
spec:
  params: [{name: rev, value: $(body.head_commit.id)}]
`

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in one problem line; empty = no problems
	}{
		{"valid trigger set", okTemplate + `---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggers:
  - name: push
    interceptors:
    - ref: {name: cel}
      params: [{name: filter, value: "body.ref == 'refs/heads/main'"}]
    bindings: [{ref: tb}]
    template: {ref: tt}
`, nil},
		{"run control annotations", okTemplate + `---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: t
  annotations: {hookrun.dev/concurrency-group: "body.ref +", hookrun.dev/paths: "src/[a", hookrun.dev/paths-ignore: "docs/**",
    hookrun.dev/schedule: "61 * * * *", hookrun.dev/forge-api: "ftp://x", hookrun.dev/path-ignore: "x"}
spec:
  bindings: [{ref: tb}]
  template: {ref: tt}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: el
  annotations: {hookrun.dev/concurrency-group: "body.ref", hookrun.dev/concurrency-policy: "cancel",
    hookrun.dev/schedule: "@hourly", hookrun.dev/schedule-timezone: "Mars/Olympus"}
spec:
  triggers: [{triggerRef: t}]
`, []string{`(Trigger t): metadata.annotations: invalid run-control annotation: hookrun.dev/concurrency-group`,
			`(Trigger t): metadata.annotations: invalid run-control annotation: hookrun.dev/paths: "src/[a" is not a valid glob`,
			`(Trigger t): metadata.annotations: invalid run-control annotation: hookrun.dev/schedule: end of range (61) above maximum (59)`,
			`(Trigger t): metadata.annotations: invalid run-control annotation: hookrun.dev/forge-api: "ftp://x" is not an http(s) URL`,
			`(Trigger t): metadata.annotations: invalid run-control annotation: hookrun.dev/path-ignore: unknown annotation`,
			`(EventListener el): metadata.annotations: invalid run-control annotation: hookrun.dev/concurrency-policy: "cancel"`,
			`(EventListener el): metadata.annotations: invalid run-control annotation: hookrun.dev/schedule-timezone`}},
		{"unknown kind", "apiVersion: tekton.dev/v1\nkind: Taskk\nmetadata: {name: x}\n",
			[]string{"in.yaml: document 1 (Taskk x): kind: unknown kind: tekton.dev/v1 Taskk"}},
		{"unknown apiVersion", "apiVersion: tekton.dev/v2\nkind: Task\nmetadata: {name: x}\n",
			[]string{"document 1 (Task x): kind: unknown kind: tekton.dev/v2 Task"}},
		{"unknown field", `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
  - name: a
    image: alpine
    scirpt: echo hi
`, []string{`(Task t): spec.steps[0].scirpt: unknown field "spec.steps[0].scirpt"`}},
		{"duplicate task params", `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params: [{name: a}, {name: b}, {name: a}]
  steps: [{name: s, image: alpine, script: echo}]
`, []string{`spec.params[2].name: duplicate param name "a"`}},
		{"duplicate binding params", `
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: tb}
spec:
  params: [{name: a, value: "1"}, {name: a, value: "2"}]
`, []string{`spec.params[1].name: duplicate param name "a"`}},
		{"undeclared tt param", `
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tt}
spec:
  params: [{name: rev}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: run-}
    spec:
      pipelineRef: {name: p}
      params: [{name: url, value: $(tt.params.url)}]
`, []string{`spec.resourcetemplates[0]: $(tt.params.url) is not declared in spec.params`}},
		{"missing binding and template", `
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: tr}
spec:
  bindings: [{ref: nope}, {ref: cnope, kind: ClusterTriggerBinding}]
  template: {ref: nott}
`, []string{`(Trigger tr): spec.bindings[0].ref: TriggerBinding "nope" not found`,
			`spec.bindings[1].ref: ClusterTriggerBinding "cnope" not found`,
			`spec.template.ref: TriggerTemplate "nott" not found`}},
		{"eventlistener triggerRef missing", `
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggers: [{triggerRef: ghost}]
`, []string{`(EventListener el): spec.triggers[0].triggerRef: Trigger "ghost" not found`}},
		{"runAfter missing task", `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - {name: a, taskRef: {name: t}}
  - {name: b, taskRef: {name: t}, runAfter: [a, c]}
`, []string{`spec.tasks[1].runAfter[1]: task "c" does not exist in spec.tasks`}},
		{"dag cycle", `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - {name: a, taskRef: {name: t}, runAfter: [c]}
  - {name: b, taskRef: {name: t}, runAfter: [a]}
  - name: c
    taskRef: {name: t}
    params: [{name: x, value: $(tasks.b.results.out)}]
`, []string{`spec.tasks: dependency cycle: a -> c -> b -> a`}},
		{"result not declared by referenced task", `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: gen}
spec:
  results: [{name: id}]
  steps: [{name: s, image: alpine, script: "echo 1 > $(results.id.path)"}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - {name: a, taskRef: {name: gen}}
  - name: b
    taskRef: {name: gen}
    params: [{name: x, value: "$(tasks.a.results.digest)"}]
    when: [{input: "$(tasks.a.results.id)", operator: in, values: ["1"]}]
`, []string{`(Pipeline p): spec.tasks[1].params[0].value: result "digest" is not declared by task "a"`}},
		{"result written but not declared", `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results: [{name: id}]
  steps: [{name: s, image: alpine, script: "echo 1 > $(results.idd.path)"}]
`, []string{`spec.steps[0].script: result "idd" is written but not declared in spec.results`}},
		{"invalid CEL", `
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: tr}
spec:
  interceptors:
  - ref: {name: cel}
    params: [{name: filter, value: "body.ref == "}]
  template:
    spec:
      resourcetemplates: [{apiVersion: v1, kind: ConfigMap, metadata: {generateName: c-}}]
`, []string{`(Trigger tr): spec.interceptors[0]: cel interceptor:`}},
		{"CEL filter not bool", `
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: tr}
spec:
  interceptors:
  - cel: {filter: "'main'"}
  template:
    spec:
      resourcetemplates: [{apiVersion: v1, kind: ConfigMap, metadata: {generateName: c-}}]
`, []string{`spec.interceptors[0]: cel interceptor:`}},
		{"v1beta1-only field in v1", `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineRef: {name: p}
  serviceAccountName: sa
`, []string{`spec.serviceAccountName: field is only valid in tekton.dev/v1beta1`}},
		{"same field in v1beta1 is fine", `
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineRef: {name: p}
  serviceAccountName: sa
  timeout: 1h
`, nil},
		{"not yaml", "apiVersion: v1\nkind: [\n", []string{"document 1: not valid YAML"}},
		{"v1alpha1 listener with bindings by name", okTemplate + `---
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: old}
spec:
  triggers:
  - name: t
    interceptors: [{github: {eventTypes: [push]}}]
    bindings: [{name: tb}]
    template: {name: tt}
`, nil},
		{"v1alpha1 binding by name that does not exist", `
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: old}
spec:
  triggers:
  - bindings: [{name: nope}]
    template: {name: tt}
`, []string{`spec.triggers[0].bindings[0].ref: TriggerBinding "nope" not found`, `spec.triggers[0].template.ref: TriggerTemplate "tt" not found`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(tc.want) == 0 && len(got) > 0 {
				t.Fatalf("want no problems, got:\n%s", strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					if strings.Contains(g, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem contains %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
			if len(got) > len(tc.want) && len(tc.want) > 0 {
				t.Errorf("unexpected extra problems:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// TestSeeds validates every complete manifest of the tutorials in ../shared/seeds as one set. The only
// problems allowed are real mistakes in the seeds, listed here.
func TestSeeds(t *testing.T) {
	root, _ := filepath.Abs("../..")
	dir := seeds.Dir(root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds: nothing to validate", root)
	}
	docs, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var objs []load.Object
	var problems []load.Problem
	for _, d := range docs {
		if d.Elided {
			continue
		}
		os, ps := load.Reader(fmt.Sprintf("%s:%d", d.File, d.Line), strings.NewReader(string(d.YAML)))
		objs = append(objs, os...)
		problems = append(problems, ps...)
	}
	problems = append(problems, validate.Objects(objs)...)
	// The 000 tutorial's Pipeline binds task resources to a Pipeline resource "repo" it never declares in
	// spec.resources (and its PipelineRun binds none): Tekton rejects it too.
	known := map[string]bool{
		"000_984e91cfe5966be9.txt:47: document 1 (Pipeline test-build-push): spec.tasks[0].resources.inputs[0].resource: pipeline resource \"repo\" is not declared in spec.resources": true,
		"000_984e91cfe5966be9.txt:47: document 1 (Pipeline test-build-push): spec.tasks[1].resources.inputs[0].resource: pipeline resource \"repo\" is not declared in spec.resources": true,
	}
	if len(objs) < 20 {
		t.Errorf("only %d seed objects loaded", len(objs))
	}
	for _, p := range problems {
		if !known[p.String()] {
			t.Errorf("unexpected problem in a seed: %s", p)
		}
	}
}

// TestExamples: the examples `make run` applies validate clean.
func TestExamples(t *testing.T) {
	paths, err := load.Paths([]string{"../../examples/github-push", "../../examples/gitlab-mr"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []load.Object
	var problems []load.Problem
	for _, p := range paths {
		o, ps := load.File(p)
		objs = append(objs, o...)
		problems = append(problems, ps...)
	}
	problems = append(problems, validate.Objects(objs)...)
	for _, p := range problems {
		t.Error(p.String())
	}
	if len(objs) < 10 {
		t.Errorf("only %d example objects", len(objs))
	}
}

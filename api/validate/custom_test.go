package validate_test

import (
	"strings"
	"testing"
)

const customTaskPipeline = `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: echo}
spec:
  params: [{name: in}]
  results: [{name: out}]
  steps: [{name: s, image: alpine, script: echo}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - name: wait
    taskRef: {apiVersion: example.dev/v1alpha1, kind: Wait, name: short}
    params: [{name: duration, value: 1s}]
  - name: approve
    taskSpec:
      apiVersion: example.dev/v1alpha1
      kind: Approval
      spec: {approvers: [alice]}
  - name: b
    taskRef: {name: echo}
    params: [{name: in, value: "$(tasks.wait.results.anything) $(tasks.b2.results.out)"}]
    when: [{input: "$(tasks.approve.results.decision)", operator: in, values: ["yes"]}]
  - name: b2
    taskRef: {name: echo}
    params: [{name: in, value: x}]
`

func TestValidateCustomTasks(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must appear in one problem line; empty = no problems
	}{
		{"custom tasks by reference and embedded, results used", customTaskPipeline, nil},
		{"a Task's undeclared result is still found", strings.Replace(customTaskPipeline, "tasks.b2.results.out", "tasks.b2.results.nope", 1),
			[]string{`result "nope" is not declared by task "b2"`}},
		{"a cycle through a custom task", strings.Replace(customTaskPipeline, "params: [{name: duration, value: 1s}]",
			"params: [{name: duration, value: $(tasks.b.results.out)}]", 1), []string{"dependency cycle"}},
		{"runAfter a missing task", strings.Replace(customTaskPipeline, "params: [{name: duration, value: 1s}]",
			"runAfter: [nope]", 1), []string{`spec.tasks[0].runAfter[0]: task "nope" does not exist`}},
		{"apiVersion without group", strings.Replace(customTaskPipeline, "apiVersion: example.dev/v1alpha1, kind: Wait", "apiVersion: v1, kind: Wait", 1),
			[]string{`spec.tasks[0].taskRef.apiVersion: "v1" must be group/version`}},
		{"duplicate params", strings.Replace(customTaskPipeline, "params: [{name: duration, value: 1s}]",
			"params: [{name: d, value: 1s}, {name: d, value: 2s}]", 1), []string{`spec.tasks[0].params[1].name: duplicate param name "d"`}},
		{"custom task with resolver", strings.Replace(customTaskPipeline, "kind: Wait, name: short", "kind: Wait, resolver: git", 1),
			[]string{`spec.tasks[0].taskRef: a custom task reference (kind "Wait") takes no resolver or bundle`}},
		{"kind without apiVersion", strings.Replace(customTaskPipeline, "apiVersion: example.dev/v1alpha1, kind: Wait, name: short", "kind: Wait, name: short", 1),
			[]string{`spec.tasks[0].taskRef.kind: "Wait" is not a kind hookrun runs (Task or ClusterTask; a custom task needs apiVersion too)`}},
		{"embedded custom task with steps", strings.Replace(customTaskPipeline, "spec: {approvers: [alice]}", "steps: [{name: s, image: alpine}]", 1),
			[]string{`spec.tasks[1].taskSpec.steps: a custom task (kind "Approval") has no steps`}},
		{"TaskRun of a custom kind", `
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: tr}
spec:
  taskRef: {apiVersion: example.dev/v1alpha1, kind: Wait}
`, []string{`(TaskRun tr): spec.taskRef: apiVersion "example.dev/v1alpha1" kind "Wait" is a custom task: a TaskRun runs a Task or ClusterTask only`}},
		{"CustomRun and v1alpha1 Run", `
apiVersion: tekton.dev/v1beta1
kind: CustomRun
metadata: {name: cr}
spec:
  customRef: {apiVersion: example.dev/v1alpha1, kind: Wait}
  params: [{name: duration, value: 1s}]
---
apiVersion: tekton.dev/v1alpha1
kind: Run
metadata: {name: r}
spec:
  ref: {apiVersion: example.dev/v1alpha1, kind: Example}
`, nil},
		{"CustomRun without a custom task", `
apiVersion: tekton.dev/v1beta1
kind: CustomRun
metadata: {name: cr}
spec:
  params: [{name: a, value: "1"}]
---
apiVersion: tekton.dev/v1alpha1
kind: Run
metadata: {name: r}
spec:
  ref: {name: x}
`, []string{`(CustomRun cr): spec: exactly one of customRef or customSpec is required`,
			`(Run r): spec.ref: apiVersion and kind are required`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(tc.want) == 0 && len(got) > 0 {
				t.Fatalf("want no problems, got:\n%s", strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem contains %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
			if len(tc.want) > 0 && len(got) > len(tc.want) {
				t.Errorf("unexpected extra problems:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

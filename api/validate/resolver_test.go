package validate_test

import (
	"strings"
	"testing"
)

func TestValidateResolverRefs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must appear in one problem line; empty = no problems
	}{
		{"git pipelineRef ok", `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: r}
spec:
  pipelineRef:
    resolver: git
    params:
    - {name: url, value: https://example.com/catalog.git}
    - {name: revision, value: main}
    - {name: pathInRepo, value: pipeline.yaml}`, nil},
		{"git missing pathInRepo", `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: r}
spec:
  pipelineRef:
    resolver: git
    params: [{name: url, value: https://example.com/catalog.git}]`, []string{"spec.pipelineRef.params: resolver git, param pathInRepo: required param"}},
		{"unknown resolver", `apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: r}
spec:
  taskRef: {resolver: svn, params: [{name: url, value: x}]}`, []string{`spec.taskRef.resolver: resolver svn: unknown resolver "svn"`}},
		{"pipeline task bad hub kind and api mode", `apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - name: a
    taskRef:
      resolver: hub
      params: [{name: name, value: git-clone}, {name: version, value: "0.9"}, {name: kind, value: stepaction}]
  - name: b
    taskRef:
      resolver: git
      params: [{name: org, value: tektoncd}, {name: repo, value: catalog}, {name: pathInRepo, value: x}]`,
			[]string{`spec.tasks[0].taskRef.params[2]: resolver hub, param kind: "stepaction" is not one of task, pipeline`,
				"spec.tasks[1].taskRef.params[0]: resolver git, param org: the git resolver's API mode"}},
		{"bundle field needs name, name with resolver", `apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata: {name: r}
spec:
  taskRef: {bundle: registry.example.com/catalog:v1}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: s}
spec:
  taskRef: {name: x, resolver: cluster, params: [{name: name, value: x}]}`, []string{"spec.taskRef.name: required with bundle", "spec.taskRef.name: cannot be used with resolver"}},
		{"cluster task ok, bad kind", `apiVersion: tekton.dev/v1beta1
kind: ClusterTask
metadata: {name: ct}
spec:
  steps: [{name: s, image: busybox, script: echo}]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: r}
spec:
  taskRef: {name: ct, kind: ClusterTask}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: s}
spec:
  taskRef: {name: ct, kind: CustomTask}`, []string{`spec.taskRef.kind: "CustomTask" is not a kind hookrun runs`}},
		{"cluster task results known", `apiVersion: tekton.dev/v1beta1
kind: ClusterTask
metadata: {name: ct}
spec:
  results: [{name: digest}]
  steps: [{name: s, image: busybox, script: echo}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - {name: a, taskRef: {name: ct, kind: ClusterTask}}
  - name: b
    taskRef: {name: ct, kind: ClusterTask}
    params: [{name: x, value: "$(tasks.a.results.digest) $(tasks.a.results.nope)"}]`, []string{`result "nope" is not declared by task "a"`}},
		{"cluster task spec checked", `apiVersion: tekton.dev/v1beta1
kind: ClusterTask
metadata: {name: ct}
spec:
  steps: []`, []string{"ClusterTask ct): spec.steps: a Task needs at least one step"}},
		{"step ref resolver params", `apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
  - name: s
    ref: {resolver: http, params: []}`, []string{"spec.steps[0].ref.params: resolver http, param url: required"}},
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
			if len(got) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
		})
	}
}

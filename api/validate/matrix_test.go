package validate_test

import (
	"strings"
	"testing"
)

func TestValidateMatrixAndCELWhen(t *testing.T) {
	pipeline := func(tasks string) string {
		return `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: browser-test}
spec:
  params: [{name: browser}, {name: platform}, {name: flags, type: array}]
  results: [{name: report}]
  steps: [{name: s, image: alpine, script: echo}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params: [{name: browsers, type: array}, {name: branch}]
  tasks:
` + tasks
	}
	for _, tc := range []struct {
		name string
		yaml string
		want []string // each must appear in one problem line, in order; empty = no problems
	}{
		{"valid matrix, include, results and cel when", pipeline(`
  - name: test
    taskRef: {name: browser-test}
    params: [{name: flags, value: [-v]}]
    when: [{cel: "'$(params.branch)' == 'main'"}]
    matrix:
      params:
      - {name: platform, value: [linux, mac]}
      - {name: browser, value: "$(params.browsers[*])"}
      include:
      - name: extra
        params: [{name: browser, value: edge}]
  - name: after
    taskRef: {name: browser-test}
    params:
    - {name: flags, value: "$(tasks.test.results.report[*])"}
    - {name: browser, value: "x"}
    - {name: platform, value: "$(tasks.test.matrix.length)"}
    when: [{cel: "true && 1 < 2"}]
`), nil},
		{"matrix problems", pipeline(`
  - name: test
    taskRef: {name: browser-test}
    params: [{name: browser, value: x}, {name: flags, value: []}]
    matrix:
      params:
      - {name: platform, value: linux}
      - {name: browser, value: [a, b]}
      - {name: flags, value: [c]}
      - {name: platform, value: [d]}
      include:
      - params: [{name: platform, value: [e]}]
`), []string{
			"spec.tasks[0].matrix.params[0].value: a matrix param must be an array",
			`spec.tasks[0].matrix.params[1].name: param "browser" is given in both params and matrix`,
			`spec.tasks[0].matrix.params[2].name: param "flags" is given in both params and matrix`,
			`spec.tasks[0].matrix.params[2].name: param "flags" is declared array by the Task`,
			`spec.tasks[0].matrix.params[3].name: matrix param "platform" is given twice`,
			"spec.tasks[0].matrix.include[0].params[0].value: an include param is a string",
		}},
		{"too many combinations", pipeline(`
  - name: test
    taskRef: {name: browser-test}
    params: [{name: flags, value: []}]
    matrix:
      params:
      - {name: platform, value: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]}
      - {name: browser, value: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]}
      include:
      - params: [{name: browser, value: zz}]
`), []string{"spec.tasks[0].matrix: fans out to 273 combinations, more than Tekton's default-max-matrix-combinations-count (256)"}},
		{"cel when problems", pipeline(`
  - name: test
    taskRef: {name: browser-test}
    params: [{name: flags, value: []}, {name: browser, value: x}, {name: platform, value: y}]
    when:
    - {cel: "'$(params.branch)' =="}
    - {cel: "'main'"}
    - {cel: "true", input: a, operator: in, values: [a]}
`), []string{
			"spec.tasks[0].when[0].cel: does not parse",
			"spec.tasks[0].when[1].cel: is of type string, a when expression must be a bool",
			"spec.tasks[0].when[2].cel: cannot be combined with input, operator or values",
		}},
		{"pipelines in pipelines", pipeline(`
  - name: child
    pipelineSpec: {tasks: [{name: inner, taskRef: {name: browser-test}}]}
  - name: other
    pipelineRef: {name: p2}
`), []string{
			"spec.tasks[0].pipelineSpec: Pipelines in Pipelines are not supported by hookrun",
			"spec.tasks[1].pipelineRef: Pipelines in Pipelines are not supported by hookrun",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

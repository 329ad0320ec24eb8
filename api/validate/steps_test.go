package validate_test

import (
	"strings"
	"testing"
)

const stepAction = `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: greet}
spec:
  params: [{name: who}, {name: greeting, default: hello}]
  results: [{name: message}]
  image: busybox
  script: printf '%s %s' "$(params.greeting)" "$(params.who)" > $(step.results.message.path)
`

func TestValidateSteps(t *testing.T) {
	task := func(steps string) string {
		return "---\napiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  params: [{name: p}]\n  steps:\n" + steps
	}
	for _, tc := range []struct {
		name string
		yaml string
		want []string // each must be exactly one problem line's suffix after the document name
	}{
		{"StepAction ref with params, when, stdoutConfig, displayName", stepAction + `---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  displayName: The task
  params: [{name: p}]
  results:
    - {name: greeting, value: $(steps.hello.results.message)}
    - {name: out}
  steps:
    - name: hello
      displayName: Say hello
      ref: {name: greet}
      params: [{name: who, value: $(params.p)}]
    - name: echo
      image: busybox
      stdoutConfig: {path: $(results.out.path)}
      when:
        - {input: $(params.p), operator: in, values: [a]}
        - {cel: "'$(params.p)' != 'b'"}
      results: [{name: r}]
      script: echo $(steps.hello.results.message) > $(step.results.r.path)
`, nil},
		{"displayName on a Pipeline and its tasks", `apiVersion: tekton.dev/v1beta1
kind: Pipeline
metadata: {name: p}
spec:
  displayName: Build and test
  description: builds
  tasks:
    - name: build
      displayName: Build the image
      description: the build
      taskSpec:
        displayName: Build
        steps: [{name: s, displayName: Step one, image: busybox, script: "true"}]
`, nil},
		{"forbidden fields with ref", stepAction + task(`    - name: s
      ref: {name: greet}
      image: busybox
      script: echo
      params: [{name: who, value: x}]
`), []string{"spec.steps[0].image: cannot be used with ref", "spec.steps[0].script: cannot be used with ref"}},
		{"StepAction params checked", stepAction + task(`    - name: s
      ref: {name: greet}
      params: [{name: whom, value: x}]
`), []string{`spec.steps[0].params: StepAction "greet" needs param "who"`, `spec.steps[0].params[0].name: StepAction "greet" declares no param "whom"`}},
		{"ref needs a name or resolver", task(`    - name: s
      ref: {}
`), []string{"spec.steps[0].ref.name: required"}},
		{"params on an inline step", task(`    - {name: s, image: busybox, script: "true", params: [{name: a, value: b}]}
`), []string{"spec.steps[0].params: only a step with a ref takes params"}},
		{"step when", task(`    - name: s
      image: busybox
      script: "true"
      when:
        - {input: a, operator: equals, values: [a]}
        - {input: a, operator: in}
        - {cel: "1 +"}
`), []string{`spec.steps[0].when[0].operator: "equals": want in or notin`, "spec.steps[0].when[1].values: required", "spec.steps[0].when[2].cel: does not parse"}},
		{"stdoutConfig on an image-entrypoint step", task(`    - {name: s, image: kaniko, args: [x], stdoutConfig: {path: /tmp/o}}
`), []string{"spec.steps[0].stdoutConfig: needs the step's command or script"}},
		{"undeclared step result and unknown step", `---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results: [{name: r, value: $(steps.nope.results.x)}]
  steps:
    - {name: s, image: busybox, script: "echo > $(step.results.x.path)"}
`, []string{`spec.results[0].value: step "nope" is not a step of this Task`, `spec.steps[0].script: step result "x" is written but not declared in spec.steps[0].results`}},
		{"workspaces keys ignoring case (Tekton's examples write mountpath); unknown ones refused", `---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces: [{name: creds}]
  sidecars:
    - image: alpine
      command: [sleep, "1"]
      workspaces: [{name: creds, mountPth: /x}]
  steps:
    - name: s
      image: alpine
      command: [ls]
      workspaces: [{name: creds, mountpath: /creds}]
    - name: t
      image: alpine
      command: [ls]
      workspaces: [{name: creds, readOnly: true}]
`, []string{"spec.sidecars[0].workspaces[0].mountPth: unknown field", "spec.steps[1].workspaces[0].readOnly: unknown field"}},
		{"StepAction without image", `apiVersion: tekton.dev/v1alpha1
kind: StepAction
metadata: {name: a}
spec:
  script: echo > $(step.results.x.path)
`, []string{"spec.image: required", `spec.script: step result "x" is written but not declared in spec.results`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasSuffix(got[i], w) && !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

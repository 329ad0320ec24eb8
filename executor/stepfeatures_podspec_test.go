package executor_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// A workspace a step or sidecar lists is mounted only in the containers that list it (at the usage's
// mountPath when given); a workspace nobody lists stays in every step. Step when, results and
// stdoutConfig reach the wrapper's command line; an image-entrypoint step whose when is false at build time
// is replaced by the wrapper reporting it skipped.
func TestPodSpecIsolatedWorkspacesAndStepFlags(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: isolated
spec:
  params:
    - {name: mode, value: fast}
  workspaces:
    - {name: creds, emptyDir: {}}
    - {name: source, emptyDir: {}}
  taskSpec:
    params:
      - name: mode
    workspaces:
      - name: creds
      - name: source
    results:
      - name: out
    sidecars:
      - name: helper
        image: busybox
        command: [sleep, infinity]
        workspaces:
          - name: creds
    steps:
      - name: login
        image: busybox
        workspaces:
          - name: creds
            mountPath: /my/creds
        results:
          - name: token
        when:
          - {input: $(params.mode), operator: notin, values: [slow]}
        stdoutConfig:
          path: $(results.out.path)
        command: [sh, -c, "echo hi > $(step.results.token.path)"]
      - name: build
        image: busybox
        args: ["$(steps.login.results.token)", "$(steps.nope.results.x)"]
        command: [echo]
      - name: kaniko
        image: kaniko:test
        args: [--no-push]
        when:
          - {input: $(params.mode), operator: in, values: [slow]}
`)
	pod := waitPod(t, ns, "isolated-pod")
	internal := []string{
		"tekton-internal-bin:/tekton/bin:ro", "tekton-internal-results:/tekton/results", "tekton-internal-steps:/tekton/steps",
		"tekton-internal-scripts:/tekton/scripts", "tekton-internal-home:/tekton/home", "tekton-internal-workspace:/workspace",
	}
	with := func(extra ...string) []string { return append(append([]string{}, internal...), extra...) }
	wrapper := func(name string, flags ...string) []string {
		// Six containers: each termination message gets 12 KiB / 6.
		return append(append([]string{"/tekton/bin/hookrun-step", "run", "--name", name, "--on-error", "stopAndFail", "--results", "out"}, flags...), "--message-limit", "2048", "--")
	}
	env := []string{"HOME=/tekton/home"}
	want := []container{
		{Name: "sidecar-helper", Image: "busybox", Command: []string{"sleep", "infinity"}, Env: env,
			Mounts: with("ws-creds:/workspace/creds", "ws-source:/workspace/source"), Sidecar: true},
		{Name: "step-login", Image: "busybox",
			Command: append(wrapper("login", "--step-results", "token",
				"--when", `[{"input":"fast","operator":"notin","values":["slow"]}]`, "--stdout-path", "/tekton/results/out"),
				"sh", "-c", "echo hi > /tekton/steps/login/results/token"),
			Env: env, Mounts: with("ws-creds:/my/creds", "ws-source:/workspace/source"), TermPath: "/tekton/termination"},
		{Name: "step-build", Image: "busybox",
			Command: append(wrapper("build", "--step-result-refs", "login/token"), "echo"),
			Args:    []string{"$(steps.login.results.token)", "$(steps.nope.results.x)"},
			Env:     env, Mounts: with("ws-source:/workspace/source"), TermPath: "/tekton/termination"},
		{Name: "step-kaniko", Image: "kaniko:test",
			Command: wrapper("kaniko", "--when", `[{"input":"fast","operator":"in","values":["slow"]}]`),
			Env:     env, Mounts: with("ws-source:/workspace/source"), TermPath: "/tekton/termination"},
	}
	assertContainers(t, "sidecar and step containers", pod.Spec.InitContainers[1:], want)
}

func TestStepFeatureValidationFailures(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1alpha1
kind: StepAction
metadata:
  name: act
spec:
  params:
    - name: required
  image: busybox
  script: echo $(params.required)
`)
	for _, tc := range []struct {
		name, spec, reason, msg string
	}{
		{"ref-with-image", `taskSpec:
    steps: [{name: s, ref: {name: act}, image: busybox, params: [{name: required, value: x}]}]`,
			"TaskRunValidationFailed", "spec.taskSpec.steps[0].image cannot be used with ref"},
		{"ref-with-script", `taskSpec:
    steps: [{name: a, image: busybox, script: "true"}, {name: s, ref: {name: act}, script: "echo"}]`,
			"TaskRunValidationFailed", "spec.taskSpec.steps[1].script cannot be used with ref"},
		{"ref-missing-param", `taskSpec:
    steps: [{name: s, ref: {name: act}}]`, "TaskRunValidationFailed", `spec.taskSpec.steps[0].params: missing parameters of StepAction "act": required`},
		{"ref-unknown-param", `taskSpec:
    steps: [{name: s, ref: {name: act}, params: [{name: required, value: x}, {name: other, value: y}]}]`,
			"TaskRunValidationFailed", `spec.taskSpec.steps[0].params: StepAction "act" declares no param "other"`},
		{"ref-not-found", `taskSpec:
    steps: [{name: s, ref: {name: nope}}]`, "TaskRunResolutionFailed", `StepAction "nope" not found in namespace`},
		{"ref-resolver", `taskSpec:
    steps: [{name: s, ref: {resolver: git, params: [{name: url, value: x}]}}]`, "TaskRunResolutionFailed", "spec.taskSpec.steps[0].ref: resolver git, param pathInRepo"},
		{"inline-step-params", `taskSpec:
    steps: [{name: s, image: busybox, script: "true", params: [{name: a, value: b}]}]`,
			"TaskRunValidationFailed", "spec.taskSpec.steps[0].params: only a step with a ref takes params"},
		{"stdout-on-image-entrypoint", `taskSpec:
    steps: [{name: s, image: kaniko, args: [x], stdoutConfig: {path: /tmp/out}}]`,
			"TaskRunValidationFailed", "spec.steps[0].stdoutConfig needs the step's command or script"},
		{"timeout-on-image-entrypoint", `taskSpec:
    steps: [{name: s, image: kaniko, args: [x], timeout: 5m}]`,
			"TaskRunValidationFailed", "spec.steps[0].timeout needs the step's command or script"},
		{"onerror-on-image-entrypoint", `taskSpec:
    steps: [{name: s, image: kaniko, args: [x], onError: continue}]`,
			"TaskRunValidationFailed", "spec.steps[0].onError needs the step's command or script"},
		{"bad-when-operator", `taskSpec:
    steps: [{name: s, image: kaniko, when: [{input: a, operator: is, values: [a]}]}]`,
			"TaskRunValidationFailed", `spec.steps[0].when[0]: operator "is": want in or notin`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+tc.spec+"\n")
			tr := waitTaskRunReason(t, ns, tc.name, tc.reason)
			c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			if c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("condition = %+v, want message containing %q", c, tc.msg)
			}
		})
	}
}

// A StepAction's array and object params given the Task's array and object params ($(params.x[*])):
// elements and keys reach the step; an object key the Task's param does not have comes from the
// StepAction's default; a StepAction default may use its other params.
func TestPodSpecStepActionTaskParams(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: show
spec:
  params:
    - name: list
      type: array
      default: [x]
    - name: obj
      type: object
      properties: {k1: {type: string}, k2: {type: string}, k3: {type: string}}
      default: {k1: action-k1, k2: action-k2, k3: action-k3}
    - name: word
      default: plain
    - name: phrase
      default: "say $(params.word)"
  image: busybox
  command: [echo]
  args: ["$(params.list[*])", "$(params.list[1])", "$(params.obj.k1)", "$(params.obj.k2)", "$(params.obj.k3)", "$(params.phrase)"]
  env:
    - {name: FIRST, value: "$(params.list[0])"}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: task-params
spec:
  params:
    - {name: items, value: [a, b]}
    - {name: cfg, value: {k2: run-k2}}
  taskSpec:
    params:
      - {name: items, type: array}
      - name: cfg
        type: object
        properties: {k1: {type: string}, k2: {type: string}}
        default: {k1: task-k1, k2: task-k2}
    steps:
      - name: show
        ref: {name: show}
        params:
          - {name: list, value: "$(params.items[*])"}
          - {name: obj, value: "$(params.cfg[*])"}
          - {name: word, value: hello}
`)
	pod := waitPod(t, ns, "task-params-pod")
	c := pod.Spec.InitContainers[1]
	got := view(c)
	if want := []string{"a", "b", "b", "task-k1", "run-k2", "action-k3", "say hello"}; !equalJSON(got.Args, want) {
		t.Errorf("args = %q, want %q", got.Args, want)
	}
	if want := []string{"HOME=/tekton/home", "FIRST=a"}; !equalJSON(got.Env, want) {
		t.Errorf("env = %q, want %q", got.Env, want)
	}
}

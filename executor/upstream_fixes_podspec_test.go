package executor_test

import (
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

// Tekton's examples (taskruns/workspace-in-sidecar.yaml, pipelineruns/beta/isolated-workspaces.yaml) have
// sidecars without a name and a step's workspaces[].mountpath in lower case: the CRD accepts both, an
// unnamed sidecar's container is "sidecar" as in Tekton (a second unnamed one sidecar-unnamed-I, where
// Tekton's Pod would be refused for a duplicate name), and mountpath reaches the Pod as mountPath would.
func TestPodSpecUnnamedSidecarsAndLowerCaseMountPath(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: compat
spec:
  workspaces:
    - {name: creds, emptyDir: {}}
  taskSpec:
    workspaces:
      - name: creds
    sidecars:
      - image: alpine
        command: [sleep, infinity]
      - name: named
        image: alpine
        command: [sleep, infinity]
      - image: alpine
        script: sleep infinity
    steps:
      - name: use
        image: alpine
        workspaces:
          - name: creds
            mountpath: /creds
        command: [ls, /creds]
`)
	pod := waitPod(t, ns, "compat-pod")
	var names []string
	for _, c := range pod.Spec.InitContainers[1:4] {
		names = append(names, c.Name)
	}
	if want := []string{"sidecar", "sidecar-named", "sidecar-unnamed-2"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("sidecar containers = %q, want %q", names, want)
	}
	step := stepAt(t, pod, 0)
	var mounted string
	for _, m := range step.VolumeMounts {
		if m.Name == "ws-creds" {
			mounted = m.MountPath
		}
	}
	if mounted != "/creds" {
		t.Errorf("step-use mounts the creds workspace at %q, want /creds (workspaces[0].mountpath); mounts: %s", mounted, jsonText(view(step).Mounts))
	}
	// status.taskSpec may be written after the Pod is created.
	var tr *pipelinev1.TaskRun
	eventually(t, 30*time.Second, "status.taskSpec of compat", func() (bool, error) {
		tr = getTaskRun(t, ns, "compat")
		return tr.Status.TaskSpec != nil, nil
	})
	if got := tr.Status.TaskSpec; len(got.Steps) == 0 || len(got.Steps[0].Workspaces) == 0 || got.Steps[0].Workspaces[0].MountPath != "/creds" {
		t.Errorf("status.taskSpec step workspaces = %s, want mountPath /creds", jsonText(got))
	}
}

// A workspaces entry key that matches no field even ignoring case is refused, naming it (Tekton's webhook
// refuses unknown fields); the CRD keeps such keys so that the lower-case mountpath can work.
func TestUnknownWorkspaceUsageFieldRefused(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: typo
spec:
  workspaces:
    - {name: creds, emptyDir: {}}
  taskSpec:
    workspaces:
      - name: creds
    sidecars:
      - image: alpine
        command: [sleep, infinity]
        workspaces:
          - {name: creds, mountPth: /x}
    steps:
      - name: use
        image: alpine
        command: ["true"]
`)
	tr := waitTaskRunReason(t, ns, "typo", "TaskRunValidationFailed")
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if want := "spec.taskSpec.sidecars[0].workspaces[0].mountPth: unknown field"; !strings.Contains(c.Message, want) {
		t.Errorf("message = %q, want it to contain %q", c.Message, want)
	}
}

// taskruns/stepaction-params.yaml: an object StepAction param given $(params.X[*]) where X is a string
// (here a propagated param the TaskRun passes and the Task does not declare) keeps the StepAction's
// default, as in Tekton (which leaves $(params.X[*]) of a string as is); an object X the TaskRun passes
// undeclared gives its keys, the default the others. An array param given a string is refused.
func TestPodSpecStepActionPropagatedParams(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: show
spec:
  params:
    - name: enum
      type: object
      properties: {v1: {type: string}, v2: {type: string}}
      default: {v1: enum1, v2: enum2}
    - name: obj
      type: object
      properties: {k1: {type: string}, k2: {type: string}}
      default: {k1: action-k1, k2: action-k2}
    - name: list
      type: array
      default: [x]
  image: alpine
  command: [echo]
  args: ["$(params.enum.v1)", "$(params.enum.v2)", "$(params.obj.k1)", "$(params.obj.k2)"]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: propagated
spec:
  params:
    - {name: enumparam, value: enum1}
    - {name: cfg, value: {k2: run-k2}}
  taskSpec:
    steps:
      - name: show
        ref: {name: show}
        params:
          - {name: enum, value: "$(params.enumparam[*])"}
          - {name: obj, value: "$(params.cfg[*])"}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: array-of-string
spec:
  params:
    - {name: word, value: hello}
  taskSpec:
    params:
      - name: word
    steps:
      - name: show
        ref: {name: show}
        params:
          - {name: list, value: "$(params.word[*])"}
`)
	pod := waitPod(t, ns, "propagated-pod")
	if got, want := view(pod.Spec.InitContainers[1]).Args, []string{"enum1", "enum2", "action-k1", "run-k2"}; !equalJSON(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	tr := waitTaskRunReason(t, ns, "array-of-string", "TaskRunValidationFailed")
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if want := `spec.taskSpec.steps[0].params: param "list": the StepAction declares type array but $(params.word) is a string param`; !strings.Contains(c.Message, want) {
		t.Errorf("message = %q, want it to contain %q", c.Message, want)
	}
}

// pipelineruns/beta/ignore-task-error.yaml: a failed TaskRun of a pipeline task with onError: continue ends
// with reason FailureIgnored (Tekton: annotation pipeline.tekton.dev/pipeline-task-on-error on the
// TaskRun), and $(tasks.T.reason) of a matrixed task is the reason of its first TaskRun that did not
// succeed.
func TestOnErrorContinueReason(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: oe
spec:
  pipelineSpec:
    tasks:
      - name: single
        onError: continue
        taskSpec:
          steps: [{name: echo, image: alpine, script: "exit 1"}]
      - name: build
        onError: continue
        matrix:
          params:
            - {name: arch, value: [amd64, arm64]}
        taskSpec:
          params: [{name: arch}]
          steps: [{name: echo, image: alpine, script: "echo $(params.arch)"}]
    finally:
      - name: verify
        params:
          - {name: single, value: "$(tasks.single.reason)"}
          - {name: build, value: "$(tasks.build.reason)"}
        taskSpec:
          params: [{name: single}, {name: build}]
          steps: [{name: echo, image: alpine, script: "echo"}]
`)
	fail := map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(1, nil, false)}
	finishTask(t, ns, "oe-single", fail)
	finishTask(t, ns, "oe-build-0", nil)
	finishTask(t, ns, "oe-build-1", fail)
	tr := waitTaskRunReason(t, ns, "oe-single", "FailureIgnored")
	if got := tr.Annotations["pipeline.tekton.dev/pipeline-task-on-error"]; got != "continue" {
		t.Errorf("annotation pipeline.tekton.dev/pipeline-task-on-error = %q, want continue", got)
	}
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != "False" {
		t.Errorf("oe-single condition = %+v, want False", c)
	}
	verify := waitTaskRun(t, ns, "oe-verify")
	if got := paramsText(verify); got != "single=FailureIgnored,build=FailureIgnored" {
		t.Errorf("finally params = %s", got)
	}
	finishTask(t, ns, "oe-verify", nil)
	eventually(t, 15*time.Second, "PipelineRun oe succeeded", func() (bool, error) {
		c := getPipelineRun(t, ns, "oe").Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status == "True", nil
	})
}

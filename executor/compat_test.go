package executor_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

// Tekton substitutes a TaskRun's params first and its context, workspace and result variables after, so a
// Pipeline author may pass "$(workspaces.src.path)/file" or "$(context.task.retry-count)" as a param value
// and the Task sees them expanded. $(context.pipelineTask.retries) is the pipeline task's retries and a
// Pipeline result may name a finally task's result.
const compatPipelineRun = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: compat
spec:
  workspaces:
    - name: shared
      emptyDir: {}
  pipelineSpec:
    workspaces:
      - name: shared
    results:
      - name: from-finally
        value: $(finally.last.results.out)
    tasks:
      - name: first
        retries: 2
        workspaces:
          - {name: src, workspace: shared}
        params:
          - {name: retries, value: "$(context.pipelineTask.retries)"}
          - {name: attempt, value: "$(context.task.retry-count)"}
          - {name: file, value: "$(workspaces.src.path)/Dockerfile"}
        taskSpec:
          workspaces:
            - name: src
          params:
            - name: retries
            - name: attempt
            - name: file
          steps:
            - name: show
              image: busybox
              script: echo "$(params.retries)|$(params.attempt)|$(params.file)"
    finally:
      - name: last
        taskSpec:
          results:
            - name: out
          steps:
            - name: echo
              image: busybox
              script: printf done > $(results.out.path)
`

func TestPipelineRunTektonVariableOrder(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, compatPipelineRun)

	first := waitTaskRun(t, ns, "compat-first")
	for _, tc := range []struct{ param, want string }{
		{"retries", "2"},
		{"attempt", "$(context.task.retry-count)"}, // the TaskRun's own: expanded per attempt in the Pod
		{"file", "$(workspaces.src.path)/Dockerfile"},
	} {
		if got := paramOf(first, tc.param); got != tc.want {
			t.Errorf("TaskRun param %s = %q, want %q", tc.param, got, tc.want)
		}
	}
	pod := waitPod(t, ns, "compat-first-pod")
	script := ""
	for _, c := range podContainers(pod) {
		if c.Name == "step-show" {
			script = envValue(c, "HOOKRUN_SCRIPT")
		}
	}
	if want := `echo "2|0|/workspace/src/Dockerfile"`; !strings.Contains(script, want) {
		t.Errorf("step script = %q, want it to contain %q", script, want)
	}
	finishTask(t, ns, "compat-first", nil)
	finishTask(t, ns, "compat-last", map[string]kubelettest.Outcome{
		"step-echo": kubelettest.Wrapped(0, map[string]string{"out": "done"}, false),
	})
	pr := waitPipelineRunReason(t, ns, "compat", "Succeeded")
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Name != "from-finally" || pr.Status.Results[0].Value.StringVal != "done" {
		t.Errorf("results = %+v, want from-finally=done", pr.Status.Results)
	}
	if c := pr.Status.GetCondition("Succeeded"); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("condition = %+v", c)
	}
}

// Workspaces the run binds reach an embedded Task spec that only uses them (Tekton's propagated
// workspaces), and a Pipeline param that declares properties but no type is an object.
const propagatedPipelineRun = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: propagated
spec:
  params:
    - name: repo
      value: {url: example.com/r, rev: abc}
  workspaces:
    - name: shared
      emptyDir: {}
  pipelineSpec:
    params:
      - name: repo
        properties:
          url: {}
          rev: {}
    tasks:
      - name: use
        taskSpec:
          steps:
            - name: show
              image: busybox
              script: echo "$(workspaces.shared.path) $(params.repo.url)"
`

func TestPipelineRunPropagatesWorkspacesAndObjectParams(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, propagatedPipelineRun)

	tr := waitTaskRun(t, ns, "propagated-use")
	if len(tr.Spec.Workspaces) != 1 || tr.Spec.Workspaces[0].Name != "shared" || tr.Spec.Workspaces[0].EmptyDir == nil {
		t.Fatalf("TaskRun workspaces = %+v, want shared bound to the emptyDir", tr.Spec.Workspaces)
	}
	pod := waitPod(t, ns, "propagated-use-pod")
	var show *corev1.Container
	all := podContainers(pod)
	for i, c := range all {
		if c.Name == "step-show" {
			show = &all[i]
		}
	}
	if show == nil {
		t.Fatalf("no step-show in %v", views(all))
	}
	if got, want := envValue(*show, "HOOKRUN_SCRIPT"), `echo "/workspace/shared example.com/r"`; !strings.Contains(got, want) {
		t.Errorf("script = %q, want it to contain %q", got, want)
	}
	mounted := false
	for _, m := range show.VolumeMounts {
		if m.MountPath == "/workspace/shared" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("propagated workspace not mounted: %+v", show.VolumeMounts)
	}
	finishTask(t, ns, "propagated-use", nil)
	waitPipelineRunReason(t, ns, "propagated", "Succeeded")
}

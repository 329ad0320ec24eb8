package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

// echoTask writes its "in" param to result "out" (the script is never run here: the status writer plays
// the kubelet, so tests state the results each step reports).
const echoTask = `apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: echo
spec:
  params:
    - name: in
      default: none
  results:
    - name: out
  steps:
    - name: echo
      image: busybox
      script: printf '%s' "$(params.in)" > $(results.out.path)
`

// finishTask waits for a TaskRun's Pod and ends it with the given step outcomes (default: success).
func finishTask(t *testing.T, ns, taskRun string, outcomes map[string]kubelettest.Outcome) {
	t.Helper()
	pod := waitPod(t, ns, taskRun+"-pod")
	if err := kubelet().Finish(context.Background(), ns, pod.Name, outcomes); err != nil {
		t.Fatal(err)
	}
}

func echoResult(v string) map[string]kubelettest.Outcome {
	return map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(0, map[string]string{"out": v}, false)}
}

func paramOf(tr *pipelinev1.TaskRun, name string) string {
	for _, p := range tr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return "<unset>"
}

func waitTaskRun(t *testing.T, ns, name string) *pipelinev1.TaskRun {
	t.Helper()
	var tr pipelinev1.TaskRun
	eventually(t, 15*time.Second, "taskrun "+name, func() (bool, error) {
		err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &tr)
		return err == nil, err
	})
	return &tr
}

func taskRunNames(t *testing.T, ns string) []string {
	t.Helper()
	var list pipelinev1.TaskRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range list.Items {
		out = append(out, tr.Name)
	}
	return sortedStrings(out)
}

func podNames(t *testing.T, ns string) []string {
	t.Helper()
	var list corev1.PodList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	return sortedStrings(out)
}

const resultsPipeline = `apiVersion: tekton.dev/v1beta1
kind: Pipeline
metadata:
  name: chain
spec:
  params:
    - name: greeting
  results:
    - name: final
      value: $(tasks.b.results.out)
  tasks:
    - name: a
      taskRef: {name: echo}
      params:
        - {name: in, value: "$(params.greeting)"}
    - name: b
      retries: 1
      taskRef: {name: echo}
      params:
        - {name: in, value: "from-a:$(tasks.a.results.out)"}
  finally:
    - name: report
      taskRef: {name: echo}
      params:
        - {name: in, value: "$(tasks.status)/$(tasks.a.status)/$(context.pipelineRun.name)"}
`

func TestPipelineRunPassesResults(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	// The greeting looks like a variable: it must reach the Task verbatim, never expanded.
	apply(t, ns, echoTask+"---\n"+resultsPipeline+`---
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: run
  labels:
    triggers.tekton.dev/eventlistener: github
spec:
  pipelineRef: {name: chain}
  params:
    - {name: greeting, value: "hi $(params.greeting) $(context.pipelineRun.name)"}
`)
	waitPipelineRunReason(t, ns, "run", "Running")
	a := waitTaskRun(t, ns, "run-a")
	if got := paramOf(a, "in"); got != "hi $(params.greeting) $(context.pipelineRun.name)" {
		t.Errorf("a's param = %q: a PipelineRun param value must be passed verbatim", got)
	}
	for k, want := range map[string]string{
		"tekton.dev/pipelineRun": "run", "tekton.dev/pipeline": "chain", "tekton.dev/pipelineTask": "a",
		"tekton.dev/memberOf": "tasks", "tekton.dev/task": "echo", "app.kubernetes.io/managed-by": "hookrun",
		"triggers.tekton.dev/eventlistener": "github",
	} {
		if a.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], want)
		}
	}
	if ref := a.OwnerReferences; len(ref) != 1 || ref[0].Kind != "PipelineRun" || ref[0].Name != "run" {
		t.Errorf("ownerReferences = %+v", ref)
	}
	if names := taskRunNames(t, ns); strings.Join(names, ",") != "run-a" {
		t.Errorf("taskruns before a ends = %v (b must wait for a's result)", names)
	}
	finishTask(t, ns, "run-a", echoResult("A-OUT"))
	b := waitTaskRun(t, ns, "run-b")
	if got := paramOf(b, "in"); got != "from-a:A-OUT" {
		t.Errorf("b's param = %q, want a's result", got)
	}
	if b.Spec.Retries != 1 {
		t.Errorf("b retries = %d", b.Spec.Retries)
	}
	finishTask(t, ns, "run-b", echoResult("B-OUT"))
	f := waitTaskRun(t, ns, "run-report")
	if got := paramOf(f, "in"); got != "Succeeded/Succeeded/run" {
		t.Errorf("finally param = %q", got)
	}
	if f.Labels["tekton.dev/memberOf"] != "finally" {
		t.Errorf("finally memberOf = %q", f.Labels["tekton.dev/memberOf"])
	}
	finishTask(t, ns, "run-report", nil)
	pr := waitPipelineRunReason(t, ns, "run", "Succeeded")
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c.Status != corev1.ConditionTrue || c.Message != "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0" {
		t.Errorf("condition = %+v", c)
	}
	var refs []string
	for _, r := range pr.Status.ChildReferences {
		refs = append(refs, fmt.Sprintf("%s/%s/%s", r.Kind, r.Name, r.PipelineTaskName))
	}
	if got := strings.Join(refs, " "); got != "TaskRun/run-a/a TaskRun/run-b/b TaskRun/run-report/report" {
		t.Errorf("childReferences = %s", got)
	}
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Name != "final" || pr.Status.Results[0].Value.StringVal != "B-OUT" {
		t.Errorf("results = %+v", pr.Status.Results)
	}
	if pr.Status.StartTime == nil || pr.Status.CompletionTime == nil || pr.Status.PipelineSpec == nil {
		t.Errorf("status times/spec missing: %+v", pr.Status)
	}
}

const fourTasks = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: branches
spec:
  params:
    - name: deploy
      default: "false"
  tasks:
    - name: a
      taskRef: {name: echo}
    - name: b
      runAfter: [a]
      taskRef: {name: echo}
      when:
        - {input: "$(tasks.a.results.out)", operator: in, values: [main]}
    - name: c
      runAfter: [b]
      taskRef: {name: echo}
    - name: d
      taskRef: {name: echo}
      when:
        - {input: "$(params.deploy)", operator: notin, values: ["false"]}
    - name: e
      taskRef: {name: echo}
      params:
        - {name: in, value: "$(tasks.d.results.out)"}
  finally:
    - name: always
      taskRef: {name: echo}
      params:
        - {name: in, value: "$(tasks.b.status)"}
`

func TestPipelineRunWhenSkipped(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+fourTasks+`---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: when
spec:
  pipelineRef: {name: branches}
`)
	finishTask(t, ns, "when-a", echoResult("dev"))
	// b is skipped (a said dev); c still runs (when expressions guard only their task); d is skipped by
	// its param; e needs d's result and is skipped too.
	finishTask(t, ns, "when-c", nil)
	f := waitTaskRun(t, ns, "when-always")
	if got := paramOf(f, "in"); got != "None" {
		t.Errorf("$(tasks.b.status) of a skipped task = %q, want None", got)
	}
	finishTask(t, ns, "when-always", nil)
	pr := waitPipelineRunReason(t, ns, "when", "Completed")
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c.Status != corev1.ConditionTrue || c.Message != "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 3" {
		t.Errorf("condition = %+v", c)
	}
	var skipped []string
	for _, s := range pr.Status.SkippedTasks {
		skipped = append(skipped, s.Name+": "+s.Reason)
	}
	want := []string{"b: When Expressions evaluated to false", "d: When Expressions evaluated to false", "e: Results were missing"}
	if strings.Join(skipped, "; ") != strings.Join(want, "; ") {
		t.Errorf("skippedTasks = %q, want %q", skipped, want)
	}
	if len(pr.Status.SkippedTasks) > 0 && (len(pr.Status.SkippedTasks[0].WhenExpressions) != 1 || pr.Status.SkippedTasks[0].WhenExpressions[0].Input != "dev") {
		t.Errorf("skipped b when = %+v", pr.Status.SkippedTasks[0].WhenExpressions)
	}
	if names := taskRunNames(t, ns); strings.Join(names, ",") != "when-a,when-always,when-c" {
		t.Errorf("taskruns = %v", names)
	}
}

func TestPipelineRunFailureRunsFinally(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+`apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: a
      taskRef: {name: echo}
    - name: slow
      taskRef: {name: echo}
    - name: b
      runAfter: [a]
      taskRef: {name: echo}
  finally:
    - name: cleanup
      taskRef: {name: echo}
      params:
        - {name: in, value: "$(tasks.status):$(tasks.a.status)"}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: fail
spec:
  pipelineRef: {name: p}
`)
	waitPod(t, ns, "fail-slow-pod")
	finishTask(t, ns, "fail-a", map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(1, nil, false)})
	// Stopping: slow keeps running, b will not start, finally waits for slow.
	waitPipelineRunReason(t, ns, "fail", executor.ReasonStopping)
	finishTask(t, ns, "fail-slow", echoResult("x"))
	f := waitTaskRun(t, ns, "fail-cleanup")
	if got := paramOf(f, "in"); got != "Failed:Failed" {
		t.Errorf("finally param = %q", got)
	}
	finishTask(t, ns, "fail-cleanup", nil)
	pr := waitPipelineRunReason(t, ns, "fail", "Failed")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || c.Message != "Tasks Completed: 3 (Failed: 1, Cancelled 0), Skipped: 1" {
		t.Errorf("condition = %+v", c)
	}
	if len(pr.Status.SkippedTasks) != 1 || pr.Status.SkippedTasks[0].Name != "b" || pr.Status.SkippedTasks[0].Reason != "PipelineRun was stopping" {
		t.Errorf("skippedTasks = %+v", pr.Status.SkippedTasks)
	}
}

func patchPipelineRunStatus(t *testing.T, ns, name, status string) {
	t.Helper()
	pr := getPipelineRun(t, ns, name)
	patch := client.MergeFrom(pr.DeepCopy())
	pr.Spec.Status = status
	if err := env.Client.Patch(context.Background(), pr, patch); err != nil {
		t.Fatal(err)
	}
}

const twoWithFinally = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: a
      taskRef: {name: echo}
    - name: b
      runAfter: [a]
      taskRef: {name: echo}
  finally:
    - name: f
      taskRef: {name: echo}
`

func TestPipelineRunCancel(t *testing.T) {
	for _, tc := range []struct {
		status      string
		runsFinally bool
	}{
		{pipelinev1.PipelineRunSpecStatusCancelled, false},
		{pipelinev1.PipelineRunSpecStatusCancelledRunFinally, true},
		{pipelinev1.PipelineRunSpecStatusStoppedRunFinally, true},
	} {
		t.Run(tc.status, func(t *testing.T) {
			ns := newNamespace(t)
			startExecutor(t, ns)
			apply(t, ns, echoTask+"---\n"+twoWithFinally+"---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: c\nspec:\n  pipelineRef: {name: p}\n")
			waitPod(t, ns, "c-a-pod")
			if err := kubelet().Start(context.Background(), ns, "c-a-pod"); err != nil {
				t.Fatal(err)
			}
			waitTaskRunReason(t, ns, "c-a", "Running")
			patchPipelineRunStatus(t, ns, "c", tc.status)
			if tc.status == pipelinev1.PipelineRunSpecStatusStoppedRunFinally {
				// Graceful stop lets the running task finish.
				time.Sleep(300 * time.Millisecond)
				if tr := getTaskRun(t, ns, "c-a"); tr.Spec.Status != "" {
					t.Errorf("StoppedRunFinally cancelled the running TaskRun")
				}
				finishTask(t, ns, "c-a", nil)
			} else {
				tr := waitTaskRunReason(t, ns, "c-a", "TaskRunCancelled")
				if !strings.Contains(tr.Spec.StatusMessage, "has been cancelled") {
					t.Errorf("statusMessage = %q", tr.Spec.StatusMessage)
				}
				pod := waitPod(t, ns, "c-a-pod")
				if pod.DeletionTimestamp != nil || pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds > 5 {
					t.Errorf("pod must be stopped and kept: deletion %v deadline %v", pod.DeletionTimestamp, pod.Spec.ActiveDeadlineSeconds)
				}
			}
			if tc.runsFinally {
				finishTask(t, ns, "c-f", nil)
			}
			pr := waitPipelineRunReason(t, ns, "c", "Cancelled")
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || c.Message != `PipelineRun "c" was cancelled` {
				t.Errorf("condition = %+v", c)
			}
			names := strings.Join(taskRunNames(t, ns), ",")
			if want := map[bool]string{true: "c-a,c-f", false: "c-a"}[tc.runsFinally]; names != want {
				t.Errorf("taskruns = %s, want %s", names, want)
			}
			skipped := map[string]string{}
			for _, s := range pr.Status.SkippedTasks {
				skipped[s.Name] = s.Reason
			}
			wantSkip := map[string]string{
				pipelinev1.PipelineRunSpecStatusCancelled:           "PipelineRun was stopping",
				pipelinev1.PipelineRunSpecStatusCancelledRunFinally: "PipelineRun was gracefully cancelled",
				pipelinev1.PipelineRunSpecStatusStoppedRunFinally:   "PipelineRun was gracefully stopped",
			}[tc.status]
			if skipped["b"] != wantSkip {
				t.Errorf("skipped = %v, want b: %s", skipped, wantSkip)
			}
		})
	}
}

func TestPipelineRunTimeout(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+twoWithFinally+`---
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: late
spec:
  timeout: 2s
  pipelineRef: {name: p}
`)
	a := waitTaskRun(t, ns, "late-a")
	if a.Spec.Timeout == nil || a.Spec.Timeout.Duration > 3*time.Second || a.Spec.Timeout.Duration < 2*time.Second {
		t.Errorf("TaskRun timeout = %v, want the pipeline's remaining 2s (+1s backstop)", a.Spec.Timeout)
	}
	pr := waitPipelineRunReason(t, ns, "late", "PipelineRunTimeout")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || c.Message != `PipelineRun "late" failed to finish within "2s"` {
		t.Errorf("condition = %+v", c)
	}
	// The run's timeout cancels its TaskRun; the TaskRun reconciler records that a moment later.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		tr := getTaskRun(t, ns, "late-a")
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c != nil && c.Status == corev1.ConditionFalse {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task a after pipeline timeout: %+v", c)
		}
	}
	waitPod(t, ns, "late-a-pod") // kept
}

func TestPipelineRunPendingAndQueue(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, func(o *executor.Options) { o.MaxConcurrentRuns = 1 })
	run := func(name, extra string) string {
		return "---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: " + name + "\nspec:\n  pipelineRef: {name: p}\n" + extra
	}
	apply(t, ns, echoTask+"---\n"+twoWithFinally+run("pending", "  status: PipelineRunPending\n"))
	waitPipelineRunReason(t, ns, "pending", "PipelineRunPending")
	apply(t, ns, run("first", ""))
	waitPod(t, ns, "first-a-pod")
	time.Sleep(1100 * time.Millisecond) // creation timestamps have 1s resolution: make the order certain
	apply(t, ns, run("second", ""))
	time.Sleep(1100 * time.Millisecond)
	apply(t, ns, run("third", ""))
	for _, n := range []string{"second", "third"} {
		pr := waitPipelineRunReason(t, ns, n, "Queued")
		if pr.Status.StartTime != nil {
			t.Errorf("%s queued but started", n)
		}
	}
	if names := strings.Join(taskRunNames(t, ns), ","); names != "first-a" {
		t.Errorf("taskruns = %s", names)
	}
	// Un-pending a run makes it wait in the queue too (it is older than second and third).
	patchPipelineRunStatus(t, ns, "pending", "")
	waitPipelineRunReason(t, ns, "pending", "Queued")
	finishTask(t, ns, "first-a", nil)
	finishTask(t, ns, "first-b", nil)
	finishTask(t, ns, "first-f", nil)
	waitPipelineRunReason(t, ns, "first", "Succeeded")
	waitTaskRun(t, ns, "pending-a")
	time.Sleep(300 * time.Millisecond)
	if names := strings.Join(taskRunNames(t, ns), ","); names != "first-a,first-b,first-f,pending-a" {
		t.Errorf("taskruns = %s (only the oldest queued run may start)", names)
	}
	waitPipelineRunReason(t, ns, "second", "Queued")
	waitPipelineRunReason(t, ns, "third", "Queued")
}

func TestPipelineRunValidation(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask)
	for _, tc := range []struct {
		name, spec, reason, msg string
	}{
		{"missing-param", `pipelineSpec:
    params: [{name: repo}]
    tasks: [{name: a, taskRef: {name: echo}}]`, "PipelineValidationFailed", "spec.params: PipelineRun missing parameters: repo"},
		{"bad-runafter", `pipelineSpec:
    tasks:
      - {name: a, taskRef: {name: echo}}
      - {name: b, taskRef: {name: echo}, runAfter: [nope]}`, "PipelineValidationFailed", `spec.tasks[1].runAfter: task "nope" does not exist`},
		{"cycle", `pipelineSpec:
    tasks:
      - {name: a, taskRef: {name: echo}, runAfter: [b]}
      - {name: b, taskRef: {name: echo}, runAfter: [a]}`, "PipelineValidationFailed", "cycle"},
		{"bad-result", `pipelineSpec:
    tasks:
      - {name: a, taskRef: {name: echo}}
      - {name: b, taskRef: {name: echo}, params: [{name: in, value: "$(tasks.a.results.nope)"}]}`, "PipelineValidationFailed", `spec.tasks[1]: $(tasks.a.results.nope): task "a" declares no result "nope"`},
		{"no-pipeline", `pipelineRef: {name: nope}`, "CouldntGetPipeline", `Pipeline "nope" not found`},
		{"no-task", `pipelineSpec:
    tasks: [{name: a, taskRef: {name: nope}}]`, "CouldntGetTask", `spec.tasks[0].taskRef.name`},
		{"cluster-task", `pipelineSpec:
    tasks: [{name: a, taskRef: {name: x, kind: ClusterTask}}]`, "PipelineRunResolutionFailed", `ClusterTask "x" not found (spec.tasks[0].taskRef.name)`},
		{"workspace", `pipelineSpec:
    workspaces: [{name: src}]
    tasks: [{name: a, taskRef: {name: echo}}]`, "PipelineValidationFailed", `workspace "src"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, ns, "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+tc.spec+"\n")
			pr := waitPipelineRunReason(t, ns, tc.name, tc.reason)
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("condition = %+v, want message containing %q", c, tc.msg)
			}
		})
	}
}

func TestPipelineRunWorkspaces(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: ws
spec:
  workspaces:
    - name: source
    - name: cache
      optional: true
    - name: config
      optional: true
  steps:
    - {name: ls, image: busybox, script: "ls $(workspaces.source.path) $(workspaces.cache.bound)"}
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  workspaces:
    - name: shared
    - name: cache
      optional: true
    - name: settings
  tasks:
    - name: a
      taskRef: {name: ws}
      workspaces:
        - {name: source, workspace: shared, subPath: "$(context.pipelineRun.name)"}
        - {name: cache, workspace: cache}
        - {name: config, workspace: settings}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: w
spec:
  pipelineRef: {name: p}
  workspaces:
    - name: shared
      subPath: builds
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
    - name: settings
      configMap: {name: app-settings}
`)
	pod := waitPod(t, ns, "w-a-pod")
	var pvc corev1.PersistentVolumeClaim
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "w-shared"}, &pvc); err != nil {
		t.Fatalf("volumeClaimTemplate PVC: %v", err)
	}
	if len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].Kind != "PipelineRun" || pvc.OwnerReferences[0].Name != "w" {
		t.Errorf("pvc owner = %+v", pvc.OwnerReferences)
	}
	step := view(stepAt(t, pod, 0))
	// Steps are regular containers: each also mounts the steps' records (/tekton/run).
	if want := mounts("ws-source:/workspace/source:sub=builds/w", "ws-config:/workspace/config:ro", "tekton-internal-run-0:/tekton/run/0"); strings.Join(step.Mounts, " ") != strings.Join(want, " ") {
		t.Errorf("mounts = %q, want %q", step.Mounts, want)
	}
	if got := envValue(stepAt(t, pod, 0), "HOOKRUN_SCRIPT"); got != "ls /workspace/source false" {
		t.Errorf("script = %q", got)
	}
	vols := strings.Join(volumeNames(pod), " ")
	if !strings.Contains(vols, "ws-source=pvc(w-shared)") || !strings.Contains(vols, "ws-config=configMap(app-settings)") {
		t.Errorf("volumes = %s", vols)
	}
}

// The executor is restarted mid-run: the new one adopts what the old one made, no TaskRun or Pod twice.
func TestExecutorRestartMidRun(t *testing.T) {
	ns := newNamespace(t)
	stop := startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+twoWithFinally+"---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: r\nspec:\n  pipelineRef: {name: p}\n")
	waitPod(t, ns, "r-a-pod")
	stop()
	// While no executor runs, task a finishes.
	finishTask(t, ns, "r-a", nil)
	startExecutor(t, ns)
	finishTask(t, ns, "r-b", nil)
	// Restart again between b and finally.
	finishTask(t, ns, "r-f", nil)
	waitPipelineRunReason(t, ns, "r", "Succeeded")
	if got := strings.Join(taskRunNames(t, ns), ","); got != "r-a,r-b,r-f" {
		t.Errorf("taskruns = %s", got)
	}
	if got := strings.Join(podNames(t, ns), ","); got != "r-a-pod,r-b-pod,r-f-pod" {
		t.Errorf("pods = %s", got)
	}
	// A second restart after the end changes nothing.
	startExecutor(t, ns)
	time.Sleep(500 * time.Millisecond)
	if got := strings.Join(podNames(t, ns), ","); got != "r-a-pod,r-b-pod,r-f-pod" {
		t.Errorf("pods after another restart = %s", got)
	}
}

// timeouts.tasks ends the DAG (running tasks cancelled, the rest skipped) and finally still runs.
func TestPipelineRunTasksTimeout(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+twoWithFinally+`---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: tt
spec:
  timeouts:
    pipeline: 1h
    tasks: 2s
  pipelineRef: {name: p}
`)
	waitPod(t, ns, "tt-a-pod")
	waitTaskRunReason(t, ns, "tt-a", "TaskRunCancelled")
	finishTask(t, ns, "tt-f", nil)
	pr := waitPipelineRunReason(t, ns, "tt", "Failed")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Message != "Tasks Completed: 2 (Failed: 0, Cancelled 1), Skipped: 1" {
		t.Errorf("condition = %+v", c)
	}
	if len(pr.Status.SkippedTasks) != 1 || pr.Status.SkippedTasks[0].Reason != "PipelineRun Tasks timeout has been reached" {
		t.Errorf("skipped = %+v", pr.Status.SkippedTasks)
	}
	if pr.Status.FinallyStartTime == nil {
		t.Error("no finallyStartTime")
	}
}

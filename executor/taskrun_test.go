package executor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

const threeSteps = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: three
spec:
  results:
    - name: a
    - name: b
    - name: digest
  steps:
    - {name: a, image: busybox, script: "printf 1 > $(results.a.path)"}
    - {name: b, image: busybox, script: "printf 2 > $(results.b.path)"}
    - {name: c, image: gcr.io/kaniko-project/executor:latest, args: ["--digest-file=$(results.digest.path)"]}
`

func taskRun(name, extra string) string {
	return "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: " + name + "\nspec:\n  taskRef:\n    name: three\n" + extra
}

type stepSummary struct {
	Name, Reason string
	Exit         int32
}

func steps(tr *pipelinev1.TaskRun) []stepSummary {
	var out []stepSummary
	for _, s := range tr.Status.Steps {
		ss := stepSummary{Name: s.Name, Reason: s.TerminationReason}
		if s.Terminated != nil {
			ss.Exit = s.Terminated.ExitCode
		}
		out = append(out, ss)
	}
	return out
}

func TestTaskRunSucceeds(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("ok", ""))
	waitPod(t, ns, "ok-pod")
	ctx := context.Background()
	if err := kubelet().Start(ctx, ns, "ok-pod"); err != nil {
		t.Fatal(err)
	}
	tr := waitTaskRunReason(t, ns, "ok", "Running")
	if len(tr.Status.Steps) != 3 || tr.Status.Steps[0].Running == nil {
		t.Errorf("running steps = %+v", tr.Status.Steps)
	}
	if err := kubelet().Finish(ctx, ns, "ok-pod", map[string]kubelettest.Outcome{
		"step-a": kubelettest.Wrapped(0, map[string]string{"a": "1"}, false),
		"step-b": kubelettest.Wrapped(0, map[string]string{"b": "2", "undeclared": "x"}, false),
		// step-c is Kaniko's own entrypoint: it writes nothing; the results container reports its digest.
		"hookrun-results": kubelettest.Wrapped(0, map[string]string{"digest": "sha256:abc"}, false),
	}); err != nil {
		t.Fatal(err)
	}
	tr = waitTaskRunReason(t, ns, "ok", "Succeeded")
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c.Status != corev1.ConditionTrue || c.Message != "All Steps have completed executing" {
		t.Errorf("condition = %+v", c)
	}
	want := []stepSummary{{"a", "Completed", 0}, {"b", "Completed", 0}, {"c", "Completed", 0}}
	if got := steps(tr); !equalJSON(got, want) {
		t.Errorf("steps = %+v, want %+v", got, want)
	}
	if tr.Status.Steps[0].Container != "step-a" {
		t.Errorf("container = %q", tr.Status.Steps[0].Container)
	}
	res := map[string]string{}
	for _, r := range tr.Status.Results {
		res[r.Name] = r.Value.StringVal
	}
	if !equalJSON(res, map[string]string{"a": "1", "b": "2", "digest": "sha256:abc"}) {
		t.Errorf("results = %v", res)
	}
	if tr.Status.CompletionTime == nil || tr.Status.StartTime == nil || tr.Status.PodName != "ok-pod" {
		t.Errorf("status = %+v", tr.Status)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestTaskRunStepFailureStopsLaterSteps(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("bad", ""))
	waitPod(t, ns, "bad-pod")
	if err := kubelet().Finish(context.Background(), ns, "bad-pod", map[string]kubelettest.Outcome{
		"step-b": kubelettest.Wrapped(2, nil, false),
	}); err != nil {
		t.Fatal(err)
	}
	tr := waitTaskRunReason(t, ns, "bad", "Failed")
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || c.Message != `"step-b" exited with code 2` {
		t.Errorf("condition = %+v", c)
	}
	want := []stepSummary{{"a", "Completed", 0}, {"b", "Error", 2}, {"c", "Skipped", 1}}
	if got := steps(tr); !equalJSON(got, want) {
		t.Errorf("steps = %+v, want %+v", got, want)
	}
}

func TestTaskRunOnErrorContinueAndStepTimeout(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("cont", "")+"---\n"+taskRun("slow", ""))
	waitPod(t, ns, "cont-pod")
	waitPod(t, ns, "slow-pod")
	ctx := context.Background()
	if err := kubelet().Finish(ctx, ns, "cont-pod", map[string]kubelettest.Outcome{"step-a": kubelettest.Wrapped(5, nil, true)}); err != nil {
		t.Fatal(err)
	}
	tr := waitTaskRunReason(t, ns, "cont", "Succeeded")
	if got, want := steps(tr), []stepSummary{{"a", "Continued", 5}, {"b", "Completed", 0}, {"c", "Completed", 0}}; !equalJSON(got, want) {
		t.Errorf("steps = %+v, want %+v", got, want)
	}
	if err := kubelet().Finish(ctx, ns, "slow-pod", map[string]kubelettest.Outcome{"step-a": kubelettest.TimedOut("a", time.Second)}); err != nil {
		t.Fatal(err)
	}
	tr = waitTaskRunReason(t, ns, "slow", "Failed")
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); !strings.Contains(c.Message, `timed out after 1s`) {
		t.Errorf("condition = %+v", c)
	}
	if got := steps(tr); got[0].Reason != "TimeoutExceeded" || got[1].Reason != "Skipped" {
		t.Errorf("steps = %+v", got)
	}
}

func TestTaskRunRetries(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("flaky", "  retries: 2\n"))
	ctx := context.Background()
	waitPod(t, ns, "flaky-pod")
	if err := kubelet().Finish(ctx, ns, "flaky-pod", map[string]kubelettest.Outcome{"step-a": kubelettest.Wrapped(1, nil, false)}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ns, "flaky-pod-retry1")
	if err := kubelet().Finish(ctx, ns, "flaky-pod-retry1", map[string]kubelettest.Outcome{"step-b": kubelettest.Wrapped(1, nil, false)}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ns, "flaky-pod-retry2")
	tr := getTaskRun(t, ns, "flaky")
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionUnknown {
		t.Errorf("during retry: %+v", c)
	}
	if err := kubelet().Finish(ctx, ns, "flaky-pod-retry2", nil); err != nil {
		t.Fatal(err)
	}
	tr = waitTaskRunReason(t, ns, "flaky", "Succeeded")
	if tr.Status.PodName != "flaky-pod-retry2" || len(tr.Status.RetriesStatus) != 2 {
		t.Fatalf("podName %q, %d retriesStatus", tr.Status.PodName, len(tr.Status.RetriesStatus))
	}
	for i, raw := range tr.Status.RetriesStatus {
		var st pipelinev1.TaskRunStatus
		if err := json.Unmarshal(raw.Raw, &st); err != nil {
			t.Fatal(err)
		}
		c := st.GetCondition(pipelinev1.ConditionSucceeded)
		wantPod := []string{"flaky-pod", "flaky-pod-retry1"}[i]
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "Failed" || st.PodName != wantPod || st.CompletionTime == nil {
			t.Errorf("retriesStatus[%d] = %+v", i, st)
		}
	}
	// Every attempt's Pod is kept.
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil || len(pods.Items) != 3 {
		t.Errorf("pods: %d, %v", len(pods.Items), err)
	}
}

func TestTaskRunTimeout(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("late", "  timeout: 2s\n"))
	ctx := context.Background()
	pod := waitPod(t, ns, "late-pod")
	if ads := pod.Spec.ActiveDeadlineSeconds; ads == nil || *ads != 2 {
		t.Errorf("activeDeadlineSeconds = %v, want 2", ads)
	}
	if err := kubelet().Start(ctx, ns, "late-pod"); err != nil {
		t.Fatal(err)
	}
	tr := waitTaskRunReason(t, ns, "late", "TaskRunTimeout")
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c.Status != corev1.ConditionFalse || c.Message != `TaskRun "late" failed to finish within "2s"` {
		t.Errorf("condition = %+v", c)
	}
	if d := tr.Status.CompletionTime.Sub(tr.Status.StartTime.Time); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("ran %s", d)
	}
	// The Pod is kept (logs stay readable) and bounded.
	pod = waitPod(t, ns, "late-pod")
	if pod.DeletionTimestamp != nil || pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds > 2 {
		t.Errorf("pod after timeout: deletion %v, activeDeadlineSeconds %v", pod.DeletionTimestamp, pod.Spec.ActiveDeadlineSeconds)
	}
}

func TestTaskRunCancel(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("stop", ""))
	ctx := context.Background()
	waitPod(t, ns, "stop-pod")
	if err := kubelet().Start(ctx, ns, "stop-pod"); err != nil {
		t.Fatal(err)
	}
	waitTaskRunReason(t, ns, "stop", "Running")
	tr := getTaskRun(t, ns, "stop")
	patch := client.MergeFrom(tr.DeepCopy())
	tr.Spec.Status = pipelinev1.TaskRunSpecStatusCancelled
	if err := env.Client.Patch(ctx, tr, patch); err != nil {
		t.Fatal(err)
	}
	tr = waitTaskRunReason(t, ns, "stop", "TaskRunCancelled")
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, `TaskRun "stop" was cancelled`) {
		t.Errorf("condition = %+v", c)
	}
	pod := waitPod(t, ns, "stop-pod")
	if pod.DeletionTimestamp != nil || pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds > 5 {
		t.Errorf("pod after cancel: deletion %v, activeDeadlineSeconds %v (want lowered to the time it ran)", pod.DeletionTimestamp, pod.Spec.ActiveDeadlineSeconds)
	}
	if len(tr.Status.Steps) != 3 || tr.Status.Steps[0].Running == nil {
		t.Errorf("steps at cancel = %+v", tr.Status.Steps)
	}
}

// TestTaskRunImagePullBackOff: a step whose image cannot be pulled fails the TaskRun with
// TaskRunImagePullFailed once the kubelet backs off (ErrImagePull alone is still transient), and the Pod is
// stopped but kept.
func TestTaskRunImagePullBackOff(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, threeSteps+"---\n"+taskRun("nopull", ""))
	waitPod(t, ns, "nopull-pod")
	ctx := context.Background()
	if err := kubelet().Start(ctx, ns, "nopull-pod"); err != nil {
		t.Fatal(err)
	}
	setWaiting := func(reason string) {
		t.Helper()
		var pod corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nopull-pod"}, &pod); err != nil {
			t.Fatal(err)
		}
		for i, s := range pod.Status.InitContainerStatuses {
			if s.Name == "step-a" {
				pod.Status.InitContainerStatuses[i].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason: reason, Message: `Back-off pulling image "registry.invalid/nope:1"`}}
				pod.Status.InitContainerStatuses[i].Started = nil
			}
		}
		if err := env.Client.Status().Update(ctx, &pod); err != nil {
			t.Fatal(err)
		}
	}
	setWaiting("ErrImagePull")
	time.Sleep(500 * time.Millisecond)
	var tr pipelinev1.TaskRun
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nopull"}, &tr); err != nil {
		t.Fatal(err)
	}
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c == nil || c.Status != corev1.ConditionUnknown {
		t.Fatalf("ErrImagePull ended the TaskRun: %+v", c)
	}
	setWaiting("ImagePullBackOff")
	got := waitTaskRunReason(t, ns, "nopull", "TaskRunImagePullFailed")
	if c := got.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "ImagePullBackOff") {
		t.Errorf("condition = %+v", c)
	}
	var pod corev1.Pod
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nopull-pod"}, &pod); err != nil {
		t.Fatalf("Pod not kept: %v", err)
	}
	if pod.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("Pod not stopped (no activeDeadlineSeconds)")
	}
}

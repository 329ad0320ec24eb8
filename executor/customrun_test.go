package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/runctl"
)

// customPipeline: a waits (custom task by reference), a2 waits (custom task embedded), b echoes a's result
// once both are done and a2's result passes b's when expression.
const customPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: custom
spec:
  params:
    - name: wait
      default: 300ms
  workspaces:
    - name: shared
  results:
    - name: attempts
      value: $(tasks.a.results.attempts)
  tasks:
    - name: a
      taskRef: {apiVersion: ` + waitAPIVersion + `, kind: ` + waitKind + `, name: short}
      retries: 2
      params:
        - {name: duration, value: "$(params.wait)"}
        - {name: fail-attempts, value: "$(params.fail)"}
      workspaces:
        - {name: scratch, workspace: shared}
    - name: a2
      taskSpec:
        apiVersion: ` + waitAPIVersion + `
        kind: ` + waitKind + `
        metadata:
          labels: {kept: "yes"}
        spec:
          duration: 100ms
    - name: b
      runAfter: [a2]
      taskRef: {name: echo}
      when:
        - {input: "$(tasks.a2.results.slept)", operator: in, values: ["100ms"]}
      params:
        - {name: in, value: "slept $(tasks.a.results.slept)"}
`

func customRun(t *testing.T, name, ns, fail string) string {
	t.Helper()
	return fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: %s
spec:
  pipelineRef: {name: custom}
  params:
    - {name: fail, value: "%s"}
  taskRunSpecs:
    - {pipelineTaskName: a, serviceAccountName: waiter}
  workspaces:
    - {name: shared, emptyDir: {}}
`, name, fail)
}

func waitCustomRun(t *testing.T, ns, name string, what string, f func(*pipelinev1beta1.CustomRun) bool) *pipelinev1beta1.CustomRun {
	t.Helper()
	var cr pipelinev1beta1.CustomRun
	eventually(t, 20*time.Second, "customrun "+name+" "+what, func() (bool, error) {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &cr); err != nil {
			return false, err
		}
		return f(&cr), fmt.Errorf("spec.status %q, status %+v", cr.Spec.Status, cr.Status)
	})
	return &cr
}

func customReason(cr *pipelinev1beta1.CustomRun) string {
	if c := cr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil {
		return c.Reason
	}
	return ""
}

func TestCustomTaskResultFeedsTask(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	startWaitController(t, ns)
	apply(t, ns, echoTask+"---\n"+customPipeline+"---\n"+customRun(t, "run", ns, "0"))

	a := waitCustomRun(t, ns, "run-a", "made", func(*pipelinev1beta1.CustomRun) bool { return true })
	assertCustomRunSpec(t, a)
	a2 := waitCustomRun(t, ns, "run-a2", "made", func(*pipelinev1beta1.CustomRun) bool { return true })
	if s := a2.Spec.CustomSpec; a2.Spec.CustomRef != nil || s == nil || s.Kind != waitKind || s.APIVersion != waitAPIVersion ||
		string(s.Spec.Raw) != `{"duration":"100ms"}` || s.Metadata.Labels["kept"] != "yes" {
		t.Errorf("a2's CustomRun customRef %+v customSpec %s, want the embedded spec as written", a2.Spec.CustomRef, jsonText(s))
	}
	if names := taskRunNames(t, ns); len(names) != 0 {
		t.Errorf("taskruns while a and a2 run = %v (b waits for both)", names)
	}
	finishTask(t, ns, "run-b", echoResult("done"))
	pr := waitPipelineRunReason(t, ns, "run", "Succeeded")
	if got := paramOf(getTaskRun(t, ns, "run-b"), "in"); got != "slept 300ms" {
		t.Errorf("b's param in = %q, want a's result substituted (%q)", got, "slept 300ms")
	}
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Value.StringVal != "1" {
		t.Errorf("pipeline results = %+v, want attempts=1", pr.Status.Results)
	}
	kinds := map[string]string{}
	for _, c := range pr.Status.ChildReferences {
		kinds[c.PipelineTaskName] = c.APIVersion + " " + c.Kind + " " + c.Name
	}
	for task, want := range map[string]string{
		"a": "tekton.dev/v1beta1 CustomRun run-a", "a2": "tekton.dev/v1beta1 CustomRun run-a2", "b": "tekton.dev/v1 TaskRun run-b",
	} {
		if kinds[task] != want {
			t.Errorf("childReferences[%s] = %q, want %q", task, kinds[task], want)
		}
	}
}

// assertCustomRunSpec checks what the executor wrote into a's CustomRun (Tekton's fields and labels).
func assertCustomRunSpec(t *testing.T, cr *pipelinev1beta1.CustomRun) {
	t.Helper()
	for k, want := range map[string]string{
		"tekton.dev/pipelineRun": "run", "tekton.dev/pipeline": "custom", "tekton.dev/pipelineTask": "a", "tekton.dev/memberOf": "tasks",
	} {
		if cr.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cr.Labels[k], want)
		}
	}
	if o := cr.OwnerReferences; len(o) != 1 || o[0].Kind != "PipelineRun" || o[0].Name != "run" || o[0].Controller == nil || !*o[0].Controller {
		t.Errorf("ownerReferences = %+v, want the PipelineRun as controller", o)
	}
	if r := cr.Spec.CustomRef; r == nil || r.APIVersion != waitAPIVersion || r.Kind != waitKind || r.Name != "short" {
		t.Errorf("customRef = %+v", r)
	}
	params := map[string]string{}
	for _, p := range cr.Spec.Params {
		params[p.Name] = p.Value.StringVal
	}
	if params["duration"] != "300ms" || params["fail-attempts"] != "0" {
		t.Errorf("params = %v, want substituted duration=300ms fail-attempts=0", params)
	}
	if cr.Spec.Retries != 2 || cr.Spec.ServiceAccountName != "waiter" {
		t.Errorf("retries %d serviceAccountName %q, want 2 and the taskRunSpecs' waiter", cr.Spec.Retries, cr.Spec.ServiceAccountName)
	}
	if cr.Spec.Timeout == nil || cr.Spec.Timeout.Duration <= 0 || cr.Spec.Timeout.Duration > time.Hour+time.Minute {
		t.Errorf("timeout = %v, want the PipelineRun's default hour left", cr.Spec.Timeout)
	}
	if w := cr.Spec.Workspaces; len(w) != 1 || w[0].Name != "scratch" || w[0].EmptyDir == nil {
		t.Errorf("workspaces = %s, want scratch bound to the run's emptyDir", jsonText(w))
	}
}

func TestCustomTaskCancelled(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	startWaitController(t, ns)
	apply(t, ns, echoTask+"---\n"+strings.Replace(customPipeline, "default: 300ms", "default: 1h", 1)+"---\n"+customRun(t, "run", ns, "0"))
	waitCustomRun(t, ns, "run-a", "running", func(cr *pipelinev1beta1.CustomRun) bool { return customReason(cr) == "Running" })
	pr := getPipelineRun(t, ns, "run")
	patch := []byte(`{"spec":{"status":"Cancelled"}}`)
	if err := env.Client.Patch(context.Background(), pr, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	waitPipelineRunReason(t, ns, "run", "Cancelled")
	cr := waitCustomRun(t, ns, "run-a", "cancelled by its controller", func(cr *pipelinev1beta1.CustomRun) bool {
		return customReason(cr) == pipelinev1beta1.CustomRunReasonCancelled
	})
	if cr.Spec.Status != "RunCancelled" || cr.Spec.StatusMessage != "CustomRun cancelled as the PipelineRun it belongs to has been cancelled." {
		t.Errorf("spec.status %q statusMessage %q, want Tekton's RunCancelled and message", cr.Spec.Status, cr.Spec.StatusMessage)
	}
	if names := taskRunNames(t, ns); len(names) != 0 {
		t.Errorf("taskruns = %v, want none (b never starts)", names)
	}
}

// TestCustomTaskCancelledByConcurrencyGroup: a newer run of a cancel-in-progress group cancels the older
// one, and with it the older one's running CustomRun.
func TestCustomTaskCancelledByConcurrencyGroup(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	startWaitController(t, ns)
	group := fmt.Sprintf("  labels: {%s: %s}\n  annotations: {%s: refs/heads/main, %s: cancel-in-progress}\nspec:\n",
		runctl.LabelGroup, runctl.GroupLabel("refs/heads/main"), runctl.AnnotationKey, runctl.AnnotationRunPolicy)
	inGroup := func(name string) string { return strings.Replace(customRun(t, name, ns, "0"), "spec:\n", group, 1) }
	apply(t, ns, echoTask+"---\n"+strings.Replace(customPipeline, "default: 300ms", "default: 1h", 1)+"---\n"+inGroup("run"))
	waitCustomRun(t, ns, "run-a", "running", func(cr *pipelinev1beta1.CustomRun) bool { return customReason(cr) == "Running" })
	apply(t, ns, inGroup("run-newer"))
	waitPipelineRunReason(t, ns, "run", "Cancelled")
	cr := waitCustomRun(t, ns, "run-a", "cancelled by its controller", func(cr *pipelinev1beta1.CustomRun) bool {
		return customReason(cr) == pipelinev1beta1.CustomRunReasonCancelled
	})
	if cr.Spec.Status != "RunCancelled" || cr.Spec.StatusMessage != "CustomRun cancelled as the PipelineRun it belongs to has been cancelled." {
		t.Errorf("spec.status %q statusMessage %q, want Tekton's RunCancelled and message", cr.Spec.Status, cr.Spec.StatusMessage)
	}
	waitCustomRun(t, ns, "run-newer-a", "running", func(cr *pipelinev1beta1.CustomRun) bool { return customReason(cr) == "Running" })
}

func TestCustomTaskWithoutControllerTimesOut(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+"---\n"+customPipeline+"---\n"+strings.Replace(customRun(t, "run", ns, "0"), "spec:\n", "spec:\n  timeouts: {pipeline: 3s}\n", 1))
	cr := waitCustomRun(t, ns, "run-a", "made", func(*pipelinev1beta1.CustomRun) bool { return true })
	if cr.Spec.Timeout == nil || cr.Spec.Timeout.Duration <= 0 || cr.Spec.Timeout.Duration > 5*time.Second {
		t.Errorf("spec.timeout = %v, want what is left of the pipeline's 3s", cr.Spec.Timeout)
	}
	waitPipelineRunReason(t, ns, "run", "Running") // waiting for the CustomRun's status, until the timeout
	pr := waitPipelineRunReason(t, ns, "run", "PipelineRunTimeout")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Message != `PipelineRun "run" failed to finish within "3s"` {
		t.Errorf("message = %q", c.Message)
	}
	cr = waitCustomRun(t, ns, "run-a", "cancelled", func(cr *pipelinev1beta1.CustomRun) bool { return cr.Spec.Status == "RunCancelled" })
	if cr.Spec.StatusMessage != "CustomRun cancelled as the PipelineRun it belongs to has timed out." || len(cr.Status.Conditions) != 0 {
		t.Errorf("statusMessage %q conditions %+v, want Tekton's timeout message and no status (no controller)", cr.Spec.StatusMessage, cr.Status.Conditions)
	}
}

func TestCustomTaskRetries(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	startWaitController(t, ns)
	pipeline := strings.Replace(customPipeline, "default: 300ms", "default: 50ms", 1)
	// run: a's first attempt fails, its controller retries; run-3: three failures exhaust retries: 2.
	apply(t, ns, echoTask+"---\n"+pipeline+"---\n"+customRun(t, "run", ns, "1")+"---\n"+customRun(t, "run-3", ns, "3"))
	finishTask(t, ns, "run-b", echoResult("done"))
	pr := waitPipelineRunReason(t, ns, "run", "Succeeded")
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Value.StringVal != "2" {
		t.Errorf("pipeline results = %+v, want attempts=2", pr.Status.Results)
	}
	cr := waitCustomRun(t, ns, "run-a", "succeeded", func(cr *pipelinev1beta1.CustomRun) bool { return customReason(cr) == "Succeeded" })
	if len(cr.Status.RetriesStatus) != 1 {
		t.Errorf("retriesStatus has %d entries, want 1 (the failed first attempt)", len(cr.Status.RetriesStatus))
	}
	var list pipelinev1beta1.CustomRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{"tekton.dev/pipelineRun": "run"}); err != nil || len(list.Items) != 2 {
		t.Errorf("customruns of run = %d (%v), want 2: a retry is the same CustomRun", len(list.Items), err)
	}
	failed := waitPipelineRunReason(t, ns, "run-3", "Failed")
	if c := failed.Status.GetCondition(pipelinev1.ConditionSucceeded); !strings.Contains(c.Message, "Failed: 1") {
		t.Errorf("run-3 message = %q, want a's failure counted", c.Message)
	}
	if getCustomRunStatus(t, ns, "run-3-a").RetriesStatus == nil {
		t.Errorf("run-3-a has no retriesStatus, want its two retried attempts")
	}
}

func getCustomRunStatus(t *testing.T, ns, name string) pipelinev1beta1.CustomRunStatus {
	t.Helper()
	var cr pipelinev1beta1.CustomRun
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &cr); err != nil {
		t.Fatal(err)
	}
	return cr.Status
}

func TestCustomKindTaskRunRefused(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: wait
spec:
  taskRef: {apiVersion: `+waitAPIVersion+`, kind: `+waitKind+`, name: short}
`)
	tr := waitTaskRunReason(t, ns, "wait", "TaskRunResolutionFailed")
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); !strings.Contains(c.Message, "spec.taskRef") || !strings.Contains(c.Message, "custom task") {
		t.Errorf("message = %q, want it to name spec.taskRef and say custom task", c.Message)
	}
	var list pipelinev1beta1.CustomRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Errorf("customruns = %d (%v), want none", len(list.Items), err)
	}
}

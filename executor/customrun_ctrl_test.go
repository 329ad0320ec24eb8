package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
)

// waitAPIVersion and waitKind are the custom task the tests' controller runs (like Tekton's own wait-task
// example): each attempt waits its "duration" (a param, or customSpec.spec.duration) and reports the results
// "slept" (the duration) and "attempts"; the first "fail-attempts" attempts fail instead.
const (
	waitAPIVersion = "wait.testing.hookrun.dev/v1alpha1"
	waitKind       = "Wait"
)

// waitController is a custom task controller as a third party writes one: it watches CustomRuns of its
// kind, writes their status, honours spec.status RunCancelled and spec.timeout, and retries a failed attempt
// while spec.retries allows (recording it in status.retriesStatus, Tekton's contract for custom tasks).
type waitController struct{ c client.Client }

// startWaitController runs the wait controller for namespace ns until the test ends.
func startWaitController(t *testing.T, ns string) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &waitController{c: mgr.GetClient()}
	err = ctrl.NewControllerManagedBy(mgr).Named("wait-" + ns).For(&pipelinev1beta1.CustomRun{}).
		WithOptions(controller.Options{SkipNameValidation: ptr.To(true)}).Complete(w)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("wait controller: %v", err)
		}
	})
}

func (w *waitController) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var cr pipelinev1beta1.CustomRun
	if err := w.c.Get(ctx, req.NamespacedName, &cr); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !isWait(&cr) {
		return reconcile.Result{}, nil
	}
	if c := cr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
		return reconcile.Result{}, nil
	}
	now := metav1.Now()
	st := &cr.Status
	var after time.Duration
	switch d, err := waitDuration(&cr); {
	case err != nil:
		finishWait(st, corev1.ConditionFalse, pipelinev1beta1.CustomRunReasonFailed, err.Error(), now)
	case st.StartTime == nil:
		st.StartTime = &now
		setWaitCond(st, corev1.ConditionUnknown, pipelinev1beta1.CustomRunReasonRunning, "waiting "+d.String(), now)
		after = d
	case cr.Spec.Status == pipelinev1beta1.CustomRunSpecStatusCancelled:
		finishWait(st, corev1.ConditionFalse, pipelinev1beta1.CustomRunReasonCancelled, "cancelled: "+cr.Spec.StatusMessage, now)
	case cr.Spec.Timeout != nil && cr.Spec.Timeout.Duration > 0 && now.Sub(st.StartTime.Time) > cr.Spec.Timeout.Duration:
		finishWait(st, corev1.ConditionFalse, pipelinev1beta1.CustomRunReasonTimedOut, "timed out", now)
	case now.Sub(st.StartTime.Time) < d:
		after = d - now.Sub(st.StartTime.Time)
	default:
		after = w.endAttempt(&cr, d, now)
	}
	if err := w.c.Status().Update(ctx, &cr); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{Requeue: true}, nil
		}
		return reconcile.Result{}, fmt.Errorf("update customrun %s status: %w", cr.Name, err)
	}
	return reconcile.Result{RequeueAfter: after}, nil
}

// endAttempt ends an attempt whose wait is over: success, or a failure retried while retries are left
// (then it returns when to look again).
func (w *waitController) endAttempt(cr *pipelinev1beta1.CustomRun, d time.Duration, now metav1.Time) time.Duration {
	st := &cr.Status
	attempt := len(st.RetriesStatus)
	if attempt >= paramInt(cr, "fail-attempts") {
		st.Results = []pipelinev1beta1.CustomRunResult{{Name: "slept", Value: d.String()}, {Name: "attempts", Value: strconv.Itoa(attempt + 1)}}
		finishWait(st, corev1.ConditionTrue, pipelinev1beta1.CustomRunReasonSucceeded, "waited", now)
		return 0
	}
	msg := fmt.Sprintf("attempt %d failed", attempt+1)
	if attempt >= cr.Spec.Retries {
		finishWait(st, corev1.ConditionFalse, pipelinev1beta1.CustomRunReasonFailed, msg, now)
		return 0
	}
	failed := st.DeepCopy()
	failed.RetriesStatus = nil
	finishWait(failed, corev1.ConditionFalse, pipelinev1beta1.CustomRunReasonFailed, msg, now)
	raw, _ := json.Marshal(failed)
	st.RetriesStatus = append(st.RetriesStatus, pipelinev1.RawObject{RawExtension: runtime.RawExtension{Raw: raw}})
	st.StartTime = &now
	setWaitCond(st, corev1.ConditionUnknown, pipelinev1beta1.CustomRunReasonRunning, msg+", retrying", now)
	return d
}

func isWait(cr *pipelinev1beta1.CustomRun) bool {
	if r := cr.Spec.CustomRef; r != nil {
		return r.APIVersion == waitAPIVersion && r.Kind == waitKind
	}
	s := cr.Spec.CustomSpec
	return s != nil && s.APIVersion == waitAPIVersion && s.Kind == waitKind
}

func waitDuration(cr *pipelinev1beta1.CustomRun) (time.Duration, error) {
	text := ""
	for _, p := range cr.Spec.Params {
		if p.Name == "duration" {
			text = p.Value.StringVal
		}
	}
	if s := cr.Spec.CustomSpec; s != nil && len(s.Spec.Raw) > 0 {
		var spec struct {
			Duration string `json:"duration"`
		}
		if err := json.Unmarshal(s.Spec.Raw, &spec); err != nil {
			return 0, fmt.Errorf("customSpec.spec: %w", err)
		}
		text = spec.Duration
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("duration: %w", err)
	}
	return d, nil
}

func paramInt(cr *pipelinev1beta1.CustomRun, name string) int {
	for _, p := range cr.Spec.Params {
		if p.Name == name {
			n, _ := strconv.Atoi(p.Value.StringVal)
			return n
		}
	}
	return 0
}

func setWaitCond(st *pipelinev1beta1.CustomRunStatus, s corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	st.SetCondition(pipelinev1.Condition{Type: pipelinev1.ConditionSucceeded, Status: s, Reason: reason, Message: msg, LastTransitionTime: now})
}

func finishWait(st *pipelinev1beta1.CustomRunStatus, s corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	setWaitCond(st, s, reason, msg, now)
	st.CompletionTime = &now
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
)

// PipelineRun condition reasons (Tekton's), plus Queued.
const (
	ReasonPipelineRunPending         = "PipelineRunPending"
	ReasonTaskRunPending             = "TaskRunPending"
	ReasonQueued                     = "Queued"
	ReasonCompleted                  = "Completed"
	ReasonCancelled                  = "Cancelled"
	ReasonPipelineRunTimeout         = "PipelineRunTimeout"
	ReasonPipelineValidationFailed   = "PipelineValidationFailed"
	ReasonCouldntGetPipeline         = "CouldntGetPipeline"
	ReasonInvalidTaskResultReference = "InvalidTaskResultReference"
	ReasonStopping                   = "PipelineRunStopping"
	ReasonCancelledRunningFinally    = "CancelledRunningFinally"
	ReasonStoppedRunningFinally      = "StoppedRunningFinally"
)

// Reasons a pipeline task is skipped (Tekton's texts, read by tkn and the Dashboard).
const (
	SkipWhen              = "When Expressions evaluated to false"
	SkipParentSkipped     = "Parent Tasks were skipped"
	SkipStopping          = "PipelineRun was stopping"
	SkipGracefullyCancel  = "PipelineRun was gracefully cancelled"
	SkipGracefullyStopped = "PipelineRun was gracefully stopped"
	SkipMissingResults    = "Results were missing"
	SkipPipelineTimeout   = "PipelineRun timeout has been reached"
	SkipTasksTimeout      = "PipelineRun Tasks timeout has been reached"
	SkipFinallyTimeout    = "PipelineRun Finally timeout has been reached"
)

// ownerIndex indexes TaskRuns by the name of the PipelineRun that controls them.
const ownerIndex = "hookrun.owner.pipelinerun"

// PipelineRunReconciler turns PipelineRuns into TaskRuns, following the Pipeline's graph.
type PipelineRunReconciler struct {
	client    client.Client
	apiReader client.Reader
	opts      Options
	log       *slog.Logger
	queue     *runQueue
	remote    *remoteResolver // resolvers, ClusterTasks, bundles (resolve.go)
}

func (r *PipelineRunReconciler) setup(mgr manager.Manager, copts controller.Options) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &pipelinev1.TaskRun{}, ownerIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "PipelineRun" {
			return []string{ref.Name}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index taskruns: %w", err)
	}
	if err := indexCustomRuns(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("pipelinerun").
		For(&pipelinev1.PipelineRun{}).
		Owns(&pipelinev1.TaskRun{}).
		Owns(&pipelinev1beta1.CustomRun{}).
		WithOptions(copts)
	if r.queue.limit > 0 {
		// When a run ends (or any run changes), wake the oldest queued runs that now fit.
		b = b.Watches(&pipelinev1.PipelineRun{}, handler.EnqueueRequestsFromMapFunc(r.queuedToWake))
	}
	// When a run of a concurrency group ends, the group's next run may start.
	b = b.Watches(&pipelinev1.PipelineRun{}, handler.EnqueueRequestsFromMapFunc(r.groupToWake))
	return b.Complete(r)
}

// Reconcile moves one PipelineRun forward.
func (r *PipelineRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pr pipelinev1.PipelineRun
	if err := r.client.Get(ctx, req.NamespacedName, &pr); err != nil {
		if apierrors.IsNotFound(err) {
			r.queue.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.opts.Namespace != "" && pr.Namespace != r.opts.Namespace || managedElsewhere(pr.Spec.ManagedBy) {
		return ctrl.Result{}, nil
	}
	if err := ensureRunLabels(ctx, r.client, &pr); err != nil {
		return ctrl.Result{}, err
	}
	pr.Normalize()
	applyPipelineRunDefaults(&pr, r.opts.config())
	if runDone(&pr) {
		r.queue.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	before := pr.Status.DeepCopy()
	res, err := r.reconcile(ctx, &pr)
	noteCancelledBy(&pr)
	if !equality.Semantic.DeepEqual(before, &pr.Status) {
		if uerr := r.client.Status().Update(ctx, &pr); uerr != nil {
			if apierrors.IsConflict(uerr) || apierrors.IsNotFound(uerr) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("update pipelinerun status: %w", uerr)
		}
		if runDone(&pr) {
			c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			r.log.Info("pipelinerun finished", "namespace", pr.Namespace, "pipelinerun", pr.Name, "reason", c.Reason, "message", c.Message)
		}
	}
	return res, err
}

func runDone(pr *pipelinev1.PipelineRun) bool {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

func (r *PipelineRunReconciler) now() metav1.Time { return metav1.NewTime(r.opts.Now()) }

func (r *PipelineRunReconciler) finish(pr *pipelinev1.PipelineRun, status corev1.ConditionStatus, reason, msg string) {
	now := r.now()
	setSucceeded(&pr.Status.Status, status, reason, msg, now)
	if pr.Status.StartTime == nil {
		pr.Status.StartTime = &now
	}
	pr.Status.CompletionTime = &now
}

func isCancelSpec(s string) bool {
	return s == pipelinev1.PipelineRunSpecStatusCancelled || s == pipelinev1.PipelineRunSpecStatusCancelledRunFinally ||
		s == pipelinev1.PipelineRunSpecStatusStoppedRunFinally
}

func (r *PipelineRunReconciler) reconcile(ctx context.Context, pr *pipelinev1.PipelineRun) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: pr.Namespace, Name: pr.Name}
	if pr.Status.StartTime == nil {
		switch {
		case pr.Spec.Status == pipelinev1.PipelineRunSpecStatusPending:
			setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonPipelineRunPending, fmt.Sprintf("PipelineRun %q is pending", pr.Name), r.now())
			return ctrl.Result{}, nil
		case isCancelSpec(pr.Spec.Status):
			r.finish(pr, corev1.ConditionFalse, ReasonCancelled, fmt.Sprintf("PipelineRun %q was cancelled", pr.Name))
			return ctrl.Result{}, nil
		}
		if ok, msg, err := r.groupAdmit(ctx, pr); err != nil {
			return ctrl.Result{}, err
		} else if !ok {
			setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonQueued, msg, r.now())
			return ctrl.Result{}, nil
		}
		if ok, running, err := r.admit(ctx, pr); err != nil {
			return ctrl.Result{}, err
		} else if !ok {
			setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonQueued,
				fmt.Sprintf("Waiting to start: %d PipelineRuns running (--max-concurrent-runs=%d)", running, r.queue.limit), r.now())
			return ctrl.Result{}, nil
		}
	}
	if pr.Status.PipelineSpec == nil {
		spec, err := r.resolvePipeline(ctx, pr)
		if err == nil {
			err = r.validateRun(ctx, pr, spec)
		}
		if err == nil {
			err = r.propagatePipelineMetadata(ctx, pr)
		}
		if err != nil {
			var ve *validationError
			if errors.As(err, &ve) {
				r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
				r.queue.forget(key)
				return ctrl.Result{}, nil
			}
			var later *retryLater
			if errors.As(err, &later) {
				return later.wait(&pr.Status.Status, r.now()), nil
			}
			return ctrl.Result{}, err
		}
		pr.Status.PipelineSpec = spec
	}
	if pr.Status.StartTime == nil {
		now := r.now()
		pr.Status.StartTime = &now
		setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonRunning, "Tasks Completed: 0 (Failed: 0, Cancelled 0), Skipped: 0", now)
		if err := r.ensureClaims(ctx, pr); err != nil {
			var ve *validationError
			if errors.As(err, &ve) {
				r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
	}
	st, err := r.loadState(ctx, pr)
	if err != nil {
		return ctrl.Result{}, err
	}
	return r.advance(ctx, pr, st)
}

// resolvePipeline returns the PipelineRun's Pipeline spec, normalised.
func (r *PipelineRunReconciler) resolvePipeline(ctx context.Context, pr *pipelinev1.PipelineRun) (*pipelinev1.PipelineSpec, error) {
	if pr.Spec.PipelineSpec != nil {
		s := pr.Spec.PipelineSpec.DeepCopy()
		s.Normalize()
		return s, nil
	}
	ref := pr.Spec.PipelineRef
	switch {
	case ref == nil || (ref.Name == "" && ref.Resolver == "" && ref.Bundle == ""):
		return nil, invalid(ReasonPipelineValidationFailed, "PipelineRun needs spec.pipelineRef.name or spec.pipelineSpec")
	case ref.Bundle != "" || ref.Resolver != "":
		if err := checkRef(ref.Resolver, ref.Params, "spec.pipelineRef", ReasonPipelineRunResolutionFailed); err != nil {
			return nil, err
		}
		return r.resolveRemotePipeline(ctx, pr)
	}
	var p pipelinev1.Pipeline
	err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: pr.Namespace, Name: ref.Name}, &p)
	if apierrors.IsNotFound(err) {
		return nil, invalid(ReasonCouldntGetPipeline, "Pipeline %q not found in namespace %q (spec.pipelineRef.name)", ref.Name, pr.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("get pipeline %s: %w", ref.Name, err)
	}
	p.Normalize()
	return &p.Spec, nil
}

// getTask reads a Task through the cache, asking the API server once on a miss.
func (r *PipelineRunReconciler) getTask(ctx context.Context, ns, name string) (*pipelinev1.Task, error) {
	var t pipelinev1.Task
	if err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: ns, Name: name}, &t); err != nil {
		return nil, err
	}
	t.Normalize()
	return &t, nil
}

// getFresh reads obj through the informer cache and, when the cache does not have it (it may lag an
// object created just before the run), once more from the API server.
func getFresh(ctx context.Context, cached, direct client.Reader, key types.NamespacedName, obj client.Object) error {
	err := cached.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = direct.Get(ctx, key, obj)
	}
	return err
}

// admit decides whether a not-yet-started run may start under --max-concurrent-runs.
func (r *PipelineRunReconciler) admit(ctx context.Context, pr *pipelinev1.PipelineRun) (bool, int, error) {
	if r.queue.limit <= 0 {
		return true, 0, nil
	}
	var list pipelinev1.PipelineRunList
	opts := []client.ListOption{}
	if r.opts.Namespace != "" {
		opts = append(opts, client.InNamespace(r.opts.Namespace))
	}
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return false, 0, fmt.Errorf("list pipelineruns: %w", err)
	}
	ok, running := r.queue.admit(pr, list.Items)
	return ok, running, nil
}

// queuedToWake maps any PipelineRun event to the queued runs that may start now.
func (r *PipelineRunReconciler) queuedToWake(ctx context.Context, _ client.Object) []reconcile.Request {
	var list pipelinev1.PipelineRunList
	opts := []client.ListOption{}
	if r.opts.Namespace != "" {
		opts = append(opts, client.InNamespace(r.opts.Namespace))
	}
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	return r.queue.wake(list.Items)
}

package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	resourcev1alpha1 "github.com/hookrun/hookrun/api/resource/v1alpha1"
	"github.com/hookrun/hookrun/executor/entrypoint"
)

// TaskRunReconciler runs each TaskRun as one Pod and reports the Pod's progress in the TaskRun's status.
type TaskRunReconciler struct {
	client    client.Client // cached reads, writes
	apiReader client.Reader // uncached reads: Secrets (never cached) and cache-miss double checks
	podLogs   podLogs       // reads the results container's log when results did not fit its message
	opts      Options
	log       *slog.Logger
	remote    *remoteResolver // resolvers, ClusterTasks, bundles (resolve.go)
	// entrypoints reads image configs for steps that run their image's entrypoint (nil: never).
	entrypoints *entrypointCache
}

func (r *TaskRunReconciler) setup(mgr manager.Manager, copts controller.Options) error {
	if r.podLogs == nil {
		logs, err := newPodLogs(mgr.GetConfig())
		if err != nil {
			return err
		}
		r.podLogs = logs
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("taskrun").
		For(&pipelinev1.TaskRun{}).
		Owns(&corev1.Pod{}).
		WithOptions(copts).
		Complete(r)
}

// Reconcile moves one TaskRun forward.
func (r *TaskRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var tr pipelinev1.TaskRun
	if err := r.client.Get(ctx, req.NamespacedName, &tr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.opts.Namespace != "" && tr.Namespace != r.opts.Namespace || managedElsewhere(tr.Spec.ManagedBy) {
		return ctrl.Result{}, nil
	}
	if err := ensureRunLabels(ctx, r.client, &tr); err != nil {
		return ctrl.Result{}, err
	}
	tr.Normalize()
	applyTaskRunDefaults(&tr, r.opts.config())
	if taskRunDone(&tr) {
		return ctrl.Result{}, nil
	}
	before := tr.Status.DeepCopy()
	res, err := r.reconcile(ctx, &tr)
	if !equality.Semantic.DeepEqual(before, &tr.Status) {
		if uerr := r.client.Status().Update(ctx, &tr); uerr != nil {
			if apierrors.IsConflict(uerr) || apierrors.IsNotFound(uerr) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("update taskrun status: %w", uerr)
		}
		if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
			r.log.Info("taskrun finished", "namespace", tr.Namespace, "taskrun", tr.Name, "reason", c.Reason, "message", c.Message)
		}
	}
	return res, err
}

func (r *TaskRunReconciler) now() metav1.Time { return metav1.NewTime(r.opts.Now()) }

// fail ends the TaskRun.
func (r *TaskRunReconciler) fail(tr *pipelinev1.TaskRun, reason, msg string) {
	now := r.now()
	setSucceeded(&tr.Status.Status, corev1.ConditionFalse, reason, msg, now)
	if tr.Status.StartTime == nil {
		tr.Status.StartTime = &now
	}
	tr.Status.CompletionTime = &now
}

// taskRunTimeout is the TaskRun's timeout (0 = none).
func taskRunTimeout(tr *pipelinev1.TaskRun) time.Duration {
	if tr.Spec.Timeout == nil {
		return DefaultTimeout
	}
	return tr.Spec.Timeout.Duration
}

func (r *TaskRunReconciler) reconcile(ctx context.Context, tr *pipelinev1.TaskRun) (ctrl.Result, error) {
	now := r.now()
	if tr.Spec.Status == pipelinev1.TaskRunSpecStatusPending && tr.Status.StartTime == nil {
		// Not started until spec.status is cleared (Tekton's TaskRunPending).
		setSucceeded(&tr.Status.Status, corev1.ConditionUnknown, ReasonTaskRunPending, fmt.Sprintf("TaskRun %q is pending", tr.Name), now)
		return ctrl.Result{}, nil
	}
	r.startRun(tr, now)
	pod, err := r.getPod(ctx, tr)
	if err != nil {
		return ctrl.Result{}, err
	}
	if tr.Spec.Status == pipelinev1.TaskRunSpecStatusCancelled {
		return r.cancelRun(ctx, tr, pod)
	}
	if res, done, err := r.ensureTaskSpec(ctx, tr, now); done {
		return res, err
	}
	if res, done, err := r.checkTimeout(ctx, tr, pod, now); done {
		return res, err
	}
	if pod == nil {
		return r.createPod(ctx, tr)
	}
	return r.finishPod(ctx, tr, pod, now)
}

// startRun sets the run's start time and Pending condition when they are not set yet.
func (r *TaskRunReconciler) startRun(tr *pipelinev1.TaskRun, now metav1.Time) {
	if tr.Status.StartTime == nil {
		tr.Status.StartTime = &now
	}
	if tr.Status.GetCondition(pipelinev1.ConditionSucceeded) == nil {
		setSucceeded(&tr.Status.Status, corev1.ConditionUnknown, ReasonPending, "Pending", now)
	}
}

// getPod returns the Pod of the run's current attempt, or nil when it does not exist.
func (r *TaskRunReconciler) getPod(ctx context.Context, tr *pipelinev1.TaskRun) (*corev1.Pod, error) {
	attempt := len(tr.Status.RetriesStatus)
	name := podName(tr.Name, attempt)
	var p corev1.Pod
	switch err := r.client.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: name}, &p); {
	case err == nil:
		return &p, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get pod: %w", err)
	}
	return nil, nil
}

// cancelRun stops a cancelled run's Pod (if any) and fails the run.
func (r *TaskRunReconciler) cancelRun(ctx context.Context, tr *pipelinev1.TaskRun, pod *corev1.Pod) (ctrl.Result, error) {
	if pod != nil {
		r.observe(tr, pod)
		if err := r.stopPod(ctx, pod); err != nil {
			return ctrl.Result{}, err
		}
	}
	msg := fmt.Sprintf("TaskRun %q was cancelled. %s", tr.Name, tr.Spec.StatusMessage)
	r.fail(tr, ReasonTaskRunCancelled, strings.TrimSpace(msg))
	return ctrl.Result{}, nil
}

// ensureTaskSpec resolves the Task (and its StepActions) into the status once. done reports that
// reconcile must return res, err: the run failed validation, waits for something, or hit an error.
func (r *TaskRunReconciler) ensureTaskSpec(ctx context.Context, tr *pipelinev1.TaskRun, now metav1.Time) (res ctrl.Result, done bool, err error) {
	if tr.Status.TaskSpec != nil {
		return ctrl.Result{}, false, nil
	}
	spec, err := r.resolveTask(ctx, tr)
	if err == nil {
		err = r.resolveStepActions(ctx, tr, spec, stepsField(tr))
	}
	if err == nil {
		err = checkWorkspaceUsages(spec, stepsField(tr))
	}
	if err != nil {
		var ve *validationError
		if errors.As(err, &ve) {
			r.fail(tr, ve.reason, ve.msg)
			return ctrl.Result{}, true, nil
		}
		var later *retryLater
		if errors.As(err, &later) {
			return later.wait(&tr.Status.Status, now), true, nil
		}
		return ctrl.Result{}, true, err
	}
	if err := r.propagateTaskMetadata(ctx, tr); err != nil {
		return ctrl.Result{}, true, err
	}
	tr.Status.TaskSpec = spec
	return ctrl.Result{}, false, nil
}

// checkTimeout stops a run past its timeout and retries or fails it. done reports that reconcile must
// return res, err.
func (r *TaskRunReconciler) checkTimeout(ctx context.Context, tr *pipelinev1.TaskRun, pod *corev1.Pod, now metav1.Time) (res ctrl.Result, done bool, err error) {
	timeout := taskRunTimeout(tr)
	if timeout <= 0 {
		return ctrl.Result{}, false, nil
	}
	if elapsed := now.Sub(tr.Status.StartTime.Time); elapsed < timeout {
		return ctrl.Result{}, false, nil
	}
	if pod != nil {
		r.observe(tr, pod)
		if err := r.stopPod(ctx, pod); err != nil {
			return ctrl.Result{}, true, err
		}
	}
	msg := fmt.Sprintf("TaskRun %q failed to finish within %q", tr.Name, timeout.String())
	if r.retry(tr, ReasonTaskRunTimeout, msg) {
		res, err := r.createPod(ctx, tr)
		return res, true, err
	}
	r.fail(tr, ReasonTaskRunTimeout, msg)
	return ctrl.Result{}, true, nil
}

// finishPod observes the run's Pod and, once it is done, reads its log results and retries, fails or
// completes the run.
func (r *TaskRunReconciler) finishPod(ctx context.Context, tr *pipelinev1.TaskRun, pod *corev1.Pod, now metav1.Time) (ctrl.Result, error) {
	out := r.observe(tr, pod)
	if !out.Done {
		return r.requeueForTimeout(tr), nil
	}
	if !out.Failed && len(out.LogResults)+len(out.LogStepResults) > 0 {
		if err := r.readLogResults(ctx, tr, pod, out); err != nil {
			if !errors.Is(err, errLogResults) {
				return ctrl.Result{}, err // transient: retried with the controller's backoff
			}
			out.Failed, out.Reason, out.Message = true, ReasonFailed, err.Error()
		}
	}
	if out.Failed {
		// A Pod stuck on a container it cannot start (image pull, config error) would retry forever:
		// stop it, keeping it (and its logs) like a timed-out one.
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			if err := r.stopPod(ctx, pod); err != nil {
				return ctrl.Result{}, err
			}
		}
		if r.retry(tr, out.Reason, out.Message) {
			return r.createPod(ctx, tr)
		}
		r.fail(tr, podFailureReason(tr, out.Reason), out.Message)
		return ctrl.Result{}, nil
	}
	setSucceeded(&tr.Status.Status, corev1.ConditionTrue, ReasonSucceeded, out.Message, now)
	tr.Status.CompletionTime = &now
	return ctrl.Result{}, nil
}

// observe copies a Pod's progress into the TaskRun status.
func (r *TaskRunReconciler) observe(tr *pipelinev1.TaskRun, pod *corev1.Pod) podOutcome {
	out := readPod(pod, tr.Status.TaskSpec)
	tr.Status.PodName = pod.Name
	tr.Status.Steps = out.Steps
	tr.Status.Sidecars = out.Sidecars
	tr.Status.Artifacts = out.Artifacts
	tr.Status.Results = out.Results
	if !out.Done {
		setSucceeded(&tr.Status.Status, corev1.ConditionUnknown, out.Reason, out.Message, r.now())
	}
	return out
}

func (r *TaskRunReconciler) requeueForTimeout(tr *pipelinev1.TaskRun) ctrl.Result {
	timeout := taskRunTimeout(tr)
	if timeout <= 0 || tr.Status.StartTime == nil {
		return ctrl.Result{}
	}
	left := tr.Status.StartTime.Add(timeout).Sub(r.opts.Now())
	if left < 0 {
		left = 0
	}
	return ctrl.Result{RequeueAfter: left + 50*time.Millisecond}
}

// retry starts the next attempt if retries are left: the current status is archived in retriesStatus.
func (r *TaskRunReconciler) retry(tr *pipelinev1.TaskRun, reason, msg string) bool {
	if len(tr.Status.RetriesStatus) >= tr.Spec.Retries {
		return false
	}
	now := r.now()
	prev := tr.Status.DeepCopy()
	prev.RetriesStatus = nil
	prev.TaskSpec = nil
	prev.Conditions = nil
	setSucceeded(&prev.Status, corev1.ConditionFalse, reason, msg, now)
	prev.CompletionTime = &now
	raw, err := json.Marshal(prev)
	if err != nil {
		return false
	}
	tr.Status.RetriesStatus = append(tr.Status.RetriesStatus, pipelinev1.RawObject{RawExtension: runtime.RawExtension{Raw: raw}})
	tr.Status.StartTime = &now
	tr.Status.CompletionTime = nil
	tr.Status.Steps, tr.Status.Sidecars, tr.Status.Results, tr.Status.Artifacts = nil, nil, nil, nil
	tr.Status.PodName = ""
	setSucceeded(&tr.Status.Status, corev1.ConditionUnknown, ReasonRunning,
		fmt.Sprintf("attempt %d failed (%s: %s); retrying", len(tr.Status.RetriesStatus), reason, msg), now)
	return true
}

// stopPod makes the kubelet kill a Pod while keeping it (and its logs): its activeDeadlineSeconds is
// lowered to the time it has already run.
func (r *TaskRunReconciler) stopPod(ctx context.Context, pod *corev1.Pod) error {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	started := pod.CreationTimestamp.Time
	if pod.Status.StartTime != nil {
		started = pod.Status.StartTime.Time
	}
	deadline := int64(r.opts.Now().Sub(started).Seconds())
	if deadline < 1 {
		deadline = 1
	}
	if cur := pod.Spec.ActiveDeadlineSeconds; cur != nil && *cur <= deadline {
		return nil
	}
	patch := client.MergeFrom(pod.DeepCopy())
	pod.Spec.ActiveDeadlineSeconds = ptr.To(deadline)
	if err := r.client.Patch(ctx, pod, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("stop pod %s: %w", pod.Name, err)
	}
	return nil
}

// resolveTask returns the TaskRun's Task spec (inline or by reference), normalised.
func (r *TaskRunReconciler) resolveTask(ctx context.Context, tr *pipelinev1.TaskRun) (*pipelinev1.TaskSpec, error) {
	if tr.Spec.TaskSpec != nil {
		s := tr.Spec.TaskSpec.DeepCopy()
		s.Normalize()
		propagateWorkspaces(s, tr.Spec.Workspaces)
		return s, nil
	}
	ref := tr.Spec.TaskRef
	if ref == nil || ref.Name == "" && ref.Resolver == "" && ref.Bundle == "" {
		return nil, invalid(ReasonValidationFailed, "TaskRun needs spec.taskRef.name or spec.taskSpec")
	}
	if err := refusedTaskRef(ref, "spec.taskRef"); err != nil {
		return nil, err
	}
	if isRemoteTaskRef(ref) {
		return r.resolveRemoteTask(ctx, tr)
	}
	var task pipelinev1.Task
	err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: tr.Namespace, Name: ref.Name}, &task)
	if apierrors.IsNotFound(err) {
		return nil, invalid(ReasonCouldntGetTask, "Task %q not found in namespace %q (spec.taskRef.name)", ref.Name, tr.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", ref.Name, err)
	}
	task.Normalize()
	return &task.Spec, nil
}

// propagateWorkspaces declares, in an embedded Task spec, the workspaces the run binds that the spec uses
// without declaring them (Tekton's propagated workspaces).
func propagateWorkspaces(s *pipelinev1.TaskSpec, bindings []pipelinev1.WorkspaceBinding) {
	declared := map[string]bool{}
	for _, d := range s.Workspaces {
		declared[d.Name] = true
	}
	for _, b := range bindings {
		if !declared[b.Name] {
			declared[b.Name] = true
			s.Workspaces = append(s.Workspaces, pipelinev1.WorkspaceDeclaration{Name: b.Name})
		}
	}
}

// refusedTaskRef rejects the kinds of task reference hookrun does not run, and resolver refs whose params
// are wrong (checked, not fetched: resolve.go fetches).
func refusedTaskRef(ref *pipelinev1.TaskRef, field string) error {
	if ref.IsCustomTask() {
		return invalid(ReasonResolutionFailed, "%s: apiVersion %q kind %q is a custom task: a TaskRun runs a Task or ClusterTask only (a pipeline task of that kind becomes a CustomRun its controller runs)", field, ref.APIVersion, ref.Kind)
	}
	if ref.Kind != "" && !strings.EqualFold(ref.Kind, "Task") && ref.Kind != "ClusterTask" {
		return invalid(ReasonResolutionFailed, "%s.kind: %q is not supported by hookrun (Task or ClusterTask; a custom task needs apiVersion too)", field, ref.Kind)
	}
	return checkRef(ref.Resolver, ref.Params, field, ReasonResolutionFailed)
}

// createPod builds and creates the Pod of the current attempt.
func (r *TaskRunReconciler) createPod(ctx context.Context, tr *pipelinev1.TaskRun) (ctrl.Result, error) {
	spec := tr.Status.TaskSpec
	name := podName(tr.Name, len(tr.Status.RetriesStatus))
	res, err := resolveResources(spec, tr.Spec.Resources, func(n string) (*resourcev1alpha1.PipelineResource, error) {
		var pr resourcev1alpha1.PipelineResource
		key := types.NamespacedName{Namespace: tr.Namespace, Name: n}
		err := r.client.Get(ctx, key, &pr)
		if apierrors.IsNotFound(err) {
			err = r.apiReader.Get(ctx, key, &pr)
		}
		if apierrors.IsNotFound(err) {
			return nil, invalid(ReasonValidationFailed, "PipelineResource %q not found in namespace %q (spec.resources)", n, tr.Namespace)
		}
		return &pr, err
	})
	if err == nil {
		tr.Spec.Workspaces = defaultWorkspaces(spec, tr.Spec.Workspaces, r.opts.config().WorkspaceBinding)
		err = r.ensureClaims(ctx, tr)
	}
	var creds []entrypoint.Credential
	if err == nil {
		creds, err = r.credentials(ctx, tr)
	}
	var pod *corev1.Pod
	if err == nil {
		taskName := ""
		if tr.Spec.TaskRef != nil {
			taskName = tr.Spec.TaskRef.Name
		}
		var deadline time.Duration
		if t := taskRunTimeout(tr); t > 0 {
			deadline = t - r.opts.Now().Sub(tr.Status.StartTime.Time)
			if deadline < time.Second {
				deadline = time.Second
			}
		}
		pod, err = buildPod(podRequest{
			TaskRun: tr, Spec: spec, TaskName: taskName, Resources: res, Creds: creds,
			PodName: name, Deadline: deadline, Opts: r.opts, Entrypoints: r.entrypointLookup(ctx, tr, spec),
		})
	}
	if err == nil {
		err = r.maskEnvFrom(ctx, pod) // mask_envfrom.go
	}
	if err != nil {
		var ve *validationError
		if errors.As(err, &ve) {
			r.fail(tr, ve.reason, ve.msg)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	switch err := r.client.Create(ctx, pod); {
	case err == nil, apierrors.IsAlreadyExists(err):
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err):
		r.fail(tr, ReasonPodCreateFailed, fmt.Sprintf("failed to create Pod %s: %v", name, err))
		return ctrl.Result{}, nil
	default:
		return ctrl.Result{}, fmt.Errorf("create pod %s: %w", name, err)
	}
	// Record the Pod as made (steps not started yet), so its first watch event changes nothing.
	r.observe(tr, pod)
	return r.requeueForTimeout(tr), nil
}

// ensureClaims creates the PVCs of volumeClaimTemplate workspaces bound directly on a TaskRun (owned by
// it) and rewrites the bindings to use them. The TaskRun's spec is changed only in memory.
func (r *TaskRunReconciler) ensureClaims(ctx context.Context, tr *pipelinev1.TaskRun) error {
	for i := range tr.Spec.Workspaces {
		b := &tr.Spec.Workspaces[i]
		if b.VolumeClaimTemplate == nil {
			continue
		}
		claim := childName(tr.Name, b.Name)
		owner := metav1.OwnerReference{
			APIVersion: pipelinev1.GroupVersion.String(), Kind: "TaskRun", Name: tr.Name, UID: tr.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}
		if err := createClaim(ctx, r.client, b.VolumeClaimTemplate, tr.Namespace, claim, owner); err != nil {
			return err
		}
		b.VolumeClaimTemplate = nil
		b.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}
	}
	return nil
}

// createClaim creates a PVC from a workspace's volumeClaimTemplate (AlreadyExists is success).
func createClaim(ctx context.Context, c client.Client, tmpl *corev1.PersistentVolumeClaim, ns, name string, owner metav1.OwnerReference) error {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels:          map[string]string{LabelManagedBy: ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	for k, v := range tmpl.Labels {
		pvc.Labels[k] = v
	}
	pvc.Annotations = tmpl.Annotations
	if len(pvc.Spec.AccessModes) == 0 {
		pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	if err := c.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return invalid(ReasonValidationFailed, "volumeClaimTemplate: creating PVC %s: %v", name, err)
		}
		return fmt.Errorf("create pvc %s: %w", name, err)
	}
	return nil
}

// Annotation prefixes that mark a ServiceAccount Secret as a credential (Tekton's).
const (
	annotationDocker = "tekton.dev/docker-"
	annotationGit    = "tekton.dev/git-"
)

// credentials lists the credentials of the TaskRun's ServiceAccount: Secrets annotated
// tekton.dev/docker-N or tekton.dev/git-N, and dockerconfigjson Secrets. Secrets are read uncached.
func (r *TaskRunReconciler) credentials(ctx context.Context, tr *pipelinev1.TaskRun) ([]entrypoint.Credential, error) {
	saName := tr.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	var sa corev1.ServiceAccount
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: saName}, &sa); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get serviceaccount %s: %w", saName, err)
	}
	var out []entrypoint.Credential
	for _, ref := range sa.Secrets {
		var s corev1.Secret
		if err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: ref.Name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("get secret %s: %w", ref.Name, err)
		}
		annotated := false
		for k, v := range s.Annotations {
			switch {
			case strings.HasPrefix(k, annotationDocker) && v != "":
				if s.Type == corev1.SecretTypeBasicAuth || s.Type == corev1.SecretTypeDockerConfigJson || s.Type == corev1.SecretTypeDockercfg {
					out = append(out, entrypoint.Credential{Kind: entrypoint.CredDocker, Name: s.Name, URL: v})
					annotated = true
				}
			case strings.HasPrefix(k, annotationGit) && v != "":
				if s.Type == corev1.SecretTypeBasicAuth || s.Type == corev1.SecretTypeSSHAuth {
					out = append(out, entrypoint.Credential{Kind: entrypoint.CredGit, Name: s.Name, URL: v})
					annotated = true
				}
			}
		}
		if !annotated && (s.Type == corev1.SecretTypeDockerConfigJson || s.Type == corev1.SecretTypeDockercfg) {
			out = append(out, entrypoint.Credential{Kind: entrypoint.CredDocker, Name: s.Name, URL: "config"})
		}
	}
	entrypoint.SortCredentials(out)
	return out, nil
}

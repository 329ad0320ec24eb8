package executor

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/runctl"
)

// Concurrency groups (package runctl says how runs join one). The executor enforces them for any
// PipelineRun carrying runctl.LabelGroup: "queue" (and "skip", whose dropping happens in the listener)
// starts a group's runs one at a time, oldest first; "cancel-in-progress" lets a run start at once and
// cancels the older unfinished runs of its group, except those marked protected.

// groupMembers lists the other runs of pr's group in its namespace, from the cache.
func (r *PipelineRunReconciler) groupMembers(ctx context.Context, pr *pipelinev1.PipelineRun) ([]pipelinev1.PipelineRun, error) {
	var list pipelinev1.PipelineRunList
	if err := r.client.List(ctx, &list, client.InNamespace(pr.Namespace),
		client.MatchingLabels{runctl.LabelGroup: pr.Labels[runctl.LabelGroup]}); err != nil {
		return nil, fmt.Errorf("list concurrency group %s: %w", pr.Labels[runctl.LabelGroup], err)
	}
	out := list.Items[:0]
	for _, m := range list.Items {
		if m.Name != pr.Name {
			out = append(out, m)
		}
	}
	return out, nil
}

// olderThan orders runs by when they were queued (the listener stamps the delivery's arrival, finer
// than creation timestamps' seconds), then by name.
func olderThan(a, b *pipelinev1.PipelineRun) bool {
	ta, tb := runctl.QueuedAt(a.Annotations, a.CreationTimestamp.Time), runctl.QueuedAt(b.Annotations, b.CreationTimestamp.Time)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

// groupAdmit decides whether a not-yet-started run may start under its concurrency group; when it may
// not, msg says why (the Queued condition's message).
func (r *PipelineRunReconciler) groupAdmit(ctx context.Context, pr *pipelinev1.PipelineRun) (ok bool, msg string, err error) {
	if pr.Labels[runctl.LabelGroup] == "" {
		return true, "", nil
	}
	members, err := r.groupMembers(ctx, pr)
	if err != nil {
		return false, "", err
	}
	key := pr.Annotations[runctl.AnnotationKey]
	if runctl.Mode(pr.Annotations[runctl.AnnotationRunPolicy]) == runctl.CancelInProgress {
		return true, "", r.cancelOlder(ctx, pr, members)
	}
	for i := range members {
		m := &members[i]
		if runDone(m) || isCancelSpec(m.Spec.Status) || m.Spec.Status == pipelinev1.PipelineRunSpecStatusPending {
			continue
		}
		if m.Status.StartTime != nil {
			return false, fmt.Sprintf("Waiting to start: PipelineRun %q of concurrency group %q is running", m.Name, key), nil
		}
		if olderThan(m, pr) {
			return false, fmt.Sprintf("Waiting to start: the older PipelineRun %q of concurrency group %q goes first", m.Name, key), nil
		}
	}
	return true, "", nil
}

// cancelOlder cancels the older unfinished, unprotected runs of pr's group, naming pr (and its delivery)
// as the reason.
func (r *PipelineRunReconciler) cancelOlder(ctx context.Context, pr *pipelinev1.PipelineRun, members []pipelinev1.PipelineRun) error {
	by := fmt.Sprintf("the newer PipelineRun %q", pr.Name)
	if d := pr.Annotations["hookrun.dev/delivery-id"]; d != "" {
		by += fmt.Sprintf(" (delivery %s)", d)
	}
	by += fmt.Sprintf(" of concurrency group %q", pr.Annotations[runctl.AnnotationKey])
	for i := range members {
		m := &members[i]
		if !olderThan(m, pr) || runDone(m) || isCancelSpec(m.Spec.Status) || m.Annotations[runctl.AnnotationProtected] == "true" {
			continue
		}
		if err := r.client.Patch(ctx, m, client.RawPatch(types.MergePatchType, runctl.CancelPatch(by))); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("cancel %s of concurrency group %q: %w", m.Name, pr.Annotations[runctl.AnnotationKey], err)
		}
		r.log.Info("pipelinerun cancelled by a newer run of its concurrency group", "namespace", m.Namespace,
			"pipelinerun", m.Name, "by", pr.Name, "group", pr.Annotations[runctl.AnnotationKey])
	}
	return nil
}

// groupToWake maps an event on a run of a group to the group's runs that have not started: when one
// ends, the next may start.
func (r *PipelineRunReconciler) groupToWake(ctx context.Context, obj client.Object) []reconcile.Request {
	pr, ok := obj.(*pipelinev1.PipelineRun)
	if !ok || pr.Labels[runctl.LabelGroup] == "" || !runDone(pr) {
		return nil
	}
	members, err := r.groupMembers(ctx, pr)
	if err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range members {
		if m := &members[i]; m.Status.StartTime == nil && !runDone(m) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: m.Name}})
		}
	}
	return out
}

// noteCancelledBy adds, to a run that ended Cancelled because a newer run of its group cancelled it,
// which run that was.
func noteCancelledBy(pr *pipelinev1.PipelineRun) {
	by := pr.Annotations[runctl.AnnotationCancelledBy]
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if by == "" || c == nil || !runDone(pr) || !strings.HasPrefix(c.Reason, ReasonCancelled) || strings.Contains(c.Message, "cancelled by") {
		return
	}
	c.Message = strings.TrimSuffix(c.Message, ".") + ": cancelled by " + by
	pr.Status.SetCondition(*c)
}

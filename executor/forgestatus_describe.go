package executor

// Forge status contents: which state a run is in, and the context, link and description sent with it.

import (
	"context"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
)

// nextState is the state to report now, "" when there is nothing to report.
func nextState(pr *pipelinev1.PipelineRun, provider string, rec statusRecord) forge.State {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c == nil {
		return "" // the executor has not seen the run yet; its first status write wakes us
	}
	var s forge.State
	switch c.Status {
	case corev1.ConditionTrue:
		s = forge.StateSuccess
	case corev1.ConditionFalse:
		switch c.Reason {
		case ReasonCancelled, ReasonTaskRunCancelled:
			s = forge.StateCancelled
		case ReasonFailed, ReasonPipelineRunTimeout:
			s = forge.StateFailure
		default:
			s = forge.StateError
		}
	default:
		s = forge.StateRunning
		if c.Reason == ReasonQueued || c.Reason == ReasonPipelineRunPending {
			s = forge.StatePending
		}
	}
	for _, d := range rec.settled() {
		switch {
		case d == s, d.Final():
			return ""
		case !s.Final() && (d == forge.StateRunning || forge.ProviderState(provider, d) == forge.ProviderState(provider, s)):
			return "" // GitHub: queued and running are both "pending"; never go back from running
		}
	}
	return s
}

// contextName is the status's name: the annotation, else hookrun/PIPELINE.
func (r *forgeStatusReconciler) contextName(pr *pipelinev1.PipelineRun, t forge.Target) string {
	name := pr.Labels[LabelPipeline]
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		name = pr.Spec.PipelineRef.Name
	}
	if name == "" {
		name = strings.TrimSuffix(pr.GenerateName, "-")
	}
	return forge.DefaultContext(t, name)
}

func (r *forgeStatusReconciler) targetURL(pr *pipelinev1.PipelineRun, t forge.Target) string {
	if t.URL != "" {
		return t.URL
	}
	if r.fo.DashboardURL == "" {
		return ""
	}
	return strings.TrimSuffix(r.fo.DashboardURL, "/") + "/runs/" + url.PathEscape(pr.Namespace) + "/pipelineruns/" + url.PathEscape(pr.Name)
}

// describe is the status's description. It starts with the run's name (which is also how Find recognises
// this run's status among others on the same commit) and must be the same whenever it is computed for
// the same state.
func (r *forgeStatusReconciler) describe(ctx context.Context, pr *pipelinev1.PipelineRun, s forge.State) string {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	took := ""
	if pr.Status.StartTime != nil && pr.Status.CompletionTime != nil {
		took = pr.Status.CompletionTime.Sub(pr.Status.StartTime.Time).Round(time.Second).String()
	}
	var d string
	switch s {
	case forge.StatePending:
		d = pr.Name + " is waiting to start"
		if c != nil && c.Reason == ReasonQueued {
			d = pr.Name + " is queued"
		}
	case forge.StateRunning:
		d = pr.Name + " is running"
	case forge.StateSuccess:
		d = pr.Name + " succeeded in " + took
	case forge.StateCancelled:
		d = pr.Name + " was cancelled after " + took
	case forge.StateFailure:
		if c != nil && c.Reason == ReasonPipelineRunTimeout {
			d = pr.Name + " timed out after " + took
			break
		}
		d = pr.Name + " failed after " + took
		if failed := r.failedTasks(ctx, pr); failed != "" {
			d += ": " + failed
		}
	default:
		d = pr.Name + " could not run"
		if c != nil {
			d += ": " + c.Reason
			if c.Message != "" {
				d += ": " + c.Message
			}
		}
	}
	return forge.Truncate(d, forge.MaxDescription)
}

// failedTasks names the run's failed tasks, the first with its TaskRun's reason ("task unit-test failed:
// "step-test" exited with code 1"), in the order of status.childReferences.
func (r *forgeStatusReconciler) failedTasks(ctx context.Context, pr *pipelinev1.PipelineRun) string {
	var names []string
	first := ""
	for _, ref := range pr.Status.ChildReferences {
		if ref.Kind != "" && ref.Kind != "TaskRun" {
			continue
		}
		var tr pipelinev1.TaskRun
		if err := r.client.Get(ctx, types.NamespacedName{Namespace: pr.Namespace, Name: ref.Name}, &tr); err != nil {
			continue
		}
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason == ReasonTaskRunCancelled {
			continue
		}
		names = append(names, ref.PipelineTaskName)
		if first == "" {
			first = c.Message
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		s := "task " + names[0] + " failed"
		if first != "" {
			s += ": " + first
		}
		return s
	}
	return "tasks " + strings.Join(names, ", ") + " failed"
}

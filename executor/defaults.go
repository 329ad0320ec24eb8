package executor

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/runconfig"
)

// applyTaskRunDefaults gives a TaskRun, in memory, what config-defaults sets for runs that leave it out —
// as Tekton's defaulting webhook does: default-timeout-minutes, default-service-account, and
// default-pod-template merged under the run's own pod template.
func applyTaskRunDefaults(tr *pipelinev1.TaskRun, c runconfig.Config) {
	if tr.Spec.Timeout == nil {
		tr.Spec.Timeout = &metav1.Duration{Duration: c.Timeout}
	}
	if tr.Spec.ServiceAccountName == "" {
		tr.Spec.ServiceAccountName = c.ServiceAccount
	}
	tr.Spec.PodTemplate = mergePodTemplate(tr.Spec.PodTemplate, c.PodTemplate)
}

// applyPipelineRunDefaults is applyTaskRunDefaults for a PipelineRun (timeouts.pipeline,
// taskRunTemplate.serviceAccountName and taskRunTemplate.podTemplate).
func applyPipelineRunDefaults(pr *pipelinev1.PipelineRun, c runconfig.Config) {
	if pr.Spec.Timeouts == nil {
		pr.Spec.Timeouts = &pipelinev1.TimeoutFields{}
	}
	if pr.Spec.Timeouts.Pipeline == nil {
		pr.Spec.Timeouts.Pipeline = &metav1.Duration{Duration: c.Timeout}
	}
	if pr.Spec.TaskRunTemplate.ServiceAccountName == "" {
		pr.Spec.TaskRunTemplate.ServiceAccountName = c.ServiceAccount
	}
	pr.Spec.TaskRunTemplate.PodTemplate = mergePodTemplate(pr.Spec.TaskRunTemplate.PodTemplate, c.PodTemplate)
}

// defaultWorkspaces binds, in memory, each required workspace of the Task the TaskRun leaves unbound to
// config-defaults' default-task-run-workspace-binding (Tekton's rule); bindings keep the Task's order.
func defaultWorkspaces(spec *pipelinev1.TaskSpec, given []pipelinev1.WorkspaceBinding, def *pipelinev1.WorkspaceBinding) []pipelinev1.WorkspaceBinding {
	if def == nil {
		return given
	}
	bound := map[string]bool{}
	for _, b := range given {
		bound[b.Name] = true
	}
	out := append([]pipelinev1.WorkspaceBinding(nil), given...)
	for _, d := range spec.Workspaces {
		if d.Optional || bound[d.Name] {
			continue
		}
		b := def.DeepCopy()
		b.Name = d.Name
		b.Projected, b.CSI = nil, nil // Tekton's default binding carries these volume kinds only
		out = append(out, *b)
	}
	return out
}

// managedByValue is app.kubernetes.io/managed-by for the executor's children when the user set none.
func managedByValue(c runconfig.Config) string {
	if c.ManagedBy != "" {
		return c.ManagedBy
	}
	return ManagedByValue
}

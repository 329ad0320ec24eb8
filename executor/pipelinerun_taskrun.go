package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// createTaskRun makes the TaskRun of a pipeline task (AlreadyExists means it was made before: adopted).
func (r *PipelineRunReconciler) createTaskRun(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, vars subst.Vars, now time.Time) error {
	name := childName(pr.Name, s.pt.Name)
	tr := r.buildTaskRun(pr, st, s, name, nil, vars, now)
	switch err := r.client.Create(ctx, tr); {
	case err == nil:
		s.tr = tr
	case apierrors.IsAlreadyExists(err):
		// Made by an earlier reconcile (or executor) whose cache copy is not here yet: adopt it.
	default:
		return fmt.Errorf("create taskrun %s: %w", name, err)
	}
	s.known = true
	return nil
}

// buildTaskRun is the TaskRun named name that runs pipeline task s with the variables vars; extra are a
// matrix combination's params.
func (r *PipelineRunReconciler) buildTaskRun(pr *pipelinev1.PipelineRun, st *runState, s *ptState, name string, extra pipelinev1.Params, vars subst.Vars, now time.Time) *pipelinev1.TaskRun {
	pt := s.pt
	labels := taskRunLabels(pr, s)
	annotations := propagatedAnnotations(pr.Annotations)
	spec := pipelinev1.TaskRunSpec{Retries: pt.Retries}
	// $(context.pipelineTask.retries) is this pipeline task's own.
	ptVars := subst.Vars{}
	ptVars.Merge(vars)
	ptVars.SetString("context.pipelineTask.retries", fmt.Sprint(pt.Retries))
	vars = ptVars
	for _, p := range pt.Params {
		spec.Params = append(spec.Params, pipelinev1.Param{Name: p.Name, Value: substituteParamValue(p.Value, vars)})
	}
	spec.Params = append(spec.Params, extra...)
	switch {
	case pt.TaskRef != nil:
		ref := *pt.TaskRef
		ref.Params = substituteRefParams(ref.Params, vars)
		spec.TaskRef = &ref
		labels[LabelTask] = ref.Name
	case pt.TaskSpec != nil:
		spec.TaskSpec = pt.TaskSpec.TaskSpec.DeepCopy()
		substituteArtifactRefs(spec.TaskSpec, vars)
		for k, v := range pt.TaskSpec.Metadata.Labels {
			labels[k] = v
		}
		annotations = mergeAnnotations(annotations, pt.TaskSpec.Metadata.Annotations)
		spec.Params = append(spec.Params, propagatedParams(spec.Params, spec.TaskSpec, st.params)...)
	}
	annotations = onErrorAnnotations(pt, annotations)
	pt = applyTaskRunSpecs(pr, pt, &spec)
	spec.Timeout = &metav1.Duration{Duration: r.taskRunTimeout(pr, pt, s.finally, now)}
	spec.Workspaces = taskRunWorkspaces(pr, pt, vars)
	spec.Resources = taskRunResources(pr, pt)
	return &pipelinev1.TaskRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pr.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun", Name: pr.Name, UID: pr.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: spec,
	}
}

// taskRunLabels are the PipelineRun's labels plus Tekton's labels naming the run, pipeline and task.
func taskRunLabels(pr *pipelinev1.PipelineRun, s *ptState) map[string]string {
	labels := map[string]string{}
	for k, v := range pr.Labels {
		labels[k] = v
	}
	pipelineName := pr.Name
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		pipelineName = pr.Spec.PipelineRef.Name
	}
	labels[LabelPipelineRun] = pr.Name
	labels[LabelPipeline] = pipelineName
	labels[LabelPipelineTask] = s.pt.Name
	labels[LabelMemberOf] = MemberOfTasks
	if s.finally {
		labels[LabelMemberOf] = MemberOfFinally
	}
	labels[LabelManagedBy] = ManagedByValue
	return labels
}

// mergeAnnotations adds extra to base (either may be nil).
func mergeAnnotations(base, extra map[string]string) map[string]string {
	if len(extra) == 0 {
		return base
	}
	if base == nil {
		base = map[string]string{}
	}
	for k, v := range extra {
		base[k] = v
	}
	return base
}

// propagatedParams are the Pipeline params an embedded spec uses without declaring them or being given
// them (Tekton's propagated params); values reach the Task once, verbatim.
func propagatedParams(given pipelinev1.Params, ts *pipelinev1.TaskSpec, run map[string]pipelinev1.ParamValue) pipelinev1.Params {
	have := map[string]bool{}
	for _, p := range given {
		have[p.Name] = true
	}
	for _, ps := range ts.Params {
		have[ps.Name] = true
	}
	var out pipelinev1.Params
	for _, n := range sortedKeys(run) {
		if !have[n] {
			out = append(out, pipelinev1.Param{Name: n, Value: run[n]})
		}
	}
	return out
}

// applyTaskRunSpecs sets the service account, pod template and compute resources the PipelineRun gives
// (spec.taskRunTemplate, then spec.taskRunSpecs for this task). It returns the pipeline task, copied
// with the timeout a taskRunSpec gives when the task has none.
func applyTaskRunSpecs(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask, spec *pipelinev1.TaskRunSpec) *pipelinev1.PipelineTask {
	spec.ServiceAccountName = pr.Spec.TaskRunTemplate.ServiceAccountName
	spec.PodTemplate = pr.Spec.TaskRunTemplate.PodTemplate
	for _, trs := range pr.Spec.TaskRunSpecs {
		if trs.PipelineTaskName != pt.Name {
			continue
		}
		if trs.ServiceAccountName != "" {
			spec.ServiceAccountName = trs.ServiceAccountName
		}
		if trs.PodTemplate != nil {
			spec.PodTemplate = trs.PodTemplate
		}
		spec.ComputeResources = trs.ComputeResources
		if trs.Timeout != nil && pt.Timeout == nil {
			pt = pt.DeepCopy()
			pt.Timeout = trs.Timeout
		}
	}
	return pt
}

// taskRunWorkspaces are the PipelineRun's workspace bindings under the Task's names, sub-paths joined.
func taskRunWorkspaces(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask, vars subst.Vars) []pipelinev1.WorkspaceBinding {
	byName := map[string]pipelinev1.WorkspaceBinding{}
	for _, b := range pr.Spec.Workspaces {
		byName[b.Name] = b
	}
	ptWorkspaces := pt.Workspaces
	if pt.TaskSpec != nil {
		ptWorkspaces = propagatedWorkspaces(pt, pr.Spec.Workspaces)
	}
	var out []pipelinev1.WorkspaceBinding
	for _, wb := range ptWorkspaces {
		pw := wb.Workspace
		if pw == "" {
			pw = wb.Name
		}
		b, ok := byName[pw]
		if !ok {
			continue // an optional Pipeline workspace left unbound
		}
		b = *b.DeepCopy()
		b.Name = wb.Name
		if b.VolumeClaimTemplate != nil {
			b.VolumeClaimTemplate = nil
			b.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(pr, pw)}
		}
		sub := subst.String(wb.SubPath, vars)
		if b.SubPath != "" && sub != "" {
			b.SubPath = path.Join(b.SubPath, sub)
		} else if sub != "" {
			b.SubPath = sub
		}
		out = append(out, b)
	}
	return out
}

// taskRunResources binds the PipelineRun's v1beta1 PipelineResources to the task's inputs and outputs.
func taskRunResources(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask) *pipelinev1.TaskRunResources {
	if pt.Resources == nil {
		return nil
	}
	res := map[string]pipelinev1.PipelineResourceBinding{}
	for _, b := range pr.Spec.Resources {
		res[b.Name] = b
	}
	trr := &pipelinev1.TaskRunResources{}
	for _, in := range pt.Resources.Inputs {
		if b, ok := res[in.Resource]; ok {
			b = *b.DeepCopy()
			b.Name = in.Name
			trr.Inputs = append(trr.Inputs, pipelinev1.TaskResourceBinding{PipelineResourceBinding: b})
		}
	}
	for _, out := range pt.Resources.Outputs {
		if b, ok := res[out.Resource]; ok {
			b = *b.DeepCopy()
			b.Name = out.Name
			trr.Outputs = append(trr.Outputs, pipelinev1.TaskResourceBinding{PipelineResourceBinding: b})
		}
	}
	return trr
}

// propagatedWorkspaces are an embedded-spec pipeline task's workspace bindings plus, under their own
// names, the PipelineRun's workspaces its spec uses ($(workspaces.NAME.…)) without binding or declaring them
// (Tekton's propagated workspaces).
func propagatedWorkspaces(pt *pipelinev1.PipelineTask, run []pipelinev1.WorkspaceBinding) []pipelinev1.WorkspacePipelineTaskBinding {
	out := append([]pipelinev1.WorkspacePipelineTaskBinding(nil), pt.Workspaces...)
	have := map[string]bool{}
	for _, wb := range pt.Workspaces {
		have[wb.Name] = true
	}
	for _, d := range pt.TaskSpec.Workspaces {
		have[d.Name] = true
	}
	raw, err := json.Marshal(pt.TaskSpec.TaskSpec)
	if err != nil {
		return out
	}
	for _, b := range run {
		if !have[b.Name] && bytes.Contains(raw, []byte("$(workspaces."+b.Name+".")) {
			have[b.Name] = true
			out = append(out, pipelinev1.WorkspacePipelineTaskBinding{Name: b.Name, Workspace: b.Name})
		}
	}
	return out
}

// taskRunTimeout is the timeout a new TaskRun gets: its own timeout, bounded by what is left of the
// pipeline's (and tasks'/finally's) timeout; 0 = none. A bound that comes from the PipelineRun's deadlines
// is rounded up to whole seconds plus one: the PipelineRun enforces its own deadline (cancelling with a
// clear reason) and the TaskRun's timeout is only the backstop.
func (r *PipelineRunReconciler) taskRunTimeout(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask, finally bool, now time.Time) time.Duration {
	pTimeout, tTimeout, fTimeout := runTimeouts(pr)
	start := pr.Status.StartTime.Time
	var limits []time.Duration
	if pt.Timeout != nil && pt.Timeout.Duration > 0 {
		limits = append(limits, pt.Timeout.Duration)
	}
	backstop := func(left time.Duration) time.Duration {
		if left < 0 {
			left = 0
		}
		return (left + time.Second - 1).Truncate(time.Second) + time.Second
	}
	if pTimeout > 0 {
		limits = append(limits, backstop(start.Add(pTimeout).Sub(now)))
	}
	if !finally && tTimeout > 0 {
		limits = append(limits, backstop(start.Add(tTimeout).Sub(now)))
	}
	if finally && fTimeout > 0 && pr.Status.FinallyStartTime != nil {
		limits = append(limits, backstop(pr.Status.FinallyStartTime.Add(fTimeout).Sub(now)))
	}
	var t time.Duration
	for i, l := range limits {
		if i == 0 || l < t {
			t = l
		}
	}
	return t
}

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
	var specMeta pipelinev1.PipelineTaskMetadata
	switch {
	case pt.TaskRef != nil:
		ref := *pt.TaskRef
		ref.Params = substituteRefParams(ref.Params, vars)
		spec.TaskRef = &ref
	case pt.TaskSpec != nil:
		spec.TaskSpec = pt.TaskSpec.TaskSpec.DeepCopy()
		// A spec that cannot go through JSON (never: it came from JSON) keeps its text as written.
		if ts, err := substituteEmbedded(spec.TaskSpec, vars); err == nil {
			spec.TaskSpec = ts
		}
		substituteArtifactRefs(spec.TaskSpec, vars)
		specMeta = pt.TaskSpec.Metadata
		spec.Params = append(spec.Params, propagatedParams(spec.Params, spec.TaskSpec, st.params)...)
	}
	pt, runMeta := applyTaskRunSpecs(pr, pt, &spec)
	labels, annotations := taskRunMetadata(pr, s, runMeta, specMeta)
	annotations = onErrorAnnotations(pt, annotations)
	spec.Timeout = &metav1.Duration{Duration: r.taskRunTimeout(pr, pt, s.finally, now)}
	spec.Workspaces = taskRunWorkspaces(pr, pt, vars)
	spec.Resources = taskRunResources(pr, pt)
	cfg := r.opts.config()
	if pr.Labels[LabelManagedBy] == "" && (runMeta == nil || runMeta.Labels[LabelManagedBy] == "") {
		labels[LabelManagedBy] = managedByValue(cfg)
	}
	if g := affinityGroup(cfg.Coschedule, pr, spec.Workspaces); g != "" {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[AnnotationAffinityAssistant] = g
	}
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

// taskRunMetadata are a pipeline task's TaskRun labels and annotations, by Tekton's precedence: the
// taskRunSpec's metadata, then the PipelineRun's own, then an embedded taskSpec's metadata. The labels
// the executor finds its TaskRuns by (taskRunLabels: run, pipeline, pipeline task, member-of, Task) are
// always its own; app.kubernetes.io/managed-by keeps a value the user set.
func taskRunMetadata(pr *pipelinev1.PipelineRun, s *ptState, run *pipelinev1.PipelineTaskMetadata, spec pipelinev1.PipelineTaskMetadata) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	if run != nil {
		addAbsent(labels, run.Labels)
		addAbsent(annotations, run.Annotations)
	}
	addAbsent(labels, pr.Labels)
	addAbsent(annotations, propagatedAnnotations(pr.Annotations))
	addAbsent(labels, spec.Labels)
	addAbsent(annotations, spec.Annotations)
	for k, v := range taskRunLabels(pr, s) {
		if k != LabelManagedBy || labels[k] == "" {
			labels[k] = v
		}
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	return labels, annotations
}

// addAbsent adds the entries of extra whose key m does not have yet.
func addAbsent(m, extra map[string]string) {
	for k, v := range extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
}

// taskRunLabels are Tekton's labels naming the run, pipeline, pipeline task and Task of a TaskRun.
func taskRunLabels(pr *pipelinev1.PipelineRun, s *ptState) map[string]string {
	labels := map[string]string{}
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
	if s.pt.TaskRef != nil && s.pt.TaskRef.Name != "" {
		labels[LabelTask] = s.pt.TaskRef.Name
	}
	labels[LabelManagedBy] = ManagedByValue
	return labels
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

// applyTaskRunSpecs sets what the PipelineRun gives this task's TaskRun (Tekton's GetTaskRunSpec):
// spec.taskRunTemplate, then spec.taskRunSpecs for this task — its podTemplate merged over the
// template's (mergePodTemplate), its service account when set, its stepSpecs, sidecarSpecs and
// computeResources. It returns the pipeline task, copied with the taskRunSpec's timeout, which wins over
// the task's own (as in Tekton), and the taskRunSpec's metadata (nil when none).
func applyTaskRunSpecs(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask, spec *pipelinev1.TaskRunSpec) (*pipelinev1.PipelineTask, *pipelinev1.PipelineTaskMetadata) {
	spec.ServiceAccountName = pr.Spec.TaskRunTemplate.ServiceAccountName
	spec.PodTemplate = pr.Spec.TaskRunTemplate.PodTemplate
	var meta *pipelinev1.PipelineTaskMetadata
	for _, trs := range pr.Spec.TaskRunSpecs {
		if trs.PipelineTaskName != pt.Name {
			continue
		}
		spec.PodTemplate = mergePodTemplate(trs.PodTemplate, spec.PodTemplate)
		if trs.ServiceAccountName != "" {
			spec.ServiceAccountName = trs.ServiceAccountName
		}
		spec.StepSpecs = trs.StepSpecs
		spec.SidecarSpecs = trs.SidecarSpecs
		spec.ComputeResources = trs.ComputeResources
		meta = trs.Metadata
		if trs.Timeout != nil {
			pt = pt.DeepCopy()
			pt.Timeout = trs.Timeout
		}
	}
	return pt, meta
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
		b = substituteBinding(b, vars)
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

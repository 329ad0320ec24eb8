package v1

import corev1 "k8s.io/api/core/v1"

// Normalize moves v1beta1-only fields of a Task spec into their v1 places, in place. Fields with no v1
// equivalent (PipelineResources) stay where they are; the executor reads them there.
func (s *TaskSpec) Normalize() {
	if s == nil {
		return
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Resources != nil {
			if isEmptyResources(st.ComputeResources) {
				st.ComputeResources = *st.Resources
			}
			st.Resources = nil
		}
	}
	if t := s.StepTemplate; t != nil && t.Resources != nil {
		if isEmptyResources(t.ComputeResources) {
			t.ComputeResources = *t.Resources
		}
		t.Resources = nil
	}
	for i := range s.Sidecars {
		sc := &s.Sidecars[i]
		if sc.Resources != nil {
			if isEmptyResources(sc.ComputeResources) {
				sc.ComputeResources = *sc.Resources
			}
			sc.Resources = nil
		}
	}
}

// Normalize moves v1beta1-only fields of a Pipeline spec (and its embedded tasks) into their v1 places.
func (s *PipelineSpec) Normalize() {
	if s == nil {
		return
	}
	for _, list := range [][]PipelineTask{s.Tasks, s.Finally} {
		for i := range list {
			if list[i].TaskSpec != nil {
				list[i].TaskSpec.TaskSpec.Normalize()
			}
		}
	}
}

// Normalize turns a PipelineRun written as tekton.dev/v1beta1 into the v1 shape, in place:
// spec.timeout → spec.timeouts.pipeline, spec.serviceAccountName → spec.taskRunTemplate.serviceAccountName,
// spec.podTemplate → spec.taskRunTemplate.podTemplate, taskRunSpecs' taskServiceAccountName/taskPodTemplate,
// status.pipelineResults → status.results. It is idempotent and a no-op on v1 objects.
func (pr *PipelineRun) Normalize() {
	s := &pr.Spec
	if s.Timeout != nil {
		if s.Timeouts == nil {
			s.Timeouts = &TimeoutFields{}
		}
		if s.Timeouts.Pipeline == nil {
			s.Timeouts.Pipeline = s.Timeout
		}
		s.Timeout = nil
	}
	if s.ServiceAccountName != "" {
		if s.TaskRunTemplate.ServiceAccountName == "" {
			s.TaskRunTemplate.ServiceAccountName = s.ServiceAccountName
		}
		s.ServiceAccountName = ""
	}
	if s.PodTemplate != nil {
		if s.TaskRunTemplate.PodTemplate == nil {
			s.TaskRunTemplate.PodTemplate = s.PodTemplate
		}
		s.PodTemplate = nil
	}
	for i := range s.TaskRunSpecs {
		ts := &s.TaskRunSpecs[i]
		if ts.TaskServiceAccountName != "" && ts.ServiceAccountName == "" {
			ts.ServiceAccountName = ts.TaskServiceAccountName
		}
		ts.TaskServiceAccountName = ""
		if ts.TaskPodTemplate != nil && ts.PodTemplate == nil {
			ts.PodTemplate = ts.TaskPodTemplate
		}
		ts.TaskPodTemplate = nil
		ts.StepSpecs, ts.SidecarSpecs = normalizeOverrides(ts.StepSpecs, ts.SidecarSpecs, ts.StepOverrides, ts.SidecarOverrides)
		ts.StepOverrides, ts.SidecarOverrides = nil, nil
	}
	s.PipelineSpec.Normalize()
	if len(pr.Status.PipelineResults) > 0 && len(pr.Status.Results) == 0 {
		pr.Status.Results = pr.Status.PipelineResults
	}
	pr.Status.PipelineResults = nil
}

// Normalize turns a TaskRun written as tekton.dev/v1beta1 into the v1 shape, in place.
func (tr *TaskRun) Normalize() {
	tr.Spec.TaskSpec.Normalize()
	tr.Spec.StepSpecs, tr.Spec.SidecarSpecs = normalizeOverrides(tr.Spec.StepSpecs, tr.Spec.SidecarSpecs, tr.Spec.StepOverrides, tr.Spec.SidecarOverrides)
	tr.Spec.StepOverrides, tr.Spec.SidecarOverrides = nil, nil
	if len(tr.Status.TaskResults) > 0 && len(tr.Status.Results) == 0 {
		tr.Status.Results = tr.Status.TaskResults
	}
	tr.Status.TaskResults = nil
}

// Normalize turns a v1beta1 Task into the v1 shape, in place.
func (t *Task) Normalize() { t.Spec.Normalize() }

// Normalize turns a v1beta1 Pipeline into the v1 shape, in place.
func (p *Pipeline) Normalize() { p.Spec.Normalize() }

func isEmptyResources(r corev1.ResourceRequirements) bool {
	return len(r.Limits) == 0 && len(r.Requests) == 0 && len(r.Claims) == 0
}

// normalizeOverrides turns v1beta1 stepOverrides and sidecarOverrides into stepSpecs and sidecarSpecs
// when those are not given.
func normalizeOverrides(steps []TaskRunStepSpec, sidecars []TaskRunSidecarSpec, stepOverrides, sidecarOverrides []TaskRunOverride) ([]TaskRunStepSpec, []TaskRunSidecarSpec) {
	if len(steps) == 0 {
		for _, o := range stepOverrides {
			steps = append(steps, TaskRunStepSpec{Name: o.Name, ComputeResources: o.Resources})
		}
	}
	if len(sidecars) == 0 {
		for _, o := range sidecarOverrides {
			sidecars = append(sidecars, TaskRunSidecarSpec{Name: o.Name, ComputeResources: o.Resources})
		}
	}
	return steps, sidecars
}

package executor

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// applyComputeOverrides returns a copy of the Task spec with the run's compute-resource overrides applied,
// in Tekton's order: the step template's resources under each step's, then spec.stepSpecs (per step,
// resource by resource), then the task-level spec.computeResources (requests divided evenly between the
// steps, limits on every step); spec.sidecarSpecs for sidecars. A spec without overrides is returned as is.
// A stepSpec or sidecarSpec naming no step or sidecar, one without a name, a name given twice, or
// stepSpecs' resources together with computeResources is refused naming the field.
func applyComputeOverrides(spec *pipelinev1.TaskSpec, trs *pipelinev1.TaskRunSpec) (*pipelinev1.TaskSpec, error) {
	if len(trs.StepSpecs) == 0 && len(trs.SidecarSpecs) == 0 && trs.ComputeResources == nil {
		return spec, nil
	}
	if err := checkOverrides(spec, trs); err != nil {
		return nil, err
	}
	out := spec.DeepCopy()
	steps := map[string]corev1.ResourceRequirements{}
	for _, o := range trs.StepSpecs {
		steps[o.Name] = o.ComputeResources
	}
	for i := range out.Steps {
		st := &out.Steps[i]
		if out.StepTemplate != nil {
			st.ComputeResources = mergeResources(out.StepTemplate.ComputeResources, st.ComputeResources)
		}
		if o, ok := steps[st.Name]; ok && st.Name != "" {
			st.ComputeResources = mergeResources(st.ComputeResources, o)
		}
	}
	applyTaskLevelResources(out.Steps, trs.ComputeResources)
	sidecars := map[string]corev1.ResourceRequirements{}
	for _, o := range trs.SidecarSpecs {
		sidecars[o.Name] = o.ComputeResources
	}
	for i := range out.Sidecars {
		sc := &out.Sidecars[i]
		if o, ok := sidecars[sc.Name]; ok && sc.Name != "" {
			sc.ComputeResources = mergeResources(sc.ComputeResources, o)
		}
	}
	return out, nil
}

// checkOverrides validates spec.stepSpecs and spec.sidecarSpecs against the Task (Tekton's rules).
func checkOverrides(spec *pipelinev1.TaskSpec, trs *pipelinev1.TaskRunSpec) error {
	stepNames, sidecarNames := map[string]bool{}, map[string]bool{}
	for _, st := range spec.Steps {
		stepNames[st.Name] = st.Name != ""
	}
	for _, sc := range spec.Sidecars {
		sidecarNames[sc.Name] = sc.Name != ""
	}
	check := func(field, kind, name string, i int, known map[string]bool, seen map[string]bool) error {
		switch {
		case name == "":
			return invalid(ReasonValidationFailed, "%s[%d].name: missing field", field, i)
		case !known[name]:
			return invalid(ReasonValidationFailed, "%s[%d].name: invalid %s override: no %s named %q in the Task", field, i, kind, kind, name)
		case seen[name]:
			return invalid(ReasonValidationFailed, "%s[%d].name: %q is given twice", field, i, name)
		}
		seen[name] = true
		return nil
	}
	seen := map[string]bool{}
	for i, o := range trs.StepSpecs {
		if err := check("spec.stepSpecs", "step", o.Name, i, stepNames, seen); err != nil {
			return err
		}
		if trs.ComputeResources != nil && !isEmptyResources(o.ComputeResources) {
			return invalid(ReasonValidationFailed, "expected exactly one, got both: spec.stepSpecs[%d].computeResources, spec.computeResources", i)
		}
	}
	seen = map[string]bool{}
	for i, o := range trs.SidecarSpecs {
		if err := check("spec.sidecarSpecs", "sidecar", o.Name, i, sidecarNames, seen); err != nil {
			return err
		}
	}
	return nil
}

// mergeResources is base with each request, limit and claim override gives replacing base's.
func mergeResources(base, override corev1.ResourceRequirements) corev1.ResourceRequirements {
	out := *base.DeepCopy()
	merge := func(dst *corev1.ResourceList, src corev1.ResourceList) {
		if len(src) == 0 {
			return
		}
		if *dst == nil {
			*dst = corev1.ResourceList{}
		}
		for k, v := range src {
			(*dst)[k] = v.DeepCopy()
		}
	}
	merge(&out.Requests, override.Requests)
	merge(&out.Limits, override.Limits)
	out.Claims = mergeByName(out.Claims, override.Claims, func(c corev1.ResourceClaim) string { return c.Name })
	return out
}

// applyTaskLevelResources is Tekton's task-level computeResources: every step gets the limits, and the
// requests divided evenly between the steps (the limits so divided when neither the step nor the task
// requests anything).
func applyTaskLevelResources(steps []pipelinev1.Step, cr *corev1.ResourceRequirements) {
	if cr == nil || cr.Requests == nil && cr.Limits == nil {
		return
	}
	requests := averageResources(cr.Requests, len(steps))
	limits := averageResources(cr.Limits, len(steps))
	for i := range steps {
		if steps[i].ComputeResources.Requests == nil && cr.Requests == nil {
			steps[i].ComputeResources.Requests = limits
		} else {
			steps[i].ComputeResources.Requests = requests
		}
		steps[i].ComputeResources.Limits = cr.Limits.DeepCopy()
	}
}

// averageResources divides each quantity by n (memory and storage in bytes, the rest in milli-units).
func averageResources(list corev1.ResourceList, n int) corev1.ResourceList {
	if len(list) == 0 || n == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for k, v := range list {
		if k == corev1.ResourceMemory || k == corev1.ResourceEphemeralStorage {
			out[k] = *resource.NewQuantity(v.Value()/int64(n), v.Format)
			continue
		}
		out[k] = *resource.NewMilliQuantity(v.MilliValue()/int64(n), v.Format)
	}
	return out
}

package validate

import (
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// customTask checks a pipeline task that runs a custom task (a CustomRun another controller runs): what
// can be checked without knowing the custom kind. Its params and results are the controller's business;
// the result references other tasks make to it, runAfter and the graph are checked like any task's.
func (v *validator) customTask(tp string, pt *pipelinev1.PipelineTask) {
	switch {
	case pt.TaskRef != nil && pt.TaskSpec != nil:
		v.add(tp, "a custom task takes taskRef or taskSpec, not both")
	case pt.TaskRef != nil:
		ref := pt.TaskRef
		if !validAPIVersion(ref.APIVersion) {
			v.add(tp+".taskRef.apiVersion", "%q must be group/version (a custom task's kind)", ref.APIVersion)
		}
		if ref.Resolver != "" || ref.Bundle != "" {
			v.add(tp+".taskRef", "a custom task reference (kind %q) takes no resolver or bundle", ref.Kind)
		}
	default:
		if !validAPIVersion(pt.TaskSpec.APIVersion) {
			v.add(tp+".taskSpec.apiVersion", "%q must be group/version (a custom task's kind)", pt.TaskSpec.APIVersion)
		}
		if len(pt.TaskSpec.Steps) > 0 {
			v.add(tp+".taskSpec.steps", "a custom task (kind %q) has no steps: its spec goes in taskSpec.spec", pt.TaskSpec.Kind)
		}
	}
	if pt.Matrix != nil {
		v.add(tp+".matrix", "a matrix on a custom task is not supported by hookrun")
	}
}

// customRun checks a CustomRun (or v1alpha1 Run): one custom task, by reference or embedded, and its params.
func (v *validator) customRun(path string, ref *pipelinev1.TaskRef, embedded bool, refField, specField string, params pipelinev1.Params) {
	v.params(path+".params", paramNames(params))
	switch {
	case (ref == nil) == !embedded:
		v.add(path, "exactly one of %s or %s is required", refField, specField)
	case ref != nil && (ref.APIVersion == "" || ref.Kind == ""):
		v.add(path+"."+refField, "apiVersion and kind are required (they name the custom task's controller)")
	}
}

// validAPIVersion: group/version, both non-empty.
func validAPIVersion(s string) bool {
	group, version, ok := strings.Cut(s, "/")
	return ok && group != "" && version != "" && !strings.Contains(version, "/")
}

package v1

import "strings"

// isTektonTaskKind reports whether apiVersion/kind name a Task or ClusterTask of tekton.dev (any version):
// those hookrun runs itself.
func isTektonTaskKind(apiVersion, kind string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == GroupVersion.Group && (kind == "Task" || kind == "ClusterTask")
}

// IsCustomTask reports whether the reference names a custom task: an apiVersion and a kind other than
// tekton.dev's Task or ClusterTask. A pipeline task referencing one becomes a CustomRun that another
// controller runs. (Tekton also treats apiVersion tekton.dev/v1beta1 kind Task as a custom task; hookrun
// runs it as a Task.)
func (r *TaskRef) IsCustomTask() bool {
	return r != nil && r.APIVersion != "" && r.Kind != "" && !isTektonTaskKind(r.APIVersion, r.Kind)
}

// IsCustomTask reports whether the embedded spec is a custom task's (apiVersion and kind set, not a
// tekton.dev Task): its spec field is for the custom task's controller.
func (e *EmbeddedTask) IsCustomTask() bool {
	return e != nil && e.APIVersion != "" && e.Kind != "" && !isTektonTaskKind(e.APIVersion, e.Kind)
}

// IsCustomTask reports whether the pipeline task runs a custom task (by reference or embedded).
func (pt *PipelineTask) IsCustomTask() bool {
	return pt.TaskRef.IsCustomTask() || pt.TaskSpec.IsCustomTask()
}

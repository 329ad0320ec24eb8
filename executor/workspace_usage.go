package executor

import (
	"fmt"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// checkWorkspaceUsages refuses a step's or sidecar's workspaces entry with a key that is no field even
// ignoring case (Tekton's webhook refuses unknown fields; "mountpath" is MountPath, as encoding/json
// decodes it in Tekton). field names the spec in messages.
func checkWorkspaceUsages(spec *pipelinev1.TaskSpec, field string) error {
	for i, st := range spec.Steps {
		if f := pipelinev1.UnknownWorkspaceFields(fmt.Sprintf("%s.steps[%d]", field, i), st.Workspaces); f != "" {
			return invalid(ReasonValidationFailed, "%s: unknown field (a workspace usage has name and mountPath)", f)
		}
	}
	for i, sc := range spec.Sidecars {
		if f := pipelinev1.UnknownWorkspaceFields(fmt.Sprintf("%s.sidecars[%d]", field, i), sc.Workspaces); f != "" {
			return invalid(ReasonValidationFailed, "%s: unknown field (a workspace usage has name and mountPath)", f)
		}
	}
	return nil
}

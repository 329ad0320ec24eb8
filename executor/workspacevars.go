package executor

import (
	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// substituteBinding replaces variables in a workspace binding where Tekton does: subPath, the PVC's
// claimName, the ConfigMap's and Secret's names, projected sources' names, CSI volume attributes.
func substituteBinding(b pipelinev1.WorkspaceBinding, v subst.Resolver) pipelinev1.WorkspaceBinding {
	b = *b.DeepCopy()
	b.SubPath = subst.String(b.SubPath, v)
	vol := substituteVolumes([]corev1.Volume{{VolumeSource: workspaceSource(&b)}}, v)[0]
	switch {
	case b.PersistentVolumeClaim != nil:
		b.PersistentVolumeClaim = vol.PersistentVolumeClaim
	case b.ConfigMap != nil:
		b.ConfigMap = vol.ConfigMap
	case b.Secret != nil:
		b.Secret = vol.Secret
	case b.Projected != nil:
		b.Projected = vol.Projected
	case b.CSI != nil:
		b.CSI = vol.CSI
	}
	return b
}

// withWorkspaceVars returns the request with the TaskRun's workspace bindings and the Task's workspace
// mountPaths variable-substituted (params, context, v1beta1 resources: everything but the workspaces'
// own variables, which depend on them), on copies.
func withWorkspaceVars(req podRequest) (podRequest, error) {
	tr := req.TaskRun
	if len(tr.Spec.Workspaces) == 0 && len(req.Spec.Workspaces) == 0 {
		return req, nil
	}
	vars, err := taskVars(tr, req.Spec, req.TaskName, nil, req.Resources, req.Opts.KanikoImage)
	if err != nil {
		return req, err
	}
	tr = tr.DeepCopy()
	for i := range tr.Spec.Workspaces {
		tr.Spec.Workspaces[i] = substituteBinding(tr.Spec.Workspaces[i], vars)
	}
	spec := req.Spec.DeepCopy()
	for i := range spec.Workspaces {
		spec.Workspaces[i].MountPath = subst.String(spec.Workspaces[i].MountPath, vars)
	}
	req.TaskRun, req.Spec = tr, spec
	return req, nil
}

package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// validateRun checks the graph, params, workspaces, resources and referenced Tasks before anything runs.
func (r *PipelineRunReconciler) validateRun(ctx context.Context, pr *pipelinev1.PipelineRun, spec *pipelinev1.PipelineSpec) error {
	if _, err := buildGraph(spec); err != nil {
		return err
	}
	if err := r.checkMatrixSizes(spec); err != nil {
		return err
	}
	if _, err := pipelineParams(pr, spec); err != nil {
		return err
	}
	bound := map[string]bool{}
	for _, w := range pr.Spec.Workspaces {
		bound[w.Name] = true
	}
	for i, w := range spec.Workspaces {
		if !w.Optional && !bound[w.Name] {
			return invalid(ReasonPipelineValidationFailed, "spec.workspaces: the Pipeline's workspace %q (spec.workspaces[%d] of the Pipeline) is not bound by the PipelineRun", w.Name, i)
		}
	}
	resources := map[string]bool{}
	for _, b := range pr.Spec.Resources {
		resources[b.Name] = true
	}
	for _, d := range spec.Resources {
		if !d.Optional && !resources[d.Name] {
			return invalid(ReasonPipelineValidationFailed, "spec.resources: the Pipeline's resource %q is not bound by the PipelineRun", d.Name)
		}
	}
	// Referenced Tasks must exist and declare the results others use.
	declared := map[string]map[string]bool{}
	for _, set := range []struct {
		field string
		list  []pipelinev1.PipelineTask
	}{{"spec.tasks", spec.Tasks}, {"spec.finally", spec.Finally}} {
		for i, pt := range set.list {
			var ts *pipelinev1.TaskSpec
			switch {
			case pt.IsCustomTask():
				// Only the custom task's controller knows its results.
			case pt.TaskSpec != nil:
				ts = &pt.TaskSpec.TaskSpec
			case pt.TaskRef != nil:
				t, err := r.getTaskRef(ctx, pr, spec, pt.TaskRef, fmt.Sprintf("%s[%d].taskRef", set.field, i))
				if apierrors.IsNotFound(err) {
					return invalid(ReasonCouldntGetTask, "Task %q not found in namespace %q (%s[%d].taskRef.name of the Pipeline)", pt.TaskRef.Name, pr.Namespace, set.field, i)
				}
				if err != nil {
					return fmt.Errorf("get task %s: %w", pt.TaskRef.Name, err)
				}
				ts = &t.Spec
			}
			if ts != nil {
				m := map[string]bool{}
				for _, res := range ts.Results {
					m[res.Name] = true
				}
				declared[pt.Name] = m
			}
		}
	}
	for _, set := range []struct {
		field string
		list  []pipelinev1.PipelineTask
	}{{"spec.tasks", spec.Tasks}, {"spec.finally", spec.Finally}} {
		for i := range set.list {
			refs, _ := pipelineTaskRefs(&set.list[i])
			for _, ref := range refs {
				if m, ok := declared[ref.Task]; ok && !m[ref.Result] {
					return invalid(ReasonPipelineValidationFailed, "%s[%d]: $(tasks.%s.results.%s): task %q declares no result %q", set.field, i, ref.Task, ref.Result, ref.Task, ref.Result)
				}
			}
		}
	}
	return nil
}

// pipelineParams resolves the PipelineRun's params against the Pipeline's declarations.
func pipelineParams(pr *pipelinev1.PipelineRun, spec *pipelinev1.PipelineSpec) (map[string]pipelinev1.ParamValue, error) {
	given := map[string]pipelinev1.ParamValue{}
	for _, p := range pr.Spec.Params {
		v := p.Value
		if v.Type == "" {
			v.Type = pipelinev1.ParamTypeString
		}
		given[p.Name] = v
	}
	out := map[string]pipelinev1.ParamValue{}
	var missing []string
	for _, ps := range spec.Params {
		v, ok := given[ps.Name]
		want := ps.EffectiveType()
		if !ok {
			if ps.Default == nil {
				missing = append(missing, ps.Name)
				continue
			}
			v = *ps.Default.DeepCopy()
			if v.Type == "" {
				v.Type = want
			}
		} else if want == pipelinev1.ParamTypeObject && ps.Default != nil && v.Type == pipelinev1.ParamTypeObject {
			merged := map[string]string{}
			for k, x := range ps.Default.ObjectVal {
				merged[k] = x
			}
			for k, x := range v.ObjectVal {
				merged[k] = x
			}
			v.ObjectVal = merged
		}
		if v.Type != want {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.params: param %q is declared %s by the Pipeline but the PipelineRun gives %s", ps.Name, want, v.Type)
		}
		if len(ps.Enum) > 0 && v.Type == pipelinev1.ParamTypeString && !contains(ps.Enum, v.StringVal) {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.params: param %q value %q is not one of %q", ps.Name, v.StringVal, ps.Enum)
		}
		out[ps.Name] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, invalid(ReasonPipelineValidationFailed, "spec.params: PipelineRun missing parameters: %s", strings.Join(missing, ", "))
	}
	for name, v := range given {
		if _, ok := out[name]; !ok {
			out[name] = v
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// claimName is the PVC made for a volumeClaimTemplate workspace of a PipelineRun.
func claimName(pr *pipelinev1.PipelineRun, ws string) string { return childName(pr.Name, ws) }

// ensureClaims creates one PVC per volumeClaimTemplate workspace, owned by the PipelineRun.
func (r *PipelineRunReconciler) ensureClaims(ctx context.Context, pr *pipelinev1.PipelineRun) error {
	for _, b := range pr.Spec.Workspaces {
		if b.VolumeClaimTemplate == nil {
			continue
		}
		owner := metav1.OwnerReference{
			APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun", Name: pr.Name, UID: pr.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}
		if err := createClaim(ctx, r.client, b.VolumeClaimTemplate, pr.Namespace, claimName(pr, b.Name), owner); err != nil {
			return err
		}
	}
	return nil
}

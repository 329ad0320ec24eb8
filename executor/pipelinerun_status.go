package executor

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// writeStatus records child references and skipped tasks, in pipeline order.
func (r *PipelineRunReconciler) writeStatus(pr *pipelinev1.PipelineRun, st *runState) {
	var refs []pipelinev1.ChildStatusReference
	var skipped []pipelinev1.SkippedTask
	for _, s := range st.all() {
		switch {
		case s.started() && s.mx != nil:
			refs = append(refs, matrixChildRefs(pr, s)...)
		case s.started():
			refs = append(refs, childRef(pr, s))
		case s.skip != nil:
			skipped = append(skipped, *s.skip)
		}
	}
	pr.Status.ChildReferences = refs
	pr.Status.SkippedTasks = skipped
}

// matrixChildRefs are the child references of a matrixed task's TaskRuns, one per combination made
// (those the status had, while the combinations are not known).
func matrixChildRefs(pr *pipelinev1.PipelineRun, s *ptState) []pipelinev1.ChildStatusReference {
	if s.mx.combos == nil {
		return s.mx.prev
	}
	out := make([]pipelinev1.ChildStatusReference, 0, len(s.mx.combos))
	for i, c := range s.mx.combos {
		if !s.mx.made[i] {
			continue
		}
		out = append(out, pipelinev1.ChildStatusReference{
			APIVersion: pipelinev1.GroupVersion.String(), Kind: "TaskRun",
			Name: matrixRunName(pr.Name, s.pt.Name, i), DisplayName: matrixDisplayName(s.pt, c),
			PipelineTaskName: s.pt.Name, WhenExpressions: s.pt.When,
		})
	}
	return out
}

// writeResults computes the Pipeline's results from its tasks' results; results that reference missing
// values are left out.
func (r *PipelineRunReconciler) writeResults(pr *pipelinev1.PipelineRun, st *runState) {
	if len(st.spec.Results) == 0 {
		return
	}
	v := r.vars(pr, st)
	var out []pipelinev1.PipelineRunResult
	for _, res := range st.spec.Results {
		missing := false
		for _, t := range paramTexts(res.Value) {
			for _, ref := range subst.Refs(t, "tasks", "finally") {
				if _, ok := v.Lookup(ref); !ok {
					missing = true
				}
			}
		}
		if missing {
			continue
		}
		out = append(out, pipelinev1.PipelineRunResult{Name: res.Name, Value: substituteParamValue(res.Value, v)})
	}
	pr.Status.Results = out
}

// cancelTaskRun asks a running TaskRun to stop (its reconciler stops the Pod and keeps it).
func (r *PipelineRunReconciler) cancelTaskRun(ctx context.Context, pr *pipelinev1.PipelineRun, ref runRef, msg string) error {
	tr := ref.tr
	if tr == nil {
		tr = &pipelinev1.TaskRun{ObjectMeta: metav1.ObjectMeta{Namespace: pr.Namespace, Name: ref.name}}
	}
	if tr.Spec.Status == pipelinev1.TaskRunSpecStatusCancelled {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"status":%q,"statusMessage":%q}}`, pipelinev1.TaskRunSpecStatusCancelled, msg))
	if err := r.client.Patch(ctx, tr.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cancel taskrun %s: %w", tr.Name, err)
	}
	return nil
}

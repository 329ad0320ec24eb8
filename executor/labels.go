package executor

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// LabelClusterTask names the ClusterTask a TaskRun runs (Tekton's label, set instead of LabelTask).
const LabelClusterTask = "tekton.dev/clusterTask"

// runLabels are the labels Tekton's controller puts on a run itself, so tkn ("LAST RUN" of
// `tkn pipeline list`, `tkn task list`) and the Dashboard find runs by what they run.
func runLabels(obj client.Object) map[string]string {
	switch run := obj.(type) {
	case *pipelinev1.PipelineRun:
		// An embedded spec is labelled with the run's own name, as Tekton does.
		name := run.Name
		if ref := run.Spec.PipelineRef; ref != nil && ref.Resolver != "" {
			return nil // the resolved Pipeline's name, set once it is resolved (resolve.go)
		} else if ref != nil && ref.Name != "" {
			name = ref.Name
		}
		return map[string]string{LabelPipeline: name}
	case *pipelinev1.TaskRun:
		ref := run.Spec.TaskRef
		if ref == nil || ref.Name == "" {
			return nil
		}
		switch ref.Kind {
		case "ClusterTask":
			return map[string]string{LabelClusterTask: ref.Name}
		case "", "Task":
			return map[string]string{LabelTask: ref.Name}
		}
	}
	return nil
}

// ensureRunLabels adds runLabels to the run when any is missing or different, with a merge patch of
// metadata.labels alone (the run's spec and status are not touched).
func ensureRunLabels(ctx context.Context, c client.Client, obj client.Object) error {
	want := runLabels(obj)
	have := obj.GetLabels()
	missing := map[string]string{}
	for k, v := range want {
		if have[k] != v {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": missing}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("label %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	return nil
}

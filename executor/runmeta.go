package executor

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// ManagedByTekton is the spec.managedBy value of runs Tekton's own controller — here hookrun's executor,
// which replaces it — runs. A run whose managedBy names any other controller is left alone.
const ManagedByTekton = "tekton.dev/pipeline"

// managedElsewhere reports whether a run's spec.managedBy hands it to another controller.
func managedElsewhere(managedBy *string) bool {
	return managedBy != nil && *managedBy != "" && *managedBy != ManagedByTekton
}

// localRef reports whether a reference names an object of the run's namespace directly (no resolver,
// bundle or ClusterTask): then its labels and annotations propagate to the run.
func localRef(name, kind, resolver, bundle string) bool {
	return name != "" && resolver == "" && bundle == "" && (kind == "" || kind == "Task" || kind == "Pipeline")
}

// propagateTaskMetadata gives the TaskRun the labels and annotations of the Task it references that it
// does not have itself (the TaskRun's win), as Tekton does; they reach the Pod with the TaskRun's.
func (r *TaskRunReconciler) propagateTaskMetadata(ctx context.Context, tr *pipelinev1.TaskRun) error {
	ref := tr.Spec.TaskRef
	if ref == nil || !localRef(ref.Name, ref.Kind, ref.Resolver, ref.Bundle) {
		return nil
	}
	var t pipelinev1.Task
	err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: tr.Namespace, Name: ref.Name}, &t)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	return propagateMetadata(ctx, r.client, tr, t.Labels, t.Annotations)
}

// propagatePipelineMetadata gives the PipelineRun the labels and annotations of the Pipeline it
// references that it does not have itself (the PipelineRun's win), as Tekton does; they reach the
// TaskRuns and Pods with the PipelineRun's.
func (r *PipelineRunReconciler) propagatePipelineMetadata(ctx context.Context, pr *pipelinev1.PipelineRun) error {
	ref := pr.Spec.PipelineRef
	if ref == nil || !localRef(ref.Name, "", ref.Resolver, ref.Bundle) {
		return nil
	}
	var p pipelinev1.Pipeline
	err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: pr.Namespace, Name: ref.Name}, &p)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	return propagateMetadata(ctx, r.client, pr, p.Labels, p.Annotations)
}

// propagateMetadata adds to run the labels and annotations it lacks, with a merge patch of metadata
// alone, applied to a copy: run keeps its in-memory status and takes the new metadata and
// resourceVersion.
func propagateMetadata(ctx context.Context, c client.Client, run client.Object, labels, annotations map[string]string) error {
	addLabels, addAnnotations := missing(run.GetLabels(), labels), missing(run.GetAnnotations(), annotations)
	delete(addAnnotations, corev1.LastAppliedConfigAnnotation)
	if len(addLabels) == 0 && len(addAnnotations) == 0 {
		return nil
	}
	meta := map[string]any{}
	if len(addLabels) > 0 {
		meta["labels"] = addLabels
	}
	if len(addAnnotations) > 0 {
		meta["annotations"] = addAnnotations
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	cp, ok := run.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("propagate metadata: %T is not a client.Object", run)
	}
	if err := c.Patch(ctx, cp, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("propagate labels and annotations to %s: %w", run.GetName(), err)
	}
	run.SetLabels(cp.GetLabels())
	run.SetAnnotations(cp.GetAnnotations())
	run.SetResourceVersion(cp.GetResourceVersion())
	return nil
}

// missing are the entries of from whose key have lacks.
func missing(have, from map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range from {
		if _, ok := have[k]; !ok {
			out[k] = v
		}
	}
	return out
}

package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// clusterKinds maps the cluster resolver's kind param to the object it reads.
var clusterKinds = map[string]struct {
	gvk    schema.GroupVersionKind
	plural string
}{
	KindTask:       {schema.GroupVersionKind{Group: "tekton.dev", Version: "v1", Kind: "Task"}, "tasks"},
	KindPipeline:   {schema.GroupVersionKind{Group: "tekton.dev", Version: "v1", Kind: "Pipeline"}, "pipelines"},
	KindStepAction: {schema.GroupVersionKind{Group: "tekton.dev", Version: "v1beta1", Kind: "StepAction"}, "stepactions"},
}

// cluster reads a Task, Pipeline or StepAction from a namespace (params kind, name, namespace).
// It is not cached: the object is read from the API server each time (once per run).
func (r *Resolvers) cluster(ctx context.Context, req Request) (Result, error) {
	if r.opts.Reader == nil {
		return Result{}, permanent(Cluster, "", "no cluster reader configured")
	}
	kind := kindParam(req)
	k, ok := clusterKinds[kind]
	if !ok {
		return Result{}, permanent(Cluster, "kind", "%q is not one of task, pipeline, stepaction", kind)
	}
	ns := req.Params["namespace"]
	if ns == "" {
		ns = req.Namespace
	}
	name := req.Params["name"]
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	if err := r.opts.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return Result{}, permanent(Cluster, "name", "%s %q not found in namespace %q", k.gvk.Kind, name, ns)
		case meta.IsNoMatchError(err):
			return Result{}, permanent(Cluster, "kind", "the cluster serves no %s kind: %w", k.gvk.Kind, err)
		case apierrors.IsForbidden(err):
			return Result{}, permanent(Cluster, "namespace", "reading %s %q in namespace %q is forbidden: %w", k.gvk.Kind, name, ns, err)
		}
		return Result{}, transient(Cluster, "", fmt.Errorf("get %s %s/%s: %w", k.gvk.Kind, ns, name, err))
	}
	// The object as a user would have applied it: no server-managed metadata.
	clean := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(),
		"kind":       obj.GetKind(),
		"metadata":   map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		"spec":       obj.Object["spec"],
	}}
	if l := obj.GetLabels(); len(l) > 0 {
		_ = unstructured.SetNestedStringMap(clean.Object, l, "metadata", "labels")
	}
	if a := obj.GetAnnotations(); len(a) > 0 {
		delete(a, "kubectl.kubernetes.io/last-applied-configuration")
		if len(a) > 0 {
			_ = unstructured.SetNestedStringMap(clean.Object, a, "metadata", "annotations")
		}
	}
	data, err := yaml.Marshal(clean.Object)
	if err != nil {
		return Result{}, permanent(Cluster, "name", "encode %s %q: %w", k.gvk.Kind, name, err)
	}
	spec, err := yaml.Marshal(obj.Object["spec"])
	if err != nil {
		return Result{}, permanent(Cluster, "name", "encode %s %q spec: %w", k.gvk.Kind, name, err)
	}
	sum := sha256.Sum256(spec)
	res := Result{Data: data}
	res.Source.URI = fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s@%s", k.gvk.GroupVersion(), ns, k.plural, name, obj.GetUID())
	res.Source.Digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	return res, nil
}

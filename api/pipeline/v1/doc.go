// Package v1 holds the Go types of the tekton.dev kinds hookrun serves: Task, Pipeline, PipelineRun and
// TaskRun.
//
// One set of types backs both served versions, tekton.dev/v1 (storage) and tekton.dev/v1beta1: the structs are
// the v1 shape plus the v1beta1-only fields users still write (PipelineResources, spec.timeout,
// serviceAccountName on PipelineRun, step resources, taskResults…). With conversion None the API server hands
// the same stored JSON to clients of either version, so a shared schema is what keeps every field through both.
// Normalize turns an object written in the v1beta1 shape into the v1 shape the rest of hookrun reads.
//
// +kubebuilder:object:generate=true
// +groupName=tekton.dev
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the storage version of the tekton.dev group. Objects are always read through it; the
	// v1beta1 version (GroupVersionBeta) is served with the same schema and decodes into the same Go types.
	GroupVersion = schema.GroupVersion{Group: "tekton.dev", Version: "v1"}
	// GroupVersionBeta is the older served version.
	GroupVersionBeta = schema.GroupVersion{Group: "tekton.dev", Version: "v1beta1"}

	// SchemeBuilder registers the types under tekton.dev/v1.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the tekton.dev/v1 types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

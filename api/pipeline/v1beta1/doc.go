// Package v1beta1 holds the tekton.dev kinds served only as v1beta1: ClusterTask, the cluster-scoped Task
// older tutorials install the catalog as (deprecated in Tekton, still run by hookrun). Its spec is the
// Task spec of api/pipeline/v1 (which serves both tekton.dev versions of the other kinds).
//
// +kubebuilder:object:generate=true
// +groupName=tekton.dev
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is tekton.dev/v1beta1.
	GroupVersion = schema.GroupVersion{Group: "tekton.dev", Version: "v1beta1"}

	// SchemeBuilder registers the types under tekton.dev/v1beta1.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the tekton.dev/v1beta1 types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Package v1alpha1 holds tekton.dev/v1alpha1 Run, the custom-task run older manifests and tutorials use
// (Tekton replaced it with v1beta1 CustomRun). hookrun serves it so such manifests apply; its executor
// creates CustomRuns, as Tekton does.
//
// +kubebuilder:object:generate=true
// +groupName=tekton.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is tekton.dev/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "tekton.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types under tekton.dev/v1alpha1.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the tekton.dev/v1alpha1 Run types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

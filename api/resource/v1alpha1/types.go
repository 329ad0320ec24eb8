// Package v1alpha1 holds tekton.dev/v1alpha1 PipelineResource, the git and image resources old v1beta1
// tutorials still declare. hookrun serves it so such tutorials apply unchanged; the executor turns a git
// input into a clone step and an image output into $(resources.outputs.NAME.url).
//
// +kubebuilder:object:generate=true
// +groupName=tekton.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

var (
	// GroupVersion is tekton.dev/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "tekton.dev", Version: "v1alpha1"}
	// SchemeBuilder registers PipelineResource.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds PipelineResource to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// The PipelineResource types hookrun runs.
const (
	ResourceTypeGit   = "git"
	ResourceTypeImage = "image"
)

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-pipelines

// PipelineResource is a git repository or image a v1beta1 Task takes or produces.
type PipelineResource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec pipelinev1.PipelineResourceSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// PipelineResourceList is a list of PipelineResource.
type PipelineResourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PipelineResource `json:"items"`
}

func init() { SchemeBuilder.Register(&PipelineResource{}, &PipelineResourceList{}) }

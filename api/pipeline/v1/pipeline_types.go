package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TaskRef names a Task in the same namespace, a ClusterTask, or a Task to resolve remotely.
type TaskRef struct {
	Name string `json:"name,omitempty"`
	// Kind is Task (default) or ClusterTask (tekton.dev/v1beta1, cluster-scoped).
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Bundle is the v1beta1 OCI bundle reference (resolved like resolver bundles with Name).
	// +optional
	Bundle string `json:"bundle,omitempty"`
	// Resolver and Params are Tekton remote resolution (package resolve: git, http, bundles, hub, cluster).
	// +optional
	Resolver string `json:"resolver,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
}

// PipelineRef names a Pipeline in the same namespace, or one to resolve remotely (Bundle, Resolver).
type PipelineRef struct {
	Name string `json:"name,omitempty"`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +optional
	Bundle string `json:"bundle,omitempty"`
	// +optional
	Resolver string `json:"resolver,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
}

// EmbeddedTask is a Task spec written inline in a Pipeline, with optional metadata.
type EmbeddedTask struct {
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec runtime.RawExtension `json:"spec,omitempty"`
	// +optional
	Metadata PipelineTaskMetadata `json:"metadata,omitempty"`

	TaskSpec `json:",inline"`
}

// PipelineTaskMetadata is labels and annotations for an embedded task's Pod.
type PipelineTaskMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PipelineTask is one node of a Pipeline's graph.
type PipelineTask struct {
	Name string `json:"name,omitempty"`
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	TaskRef *TaskRef `json:"taskRef,omitempty"`
	// +optional
	TaskSpec *EmbeddedTask `json:"taskSpec,omitempty"`
	// PipelineRef and PipelineSpec are Tekton's alpha Pipelines in Pipelines. The schema keeps them so that
	// the executor and `hookrun validate` refuse them by name; hookrun runs no child PipelineRuns.
	// +optional
	PipelineRef *PipelineRef `json:"pipelineRef,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	PipelineSpec *runtime.RawExtension `json:"pipelineSpec,omitempty"`
	// +optional
	When WhenExpressions `json:"when,omitempty"`
	// +optional
	OnError string `json:"onError,omitempty"`
	// +optional
	Retries int `json:"retries,omitempty"`
	// +optional
	RunAfter []string `json:"runAfter,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
	// +optional
	Matrix *Matrix `json:"matrix,omitempty"`
	// +optional
	Workspaces []WorkspacePipelineTaskBinding `json:"workspaces,omitempty"`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Resources binds the Pipeline's v1beta1 PipelineResources to the Task's.
	// +optional
	Resources *PipelineTaskResources `json:"resources,omitempty"`
}

// Matrix fans a PipelineTask out over parameter combinations.
type Matrix struct {
	// +optional
	Params Params `json:"params,omitempty"`
	// +optional
	Include []IncludeParams `json:"include,omitempty"`
}

// IncludeParams is one explicit matrix combination.
type IncludeParams struct {
	Name string `json:"name,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
}

// PipelineTaskResources binds v1beta1 PipelineResources to a task.
type PipelineTaskResources struct {
	// +optional
	Inputs []PipelineTaskInputResource `json:"inputs,omitempty"`
	// +optional
	Outputs []PipelineTaskOutputResource `json:"outputs,omitempty"`
}

// PipelineTaskInputResource names a Pipeline resource given to a task input.
type PipelineTaskInputResource struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
	// +optional
	From []string `json:"from,omitempty"`
}

// PipelineTaskOutputResource names a Pipeline resource a task output fills.
type PipelineTaskOutputResource struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
}

// PipelineDeclaredResource declares a v1beta1 PipelineResource a Pipeline uses.
type PipelineDeclaredResource struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// PipelineSpec is a graph of tasks.
type PipelineSpec struct {
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Tasks []PipelineTask `json:"tasks,omitempty"`
	// +optional
	Params ParamSpecs `json:"params,omitempty"`
	// +optional
	Workspaces []PipelineWorkspaceDeclaration `json:"workspaces,omitempty"`
	// +optional
	Results []PipelineResult `json:"results,omitempty"`
	// +optional
	Finally []PipelineTask `json:"finally,omitempty"`
	// Resources declares v1beta1 PipelineResources.
	// +optional
	Resources []PipelineDeclaredResource `json:"resources,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-pipelines
// +kubebuilder:storageversion

// Pipeline is a graph of Tasks.
type Pipeline struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec PipelineSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// PipelineList is a list of Pipeline.
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Pipeline `json:"items"`
}

func init() { SchemeBuilder.Register(&Pipeline{}, &PipelineList{}) }

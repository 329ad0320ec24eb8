package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
)

// Run spec.status and spec.statusMessage values (Tekton's).
const (
	RunSpecStatusCancelled = "RunCancelled"

	RunCancelledByPipelineMsg        = "Run cancelled as the PipelineRun it belongs to has been cancelled."
	RunCancelledByPipelineTimeoutMsg = "Run cancelled as the PipelineRun it belongs to has timed out."
)

// EmbeddedRunSpec is a custom task written inline in a Run.
type EmbeddedRunSpec struct {
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	Metadata pipelinev1.PipelineTaskMetadata `json:"metadata,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Spec runtime.RawExtension `json:"spec,omitempty"`
}

// RunSpec names the custom task (ref) or embeds it (spec), with params, workspaces, retries and a timeout.
type RunSpec struct {
	// +optional
	Ref *pipelinev1.TaskRef `json:"ref,omitempty"`
	// +optional
	Spec *EmbeddedRunSpec `json:"spec,omitempty"`
	// +optional
	Params pipelinev1.Params `json:"params,omitempty"`
	// Status is set to RunCancelled to cancel.
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	StatusMessage string `json:"statusMessage,omitempty"`
	// +optional
	Retries int `json:"retries,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PodTemplate *pipelinev1.PodTemplate `json:"podTemplate,omitempty"`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	Workspaces []pipelinev1.WorkspaceBinding `json:"workspaces,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-pipelines
// +kubebuilder:printcolumn:name="Succeeded",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="StartTime",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="CompletionTime",type=date,JSONPath=`.status.completionTime`

// Run is the v1alpha1 custom-task run: a custom task controller watching its kind runs it and writes its
// status (the same shape as CustomRun's).
type Run struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec RunSpec `json:"spec,omitempty"`
	// +optional
	Status pipelinev1beta1.CustomRunStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RunList is a list of Run.
type RunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Run `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Run{}, &RunList{})
}

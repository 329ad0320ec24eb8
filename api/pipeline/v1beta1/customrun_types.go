package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// CustomRun spec.status and spec.statusMessage values, and the Succeeded reasons custom task controllers
// report (Tekton's).
const (
	CustomRunSpecStatusCancelled = "RunCancelled"

	CustomRunCancelledByPipelineMsg        = "CustomRun cancelled as the PipelineRun it belongs to has been cancelled."
	CustomRunCancelledByPipelineTimeoutMsg = "CustomRun cancelled as the PipelineRun it belongs to has timed out."

	CustomRunReasonStarted   = "Started"
	CustomRunReasonRunning   = "Running"
	CustomRunReasonSucceeded = "Succeeded"
	CustomRunReasonFailed    = "Failed"
	CustomRunReasonCancelled = "CustomRunCancelled"
	CustomRunReasonTimedOut  = "CustomRunTimedOut"
)

// EmbeddedCustomRunSpec is a custom task written inline: its kind and its spec, which only its controller
// reads.
type EmbeddedCustomRunSpec struct {
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

// CustomRunSpec is what a custom task controller is asked to run: a referenced (customRef) or embedded
// (customSpec) custom task, with params, workspaces, retries and a timeout.
type CustomRunSpec struct {
	// +optional
	CustomRef *pipelinev1.TaskRef `json:"customRef,omitempty"`
	// +optional
	CustomSpec *EmbeddedCustomRunSpec `json:"customSpec,omitempty"`
	// +optional
	Params pipelinev1.Params `json:"params,omitempty"`
	// Status is set to RunCancelled to cancel.
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	StatusMessage string `json:"statusMessage,omitempty"`
	// Retries is how many times the custom task controller may retry a failed attempt.
	// +optional
	Retries int `json:"retries,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName"`
	// Timeout bounds each attempt (0s = none).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	// +listType=atomic
	Workspaces []pipelinev1.WorkspaceBinding `json:"workspaces,omitempty"`
}

// CustomRunResult is a result a custom task reports.
type CustomRunResult struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CustomRunStatusFields are the status fields beyond the conditions.
type CustomRunStatusFields struct {
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// +optional
	Results []CustomRunResult `json:"results,omitempty"`
	// RetriesStatus holds the status of each earlier attempt (CustomRunStatus objects), written by the
	// custom task controller.
	// +optional
	RetriesStatus []pipelinev1.RawObject `json:"retriesStatus,omitempty"`
	// ExtraFields holds whatever the custom task controller reports.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	ExtraFields runtime.RawExtension `json:"extraFields,omitempty"`
}

// CustomRunStatus is what the custom task controller reports; no controller, no status.
type CustomRunStatus struct {
	pipelinev1.Status     `json:",inline"`
	CustomRunStatusFields `json:",inline"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-pipelines
// +kubebuilder:printcolumn:name="Succeeded",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="StartTime",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="CompletionTime",type=date,JSONPath=`.status.completionTime`

// CustomRun is one execution of a custom task: hookrun creates it for a pipeline task of another kind and
// an outside controller (watching that kind) runs it and writes its status.
type CustomRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec CustomRunSpec `json:"spec,omitempty"`
	// +optional
	Status CustomRunStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CustomRunList is a list of CustomRun.
type CustomRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CustomRun `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CustomRun{}, &CustomRunList{})
}

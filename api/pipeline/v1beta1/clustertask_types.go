package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=tekton;tekton-pipelines
// +kubebuilder:storageversion

// ClusterTask is a cluster-scoped Task (Tekton's deprecated kind, still installed by older tutorials).
type ClusterTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec pipelinev1.TaskSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// ClusterTaskList is a list of ClusterTask.
type ClusterTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTask `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterTask{}, &ClusterTaskList{})
}

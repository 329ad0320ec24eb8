package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StepActionSpec is the reusable part of a step: what it runs, with its own params and results.
type StepActionSpec struct {
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Image string `json:"image,omitempty"`
	// +optional
	Command []string `json:"command,omitempty"`
	// +optional
	Args []string `json:"args,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Script is run instead of command; without a shebang it runs under /bin/sh with set -e.
	// +optional
	Script string `json:"script,omitempty"`
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`
	// +optional
	Params ParamSpecs `json:"params,omitempty"`
	// +optional
	Results []StepResult `json:"results,omitempty"`
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-pipelines
// +kubebuilder:storageversion

// StepAction is a reusable step that Tasks reference from steps[].ref. Tekton serves it as
// tekton.dev/v1beta1 and v1alpha1; hookrun serves those with the same schema (and v1, its storage version).
type StepAction struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec StepActionSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// StepActionList is a list of StepAction.
type StepActionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StepAction `json:"items"`
}

func init() { SchemeBuilder.Register(&StepAction{}, &StepActionList{}) }

package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionSucceeded is the condition type tkn, the Dashboard and hookrun report run outcome on.
const ConditionSucceeded = "Succeeded"

// Condition is a knative-style status condition (the shape Tekton's tools read).
type Condition struct {
	Type   string                 `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// +optional
	Severity string `json:"severity,omitempty"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// Status is the part of every run's status shared by PipelineRun and TaskRun.
type Status struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// GetCondition returns the condition of type t, or nil.
func (s *Status) GetCondition(t string) *Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// SetCondition adds or replaces the condition of c.Type; the transition time changes only when the status does.
func (s *Status) SetCondition(c Condition) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == c.Type {
			if s.Conditions[i].Status == c.Status && !s.Conditions[i].LastTransitionTime.IsZero() {
				c.LastTransitionTime = s.Conditions[i].LastTransitionTime
			}
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}

// ChildStatusReference points at a TaskRun (or other child) a PipelineRun made.
type ChildStatusReference struct {
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +optional
	Kind             string `json:"kind,omitempty"`
	Name             string `json:"name,omitempty"`
	DisplayName      string `json:"displayName,omitempty"`
	PipelineTaskName string `json:"pipelineTaskName,omitempty"`
	// +optional
	WhenExpressions WhenExpressions `json:"whenExpressions,omitempty"`
}

// SkippedTask is a PipelineTask that did not run, and why.
type SkippedTask struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// +optional
	WhenExpressions WhenExpressions `json:"whenExpressions,omitempty"`
}

// PipelineRunResult is a Pipeline result's value.
type PipelineRunResult struct {
	Name string `json:"name"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Value ParamValue `json:"value"`
}

// TaskRunResult is a Task result's value.
type TaskRunResult struct {
	Name string      `json:"name"`
	Type ResultsType `json:"type,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Value ParamValue `json:"value"`
}

// StepState is the state of one step container.
type StepState struct {
	corev1.ContainerState `json:",inline"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Container string `json:"container,omitempty"`
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// +optional
	Results []TaskRunResult `json:"results,omitempty"`
	// +optional
	TerminationReason string `json:"terminationReason,omitempty"`
	// Inputs and Outputs are the artifacts the step wrote to $(step.artifacts.path).
	// +optional
	Inputs []Artifact `json:"inputs,omitempty"`
	// +optional
	Outputs []Artifact `json:"outputs,omitempty"`
}

// SidecarState is the state of one sidecar container.
type SidecarState struct {
	corev1.ContainerState `json:",inline"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Container string `json:"container,omitempty"`
	// +optional
	ImageID string `json:"imageID,omitempty"`
}

// Provenance records where a run's spec came from.
type Provenance struct {
	// +optional
	RefSource *RefSource `json:"refSource,omitempty"`
}

// RefSource is the origin of a resolved reference.
type RefSource struct {
	URI string `json:"uri,omitempty"`
	// +optional
	Digest map[string]string `json:"digest,omitempty"`
	// +optional
	EntryPoint string `json:"entryPoint,omitempty"`
}

package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OnErrorType says what happens when a step fails.
type OnErrorType string

// The OnErrorType values.
const (
	OnErrorStopAndFail OnErrorType = "stopAndFail"
	OnErrorContinue    OnErrorType = "continue"
)

// Step is one container of a Task, run in order with the others.
type Step struct {
	Name string `json:"name,omitempty"`
	// DisplayName is a human-readable name for the step (shown by Tekton's tools; hookrun keeps it).
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// Ref names the StepAction this step runs; image, command, args, script, env and volumeMounts then come
	// from the StepAction and may not be set here.
	// +optional
	Ref        *StepRef `json:"ref,omitempty"`
	Image      string   `json:"image,omitempty"`
	Command    []string `json:"command,omitempty"`
	Args       []string `json:"args,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	ComputeResources corev1.ResourceRequirements `json:"computeResources,omitempty"`
	// Resources is the v1beta1 name of ComputeResources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// +optional
	VolumeDevices []corev1.VolumeDevice `json:"volumeDevices,omitempty"`
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// Script is run instead of command/args; without a shebang it runs under /bin/sh with set -e.
	// +optional
	Script string `json:"script,omitempty"`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	Workspaces []WorkspaceUsage `json:"workspaces,omitempty"`
	// +optional
	OnError OnErrorType `json:"onError,omitempty"`
	// +optional
	StdoutConfig *StepOutputConfig `json:"stdoutConfig,omitempty"`
	// +optional
	StderrConfig *StepOutputConfig `json:"stderrConfig,omitempty"`
	// +optional
	Results []StepResult `json:"results,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
	// +optional
	When WhenExpressions `json:"when,omitempty"`

	// v1beta1 Steps were whole containers; these container fields are accepted so old Tasks load unchanged.

	// +optional
	Ports []corev1.ContainerPort `json:"ports,omitempty"`
	// +optional
	LivenessProbe *corev1.Probe `json:"livenessProbe,omitempty"`
	// +optional
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`
	// +optional
	TerminationMessagePath string `json:"terminationMessagePath,omitempty"`
	// +optional
	TerminationMessagePolicy corev1.TerminationMessagePolicy `json:"terminationMessagePolicy,omitempty"`
	// +optional
	Stdin bool `json:"stdin,omitempty"`
	// +optional
	TTY bool `json:"tty,omitempty"`
}

// StepRef references a StepAction: by name in the TaskRun's namespace, or through a remote resolver.
type StepRef struct {
	// +optional
	Name string `json:"name,omitempty"`
	// Resolver and Params are Tekton remote resolution.
	// +optional
	Resolver string `json:"resolver,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
}

// StepOutputConfig redirects a step's output to a file.
type StepOutputConfig struct {
	Path string `json:"path,omitempty"`
}

// StepTemplate holds defaults merged into every step.
type StepTemplate struct {
	Image      string   `json:"image,omitempty"`
	Command    []string `json:"command,omitempty"`
	Args       []string `json:"args,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	ComputeResources corev1.ResourceRequirements `json:"computeResources,omitempty"`
	// Resources is the v1beta1 name of ComputeResources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// +optional
	VolumeDevices []corev1.VolumeDevice `json:"volumeDevices,omitempty"`
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// Name is accepted (v1beta1 step templates were containers) and ignored.
	// +optional
	Name string `json:"name,omitempty"`
}

// Sidecar is a container that runs beside the steps for the whole TaskRun.
type Sidecar struct {
	// Name is optional, as in Tekton: an unnamed sidecar's container is "sidecar" (Tekton's name).
	// +optional
	Name       string   `json:"name,omitempty"`
	Image      string   `json:"image,omitempty"`
	Command    []string `json:"command,omitempty"`
	Args       []string `json:"args,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// +optional
	Ports []corev1.ContainerPort `json:"ports,omitempty"`
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	ComputeResources corev1.ResourceRequirements `json:"computeResources,omitempty"`
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// +optional
	VolumeDevices []corev1.VolumeDevice `json:"volumeDevices,omitempty"`
	// +optional
	LivenessProbe *corev1.Probe `json:"livenessProbe,omitempty"`
	// +optional
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`
	// +optional
	StartupProbe *corev1.Probe `json:"startupProbe,omitempty"`
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// +optional
	Script string `json:"script,omitempty"`
	// +optional
	Workspaces []WorkspaceUsage `json:"workspaces,omitempty"`
}

// TaskSpec is what a Task does.
type TaskSpec struct {
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Params ParamSpecs `json:"params,omitempty"`
	// +optional
	Steps []Step `json:"steps,omitempty"`
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// +optional
	StepTemplate *StepTemplate `json:"stepTemplate,omitempty"`
	// +optional
	Sidecars []Sidecar `json:"sidecars,omitempty"`
	// +optional
	Workspaces []WorkspaceDeclaration `json:"workspaces,omitempty"`
	// +optional
	Results []TaskResult `json:"results,omitempty"`
	// Resources are the v1beta1 PipelineResources the Task takes and produces.
	// +optional
	Resources *TaskResources `json:"resources,omitempty"`
}

// TaskResources lists a Task's v1beta1 PipelineResource inputs and outputs.
type TaskResources struct {
	// +optional
	Inputs []TaskResource `json:"inputs,omitempty"`
	// +optional
	Outputs []TaskResource `json:"outputs,omitempty"`
}

// TaskResource declares one v1beta1 PipelineResource of a Task.
type TaskResource struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	TargetPath  string `json:"targetPath,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-pipelines
// +kubebuilder:storageversion

// Task is a reusable list of steps.
type Task struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TaskSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// TaskList is a list of Task.
type TaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Task `json:"items"`
}

func init() { SchemeBuilder.Register(&Task{}, &TaskList{}) }

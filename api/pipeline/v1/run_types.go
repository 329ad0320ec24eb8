package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Values of spec.status that stop or hold a run.
const (
	PipelineRunSpecStatusCancelled           = "Cancelled"
	PipelineRunSpecStatusCancelledRunFinally = "CancelledRunFinally"
	PipelineRunSpecStatusStoppedRunFinally   = "StoppedRunFinally"
	PipelineRunSpecStatusPending             = "PipelineRunPending"
	TaskRunSpecStatusCancelled               = "TaskRunCancelled"
	TaskRunSpecStatusPending                 = "TaskRunPending"
)

// WorkspaceBinding gives a declared workspace its volume.
type WorkspaceBinding struct {
	Name string `json:"name"`
	// +optional
	SubPath string `json:"subPath,omitempty"`
	// +optional
	VolumeClaimTemplate *corev1.PersistentVolumeClaim `json:"volumeClaimTemplate,omitempty"`
	// +optional
	PersistentVolumeClaim *corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
	// +optional
	EmptyDir *corev1.EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	// +optional
	ConfigMap *corev1.ConfigMapVolumeSource `json:"configMap,omitempty"`
	// +optional
	Secret *corev1.SecretVolumeSource `json:"secret,omitempty"`
	// +optional
	Projected *corev1.ProjectedVolumeSource `json:"projected,omitempty"`
	// +optional
	CSI *corev1.CSIVolumeSource `json:"csi,omitempty"`
}

// TimeoutFields bounds a PipelineRun.
type TimeoutFields struct {
	// +optional
	Pipeline *metav1.Duration `json:"pipeline,omitempty"`
	// +optional
	Tasks *metav1.Duration `json:"tasks,omitempty"`
	// +optional
	Finally *metav1.Duration `json:"finally,omitempty"`
}

// PodTemplate is the subset of Pod settings a run may set for its Pods.
type PodTemplate struct {
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// +optional
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`
	// +optional
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`
	// +optional
	DNSPolicy corev1.DNSPolicy `json:"dnsPolicy,omitempty"`
	// +optional
	EnableServiceLinks *bool `json:"enableServiceLinks,omitempty"`
	// +optional
	PriorityClassName *string `json:"priorityClassName,omitempty"`
	// +optional
	SchedulerName string `json:"schedulerName,omitempty"`
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`
	// +optional
	HostAliases []corev1.HostAlias `json:"hostAliases,omitempty"`
	// +optional
	HostUsers *bool `json:"hostUsers,omitempty"`
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// TaskRunStepSpec overrides the compute resources of one named step.
type TaskRunStepSpec struct {
	Name string `json:"name"`
	// +optional
	ComputeResources corev1.ResourceRequirements `json:"computeResources"`
}

// TaskRunOverride is the v1beta1 shape of TaskRunStepSpec and TaskRunSidecarSpec (stepOverrides,
// sidecarOverrides): Normalize turns it into the v1 one.
type TaskRunOverride struct {
	Name string `json:"name"`
	// +optional
	Resources corev1.ResourceRequirements `json:"resources"`
}

// TaskRunSidecarSpec overrides the compute resources of one named sidecar.
type TaskRunSidecarSpec struct {
	Name string `json:"name"`
	// +optional
	ComputeResources corev1.ResourceRequirements `json:"computeResources"`
}

// PipelineTaskRunTemplate holds defaults for every TaskRun of a PipelineRun.
type PipelineTaskRunTemplate struct {
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PodTemplate *PodTemplate `json:"podTemplate,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// PipelineTaskRunSpec overrides settings for one pipeline task's TaskRun.
type PipelineTaskRunSpec struct {
	PipelineTaskName string `json:"pipelineTaskName,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PodTemplate *PodTemplate `json:"podTemplate,omitempty"`
	// +optional
	ComputeResources *corev1.ResourceRequirements `json:"computeResources,omitempty"`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	StepSpecs []TaskRunStepSpec `json:"stepSpecs,omitempty"`
	// +optional
	SidecarSpecs []TaskRunSidecarSpec `json:"sidecarSpecs,omitempty"`
	// Metadata is labels and annotations added to the TaskRun (they win over the PipelineRun's).
	// +optional
	Metadata *PipelineTaskMetadata `json:"metadata,omitempty"`
	// TaskServiceAccountName and TaskPodTemplate are the v1beta1 names.
	// +optional
	TaskServiceAccountName string `json:"taskServiceAccountName,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	TaskPodTemplate *PodTemplate `json:"taskPodTemplate,omitempty"`
	// StepOverrides and SidecarOverrides are the v1beta1 names of stepSpecs and sidecarSpecs.
	// +optional
	StepOverrides []TaskRunOverride `json:"stepOverrides,omitempty"`
	// +optional
	SidecarOverrides []TaskRunOverride `json:"sidecarOverrides,omitempty"`
}

// PipelineResourceBinding binds a v1beta1 PipelineResource by reference or inline spec.
type PipelineResourceBinding struct {
	Name string `json:"name,omitempty"`
	// +optional
	ResourceRef *PipelineResourceRef `json:"resourceRef,omitempty"`
	// +optional
	ResourceSpec *PipelineResourceSpec `json:"resourceSpec,omitempty"`
}

// PipelineResourceRef names a PipelineResource (tekton.dev/v1alpha1) in the run's namespace.
type PipelineResourceRef struct {
	Name string `json:"name,omitempty"`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
}

// PipelineResourceSpec is a PipelineResource written inline: a type and its params (url, revision…).
type PipelineResourceSpec struct {
	Type string `json:"type"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Params []ResourceParam `json:"params,omitempty"`
	// +optional
	SecretParams []SecretParam `json:"secrets,omitempty"`
}

// ResourceParam is a name/value setting of a PipelineResource.
type ResourceParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SecretParam feeds a PipelineResource setting from a Secret.
type SecretParam struct {
	FieldName  string `json:"fieldName"`
	SecretKey  string `json:"secretKey"`
	SecretName string `json:"secretName"`
}

// TaskRunResources binds v1beta1 PipelineResources to a TaskRun's inputs and outputs.
type TaskRunResources struct {
	// +optional
	Inputs []TaskResourceBinding `json:"inputs,omitempty"`
	// +optional
	Outputs []TaskResourceBinding `json:"outputs,omitempty"`
}

// TaskResourceBinding binds one Task resource.
type TaskResourceBinding struct {
	PipelineResourceBinding `json:",inline"`
	// +optional
	Paths []string `json:"paths,omitempty"`
}

// PipelineRunSpec says which Pipeline to run and with what.
type PipelineRunSpec struct {
	// +optional
	PipelineRef *PipelineRef `json:"pipelineRef,omitempty"`
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty"`
	// +optional
	Params Params `json:"params,omitempty"`
	// Status is set to Cancelled, CancelledRunFinally, StoppedRunFinally or PipelineRunPending.
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	Timeouts *TimeoutFields `json:"timeouts,omitempty"`
	// +optional
	TaskRunTemplate PipelineTaskRunTemplate `json:"taskRunTemplate,omitempty"`
	// +optional
	Workspaces []WorkspaceBinding `json:"workspaces,omitempty"`
	// +optional
	TaskRunSpecs []PipelineTaskRunSpec `json:"taskRunSpecs,omitempty"`
	// ManagedBy names the controller that runs this PipelineRun: unset or "tekton.dev/pipeline" is
	// hookrun's executor; any other value is left alone.
	// +optional
	ManagedBy *string `json:"managedBy,omitempty"`

	// v1beta1 fields.

	// Timeout is the v1beta1 whole-run timeout (v1: timeouts.pipeline).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// ServiceAccountName is the v1beta1 field (v1: taskRunTemplate.serviceAccountName).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// PodTemplate is the v1beta1 field (v1: taskRunTemplate.podTemplate).
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PodTemplate *PodTemplate `json:"podTemplate,omitempty"`
	// Resources binds the Pipeline's v1beta1 PipelineResources.
	// +optional
	Resources []PipelineResourceBinding `json:"resources,omitempty"`
}

// PipelineRunStatus is what a PipelineRun reports.
type PipelineRunStatus struct {
	Status `json:",inline"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// +optional
	Results []PipelineRunResult `json:"results,omitempty"`
	// PipelineResults is the v1beta1 name of Results.
	// +optional
	PipelineResults []PipelineRunResult `json:"pipelineResults,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty"`
	// +optional
	SkippedTasks []SkippedTask `json:"skippedTasks,omitempty"`
	// +optional
	ChildReferences []ChildStatusReference `json:"childReferences,omitempty"`
	// +optional
	FinallyStartTime *metav1.Time `json:"finallyStartTime,omitempty"`
	// +optional
	Provenance *Provenance `json:"provenance,omitempty"`
	// +optional
	SpanContext map[string]string `json:"spanContext,omitempty"`
	// TaskRuns is the v1beta1 full embedded status map (kept so old clients' writes are not pruned).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	TaskRuns *runtime.RawExtension `json:"taskRuns,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-pipelines,shortName=pr;prs
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Succeeded",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="StartTime",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="CompletionTime",type=date,JSONPath=`.status.completionTime`

// PipelineRun is one execution of a Pipeline.
type PipelineRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec PipelineRunSpec `json:"spec,omitempty"`
	// +optional
	Status PipelineRunStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PipelineRunList is a list of PipelineRun.
type PipelineRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PipelineRun `json:"items"`
}

// TaskRunSpec says which Task to run and with what.
type TaskRunSpec struct {
	// +optional
	Params Params `json:"params,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	TaskRef *TaskRef `json:"taskRef,omitempty"`
	// +optional
	TaskSpec *TaskSpec `json:"taskSpec,omitempty"`
	// Status is set to TaskRunCancelled to cancel, or TaskRunPending to hold the run until it is cleared.
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	StatusMessage string `json:"statusMessage,omitempty"`
	// +optional
	Retries int `json:"retries,omitempty"`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	PodTemplate *PodTemplate `json:"podTemplate,omitempty"`
	// +optional
	Workspaces []WorkspaceBinding `json:"workspaces,omitempty"`
	// +optional
	ComputeResources *corev1.ResourceRequirements `json:"computeResources,omitempty"`
	// +optional
	StepSpecs []TaskRunStepSpec `json:"stepSpecs,omitempty"`
	// +optional
	SidecarSpecs []TaskRunSidecarSpec `json:"sidecarSpecs,omitempty"`
	// ManagedBy names the controller that runs this TaskRun: unset or "tekton.dev/pipeline" is hookrun's
	// executor; any other value is left alone.
	// +optional
	ManagedBy *string `json:"managedBy,omitempty"`
	// Resources binds the Task's v1beta1 PipelineResources.
	// +optional
	Resources *TaskRunResources `json:"resources,omitempty"`
	// StepOverrides and SidecarOverrides are the v1beta1 names of stepSpecs and sidecarSpecs.
	// +optional
	StepOverrides []TaskRunOverride `json:"stepOverrides,omitempty"`
	// +optional
	SidecarOverrides []TaskRunOverride `json:"sidecarOverrides,omitempty"`
}

// TaskRunStatus is what a TaskRun reports.
type TaskRunStatus struct {
	Status `json:",inline"`
	// +optional
	PodName string `json:"podName,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// +optional
	Steps []StepState `json:"steps,omitempty"`
	// RetriesStatus holds the status of each earlier attempt (TaskRunStatus objects).
	// +optional
	RetriesStatus []RawObject `json:"retriesStatus,omitempty"`
	// +optional
	Results []TaskRunResult `json:"results,omitempty"`
	// TaskResults is the v1beta1 name of Results.
	// +optional
	TaskResults []TaskRunResult `json:"taskResults,omitempty"`
	// +optional
	Sidecars []SidecarState `json:"sidecars,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	TaskSpec *TaskSpec `json:"taskSpec,omitempty"`
	// +optional
	Provenance *Provenance `json:"provenance,omitempty"`
	// +optional
	SpanContext map[string]string `json:"spanContext,omitempty"`
	// Artifacts are the TaskRun's artifacts: what its steps wrote to $(artifacts.path) and
	// $(step.artifacts.path), merged.
	// +optional
	Artifacts *Artifacts `json:"artifacts,omitempty"`
}

// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-pipelines,shortName=tr;trs
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Succeeded",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="StartTime",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="CompletionTime",type=date,JSONPath=`.status.completionTime`

// TaskRun is one execution of a Task, in one Pod.
type TaskRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TaskRunSpec `json:"spec,omitempty"`
	// +optional
	Status TaskRunStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TaskRunList is a list of TaskRun.
type TaskRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TaskRun `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PipelineRun{}, &PipelineRunList{}, &TaskRun{}, &TaskRunList{})
}

// RawObject is a JSON object kept as written (used where the schema would recurse, e.g. retriesStatus).
//
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type RawObject struct {
	runtime.RawExtension `json:",inline"`
}

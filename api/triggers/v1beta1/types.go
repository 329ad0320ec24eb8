// Package v1beta1 holds the triggers.tekton.dev/v1beta1 kinds: EventListener, Trigger, TriggerBinding,
// ClusterTriggerBinding, TriggerTemplate, ClusterInterceptor and Interceptor.
//
// +kubebuilder:object:generate=true
// +groupName=triggers.tekton.dev
package v1beta1

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
	sigsjson "sigs.k8s.io/json"
)

var (
	// GroupVersion is triggers.tekton.dev/v1beta1.
	GroupVersion = schema.GroupVersion{Group: "triggers.tekton.dev", Version: "v1beta1"}
	// SchemeBuilder registers the trigger kinds.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the trigger kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Labels hookrun (like Tekton Triggers) puts on everything a delivery creates.
const (
	LabelEventListener = "triggers.tekton.dev/eventlistener"
	LabelTrigger       = "triggers.tekton.dev/trigger"
	LabelEventID       = "triggers.tekton.dev/triggers-eventid"
)

// Kinds of bindings a trigger may reference.
const (
	NamespacedTriggerBindingKind = "TriggerBinding"
	ClusterTriggerBindingKind    = "ClusterTriggerBinding"
)

// Param is a TriggerBinding param: a name and a value with $(body…)/$(header…) expressions.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParamSpec declares a TriggerTemplate param.
type ParamSpec struct {
	Name string `json:"name"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Default *string `json:"default,omitempty"`
}

// TriggerResourceTemplate is one resource a TriggerTemplate creates, as raw JSON with $(tt.params.x).
//
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type TriggerResourceTemplate struct {
	runtime.RawExtension `json:",inline"`
}

// TriggerTemplateSpec is what a TriggerTemplate declares.
type TriggerTemplateSpec struct {
	// +optional
	Params []ParamSpec `json:"params,omitempty"`
	// +optional
	ResourceTemplates []TriggerResourceTemplate `json:"resourcetemplates,omitempty"`
	// ResourceTemplatesCamelCase is the spelling "resourceTemplates" that Tekton Triggers' own examples use
	// (Tekton decodes field names case-insensitively). Decoding moves it into ResourceTemplates, so it is
	// never set on a decoded object; it exists so that the API server and strict readers accept it.
	// +optional
	ResourceTemplatesCamelCase []TriggerResourceTemplate `json:"resourceTemplates,omitempty"`
}

// UnmarshalJSON decodes a TriggerTemplateSpec, accepting "resourceTemplates" for "resourcetemplates". It
// decodes strictly (a custom decoder hides the fields below it from the caller's strict check): an unknown
// field is an error.
func (s *TriggerTemplateSpec) UnmarshalJSON(data []byte) error {
	type plain TriggerTemplateSpec
	var p plain
	strict, err := sigsjson.UnmarshalStrict(data, &p)
	if err != nil {
		return fmt.Errorf("TriggerTemplate spec: %w", err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("TriggerTemplate spec: %w", errors.Join(strict...))
	}
	if len(p.ResourceTemplates) == 0 {
		p.ResourceTemplates = p.ResourceTemplatesCamelCase
	}
	p.ResourceTemplatesCamelCase = nil
	*s = TriggerTemplateSpec(p)
	return nil
}

// TriggerBindingSpec is a list of params.
type TriggerBindingSpec struct {
	// +optional
	Params []Param `json:"params,omitempty"`
}

// InterceptorRef names an interceptor: a ClusterInterceptor (default) or a namespaced Interceptor.
type InterceptorRef struct {
	Name string `json:"name,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
}

// InterceptorParams is one interceptor param; its value is any JSON.
type InterceptorParams struct {
	Name  string               `json:"name"`
	Value apiextensionsv1.JSON `json:"value"`
}

// WebhookInterceptor is the legacy external interceptor: a Service reference or a URL.
type WebhookInterceptor struct {
	// +optional
	ObjectRef *corev1.ObjectReference `json:"objectRef,omitempty"`
	// +optional
	URL *string `json:"url,omitempty"`
	// +optional
	Header []WebhookHeader `json:"header,omitempty"`
}

// WebhookHeader is a header sent to a webhook interceptor.
type WebhookHeader struct {
	Name string `json:"name"`
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Value apiextensionsv1.JSON `json:"value"`
}

// SecretRef names a key of a Secret.
type SecretRef struct {
	SecretKey  string `json:"secretKey,omitempty"`
	SecretName string `json:"secretName,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// GitHubInterceptor is the deprecated inline form of the github interceptor.
type GitHubInterceptor struct {
	// +optional
	SecretRef *SecretRef `json:"secretRef,omitempty"`
	// +optional
	EventTypes []string `json:"eventTypes,omitempty"`
}

// CELOverlay sets an extension key from an expression.
type CELOverlay struct {
	Key        string `json:"key,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// CELInterceptor is the deprecated inline form of the cel interceptor.
type CELInterceptor struct {
	// +optional
	Filter string `json:"filter,omitempty"`
	// +optional
	Overlays []CELOverlay `json:"overlays,omitempty"`
}

// TriggerInterceptor is one interceptor of a trigger, in order.
type TriggerInterceptor struct {
	// +optional
	Name *string `json:"name,omitempty"`
	// +optional
	Ref InterceptorRef `json:"ref,omitempty"`
	// +optional
	Params []InterceptorParams `json:"params,omitempty"`
	// +optional
	Webhook *WebhookInterceptor `json:"webhook,omitempty"`
	// Deprecated inline forms, still accepted.
	// +optional
	GitHub *GitHubInterceptor `json:"github,omitempty"`
	// +optional
	GitLab *GitHubInterceptor `json:"gitlab,omitempty"`
	// +optional
	Bitbucket *GitHubInterceptor `json:"bitbucket,omitempty"`
	// +optional
	CEL *CELInterceptor `json:"cel,omitempty"`
}

// TriggerSpecBinding is a binding of a trigger: a reference to a (Cluster)TriggerBinding or an inline param.
type TriggerSpecBinding struct {
	// Name and Value make an inline param.
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Value *string `json:"value,omitempty"`
	// Ref names a TriggerBinding or ClusterTriggerBinding (Kind).
	// +optional
	Ref string `json:"ref,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	APIVersion string `json:"apiversion,omitempty"`
	// Spec is an embedded binding (deprecated).
	// +optional
	Spec *TriggerBindingSpec `json:"spec,omitempty"`
}

// TriggerSpecTemplate is a trigger's template: a reference or an inline spec.
type TriggerSpecTemplate struct {
	// +optional
	Ref *string `json:"ref,omitempty"`
	// Name is the deprecated alias of Ref.
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	APIVersion string `json:"apiversion,omitempty"`
	// +optional
	Spec *TriggerTemplateSpec `json:"spec,omitempty"`
}

// TriggerSpec is a trigger: interceptors, then bindings into a template.
type TriggerSpec struct {
	// +optional
	Bindings []*TriggerSpecBinding `json:"bindings,omitempty"`
	// +optional
	Template TriggerSpecTemplate `json:"template,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Interceptors []*TriggerInterceptor `json:"interceptors,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// EventListenerTrigger is a trigger inline in an EventListener, or a reference to a Trigger.
type EventListenerTrigger struct {
	// +optional
	TriggerRef string `json:"triggerRef,omitempty"`
	// +optional
	Bindings []*TriggerSpecBinding `json:"bindings,omitempty"`
	// +optional
	Template *TriggerSpecTemplate `json:"template,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Interceptors []*TriggerInterceptor `json:"interceptors,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// NamespaceSelector picks namespaces by name ("*" = all).
type NamespaceSelector struct {
	// +optional
	MatchNames []string `json:"matchNames,omitempty"`
}

// EventListenerTriggerSelector picks Trigger objects.
type EventListenerTriggerSelector struct {
	// +optional
	NamespaceSelector NamespaceSelector `json:"namespaceSelector,omitempty"`
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// EventListenerTriggerGroup runs shared interceptors, then the selected Triggers.
type EventListenerTriggerGroup struct {
	Name string `json:"name"`
	// +optional
	Interceptors []*TriggerInterceptor `json:"interceptors,omitempty"`
	// +optional
	TriggerSelector EventListenerTriggerSelector `json:"triggerSelector"`
}

// Resources is the EventListener's Deployment customisation: kubernetesResource shapes the el-NAME Deployment
// and Service (see KubernetesResource); customResource (Knative) is not supported.
type Resources struct {
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	KubernetesResource *runtime.RawExtension `json:"kubernetesResource,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	CustomResource *runtime.RawExtension `json:"customResource,omitempty"`
}

// EventListenerSpec is an EventListener's configuration.
type EventListenerSpec struct {
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	Triggers []EventListenerTrigger `json:"triggers,omitempty"`
	// +optional
	TriggerGroups []EventListenerTriggerGroup `json:"triggerGroups,omitempty"`
	// +optional
	NamespaceSelector NamespaceSelector `json:"namespaceSelector,omitempty"`
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// +optional
	Resources Resources `json:"resources,omitempty"`
	// +optional
	CloudEventURI string `json:"cloudEventURI,omitempty"`
}

// EventListenerStatus reports where the listener is reachable.
type EventListenerStatus struct {
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// +optional
	Address *Addressable `json:"address,omitempty"`
	// Configuration names what the reconciler generated for the EventListener (el-NAME), as Tekton's does.
	// +optional
	Configuration EventListenerConfig `json:"configuration,omitempty"`
}

// EventListenerConfig is the configuration the EventListener reconciler generated.
type EventListenerConfig struct {
	// GeneratedResourceName is the name of the Deployment and Service made for the EventListener (el-NAME);
	// empty for an EventListener served by the shared listener.
	// +optional
	GeneratedResourceName string `json:"generatedName,omitempty"`
}

// Condition is a knative-style status condition.
type Condition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// Addressable is a URL.
type Addressable struct {
	// +optional
	URL string `json:"url,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-triggers,shortName=el
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.status.address.url`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=='Available')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Available')].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// EventListener receives webhooks and fires triggers.
type EventListener struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec EventListenerSpec `json:"spec,omitempty"`
	// +optional
	Status EventListenerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// EventListenerList is a list of EventListener.
type EventListenerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EventListener `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-triggers,shortName=tri

// Trigger is a standalone trigger an EventListener references or selects.
type Trigger struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TriggerSpec `json:"spec,omitempty"`
}

// +kubebuilder:object:root=true

// TriggerList is a list of Trigger.
type TriggerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Trigger `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-triggers,shortName=tb

// TriggerBinding maps event fields to params.
type TriggerBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TriggerBindingSpec `json:"spec,omitempty"`
}

// +kubebuilder:object:root=true

// TriggerBindingList is a list of TriggerBinding.
type TriggerBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TriggerBinding `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=tekton;tekton-triggers,shortName=ctb

// ClusterTriggerBinding is a TriggerBinding usable from every namespace.
type ClusterTriggerBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TriggerBindingSpec `json:"spec,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterTriggerBindingList is a list of ClusterTriggerBinding.
type ClusterTriggerBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTriggerBinding `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=tekton;tekton-triggers,shortName=tt

// TriggerTemplate is the resources a trigger creates.
type TriggerTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TriggerTemplateSpec `json:"spec,omitempty"`
}

// +kubebuilder:object:root=true

// TriggerTemplateList is a list of TriggerTemplate.
type TriggerTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TriggerTemplate `json:"items"`
}

// ServiceReference names a Service that serves an interceptor.
type ServiceReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// +optional
	Path string `json:"path,omitempty"`
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// ClientConfig says how to reach an interceptor.
type ClientConfig struct {
	// +optional
	CaBundle []byte `json:"caBundle,omitempty"`
	// +optional
	URL *string `json:"url,omitempty"`
	// +optional
	Service *ServiceReference `json:"service,omitempty"`
}

// InterceptorSpec is an interceptor's address.
type InterceptorSpec struct {
	ClientConfig ClientConfig `json:"clientConfig"`
}

// InterceptorStatus reports an interceptor's resolved address.
type InterceptorStatus struct {
	// +optional
	Address *Addressable `json:"address,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=tekton;tekton-triggers,shortName=ci

// ClusterInterceptor is an interceptor reachable over HTTP(S); github, gitlab, bitbucket and cel are built in.
type ClusterInterceptor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec InterceptorSpec `json:"spec"`
	// +optional
	Status InterceptorStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterInterceptorList is a list of ClusterInterceptor.
type ClusterInterceptorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterInterceptor `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=tekton;tekton-triggers

// Interceptor is a namespaced interceptor reachable over HTTP(S).
type Interceptor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec InterceptorSpec `json:"spec"`
	// +optional
	Status InterceptorStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InterceptorList is a list of Interceptor.
type InterceptorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Interceptor `json:"items"`
}

func init() {
	SchemeBuilder.Register(
		&EventListener{}, &EventListenerList{},
		&Trigger{}, &TriggerList{},
		&TriggerBinding{}, &TriggerBindingList{},
		&ClusterTriggerBinding{}, &ClusterTriggerBindingList{},
		&TriggerTemplate{}, &TriggerTemplateList{},
		&ClusterInterceptor{}, &ClusterInterceptorList{},
		&Interceptor{}, &InterceptorList{},
	)
}

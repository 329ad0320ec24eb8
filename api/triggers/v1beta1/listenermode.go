package v1beta1

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// AnnotationListener chooses how an EventListener is served. Absent (or any other value): as Tekton serves
// it, by its own el-NAME Deployment and Service that the executor's EventListener reconciler makes.
// ListenerShared: by the shared hookrun-listener, at /hooks/NAME (no Deployment, no Service).
const (
	AnnotationListener = "hookrun.dev/listener"
	ListenerShared     = "shared"
)

// SharedListener reports whether el is served by the shared listener rather than by its own el-NAME
// Deployment.
func SharedListener(el *EventListener) bool {
	return el.Annotations[AnnotationListener] == ListenerShared
}

// GeneratedName is the name of the Deployment and Service Tekton (and hookrun) make for an EventListener.
func GeneratedName(el *EventListener) string { return "el-" + el.Name }

// KubernetesResource is the decoded form of an EventListener's resources.kubernetesResource, in Tekton's
// shape: the Service's type, port and load-balancer class, the Deployment's replicas and a Pod template
// ("spec") merged into the generated Pod.
//
// +kubebuilder:object:generate=false
type KubernetesResource struct {
	Replicas                 *int32                 `json:"replicas,omitempty"`
	ServiceType              corev1.ServiceType     `json:"serviceType,omitempty"`
	ServicePort              *int32                 `json:"servicePort,omitempty"`
	ServiceLoadBalancerClass *string                `json:"serviceLoadBalancerClass,omitempty"`
	Template                 corev1.PodTemplateSpec `json:"spec,omitempty"`
}

// DecodeKubernetesResource decodes r.KubernetesResource; nil when it is not set. Unknown fields are
// ignored here (validate warns about them).
func DecodeKubernetesResource(r Resources) (*KubernetesResource, error) {
	if r.KubernetesResource == nil || len(r.KubernetesResource.Raw) == 0 {
		return nil, nil
	}
	var kr KubernetesResource
	if err := json.Unmarshal(r.KubernetesResource.Raw, &kr); err != nil {
		return nil, fmt.Errorf("resources.kubernetesResource: %w", err)
	}
	return &kr, nil
}

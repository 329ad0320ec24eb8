// Package elreconciler runs EventListeners as Tekton Triggers runs them: for every EventListener not served
// by the shared listener (annotation hookrun.dev/listener: shared), a Deployment and a Service named
// el-NAME in its namespace, owned by it (deleting the EventListener deletes both), whose Pods run
// `hookrun listener` for exactly that EventListener as its serviceAccountName. It writes those
// EventListeners' status (address, configuration.generatedName, conditions); elstatus writes the shared
// ones'. The executor command registers it on its leader-elected manager.
package elreconciler

import (
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Names, labels and ports Tekton's EventListener Deployments and Services carry.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	ManagedByValue     = "EventListener"
	LabelPartOf        = "app.kubernetes.io/part-of"
	PartOfValue        = "Triggers"
	LabelEventListener = "eventlistener"

	ContainerName   = "event-listener"
	ListenerPort    = 8080 // the container's port; the Service's is servicePort (default 8080, 8443 with TLS)
	MetricsPort     = 9000
	PortListener    = "http-listener"
	PortListenerTLS = "https-listener"
	PortMetrics     = "http-metrics"

	// TLS: the EventListener's container env TLS_CERT and TLS_KEY (secretKeyRef) name the certificate
	// and key in one Secret, mounted here.
	EnvTLSCert   = "TLS_CERT"
	EnvTLSKey    = "TLS_KEY"
	TLSVolume    = "https-connection"
	tmpVolume    = "tmp"
	TLSMountPath = "/etc/triggers/tls"

	// AnnotationSpecHash holds a hash of what the reconciler last wrote, so it updates (and the
	// Deployment rolls) only when the EventListener's wanted shape changed.
	AnnotationSpecHash = "hookrun.dev/eventlistener-spec-hash"

	defaultServiceAccount = "default"
	lastApplied           = "kubectl.kubernetes.io/last-applied-configuration"
)

// SelectorLabels are the labels that select an EventListener's Pods (and that the reconciler watches by).
func SelectorLabels(el *triggersv1beta1.EventListener) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelPartOf: PartOfValue, LabelEventListener: el.Name}
}

// shape is everything the reconciler derives from an EventListener.
type shape struct {
	kr      *triggersv1beta1.KubernetesResource // nil: no kubernetesResource
	tls     *tlsRef
	svcPort int32
}

type tlsRef struct{ secret, certKey, keyKey string }

// derive decodes el's kubernetesResource and TLS settings.
func derive(el *triggersv1beta1.EventListener) (shape, error) {
	kr, err := triggersv1beta1.DecodeKubernetesResource(el.Spec.Resources)
	if err != nil {
		return shape{}, err
	}
	s := shape{kr: kr}
	if c := firstContainer(kr); c != nil {
		var cert, key *corev1.SecretKeySelector
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			switch e.Name {
			case EnvTLSCert:
				cert = e.ValueFrom.SecretKeyRef
			case EnvTLSKey:
				key = e.ValueFrom.SecretKeyRef
			}
		}
		switch {
		case cert != nil && key != nil && cert.Name != key.Name:
			return shape{}, fmt.Errorf("TLS_CERT and TLS_KEY must name the same Secret (%q, %q)", cert.Name, key.Name)
		case cert != nil && key != nil:
			s.tls = &tlsRef{secret: cert.Name, certKey: cert.Key, keyKey: key.Key}
		case cert != nil || key != nil:
			return shape{}, fmt.Errorf("TLS needs both TLS_CERT and TLS_KEY (secretKeyRef) in the container env")
		}
	}
	s.svcPort = ListenerPort
	if s.tls != nil {
		s.svcPort = 8443
	}
	if kr != nil && kr.ServicePort != nil {
		s.svcPort = *kr.ServicePort
	}
	return s, nil
}

func firstContainer(kr *triggersv1beta1.KubernetesResource) *corev1.Container {
	if kr == nil || len(kr.Template.Spec.Containers) == 0 {
		return nil
	}
	return &kr.Template.Spec.Containers[0]
}

// Address is where the EventListener's Service is reached inside the cluster.
func (s shape) address(el *triggersv1beta1.EventListener) string {
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s.%s.svc.cluster.local:%d", scheme, triggersv1beta1.GeneratedName(el), el.Namespace, s.svcPort)
}

// objectMeta is the metadata Tekton gives both generated objects: the EventListener's labels and
// annotations (minus kubectl's last-applied copy of the EventListener) plus the selector labels, and a
// controller reference to the EventListener.
func objectMeta(el *triggersv1beta1.EventListener) metav1.ObjectMeta {
	lbls := maps.Clone(el.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	maps.Copy(lbls, SelectorLabels(el))
	ann := maps.Clone(el.Annotations)
	delete(ann, lastApplied)
	return metav1.ObjectMeta{
		Name: triggersv1beta1.GeneratedName(el), Namespace: el.Namespace, Labels: lbls, Annotations: ann,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: triggersv1beta1.GroupVersion.String(), Kind: "EventListener", Name: el.Name, UID: el.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}},
	}
}

// listenerArgs runs `hookrun listener` for exactly el: every path answers for it (as Tekton's sink), it
// reads configuration in its namespace (or those its namespaceSelector names), serves metrics on 9000
// and writes no EventListener status (the reconciler does).
func listenerArgs(el *triggersv1beta1.EventListener, s shape) []string {
	args := []string{"listener",
		"--addr=:" + strconv.Itoa(ListenerPort),
		"--metrics-addr=:" + strconv.Itoa(MetricsPort),
		"--namespace=" + el.Namespace,
		"--eventlistener=" + el.Name,
		"--any-path",
		"--write-status=false",
	}
	all, names := false, []string{el.Namespace}
	for _, sel := range append([]triggersv1beta1.NamespaceSelector{el.Spec.NamespaceSelector}, groupSelectors(el)...) {
		for _, n := range sel.MatchNames {
			if n == "*" {
				all = true
			} else if n != el.Namespace && !contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if !all {
		for _, n := range names {
			args = append(args, "--watch-namespace="+n)
		}
	}
	if s.tls != nil {
		args = append(args, "--tls-cert="+TLSMountPath+"/"+s.tls.certKey, "--tls-key="+TLSMountPath+"/"+s.tls.keyKey)
	}
	return args
}

func groupSelectors(el *triggersv1beta1.EventListener) []triggersv1beta1.NamespaceSelector {
	var out []triggersv1beta1.NamespaceSelector
	for _, g := range el.Spec.TriggerGroups {
		out = append(out, g.TriggerSelector.NamespaceSelector)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deployment is the el-NAME Deployment for el, with kubernetesResource merged in as Tekton merges it: the
// Pod template's labels (selector labels win), annotations, serviceAccountName, nodeSelector,
// tolerations, affinity, topologySpreadConstraints, imagePullSecrets and securityContext; the first
// container's env (appended), resources, probes and securityContext. Other template fields are not
// applied (`hookrun validate` warns about them).
func deployment(el *triggersv1beta1.EventListener, s shape, image string) *appsv1.Deployment {
	var tmpl corev1.PodTemplateSpec
	if s.kr != nil {
		tmpl = *s.kr.Template.DeepCopy()
	}
	pod := listenerPodSpec(el, s, tmpl.Spec, listenerContainer(el, s, image))
	var replicas *int32
	if s.kr != nil {
		replicas = s.kr.Replicas
	}
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(el),
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(el)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(el, tmpl), Annotations: tmpl.Annotations},
				Spec:       pod,
			},
		},
	}
}

// listenerProbe is the default HTTP probe of the listener container on path.
func listenerProbe(s shape, path string) *corev1.Probe {
	scheme := corev1.URISchemeHTTP
	if s.tls != nil {
		scheme = corev1.URISchemeHTTPS
	}
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromInt32(ListenerPort), Scheme: scheme}},
		PeriodSeconds: 10, FailureThreshold: 3,
	}
}

// listenerContainer is the listener container, with the kubernetesResource's first container's env
// (appended), resources, probes and securityContext merged in.
func listenerContainer(el *triggersv1beta1.EventListener, s shape, image string) corev1.Container {
	c := corev1.Container{
		Name:  ContainerName,
		Image: image,
		Args:  listenerArgs(el, s),
		Ports: []corev1.ContainerPort{
			{Name: PortListener, ContainerPort: ListenerPort, Protocol: corev1.ProtocolTCP},
			{Name: PortMetrics, ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		Env:            []corev1.EnvVar{{Name: "NAMESPACE", Value: el.Namespace}, {Name: "NAME", Value: el.Name}},
		LivenessProbe:  listenerProbe(s, "/livez"),
		ReadinessProbe: listenerProbe(s, "/readyz"),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			RunAsNonRoot:             ptr.To(true),
			ReadOnlyRootFilesystem:   ptr.To(true),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if tc := firstContainer(s.kr); tc != nil {
		c.Env = append(c.Env, tc.Env...)
		c.Resources = tc.Resources
		if tc.LivenessProbe != nil {
			c.LivenessProbe = tc.LivenessProbe
		}
		if tc.ReadinessProbe != nil {
			c.ReadinessProbe = tc.ReadinessProbe
		}
		c.StartupProbe = tc.StartupProbe
		if tc.SecurityContext != nil {
			c.SecurityContext = tc.SecurityContext
		}
	}
	return c
}

// listenerPodSpec is the listener Pod's spec: container c, the template spec ps's scheduling, pull
// secrets, service account and security context, and the /tmp (and TLS) volumes.
func listenerPodSpec(el *triggersv1beta1.EventListener, s shape, ps corev1.PodSpec, c corev1.Container) corev1.PodSpec {
	pod := corev1.PodSpec{
		ServiceAccountName:        el.Spec.ServiceAccountName,
		Containers:                []corev1.Container{c},
		NodeSelector:              ps.NodeSelector,
		Tolerations:               ps.Tolerations,
		Affinity:                  ps.Affinity,
		TopologySpreadConstraints: ps.TopologySpreadConstraints,
		ImagePullSecrets:          ps.ImagePullSecrets,
		SecurityContext:           ps.SecurityContext,
	}
	if ps.ServiceAccountName != "" {
		pod.ServiceAccountName = ps.ServiceAccountName
	}
	if pod.ServiceAccountName == "" {
		pod.ServiceAccountName = defaultServiceAccount
	}
	if pod.SecurityContext == nil {
		pod.SecurityContext = &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
	}
	// The root file system is read-only: /tmp is an emptyDir (the binary's packages may use it at start).
	pod.Volumes = []corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: tmpVolume, MountPath: "/tmp"}}
	if s.tls != nil {
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: TLSVolume, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: s.tls.secret}}})
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: TLSVolume, MountPath: TLSMountPath, ReadOnly: true})
	}
	return pod
}

// podLabels are the listener Pod's labels: el's, then the template's, then the selector labels (which win).
func podLabels(el *triggersv1beta1.EventListener, tmpl corev1.PodTemplateSpec) map[string]string {
	labels := maps.Clone(el.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, tmpl.Labels)
	maps.Copy(labels, SelectorLabels(el))
	return labels
}

// service is the el-NAME Service: the listener port (http-listener, or https-listener with TLS) on
// servicePort (default 8080; 8443 with TLS), metrics on 9000, serviceType and serviceLoadBalancerClass
// from kubernetesResource; with type NodePort, servicePort is also the node port (as Tekton).
func service(el *triggersv1beta1.EventListener, s shape) *corev1.Service {
	name := PortListener
	if s.tls != nil {
		name = PortListenerTLS
	}
	lp := corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: s.svcPort, TargetPort: intstr.FromInt32(ListenerPort)}
	svc := &corev1.Service{
		ObjectMeta: objectMeta(el),
		Spec: corev1.ServiceSpec{
			Selector: SelectorLabels(el),
			Ports: []corev1.ServicePort{lp,
				{Name: PortMetrics, Protocol: corev1.ProtocolTCP, Port: MetricsPort, TargetPort: intstr.FromInt32(MetricsPort)}},
		},
	}
	if s.kr != nil {
		svc.Spec.Type = s.kr.ServiceType
		if s.kr.ServiceType == corev1.ServiceTypeNodePort && s.kr.ServicePort != nil {
			svc.Spec.Ports[0].NodePort = *s.kr.ServicePort
		}
		svc.Spec.LoadBalancerClass = s.kr.ServiceLoadBalancerClass
	}
	if svc.Spec.Type == "" {
		svc.Spec.Type = corev1.ServiceTypeClusterIP
	}
	return svc
}

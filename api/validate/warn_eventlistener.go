package validate

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/api/load"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// The parts of resources.kubernetesResource the EventListener reconciler applies to el-NAME, as Tekton
// applies them; anything else in it is accepted by the API server and silently ignored, so it is warned
// about.
var (
	krFields        = []string{"replicas", "serviceType", "servicePort", "serviceLoadBalancerClass", "spec"}
	krMetaFields    = []string{"labels", "annotations"}
	krPodFields     = []string{"containers", "serviceAccountName", "nodeSelector", "tolerations", "affinity", "topologySpreadConstraints", "imagePullSecrets", "securityContext"}
	krContainerKeep = []string{"name", "env", "resources", "readinessProbe", "livenessProbe", "startupProbe", "securityContext"}
)

// eventListenerWarnings returns what an EventListener asks of its el-NAME Deployment and Service that
// hookrun will not do.
func eventListenerWarnings(o *load.Object, el *triggersv1beta1.EventListener) []load.Problem {
	var out []load.Problem
	warn := func(field, format string, args ...any) {
		out = append(out, load.Problem{File: o.File, Index: o.Index, Kind: o.GVK.Kind, Name: o.Name, Field: field,
			Reason: fmt.Sprintf(format, args...)})
	}
	res := el.Spec.Resources
	if res.CustomResource != nil && len(res.CustomResource.Raw) > 0 {
		warn("spec.resources.customResource", "not supported: hookrun runs no Knative Service; the EventListener gets Ready=False "+
			"(CustomResourceNotSupported) and no listener. Use resources.kubernetesResource, or the annotation %s: %s",
			triggersv1beta1.AnnotationListener, triggersv1beta1.ListenerShared)
	}
	if res.KubernetesResource == nil || len(res.KubernetesResource.Raw) == 0 {
		return out
	}
	const base = "spec.resources.kubernetesResource"
	if triggersv1beta1.SharedListener(el) {
		warn(base, "not applied: the annotation %s: %s has the shared listener serve this EventListener (no el-%s Deployment)",
			triggersv1beta1.AnnotationListener, triggersv1beta1.ListenerShared, el.Name)
		return out
	}
	kr, err := triggersv1beta1.DecodeKubernetesResource(res)
	if err != nil {
		warn(base, "cannot be decoded (%v): the EventListener gets Ready=False (InvalidKubernetesResource) and no listener", err)
		return out
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(res.KubernetesResource.Raw, &raw) != nil {
		return out
	}
	unknown := func(path string, obj map[string]json.RawMessage, keep []string) {
		var extra []string
		for k := range obj {
			if !slices.Contains(keep, k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			warn(path+"."+k, "not applied to the el-%s Deployment or Service (applied: %v)", el.Name, keep)
		}
	}
	unknown(base, raw, krFields)
	var tmpl struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
		Spec     struct {
			Containers []map[string]json.RawMessage `json:"containers"`
		} `json:"spec"`
	}
	var tmplSpec map[string]json.RawMessage
	if s, ok := raw["spec"]; ok && json.Unmarshal(s, &tmpl) == nil {
		unknown(base+".spec.metadata", tmpl.Metadata, krMetaFields)
		var top map[string]json.RawMessage
		if json.Unmarshal(s, &top) == nil {
			unknown(base+".spec", top, []string{"metadata", "spec"})
			if ps, ok := top["spec"]; ok {
				_ = json.Unmarshal(ps, &tmplSpec)
			}
		}
		unknown(base+".spec.spec", tmplSpec, krPodFields)
		for i, c := range tmpl.Spec.Containers {
			if i > 0 {
				warn(fmt.Sprintf("%s.spec.spec.containers[%d]", base, i), "not applied: the el-%s Pod has one container, the first entry shapes it", el.Name)
				continue
			}
			unknown(base+".spec.spec.containers[0]", c, krContainerKeep)
		}
	}
	svc := base + ".servicePort"
	if kr.ServiceType == corev1.ServiceTypeNodePort && kr.ServicePort != nil && (*kr.ServicePort < 30000 || *kr.ServicePort > 32767) {
		warn(svc, "with serviceType NodePort the port is also the node port, which must lie in the cluster's node-port range (default 30000-32767)")
	}
	if kr.ServiceLoadBalancerClass != nil && kr.ServiceType != corev1.ServiceTypeLoadBalancer {
		warn(base+".serviceLoadBalancerClass", "only applies with serviceType LoadBalancer")
	}
	if len(kr.Template.Spec.Containers) > 0 {
		var cert, key *corev1.SecretKeySelector
		for _, e := range kr.Template.Spec.Containers[0].Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				switch e.Name {
				case "TLS_CERT":
					cert = e.ValueFrom.SecretKeyRef
				case "TLS_KEY":
					key = e.ValueFrom.SecretKeyRef
				}
			}
		}
		envPath := base + ".spec.spec.containers[0].env"
		switch {
		case (cert == nil) != (key == nil):
			warn(envPath, "TLS needs both TLS_CERT and TLS_KEY as secretKeyRef: the EventListener gets Ready=False and no listener")
		case cert != nil && cert.Name != key.Name:
			warn(envPath, "TLS_CERT and TLS_KEY must name the same Secret: the EventListener gets Ready=False and no listener")
		}
	}
	return out
}

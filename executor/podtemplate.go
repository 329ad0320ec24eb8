package executor

import (
	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// applyPodTemplate sets the Pod settings a run's pod template gives. Volumes are added to the Pod's own.
func applyPodTemplate(s *corev1.PodSpec, pt *pipelinev1.PodTemplate) {
	if pt == nil {
		return
	}
	s.NodeSelector = pt.NodeSelector
	s.Tolerations = pt.Tolerations
	s.Affinity = pt.Affinity
	s.SecurityContext = pt.SecurityContext
	s.Volumes = append(s.Volumes, pt.Volumes...)
	s.RuntimeClassName = pt.RuntimeClassName
	s.AutomountServiceAccountToken = pt.AutomountServiceAccountToken
	s.DNSPolicy = pt.DNSPolicy
	s.DNSConfig = pt.DNSConfig
	s.EnableServiceLinks = pt.EnableServiceLinks
	if pt.PriorityClassName != nil {
		s.PriorityClassName = *pt.PriorityClassName
	}
	s.SchedulerName = pt.SchedulerName
	s.ImagePullSecrets = pt.ImagePullSecrets
	s.HostNetwork = pt.HostNetwork
	s.HostAliases = pt.HostAliases
	s.HostUsers = pt.HostUsers
	s.TopologySpreadConstraints = pt.TopologySpreadConstraints
}

// mergePodTemplate is Tekton's merge of a pod template over a default one (taskRunSpecs[].podTemplate
// over taskRunTemplate.podTemplate, a run's template over config-defaults' default-pod-template): each
// field tpl sets wins, the others come from def; env and volumes merge by name, tpl's first. Neither
// argument is changed.
func mergePodTemplate(tpl, def *pipelinev1.PodTemplate) *pipelinev1.PodTemplate {
	switch {
	case def == nil:
		return tpl
	case tpl == nil:
		return def.DeepCopy()
	}
	out := tpl.DeepCopy()
	d := def.DeepCopy()
	if out.NodeSelector == nil {
		out.NodeSelector = d.NodeSelector
	}
	out.Env = mergeByName(d.Env, out.Env, func(e corev1.EnvVar) string { return e.Name })
	if out.Tolerations == nil {
		out.Tolerations = d.Tolerations
	}
	if out.Affinity == nil {
		out.Affinity = d.Affinity
	}
	if out.SecurityContext == nil {
		out.SecurityContext = d.SecurityContext
	}
	out.Volumes = mergeByName(d.Volumes, out.Volumes, func(v corev1.Volume) string { return v.Name })
	if out.RuntimeClassName == nil {
		out.RuntimeClassName = d.RuntimeClassName
	}
	if out.AutomountServiceAccountToken == nil {
		out.AutomountServiceAccountToken = d.AutomountServiceAccountToken
	}
	if out.DNSPolicy == "" {
		out.DNSPolicy = d.DNSPolicy
	}
	if out.DNSConfig == nil {
		out.DNSConfig = d.DNSConfig
	}
	if out.EnableServiceLinks == nil {
		out.EnableServiceLinks = d.EnableServiceLinks
	}
	if out.PriorityClassName == nil {
		out.PriorityClassName = d.PriorityClassName
	}
	if out.SchedulerName == "" {
		out.SchedulerName = d.SchedulerName
	}
	if out.ImagePullSecrets == nil {
		out.ImagePullSecrets = d.ImagePullSecrets
	}
	if out.HostAliases == nil {
		out.HostAliases = d.HostAliases
	}
	out.HostNetwork = out.HostNetwork || d.HostNetwork
	if out.HostUsers == nil {
		out.HostUsers = d.HostUsers
	}
	if out.TopologySpreadConstraints == nil {
		out.TopologySpreadConstraints = d.TopologySpreadConstraints
	}
	return out
}

// mergeByName is overrides, then the base items whose name no override has (items without a name are
// dropped, as Tekton does).
func mergeByName[T any](base, overrides []T, name func(T) string) []T {
	if len(overrides) == 0 {
		return base
	}
	have := map[string]bool{}
	out := make([]T, 0, len(base)+len(overrides))
	for _, o := range overrides {
		if n := name(o); n != "" {
			out = append(out, o)
			have[n] = true
		}
	}
	for _, b := range base {
		if n := name(b); n != "" && !have[n] {
			out = append(out, b)
		}
	}
	return out
}

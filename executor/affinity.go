package executor

import (
	"crypto/sha256"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/runconfig"
)

// Coscheduling (Tekton's affinity assistant, feature-flags coschedule). Tekton runs a placeholder
// StatefulSet per PVC workspace (or per PipelineRun) and gives each TaskRun's Pod a pod affinity to it.
// hookrun gets the same placement without extra Pods: the TaskRun carries Tekton's annotation naming its
// group, and its Pod gets the label LabelAffinityGroup with that name and a required pod affinity to Pods
// of the same label on the same node (kubernetes.io/hostname). The scheduler places the first Pod of a
// group freely (a Pod matching its own affinity term may start a group) and the others beside the
// running ones, so parallel tasks sharing a ReadWriteOnce PVC land on one node. isolate-pipelinerun adds
// a required anti-affinity to other groups' Pods.
const (
	// AnnotationAffinityAssistant names a TaskRun's group (Tekton's annotation).
	AnnotationAffinityAssistant = "pipeline.tekton.dev/affinity-assistant"
	// LabelAffinityGroup carries the group on the Pod.
	LabelAffinityGroup = "hookrun.dev/affinity-assistant"
	topologyHostname   = "kubernetes.io/hostname"
)

// affinityGroup is the group of a PipelineRun's TaskRun with the given bindings under the coschedule
// mode: per PVC (workspaces: the first PVC-backed binding, none without one), per PipelineRun
// (pipelineruns, isolate-pipelinerun), or none (disabled).
func affinityGroup(mode string, pr *pipelinev1.PipelineRun, bindings []pipelinev1.WorkspaceBinding) string {
	switch mode {
	case runconfig.CoschedulePipelineRuns, runconfig.CoscheduleIsolatePipelineRun:
		return groupName(pr.Namespace, pr.Name, "")
	case runconfig.CoscheduleWorkspaces:
		for _, b := range bindings {
			if b.PersistentVolumeClaim != nil && b.PersistentVolumeClaim.ClaimName != "" {
				return groupName(pr.Namespace, pr.Name, b.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	return ""
}

// groupName is "affinity-assistant-" and ten hex digits of a hash of what the group shares.
func groupName(ns, run, claim string) string {
	sum := sha256.Sum256([]byte(ns + "/" + run + "/" + claim))
	return "affinity-assistant-" + hex.EncodeToString(sum[:])[:10]
}

// applyCoschedule labels the Pod of a grouped TaskRun and adds the pod affinity (and, isolated, the
// anti-affinity) to what the pod template gave.
func applyCoschedule(pod *corev1.Pod, tr *pipelinev1.TaskRun, mode string) {
	group := tr.Annotations[AnnotationAffinityAssistant]
	if group == "" || mode == runconfig.CoscheduleDisabled {
		return
	}
	pod.Labels[LabelAffinityGroup] = group
	aff := pod.Spec.Affinity.DeepCopy()
	if aff == nil {
		aff = &corev1.Affinity{}
	}
	if aff.PodAffinity == nil {
		aff.PodAffinity = &corev1.PodAffinity{}
	}
	aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		corev1.PodAffinityTerm{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelAffinityGroup: group}},
			TopologyKey:   topologyHostname,
		})
	if mode == runconfig.CoscheduleIsolatePipelineRun {
		if aff.PodAntiAffinity == nil {
			aff.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: LabelAffinityGroup, Operator: metav1.LabelSelectorOpExists},
					{Key: LabelAffinityGroup, Operator: metav1.LabelSelectorOpNotIn, Values: []string{group}},
				}},
				TopologyKey: topologyHostname,
			})
	}
	pod.Spec.Affinity = aff
}

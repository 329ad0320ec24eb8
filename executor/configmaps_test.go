package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/executor"
)

// The config-defaults and feature-flags ConfigMaps, and coscheduling (issue #23).

func TestConfigDefaultsAndFeatureFlags(t *testing.T) {
	cfgNS := newNamespace(t)
	apply(t, cfgNS, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-defaults
data:
  _example: "Tekton's documentation block: never reported"
  default-timeout-minutes: "5"
  default-service-account: builder
  default-managed-by-label-value: tekton-pipelines
  default-pod-template: |
    nodeSelector:
      pool: build
    env:
      - {name: FROM, value: config}
  default-task-run-workspace-binding: |
    emptyDir: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: feature-flags
data:
  coschedule: disabled
  enable-api-fields: beta
`)
	ns := newNamespace(t)
	startExecutor(t, ns, func(o *executor.Options) { o.ConfigNamespace = cfgNS })
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: defaulted
spec:
  podTemplate:
    env:
      - {name: OWN, value: run}
  taskSpec:
    workspaces:
      - name: source
      - name: cache
        optional: true
    steps:
      - {name: s, image: alpine, script: ls $(workspaces.source.path)}
`)
	pod := waitPod(t, ns, "defaulted-pod")
	if pod.Spec.ServiceAccountName != "builder" {
		t.Errorf("serviceAccountName = %q, want config-defaults' builder", pod.Spec.ServiceAccountName)
	}
	if got := pod.Spec.ActiveDeadlineSeconds; got == nil || *got > 300 || *got < 290 {
		t.Errorf("activeDeadlineSeconds = %v, want about 300 (default-timeout-minutes 5)", got)
	}
	assertJSON(t, "nodeSelector", pod.Spec.NodeSelector, map[string]string{"pool": "build"})
	if got := pod.Labels["app.kubernetes.io/managed-by"]; got != "tekton-pipelines" {
		t.Errorf("managed-by = %q, want default-managed-by-label-value", got)
	}
	step := stepAt(t, pod, 0)
	var stepEnv []string
	for _, e := range step.Env {
		if e.Name == "FROM" || e.Name == "OWN" {
			stepEnv = append(stepEnv, e.Name+"="+e.Value)
		}
	}
	assertJSON(t, "pod template env (run's over config's)", stepEnv, []string{"OWN=run", "FROM=config"})
	// The required workspace the run left unbound gets default-task-run-workspace-binding; the optional
	// one stays unbound.
	var wsVolumes []string
	for _, v := range volumeNames(pod) {
		if strings.HasPrefix(v, "ws-") {
			wsVolumes = append(wsVolumes, v)
		}
	}
	if len(wsVolumes) != 1 || !strings.HasSuffix(wsVolumes[0], "=emptyDir") {
		t.Errorf("workspace volumes = %v, want one emptyDir (source)", volumeNames(pod))
	}
	// Keys not honoured are reported on their ConfigMap, by name.
	eventually(t, 10*time.Second, "event about enable-api-fields", func() (bool, error) {
		var list corev1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(cfgNS)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == "feature-flags" && e.Reason == "ConfigKeyNotHonoured" && strings.Contains(e.Message, `"enable-api-fields"`) {
				return true, nil
			}
			if strings.Contains(e.Message, "_example") {
				return false, fmt.Errorf("_example reported: %s", e.Message)
			}
		}
		return false, fmt.Errorf("%d events", len(list.Items))
	})
	// A change is seen through the watch.
	var cm corev1.ConfigMap
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: cfgNS, Name: "config-defaults"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["default-service-account"] = "deployer"
	if err := env.Client.Update(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "a TaskRun with the new default service account", func() (bool, error) {
		name := fmt.Sprintf("after-%d", time.Now().UnixNano())
		apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: "+name+"\nspec:\n  taskSpec:\n    steps:\n      - {name: s, image: alpine, script: echo}\n")
		p := waitPod(t, ns, name+"-pod")
		return p.Spec.ServiceAccountName == "deployer", fmt.Errorf("serviceAccountName %q", p.Spec.ServiceAccountName)
	})
}

// sharedPVCPipeline runs two parallel tasks on one PVC workspace.
const sharedPVCPipeline = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: shared
spec:
  workspaces:
    - name: src
      persistentVolumeClaim: {claimName: source-pvc}
  pipelineSpec:
    workspaces:
      - name: src
    tasks:
      - name: a
        workspaces: [{name: w, workspace: src}]
        taskSpec:
          workspaces: [{name: w}]
          steps: [{name: s, image: alpine, script: echo a}]
      - name: b
        workspaces: [{name: w, workspace: src}]
        taskSpec:
          workspaces: [{name: w}]
          steps: [{name: s, image: alpine, script: echo b}]
      - name: c
        taskSpec:
          steps: [{name: s, image: alpine, script: echo c}]
`

func TestCoschedule(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		grouped   []string // tasks whose Pods carry the affinity group
		isolation bool
	}{
		{"", []string{"a", "b"}, false}, // Tekton's default: coschedule workspaces
		{"pipelineruns", []string{"a", "b", "c"}, false},
		{"isolate-pipelinerun", []string{"a", "b", "c"}, true},
		{"disabled", nil, false},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			cfgNS := newNamespace(t)
			if tc.mode != "" {
				apply(t, cfgNS, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: feature-flags\ndata:\n  coschedule: "+tc.mode+"\n")
			}
			ns := newNamespace(t)
			startExecutor(t, ns, func(o *executor.Options) { o.ConfigNamespace = cfgNS })
			apply(t, ns, sharedPVCPipeline)
			groups := map[string]string{}
			for _, task := range []string{"a", "b", "c"} {
				pod := waitPod(t, ns, "shared-"+task+"-pod")
				g := pod.Labels[executor.LabelAffinityGroup]
				if g == "" {
					if pod.Spec.Affinity != nil {
						t.Errorf("task %s: affinity without a group: %s", task, jsonText(pod.Spec.Affinity))
					}
					continue
				}
				groups[task] = g
				want := &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{executor.LabelAffinityGroup: g}},
					TopologyKey:   "kubernetes.io/hostname",
				}}}}
				if tc.isolation {
					want.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
						LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
							{Key: executor.LabelAffinityGroup, Operator: metav1.LabelSelectorOpExists},
							{Key: executor.LabelAffinityGroup, Operator: metav1.LabelSelectorOpNotIn, Values: []string{g}},
						}},
						TopologyKey: "kubernetes.io/hostname",
					}}}
				}
				assertJSON(t, "task "+task+" affinity", pod.Spec.Affinity, want)
				tr := getTaskRun(t, ns, "shared-"+task)
				if tr.Annotations[executor.AnnotationAffinityAssistant] != g {
					t.Errorf("task %s: TaskRun annotation %q, Pod group %q", task, tr.Annotations[executor.AnnotationAffinityAssistant], g)
				}
			}
			var got []string
			for _, task := range []string{"a", "b", "c"} {
				if groups[task] != "" {
					got = append(got, task)
				}
			}
			assertJSON(t, "grouped tasks", got, tc.grouped)
			for _, task := range got {
				if groups[task] != groups[got[0]] {
					t.Errorf("tasks %s and %s are in different groups", got[0], task)
				}
			}
		})
	}
}

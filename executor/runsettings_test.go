package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Tests of what a run sets for its TaskRuns and Pods: pod templates, taskRunSpecs, compute overrides,
// metadata, pending and managedBy (issue #23).

// assertJSON compares two values through their JSON, printing both on mismatch.
func assertJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := jsonText(got), jsonText(want); g != w {
		t.Errorf("%s differ.\n--- got:\n%s\n--- want:\n%s", what, g, w)
	}
}

// podTemplateFields are the Pod settings the pod-template tests assert.
type podTemplateFields struct {
	ServiceAccountName        string
	NodeSelector              map[string]string                 `json:",omitempty"`
	DNSPolicy                 corev1.DNSPolicy                  `json:",omitempty"`
	DNSConfig                 *corev1.PodDNSConfig              `json:",omitempty"`
	HostAliases               []corev1.HostAlias                `json:",omitempty"`
	HostUsers                 *bool                             `json:",omitempty"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:",omitempty"`
	Affinity                  *corev1.Affinity                  `json:",omitempty"`
}

func templateFields(p *corev1.Pod) podTemplateFields {
	s := p.Spec
	return podTemplateFields{
		ServiceAccountName: s.ServiceAccountName, NodeSelector: s.NodeSelector, DNSPolicy: s.DNSPolicy, DNSConfig: s.DNSConfig,
		HostAliases: s.HostAliases, HostUsers: s.HostUsers, TopologySpreadConstraints: s.TopologySpreadConstraints,
		Affinity: s.Affinity,
	}
}

func TestPodTemplateOntoPod(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: tpl
spec:
  taskSpec:
    steps:
      - name: s
        image: alpine
        script: echo hi
  podTemplate:
    dnsPolicy: None
    dnsConfig:
      nameservers: [10.0.0.10]
      searches: [corp.local]
      options: [{name: ndots, value: "2"}]
    hostAliases:
      - ip: 10.1.1.1
        hostnames: [git.corp.local]
    hostUsers: false
    topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: build}}
`)
	pod := waitPod(t, ns, "tpl-pod")
	f := false
	assertJSON(t, "pod template fields", templateFields(pod), podTemplateFields{
		// No serviceAccountName in the run: Tekton's default-service-account, "default".
		ServiceAccountName: "default",
		DNSPolicy:          corev1.DNSNone,
		DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"10.0.0.10"}, Searches: []string{"corp.local"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrTo("2")}},
		},
		HostAliases: []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"git.corp.local"}}},
		HostUsers:   &f,
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "build"}},
		}},
	})
}

func ptrTo[T any](v T) *T { return &v }

// pipelineWithOverrides is a PipelineRun whose taskRunSpecs override what taskRunTemplate gives.
const pipelineWithOverrides = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
  labels: {team: from-pipeline, origin: pipeline}
  annotations: {owner: pipeline-owner}
spec:
  tasks:
    - name: build
      timeout: 3m
      taskSpec:
        metadata:
          labels: {spec-label: "yes", team: from-spec}
        sidecars:
          - name: docker
            image: docker:dind
        steps:
          - name: compile
            image: golang
            script: go build ./...
            computeResources:
              requests: {cpu: 500m}
          - name: push
            image: alpine
            script: echo push
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: over
  labels:
    team: from-run
    app.kubernetes.io/managed-by: my-ci
spec:
  pipelineRef: {name: build}
  taskRunTemplate:
    podTemplate:
      nodeSelector: {pool: build}
      env:
        - {name: A, value: template}
        - {name: B, value: template}
      hostAliases:
        - {ip: 10.1.1.1, hostnames: [git.local]}
  taskRunSpecs:
    - pipelineTaskName: build
      timeout: 7m
      metadata:
        labels: {team: from-taskrunspec, tekton.dev/pipelineTask: not-this}
        annotations: {note: from-taskrunspec}
      podTemplate:
        env:
          - {name: B, value: taskrunspec}
        tolerations:
          - {key: dedicated, operator: Equal, value: build, effect: NoSchedule}
      stepSpecs:
        - name: compile
          computeResources:
            requests: {memory: 256Mi}
      sidecarSpecs:
        - name: docker
          computeResources:
            limits: {cpu: "2"}
`

func TestPipelineRunTaskRunSpecs(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, pipelineWithOverrides)
	tr := waitTaskRun(t, ns, "over-build")

	// taskRunSpecs[].podTemplate merged over taskRunTemplate.podTemplate (Tekton's rule: the
	// taskRunSpec's fields win, env merged by name), its timeout winning over the task's 3m.
	assertJSON(t, "TaskRun podTemplate", tr.Spec.PodTemplate, &pipelinev1.PodTemplate{
		NodeSelector: map[string]string{"pool": "build"},
		Env:          []corev1.EnvVar{{Name: "B", Value: "taskrunspec"}, {Name: "A", Value: "template"}},
		Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "build", Effect: corev1.TaintEffectNoSchedule}},
		HostAliases:  []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"git.local"}}},
	})
	if tr.Spec.Timeout == nil || tr.Spec.Timeout.Duration != 7*time.Minute {
		t.Errorf("TaskRun timeout = %v, want the taskRunSpec's 7m", tr.Spec.Timeout)
	}
	if tr.Spec.ServiceAccountName != "default" {
		t.Errorf("TaskRun serviceAccountName = %q, want default", tr.Spec.ServiceAccountName)
	}
	// Labels: the taskRunSpec's metadata, then the PipelineRun's (which took the Pipeline's it lacked),
	// then the embedded spec's; the executor's own labels stay; managed-by keeps the user's value.
	for k, want := range map[string]string{
		"team": "from-taskrunspec", "origin": "pipeline", "spec-label": "yes", "tekton.dev/pipelineTask": "build",
		"tekton.dev/pipelineRun": "over", "tekton.dev/pipeline": "build", "app.kubernetes.io/managed-by": "my-ci",
	} {
		if got := tr.Labels[k]; got != want {
			t.Errorf("TaskRun label %s = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[string]string{"note": "from-taskrunspec", "owner": "pipeline-owner"} {
		if got := tr.Annotations[k]; got != want {
			t.Errorf("TaskRun annotation %s = %q, want %q", k, got, want)
		}
	}
	pr := getPipelineRun(t, ns, "over")
	if pr.Labels["origin"] != "pipeline" || pr.Labels["team"] != "from-run" || pr.Annotations["owner"] != "pipeline-owner" {
		t.Errorf("PipelineRun did not take the Pipeline's labels/annotations it lacked (its own win): %v %v", pr.Labels, pr.Annotations)
	}

	pod := waitPod(t, ns, "over-build-pod")
	if got := pod.Labels["app.kubernetes.io/managed-by"]; got != "my-ci" {
		t.Errorf("Pod managed-by = %q, want the user's my-ci", got)
	}
	res := map[string]string{}
	for _, c := range podContainers(pod) {
		if strings.HasPrefix(c.Name, "step-") || strings.HasPrefix(c.Name, "sidecar-") {
			res[c.Name] = resourcesOf(c.Resources)
		}
	}
	assertJSON(t, "container resources", res, map[string]string{
		"sidecar-docker": "requests cpu=2 limits cpu=2", // the API server defaults requests to limits
		"step-compile":   "requests cpu=500m memory=256Mi",
		"step-push":      "",
	})
	// The Pod is found although its managed-by label is not hookrun's: the run finishes.
	if err := kubelet().Finish(context.Background(), ns, pod.Name, nil); err != nil {
		t.Fatal(err)
	}
	waitTaskRunReason(t, ns, "over-build", "Succeeded")
}

// resourcesOf prints requests and limits as "requests k=v … limits k=v …", names sorted.
func resourcesOf(r corev1.ResourceRequirements) string {
	var parts []string
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		if len(l.list) == 0 {
			continue
		}
		var kv []string
		for k, v := range l.list {
			kv = append(kv, string(k)+"="+v.String())
		}
		parts = append(parts, l.name+" "+strings.Join(sortedStrings(kv), " "))
	}
	return strings.Join(parts, " ")
}

func TestTaskRunOverridesRefused(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	task := `  taskSpec:
    params:
      - name: level
        enum: [low, high]
    steps:
      - name: build
        image: alpine
        script: echo $(params.level)
`
	for _, tc := range []struct{ name, spec, reason, msg string }{
		{"unknown-step", "  stepSpecs:\n    - name: lint\n      computeResources: {requests: {cpu: 100m}}\n", "TaskRunValidationFailed",
			`spec.stepSpecs[0].name: invalid step override: no step named "lint" in the Task`},
		{"unknown-sidecar", "  sidecarSpecs:\n    - name: docker\n      computeResources: {}\n", "TaskRunValidationFailed",
			`spec.sidecarSpecs[0].name: invalid sidecar override: no sidecar named "docker" in the Task`},
		{"both", "  computeResources: {limits: {cpu: 1}}\n  stepSpecs:\n    - name: build\n      computeResources: {limits: {cpu: 1}}\n", "TaskRunValidationFailed",
			"expected exactly one, got both: spec.stepSpecs[0].computeResources, spec.computeResources"},
		{"enum", "  params:\n    - {name: level, value: medium}\n", "InvalidParamValue",
			`param "level" value "medium" is not in the enum list ["low" "high"] (spec.params)`},
	} {
		apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: "+tc.name+"\nspec:\n"+task+tc.spec)
		tr := waitTaskRunReason(t, ns, tc.name, tc.reason)
		if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Message != tc.msg {
			t.Errorf("%s: message = %q, want %q", tc.name, c.Message, tc.msg)
		}
	}
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: undeclared
spec:
  taskSpec:
    steps:
      - name: build
        image: alpine
        args: ["--revision=$(params.revision)"]
`)
	tr := waitTaskRunReason(t, ns, "undeclared", "TaskRunValidationFailed")
	want := `spec.steps[0]: $(params.revision) uses param "revision", which the Task does not declare (spec.params)`
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Message != want {
		t.Errorf("undeclared: message = %q, want %q", c.Message, want)
	}
	// A value inside the enum runs.
	apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: in-enum\nspec:\n"+task+"  params:\n    - {name: level, value: high}\n")
	waitPod(t, ns, "in-enum-pod")
}

func TestTaskRunPendingAndManagedBy(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: held
spec:
  status: TaskRunPending
  taskSpec:
    steps:
      - {name: s, image: alpine, script: echo}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: elsewhere
spec:
  managedBy: example.com/other-controller
  taskSpec:
    steps:
      - {name: s, image: alpine, script: echo}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: elsewhere
spec:
  managedBy: example.com/other-controller
  pipelineSpec:
    tasks:
      - name: t
        taskSpec:
          steps:
            - {name: s, image: alpine, script: echo}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: ours
spec:
  managedBy: tekton.dev/pipeline
  taskSpec:
    steps:
      - {name: s, image: alpine, script: echo}
`)
	tr := waitTaskRunReason(t, ns, "held", "TaskRunPending")
	if tr.Status.StartTime != nil {
		t.Errorf("a pending TaskRun has a start time")
	}
	waitPod(t, ns, "ours-pod") // the executor has had time to act on everything above
	var pod corev1.Pod
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "held-pod"}, &pod); err == nil {
		t.Errorf("a pending TaskRun got a Pod")
	}
	if tr := getTaskRun(t, ns, "elsewhere"); len(tr.Status.Conditions) > 0 || len(tr.Labels) > 0 {
		t.Errorf("a TaskRun managed by another controller was touched: %+v %v", tr.Status, tr.Labels)
	}
	if pr := getPipelineRun(t, ns, "elsewhere"); len(pr.Status.Conditions) > 0 {
		t.Errorf("a PipelineRun managed by another controller was touched: %+v", pr.Status)
	}
	// Clearing spec.status starts the run.
	patch := []byte(`{"spec":{"status":null}}`)
	if err := env.Client.Patch(context.Background(), tr, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ns, "held-pod")
}

func TestTaskMetadataToTaskRunAndPod(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: labelled
  labels: {app: from-task, tier: build}
  annotations: {docs: https://example.com/task}
spec:
  steps:
    - {name: s, image: alpine, script: echo}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: run
  labels: {app: from-run}
spec:
  taskRef: {name: labelled}
`)
	pod := waitPod(t, ns, "run-pod")
	tr := getTaskRun(t, ns, "run")
	for _, obj := range []struct {
		what              string
		labels, annotated map[string]string
	}{{"TaskRun", tr.Labels, tr.Annotations}, {"Pod", pod.Labels, pod.Annotations}} {
		if obj.labels["app"] != "from-run" || obj.labels["tier"] != "build" || obj.labels["tekton.dev/task"] != "labelled" {
			t.Errorf("%s labels = %v: want the Task's it lacked (tier), its own app", obj.what, obj.labels)
		}
		if obj.annotated["docs"] != "https://example.com/task" {
			t.Errorf("%s annotations = %v: want the Task's docs", obj.what, obj.annotated)
		}
	}
	if pod.Labels["app.kubernetes.io/managed-by"] != "hookrun" {
		t.Errorf("Pod managed-by = %q, want hookrun (none set)", pod.Labels["app.kubernetes.io/managed-by"])
	}
}

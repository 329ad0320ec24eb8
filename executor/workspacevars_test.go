package executor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Variables in workspace bindings and mounts, and the Pipeline's variables in embedded task specs (#23).

func TestWorkspaceBindingVariables(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: wsvars
spec:
  params:
    - {name: claim, value: cache-claim}
    - {name: dir, value: app}
    - {name: policy, value: IfNotPresent}
  workspaces:
    - name: src
      persistentVolumeClaim: {claimName: $(params.claim)}
      subPath: runs/$(context.taskRun.name)
    - name: conf
      configMap: {name: $(params.dir)-config}
  taskSpec:
    params:
      - name: claim
      - name: dir
      - name: policy
    workspaces:
      - name: src
        mountPath: /src/$(params.dir)
      - name: conf
    steps:
      - name: s
        image: alpine
        imagePullPolicy: $(params.policy)
        script: ls $(workspaces.src.path)
`)
	pod := waitPod(t, ns, "wsvars-pod")
	var ws []string
	for _, v := range volumeNames(pod) {
		if strings.HasPrefix(v, "ws-") {
			ws = append(ws, v)
		}
	}
	assertJSON(t, "workspace volumes", ws, []string{"ws-src=pvc(cache-claim)", "ws-conf=configMap(app-config)"})
	step := stepAt(t, pod, 0)
	var mounts []string
	for _, m := range view(step).Mounts {
		if strings.HasPrefix(m, "ws-") {
			mounts = append(mounts, m)
		}
	}
	assertJSON(t, "workspace mounts", mounts, []string{"ws-src:/src/app:sub=runs/wsvars", "ws-conf:/workspace/conf:ro"})
	if step.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy = %q, want IfNotPresent", step.ImagePullPolicy)
	}
}

func TestEmbeddedSpecPipelineVariables(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, echoTask+`---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: propagate
spec:
  params:
    - {name: secret, default: registry-creds}
  workspaces:
    - name: creds
  tasks:
    - name: a
      taskRef: {name: echo}
      params: [{name: in, value: first}]
    - name: b
      workspaces: [{name: creds, workspace: creds}]
      taskSpec:
        workspaces: [{name: creds}]
        steps:
          - name: use
            image: alpine
            script: |
              echo "$(tasks.a.results.out) $(context.pipeline.name) $(context.pipelineRun.uid) $(context.pipelineRun.name) $(params.secret)"
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: prop
spec:
  pipelineRef: {name: propagate}
  workspaces:
    - name: creds
      secret: {secretName: $(params.secret)}
`)
	waitPod(t, ns, "prop-a-pod")
	// b names no runAfter: its embedded spec's $(tasks.a.results.out) orders it after a.
	time.Sleep(500 * time.Millisecond)
	if names := taskRunNames(t, ns); len(names) != 1 {
		t.Fatalf("TaskRuns before a finished = %v, want only prop-a", names)
	}
	finishTask(t, ns, "prop-a", echoResult("v1"))
	tr := waitTaskRun(t, ns, "prop-b")
	pr := getPipelineRun(t, ns, "prop")
	want := fmt.Sprintf("echo \"v1 propagate %s prop $(params.secret)\"\n", pr.UID)
	if got := tr.Spec.TaskSpec.Steps[0].Script; got != want {
		t.Errorf("embedded script = %q, want %q (params left for the TaskRun)", got, want)
	}
	if got := tr.Spec.Workspaces[0].Secret; got == nil || got.SecretName != "registry-creds" {
		t.Errorf("workspace binding secret = %+v, want registry-creds from $(params.secret)", got)
	}
	pod := waitPod(t, ns, "prop-b-pod")
	if script := envValue(stepAt(t, pod, 0), "HOOKRUN_SCRIPT"); !strings.Contains(script, "v1 propagate "+string(pr.UID)+" prop registry-creds") {
		t.Errorf("Pod script = %q", script)
	}
}

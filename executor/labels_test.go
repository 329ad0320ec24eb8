package executor_test

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// TestRunLabels: runs carry the labels Tekton's controller sets, so `tkn pipeline list` shows LAST RUN and
// tools select runs by what they run: tekton.dev/pipeline on PipelineRuns (pipelineRef name, or the run's
// own name for an embedded spec), tekton.dev/task on TaskRuns of a Task, the full set on a pipeline's TaskRuns.
func TestRunLabels(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, echoTask+`---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: one}
spec:
  tasks: [{name: a, taskRef: {name: echo}, params: [{name: in, value: hi}]}]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: by-ref, labels: {team: blue}}
spec:
  pipelineRef: {name: one}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: embedded}
spec:
  pipelineSpec:
    tasks: [{name: a, taskSpec: {steps: [{name: s, image: alpine, script: "true"}]}}]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: direct}
spec:
  taskRef: {name: echo}
  params: [{name: in, value: hi}]
`)
	label := func(obj client.Object, key string) func() (bool, error) {
		return func() (bool, error) {
			err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
			return err == nil && obj.GetLabels()[key] != "", err
		}
	}
	for _, tc := range []struct {
		obj   client.Object
		want  map[string]string
		label string
	}{
		{&pipelinev1.PipelineRun{}, map[string]string{"tekton.dev/pipeline": "one", "team": "blue"}, "by-ref"},
		{&pipelinev1.PipelineRun{}, map[string]string{"tekton.dev/pipeline": "embedded"}, "embedded"},
		{&pipelinev1.TaskRun{}, map[string]string{"tekton.dev/task": "echo"}, "direct"},
		{&pipelinev1.TaskRun{}, map[string]string{"tekton.dev/task": "echo", "tekton.dev/pipeline": "one", "tekton.dev/pipelineRun": "by-ref",
			"tekton.dev/pipelineTask": "a", "tekton.dev/memberOf": "tasks", "team": "blue"}, "by-ref-a"},
	} {
		tc.obj.SetNamespace(ns)
		tc.obj.SetName(tc.label)
		key := "tekton.dev/pipeline"
		if _, ok := tc.want["tekton.dev/task"]; ok {
			key = "tekton.dev/task"
		}
		eventually(t, 30*time.Second, tc.label+" labelled", label(tc.obj, key))
		for k, v := range tc.want {
			if got := tc.obj.GetLabels()[k]; got != v {
				t.Errorf("%s: label %s = %q, want %q (labels %v)", tc.label, k, got, v, tc.obj.GetLabels())
			}
		}
	}
}

package executor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

// Artifacts (Tekton's alpha feature, examples/v1/taskruns/alpha and pipelineruns/alpha): $(artifacts.path)
// and $(step.artifacts.path) are replaced; a later step's $(steps.S.outputs.N) reaches the wrapper as
// --step-artifact-refs; what the steps report lands in status.steps[].inputs/outputs and status.artifacts;
// a later pipeline task's embedded spec gets $(tasks.T.outputs.N) as the JSON list of values.
func TestArtifactsThroughPipeline(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: arts
spec:
  pipelineSpec:
    tasks:
      - name: produce
        taskSpec:
          steps:
            - name: write
              image: bash
              script: |
                echo '{}' > $(artifacts.path)
                echo '{}' > $(step.artifacts.path)
            - name: read
              image: bash
              script: echo '$(steps.write.outputs.image)' '$(steps.write.inputs)' '$(steps.nope.outputs.x)'
      - name: consume
        runAfter: [produce]
        taskSpec:
          steps:
            - name: use
              image: python
              script: print('$(tasks.produce.outputs.image)', '$(tasks.produce.inputs)', '$(tasks.produce.outputs.none)')
`)
	pod := waitPod(t, ns, "arts-produce-pod")
	write, read := stepAt(t, pod, 0), stepAt(t, pod, 1)
	if got := rawEnvValue(write, entrypoint.ScriptEnv); strings.Contains(got, "artifacts.path)") ||
		!strings.Contains(got, entrypoint.TaskArtifactsPath) || !strings.Contains(got, "/tekton/steps/write/artifacts/provenance.json") {
		t.Errorf("script = %q: want $(artifacts.path) as %s and $(step.artifacts.path) as /tekton/steps/write/artifacts/provenance.json",
			got, entrypoint.TaskArtifactsPath)
	}
	if got, want := strings.Join(read.Command, " "), "--step-artifact-refs write/outputs/image,write/inputs --"; !strings.Contains(got, want) {
		t.Errorf("read command = %q, want it to contain %q", got, want)
	}
	values := `[{"digest":{"sha256":"abc"},"uri":"pkg:oci/app"}]`
	msg := func(step, task string) kubelettest.Outcome {
		m := entrypoint.Message{StepArtifacts: json.RawMessage(step), Artifacts: json.RawMessage(task)}
		b, _ := json.Marshal(m)
		return kubelettest.Outcome{Message: string(b)}
	}
	if err := kubelet().Finish(context.Background(), ns, pod.Name, map[string]kubelettest.Outcome{
		"step-write": msg(`{"outputs":[{"name":"image","values":`+values+`}]}`, `{"inputs":[{"name":"src","values":[{"uri":"git+x"}]}]}`),
		"step-read":  msg(``, `{"inputs":[{"name":"src","values":[{"uri":"git+x"}]}]}`),
	}); err != nil {
		t.Fatal(err)
	}
	tr := waitTaskRunReason(t, ns, "arts-produce", "Succeeded")
	if got, want := compactJSON(tr.Status.Artifacts), `{"inputs":[{"name":"src","values":[{"uri":"git+x"}]}],"outputs":[{"name":"image","values":`+values+`}]}`; got != want {
		t.Errorf("status.artifacts = %s, want %s", got, want)
	}
	if got := compactJSON(tr.Status.Steps[0].Outputs); got != `[{"name":"image","values":`+values+`}]` {
		t.Errorf("status.steps[0].outputs = %s", got)
	}
	consume := waitTaskRun(t, ns, "arts-consume")
	if got, want := consume.Spec.TaskSpec.Steps[0].Script, "print('"+values+"', '"+`[{"uri":"git+x"}]`+"', '$(tasks.produce.outputs.none)')"; got != want {
		t.Errorf("consume script = %q, want %q", got, want)
	}
}

func TestArtifactsMerge(t *testing.T) {
	a := &pipelinev1.Artifacts{}
	v1 := pipelinev1.ArtifactValue{Uri: "u1", Digest: map[string]string{"sha256": "1"}}
	v2 := pipelinev1.ArtifactValue{Uri: "u2"}
	a.Merge(&pipelinev1.Artifacts{Outputs: []pipelinev1.Artifact{{Name: "img", Values: []pipelinev1.ArtifactValue{v1}}}})
	a.Merge(&pipelinev1.Artifacts{Outputs: []pipelinev1.Artifact{{Name: "img", BuildOutput: true, Values: []pipelinev1.ArtifactValue{v1, v2}}, {Name: "log"}}})
	a.Merge(nil)
	if got, want := compactJSON(a), `{"outputs":[{"name":"img","values":[{"digest":{"sha256":"1"},"uri":"u1"},{"uri":"u2"}],"buildOutput":true},{"name":"log"}]}`; got != want {
		t.Errorf("merged = %s, want %s", got, want)
	}
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

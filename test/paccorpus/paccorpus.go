// Package paccorpus reads the real Pipelines-as-Code `.tekton/` PipelineRuns of ../shared/corpus/pac for the
// end-to-end tests (`hookrun dev` and the real node), with the placeholders of that project's test harness
// filled as the corpus README says.
package paccorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Runnable names the corpus files that need nothing outside the cluster and finish at once: no hub or
// remote tasks, no private clone, no long sleep. Each becomes `.tekton/FILE` in the fake forge's repository.
var Runnable = []string{
	"always-good-pipelinerun.yaml",
	"pipelinerun_with_tekton_params.yaml",
	"pipeline_with_tekton_params.yaml",
	"pipelinerun-cel-path-changed.yaml",
	"pipelinerun-match-push-pullr.yaml",
}

// Placeholders are the values the corpus's `\\ .Name //` placeholders take.
type Placeholders struct {
	Namespace, Branch, Event string
}

// Files reads the Runnable files of dir (the corpus's pac directory) as `.tekton/NAME` → content, with the
// placeholders filled. An absent corpus is an error wrapping os.ErrNotExist, so a caller can tell it apart.
func Files(dir string, p Placeholders) (map[string]string, error) {
	out := make(map[string]string, len(Runnable))
	for _, f := range Runnable {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("Pipelines-as-Code corpus: %w", err)
		}
		out[".tekton/"+f] = strings.NewReplacer(`\\ .TargetNamespace //`, p.Namespace, `\\ .TargetBranch //`, p.Branch,
			`\\ .TargetEvent //`, p.Event, `\\ .PipelineName //`, strings.TrimSuffix(f, ".yaml")).Replace(string(data))
	}
	return out, nil
}

// Dir is the corpus's pac directory for a checkout at root (../shared beside it).
func Dir(root string) string {
	return filepath.Join(root, "..", "shared", "corpus", "pac")
}

// PipelineRuns counts the PipelineRuns the files define (the runs one matching push creates).
func PipelineRuns(files map[string]string) int {
	n := 0
	for _, text := range files {
		n += strings.Count(text, "kind: PipelineRun")
	}
	return n
}

// PushPipelineRun is the tests' own `.tekton/push.yaml`: PipelineRun `build`, run on pushes to main, whose one
// step (image) prints "built OWNER/REPO at REVISION" from Pipelines-as-Code's variables.
func PushPipelineRun(image string) string {
	return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: build
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
spec:
  pipelineSpec:
    tasks:
    - name: say
      taskSpec:
        steps:
        - name: echo
          image: ` + image + `
          script: |
            #!/bin/sh
            echo "built {{ repo_owner }}/{{ repo_name }} at {{ revision }}"
`
}

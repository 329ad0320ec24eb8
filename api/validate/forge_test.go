package validate_test

import (
	"strings"
	"testing"
)

// statusTemplate is a TriggerTemplate whose PipelineRun carries the given annotations (YAML lines).
func statusTemplate(annotations string) string {
	return `apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tt}
spec:
  params: [{name: sha}, {name: repo}, {name: status, default: ""}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata:
      generateName: run-
      annotations:
` + annotations + `
    spec:
      pipelineRef: {name: p}
`
}

func TestValidateStatusAnnotations(t *testing.T) {
	const at = `spec.resourcetemplates[0].metadata.annotations`
	cases := []struct {
		name string
		yaml string
		want []string // each in one problem; empty: none
	}{
		{"params", statusTemplate(`        hookrun.dev/status: $(tt.params.status)
        hookrun.dev/status-secret: github-token
        hookrun.dev/status-repo: $(tt.params.repo)
        hookrun.dev/status-sha: $(tt.params.sha)`), nil},
		{"literal github", statusTemplate(`        hookrun.dev/status: github
        hookrun.dev/status-secret: github-token
        hookrun.dev/status-repo: octo/hello
        hookrun.dev/status-sha: $(tt.params.sha)
        hookrun.dev/status-api: https://ghe.example.com/api/v3/`), nil},
		{"unknown provider", statusTemplate(`        hookrun.dev/status: bitbucket
        hookrun.dev/status-secret: t
        hookrun.dev/status-repo: $(tt.params.repo)
        hookrun.dev/status-sha: $(tt.params.sha)`),
			[]string{at + `["hookrun.dev/status"]: unknown provider "bitbucket"`}},
		{"missing secret name", statusTemplate(`        hookrun.dev/status: $(tt.params.status)
        hookrun.dev/status-repo: $(tt.params.repo)
        hookrun.dev/status-sha: $(tt.params.sha)`),
			[]string{at + `["hookrun.dev/status-secret"]: required when hookrun.dev/status is set`}},
		{"misspelt and not a string", statusTemplate(`        hookrun.dev/status: gitlab
        hookrun.dev/status-secret: t
        hookrun.dev/status-repo: 42
        hookrun.dev/status-sha: $(tt.params.sha)
        hookrun.dev/status-commit: abc`),
			[]string{at + `["hookrun.dev/status-repo"]: must be a string`, at + `["hookrun.dev/status-commit"]: unknown annotation`,
				at + `["hookrun.dev/status-repo"]: required`}},
		{"pipelinerun", `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: r
  annotations: {hookrun.dev/status: github, hookrun.dev/status-repo: hello, hookrun.dev/status-sha: abc123}
spec:
  pipelineRef: {name: p}
`, []string{`metadata.annotations["hookrun.dev/status-secret"]: required`, `metadata.annotations["hookrun.dev/status-repo"]: "hello": GitHub wants OWNER/REPO`}},
		{"off", statusTemplate(`        hookrun.dev/status: ""`), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem contains %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

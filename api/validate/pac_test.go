package validate_test

import (
	"strings"
	"testing"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

// tektonRun is a `.tekton/` PipelineRun with the given annotations (YAML lines).
func tektonRun(annotations string) string {
	return `apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: ci
  annotations:
` + annotations + `
spec:
  pipelineRef: {name: p}
`
}

func TestValidatePACAnnotations(t *testing.T) {
	const at = `metadata.annotations["pipelinesascode.tekton.dev/`
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"ok", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[push, pull_request]"
    pipelinesascode.tekton.dev/on-target-branch: "[main, release-*]"
    pipelinesascode.tekton.dev/on-path-changed: "[src/**]"`), nil},
		{"cel ok", tektonRun(`    pipelinesascode.tekton.dev/on-cel-expression: event == "push" && "docs/***".pathChanged() && files.all.size() > 0`), nil},
		{"event", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[pull-request]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"`), []string{at + `on-event"]: "pull-request" is not one of push, pull_request, incoming`}},
		{"cel", tektonRun(`    pipelinesascode.tekton.dev/on-cel-expression: event == "push" &&`), []string{at + `on-cel-expression"]: `}},
		{"cel param", tektonRun(`    pipelinesascode.tekton.dev/on-cel-expression: branch == "main"`), nil}, // a warning: TestValidatePACWarnings
		{"glob", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
    pipelinesascode.tekton.dev/on-path-changed-ignore: "[docs/[x]"`), []string{at + `on-path-changed-ignore"]: "docs/[x" is not a valid glob`}},
		{"half", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[push]"`), []string{at + `on-target-branch"]: required with`}},
		{"remote", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
    pipelinesascode.tekton.dev/task: "[git-clone]"`), []string{at + `task"]: remote tasks and pipelines`}},
		{"misspelt", tektonRun(`    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
    pipelinesascode.tekton.dev/on-path-change: "[src/**]"`), []string{at + `on-path-change"]: unknown annotation`}},
		{"not pac", tektonRun(`    example.com/x: "y"`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				if len(got) == 0 || !strings.Contains(got[0], w) {
					t.Errorf("problems %q, want one containing %q", got, w)
				}
			}
		})
	}
}

func TestValidatePACWarnings(t *testing.T) {
	objs, probs := load.Reader("run.yaml", strings.NewReader(tektonRun(`    pipelinesascode.tekton.dev/on-cel-expression: event == "push" && enable_ci == "true"`)))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if p := validate.Objects(objs); len(p) > 0 {
		t.Fatalf("problems %v", p)
	}
	w := validate.Warnings(objs)
	if len(w) != 1 || !strings.Contains(w[0].String(), `metadata.annotations["pipelinesascode.tekton.dev/on-cel-expression"]: enable_ci: not Pipelines-as-Code variables`) {
		t.Errorf("warnings = %v", w)
	}
}

func TestValidateRepository(t *testing.T) {
	repo := func(spec string) string {
		return "apiVersion: pipelinesascode.tekton.dev/v1alpha1\nkind: Repository\nmetadata: {name: app}\nspec:\n" + spec
	}
	ok := "  url: https://github.com/o/r\n  git_provider: {secret: {name: t}, webhook_secret: {name: t}}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"ok", repo(ok + "  params: [{name: a, value: b, filter: 'event == \"push\"'}, {name: s, secret_ref: {name: x, key: k}}]\n"), nil},
		{"url", repo("  url: github.com/o/r\n  git_provider: {webhook_secret: {name: t}}\n"), []string{`spec.url: "github.com/o/r" is not`}},
		{"no provider", repo("  url: https://github.com/o/r\n"), []string{"spec.git_provider: required"}},
		{"type", repo("  url: https://github.com/o/r\n  git_provider: {type: gitea, webhook_secret: {name: t}}\n"), []string{`spec.git_provider.type: "gitea" is not supported`}},
		{"params", repo(ok + "  params: [{value: b}, {name: c, value: d, secret_ref: {name: x}}, {name: e, filter: 'event =='}]\n"),
			[]string{"spec.params[0].name: required", "spec.params[1]: value and secret_ref are exclusive", "spec.params[2].filter: "}},
		{"unknown field", repo(ok + "  concurrency: 2\n"), []string{"concurrency"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.yaml)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q, want it to contain %q", got[i], w)
				}
			}
		})
	}
}

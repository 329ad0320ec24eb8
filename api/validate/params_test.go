package validate_test

import (
	"strings"
	"testing"
)

func TestUndeclaredTaskParams(t *testing.T) {
	for _, tc := range []struct {
		name, steps string
		want        []string
	}{
		{"declared", `[{name: s, image: alpine, args: ["$(params.url)", "$(params.list[*])", "$(params['url'])", "$(inputs.params.url)", "$(shell)"]}]`, nil},
		{"undeclared in a step", `[{name: s, image: alpine, script: "echo $(params.revision) $(params.revision)"}]`,
			[]string{`in.yaml: document 1 (Task t): spec.steps[0]: $(params.revision) uses param "revision", which the Task does not declare in spec.params`}},
		{"undeclared, bracket form", `[{name: s, image: alpine, env: [{name: X, value: "$(params['dotted.name'])"}]}]`,
			[]string{`in.yaml: document 1 (Task t): spec.steps[0]: $(params.dotted.name) uses param "dotted.name", which the Task does not declare in spec.params`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  params: [{name: url}, {name: list, type: array}]\n  steps: " + tc.steps + "\n"
			got := check(t, yaml)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

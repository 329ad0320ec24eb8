package validate

import (
	"encoding/json"
	"fmt"
	"regexp"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// paramRef matches $(params.NAME…), $(params['NAME']…) and $(inputs.params.NAME…): group 1 or 2 is NAME.
var paramRef = regexp.MustCompile(`\$\((?:inputs\.)?params(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[['"]([^'"\]]+)['"]\])`)

// undeclaredParams reports each $(params.X) a Task's steps, sidecars, step template, volumes,
// workspaces or results use for an X the Task does not declare, as Tekton refuses such a Task (the
// executor fails a TaskRun of it naming the same param).
func (v *validator) undeclaredParams(path string, s *pipelinev1.TaskSpec) {
	declared := map[string]bool{}
	for _, p := range s.Params {
		declared[p.Name] = true
	}
	check := func(field string, x any) {
		raw, err := json.Marshal(x)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range paramRef.FindAllStringSubmatch(string(raw), -1) {
			name := m[1] + m[2]
			if !declared[name] && !seen[name] {
				seen[name] = true
				v.add(field, "$(params.%s) uses param %q, which the Task does not declare in %s.params", name, name, path)
			}
		}
	}
	for i := range s.Steps {
		check(fmt.Sprintf("%s.steps[%d]", path, i), s.Steps[i])
	}
	for i := range s.Sidecars {
		check(fmt.Sprintf("%s.sidecars[%d]", path, i), s.Sidecars[i])
	}
	if s.StepTemplate != nil {
		check(path+".stepTemplate", s.StepTemplate)
	}
	if len(s.Volumes) > 0 {
		check(path+".volumes", s.Volumes)
	}
	if len(s.Workspaces) > 0 {
		check(path+".workspaces", s.Workspaces)
	}
	if len(s.Results) > 0 {
		check(path+".results", s.Results)
	}
}

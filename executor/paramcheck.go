package executor

import (
	"encoding/json"
	"fmt"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// checkDeclaredParams refuses a Task whose steps, sidecars, step template, volumes, workspaces or results
// use $(params.X) (or $(inputs.params.X)) for an X the Task does not declare and the run does not give
// (an embedded spec may use params the run propagates), naming the param and the field — Tekton refuses
// such a Task when it is created; left in place the reference would reach the Pod as text.
func checkDeclaredParams(spec *pipelinev1.TaskSpec, given pipelinev1.Params) error {
	known := map[string]bool{}
	for _, ps := range spec.Params {
		known[ps.Name] = true
	}
	for _, p := range given {
		known[p.Name] = true
	}
	check := func(field string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("check params of %s: %w", field, err)
		}
		for _, ref := range subst.Refs(string(raw), "params", "inputs") {
			segs, ok := subst.Segments(ref)
			if !ok {
				continue
			}
			if segs[0] == "inputs" {
				if len(segs) < 3 || segs[1] != "params" {
					continue
				}
				segs = segs[1:]
			}
			if len(segs) >= 2 && !known[segs[1]] {
				return invalid(ReasonValidationFailed, "%s: $(%s) uses param %q, which the Task does not declare (spec.params)", field, ref, segs[1])
			}
		}
		return nil
	}
	for i := range spec.Steps {
		if err := check(fmt.Sprintf("spec.steps[%d]", i), spec.Steps[i]); err != nil {
			return err
		}
	}
	for i := range spec.Sidecars {
		if err := check(fmt.Sprintf("spec.sidecars[%d]", i), spec.Sidecars[i]); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		field string
		v     any
	}{{"spec.stepTemplate", spec.StepTemplate}, {"spec.volumes", spec.Volumes}, {"spec.workspaces", spec.Workspaces}, {"spec.results", spec.Results}} {
		if err := check(f.field, f.v); err != nil {
			return err
		}
	}
	return nil
}

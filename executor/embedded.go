package executor

import (
	"encoding/json"
	"fmt"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// pipelineOnlyVar reports whether a variable is the Pipeline's, not the TaskRun's: task results and
// statuses, $(context.pipelineRun.…), $(context.pipeline.name), $(context.pipelineTask.…).
func pipelineOnlyVar(name string) bool {
	return strings.HasPrefix(name, "tasks.") || strings.HasPrefix(name, "context.pipelineRun.") ||
		name == "context.pipeline.name" || strings.HasPrefix(name, "context.pipelineTask.")
}

// substituteEmbedded replaces, in a pipeline task's embedded taskSpec, the Pipeline's own variables —
// results of earlier tasks (Tekton's propagated results; the graph orders the task after them) and the
// PipelineRun's context —, which the TaskRun could not resolve. Params and the TaskRun's context stay for
// the TaskRun to replace.
func substituteEmbedded(ts *pipelinev1.TaskSpec, vars subst.Vars) (*pipelinev1.TaskSpec, error) {
	only := subst.Vars{}
	for name, v := range vars {
		if pipelineOnlyVar(name) {
			only[name] = v
		}
	}
	raw, err := json.Marshal(ts)
	if err != nil {
		return nil, fmt.Errorf("embedded taskSpec: %w", err)
	}
	if !strings.Contains(string(raw), "$(") {
		return ts, nil
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("embedded taskSpec: %w", err)
	}
	if raw, err = json.Marshal(substituteStrings(doc, only)); err != nil {
		return nil, fmt.Errorf("embedded taskSpec: %w", err)
	}
	out := &pipelinev1.TaskSpec{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("embedded taskSpec: %w", err)
	}
	return out, nil
}

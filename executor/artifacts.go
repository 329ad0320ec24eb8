package executor

import (
	"encoding/json"
	"path"
	"regexp"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/subst"
)

// Artifacts (Tekton's alpha artifacts, docs/artifacts.md): a step writes JSON provenance ({inputs, outputs}:
// named lists of {uri, digest} values) to $(step.artifacts.path) or to the Task's $(artifacts.path); the
// wrapper reports both in its termination message; the executor puts a step's own in status.steps[].inputs
// and outputs and merges all into status.artifacts. $(steps.S.inputs|outputs[.NAME]) in a later step is
// replaced by the wrapper with that category's values as JSON; $(tasks.T.inputs|outputs[.NAME]) in an
// embedded Task spec of a Pipeline with those of T's TaskRun (the first category when NAME is omitted).

// setArtifactPathVars sets $(step.artifacts.path) of step stepName in v.
func setArtifactPathVars(v subst.Vars, stepName string) {
	v.SetString("step.artifacts.path", path.Join(entrypoint.StepsDir, stepName, "artifacts", "provenance.json"))
}

// stepArtifactRefs finds the $(steps.S.inputs|outputs[.NAME]) references step i makes to a step before
// it, as the Task author wrote them (before params are replaced, so a param value never adds one).
func (b *podBuilder) stepArtifactRefs(i int, st pipelinev1.Step) []entrypoint.StepArtifactRef {
	earlier := map[string]bool{}
	for j, prev := range b.req.Spec.Steps[:i] {
		earlier[strings.TrimPrefix(stepContainerName(prev.Name, j), StepPrefix)] = true
	}
	texts := append(append([]string{st.Script}, st.Command...), st.Args...)
	for _, e := range st.Env {
		texts = append(texts, e.Value)
	}
	var out []entrypoint.StepArtifactRef
	seen := map[entrypoint.StepArtifactRef]bool{}
	for _, t := range texts {
		for _, m := range entrypoint.StepArtifactExpr().FindAllStringSubmatch(t, -1) {
			ref := entrypoint.StepArtifactRef{Step: strings.TrimPrefix(m[1], "step-"), Kind: m[2], Name: m[3]}
			if earlier[ref.Step] && !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	return out
}

// addArtifacts records what a step's message says about artifacts: its own in st, both in the TaskRun's
// (the Task's file first, then the step's, as Tekton merges them).
func (out *podOutcome) addArtifacts(st *pipelinev1.StepState, msg entrypoint.Message) {
	merge := func(a *pipelinev1.Artifacts) {
		if out.Artifacts == nil {
			out.Artifacts = &pipelinev1.Artifacts{}
		}
		out.Artifacts.Merge(a)
	}
	if task := decodeArtifacts(msg.Artifacts); task != nil {
		merge(task)
	}
	if own := decodeArtifacts(msg.StepArtifacts); own != nil {
		st.Inputs, st.Outputs = own.Inputs, own.Outputs
		merge(own)
	}
}

// decodeArtifacts reads artifacts a wrapper reported (nil when none or not an artifacts document).
func decodeArtifacts(raw json.RawMessage) *pipelinev1.Artifacts {
	if len(raw) == 0 {
		return nil
	}
	var a pipelinev1.Artifacts
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil
	}
	return &a
}

// setArtifactVars records a finished TaskRun's artifacts as PREFIXinputs.NAME and PREFIXoutputs.NAME
// (JSON lists of values), PREFIXinputs and PREFIXoutputs being the first category's.
func setArtifactVars(v subst.Vars, prefix string, tr *pipelinev1.TaskRun) {
	if tr == nil || tr.Status.Artifacts == nil {
		return
	}
	for _, kind := range []struct {
		name string
		list []pipelinev1.Artifact
	}{{"inputs", tr.Status.Artifacts.Inputs}, {"outputs", tr.Status.Artifacts.Outputs}} {
		for i, a := range kind.list {
			b, err := json.Marshal(a.Values)
			if err != nil {
				continue
			}
			v.SetString(prefix+kind.name+"."+a.Name, string(b))
			if i == 0 {
				v.SetString(prefix+kind.name, string(b))
			}
		}
	}
}

// taskArtifactRef matches $(tasks.T.inputs|outputs[.NAME]).
var taskArtifactRef = regexp.MustCompile(`\$\(tasks\.[^.()\s]+\.(?:inputs|outputs)(?:\.[^.()\s]+)?\)`)

// substituteArtifactRefs replaces, in an embedded Task spec's steps, the $(tasks.T.inputs|outputs[.NAME])
// references vars knows (Tekton replaces them in the Task spec, not through params); nothing else in the
// spec is touched.
func substituteArtifactRefs(spec *pipelinev1.TaskSpec, vars subst.Vars) {
	only := subst.Vars{}
	for i := range spec.Steps {
		st := &spec.Steps[i]
		texts := append(append([]string{st.Script}, st.Command...), st.Args...)
		for _, e := range st.Env {
			texts = append(texts, e.Value)
		}
		for _, t := range texts {
			for _, m := range taskArtifactRef.FindAllString(t, -1) {
				name := m[2 : len(m)-1]
				if val, ok := vars[name]; ok {
					only[name] = val
				}
			}
		}
	}
	if len(only) == 0 {
		return
	}
	for i := range spec.Steps {
		spec.Steps[i] = substituteStep(spec.Steps[i], only)
	}
}

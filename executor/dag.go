package executor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// resultRef is a $(tasks.T.results.R) reference.
type resultRef struct {
	Task, Result string
}

// taskRefs returns the result references and task-status references in a pipeline task's params and when
// expressions (and its embedded spec's text, which may use results).
func pipelineTaskRefs(pt *pipelinev1.PipelineTask) (results []resultRef, statuses []string) {
	var texts []string
	for _, p := range pt.Params {
		texts = append(texts, paramTexts(p.Value)...)
	}
	for _, w := range pt.When {
		texts = append(texts, w.Input, w.CEL)
		texts = append(texts, w.Values...)
	}
	if pt.Matrix != nil {
		for _, p := range pt.Matrix.Params {
			texts = append(texts, paramTexts(p.Value)...)
		}
		for _, inc := range pt.Matrix.Include {
			for _, p := range inc.Params {
				texts = append(texts, paramTexts(p.Value)...)
			}
		}
	}
	if pt.TaskSpec != nil { // propagated results: an embedded spec may use them
		if raw, err := json.Marshal(pt.TaskSpec.TaskSpec); err == nil {
			texts = append(texts, string(raw))
		}
	}
	seen := map[resultRef]bool{}
	for _, s := range texts {
		for _, ref := range subst.Refs(s, "tasks") {
			segs, ok := subst.Segments(ref)
			if !ok || len(segs) < 3 {
				continue
			}
			switch {
			case len(segs) >= 4 && segs[2] == "results":
				r := resultRef{Task: segs[1], Result: segs[3]}
				if !seen[r] {
					seen[r] = true
					results = append(results, r)
				}
			case segs[2] == "status" || segs[2] == "reason":
				statuses = append(statuses, segs[1])
			}
		}
	}
	return results, statuses
}

func paramTexts(v pipelinev1.ParamValue) []string {
	switch v.Type {
	case pipelinev1.ParamTypeArray:
		return v.ArrayVal
	case pipelinev1.ParamTypeObject:
		out := make([]string, 0, len(v.ObjectVal))
		for _, k := range sortedKeys(v.ObjectVal) {
			out = append(out, v.ObjectVal[k])
		}
		return out
	}
	return []string{v.StringVal}
}

// pipelineGraph is the validated DAG of a Pipeline's tasks.
type pipelineGraph struct {
	// parents maps a task to the tasks it waits for (runAfter and result references).
	parents map[string][]string
	// order is the tasks in declaration order.
	order []string
}

// buildGraph validates a Pipeline's tasks and returns their DAG. Errors name the offending field.
func buildGraph(spec *pipelinev1.PipelineSpec) (*pipelineGraph, error) {
	g := &pipelineGraph{parents: map[string][]string{}}
	index := map[string]int{}
	finallyNames := map[string]bool{}
	if len(spec.Tasks) == 0 {
		return nil, invalid(ReasonPipelineValidationFailed, "the Pipeline has no tasks (spec.tasks)")
	}
	for i, pt := range spec.Tasks {
		if pt.Name == "" {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.tasks[%d].name is empty", i)
		}
		if _, dup := index[pt.Name]; dup {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.tasks[%d].name: task %q is declared twice", i, pt.Name)
		}
		index[pt.Name] = i
		g.order = append(g.order, pt.Name)
	}
	for i, pt := range spec.Finally {
		if pt.Name == "" {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.finally[%d].name is empty", i)
		}
		if _, dup := index[pt.Name]; dup || finallyNames[pt.Name] {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.finally[%d].name: task %q is declared twice", i, pt.Name)
		}
		if len(pt.RunAfter) > 0 {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.finally[%d].runAfter: finally tasks cannot use runAfter", i)
		}
		finallyNames[pt.Name] = true
	}
	for i := range spec.Tasks {
		pt := &spec.Tasks[i]
		field := fmt.Sprintf("spec.tasks[%d]", i)
		if err := checkPipelineTask(field, pt); err != nil {
			return nil, err
		}
		var parents []string
		for _, a := range pt.RunAfter {
			if _, ok := index[a]; !ok {
				return nil, invalid(ReasonPipelineValidationFailed, "%s.runAfter: task %q does not exist", field, a)
			}
			if a == pt.Name {
				return nil, invalid(ReasonPipelineValidationFailed, "%s.runAfter: task %q cannot run after itself", field, a)
			}
			parents = append(parents, a)
		}
		refs, statuses := pipelineTaskRefs(pt)
		if len(statuses) > 0 {
			return nil, invalid(ReasonPipelineValidationFailed, "%s: $(tasks.%s.status) is only available in finally tasks", field, statuses[0])
		}
		for _, r := range refs {
			if _, ok := index[r.Task]; !ok {
				if finallyNames[r.Task] {
					return nil, invalid(ReasonPipelineValidationFailed, "%s: result reference $(tasks.%s.results.%s) names a finally task", field, r.Task, r.Result)
				}
				return nil, invalid(ReasonPipelineValidationFailed, "%s: result reference $(tasks.%s.results.%s) names a task that does not exist", field, r.Task, r.Result)
			}
			parents = append(parents, r.Task)
		}
		g.parents[pt.Name] = dedupe(parents)
	}
	if err := checkFinally(spec, index); err != nil {
		return nil, err
	}
	if cycle := findCycle(g); cycle != nil {
		return nil, invalid(ReasonPipelineValidationFailed, "spec.tasks: the tasks form a cycle: %s", strings.Join(cycle, " -> "))
	}
	return g, nil
}

// checkFinally checks the finally tasks: what they run, and that the results and statuses they use are of
// DAG tasks (index).
func checkFinally(spec *pipelinev1.PipelineSpec, index map[string]int) error {
	for i := range spec.Finally {
		pt := &spec.Finally[i]
		field := fmt.Sprintf("spec.finally[%d]", i)
		if err := checkPipelineTask(field, pt); err != nil {
			return err
		}
		refs, statuses := pipelineTaskRefs(pt)
		for _, r := range refs {
			if _, ok := index[r.Task]; !ok {
				return invalid(ReasonPipelineValidationFailed, "%s: result reference $(tasks.%s.results.%s) names a task that is not in spec.tasks", field, r.Task, r.Result)
			}
		}
		for _, s := range statuses {
			if _, ok := index[s]; !ok {
				return invalid(ReasonPipelineValidationFailed, "%s: $(tasks.%s.status) names a task that is not in spec.tasks", field, s)
			}
		}
	}
	return nil
}

// checkPipelineTask checks what a pipeline task runs and its matrix and when expressions.
func checkPipelineTask(field string, pt *pipelinev1.PipelineTask) error {
	if f := pipelineInPipeline(pt); f != "" {
		return invalid(ReasonPipelineValidationFailed, "%s.%s: Pipelines in Pipelines (a pipeline task running a Pipeline, Tekton alpha) are not supported by hookrun: write the Pipeline's tasks into this Pipeline", field, f)
	}
	if pt.TaskRef == nil && pt.TaskSpec == nil {
		return invalid(ReasonPipelineValidationFailed, "%s: needs taskRef or taskSpec", field)
	}
	if pt.TaskRef != nil && !pt.TaskRef.IsCustomTask() {
		if err := refusedTaskRef(pt.TaskRef, field+".taskRef"); err != nil {
			return invalid(ReasonPipelineValidationFailed, "%s", err.Error())
		}
	}
	if err := checkCustomTask(field, pt); err != nil {
		return err
	}
	if err := validateMatrix(field, pt, 0); err != nil {
		return err
	}
	for j, w := range pt.When {
		if w.CEL != "" {
			if w.Input != "" || w.Operator != "" || len(w.Values) > 0 {
				return invalid(ReasonPipelineValidationFailed, "%s.when[%d]: cel cannot be combined with input, operator or values", field, j)
			}
			continue
		}
		if w.Operator != "in" && w.Operator != "notin" {
			return invalid(ReasonPipelineValidationFailed, "%s.when: operator %q must be in or notin", field, w.Operator)
		}
	}
	return nil
}

// pipelineInPipeline names the field of a pipeline task that runs a Pipeline, or "".
func pipelineInPipeline(pt *pipelinev1.PipelineTask) string {
	switch {
	case pt.PipelineSpec != nil:
		return "pipelineSpec"
	case pt.PipelineRef != nil:
		return "pipelineRef"
	}
	return ""
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// findCycle returns a cycle in the graph, or nil.
func findCycle(g *pipelineGraph) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycle []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, p := range g.parents[n] {
			switch color[p] {
			case grey:
				for i, s := range stack {
					if s == p {
						cycle = append(append([]string{}, stack[i:]...), p)
						return true
					}
				}
			case white:
				if visit(p) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, n := range g.order {
		if color[n] == white && visit(n) {
			return cycle
		}
	}
	return nil
}

// evalWhen evaluates when expressions (already substituted).
func evalWhen(list pipelinev1.WhenExpressions) bool {
	for _, w := range list {
		in := false
		for _, v := range w.Values {
			if v == w.Input {
				in = true
				break
			}
		}
		if (w.Operator == "in") != in {
			return false
		}
	}
	return true
}

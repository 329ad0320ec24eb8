package validate

import (
	"encoding/json"
	"fmt"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func (v *validator) pipelineSpec(path string, s *pipelinev1.PipelineSpec, ns string) {
	v.params(path+".params", specNames(s.Params))
	all, dag := v.pipelineTaskNames(path, s)
	declaredRes := map[string]bool{}
	for _, r := range s.Resources {
		declaredRes[r.Name] = true
	}
	c := &pipelineCheck{path: path, ns: ns, all: all, dag: dag, declaredRes: declaredRes, edges: map[string][]string{}}
	eachPipelineTask(path, s, func(finally bool, tp string, pt *pipelinev1.PipelineTask) {
		v.pipelineTask(c, finally, tp, pt)
	})
	v.pipelineResults(c, s.Results)
	if cycle := findCycle(s.Tasks, c.edges); cycle != nil {
		v.add(path+".tasks", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
}

// pipelineCheck is what the checks of one pipeline spec's tasks share.
type pipelineCheck struct {
	path, ns    string
	all         map[string]*pipelinev1.PipelineTask // every named task, tasks and finally
	dag         map[string]bool                     // the names of the tasks (not finally)
	declaredRes map[string]bool                     // the declared pipeline resources
	edges       map[string][]string                 // the dependencies of the tasks, for findCycle
}

// eachPipelineTask calls f on every task then every finally task, with its field path.
func eachPipelineTask(path string, s *pipelinev1.PipelineSpec, f func(finally bool, tp string, pt *pipelinev1.PipelineTask)) {
	for li, list := range [][]pipelinev1.PipelineTask{s.Tasks, s.Finally} {
		kind := "tasks"
		if li == 1 {
			kind = "finally"
		}
		for i := range list {
			f(li == 1, fmt.Sprintf("%s.%s[%d]", path, kind, i), &list[i])
		}
	}
}

// pipelineTaskNames checks the task names are set and unique, and indexes them.
func (v *validator) pipelineTaskNames(path string, s *pipelinev1.PipelineSpec) (all map[string]*pipelinev1.PipelineTask, dag map[string]bool) {
	all = map[string]*pipelinev1.PipelineTask{}
	dag = map[string]bool{}
	eachPipelineTask(path, s, func(finally bool, tp string, pt *pipelinev1.PipelineTask) {
		if pt.Name == "" {
			v.add(tp+".name", "required")
			return
		}
		if _, dup := all[pt.Name]; dup {
			v.add(tp+".name", "duplicate pipeline task name %q", pt.Name)
			return
		}
		all[pt.Name] = pt
		if !finally {
			dag[pt.Name] = true
		}
	})
	return all, dag
}

// pipelineTask checks one pipeline task: its task, params, runAfter, resources and result references.
func (v *validator) pipelineTask(c *pipelineCheck, finally bool, tp string, pt *pipelinev1.PipelineTask) {
	if (pt.TaskRef == nil) == (pt.TaskSpec == nil) && pt.PipelineSpec == nil && pt.PipelineRef == nil {
		v.add(tp, "exactly one of taskRef or taskSpec is required")
	}
	v.pipelineTaskFeatures(tp, pt, v.taskSpecOf(pt, c.ns))
	custom := pt.IsCustomTask()
	if custom {
		v.customTask(tp, pt)
	}
	if pt.TaskSpec != nil && !custom {
		v.taskSpec(tp+".taskSpec", &pt.TaskSpec.TaskSpec)
	}
	if pt.TaskRef != nil && !custom {
		v.taskRef(tp+".taskRef", pt.TaskRef)
	}
	v.params(tp+".params", paramNames(pt.Params))
	v.pipelineTaskRunAfter(c, finally, tp, pt)
	v.pipelineTaskResources(c, tp, pt)
	v.pipelineTaskResultRefs(c, finally, tp, pt)
}

func (v *validator) pipelineTaskRunAfter(c *pipelineCheck, finally bool, tp string, pt *pipelinev1.PipelineTask) {
	for j, ra := range pt.RunAfter {
		switch {
		case finally:
			v.add(fmt.Sprintf("%s.runAfter[%d]", tp, j), "finally tasks cannot use runAfter")
		case !c.dag[ra]:
			v.add(fmt.Sprintf("%s.runAfter[%d]", tp, j), "task %q does not exist in %s.tasks", ra, c.path)
		default:
			c.edges[pt.Name] = append(c.edges[pt.Name], ra)
		}
	}
}

func (v *validator) pipelineTaskResources(c *pipelineCheck, tp string, pt *pipelinev1.PipelineTask) {
	if pt.Resources == nil {
		return
	}
	for j, in := range pt.Resources.Inputs {
		if !c.declaredRes[in.Resource] {
			v.add(fmt.Sprintf("%s.resources.inputs[%d].resource", tp, j), "pipeline resource %q is not declared in %s.resources", in.Resource, c.path)
		}
	}
	for j, out := range pt.Resources.Outputs {
		if !c.declaredRes[out.Resource] {
			v.add(fmt.Sprintf("%s.resources.outputs[%d].resource", tp, j), "pipeline resource %q is not declared in %s.resources", out.Resource, c.path)
		}
	}
}

func (v *validator) pipelineTaskResultRefs(c *pipelineCheck, finally bool, tp string, pt *pipelinev1.PipelineTask) {
	for _, r := range pipelineTaskRefs(pt) {
		from, ok := c.all[r.task]
		switch {
		case !ok:
			v.add(tp+"."+r.field, "references results of task %q, which does not exist", r.task)
			continue
		case !finally && !c.dag[r.task]:
			v.add(tp+"."+r.field, "references results of finally task %q", r.task)
			continue
		}
		if res, known := v.taskResults(from, c.ns); known && !res[r.result] {
			v.add(tp+"."+r.field, "result %q is not declared by task %q", r.result, r.task)
		}
		if !finally {
			c.edges[pt.Name] = append(c.edges[pt.Name], r.task)
		}
	}
}

// pipelineResults checks the task results the pipeline's results reference exist.
func (v *validator) pipelineResults(c *pipelineCheck, results []pipelinev1.PipelineResult) {
	for i, r := range results {
		b, _ := json.Marshal(r.Value)
		for _, m := range taskResultRef.FindAllStringSubmatch(string(b), -1) {
			from, ok := c.all[m[1]]
			if !ok {
				v.add(fmt.Sprintf("%s.results[%d].value", c.path, i), "references results of task %q, which does not exist", m[1])
				continue
			}
			if res, known := v.taskResults(from, c.ns); known && !res[m[2]] {
				v.add(fmt.Sprintf("%s.results[%d].value", c.path, i), "result %q is not declared by task %q", m[2], m[1])
			}
		}
	}
}

type resultRef struct{ field, task, result string }

func pipelineTaskRefs(pt *pipelinev1.PipelineTask) []resultRef {
	var out []resultRef
	scan := func(field, s string) {
		for _, m := range taskResultRef.FindAllStringSubmatch(s, -1) {
			out = append(out, resultRef{field, m[1], m[2]})
		}
	}
	for i, p := range pt.Params {
		b, _ := json.Marshal(p.Value)
		scan(fmt.Sprintf("params[%d].value", i), string(b))
	}
	if pt.Matrix != nil {
		for i, p := range pt.Matrix.Params {
			b, _ := json.Marshal(p.Value)
			scan(fmt.Sprintf("matrix.params[%d].value", i), string(b))
		}
		for i, inc := range pt.Matrix.Include {
			for j, p := range inc.Params {
				scan(fmt.Sprintf("matrix.include[%d].params[%d].value", i, j), p.Value.StringVal)
			}
		}
	}
	for i, w := range pt.When {
		scan(fmt.Sprintf("when[%d].cel", i), w.CEL)
		scan(fmt.Sprintf("when[%d].input", i), w.Input)
		for j, val := range w.Values {
			scan(fmt.Sprintf("when[%d].values[%d]", i, j), val)
		}
	}
	return out
}

// findCycle returns one cycle in the runAfter/result graph as task names, or nil.
func findCycle(tasks []pipelinev1.PipelineTask, edges map[string][]string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range edges[n] {
			switch color[d] {
			case grey:
				for i, s := range stack {
					if s == d {
						return append(append([]string{}, stack[i:]...), d)
					}
				}
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	for _, t := range tasks {
		if color[t.Name] == white {
			if c := visit(t.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

// Package validate checks loaded manifests the way `hookrun validate` reports them: each problem names the
// file, the document, the field path and a reason. It checks each object on its own (duplicate params,
// undeclared template params, results used but not declared, CEL that does not compile, …) and the set as a
// whole (a Trigger's bindings and template exist, runAfter names a task, the task graph has no cycle).
package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hookrun/hookrun/api/load"
	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1alpha1 "github.com/hookrun/hookrun/api/pipeline/v1alpha1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/runctl"
	"github.com/hookrun/hookrun/templates"
)

// Objects validates a set of loaded objects together and returns every problem, sorted by file and document.
func Objects(objs []load.Object) []load.Problem {
	v := &validator{set: index(objs)}
	for i := range objs {
		o := &objs[i]
		v.cur = o
		switch obj := o.Obj.(type) {
		case *pipelinev1.Task:
			v.taskSpec("spec", &obj.Spec)
			v.undeclaredParams("spec", &obj.Spec)
		case *pipelinev1beta1.ClusterTask:
			v.taskSpec("spec", &obj.Spec)
			v.undeclaredParams("spec", &obj.Spec)
		case *pipelinev1.StepAction:
			v.stepAction("spec", &obj.Spec)
		case *pipelinev1.TaskRun:
			v.params("spec.params", paramNames(obj.Spec.Params))
			if (obj.Spec.TaskRef == nil) == (obj.Spec.TaskSpec == nil) {
				v.add("spec", "exactly one of taskRef or taskSpec is required")
			}
			if obj.Spec.TaskRef != nil {
				v.taskRef("spec.taskRef", obj.Spec.TaskRef)
			}
			if obj.Spec.TaskSpec != nil {
				v.taskSpec("spec.taskSpec", obj.Spec.TaskSpec)
			}
		case *pipelinev1beta1.CustomRun:
			v.customRun("spec", obj.Spec.CustomRef, obj.Spec.CustomSpec != nil, "customRef", "customSpec", obj.Spec.Params)
		case *pipelinev1alpha1.Run:
			v.customRun("spec", obj.Spec.Ref, obj.Spec.Spec != nil, "ref", "spec", obj.Spec.Params)
		case *pipelinev1.Pipeline:
			v.pipelineSpec("spec", &obj.Spec, o.Namespace())
		case *pipelinev1.PipelineRun:
			v.params("spec.params", paramNames(obj.Spec.Params))
			v.statusAnnotations("metadata.annotations", obj.Annotations)
			v.pacAnnotations("metadata.annotations", obj.Annotations)
			if (obj.Spec.PipelineRef == nil) == (obj.Spec.PipelineSpec == nil) {
				v.add("spec", "exactly one of pipelineRef or pipelineSpec is required")
			}
			if obj.Spec.PipelineRef != nil {
				v.pipelineRef("spec.pipelineRef", obj.Spec.PipelineRef)
			}
			if obj.Spec.PipelineSpec != nil {
				v.pipelineSpec("spec.pipelineSpec", obj.Spec.PipelineSpec, o.Namespace())
			}
		case *pacv1alpha1.Repository:
			v.repository(&obj.Spec)
		case *triggersv1beta1.TriggerBinding:
			v.bindingParams("spec.params", obj.Spec.Params)
		case *triggersv1beta1.ClusterTriggerBinding:
			v.bindingParams("spec.params", obj.Spec.Params)
		case *triggersv1beta1.TriggerTemplate:
			v.triggerTemplate("spec", &obj.Spec)
		case *triggersv1beta1.Trigger:
			v.trigger("spec", &obj.Spec, o.Namespace())
			v.runControl(obj.Annotations)
		case *triggersv1beta1.EventListener:
			v.eventListener(obj, o.Namespace())
			v.runControl(obj.Annotations)
		}
	}
	sort.SliceStable(v.problems, func(i, j int) bool {
		a, b := v.problems[i], v.problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Index < b.Index
	})
	return v.problems
}

type key struct{ kind, name string }

type objectSet map[key][]*load.Object

func index(objs []load.Object) objectSet {
	s := objectSet{}
	for i := range objs {
		o := &objs[i]
		k := key{o.GVK.Kind, o.Name}
		s[k] = append(s[k], o)
	}
	return s
}

// find returns the object of kind/name visible from namespace ns ("" matches any).
func (s objectSet) find(kind, name, ns string) *load.Object {
	for _, o := range s[key{kind, name}] {
		if ns == "" || o.Namespace() == "" || o.Namespace() == ns {
			return o
		}
	}
	return nil
}

type validator struct {
	set      objectSet
	cur      *load.Object
	problems []load.Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, load.Problem{
		File: v.cur.File, Index: v.cur.Index, Kind: v.cur.GVK.Kind, Name: v.cur.Name,
		Field: field, Reason: fmt.Sprintf(format, args...),
	})
}

func paramNames(ps pipelinev1.Params) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func specNames(ps pipelinev1.ParamSpecs) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// params reports empty and duplicate names in a param list at path.
func (v *validator) params(path string, names []string) {
	seen := map[string]int{}
	for i, n := range names {
		if n == "" {
			v.add(fmt.Sprintf("%s[%d].name", path, i), "required")
			continue
		}
		if j, dup := seen[n]; dup {
			v.add(fmt.Sprintf("%s[%d].name", path, i), "duplicate param name %q (also %s[%d])", n, path, j)
			continue
		}
		seen[n] = i
	}
}

func (v *validator) bindingParams(path string, ps []triggersv1beta1.Param) {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	v.params(path, names)
}

var (
	resultPathRef = regexp.MustCompile(`\$\(results\.([^.)\s\[]+)\.path\)`)
	taskResultRef = regexp.MustCompile(`\$\(tasks\.([^.)\s]+)\.results\.([^.)\s\[]+)`)
)

func (v *validator) taskSpec(path string, s *pipelinev1.TaskSpec) {
	v.params(path+".params", specNames(s.Params))
	declared := map[string]bool{}
	for _, r := range s.Results {
		declared[r.Name] = true
	}
	v.taskResultValues(path, s)
	stepNames := map[string]int{}
	templateImage := s.StepTemplate != nil && s.StepTemplate.Image != ""
	if len(s.Steps) == 0 {
		v.add(path+".steps", "a Task needs at least one step")
	}
	for i, sc := range s.Sidecars {
		v.workspaceUsages(fmt.Sprintf("%s.sidecars[%d]", path, i), sc.Workspaces)
	}
	for i, st := range s.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", path, i)
		if st.Name != "" {
			if j, dup := stepNames[st.Name]; dup {
				v.add(sp+".name", "duplicate step name %q (also %s.steps[%d])", st.Name, path, j)
			}
			stepNames[st.Name] = i
		}
		if st.Image == "" && !templateImage && st.Ref == nil {
			v.add(sp+".image", "required")
		}
		v.step(sp, &s.Steps[i], s.StepTemplate != nil && len(s.StepTemplate.Command) > 0)
		if st.Script != "" && len(st.Command) > 0 {
			v.add(sp+".script", "script cannot be used with command")
		}
		fields := map[string]string{"script": st.Script, "command": strings.Join(st.Command, " "), "args": strings.Join(st.Args, " ")}
		for i, e := range st.Env {
			fields[fmt.Sprintf("env[%d].value", i)] = e.Value
		}
		for _, f := range sortedKeys(fields) {
			for _, m := range resultPathRef.FindAllStringSubmatch(fields[f], -1) {
				if !declared[m[1]] {
					v.add(sp+"."+f, "result %q is written but not declared in %s.results", m[1], path)
				}
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// taskSpecOf is a pipeline task's Task spec: embedded, or a Task of the set being validated; nil when
// not known here.
func (v *validator) taskSpecOf(pt *pipelinev1.PipelineTask, ns string) *pipelinev1.TaskSpec {
	switch {
	case pt.IsCustomTask():
		return nil // only the custom task's controller knows its params and results
	case pt.TaskSpec != nil:
		return &pt.TaskSpec.TaskSpec
	case pt.TaskRef != nil && (pt.TaskRef.Kind == "" || pt.TaskRef.Kind == "Task"):
		if o := v.set.find("Task", pt.TaskRef.Name, ns); o != nil {
			return &o.Obj.(*pipelinev1.Task).Spec
		}
	case pt.TaskRef != nil && pt.TaskRef.Kind == "ClusterTask":
		if o := v.set.find("ClusterTask", pt.TaskRef.Name, ""); o != nil {
			return &o.Obj.(*pipelinev1beta1.ClusterTask).Spec
		}
	}
	return nil
}

// taskResults returns the results a pipeline task's Task declares, and whether they are known.
func (v *validator) taskResults(pt *pipelinev1.PipelineTask, ns string) (map[string]bool, bool) {
	spec := v.taskSpecOf(pt, ns)
	if spec == nil {
		return nil, false
	}
	out := map[string]bool{}
	for _, r := range spec.Results {
		out[r.Name] = true
	}
	return out, true
}

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

func (v *validator) triggerTemplate(path string, s *triggersv1beta1.TriggerTemplateSpec) {
	names := make([]string, len(s.Params))
	tpl := &templates.Template{}
	for i, p := range s.Params {
		names[i] = p.Name
		tpl.Params = append(tpl.Params, templates.ParamSpec{Name: p.Name, Default: p.Default})
	}
	v.params(path+".params", names)
	for i, rt := range s.ResourceTemplates {
		var probe struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(rt.Raw, &probe); err != nil || probe.APIVersion == "" || probe.Kind == "" {
			v.add(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), "must be an object with apiVersion and kind")
		}
		v.resourceTemplateAnnotations(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), rt.Raw)
		one := &templates.Template{Params: tpl.Params, ResourceTemplates: [][]byte{rt.Raw}}
		for _, name := range templates.Undeclared(one) {
			v.add(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), "$(tt.params.%s) is not declared in %s.params", name, path)
		}
	}
}

func (v *validator) bindings(path string, bs []*triggersv1beta1.TriggerSpecBinding, ns string) {
	for i, b := range bs {
		bp := fmt.Sprintf("%s.bindings[%d]", path, i)
		if b == nil {
			continue
		}
		switch ref := b.RefName(); {
		case ref != "":
			kind := b.Kind
			if kind == "" {
				kind = triggersv1beta1.NamespacedTriggerBindingKind
			}
			if kind != triggersv1beta1.NamespacedTriggerBindingKind && kind != triggersv1beta1.ClusterTriggerBindingKind {
				v.add(bp+".kind", "must be TriggerBinding or ClusterTriggerBinding, not %q", kind)
				continue
			}
			if v.set.find(kind, ref, ns) == nil {
				v.add(bp+".ref", "%s %q not found in the loaded files", kind, ref)
			}
		case b.Name != "" && b.Value != nil:
		case b.Spec != nil:
		default:
			v.add(bp, "a binding needs ref, or name and value")
		}
	}
}

func (v *validator) template(path string, t *triggersv1beta1.TriggerSpecTemplate, ns string) {
	if t == nil {
		v.add(path+".template", "required")
		return
	}
	ref := t.Name
	if t.Ref != nil {
		ref = *t.Ref
	}
	switch {
	case t.Spec != nil:
		v.triggerTemplate(path+".template.spec", t.Spec)
	case ref != "":
		if v.set.find("TriggerTemplate", ref, ns) == nil {
			v.add(path+".template.ref", "TriggerTemplate %q not found in the loaded files", ref)
		}
	default:
		v.add(path+".template", "needs ref or spec")
	}
}

func (v *validator) interceptors(path string, list []*triggersv1beta1.TriggerInterceptor) {
	for i, ti := range list {
		ip := fmt.Sprintf("%s.interceptors[%d]", path, i)
		if ti == nil {
			v.add(ip, "empty interceptor")
			continue
		}
		r, err := ti.Resolve()
		if err != nil {
			v.add(ip, "%v", err)
			continue
		}
		if !r.Builtin() {
			continue
		}
		if _, err := interceptors.Build(r.Name, r.Params, offlineSecrets{}, interceptors.Options{}); err != nil {
			v.add(ip, "%v", err)
		}
	}
}

// runControl checks hookrun's run-control annotations (package runctl): group keys compile, policies,
// globs, cron syntax, forge credentials, misspelt keys; every problem, not only the first.
func (v *validator) runControl(annotations map[string]string) {
	for _, err := range runctl.Check(annotations) {
		v.add("metadata.annotations", "%v", err)
	}
}

func (v *validator) trigger(path string, s *triggersv1beta1.TriggerSpec, ns string) {
	v.interceptors(path, s.Interceptors)
	v.bindings(path, s.Bindings, ns)
	v.template(path, &s.Template, ns)
}

func (v *validator) eventListener(el *triggersv1beta1.EventListener, ns string) {
	names := map[string]bool{}
	for i := range el.Spec.Triggers {
		t := &el.Spec.Triggers[i]
		tp := fmt.Sprintf("spec.triggers[%d]", i)
		if t.Name != "" {
			if names[t.Name] {
				v.add(tp+".name", "duplicate trigger name %q", t.Name)
			}
			names[t.Name] = true
		}
		if t.TriggerRef != "" {
			if t.Template != nil || len(t.Bindings) > 0 || len(t.Interceptors) > 0 {
				v.add(tp, "triggerRef cannot be combined with an inline template, bindings or interceptors")
			}
			if v.set.find("Trigger", t.TriggerRef, ns) == nil {
				v.add(tp+".triggerRef", "Trigger %q not found in the loaded files", t.TriggerRef)
			}
			continue
		}
		v.interceptors(tp, t.Interceptors)
		v.bindings(tp, t.Bindings, ns)
		v.template(tp, t.Template, ns)
	}
	for i := range el.Spec.TriggerGroups {
		v.interceptors(fmt.Sprintf("spec.triggerGroups[%d]", i), el.Spec.TriggerGroups[i].Interceptors)
	}
	if len(el.Spec.Triggers) == 0 && len(el.Spec.TriggerGroups) == 0 && el.Spec.LabelSelector == nil && len(el.Spec.NamespaceSelector.MatchNames) == 0 {
		v.add("spec.triggers", "an EventListener needs triggers, triggerGroups or a selector")
	}
}

// offlineSecrets lets interceptors be built (and so checked) without a cluster: validation never
// processes an event, so no secret is ever read.
type offlineSecrets struct{}

func (offlineSecrets) GetSecretKey(_ context.Context, namespace, name, _ string) ([]byte, error) {
	return nil, fmt.Errorf("secret %s/%s: validation does not read secrets", namespace, name)
}

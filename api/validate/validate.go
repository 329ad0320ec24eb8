// Package validate checks loaded manifests the way `hookrun validate` reports them: each problem names the
// file, the document, the field path and a reason. It checks each object on its own (duplicate params,
// undeclared template params, results used but not declared, CEL that does not compile, …) and the set as a
// whole (a Trigger's bindings and template exist, runAfter names a task, the task graph has no cycle).
package validate

import (
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

package executor

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// resolveStepRef returns the StepAction a step's ref names. It is the one place a step ref is fetched:
// by name from the TaskRun's namespace (read uncached: each is read once, when the TaskRun starts). Remote
// resolution (ref.resolver) is resolve.go's.
func (r *TaskRunReconciler) resolveStepRef(ctx context.Context, tr *pipelinev1.TaskRun, ref *pipelinev1.StepRef, field string) (*pipelinev1.StepActionSpec, error) {
	if ref.Resolver != "" {
		return r.resolveRemoteStepAction(ctx, tr, ref, field)
	}
	namespace := tr.Namespace
	if ref.Name == "" {
		return nil, invalid(ReasonValidationFailed, "%s.name: required", field)
	}
	var sa pipelinev1.StepAction
	err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &sa)
	if apierrors.IsNotFound(err) {
		return nil, invalid(ReasonResolutionFailed, "StepAction %q not found in namespace %q (%s.name)", ref.Name, namespace, field)
	}
	if err != nil {
		return nil, fmt.Errorf("get stepaction %s: %w", ref.Name, err)
	}
	return &sa.Spec, nil
}

// resolveStepActions replaces every step that references a StepAction with the StepAction's content, its
// params substituted, as Tekton records it in status.taskSpec. field names the spec in messages
// ("spec.taskSpec" or the Task).
func (r *TaskRunReconciler) resolveStepActions(ctx context.Context, tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec, field string) error {
	for i := range spec.Steps {
		st := &spec.Steps[i]
		sp := fmt.Sprintf("%s.steps[%d]", field, i)
		if st.Ref == nil {
			if len(st.Params) > 0 {
				return invalid(ReasonValidationFailed, "%s.params: only a step with a ref takes params (an inline step uses the Task's)", sp)
			}
			continue
		}
		if err := stepRefConflicts(*st, sp); err != nil {
			return err
		}
		sa, err := r.resolveStepRef(ctx, tr, st.Ref, sp+".ref")
		if err != nil {
			return err
		}
		inlined, err := inlineStepAction(*st, sa, taskParamShapes(spec.Params, tr.Spec.Params), sp)
		if err != nil {
			return err
		}
		*st = inlined
	}
	return nil
}

// stepsField names, in messages, the spec a TaskRun's steps come from.
func stepsField(tr *pipelinev1.TaskRun) string {
	if tr.Spec.TaskSpec != nil || tr.Spec.TaskRef == nil {
		return "spec.taskSpec"
	}
	return fmt.Sprintf("Task %s: spec", tr.Spec.TaskRef.Name)
}

// stepRefConflicts rejects the fields a StepAction provides when the step sets them too (Tekton's rule).
func stepRefConflicts(st pipelinev1.Step, sp string) error {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"image", st.Image != ""},
		{"command", len(st.Command) > 0},
		{"args", len(st.Args) > 0},
		{"script", st.Script != ""},
		{"env", len(st.Env) > 0},
		{"volumeMounts", len(st.VolumeMounts) > 0},
		{"workingDir", st.WorkingDir != ""},
		{"results", len(st.Results) > 0},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return invalid(ReasonValidationFailed, "%s.%s cannot be used with ref: the StepAction gives it (%s)", sp, set[0], strings.Join(prefixAll(sp+".", set), ", "))
}

func prefixAll(p string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = p + s
	}
	return out
}

// inlineStepAction builds the step a StepAction reference stands for: the StepAction's image, command,
// args, script, env, workingDir, volumeMounts, securityContext and results with its params replaced by the
// step's params or the StepAction's defaults. The step's own name, displayName, timeout, onError, when,
// workspaces, stdout/stderr config, computeResources, envFrom, volumeDevices and imagePullPolicy stay.
// A step param value may use the Task's params ($(params.x)): those are replaced later, with the Task's.
// shapes describes the Task's params (taskParamShapes).
func inlineStepAction(st pipelinev1.Step, sa *pipelinev1.StepActionSpec, shapes map[string]paramShape, sp string) (pipelinev1.Step, error) {
	given := map[string]pipelinev1.ParamValue{}
	for _, p := range st.Params {
		given[p.Name] = p.Value
	}
	vars := subst.Vars{}
	var missing []string
	declared := map[string]bool{}
	var defaults []pipelinev1.ParamSpec
	body := pipelinev1.Step{
		Image: sa.Image, Command: sa.Command, Args: sa.Args, Script: sa.Script, Env: sa.Env,
		WorkingDir: sa.WorkingDir, VolumeMounts: sa.VolumeMounts,
	}
	for _, ps := range sa.Params {
		declared[ps.Name] = true
		v, ok := given[ps.Name]
		if !ok {
			if ps.Default == nil {
				missing = append(missing, ps.Name)
				continue
			}
			defaults = append(defaults, ps)
			continue
		}
		if v.Type == "" {
			v.Type = pipelinev1.ParamTypeString
		}
		want := ps.EffectiveType()
		if ref, ok := wholeRef(v); ok && want != pipelinev1.ParamTypeString {
			shape, known := shapes[strings.TrimPrefix(ref, "params.")]
			if strings.HasPrefix(ref, "params.") && known && shape.typ != want {
				// Tekton replaces $(params.X[*]) only by an array or object X: otherwise the value stays a
				// string, so an object param keeps its StepAction default (all of its keys), and an array
				// param is an error.
				if want == pipelinev1.ParamTypeObject && ps.Default != nil {
					defaults = append(defaults, ps)
					continue
				}
				return st, invalid(ReasonValidationFailed, "%s.params: param %q: the StepAction declares type %s but %s is a %s param",
					sp, ps.Name, want, "$("+ref+")", shape.typ)
			}
			// An array or object the Task's params or a step result give, known later (Task params when
			// the Pod is built, step results when the step runs): the reference is passed on.
			body = deferParam(body, ps.Name, ref, want == pipelinev1.ParamTypeArray, objectFallback(ps, ref, shapes))
			continue
		}
		if v.Type != want {
			return st, invalid(ReasonValidationFailed, "%s.params: param %q: the StepAction declares type %s but the value is %s", sp, ps.Name, want, v.Type)
		}
		setParam(vars, ps.Name, v)
	}
	// A default may use the other params ("$(params.message) world"): replaced once, with the values given.
	for _, ps := range defaults {
		setParam(vars, ps.Name, expandBase(*ps.Default.DeepCopy(), vars))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return st, invalid(ReasonValidationFailed, "%s.params: missing parameters of StepAction %q: %s", sp, st.Ref.Name, strings.Join(missing, ", "))
	}
	for _, p := range st.Params {
		if !declared[p.Name] {
			return st, invalid(ReasonValidationFailed, "%s.params: StepAction %q declares no param %q", sp, st.Ref.Name, p.Name)
		}
	}
	body = substituteStep(body, vars)
	if body.Image == "" {
		return st, invalid(ReasonValidationFailed, "%s.ref: StepAction %q has no image", sp, st.Ref.Name)
	}
	if body.Script != "" && len(body.Command) > 0 {
		return st, invalid(ReasonValidationFailed, "%s.ref: StepAction %q sets both script and command", sp, st.Ref.Name)
	}
	st.Image, st.Command, st.Args, st.Script, st.Env = body.Image, body.Command, body.Args, body.Script, body.Env
	st.WorkingDir, st.VolumeMounts = body.WorkingDir, body.VolumeMounts
	if sa.SecurityContext != nil {
		st.SecurityContext = sa.SecurityContext.DeepCopy()
	}
	st.Results = append([]pipelinev1.StepResult(nil), sa.Results...)
	st.Ref, st.Params = nil, nil
	return st, nil
}

var wholeParamRef = regexp.MustCompile(`^\$\(params\.([^.\[\]()\s]+)(\[\*\])?\)$`)

// wholeRef reports whether a param value is exactly $(steps.S.results.R) or $(params.X), optionally
// with [*], returning "steps.S.results.R" or "params.X".
func wholeRef(v pipelinev1.ParamValue) (string, bool) {
	if v.Type != pipelinev1.ParamTypeString {
		return "", false
	}
	s := strings.TrimSpace(v.StringVal)
	if m := wholeParamRef.FindStringSubmatch(s); m != nil {
		return "params." + m[1], true
	}
	m := stepResultRef.FindStringSubmatch(s)
	if m == nil || m[0] != s || (m[3] != "" && m[3] != "[*]") {
		return "", false
	}
	return "steps." + m[1] + ".results." + m[2], true
}

// paramShape is what is known, when StepActions are inlined, of a Task param a step param references: its
// type and, for an object, the keys it has.
type paramShape struct {
	typ  pipelinev1.ParamType
	keys map[string]bool
}

// taskParamShapes describes the params a TaskRun's steps may reference: the ones the Task declares
// (properties and default keys) and the ones the TaskRun passes, declared or not (propagated params).
func taskParamShapes(declared pipelinev1.ParamSpecs, given pipelinev1.Params) map[string]paramShape {
	out := map[string]paramShape{}
	for i := range declared {
		tp := &declared[i]
		s := paramShape{typ: tp.EffectiveType(), keys: map[string]bool{}}
		for k := range tp.Properties {
			s.keys[k] = true
		}
		if tp.Default != nil {
			for k := range tp.Default.ObjectVal {
				s.keys[k] = true
			}
		}
		out[tp.Name] = s
	}
	for _, p := range given {
		s, ok := out[p.Name]
		if !ok {
			s = paramShape{typ: p.Value.Type, keys: map[string]bool{}}
			if s.typ == "" {
				s.typ = pipelinev1.ParamTypeString
			}
		}
		for k := range p.Value.ObjectVal {
			s.keys[k] = true
		}
		out[p.Name] = s
	}
	return out
}

// objectFallback returns, for an object StepAction param given a Task object param, the StepAction's
// default keys the Task's param does not have: Tekton fills those from the StepAction's default.
func objectFallback(ps pipelinev1.ParamSpec, ref string, shapes map[string]paramShape) map[string]string {
	if ps.Default == nil || len(ps.Default.ObjectVal) == 0 || !strings.HasPrefix(ref, "params.") {
		return nil
	}
	shape, ok := shapes[strings.TrimPrefix(ref, "params.")]
	if !ok {
		return nil // neither declared nor passed: its keys are unknown here
	}
	out := map[string]string{}
	for k, v := range ps.Default.ObjectVal {
		if !shape.keys[k] {
			out[k] = v
		}
	}
	return out
}

// deferParam rewrites $(params.NAME…) in a StepAction's command, args, script, env values and workingDir
// into the reference ref ("steps.S.results.R" or "params.X") with the same selector; a bare array
// reference becomes ref[*], and an object key in fallback is replaced by its value.
func deferParam(st pipelinev1.Step, name, ref string, array bool, fallback map[string]string) pipelinev1.Step {
	re := regexp.MustCompile(`\$\(params\.` + regexp.QuoteMeta(name) + `(\[[^\]()]*\]|\.[^.()\s\[\]]+)?\)`)
	rw := func(s string) string {
		return re.ReplaceAllStringFunc(s, func(m string) string {
			sel := re.FindStringSubmatch(m)[1]
			if v, ok := fallback[strings.TrimPrefix(sel, ".")]; ok && strings.HasPrefix(sel, ".") {
				return v
			}
			if sel == "" && array {
				sel = "[*]"
			}
			return "$(" + ref + sel + ")"
		})
	}
	all := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = rw(s)
		}
		return out
	}
	st.Command, st.Args, st.Script, st.WorkingDir = all(st.Command), all(st.Args), rw(st.Script), rw(st.WorkingDir)
	env := make([]corev1.EnvVar, len(st.Env))
	for i, e := range st.Env {
		e.Value = rw(e.Value)
		env[i] = e
	}
	st.Env = env
	return st
}

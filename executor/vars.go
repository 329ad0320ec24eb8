package executor

import (
	"fmt"
	"path"
	"sort"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/subst"
)

// validationError is a problem with a run's spec: the run fails with a validation reason, it is not retried.
type validationError struct {
	reason string
	msg    string
}

func (e *validationError) Error() string { return e.msg }

func invalid(reason, format string, args ...any) error {
	return &validationError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// boundResource is a v1beta1 PipelineResource given to one Task input or output.
type boundResource struct {
	Name   string // the Task's name for it
	Type   string
	Params map[string]string
	// TargetPath is where an input lands (default /workspace/<name>).
	TargetPath string
}

// resourcePath returns where an input resource is placed, or where an output is read from.
func (b boundResource) path(output bool) string {
	if output {
		return path.Join(entrypoint.WorkspaceDir, "output", b.Name)
	}
	if b.TargetPath == "" {
		return path.Join(entrypoint.WorkspaceDir, b.Name)
	}
	if path.IsAbs(b.TargetPath) {
		return b.TargetPath
	}
	return path.Join(entrypoint.WorkspaceDir, b.TargetPath)
}

// taskResources are the resolved v1beta1 inputs and outputs of a TaskRun.
type taskResources struct {
	Inputs  []boundResource
	Outputs []boundResource
}

// resourceSpecParams turns a PipelineResource spec into its params map.
func resourceSpecParams(spec *pipelinev1.PipelineResourceSpec) map[string]string {
	out := map[string]string{}
	for _, p := range spec.Params {
		out[strings.ToLower(p.Name)] = p.Value
	}
	return out
}

// boundWorkspace is a workspace binding resolved against the Task's declaration.
type boundWorkspace struct {
	Decl      pipelinev1.WorkspaceDeclaration
	Binding   *pipelinev1.WorkspaceBinding // nil when an optional workspace is not bound
	Volume    string                       // Pod volume name
	MountPath string
}

func workspaceMountPath(d pipelinev1.WorkspaceDeclaration) string {
	if d.MountPath != "" {
		return d.MountPath
	}
	return path.Join(entrypoint.WorkspaceDir, d.Name)
}

// bindWorkspaces matches a TaskRun's workspace bindings to the Task's declarations.
func bindWorkspaces(spec *pipelinev1.TaskSpec, bindings []pipelinev1.WorkspaceBinding) ([]boundWorkspace, error) {
	byName := map[string]*pipelinev1.WorkspaceBinding{}
	for i := range bindings {
		byName[bindings[i].Name] = &bindings[i]
	}
	var out []boundWorkspace
	for _, d := range spec.Workspaces {
		b := byName[d.Name]
		if b == nil && !d.Optional {
			return nil, invalid("TaskRunValidationFailed", "workspace %q is declared by the Task but not bound by the TaskRun (spec.workspaces)", d.Name)
		}
		bw := boundWorkspace{Decl: d, Binding: b, MountPath: workspaceMountPath(d)}
		if b != nil {
			if b.VolumeClaimTemplate != nil {
				return nil, invalid("TaskRunValidationFailed", "workspace %q: volumeClaimTemplate must be resolved to a claim before the Pod is built", d.Name)
			}
			bw.Volume = volumeName("ws-", d.Name)
		}
		out = append(out, bw)
	}
	return out, nil
}

// taskVars builds the variables a Task's steps may use. Params are resolved last so that a param value —
// the Task author's default or the value the run gives — may itself use $(resources…), $(workspaces…),
// $(results…) or $(context…) (seeds and Tekton's own examples do); $(params…) in a value is never expanded.
func taskVars(tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec, taskName string, ws []boundWorkspace, res taskResources, kanikoImage string) (subst.Vars, error) {
	if taskName == "" {
		taskName = tr.Name
	}
	base := subst.Vars{}
	setContextVars(base, tr, taskName)
	setPathVars(base, spec)
	setWorkspaceVars(base, ws)
	setResourceVars(base, res)
	vars := subst.Vars{}
	vars.Merge(base)
	if err := setParamVars(vars, base, tr, spec, taskName, kanikoImage); err != nil {
		return nil, err
	}
	return vars, nil
}

// setContextVars sets the $(context…) variables of the run.
func setContextVars(base subst.Vars, tr *pipelinev1.TaskRun, taskName string) {
	base.SetString("context.taskRun.name", tr.Name)
	base.SetString("context.taskRun.namespace", tr.Namespace)
	base.SetString("context.taskRun.uid", string(tr.UID))
	base.SetString("context.taskRun.retry-count", fmt.Sprint(len(tr.Status.RetriesStatus)))
	base.SetString("context.task.retry-count", fmt.Sprint(len(tr.Status.RetriesStatus)))
	base.SetString("context.task.name", taskName)
	if pr := tr.Labels[LabelPipelineRun]; pr != "" {
		base.SetString("context.pipelineRun.name", pr)
		base.SetString("context.pipelineRun.namespace", tr.Namespace)
	}
}

// setPathVars sets the credentials, results and step exit code path variables.
func setPathVars(base subst.Vars, spec *pipelinev1.TaskSpec) {
	base.SetString("credentials.path", entrypoint.HomeDir)
	base.SetString("artifacts.path", entrypoint.TaskArtifactsPath)
	for _, r := range spec.Results {
		base.SetString("results."+r.Name+".path", path.Join(entrypoint.ResultsDir, r.Name))
	}
	for i, st := range spec.Steps {
		n := st.Name
		if n == "" {
			n = fmt.Sprintf("unnamed-%d", i)
		}
		p := path.Join(entrypoint.StepsDir, n, "exitCode")
		base.SetString("steps."+n+".exitCode.path", p)
		base.SetString("steps.step-"+n+".exitCode.path", p)
	}
}

// setWorkspaceVars sets the $(workspaces…) variables; an unbound optional workspace's are empty.
func setWorkspaceVars(base subst.Vars, ws []boundWorkspace) {
	for _, w := range ws {
		pre := "workspaces." + w.Decl.Name + "."
		if w.Binding == nil {
			base.SetString(pre+"bound", "false")
			base.SetString(pre+"path", "")
			base.SetString(pre+"claim", "")
			base.SetString(pre+"volume", "")
			continue
		}
		base.SetString(pre+"bound", "true")
		base.SetString(pre+"path", w.MountPath)
		base.SetString(pre+"volume", w.Volume)
		claim := ""
		if w.Binding.PersistentVolumeClaim != nil {
			claim = w.Binding.PersistentVolumeClaim.ClaimName
		}
		base.SetString(pre+"claim", claim)
	}
}

// setResourceVars sets the $(resources…) and $(inputs|outputs.resources…) variables of v1beta1 resources.
func setResourceVars(base subst.Vars, res taskResources) {
	for _, set := range []struct {
		dir  string
		list []boundResource
	}{{"inputs", res.Inputs}, {"outputs", res.Outputs}} {
		for _, r := range set.list {
			vals := map[string]string{"name": r.Name, "type": r.Type, "path": r.path(set.dir == "outputs")}
			for k, v := range r.Params {
				vals[k] = v
			}
			for k, v := range vals {
				base.SetString("resources."+set.dir+"."+r.Name+"."+k, v)
				base.SetString(set.dir+".resources."+r.Name+"."+k, v)
			}
		}
	}
}

// imageParams are the params whose value feeds a step or sidecar image: their default may name the
// upstream Kaniko image.
func imageParams(spec *pipelinev1.TaskSpec) map[string]bool {
	out := map[string]bool{}
	for _, img := range stepImages(spec) {
		for _, ref := range subst.Refs(img, "params", "inputs") {
			if segs, ok := subst.Segments(ref); ok {
				if segs[0] == "inputs" && len(segs) > 2 {
					segs = segs[1:]
				}
				if len(segs) >= 2 {
					out[segs[1]] = true
				}
			}
		}
	}
	return out
}

// setParamVars sets the $(params…) variables: the Task's declared params (the run's value or the default)
// and the params the run passes but the Task does not declare.
func setParamVars(vars, base subst.Vars, tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec, taskName, kanikoImage string) error {
	imageParams := imageParams(spec)
	given := map[string]pipelinev1.ParamValue{}
	for _, p := range tr.Spec.Params {
		given[p.Name] = p.Value
	}
	var missing []string
	declared := map[string]bool{}
	for _, ps := range spec.Params {
		declared[ps.Name] = true
		v, ok := given[ps.Name]
		fromDefault := false
		if !ok {
			if ps.Default == nil {
				missing = append(missing, ps.Name)
				continue
			}
			v = *ps.Default.DeepCopy()
			fromDefault = true
		}
		v, err := declaredParamValue(ps, v, fromDefault, base)
		if err != nil {
			return err
		}
		if fromDefault && imageParams[ps.Name] && v.Type == pipelinev1.ParamTypeString && isUpstreamKaniko(v.StringVal) {
			v.StringVal = kanikoImage
		}
		setParam(vars, ps.Name, v)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return invalid("TaskRunValidationFailed", "invalid input params for task %s: missing parameters: %s (spec.params)", taskName, strings.Join(missing, ", "))
	}
	// Params the run passes but the Task does not declare (propagated params of embedded specs) are usable
	// too.
	for name, v := range given {
		if !declared[name] {
			setParam(vars, name, expandBase(v, base))
		}
	}
	return nil
}

// declaredParamValue checks value v of declared param ps against its type, merges an object value over
// the object default and expands base's variables in it.
func declaredParamValue(ps pipelinev1.ParamSpec, v pipelinev1.ParamValue, fromDefault bool, base subst.Vars) (pipelinev1.ParamValue, error) {
	want := ps.EffectiveType()
	if v.Type == "" {
		v.Type = pipelinev1.ParamTypeString
	}
	if v.Type != want {
		return v, invalid("TaskRunValidationFailed", "param %q: the Task declares type %s but the value is %s (spec.params)", ps.Name, want, v.Type)
	}
	if len(ps.Enum) > 0 && want == pipelinev1.ParamTypeString && !fromDefault && !contains(ps.Enum, v.StringVal) {
		return v, invalid(ReasonInvalidParamValue, "param %q value %q is not in the enum list %q (spec.params)", ps.Name, v.StringVal, ps.Enum)
	}
	if want == pipelinev1.ParamTypeObject && ps.Default != nil && !fromDefault {
		merged := map[string]string{}
		for k, x := range ps.Default.ObjectVal {
			merged[k] = x
		}
		for k, x := range v.ObjectVal {
			merged[k] = x
		}
		v.ObjectVal = merged
	}
	// A value may use the run's non-param variables — a Task author's default, or a Pipeline author's
	// "$(workspaces.source.path)/Dockerfile" or "$(context.task.retry-count)" (Tekton substitutes those
	// after params); expand those once. $(params…) inside a value is never expanded.
	return expandBase(v, base), nil
}

// expandBase replaces the non-param variables of base in a param value, once.
func expandBase(v pipelinev1.ParamValue, base subst.Vars) pipelinev1.ParamValue {
	v.StringVal = subst.String(v.StringVal, base)
	v.ArrayVal = subst.Strings(v.ArrayVal, base)
	if v.ObjectVal != nil {
		o := make(map[string]string, len(v.ObjectVal))
		for k, x := range v.ObjectVal {
			o[k] = subst.String(x, base)
		}
		v.ObjectVal = o
	}
	return v
}

func setParam(vars subst.Vars, name string, v pipelinev1.ParamValue) {
	key := "params." + name
	switch v.Type {
	case pipelinev1.ParamTypeArray:
		vars.Set(key, subst.Arr(v.ArrayVal))
	case pipelinev1.ParamTypeObject:
		vars.Set(key, subst.Obj(v.ObjectVal))
	default:
		vars.SetString(key, v.StringVal)
	}
}

// stepImages lists the (unsubstituted) images of steps, step template and sidecars.
func stepImages(spec *pipelinev1.TaskSpec) []string {
	var out []string
	for _, s := range spec.Steps {
		out = append(out, s.Image)
	}
	if spec.StepTemplate != nil {
		out = append(out, spec.StepTemplate.Image)
	}
	for _, s := range spec.Sidecars {
		out = append(out, s.Image)
	}
	return out
}

// isUpstreamKaniko reports whether image names gcr.io/kaniko-project/executor, with any tag or digest.
func isUpstreamKaniko(image string) bool {
	repo := image
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndexByte(repo, ':'); i >= 0 && !strings.Contains(repo[i:], "/") {
		repo = repo[:i]
	}
	return repo == UpstreamKanikoImage
}

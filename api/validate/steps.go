package validate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/cel-go/cel"
	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

var (
	stepResultPathRef = regexp.MustCompile(`\$\(step\.results\.([^.)\s\[]+)\.path\)`)
	stepsResultRef    = regexp.MustCompile(`\$\(steps\.([^.()\s]+)\.results\.([^.()\s\[\]]+)\)`)
)

// step checks what a step adds to the container fields: a StepAction ref (and the fields it forbids),
// params (only with a ref), when expressions, stdout/stderr config and step results.
func (v *validator) step(sp string, st *pipelinev1.Step, hasTemplateCommand bool) {
	if st.Ref != nil {
		v.stepRef(sp, st)
	} else if len(st.Params) > 0 {
		v.add(sp+".params", "only a step with a ref takes params (an inline step uses the Task's)")
	}
	v.when(sp+".when", st.When)
	v.workspaceUsages(sp, st.Workspaces)
	runsImageEntrypoint := st.Ref == nil && st.Script == "" && len(st.Command) == 0 && !hasTemplateCommand
	if runsImageEntrypoint {
		for _, f := range []struct {
			name string
			set  bool
		}{{"stdoutConfig", st.StdoutConfig != nil}, {"stderrConfig", st.StderrConfig != nil}, {"results", len(st.Results) > 0}} {
			if f.set {
				v.add(sp+"."+f.name, "needs the step's command or script (hookrun runs a step that gives neither with its image's own entrypoint, which it does not wrap)")
			}
		}
	}
	declared := map[string]bool{}
	for _, r := range st.Results {
		declared[r.Name] = true
	}
	v.stepResultPaths(sp, declared, st.Script, st.Command, st.Args, st.Env)
}

// workspaceUsages reports a step's or sidecar's workspaces entry with a key that is no field even
// ignoring case ("mountpath" is mountPath, as Tekton decodes it).
func (v *validator) workspaceUsages(path string, usages []pipelinev1.WorkspaceUsage) {
	if f := pipelinev1.UnknownWorkspaceFields(path, usages); f != "" {
		v.add(f, "unknown field (a workspace usage has name and mountPath)")
	}
}

// stepResultPaths reports $(step.results.R.path) for results the step (or StepAction) does not declare.
func (v *validator) stepResultPaths(sp string, declared map[string]bool, script string, command, args []string, env []corev1.EnvVar) {
	fields := map[string]string{"script": script, "command": strings.Join(command, " "), "args": strings.Join(args, " ")}
	for i, e := range env {
		fields[fmt.Sprintf("env[%d].value", i)] = e.Value
	}
	for _, f := range sortedKeys(fields) {
		for _, m := range stepResultPathRef.FindAllStringSubmatch(fields[f], -1) {
			if !declared[m[1]] {
				v.add(sp+"."+f, "step result %q is written but not declared in %s.results", m[1], sp)
			}
		}
	}
}

// stepRef checks a step that references a StepAction.
func (v *validator) stepRef(sp string, st *pipelinev1.Step) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"image", st.Image != ""}, {"command", len(st.Command) > 0}, {"args", len(st.Args) > 0},
		{"script", st.Script != ""}, {"env", len(st.Env) > 0}, {"volumeMounts", len(st.VolumeMounts) > 0},
		{"workingDir", st.WorkingDir != ""}, {"results", len(st.Results) > 0},
	} {
		if f.set {
			v.add(sp+"."+f.name, "cannot be used with ref: the StepAction gives it")
		}
	}
	v.params(sp+".params", paramNames(st.Params))
	switch {
	case st.Ref.Resolver != "":
		v.resolverRef(sp+".ref", st.Ref.Resolver, st.Ref.Params, "", st.Ref.Name) // fetched by the executor
		return
	case st.Ref.Name == "":
		v.add(sp+".ref.name", "required (or ref.resolver)")
		return
	}
	o := v.set.find("StepAction", st.Ref.Name, v.cur.Namespace())
	if o == nil {
		return // may already be in the cluster
	}
	sa := o.Obj.(*pipelinev1.StepAction)
	given := map[string]bool{}
	for _, p := range st.Params {
		given[p.Name] = true
	}
	declared := map[string]bool{}
	for _, p := range sa.Spec.Params {
		declared[p.Name] = true
		if p.Default == nil && !given[p.Name] {
			v.add(sp+".params", "StepAction %q needs param %q", sa.Name, p.Name)
		}
	}
	for i, p := range st.Params {
		if !declared[p.Name] {
			v.add(fmt.Sprintf("%s.params[%d].name", sp, i), "StepAction %q declares no param %q", sa.Name, p.Name)
		}
	}
}

// when checks when expressions: input/operator/values (operator in or notin, values given) or a cel
// expression that compiles.
func (v *validator) when(path string, list pipelinev1.WhenExpressions) {
	for i, w := range list {
		wp := fmt.Sprintf("%s[%d]", path, i)
		if w.CEL != "" {
			if w.Input != "" || w.Operator != "" || len(w.Values) > 0 {
				v.add(wp, "cel cannot be used with input, operator or values")
			}
			if err := compileCEL(w.CEL); err != nil {
				v.add(wp+".cel", "%v", err)
			}
			continue
		}
		if w.Operator != "in" && w.Operator != "notin" {
			v.add(wp+".operator", "%q: want in or notin", w.Operator)
		}
		if len(w.Values) == 0 {
			v.add(wp+".values", "required")
		}
	}
}

// compileCEL parses a when cel expression. One with $(…) references is left alone: its text is final only
// once they are replaced, at run time.
func compileCEL(expr string) error {
	if strings.Contains(expr, "$(") {
		return nil // its final text is known only at run time
	}
	env, err := cel.NewEnv()
	if err != nil {
		return err
	}
	if _, iss := env.Parse(expr); iss.Err() != nil {
		return fmt.Errorf("does not parse: %w", iss.Err())
	}
	return nil
}

// taskResultValues checks results[].value: $(steps.S.results.R) names a step of the Task.
func (v *validator) taskResultValues(path string, s *pipelinev1.TaskSpec) {
	steps := map[string]bool{}
	for i, st := range s.Steps {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("unnamed-%d", i)
		}
		steps[name] = true
	}
	for i, r := range s.Results {
		if r.Value == nil || r.Value.StringVal == "" {
			continue
		}
		for _, m := range stepsResultRef.FindAllStringSubmatch(r.Value.StringVal, -1) {
			if !steps[m[1]] && !steps[strings.TrimPrefix(m[1], "step-")] {
				v.add(fmt.Sprintf("%s.results[%d].value", path, i), "step %q is not a step of this Task", m[1])
			}
		}
	}
}

// stepAction checks a StepAction object.
func (v *validator) stepAction(path string, s *pipelinev1.StepActionSpec) {
	v.params(path+".params", specNames(s.Params))
	if s.Image == "" {
		v.add(path+".image", "required")
	}
	if s.Script != "" && len(s.Command) > 0 {
		v.add(path+".script", "script cannot be used with command")
	}
	declared := map[string]bool{}
	for _, r := range s.Results {
		declared[r.Name] = true
	}
	v.stepResultPaths(path, declared, s.Script, s.Command, s.Args, s.Env)
}

package executor

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/entrypoint/celwhen"
	"github.com/hookrun/hookrun/executor/subst"
)

// sidecarContainers are the Task's sidecars as native sidecars (init containers that keep running).
func (b *podBuilder) sidecarContainers() []corev1.Container {
	var out []corev1.Container
	names := sidecarContainerNames(b.req.Spec.Sidecars)
	for i, sc := range b.req.Spec.Sidecars {
		sc = substituteSidecar(sc, b.vars)
		name := names[i]
		c := corev1.Container{
			Name:            name,
			Image:           sc.Image,
			Command:         sc.Command,
			Args:            sc.Args,
			WorkingDir:      sc.WorkingDir,
			Ports:           sc.Ports,
			EnvFrom:         sc.EnvFrom,
			Env:             b.implicitEnv(sc.Env),
			Resources:       sc.ComputeResources,
			VolumeMounts:    b.containerMounts(sc.VolumeMounts, sc.Workspaces),
			VolumeDevices:   sc.VolumeDevices,
			LivenessProbe:   sc.LivenessProbe,
			ReadinessProbe:  sc.ReadinessProbe,
			StartupProbe:    sc.StartupProbe,
			ImagePullPolicy: sc.ImagePullPolicy,
			SecurityContext: sc.SecurityContext,
			RestartPolicy:   ptr.To(corev1.ContainerRestartPolicyAlways),
		}
		// Tekton starts the steps once the sidecars are Ready. A native sidecar's readiness does not hold
		// back the next init container, its startup probe does: a sidecar with only a readinessProbe gets it
		// as its startupProbe too.
		if c.StartupProbe == nil && c.ReadinessProbe != nil {
			c.StartupProbe = c.ReadinessProbe.DeepCopy()
			c.StartupProbe.SuccessThreshold = 1
		}
		if sc.Script != "" {
			c.Command = []string{entrypoint.BinPath, "run", "--name", name, "--on-error", "stopAndFail", "--"}
			c.Env = append(c.Env, scriptEnv(sc.Script))
		}
		out = append(out, c)
	}
	return out
}

// gitInputContainers clone the v1beta1 git input resources before the steps.
func (b *podBuilder) gitInputContainers() []corev1.Container {
	var out []corev1.Container
	for _, r := range b.req.Resources.Inputs {
		if r.Type != "git" {
			continue
		}
		name := "git-source-" + r.Name
		env := b.implicitEnv([]corev1.EnvVar{
			{Name: "HOOKRUN_GIT_URL", Value: r.Params["url"]},
			{Name: "HOOKRUN_GIT_REVISION", Value: r.Params["revision"]},
			{Name: "HOOKRUN_GIT_REFSPEC", Value: r.Params["refspec"]},
			{Name: "HOOKRUN_GIT_SSL_VERIFY", Value: defaultString(r.Params["sslverify"], "true")},
			{Name: "HOOKRUN_GIT_SUBMODULES", Value: defaultString(r.Params["submodules"], "true")},
			{Name: "HOOKRUN_GIT_DEPTH", Value: defaultString(r.Params["depth"], "1")},
			{Name: "HOOKRUN_GIT_DEST", Value: r.path(false)},
		})
		env = append(env, scriptEnv(gitCloneScript))
		out = append(out, corev1.Container{
			Name:                     StepPrefix + name,
			Image:                    b.req.Opts.GitImage,
			Command:                  wrapperCommand(stepWrap{name: name}),
			Env:                      env,
			VolumeMounts:             b.containerMounts(nil, nil),
			TerminationMessagePath:   entrypoint.TerminationPath,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		})
	}
	return out
}

// stepContainers are the Task's steps, in order.
func (b *podBuilder) stepContainers() ([]corev1.Container, error) {
	var out []corev1.Container
	for i := range b.req.Spec.Steps {
		c, err := b.stepContainer(i)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// stepContainer builds step i: wrapped by `hookrun step run` when it has a command or script, else run
// with the image's own entrypoint.
func (b *podBuilder) stepContainer(i int) (corev1.Container, error) {
	tr, spec := b.req.TaskRun, b.req.Spec
	raw := spec.Steps[i]
	cname := stepContainerName(raw.Name, i)
	stepName := strings.TrimPrefix(cname, StepPrefix)
	field := fmt.Sprintf("spec.steps[%d]", i)
	templated := applyStepTemplate(raw, spec.StepTemplate)
	vars := stepVars(b.vars, stepName, raw.Results)
	st := substituteStep(templated, vars)
	if isUpstreamKaniko(st.Image) && !imageFromGivenParam(raw, spec.StepTemplate, tr) {
		st.Image = b.req.Opts.KanikoImage
	}
	if st.Image == "" {
		return corev1.Container{}, invalid("TaskRunValidationFailed", "step %q has no image (%s.image)", cname, field)
	}
	if st.Script != "" && len(st.Command) > 0 {
		return corev1.Container{}, invalid("TaskRunValidationFailed", "step %q sets both script and command (%s)", cname, field)
	}
	workingDir := st.WorkingDir
	if workingDir == "" && b.legacy {
		workingDir = entrypoint.WorkspaceDir
	}
	c := corev1.Container{
		Name:            cname,
		Image:           st.Image,
		Args:            st.Args,
		WorkingDir:      workingDir,
		Ports:           st.Ports,
		EnvFrom:         st.EnvFrom,
		Env:             b.implicitEnv(st.Env),
		Resources:       st.ComputeResources,
		VolumeMounts:    b.containerMounts(st.VolumeMounts, st.Workspaces),
		VolumeDevices:   st.VolumeDevices,
		ImagePullPolicy: st.ImagePullPolicy,
		SecurityContext: st.SecurityContext,
		Stdin:           st.Stdin,
		TTY:             st.TTY,
		// Wrapped steps write their JSON message there; an image-entrypoint step may write
		// /dev/termination-log.
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	if tr.Spec.ComputeResources != nil && isEmptyResources(c.Resources) {
		c.Resources = *tr.Spec.ComputeResources
	}
	w := stepWrap{
		name: stepName, timeout: st.Timeout, onError: st.OnError, results: b.resultNames,
		stepResults: stepResultNames(st.Results), refs: b.stepResultRefs(i, templated),
		artifacts: b.stepArtifactRefs(i, templated), when: stepWhen(st.When, vars), messageLimit: b.messageLimitFlag(),
	}
	if st.StdoutConfig != nil {
		w.stdoutPath = subst.String(st.StdoutConfig.Path, vars)
	}
	if st.StderrConfig != nil {
		w.stderrPath = subst.String(st.StderrConfig.Path, vars)
	}
	if st.Script == "" && len(st.Command) == 0 {
		if ic, ok := b.imageEntrypoint(st.Image); ok {
			c.Command, c.Args = append(wrapperCommand(w), ic.argv(st.Args)...), nil
			c.TerminationMessagePath = entrypoint.TerminationPath
			return c, nil
		}
		return b.imageEntrypointStep(c, w, field)
	}
	c.Command = append(wrapperCommand(w), st.Command...)
	if st.Script != "" {
		c.Env = append(c.Env, scriptEnv(st.Script))
	}
	c.TerminationMessagePath = entrypoint.TerminationPath
	return c, nil
}

// imageEntrypointStep finishes a step that gives no command or script and whose image's entrypoint is not
// known (lookups off, or the registry could not be read): it runs the image as is, with only its args, so
// the wrapper's runtime features (stdout/stderr paths, step results, a step timeout, onError: continue)
// cannot apply and are refused rather than ignored. Its when expressions are decided here, where they can
// only use values known now: false, and the wrapper stands in for the step and reports it skipped.
func (b *podBuilder) imageEntrypointStep(c corev1.Container, w stepWrap, field string) (corev1.Container, error) {
	needsCommand := func(what string) error {
		return invalid("TaskRunValidationFailed", "step %q: %s.%s needs the step's command or script (hookrun runs a step that "+
			"gives neither with its image's own entrypoint, which it does not wrap)", c.Name, field, what)
	}
	switch {
	case w.stdoutPath != "":
		return c, needsCommand("stdoutConfig")
	case w.stderrPath != "":
		return c, needsCommand("stderrConfig")
	case len(w.stepResults) > 0:
		return c, needsCommand("results")
	case len(w.refs) > 0:
		return c, needsCommand("(a $(steps.…results…) reference)")
	case w.timeout != nil && w.timeout.Duration > 0:
		return c, needsCommand("timeout")
	case w.onError == pipelinev1.OnErrorContinue:
		return c, needsCommand("onError")
	}
	if len(w.when) == 0 {
		return c, nil
	}
	ok, err := entrypoint.EvalWhen(w.when, celwhen.Eval)
	if err != nil {
		return c, invalid("TaskRunValidationFailed", "step %q: %s.%v", c.Name, field, err)
	}
	if ok {
		return c, nil
	}
	c.Command, c.Args = wrapperCommand(w), nil
	c.TerminationMessagePath = entrypoint.TerminationPath
	return c, nil
}

// stepWrap is what `hookrun-step run` is told about one step.
type stepWrap struct {
	name        string
	timeout     *metav1.Duration
	onError     pipelinev1.OnErrorType
	results     []string
	stepResults []string
	refs        []entrypoint.StepResultRef
	artifacts   []entrypoint.StepArtifactRef
	when        []entrypoint.When
	stdoutPath  string
	stderrPath  string
	// messageLimit is the --message-limit flag, if any.
	messageLimit []string
}

// wrapperCommand is the wrapper's command line, up to and including "--".
func wrapperCommand(w stepWrap) []string {
	cmd := []string{entrypoint.BinPath, "run", "--name", w.name}
	if w.timeout != nil && w.timeout.Duration > 0 {
		cmd = append(cmd, "--timeout", w.timeout.Duration.String())
	}
	oe := string(pipelinev1.OnErrorStopAndFail)
	if w.onError == pipelinev1.OnErrorContinue {
		oe = string(pipelinev1.OnErrorContinue)
	}
	cmd = append(cmd, "--on-error", oe)
	if len(w.results) > 0 {
		cmd = append(cmd, "--results", strings.Join(w.results, ","))
	}
	if len(w.stepResults) > 0 {
		cmd = append(cmd, "--step-results", strings.Join(w.stepResults, ","))
	}
	if len(w.refs) > 0 {
		refs := make([]string, len(w.refs))
		for i, r := range w.refs {
			refs[i] = r.String()
		}
		cmd = append(cmd, "--step-result-refs", strings.Join(refs, ","))
	}
	if len(w.artifacts) > 0 {
		refs := make([]string, len(w.artifacts))
		for i, r := range w.artifacts {
			refs[i] = r.String()
		}
		cmd = append(cmd, "--step-artifact-refs", strings.Join(refs, ","))
	}
	if len(w.when) > 0 {
		js, _ := json.Marshal(w.when) // plain strings: cannot fail
		cmd = append(cmd, "--when", string(js))
	}
	if w.stdoutPath != "" {
		cmd = append(cmd, "--stdout-path", w.stdoutPath)
	}
	if w.stderrPath != "" {
		cmd = append(cmd, "--stderr-path", w.stderrPath)
	}
	cmd = append(cmd, w.messageLimit...)
	return append(cmd, "--")
}

// stepVars are the Task's variables plus this step's $(step.results.R.path) and $(step.artifacts.path).
func stepVars(base subst.Vars, stepName string, results []pipelinev1.StepResult) subst.Vars {
	v := subst.Vars{}
	v.Merge(base)
	setArtifactPathVars(v, stepName)
	for _, r := range results {
		v.SetString("step.results."+r.Name+".path", path.Join(entrypoint.StepResultsDir(entrypoint.StepsDir, stepName), r.Name))
	}
	return v
}

func stepResultNames(list []pipelinev1.StepResult) []string {
	var out []string
	for _, r := range list {
		out = append(out, r.Name)
	}
	return out
}

// stepWhen is a step's when expressions with the Task's variables replaced.
func stepWhen(list pipelinev1.WhenExpressions, v subst.Resolver) []entrypoint.When {
	var out []entrypoint.When
	for _, w := range list {
		out = append(out, entrypoint.When{
			Input: subst.String(w.Input, v), Operator: w.Operator, Values: subst.Strings(w.Values, v), CEL: subst.String(w.CEL, v),
		})
	}
	return out
}

// celWhen reports whether a step's when expressions use cel: the small step binary cannot evaluate them,
// so prepare also copies the full hookrun binary into /tekton/bin for the wrapper to ask.
func (b *podBuilder) celWhen() bool {
	for _, st := range b.req.Spec.Steps {
		for _, w := range st.When {
			if w.CEL != "" {
				return true
			}
		}
	}
	return false
}

// stepResultRef matches $(steps.S.results.R), with an optional [*], [i] or .key selector.
var stepResultRef = regexp.MustCompile(`\$\(steps\.([^.()\s]+)\.results\.([^.()\s\[\]]+)(\[[^\]()]*\]|\.[^.()\s\[\]]+)?\)`)

// stepResultRefs finds the $(steps.S.results.R) references step i makes, as the Task author wrote them
// (before params are replaced, so a param value never adds one), to a step before it that declares R.
func (b *podBuilder) stepResultRefs(i int, st pipelinev1.Step) []entrypoint.StepResultRef {
	declared := map[entrypoint.StepResultRef]bool{}
	for j, prev := range b.req.Spec.Steps[:i] {
		name := strings.TrimPrefix(stepContainerName(prev.Name, j), StepPrefix)
		for _, r := range prev.Results {
			declared[entrypoint.StepResultRef{Step: name, Result: r.Name}] = true
		}
	}
	if len(declared) == 0 {
		return nil
	}
	texts := append(append([]string{st.Script}, st.Command...), st.Args...)
	for _, e := range st.Env {
		texts = append(texts, e.Value)
	}
	for _, w := range st.When {
		texts = append(append(texts, w.Input, w.CEL), w.Values...)
	}
	var out []entrypoint.StepResultRef
	seen := map[entrypoint.StepResultRef]bool{}
	for _, t := range texts {
		for _, m := range stepResultRef.FindAllStringSubmatch(t, -1) {
			ref := entrypoint.StepResultRef{Step: strings.TrimPrefix(m[1], "step-"), Result: m[2]}
			if !declared[ref] {
				ref.Step = m[1]
			}
			if declared[ref] && !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	return out
}

// scriptEnv carries a script to the wrapper. The kubelet expands $(VAR) and $$ in environment values, so
// every $ is doubled: the step gets its script exactly as written.
func scriptEnv(script string) corev1.EnvVar {
	return corev1.EnvVar{Name: entrypoint.ScriptEnv, Value: strings.ReplaceAll(script, "$", "$$")}
}

package executor

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
	"github.com/hookrun/hookrun/executor/subst"
)

// Internal volume names.
const (
	volBin       = "tekton-internal-bin"
	volResults   = "tekton-internal-results"
	volSteps     = "tekton-internal-steps"
	volScripts   = "tekton-internal-scripts"
	volHome      = "tekton-internal-home"
	volWorkspace = "tekton-internal-workspace"
)

// podRequest is everything needed to build the Pod of one TaskRun attempt.
type podRequest struct {
	TaskRun   *pipelinev1.TaskRun
	Spec      *pipelinev1.TaskSpec // resolved and normalised, variables not yet replaced
	TaskName  string               // the referenced Task's name ("" for an embedded spec)
	Resources taskResources
	Creds     []entrypoint.Credential
	PodName   string
	// Deadline bounds the Pod (activeDeadlineSeconds); 0 = none.
	Deadline time.Duration
	Opts     Options
	// Entrypoints, if set, tells the entrypoint and command of an image, for steps that run their
	// image's own entrypoint (imageconfig.go).
	Entrypoints func(image string) (imageCommand, error)
}

// podBuilder holds what every container of one Pod shares: the bound workspaces, the variables and the
// implicit environment. Its methods build the containers in the order the package documentation lists.
type podBuilder struct {
	req            podRequest
	ws             []boundWorkspace
	vars           subst.Vars
	isolated       map[string]bool // workspaces some step or sidecar names: mounted only there
	podEnv         []corev1.EnvVar
	hasDockerCreds bool
	resultNames    []string
	legacy         bool // the Task declares v1beta1 resources: steps start in /workspace
	// messageLimit is each container's share of the 12 KiB of termination messages the kubelet keeps
	// per Pod (at most 4096): wrapped steps and the results container keep within it.
	messageLimit int
}

// Termination message sizes the kubelet keeps: per container, and for all of a Pod's containers.
const (
	maxMessageSize    = entrypoint.MaxMessageSize
	maxPodMessageSize = 12 * 1024
)

// buildPod turns a TaskRun into its Pod. See the package documentation for the layout.
func buildPod(req podRequest) (*corev1.Pod, error) {
	spec, err := applyComputeOverrides(req.Spec, &req.TaskRun.Spec)
	if err != nil {
		return nil, err
	}
	req.Spec = spec
	if err := checkDeclaredParams(spec, req.TaskRun.Spec.Params); err != nil {
		return nil, err
	}
	if req, err = withWorkspaceVars(req); err != nil {
		return nil, err
	}
	b, err := newPodBuilder(req)
	if err != nil {
		return nil, err
	}
	prepare, credVolumes := b.prepareContainer()
	initContainers := []corev1.Container{prepare}
	initContainers = append(initContainers, b.sidecarContainers()...)
	initContainers = append(initContainers, b.gitInputContainers()...)
	steps, err := b.stepContainers()
	if err != nil {
		return nil, err
	}
	initContainers = append(initContainers, steps...)

	tr := req.TaskRun
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        req.PodName,
			Namespace:   tr.Namespace,
			Labels:      podLabels(tr, req.TaskName),
			Annotations: propagatedAnnotations(tr.Annotations),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         pipelinev1.GroupVersion.String(),
				Kind:               "TaskRun",
				Name:               tr.Name,
				UID:                tr.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: tr.Spec.ServiceAccountName,
			InitContainers:     initContainers,
			Containers:         []corev1.Container{b.resultsContainer()},
			Volumes:            b.volumes(credVolumes),
		},
	}
	if req.Deadline > 0 {
		pod.Spec.ActiveDeadlineSeconds = ptr.To(int64(math.Ceil(req.Deadline.Seconds())))
	}
	applyPodTemplate(&pod.Spec, tr.Spec.PodTemplate)
	cfg := req.Opts.config()
	if tr.Labels[LabelManagedBy] == "" {
		pod.Labels[LabelManagedBy] = managedByValue(cfg)
	}
	applyCoschedule(pod, tr, cfg.Coschedule)
	addMaskFlags(pod)
	if !req.Opts.SequentialSteps && parallelize(pod) {
		pod.Annotations = withAnnotation(pod.Annotations, AnnotationSteps, StepsContainers)
	} else {
		pod.Annotations = withAnnotation(pod.Annotations, AnnotationSteps, StepsInitContainers)
	}
	return pod, nil
}

func newPodBuilder(req podRequest) (*podBuilder, error) {
	tr := req.TaskRun
	ws, err := bindWorkspaces(req.Spec, tr.Spec.Workspaces)
	if err != nil {
		return nil, err
	}
	vars, err := taskVars(tr, req.Spec, req.TaskName, ws, req.Resources, req.Opts.KanikoImage)
	if err != nil {
		return nil, err
	}
	if len(req.Spec.Steps) == 0 {
		return nil, invalid("TaskRunValidationFailed", "the Task has no steps (spec.steps)")
	}
	seen := map[string]int{}
	for i, st := range req.Spec.Steps {
		if st.Name == "" {
			continue
		}
		if j, dup := seen[st.Name]; dup {
			return nil, invalid("TaskRunValidationFailed", "steps[%d] and steps[%d] are both named %q (spec.steps[%d].name)", j, i, st.Name, i)
		}
		seen[st.Name] = i
	}
	b := &podBuilder{req: req, ws: ws, vars: vars, isolated: map[string]bool{}}
	for _, r := range req.Spec.Results {
		b.resultNames = append(b.resultNames, r.Name)
	}
	for _, c := range req.Creds {
		if c.Kind == entrypoint.CredDocker {
			b.hasDockerCreds = true
		}
	}
	b.legacy = req.Spec.Resources != nil && (len(req.Spec.Resources.Inputs) > 0 || len(req.Spec.Resources.Outputs) > 0)
	// Workspaces a step or sidecar names explicitly are mounted only there (Tekton's isolated workspaces).
	for _, st := range req.Spec.Steps {
		for _, u := range st.Workspaces {
			b.isolated[u.Name] = true
		}
	}
	for _, sc := range req.Spec.Sidecars {
		for _, u := range sc.Workspaces {
			b.isolated[u.Name] = true
		}
	}
	if pt := tr.Spec.PodTemplate; pt != nil {
		b.podEnv = pt.Env
	}
	containers := 2 + len(req.Spec.Sidecars) + len(req.Spec.Steps) // prepare and hookrun-results
	for _, r := range req.Resources.Inputs {
		if r.Type == "git" {
			containers++
		}
	}
	b.messageLimit = min(maxMessageSize, maxPodMessageSize/containers)
	return b, nil
}

// messageLimitFlag is the --message-limit flag of wrapped steps and the results container, when the
// Pod has more containers than the kubelet gives 4 KiB each.
func (b *podBuilder) messageLimitFlag() []string {
	if b.messageLimit >= maxMessageSize {
		return nil
	}
	return []string{"--message-limit", fmt.Sprint(b.messageLimit)}
}

// workspaceMounts are the bound workspaces a container mounts: every workspace no step or sidecar names,
// plus those its own usage names (at the usage's mountPath when given).
func (b *podBuilder) workspaceMounts(usage []pipelinev1.WorkspaceUsage) []corev1.VolumeMount {
	var out []corev1.VolumeMount
	named := map[string]string{}
	for _, u := range usage {
		named[u.Name] = u.MountPath
	}
	for _, w := range b.ws {
		if w.Binding == nil {
			continue
		}
		mp, uses := named[w.Decl.Name]
		if b.isolated[w.Decl.Name] && !uses {
			continue
		}
		if mp == "" {
			mp = w.MountPath
		}
		ro := w.Decl.ReadOnly || w.Binding.ConfigMap != nil || w.Binding.Secret != nil || w.Binding.Projected != nil
		out = append(out, corev1.VolumeMount{Name: w.Volume, MountPath: mp, SubPath: w.Binding.SubPath, ReadOnly: ro})
	}
	return out
}

// containerMounts are a step's or sidecar's mounts: the internal directories and workspaces, minus any
// mount path the container mounts itself, then its own.
func (b *podBuilder) containerMounts(own []corev1.VolumeMount, usage []pipelinev1.WorkspaceUsage) []corev1.VolumeMount {
	internal := []corev1.VolumeMount{
		{Name: volBin, MountPath: entrypoint.BinDir, ReadOnly: true},
		{Name: volResults, MountPath: entrypoint.ResultsDir},
		{Name: volSteps, MountPath: entrypoint.StepsDir},
		{Name: volScripts, MountPath: entrypoint.ScriptsDir},
		{Name: volHome, MountPath: entrypoint.HomeDir},
		{Name: volWorkspace, MountPath: entrypoint.WorkspaceDir},
	}
	taken := map[string]bool{}
	for _, m := range own {
		taken[m.MountPath] = true
	}
	var out []corev1.VolumeMount
	for _, m := range append(internal, b.workspaceMounts(usage)...) {
		if !taken[m.MountPath] {
			out = append(out, m)
			taken[m.MountPath] = true
		}
	}
	return append(out, own...)
}

// implicitEnv is HOME (and DOCKER_CONFIG with docker credentials), then the pod template's env, then own.
func (b *podBuilder) implicitEnv(own []corev1.EnvVar) []corev1.EnvVar {
	env := []corev1.EnvVar{{Name: "HOME", Value: entrypoint.HomeDir}}
	if b.hasDockerCreds {
		env = append(env, corev1.EnvVar{Name: "DOCKER_CONFIG", Value: path.Join(entrypoint.HomeDir, ".docker")})
	}
	return mergeEnv(mergeEnv(env, b.podEnv), own)
}

// prepareContainer is the first init container and the credential Secret volumes only it mounts.
func (b *podBuilder) prepareContainer() (corev1.Container, []corev1.Volume) {
	prepare := corev1.Container{
		Name:    PrepareContainer,
		Image:   b.req.Opts.HookrunImage,
		Command: []string{StepBinary, "init", "--copy-self", entrypoint.BinPath},
		VolumeMounts: []corev1.VolumeMount{
			{Name: volBin, MountPath: entrypoint.BinDir},
			{Name: volResults, MountPath: entrypoint.ResultsDir},
			{Name: volSteps, MountPath: entrypoint.StepsDir},
			{Name: volScripts, MountPath: entrypoint.ScriptsDir},
			{Name: volHome, MountPath: entrypoint.HomeDir},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if b.celWhen() {
		prepare.Command = append(prepare.Command, "--copy-hookrun", entrypoint.HookrunPath)
	}
	credSecrets := map[string]bool{}
	for _, c := range b.req.Creds {
		prepare.Command = append(prepare.Command, "--cred", c.String())
		credSecrets[c.Name] = true
	}
	for i, st := range b.req.Spec.Steps {
		prepare.Command = append(prepare.Command, "--step", strings.TrimPrefix(stepContainerName(st.Name, i), StepPrefix))
	}
	var credVolumes []corev1.Volume
	for _, name := range sortedKeys(credSecrets) {
		vn := volumeName("tekton-creds-", name)
		credVolumes = append(credVolumes, corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}})
		prepare.VolumeMounts = append(prepare.VolumeMounts, corev1.VolumeMount{Name: vn, MountPath: path.Join(entrypoint.CredsDir, name), ReadOnly: true})
	}
	return prepare, credVolumes
}

// resultsContainer is the Pod's one regular container: it reports the results no wrapped step reported.
func (b *podBuilder) resultsContainer() corev1.Container {
	return corev1.Container{
		Name:    ResultsContainer,
		Image:   b.req.Opts.HookrunImage,
		Command: append([]string{entrypoint.BinPath, "results", "--dir", entrypoint.ResultsDir}, b.messageLimitFlag()...),
		VolumeMounts: []corev1.VolumeMount{
			{Name: volBin, MountPath: entrypoint.BinDir, ReadOnly: true},
			{Name: volResults, MountPath: entrypoint.ResultsDir},
			{Name: volSteps, MountPath: entrypoint.StepsDir},
		},
		TerminationMessagePath:   entrypoint.TerminationPath,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

// volumes are the internal emptyDirs, the credential Secrets, the bound workspaces and the Task's volumes.
func (b *podBuilder) volumes(credVolumes []corev1.Volume) []corev1.Volume {
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	volumes := []corev1.Volume{
		{Name: volBin, VolumeSource: emptyDir},
		{Name: volResults, VolumeSource: emptyDir},
		{Name: volSteps, VolumeSource: emptyDir},
		{Name: volScripts, VolumeSource: emptyDir},
		{Name: volHome, VolumeSource: emptyDir},
		{Name: volWorkspace, VolumeSource: emptyDir},
	}
	volumes = append(volumes, credVolumes...)
	for _, w := range b.ws {
		if w.Binding == nil {
			continue
		}
		volumes = append(volumes, corev1.Volume{Name: w.Volume, VolumeSource: workspaceSource(w.Binding)})
	}
	return append(volumes, substituteVolumes(b.req.Spec.Volumes, b.vars)...)
}

// imageFromGivenParam reports whether a step's image comes from a param the run set explicitly — then
// the user chose the image (the catalog's BUILDER_IMAGE) and --kaniko-image does not replace it.
func imageFromGivenParam(st pipelinev1.Step, t *pipelinev1.StepTemplate, tr *pipelinev1.TaskRun) bool {
	img := st.Image
	if img == "" && t != nil {
		img = t.Image
	}
	for _, ref := range subst.Refs(img, "params", "inputs") {
		segs, ok := subst.Segments(ref)
		if !ok {
			continue
		}
		if segs[0] == "inputs" && len(segs) > 2 {
			segs = segs[1:]
		}
		for _, p := range tr.Spec.Params {
			if len(segs) >= 2 && p.Name == segs[1] {
				return true
			}
		}
	}
	return false
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func workspaceSource(b *pipelinev1.WorkspaceBinding) corev1.VolumeSource {
	switch {
	case b.PersistentVolumeClaim != nil:
		return corev1.VolumeSource{PersistentVolumeClaim: b.PersistentVolumeClaim.DeepCopy()}
	case b.ConfigMap != nil:
		return corev1.VolumeSource{ConfigMap: b.ConfigMap.DeepCopy()}
	case b.Secret != nil:
		return corev1.VolumeSource{Secret: b.Secret.DeepCopy()}
	case b.Projected != nil:
		return corev1.VolumeSource{Projected: b.Projected.DeepCopy()}
	case b.CSI != nil:
		return corev1.VolumeSource{CSI: b.CSI.DeepCopy()}
	case b.EmptyDir != nil:
		return corev1.VolumeSource{EmptyDir: b.EmptyDir.DeepCopy()}
	}
	return corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
}

// podLabels are the TaskRun's labels plus Tekton's; app.kubernetes.io/managed-by keeps a value the user set.
func podLabels(tr *pipelinev1.TaskRun, taskName string) map[string]string {
	l := map[string]string{}
	for k, v := range tr.Labels {
		l[k] = v
	}
	l[LabelTaskRun] = tr.Name
	if taskName != "" {
		l[LabelTask] = taskName
	}
	if l[LabelManagedBy] == "" {
		l[LabelManagedBy] = ManagedByValue
	}
	return l
}

// propagatedAnnotations copies annotations to children, minus kubectl's bookkeeping.
func propagatedAnnotations(a map[string]string) map[string]string {
	if len(a) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		if k == corev1.LastAppliedConfigAnnotation {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// gitCloneScript clones a v1beta1 git PipelineResource (run by the wrapper under /bin/sh with set -e).
// Everything comes in through HOOKRUN_GIT_* environment variables, never through the script text.
const gitCloneScript = `dest="${HOOKRUN_GIT_DEST}"
mkdir -p "$dest"
cd "$dest"
git config --global --add safe.directory "$dest"
if [ "${HOOKRUN_GIT_SSL_VERIFY}" = "false" ]; then git config --global http.sslVerify false; fi
if [ ! -d .git ]; then git init -q; fi
git remote remove origin 2>/dev/null || true
git remote add origin "${HOOKRUN_GIT_URL}"
rev="${HOOKRUN_GIT_REVISION:-HEAD}"
depth=""
if [ "${HOOKRUN_GIT_DEPTH}" != "0" ]; then depth="--depth=${HOOKRUN_GIT_DEPTH}"; fi
if [ -n "${HOOKRUN_GIT_REFSPEC}" ]; then
  git fetch -q $depth origin ${HOOKRUN_GIT_REFSPEC}
fi
if ! git fetch -q $depth origin "$rev"; then
  git fetch -q origin
fi
git checkout -q -f FETCH_HEAD 2>/dev/null || git checkout -q -f "$rev"
if [ "${HOOKRUN_GIT_SUBMODULES}" = "true" ] && [ -f .gitmodules ]; then
  git submodule update -q --init --recursive $depth
fi
echo "cloned ${HOOKRUN_GIT_URL} @ $(git rev-parse HEAD) (${rev}) into $dest"
`

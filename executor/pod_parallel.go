package executor

import (
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// Steps as regular containers (doc.go, "Steps back to back"). buildPod lays steps out as init containers
// (the kubelet runs them one by one); parallelize turns that Pod into Tekton's shape when every step is
// wrapped: the steps become the Pod's regular containers, all started together, and each wrapper waits
// for its predecessor's record in /tekton/run (notified by inotify) before it runs its step.

// runVolume is step i's own run directory /tekton/run/I (its record and, under status/, its exit code
// and step results): mounted read-write in step i only, read-only in the other steps and the results
// container, as Tekton mounts it.
func runVolume(i int) string { return "tekton-internal-run-" + strconv.Itoa(i) }

// parallelize moves the wrapped steps of pod into its regular containers, in order, with the wait/post
// flags that sequence them, before the results container, which waits for the last step. It reports
// false, changing nothing, when a step is not wrapped.
func parallelize(pod *corev1.Pod) bool {
	var steps []corev1.Container
	var rest []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if !strings.HasPrefix(c.Name, StepPrefix) {
			rest = append(rest, c)
			continue
		}
		if !wrapped(c) {
			return false
		}
		steps = append(steps, c)
	}
	if len(steps) == 0 {
		return false
	}
	runMounts := func(own int) []corev1.VolumeMount {
		out := make([]corev1.VolumeMount, len(steps))
		for i := range steps {
			out[i] = corev1.VolumeMount{Name: runVolume(i), MountPath: path.Join(entrypoint.RunDir, strconv.Itoa(i)), ReadOnly: i != own}
		}
		return out
	}
	for i := range steps {
		c := &steps[i]
		flags := []string{"--post-file", entrypoint.RecordPath(entrypoint.RunDir, i)}
		if i > 0 {
			flags = append(flags, "--wait-file", entrypoint.RecordPath(entrypoint.RunDir, i-1))
		}
		c.Command = insertBeforeDashes(c.Command, flags...)
		c.VolumeMounts = append(c.VolumeMounts, runMounts(i)...)
	}
	spreadRequests(steps)
	// The results container runs after the last step: it prints only results too large for the steps'
	// termination messages (its log is otherwise empty, so tkn shows nothing for it).
	last := entrypoint.RecordPath(entrypoint.RunDir, len(steps)-1)
	for i := range pod.Spec.Containers {
		if c := &pod.Spec.Containers[i]; c.Name == ResultsContainer {
			c.Command = append(c.Command, "--wait-file", last)
			c.VolumeMounts = append(c.VolumeMounts, runMounts(-1)...)
		}
	}
	// prepare links each step's /tekton/steps directory to its run directory.
	for i := range rest {
		if c := &rest[i]; c.Name == PrepareContainer {
			c.Command = append(c.Command, "--run-dir", entrypoint.RunDir)
		}
	}
	pod.Spec.InitContainers = rest
	pod.Spec.Containers = append(steps, pod.Spec.Containers...)
	prepareAsContainer(pod)
	for i := range steps {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: runVolume(i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	return true
}

// prepareAsContainer makes prepare the Pod's first regular container when it is its only init container
// (no sidecars): the kubelet then starts the steps right after it, held back only by prepare's postStart
// hook (entrypoint/prepared.go), instead of after noticing prepare's exit on its next relist (up to a
// second). Script sidecars run the wrapper prepare copies, so a Pod with sidecars keeps prepare first
// among its init containers.
func prepareAsContainer(pod *corev1.Pod) {
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != PrepareContainer {
		return
	}
	prep := pod.Spec.InitContainers[0]
	prep.Command = append(prep.Command, "--done-file", entrypoint.PreparedFile)
	prep.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
		Command: []string{StepBinary, "init", "--await", entrypoint.PreparedFile},
	}}}
	pod.Spec.InitContainers = nil
	// kubectl logs (and exec) without -c keep meaning the first step, as on Tekton's Pods.
	pod.Annotations = withAnnotation(pod.Annotations, DefaultContainerAnnotation, pod.Spec.Containers[0].Name)
	pod.Spec.Containers = append([]corev1.Container{prep}, pod.Spec.Containers...)
}

// DefaultContainerAnnotation names the container kubectl logs and exec pick without -c.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// wrapped reports whether the container runs `hookrun-step run … -- …`.
func wrapped(c corev1.Container) bool {
	return len(c.Command) >= 2 && c.Command[0] == entrypoint.BinPath && c.Command[1] == "run" && slices.Contains(c.Command, "--")
}

// insertBeforeDashes puts flags before the first "--" of a wrapper command line.
func insertBeforeDashes(cmd []string, flags ...string) []string {
	i := slices.Index(cmd, "--")
	if i < 0 {
		return append(cmd, flags...)
	}
	return slices.Concat(cmd[:i:i], flags, cmd[i:])
}

// spreadRequests applies Tekton's rule for steps that run one at a time in containers that all exist at
// once: the scheduler sums the requests of regular containers, so each resource's largest request stays
// on the first step asking for it and the others request zero of it (explicitly: a limit without a
// request would otherwise count as the request). Limits are kept.
func spreadRequests(steps []corev1.Container) {
	names := map[corev1.ResourceName]bool{}
	for _, c := range steps {
		for n := range c.Resources.Requests {
			names[n] = true
		}
		for n := range c.Resources.Limits {
			names[n] = true
		}
	}
	for n := range names {
		best, bestQ := -1, resource.Quantity{}
		for i, c := range steps {
			q, ok := c.Resources.Requests[n]
			if !ok {
				q, ok = c.Resources.Limits[n]
			}
			if ok && (best < 0 || q.Cmp(bestQ) > 0) {
				best, bestQ = i, q
			}
		}
		for i := range steps {
			r := &steps[i].Resources
			if i == best {
				if _, ok := r.Requests[n]; !ok {
					if r.Requests == nil {
						r.Requests = corev1.ResourceList{}
					}
					r.Requests[n] = bestQ.DeepCopy()
				}
				continue
			}
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			r.Requests[n] = resource.MustParse("0")
		}
	}
}

// The Pod annotation that says how its steps are laid out.
const (
	AnnotationSteps     = "hookrun.dev/steps"
	StepsContainers     = "containers"
	StepsInitContainers = "init-containers"
)

func withAnnotation(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// imageEntrypoint looks up what a step that names only its image runs, so that it can be wrapped.
func (b *podBuilder) imageEntrypoint(image string) (imageCommand, bool) {
	if b.req.Entrypoints == nil || b.req.Opts.SequentialSteps {
		return imageCommand{}, false
	}
	ic, err := b.req.Entrypoints(image)
	return ic, err == nil
}

// addMaskFlags tells each wrapped step which of its environment variables (secretKeyRef) and mounts
// (Secret volumes, workspaces bound to Secrets) hold Secret values, for the wrapper to mask them in the
// step's output (entrypoint/masking.go). Variables from envFrom Secrets: mask_envfrom.go.
func addMaskFlags(pod *corev1.Pod) {
	secretVols := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil || (v.Projected != nil && slices.ContainsFunc(v.Projected.Sources, func(p corev1.VolumeProjection) bool { return p.Secret != nil })) {
			secretVols[v.Name] = true
		}
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			c := &list[i]
			if !wrapped(*c) {
				continue
			}
			var flags, envs []string
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					envs = append(envs, e.Name)
				}
			}
			if len(envs) > 0 {
				flags = append(flags, "--mask-env", strings.Join(envs, ","))
			}
			for _, m := range c.VolumeMounts {
				if secretVols[m.Name] {
					flags = append(flags, "--mask-dir", m.MountPath)
				}
			}
			if len(flags) > 0 {
				c.Command = insertBeforeDashes(c.Command, flags...)
			}
		}
	}
}

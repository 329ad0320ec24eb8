// Package runlogs prints the logs of a PipelineRun, a TaskRun or a Pod: every task and step in order, each
// line prefixed "[task:step] ", optionally following the run live until it ends (like `tkn pr logs -f`).
// Logs are read through the API server's pods/log, so the same code serves a real cluster (kubelet) and
// `hookrun dev` (the node agent's kubelet API). `hookrun logs` uses it; a dashboard can too.
package runlogs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Tekton's Pod labels.
const (
	labelPipelineTask = "tekton.dev/pipelineTask"
	labelTask         = "tekton.dev/task"
	labelTaskRun      = "tekton.dev/taskRun"
)

// ErrNotFound means no PipelineRun, TaskRun or Pod has the name.
var ErrNotFound = errors.New("not found")

// Reader reads run logs. Client reads PipelineRuns and TaskRuns (and Pods); Kube reads pods/log.
type Reader struct {
	Client client.Reader
	Kube   kubernetes.Interface
	// Poll is how often a followed run's status is read again (default 500ms).
	Poll time.Duration
	// Archive, when set, serves the logs of PipelineRuns that were deleted after being archived.
	Archive *Archive
}

// Options select what Write prints.
type Options struct {
	// Follow streams the logs while the run goes on and returns when it has ended.
	Follow bool
}

// Kind of object whose logs are printed.
type Kind string

// Kinds Write accepts.
const (
	KindPipelineRun Kind = "PipelineRun"
	KindTaskRun     Kind = "TaskRun"
	KindPod         Kind = "Pod"
)

// ParseName splits "kind/name" (pipelinerun/, pr/, taskrun/, tr/, pod/, po/); a bare name has no kind.
func ParseName(s string) (Kind, string, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		return "", s, nil
	}
	switch strings.ToLower(kind) {
	case "pipelinerun", "pipelineruns", "pr":
		return KindPipelineRun, name, nil
	case "taskrun", "taskruns", "tr":
		return KindTaskRun, name, nil
	case "pod", "pods", "po":
		return KindPod, name, nil
	}
	return "", "", fmt.Errorf("%q: the kind must be pipelinerun, taskrun or pod", kind)
}

// Write prints the logs of the named object to w. With kind empty, a PipelineRun of that name is looked
// for first, then a TaskRun, then a Pod.
func (r *Reader) Write(ctx context.Context, w io.Writer, namespace string, kind Kind, name string, o Options) error {
	if kind == "" || kind == KindPipelineRun {
		// A run that retention deleted is served from the archive.
		if r.Archive != nil && r.Archive.Has(ctx, namespace, name) {
			var pr pipelinev1.PipelineRun
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &pr); apierrors.IsNotFound(err) {
				return r.Archive.Copy(ctx, w, namespace, name)
			}
		}
	}
	if kind == "" {
		var err error
		if kind, err = r.resolve(ctx, namespace, name); err != nil {
			return err
		}
	}
	switch kind {
	case KindPipelineRun:
		return r.pipelineRun(ctx, w, namespace, name, o)
	case KindTaskRun:
		return r.taskRun(ctx, w, namespace, name, "", o)
	case KindPod:
		return r.pod(ctx, w, namespace, name, "", o.Follow)
	}
	return fmt.Errorf("runlogs: unknown kind %q", kind)
}

func (r *Reader) resolve(ctx context.Context, ns, name string) (Kind, error) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	for _, c := range []struct {
		kind Kind
		obj  client.Object
	}{{KindPipelineRun, &pipelinev1.PipelineRun{}}, {KindTaskRun, &pipelinev1.TaskRun{}}, {KindPod, &corev1.Pod{}}} {
		err := r.Client.Get(ctx, key, c.obj)
		if err == nil {
			return c.kind, nil
		}
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("get %s %s/%s: %w", c.kind, ns, name, err)
		}
	}
	return "", fmt.Errorf("%w: no PipelineRun, TaskRun or Pod named %q in namespace %q", ErrNotFound, name, ns)
}

func (r *Reader) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return 500 * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func done(s *pipelinev1.Status) bool {
	c := s.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

// taskOrder ranks pipeline tasks: tasks in the Pipeline's order, then finally tasks.
func taskOrder(spec *pipelinev1.PipelineSpec) map[string]int {
	rank := map[string]int{}
	if spec == nil {
		return rank
	}
	for _, t := range append(slices.Clone(spec.Tasks), spec.Finally...) {
		if _, ok := rank[t.Name]; !ok {
			rank[t.Name] = len(rank)
		}
	}
	return rank
}

// pipelineRun prints each TaskRun of the PipelineRun in the Pipeline's task order. Following, it prints
// TaskRuns as they are created (each one to its end) until the PipelineRun has ended and all are printed.
func (r *Reader) pipelineRun(ctx context.Context, w io.Writer, ns, name string, o Options) error {
	printed := map[string]bool{}
	for {
		var pr pipelinev1.PipelineRun
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pr); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%w: PipelineRun %s/%s", ErrNotFound, ns, name)
			}
			return fmt.Errorf("get PipelineRun %s/%s: %w", ns, name, err)
		}
		finished := done(&pr.Status.Status) // read before the children, so none created before the end is missed
		rank := taskOrder(pr.Status.PipelineSpec)
		var children []pipelinev1.ChildStatusReference
		for _, c := range pr.Status.ChildReferences {
			if (c.Kind == "" || c.Kind == "TaskRun") && !printed[c.Name] {
				children = append(children, c)
			}
		}
		slices.SortStableFunc(children, func(a, b pipelinev1.ChildStatusReference) int {
			ra, oka := rank[a.PipelineTaskName]
			rb, okb := rank[b.PipelineTaskName]
			switch {
			case oka && okb:
				return ra - rb
			case oka:
				return -1
			case okb:
				return 1
			}
			return 0
		})
		for _, c := range children {
			task := c.PipelineTaskName
			if task == "" {
				task = c.Name
			}
			if err := r.taskRun(ctx, w, ns, c.Name, task, o); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			printed[c.Name] = true
		}
		if !o.Follow || (finished && len(children) == 0) {
			return nil
		}
		if len(children) == 0 {
			if err := sleep(ctx, r.poll()); err != nil {
				return err
			}
		}
	}
}

// taskRun prints the steps of the TaskRun's Pod, waiting for the Pod when following.
func (r *Reader) taskRun(ctx context.Context, w io.Writer, ns, name, task string, o Options) error {
	for {
		var tr pipelinev1.TaskRun
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &tr); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%w: TaskRun %s/%s", ErrNotFound, ns, name)
			}
			return fmt.Errorf("get TaskRun %s/%s: %w", ns, name, err)
		}
		if task == "" {
			task = tr.Labels[labelPipelineTask]
		}
		if task == "" {
			task = tr.Labels[labelTask]
		}
		if task == "" {
			task = tr.Name
		}
		if tr.Status.PodName != "" {
			err := r.pod(ctx, w, ns, tr.Status.PodName, task, o.Follow)
			if errors.Is(err, ErrNotFound) {
				return nil // pruned, or deleted with a cancelled run
			}
			return err
		}
		if !o.Follow || done(&tr.Status.Status) {
			return nil // no Pod: skipped, or failed before one was made
		}
		if err := sleep(ctx, r.poll()); err != nil {
			return err
		}
	}
}

// podSteps lists the containers to print in run order (init containers first): the Tekton steps (step-*;
// hookrun's executor runs them as init containers, Tekton as containers) when the Pod has any, else all.
func podSteps(pod *corev1.Pod) (names []string, isStep bool) {
	var all []string
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			all = append(all, c.Name)
			if strings.HasPrefix(c.Name, "step-") {
				names = append(names, c.Name)
			}
		}
	}
	if len(names) > 0 {
		return names, true
	}
	return all, false
}

func podTask(pod *corev1.Pod) string {
	for _, l := range []string{labelPipelineTask, labelTask, labelTaskRun} {
		if v := pod.Labels[l]; v != "" {
			return v
		}
	}
	return pod.Name
}

// containerState returns the state of a container of the Pod (zero when it has none yet).
func containerState(pod *corev1.Pod, name string) corev1.ContainerState {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range list {
			if s.Name == name {
				return s.State
			}
		}
	}
	return corev1.ContainerState{}
}

func podEnded(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil
}

// pod prints the Pod's steps in order.
func (r *Reader) pod(ctx context.Context, w io.Writer, ns, name, task string, follow bool) error {
	var pod corev1.Pod
	get := func() error {
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%w: Pod %s/%s", ErrNotFound, ns, name)
			}
			return fmt.Errorf("get Pod %s/%s: %w", ns, name, err)
		}
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	if task == "" {
		task = podTask(&pod)
	}
	names, isStep := podSteps(&pod)
	for _, c := range names {
		step := c
		if isStep {
			step = strings.TrimPrefix(c, "step-")
		}
		// Logs exist once the container has started; following, wait for that (or for the Pod's end).
		for {
			st := containerState(&pod, c)
			if st.Running != nil || st.Terminated != nil {
				break
			}
			if !follow || podEnded(&pod) {
				break
			}
			if err := sleep(ctx, r.poll()); err != nil {
				return err
			}
			if err := get(); err != nil {
				return err
			}
		}
		st := containerState(&pod, c)
		if st.Running == nil && st.Terminated == nil {
			continue // never started: nothing to print
		}
		if err := r.container(ctx, w, ns, name, c, "["+task+":"+step+"] ", follow); err != nil {
			return err
		}
	}
	return nil
}

// container copies one container's log through pods/log, each line prefixed.
func (r *Reader) container(ctx context.Context, w io.Writer, ns, pod, container, prefix string, follow bool) error {
	rc, err := r.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: follow}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of %s/%s container %s: %w", ns, pod, container, err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			if _, werr := io.WriteString(w, prefix); werr != nil {
				return werr
			}
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("logs of %s/%s container %s: %w", ns, pod, container, err)
		}
	}
}

// Package kubelettest plays the kubelet for executor tests: there is no kubelet in the test control plane,
// so tests move TaskRun Pods through their lifecycle by writing Pod status (phase, init container and
// container states, exit codes, termination messages) through the status subresource, the way a kubelet
// running the Pod's ordered init containers would.
package kubelettest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// Outcome is how one container ends.
type Outcome struct {
	// ExitCode is the container's exit code as the kubelet sees it.
	ExitCode int32
	// Message is the termination message text.
	Message string
}

// Wrapped is the outcome of a step run by `hookrun step run`: exit is the step's own code, results what it
// reported; with cont (onError: continue) the container itself exits 0.
func Wrapped(exit int, results map[string]string, cont bool) Outcome {
	m := entrypoint.Message{ExitCode: exit, Results: results}
	b, _ := json.Marshal(m)
	code := int32(exit)
	if cont {
		code = 0
	}
	return Outcome{ExitCode: code, Message: string(b)}
}

// TimedOut is the outcome of a wrapped step killed by its own timeout.
func TimedOut(step string, d time.Duration) Outcome {
	b, _ := json.Marshal(entrypoint.Message{ExitCode: 1, Reason: entrypoint.ReasonTimeout, Message: fmt.Sprintf("step %q timed out after %s", step, d)})
	return Outcome{ExitCode: 1, Message: string(b)}
}

// Writer writes Pod status.
type Writer struct {
	Client client.Client
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
}

func (w *Writer) now() metav1.Time {
	if w.Now != nil {
		return metav1.NewTime(w.Now())
	}
	return metav1.Now()
}

func (w *Writer) get(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	var pod corev1.Pod
	if err := w.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}

func isSidecar(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(o Outcome, started, now metav1.Time) corev1.ContainerState {
	reason := "Completed"
	if o.ExitCode != 0 {
		reason = "Error"
	}
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: o.ExitCode, Reason: reason, Message: o.Message, StartedAt: started, FinishedAt: now,
	}}
}

// Start marks the Pod Running: prepare done, sidecars running, the first step running, the rest waiting.
func (w *Writer) Start(ctx context.Context, ns, name string) error {
	pod, err := w.get(ctx, ns, name)
	if err != nil {
		return err
	}
	now := w.now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &now
	pod.Status.InitContainerStatuses = nil
	running := false
	for _, c := range pod.Spec.InitContainers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "docker.io/" + c.Image + "@sha256:test"}
		switch {
		case c.Name == "prepare":
			s.State = terminated(Outcome{}, now, now)
		case isSidecar(c):
			s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
			s.Started, s.Ready = ptrTrue(), true
		case !running:
			s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
			s.Started = ptrTrue()
			running = true
		default:
			s.State = waiting("PodInitializing")
		}
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, s)
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: waiting("PodInitializing")}
		if strings.HasPrefix(c.Name, "step-") {
			// Steps as regular containers all start together (their wrappers sequence them).
			s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
			s.Started = ptrTrue()
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, s)
	}
	return w.Client.Status().Update(ctx, pod)
}

func ptrTrue() *bool { b := true; return &b }

// Finish runs the Pod to its end: steps (init containers named step-…) take their outcome from
// outcomes (keyed by container name; missing = success with no message), in order. The first failing step
// ends the Pod (phase Failed) and later steps stay waiting, as with a real kubelet. When all succeed the
// results container ends with outcomes["hookrun-results"] and the Pod Succeeds.
func (w *Writer) Finish(ctx context.Context, ns, name string, outcomes map[string]Outcome) error {
	pod, err := w.get(ctx, ns, name)
	if err != nil {
		return err
	}
	now := w.now()
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	failed := false
	pod.Status.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "docker.io/" + c.Image + "@sha256:test"}
		switch {
		case failed:
			s.State = waiting("PodInitializing")
		case isSidecar(c):
			// Sidecars are stopped when the Pod ends.
			s.State = terminated(Outcome{ExitCode: 0}, now, now)
		case strings.HasPrefix(c.Name, "step-") || c.Name == "prepare":
			o := outcomes[c.Name]
			s.State = terminated(o, now, now)
			if o.ExitCode != 0 {
				failed = true
			}
		}
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, s)
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		if failed {
			s.State = waiting("PodInitializing")
		} else {
			o := outcomes[c.Name]
			s.State = terminated(o, now, now)
			if o.ExitCode != 0 {
				failed = true
			}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, s)
	}
	pod.Status.Phase = corev1.PodSucceeded
	if failed {
		pod.Status.Phase = corev1.PodFailed
	}
	return w.Client.Status().Update(ctx, pod)
}

// Kill ends a running Pod the way the kubelet does when activeDeadlineSeconds passes: the running
// container is killed (exit 137), the Pod fails with reason DeadlineExceeded.
func (w *Writer) Kill(ctx context.Context, ns, name string) error {
	pod, err := w.get(ctx, ns, name)
	if err != nil {
		return err
	}
	now := w.now()
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			s := &list[i]
			if s.State.Running != nil {
				s.State = terminated(Outcome{ExitCode: 137}, s.State.Running.StartedAt, now)
				s.State.Terminated.Reason = "Error"
			}
		}
	}
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Reason = "DeadlineExceeded"
	pod.Status.Message = "Pod was active on the node longer than the specified deadline"
	return w.Client.Status().Update(ctx, pod)
}

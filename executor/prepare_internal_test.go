package executor

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// TestPrepareAsContainer: without sidecars prepare becomes the first regular container, held by its
// postStart hook, and kubectl's default container stays the first step; with a sidecar it stays the first
// init container.
func TestPrepareAsContainer(t *testing.T) {
	step := func(name string) corev1.Container {
		return corev1.Container{Name: StepPrefix + name, Command: []string{entrypoint.BinPath, "run", "--name", name, "--", "true"}}
	}
	pod := func(init ...corev1.Container) *corev1.Pod {
		prep := corev1.Container{Name: PrepareContainer, Command: []string{StepBinary, "init", "--copy-self", entrypoint.BinPath}}
		return &corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: append(append([]corev1.Container{prep}, init...), step("a"), step("b")),
			Containers:     []corev1.Container{{Name: ResultsContainer}},
		}}
	}
	p := pod()
	if !parallelize(p) {
		t.Fatal("not parallelized")
	}
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); len(p.Spec.InitContainers) != 0 || got != "prepare,step-a,step-b,hookrun-results" {
		t.Fatalf("containers %s, init containers %d", got, len(p.Spec.InitContainers))
	}
	prep := p.Spec.Containers[0]
	if !slices.Equal(prep.Command[len(prep.Command)-2:], []string{"--done-file", entrypoint.PreparedFile}) {
		t.Errorf("prepare runs %v", prep.Command)
	}
	if h := prep.Lifecycle; h == nil || h.PostStart == nil || h.PostStart.Exec == nil ||
		!slices.Equal(h.PostStart.Exec.Command, []string{StepBinary, "init", "--await", entrypoint.PreparedFile}) {
		t.Errorf("prepare's postStart hook: %+v", h)
	}
	if got := p.Annotations[DefaultContainerAnnotation]; got != "step-a" {
		t.Errorf("kubectl's default container %q, want step-a", got)
	}

	side := pod(corev1.Container{Name: "sidecar-db"})
	if !parallelize(side) {
		t.Fatal("not parallelized")
	}
	if side.Spec.InitContainers[0].Name != PrepareContainer || side.Spec.Containers[0].Name != "step-a" || side.Spec.InitContainers[0].Lifecycle != nil {
		t.Errorf("with a sidecar: init %s, first container %s", side.Spec.InitContainers[0].Name, side.Spec.Containers[0].Name)
	}
}

package node_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/node"
)

// A native sidecar with a startup probe holds back the next init container until the probe succeeds; one
// whose probe keeps failing is restarted, and the steps after it never start before the Pod's deadline.
func TestSidecarStartupProbe(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	probe := func(script string, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", script}}},
			PeriodSeconds:    1,
			TimeoutSeconds:   10,
			FailureThreshold: failures,
		}
	}
	for _, tc := range []struct {
		name     string
		probe    *corev1.Probe
		deadline int64
		phase    corev1.PodPhase
		log      string // the step's log, when it ran
		restarts bool   // the sidecar was restarted
	}{
		{name: "ready-after-delay", probe: probe("sleep 1 && touch /data/ready", 3), deadline: 60,
			phase: corev1.PodSucceeded, log: "ready\n"},
		{name: "never-ready", probe: probe("exit 1", 1), deadline: 4,
			phase: corev1.PodFailed, restarts: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, mode node.MountMode) {
				a := startAgent(t, mode)
				ns := env.Namespace(t)
				side := sh("sidecar", "exec sleep 60", data)
				side.RestartPolicy = &always
				side.StartupProbe = tc.probe
				p := newPod(a, ns, "probe")
				p.Spec.ActiveDeadlineSeconds = &tc.deadline
				p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
				p.Spec.InitContainers = []corev1.Container{side, sh("step", "test -f /data/ready && echo ready", data)}
				p.Spec.Containers = []corev1.Container{sh("main", "true")}
				create(t, p)
				got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
				if got.Status.Phase != tc.phase {
					t.Fatalf("phase %s, want %s: %+v", got.Status.Phase, tc.phase, got.Status)
				}
				if tc.log != "" {
					if l := readLog(t, a, ns, p.Name, "step"); l != tc.log {
						t.Errorf("step log %q, want %q", l, tc.log)
					}
				} else if s := containerStatus(t, got, "step"); s.State.Terminated != nil || s.State.Running != nil {
					t.Errorf("step ran although the sidecar never started: %+v", s.State)
				}
				if s := containerStatus(t, got, "sidecar"); (s.RestartCount > 0) != tc.restarts {
					t.Errorf("sidecar restarts %d, want restarted=%v", s.RestartCount, tc.restarts)
				}
			})
		})
	}
}

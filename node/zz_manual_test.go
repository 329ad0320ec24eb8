package node_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestZZCLI(t *testing.T) {
	bin := os.Getenv("HOOKRUN_BIN")
	if bin == "" {
		t.Skip("HOOKRUN_BIN unset")
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	env.WriteKubeconfig(kc)
	state := filepath.Join(dir, "state")
	var out bytes.Buffer
	cmd := exec.Command(bin, "node", "--kubeconfig", kc, "--state", state, "--node-name", "cli-node")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Start()
	ns := env.Namespace(t)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cli", Namespace: ns}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{sh("init", "echo from init")},
		Containers:     []corev1.Container{sh("main", "echo line1; sleep 1; echo line2")}}}
	create(t, p)
	time.Sleep(300 * time.Millisecond)
	follow, _ := exec.Command(bin, "logs", "--state", state, "-n", ns, "cli", "-f").CombinedOutput()
	t.Logf("logs -f:\n%s", follow)
	got := waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	one, _ := exec.Command(bin, "logs", "--state", state, "-n", ns, "cli", "-c", "main").CombinedOutput()
	t.Logf("phase %s node %s; logs -c main:\n%s", got.Status.Phase, got.Spec.NodeName, one)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	t.Logf("agent output:\n%s", out.String())
}

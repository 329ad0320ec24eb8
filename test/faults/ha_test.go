package faults

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// TestExecutorFailover runs two executors with leader election; the leader is SIGKILLed mid-run and the
// other takes over and finishes the run: one TaskRun per task, one Pod per TaskRun.
func TestExecutorFailover(t *testing.T) {
	ns := env.Namespace(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	newProc(t, "node", "--kubeconfig", kc, "--state", filepath.Join(t.TempDir(), "node"), "--node-name", "ha-node")
	args := []string{"executor", "--kubeconfig", kc, "--namespace", ns, "--leader-elect=true",
		"--leader-election-namespace", ns, "--metrics-addr", "0", "--health-addr", ""}
	a := newProc(t, args...)
	ctx := context.Background()
	var lease coordinationv1.Lease
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hookrun-executor"}, &lease); err == nil &&
			lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first executor never became leader")
		}
	}
	first := *lease.Spec.HolderIdentity
	newProc(t, args...) // the standby
	applyYAML(t, ns, threeTasks)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var trs pipelinev1.TaskRunList
		_ = env.Client.List(ctx, &trs, client.InNamespace(ns))
		if len(trs.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("leader made no TaskRun")
		}
	}
	a.kill()
	pr := waitDone(t, ns, "crashy", 120*time.Second)
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("run after the leader was killed: %+v", c)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hookrun-executor"}, &lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == first {
		t.Errorf("lease still held by the killed leader %q", first)
	}
	var trs pipelinev1.TaskRunList
	if err := env.Client.List(ctx, &trs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(trs.Items) != 3 || len(pods.Items) != 3 {
		t.Errorf("%d TaskRuns and %d Pods, want 3 and 3", len(trs.Items), len(pods.Items))
	}
}

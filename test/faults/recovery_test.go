package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
)

const recoveryHook = "acme/widgets/42"

func recoveryConfig(api string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {secret: recovery-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: gh-token}
stringData: {token: %s}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: run}
spec:
  params: [{name: num}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: run-}
    spec:
      pipelineRef: {name: p}
      params: [{name: num, value: $(tt.params.num)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: hooks
  annotations:
    hookrun.dev/github-hook: %s
    hookrun.dev/github-token-secret: gh-token
    hookrun.dev/github-api: %s
spec:
  triggers:
  - name: push
    interceptors:
    - ref: {name: github}
      params: [{name: secretRef, value: {secretName: gh, secretKey: secret}}]
    bindings: [{name: num, value: $(body.n)}]
    template: {ref: run}
`, forgeToken, recoveryHook, api)
}

// startRecoveringListener runs `hookrun listener` on addr with recovery every second.
func startRecoveringListener(t *testing.T, bin, kubeconfig, ns, addr, deadDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "listener", "--kubeconfig", kubeconfig, "--namespace", ns, "--eventlistener", "hooks",
		"--addr", addr, "--watch-namespace", ns, "--write-status=false", "--recover-interval", "1s", "--dead-letter", deadDir)
	logf, err := os.Create(filepath.Join(t.TempDir(), "listener.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait(); logf.Close() })
	return cmd
}

// TestRecoveryThroughListenerCommand: GitHub fails 20 pushes while `hookrun listener` is down; once it
// starts (with --recover-interval), they become exactly 20 PipelineRuns; a listener started after it
// stopped (a new Lease holder) redelivers nothing more.
func TestRecoveryThroughListenerCommand(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fake := forgetest.NewServer(forgeToken)
	defer fake.Close()
	env.Apply(t, ns, recoveryConfig(fake.GitHubAPI()))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bin := hookrunBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fake.SetHook(recoveryHook, "http://"+addr+"/hooks")
	for i := 0; i < 20; i++ {
		body := []byte(fmt.Sprintf(`{"n":"%d"}`, i))
		req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: "recovery-secret", Body: body}.Request(ctx, "http://unused/")
		if err != nil {
			t.Fatal(err)
		}
		if d := fake.Deliver(recoveryHook, req.Header, body); d.StatusCode != 0 {
			t.Fatalf("delivery while the listener is down: %+v", d)
		}
	}
	deadDir := filepath.Join(t.TempDir(), "dead")
	first := startRecoveringListener(t, bin, kubeconfig, ns, addr, deadDir)
	runs := func() int {
		var list pipelinev1.PipelineRunList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	redelivered := func() int {
		n := 0
		for _, d := range fake.Deliveries(recoveryHook) {
			if d.Redelivery {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(3 * time.Minute); runs() < 20; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d PipelineRuns after 3 minutes, want 20 (%d redeliveries)", runs(), redelivered())
		}
	}
	time.Sleep(3 * time.Second) // more passes
	if n, r := runs(), redelivered(); n != 20 || r != 20 {
		t.Fatalf("%d PipelineRuns and %d redeliveries, want 20 and 20", n, r)
	}
	if fi, err := os.Stat(deadDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dead-letter directory: %v %v", fi, err)
	}

	// SIGTERM releases the Lease; the next listener takes it and continues from the cursor.
	_ = first.Process.Signal(os.Interrupt)
	_, _ = first.Process.Wait()
	startRecoveringListener(t, bin, kubeconfig, ns, addr, deadDir)
	requests := func() int {
		n := 0
		for _, r := range fake.Requests() {
			if r.Hook == recoveryHook {
				n++
			}
		}
		return n
	}
	before := requests()
	for deadline := time.Now().Add(90 * time.Second); requests() == before; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second listener did not call GitHub within 90s")
		}
	}
	time.Sleep(3 * time.Second)
	if n, r := runs(), redelivered(); n != 20 || r != 20 {
		t.Fatalf("after the second listener: %d PipelineRuns and %d redeliveries, want 20 and 20", n, r)
	}
}

package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
)

const gitlabRecoveryHook = "acme/widgets/42"

// gitlabRecoveryConfig is recoveryConfig's GitLab counterpart: a tokened gitlab trigger and the GitLab
// recovery annotations (the project path URL-encoded).
func gitlabRecoveryConfig(api string) string {
	cfg := recoveryConfig(api)
	cfg = strings.Replace(cfg, "    hookrun.dev/github-hook: "+recoveryHook+"\n    hookrun.dev/github-token-secret: gh-token\n    hookrun.dev/github-api: "+api,
		"    hookrun.dev/gitlab-hook: acme%2Fwidgets/42\n    hookrun.dev/gitlab-token-secret: gh-token\n    hookrun.dev/gitlab-api: "+api, 1)
	return strings.Replace(cfg, "ref: {name: github}", "ref: {name: gitlab}", 1)
}

// startGitLabRecoveringListener runs `hookrun listener` on addr, recovering every second with fast
// GitLab resends (the fake has no rate limit).
func startGitLabRecoveringListener(t *testing.T, bin, kubeconfig, ns, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "listener", "--kubeconfig", kubeconfig, "--namespace", ns, "--eventlistener", "hooks",
		"--addr", addr, "--watch-namespace", ns, "--write-status=false", "--recover-interval", "1s", "--recover-gitlab-pace", "10ms")
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

// TestGitLabRecoveryThroughListenerCommand: GitLab fails 20 pushes while `hookrun listener` is down; once
// it starts at the hook's URL, they become exactly 20 PipelineRuns (the resends' payloads re-encoded); a
// listener started after it stopped resends nothing more.
func TestGitLabRecoveryThroughListenerCommand(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fake := forgetest.NewServer(forgeToken)
	defer fake.Close()
	env.Apply(t, ns, gitlabRecoveryConfig(fake.GitLabAPI()))
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
	fake.SetGitLabHook(gitlabRecoveryHook, "http://"+addr+"/hooks")
	for i := 0; i < 20; i++ {
		body := []byte(fmt.Sprintf(`{"object_kind":"push","n":"%d","before":"0"}`, i))
		req, err := listener.Outgoing{Provider: "gitlab", Event: "push", Secret: "recovery-secret", Body: body}.Request(ctx, "http://unused/")
		if err != nil {
			t.Fatal(err)
		}
		if e := fake.DeliverGitLab(gitlabRecoveryHook, req.Header, body); e.ResponseStatus != "internal error" {
			t.Fatalf("delivery while the listener is down: %+v", e)
		}
	}
	first := startGitLabRecoveringListener(t, bin, kubeconfig, ns, addr)
	runs := func() int {
		var list pipelinev1.PipelineRunList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	resent := func() int {
		n := 0
		for _, e := range fake.GitLabEvents(gitlabRecoveryHook) {
			if e.Resend {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(3 * time.Minute); runs() < 20; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d PipelineRuns after 3 minutes, want 20 (%d resends)", runs(), resent())
		}
	}
	time.Sleep(3 * time.Second) // more passes
	if n, r := runs(), resent(); n != 20 || r != 20 {
		t.Fatalf("%d PipelineRuns and %d resends, want 20 and 20", n, r)
	}

	// SIGTERM releases the Lease; the next listener takes it and continues from the cursor.
	_ = first.Process.Signal(os.Interrupt)
	_, _ = first.Process.Wait()
	startGitLabRecoveringListener(t, bin, kubeconfig, ns, addr)
	requests := func() int {
		n := 0
		for _, r := range fake.Requests() {
			if r.Hook == gitlabRecoveryHook && r.Provider == "gitlab" {
				n++
			}
		}
		return n
	}
	before := requests()
	for deadline := time.Now().Add(90 * time.Second); requests() == before; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second listener did not call GitLab within 90s")
		}
	}
	time.Sleep(3 * time.Second)
	if n, r := runs(), resent(); n != 20 || r != 20 {
		t.Fatalf("after the second listener: %d PipelineRuns and %d resends, want 20 and 20", n, r)
	}
}

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
)

const forgeToken = "faults-forge-token"

// statusRuns is a one-step Pipeline and n PipelineRuns of it reporting GitHub statuses to api, run i on
// commit sha(i).
func statusRuns(api string, n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: short}
spec:
  tasks:
  - name: test
    taskSpec:
      steps:
      - {name: s, image: alpine, script: "sleep 1"}
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: st-%d
  annotations:
    hookrun.dev/status: github
    hookrun.dev/status-secret: forge-token
    hookrun.dev/status-repo: octo/hello
    hookrun.dev/status-sha: %s
    hookrun.dev/status-api: %s
spec:
  pipelineRef: {name: short}
`, i, sha(i), api)
	}
	return b.String()
}

func sha(i int) string { return fmt.Sprintf("%040x", 0xabc000+i) }

// startExecutorAndNode runs the node agent and the executor binary for ns; the executor is returned to kill.
func startExecutorAndNode(t *testing.T, ns string) *proc {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "forge-token", Namespace: ns},
		StringData: map[string]string{"token": forgeToken}}); err != nil {
		t.Fatal(err)
	}
	newProc(t, "node", "--kubeconfig", kc, "--state", filepath.Join(t.TempDir(), "node"), "--node-name", "forge-node-"+ns[:min(len(ns), 20)])
	return newProc(t, "executor", "--kubeconfig", kc, "--namespace", ns, "--leader-elect=false", "--metrics-addr", "0", "--health-addr", "")
}

func states(rs []forgetest.Request) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.State)
	}
	return strings.Join(s, ",")
}

func waitAnnotation(t *testing.T, ns, name, key, want string, limit time.Duration) {
	t.Helper()
	var pr pipelinev1.PipelineRun
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr)
		if err == nil && pr.Annotations[key] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s = %q after %s, want %q (%v)", name, key, pr.Annotations[key], limit, want, err)
		}
	}
}

// TestExecutorKilledBeforeForgeReport SIGKILLs the executor binary after the run ended and before its final
// status is known to be on the commit — the forge refusing it (503: it never got there) or applying it and
// the answer being lost — and starts it again: the commit gets the final status exactly once.
func TestExecutorKilledBeforeForgeReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault forgetest.Fault
	}{
		{"forge answered 503", forgetest.Fault{Code: http.StatusServiceUnavailable, States: []string{"success"}}},
		{"answer lost after apply", forgetest.Fault{LoseAnswer: true, States: []string{"success"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := forgetest.NewServer(forgeToken)
			defer srv.Close()
			ns := env.Namespace(t)
			exe := startExecutorAndNode(t, ns)
			srv.SetFault(&tc.fault)
			applyYAML(t, ns, statusRuns(srv.GitHubAPI(), 1))
			waitDone(t, ns, "st-0", 60*time.Second)
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if strings.Contains(states(srv.Requests()), "success") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no success attempt: %+v", srv.Requests())
				}
			}
			exe.kill()
			srv.SetFault(nil)
			exe.start()
			waitAnnotation(t, ns, "st-0", forge.AnnotationReported, "running,success", 30*time.Second)
			time.Sleep(time.Second)
			if got := states(srv.Statuses(forge.GitHub, "octo/hello", sha(0))); got != "pending,success" {
				t.Fatalf("statuses %s, want pending,success; requests %+v", got, srv.Requests())
			}
		})
	}
}

// TestExecutorKilledWhileReporting SIGKILLs the executor at 8 random moments while 6 runs start, run and
// end: every commit ends with its final status exactly once and no status twice.
func TestExecutorKilledWhileReporting(t *testing.T) {
	const runs = 6
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	ns := env.Namespace(t)
	exe := startExecutorAndNode(t, ns)
	applyYAML(t, ns, statusRuns(srv.GitHubAPI(), runs))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	for i := 0; i < 8; i++ {
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		exe.kill()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		exe.start()
	}
	for i := 0; i < runs; i++ {
		name := fmt.Sprintf("st-%d", i)
		waitDone(t, ns, name, 120*time.Second)
		var pr pipelinev1.PipelineRun
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr); err == nil &&
				strings.HasSuffix(pr.Annotations[forge.AnnotationReported], "success") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: final status not recorded: %v", name, pr.Annotations)
			}
		}
	}
	time.Sleep(time.Second)
	for i := 0; i < runs; i++ {
		got := states(srv.Statuses(forge.GitHub, "octo/hello", sha(i)))
		if got != "pending,success" && got != "success" { // the run may have started and ended while no executor ran
			t.Errorf("st-%d: statuses %s, want pending,success (or success alone)", i, got)
		}
	}
}

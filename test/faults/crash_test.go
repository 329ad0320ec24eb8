package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// proc is a hookrun subprocess that a test can kill and start again.
type proc struct {
	t    *testing.T
	args []string
	cmd  *exec.Cmd
}

func newProc(t *testing.T, args ...string) *proc {
	p := &proc{t: t, args: args}
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start() {
	p.cmd = exec.Command(hookrunBinary(p.t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, io.Discard
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func applyYAML(t *testing.T, ns, docs string) { t.Helper(); env.Apply(t, ns, docs) }

func waitDone(t *testing.T, ns, name string, limit time.Duration) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	for deadline := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr); err == nil {
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
				return &pr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("PipelineRun %s not done after %s: %+v", name, limit, pr.Status)
		}
	}
}

const threeTasks = `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: three}
spec:
  tasks:
  - name: one
    taskSpec:
      results: [{name: out}]
      steps:
      - {name: s, image: alpine, script: "sleep 1; printf one > $(results.out.path)"}
  - name: two
    runAfter: [one]
    params: [{name: in, value: $(tasks.one.results.out)}]
    taskSpec:
      params: [{name: in}]
      results: [{name: out}]
      steps:
      - {name: s, image: alpine, script: "sleep 1; printf '%s-two' '$(params.in)' > $(results.out.path)"}
  - name: three
    runAfter: [two]
    params: [{name: in, value: $(tasks.two.results.out)}]
    taskSpec:
      params: [{name: in}]
      steps:
      - {name: s, image: alpine, script: "sleep 1; test '$(params.in)' = one-two"}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: crashy}
spec:
  pipelineRef: {name: three}
`

// TestExecutorKilledRepeatedly SIGKILLs the executor at 10 random moments of a 3-task run and starts it
// again each time: the run completes with exactly one TaskRun per task and one Pod per TaskRun.
func TestExecutorKilledRepeatedly(t *testing.T) {
	ns := env.Namespace(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	newProc(t, "node", "--kubeconfig", kc, "--state", filepath.Join(t.TempDir(), "node"), "--node-name", "crash-node-"+ns[:min(len(ns), 20)])
	exe := newProc(t, "executor", "--kubeconfig", kc, "--namespace", ns, "--leader-elect=false", "--metrics-addr", "0", "--health-addr", "")
	applyYAML(t, ns, threeTasks)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; i < 10; i++ {
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		exe.kill()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		exe.start()
	}
	pr := waitDone(t, ns, "crashy", 120*time.Second)
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("run after 10 executor kills: %+v", c)
	}
	var trs pipelinev1.TaskRunList
	if err := env.Client.List(context.Background(), &trs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(trs.Items) != 3 {
		t.Errorf("%d TaskRuns, want 3", len(trs.Items))
	}
	var pods corev1.PodList
	if err := env.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	perTR := map[string]int{}
	for _, p := range pods.Items {
		perTR[p.Labels["tekton.dev/taskRun"]]++
	}
	for _, tr := range trs.Items {
		if perTR[tr.Name] != 1 {
			t.Errorf("TaskRun %s has %d Pods, want 1", tr.Name, perTR[tr.Name])
		}
	}
}

// TestNodeAgentKilledMidStep SIGKILLs the node agent while a step runs: when it comes back the Pod is
// marked Failed with a reason (never left Running), and the TaskRun's retry runs to success.
func TestNodeAgentKilledMidStep(t *testing.T) {
	ns := env.Namespace(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "node")
	nodeName := "kill-node-" + ns[:min(len(ns), 20)]
	agent := newProc(t, "node", "--kubeconfig", kc, "--state", state, "--node-name", nodeName)
	newProc(t, "executor", "--kubeconfig", kc, "--namespace", ns, "--leader-elect=false", "--metrics-addr", "0", "--health-addr", "")
	// The first attempt sleeps long (and is interrupted); the retry finds the marker and finishes at once.
	marker := filepath.Join(t.TempDir(), "attempted")
	applyYAML(t, ns, fmt.Sprintf(`
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: retry}
spec:
  tasks:
  - name: slow
    retries: 1
    taskSpec:
      steps:
      - {name: s, image: alpine, script: "if [ -f %[1]s ]; then echo retried; exit 0; fi; touch %[1]s; sleep 60"}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: victim}
spec:
  pipelineRef: {name: retry}
`, marker))
	// Wait until the step's script runs (it has touched the marker), then kill the agent.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("step never started")
		}
	}
	agent.kill()
	time.Sleep(500 * time.Millisecond)
	agent.start()
	pr := waitDone(t, ns, "victim", 120*time.Second)
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("run after the node agent was killed: %+v", c)
	}
	var tr pipelinev1.TaskRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: pr.Status.ChildReferences[0].Name}, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Status.RetriesStatus) != 1 {
		t.Errorf("retriesStatus has %d entries, want 1 (the interrupted attempt)", len(tr.Status.RetriesStatus))
	}
	var pods corev1.PodList
	if err := env.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodFailed {
			failed++
			if p.Status.Reason == "" && p.Status.Message == "" {
				t.Errorf("Pod %s failed without a reason", p.Name)
			}
			t.Logf("interrupted Pod %s: %s: %s", p.Name, p.Status.Reason, p.Status.Message)
		}
		if p.Status.Phase == corev1.PodRunning {
			t.Errorf("Pod %s left Running", p.Name)
		}
	}
	if failed != 1 || len(pods.Items) != 2 {
		t.Errorf("%d Pods (%d failed), want 2 with 1 failed", len(pods.Items), failed)
	}
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

const tknConfig = `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: tkn-echo, namespace: default}
spec:
  steps:
  - {name: first, image: busybox, script: "echo one"}
  - {name: second, image: busybox, script: "echo two"}
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: tkn-slow, namespace: default}
spec:
  steps:
  - {name: wait, image: busybox, script: "echo start; sleep 4; echo end"}
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: tkn-forever, namespace: default}
spec:
  steps:
  - {name: wait, image: busybox, script: "sleep 600"}
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: tkn-pipe, namespace: default}
spec:
  tasks:
  - {name: a, taskRef: {name: tkn-echo}}
  - {name: b, runAfter: [a], taskRef: {name: tkn-echo}}
`

// tkn runs Tekton's CLI against the dev control plane and returns its combined output.
func tkn(t *testing.T, bin, kubeconfig string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "NO_COLOR=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tkn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// logLines keeps the lines of tkn's log output that carry a step prefix.
func logLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "[") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return keep
}

// TestTkn: Tekton's own CLI (make test-tkn builds it from the module proxy) reads hookrun's runs as it
// reads Tekton's: step logs with --showlog and taskrun/pipelinerun logs (the Task's steps and nothing
// else), following a running step, the pipeline's last run, cancel, and the EventListener's URL.
func TestTkn(t *testing.T) {
	bin := os.Getenv("HOOKRUN_TKN")
	if bin == "" {
		t.Skip("HOOKRUN_TKN is not set: make test-tkn builds tkn and runs this test")
	}
	root, hookrun := buildHookrun(t)
	tmp := filepath.Dir(hookrun)
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(root, bin)
	}
	d := startDev(t, root, hookrun, filepath.Join(tmp, "state"))
	kc := filepath.Join(d.state, "kubeconfig")
	apply := exec.Command(filepath.Join(root, "bin", "kubectl"), "--kubeconfig", kc, "apply", "-f", "-")
	apply.Stdin = strings.NewReader(tknConfig)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t.Logf("%s", tkn(t, bin, kc, "version"))

	t.Run("task start --showlog", func(t *testing.T) {
		out := tkn(t, bin, kc, "task", "start", "tkn-echo", "-n", "default", "--showlog")
		if got := strings.Join(logLines(out), "|"); got != "[first] one|[second] two" {
			t.Fatalf("step lines %q, want [first] one|[second] two\n%s", got, out)
		}
		// taskrun logs: exactly the Task's steps, nothing of hookrun's own containers.
		logs := tkn(t, bin, kc, "taskrun", "logs", "--last", "-n", "default")
		if got := strings.Join(logLines(logs), "|"); got != "[first] one|[second] two" {
			t.Fatalf("taskrun logs %q\n%s", got, logs)
		}
		for _, own := range []string{"prepare", "hookrun-results", "hookrun-result:"} {
			if strings.Contains(logs, own) {
				t.Errorf("taskrun logs show %q:\n%s", own, logs)
			}
		}
	})

	t.Run("pipeline start --showlog, last run", func(t *testing.T) {
		out := tkn(t, bin, kc, "pipeline", "start", "tkn-pipe", "-n", "default", "--showlog")
		want := "[a : first] one|[a : second] two|[b : first] one|[b : second] two"
		if got := strings.Join(logLines(out), "|"); got != want {
			t.Fatalf("pipeline lines %q, want %q\n%s", got, want, out)
		}
		var list pipelinev1.PipelineRunList
		if err := d.client.List(context.Background(), &list, client.InNamespace("default"), client.MatchingLabels{"tekton.dev/pipeline": "tkn-pipe"}); err != nil || len(list.Items) != 1 {
			t.Fatalf("runs of tkn-pipe: %d (%v)", len(list.Items), err)
		}
		pl := tkn(t, bin, kc, "pipeline", "list", "-n", "default")
		if !regexp.MustCompile(`tkn-pipe\s+.*` + regexp.QuoteMeta(list.Items[0].Name)).MatchString(pl) {
			t.Fatalf("pipeline list does not show the last run %s:\n%s", list.Items[0].Name, pl)
		}
	})

	t.Run("taskrun logs -f follows", func(t *testing.T) {
		started := tkn(t, bin, kc, "task", "start", "tkn-slow", "-n", "default")
		m := regexp.MustCompile(`TaskRun started: (\S+)`).FindStringSubmatch(started)
		if m == nil {
			t.Fatalf("tkn task start did not name the TaskRun:\n%s", started)
		}
		// By name: --last may still see the previous run when both were created in the same second.
		out := tkn(t, bin, kc, "taskrun", "logs", m[1], "-f", "-n", "default")
		if got := strings.Join(logLines(out), "|"); got != "[wait] start|[wait] end" {
			t.Fatalf("followed %q\n%s", got, out)
		}
	})

	t.Run("taskrun cancel", func(t *testing.T) {
		tkn(t, bin, kc, "task", "start", "tkn-forever", "-n", "default")
		var name string
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			var list pipelinev1.TaskRunList
			_ = d.client.List(context.Background(), &list, client.InNamespace("default"), client.MatchingLabels{"tekton.dev/task": "tkn-forever"})
			if len(list.Items) == 1 && list.Items[0].Status.PodName != "" {
				name = list.Items[0].Name
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("tkn-forever did not start")
			}
		}
		tkn(t, bin, kc, "taskrun", "cancel", name, "-n", "default")
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			var tr pipelinev1.TaskRun
			if err := d.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &tr); err == nil {
				if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status == corev1.ConditionFalse {
					if c.Reason != "TaskRunCancelled" {
						t.Fatalf("cancelled run: %+v", c)
					}
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("tkn taskrun cancel did not cancel")
			}
		}
	})

	t.Run("eventlistener list", func(t *testing.T) {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
			out := tkn(t, bin, kc, "eventlistener", "list", "-n", "default")
			if regexp.MustCompile(`github-listener\s+.*http://\S+\s+True`).MatchString(out) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("eventlistener list shows no URL and True:\n%s", out)
			}
		}
	})
}

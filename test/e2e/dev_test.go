// Package e2e runs hookrun as a user does: the `hookrun dev` binary (real etcd, kube-apiserver, listener,
// executor and node agent running Pods as local processes), signed webhooks sent over HTTP, and checks of
// what ran.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/test/controlplane"
)

// buildHookrun builds the hookrun and hookrun-step binaries into a fresh temporary directory and returns
// the repository root and the hookrun binary.
func buildHookrun(t *testing.T) (root, bin string) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// hookrun-step beside hookrun, as make build lays them out: hookrun dev's node agent runs it in Pods.
	dir := t.TempDir()
	for _, name := range []string{"hookrun", "hookrun-step"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return root, filepath.Join(dir, "hookrun")
}

type devProc struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	url    string
	state  string
	client client.Client
}

func startDev(t *testing.T, root, bin, state string) *devProc {
	t.Helper()
	addr := controlplane.FreeAddr(t)
	out := &bytes.Buffer{}
	cmd := exec.Command(bin, "dev", "--state", state, "--addr", addr, "--bin-dir", filepath.Join(root, "bin"),
		"--config", "examples/github-push", "--config", "examples/gitlab-mr")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devProc{cmd: cmd, out: out, url: "http://" + addr, state: state}
	t.Cleanup(func() { d.stop(t) })
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(d.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("hookrun dev not ready:\n%s", out)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	scheme, _ := api.NewScheme()
	if d.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *devProc) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("hookrun dev did not stop within 60s of SIGTERM")
		<-done
	}
}

func (d *devProc) send(t *testing.T, path string, o listener.Outgoing) listener.Response {
	t.Helper()
	req, err := o.Request(context.Background(), d.url+path)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r listener.Response
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	if len(r.Triggers) == 0 || r.Triggers[0].Status != listener.StatusCreated {
		t.Fatalf("trigger did not fire: %s", body)
	}
	return r
}

// waitRun waits until the PipelineRun is done and returns it.
func (d *devProc) waitRun(t *testing.T, name string) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if err := d.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &pr); err == nil {
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
				return &pr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("PipelineRun %s not done after 120s: %+v", name, pr.Status)
		}
	}
}

func (d *devProc) taskRun(t *testing.T, pr *pipelinev1.PipelineRun, task string) *pipelinev1.TaskRun {
	t.Helper()
	for _, c := range pr.Status.ChildReferences {
		if c.PipelineTaskName == task {
			var tr pipelinev1.TaskRun
			if err := d.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: c.Name}, &tr); err != nil {
				t.Fatal(err)
			}
			return &tr
		}
	}
	t.Fatalf("PipelineRun %s has no TaskRun for %s: %+v", pr.Name, task, pr.Status.ChildReferences)
	return nil
}

func logs(t *testing.T, state, pod string) string {
	t.Helper()
	var b strings.Builder
	entries, _ := os.ReadDir(filepath.Dir(node.LogPath(filepath.Join(state, "node"), "default", pod, "x")))
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(node.LogPath(filepath.Join(state, "node"), "default", pod, "x")), e.Name()))
		b.Write(data)
	}
	return b.String()
}

// TestDevLoop is the newcomer's loop, for real: the gitlab-mr example driven by a real GitLab payload runs
// to Succeeded with a result passed between tasks and a file shared through the workspace; github-push
// clones and tests a local repository and ends Completed with the Kaniko build skipped; with build-image
// "true" the Kaniko step fails with ContainerRuntimeRequired; and after a restart the runs and their logs
// are still there and the generated webhook secrets unchanged.
func TestDevLoop(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git is not installed: the github-push example clones a local repository (%v)", err)
	}
	root, bin := buildHookrun(t)
	tmp := filepath.Dir(bin)
	state := filepath.Join(tmp, "state")
	d := startDev(t, root, bin, state)
	checkDevSecurity(t, d, root, bin)
	secrets := devSecrets(t, state)

	// gitlab-mr with the real GitLab merge-request payload.
	mr, err := os.ReadFile(filepath.Join(root, "..", "shared", "corpus", "gitlab", "merge_request.json"))
	if err != nil {
		t.Logf("corpus absent (%v): using a minimal merge-request payload", err)
		mr = []byte(`{"object_kind":"merge_request","object_attributes":{"title":"MS-Viewport","source_branch":"ms-viewport","last_commit":{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}}}`)
	}
	r := d.send(t, "/hooks/gitlab-listener", listener.Outgoing{Provider: "gitlab", Event: "merge_request", Secret: secrets["default/gitlab-secret/token"], Body: mr})
	pr := d.waitRun(t, r.Triggers[0].Resources[0].Name)
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue || c.Reason != "Succeeded" {
		t.Fatalf("gitlab-mr run: %+v\n%s", c, d.out)
	}
	check := d.taskRun(t, pr, "check")
	short := ""
	for _, p := range check.Spec.Params {
		if p.Name == "short" {
			short = p.Value.StringVal
		}
	}
	if short != "da156088" {
		t.Errorf("result passed to the next task: short = %q, want da156088", short)
	}
	if l := logs(t, state, check.Status.PodName); !strings.Contains(l, "checking ms-viewport at da156088: MS-Viewport") {
		t.Errorf("check task did not read the shared workspace file; logs:\n%s", l)
	}

	// github-push: clone + test for real, build skipped.
	payload := filepath.Join(state, "push.json")
	body, err := os.ReadFile(payload)
	if err != nil {
		t.Fatal(err)
	}
	r = d.send(t, "/hooks", listener.Outgoing{Provider: "github", Event: "push", Secret: secrets["default/github-secret/secretToken"], Body: body})
	gh := d.waitRun(t, r.Triggers[0].Resources[0].Name)
	if c := gh.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue || c.Reason != "Completed" {
		t.Fatalf("github-push run: %+v", c)
	}
	if len(gh.Status.SkippedTasks) != 1 || gh.Status.SkippedTasks[0].Name != "build" {
		t.Errorf("skipped tasks: %+v", gh.Status.SkippedTasks)
	}
	testTR := d.taskRun(t, gh, "test")
	if l := logs(t, state, testTR.Status.PodName); !strings.Contains(l, "all tests passed") {
		t.Errorf("test task logs:\n%s", l)
	}

	// The same Pipeline with build-image "true": the Kaniko step needs a real node.
	withBuild := gh.DeepCopy()
	withBuild.ObjectMeta = metav1.ObjectMeta{Name: "with-build", Namespace: "default"}
	withBuild.Status = pipelinev1.PipelineRunStatus{}
	for i := range withBuild.Spec.Params {
		if withBuild.Spec.Params[i].Name == "build-image" {
			withBuild.Spec.Params[i].Value = *pipelinev1.NewStringValue("true")
		}
	}
	if err := d.client.Create(context.Background(), withBuild); err != nil {
		t.Fatal(err)
	}
	wb := d.waitRun(t, "with-build")
	if c := wb.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse {
		t.Fatalf("run with the Kaniko build: %+v", c)
	}
	buildTR := d.taskRun(t, wb, "build")
	found := false
	for _, s := range buildTR.Status.Steps {
		if s.Terminated != nil && s.Terminated.Reason == "ContainerRuntimeRequired" {
			found = true
		}
	}
	if !found {
		t.Errorf("kaniko step did not fail with ContainerRuntimeRequired: %+v", buildTR.Status.Steps)
	}

	// Restart: runs and logs survive.
	d.stop(t)
	d2 := startDev(t, root, bin, state)
	if again := devSecrets(t, state); again["default/github-secret/secretToken"] != secrets["default/github-secret/secretToken"] {
		t.Errorf("a restart changed the generated github secret")
	}
	var prs pipelinev1.PipelineRunList
	if err := d2.client.List(context.Background(), &prs, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	// The printed github command and this test's push send the same signed bytes: one run (replay
	// protection); the printed gitlab command and the corpus merge request differ: two. Plus with-build.
	if len(prs.Items) != 4 {
		t.Errorf("after a restart %d PipelineRuns are listed, want 4", len(prs.Items))
	}
	if l := logs(t, state, testTR.Status.PodName); !strings.Contains(l, "all tests passed") {
		t.Errorf("logs lost across a restart")
	}
}

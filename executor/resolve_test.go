package executor_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/executor"
)

// gitServer commits files (path → content) to a new repository and serves it over smart HTTP with
// git http-backend behind net/http/cgi. It returns the repository URL and the commit.
func gitServer(t *testing.T, files map[string]string) (url, commit string) {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git binary not found: the git resolver test serves a repository with git http-backend")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "repo.git")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-q", "-m", "catalog")
	commit = run("rev-parse", "HEAD")
	srv := httptest.NewServer(&cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git", commit
}

// bundleRegistry pushes a Tekton bundle holding one Task (name → YAML) to an in-process registry and
// returns the bundle reference and its digest.
func bundleRegistry(t *testing.T, taskName, taskYAML string) (ref, digest string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: taskName + ".yaml", Mode: 0o644, Size: int64(len(taskYAML)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(taskYAML)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, Annotations: map[string]string{
		"dev.tekton.image.apiVersion": "v1beta1", "dev.tekton.image.kind": "task", "dev.tekton.image.name": taskName,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ref = strings.TrimPrefix(srv.URL, "http://") + "/catalog/" + taskName + ":v1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref, d.Hex
}

func TestResolversPipelineRun(t *testing.T) {
	ns := newNamespace(t)
	other := newNamespace(t)
	apply(t, other, echoTask)
	bundle, bundleDigest := bundleRegistry(t, "echo", echoTask)
	repo, commit := gitServer(t, map[string]string{"pipelines/remote.yaml": fmt.Sprintf(`apiVersion: tekton.dev/v1beta1
kind: Pipeline
metadata:
  name: remote
spec:
  params:
    - {name: catalog-ns}
  results:
    - {name: final, value: $(tasks.b.results.out)}
  tasks:
    - name: a
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: %q}
          - {name: name, value: echo}
          - {name: kind, value: task}
      params: [{name: in, value: hi}]
    - name: b
      taskRef:
        resolver: cluster
        params:
          - {name: kind, value: task}
          - {name: name, value: echo}
          - {name: namespace, value: $(params.catalog-ns)}
      params: [{name: in, value: "$(tasks.a.results.out)"}]
`, bundle)})
	startExecutor(t, ns)
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: remote-run
spec:
  pipelineRef:
    resolver: git
    params:
      - {name: url, value: %q}
      - {name: revision, value: main}
      - {name: pathInRepo, value: pipelines/remote.yaml}
  params:
    - {name: catalog-ns, value: %q}
`, repo, other))
	finishTask(t, ns, "remote-run-a", echoResult("hi"))
	b := waitTaskRun(t, ns, "remote-run-b")
	if got := paramOf(b, "in"); got != "hi" {
		t.Errorf("b's param in = %q, want a's result", got)
	}
	finishTask(t, ns, "remote-run-b", echoResult("hi from b"))
	pr := waitPipelineRunReason(t, ns, "remote-run", executor.ReasonSucceeded)
	src := pr.Status.Provenance
	if src == nil || src.RefSource == nil || src.RefSource.URI != "git+"+repo || src.RefSource.Digest["sha1"] != commit ||
		src.RefSource.EntryPoint != "pipelines/remote.yaml" {
		t.Errorf("pipelinerun provenance = %+v, want git+%s sha1 %s", src, repo, commit)
	}
	if pr.Status.PipelineSpec == nil || len(pr.Status.PipelineSpec.Tasks) != 2 {
		t.Errorf("status.pipelineSpec not recorded: %+v", pr.Status.PipelineSpec)
	}
	if got := pr.Labels[executor.LabelPipeline]; got != "remote" {
		t.Errorf("pipelinerun label %s = %q, want the resolved Pipeline's name", executor.LabelPipeline, got)
	}
	a := getTaskRun(t, ns, "remote-run-a")
	if got := a.Labels[executor.LabelTask]; got != "echo" {
		t.Errorf("taskrun a label %s = %q, want the resolved Task's name", executor.LabelTask, got)
	}
	if p := a.Status.Provenance; p == nil || p.RefSource == nil || p.RefSource.Digest["sha256"] != bundleDigest || p.RefSource.EntryPoint != "echo" {
		t.Errorf("taskrun a provenance = %+v, want the bundle digest %s", p, bundleDigest)
	}
	b = getTaskRun(t, ns, "remote-run-b")
	if p := b.Status.Provenance; p == nil || p.RefSource == nil || !strings.Contains(p.RefSource.URI, "/namespaces/"+other+"/tasks/echo@") {
		t.Errorf("taskrun b provenance = %+v, want the cluster Task in %s", p, other)
	}
	if b.Status.TaskSpec == nil || len(b.Status.TaskSpec.Steps) != 1 {
		t.Errorf("taskrun b status.taskSpec = %+v", b.Status.TaskSpec)
	}
}

func TestResolutionFailures(t *testing.T) {
	ns := newNamespace(t)
	repo, _ := gitServer(t, map[string]string{"task.yaml": echoTask, "notatask.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"bad.yaml": "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: bad}\nspec:\n  steps: [{name: s, image: busybox, scriptt: x}]\n"})
	startExecutor(t, ns)
	gitRef := func(path string) string {
		return fmt.Sprintf("{resolver: git, params: [{name: url, value: %q}, {name: pathInRepo, value: %s}]}", repo, path)
	}
	for _, tc := range []struct {
		name, kind, spec, reason string
		msg                      []string
	}{
		{"pr-missing-file", "PipelineRun", "pipelineRef: " + gitRef("nope.yaml"), executor.ReasonPipelineRunResolutionFailed,
			[]string{"spec.pipelineRef", "resolver git", "param pathInRepo", `"nope.yaml" not found`}},
		{"pr-wrong-kind", "PipelineRun", "pipelineRef: " + gitRef("task.yaml"), executor.ReasonPipelineRunResolutionFailed,
			[]string{"spec.pipelineRef", "resolver git", "want a tekton.dev Pipeline"}},
		{"pr-missing-param", "PipelineRun", "pipelineRef: {resolver: git, params: [{name: url, value: x}]}", executor.ReasonPipelineRunResolutionFailed,
			[]string{"spec.pipelineRef", "resolver git", "param pathInRepo", "required"}},
		{"pr-task-unknown-resolver", "PipelineRun", "pipelineSpec:\n    tasks: [{name: a, taskRef: {resolver: svn, params: [{name: url, value: x}]}}]", "PipelineValidationFailed",
			[]string{"spec.tasks[0].taskRef", `unknown resolver "svn"`}},
		{"pr-task-result-param", "PipelineRun", `pipelineSpec:
    tasks:
      - {name: x, taskSpec: {results: [{name: out}], steps: [{name: s, image: busybox, script: "true"}]}}
      - {name: b, taskRef: {resolver: cluster, params: [{name: name, value: "$(tasks.x.results.out)"}]}}`, executor.ReasonPipelineRunResolutionFailed,
			[]string{"spec.tasks[1].taskRef.params[0]", `resolver param "name" uses a task result`}},
		{"tr-invalid-task", "TaskRun", "taskRef: " + gitRef("bad.yaml"), executor.ReasonResolutionFailed,
			[]string{"spec.taskRef", "resolver git", `Task "bad" is not valid`, `unknown field "spec.steps[0].scriptt"`}},
		{"tr-bad-bundle", "TaskRun", `taskRef: {resolver: bundles, params: [{name: bundle, value: "UPPER::x"}, {name: name, value: echo}]}`, executor.ReasonResolutionFailed,
			[]string{"spec.taskRef", "resolver bundles", "param bundle"}},
		{"tr-cluster-missing", "TaskRun", `taskRef: {resolver: cluster, params: [{name: name, value: nope}]}`, executor.ReasonResolutionFailed,
			[]string{"spec.taskRef", "resolver cluster", "param name", `Task "nope" not found in namespace "` + ns + `"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, ns, "apiVersion: tekton.dev/v1\nkind: "+tc.kind+"\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+tc.spec+"\n")
			var c *pipelinev1.Condition
			if tc.kind == "TaskRun" {
				c = waitTaskRunReason(t, ns, tc.name, tc.reason).Status.GetCondition(pipelinev1.ConditionSucceeded)
			} else {
				c = waitPipelineRunReason(t, ns, tc.name, tc.reason).Status.GetCondition(pipelinev1.ConditionSucceeded)
			}
			if c.Status != corev1.ConditionFalse {
				t.Errorf("condition = %+v, want False", c)
			}
			for _, m := range tc.msg {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q does not contain %q", c.Message, m)
				}
			}
		})
	}
}

// An unreachable source keeps the run pending and is tried again with backoff, not in a hot loop.
func TestResolutionRetriedWithBackoff(t *testing.T) {
	ns := newNamespace(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if requests.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, echoTask)
	}))
	defer srv.Close()
	startExecutor(t, ns)
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: flaky
spec:
  taskRef:
    resolver: http
    params: [{name: url, value: %q}]
`, srv.URL+"/echo.yaml"))
	tr := waitTaskRunReason(t, ns, "flaky", executor.ReasonResolvingTaskRef)
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionUnknown || !strings.Contains(c.Message, "503") {
		t.Errorf("while retrying: condition %+v", c)
	}
	pod := waitPod(t, ns, "flaky-pod")
	// Two failures: waits of 1 s then 2 s before the third, successful, request.
	// A status write that meets a conflict may fetch once more; more than that is a retry loop.
	if n := requests.Load(); n < 3 || n > 4 {
		t.Errorf("%d requests to the source, want 3 (two 503s, then success), 4 at most", n)
	}
	// Timestamps have whole seconds: 3 s of backoff show as at least 2.
	if waited := pod.CreationTimestamp.Sub(tr.CreationTimestamp.Time); waited < 2*time.Second {
		t.Errorf("the Pod was made %v after the TaskRun: no backoff between attempts", waited)
	}
	// Once resolved, the source is left alone (a status write that lost a conflict may fetch once more).
	time.Sleep(time.Second)
	after := requests.Load()
	time.Sleep(2 * time.Second)
	if n := requests.Load(); n > 4 || n != after {
		t.Errorf("%d requests after success (%d a while before), want at most 4 and no more", n, after)
	}
	tr = getTaskRun(t, ns, "flaky")
	if tr.Status.Provenance == nil || tr.Status.Provenance.RefSource.URI != srv.URL+"/echo.yaml" {
		t.Errorf("provenance %+v", tr.Status.Provenance)
	}
}

func TestClusterTask(t *testing.T) {
	ns := newNamespace(t)
	ctName := "echo-" + ns
	var u pipelinev1beta1.ClusterTask
	u.Name = ctName
	u.Spec = pipelinev1.TaskSpec{
		Params:  pipelinev1.ParamSpecs{{Name: "in", Default: pipelinev1.NewStringValue("none")}},
		Results: []pipelinev1.TaskResult{{Name: "out"}},
		Steps:   []pipelinev1.Step{{Name: "echo", Image: "busybox", Script: `printf '%s' "$(params.in)" > $(results.out.path)`}},
	}
	if err := env.Client.Create(context.Background(), &u); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), &u) })
	startExecutor(t, ns)
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: ct
spec:
  taskRef: {name: %s, kind: ClusterTask}
  params: [{name: in, value: hello}]
---
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: ctp
spec:
  pipelineSpec:
    tasks:
      - name: a
        taskRef: {name: %s, kind: ClusterTask}
        params: [{name: in, value: x}]
`, ctName, ctName))
	finishTask(t, ns, "ct", echoResult("hello"))
	tr := waitTaskRunReason(t, ns, "ct", executor.ReasonSucceeded)
	if tr.Labels[executor.LabelClusterTask] != ctName {
		t.Errorf("labels %v, want %s=%s", tr.Labels, executor.LabelClusterTask, ctName)
	}
	if tr.Status.TaskSpec == nil || len(tr.Status.TaskSpec.Steps) != 1 {
		t.Errorf("status.taskSpec %+v", tr.Status.TaskSpec)
	}
	finishTask(t, ns, "ctp-a", echoResult("x"))
	waitPipelineRunReason(t, ns, "ctp", executor.ReasonSucceeded)

	apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: ct-missing\nspec:\n  taskRef: {name: nope-"+ns+", kind: ClusterTask}\n")
	c := waitTaskRunReason(t, ns, "ct-missing", executor.ReasonResolutionFailed).Status.GetCondition(pipelinev1.ConditionSucceeded)
	if !strings.Contains(c.Message, `ClusterTask "nope-`+ns+`" not found (spec.taskRef.name)`) {
		t.Errorf("message %q", c.Message)
	}
	_ = metav1.Now
}

func TestStepActionResolver(t *testing.T) {
	ns := newNamespace(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/greet.yaml" {
			http.NotFound(w, req)
			return
		}
		_, _ = io.WriteString(w, "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata: {name: greet}\nspec:\n  image: alpine:3\n  script: echo remote\n")
	}))
	defer srv.Close()
	startExecutor(t, ns)
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: step-remote
spec:
  params:
    - {name: base, value: %q}
  taskSpec:
    params:
      - {name: base}
      - {name: file, default: greet.yaml}
    steps:
      - name: greet
        ref:
          resolver: http
          params: [{name: url, value: "$(params.base)/$(params.file)"}]
`, srv.URL))
	waitPod(t, ns, "step-remote-pod")
	// The TaskRun's status (with the resolved spec) is written after its Pod is created.
	tr := getTaskRun(t, ns, "step-remote")
	for deadline := time.Now().Add(30 * time.Second); tr.Status.TaskSpec == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		tr = getTaskRun(t, ns, "step-remote")
	}
	if tr.Status.TaskSpec == nil || len(tr.Status.TaskSpec.Steps) != 1 || tr.Status.TaskSpec.Steps[0].Image != "alpine:3" ||
		!strings.Contains(tr.Status.TaskSpec.Steps[0].Script, "echo remote") {
		t.Fatalf("status.taskSpec = %+v, want the StepAction fetched over http inlined", tr.Status.TaskSpec)
	}
}

// A run's reference is resolved once: an executor restarted mid-run reads the spec from status and does
// not fetch it again.
func TestResolvedOnceAcrossRestart(t *testing.T) {
	ns := newNamespace(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		_, _ = io.WriteString(w, echoTask)
	}))
	defer srv.Close()
	stop := startExecutor(t, ns)
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: once
spec:
  pipelineSpec:
    tasks:
      - name: a
        taskRef:
          resolver: http
          params: [{name: url, value: %q}]
        params: [{name: in, value: x}]
`, srv.URL+"/echo.yaml"))
	waitPod(t, ns, "once-a-pod")
	eventually(t, 15*time.Second, "status.taskSpec recorded", func() (bool, error) {
		return getTaskRun(t, ns, "once-a").Status.TaskSpec != nil, nil
	})
	before := requests.Load()
	stop()
	startExecutor(t, ns)
	finishTask(t, ns, "once-a", echoResult("x"))
	waitPipelineRunReason(t, ns, "once", executor.ReasonSucceeded)
	if after := requests.Load(); after != before {
		t.Errorf("the restarted executor fetched the Task again (%d requests before the restart, %d after)", before, after)
	}
}

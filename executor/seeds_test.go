package executor_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
	"github.com/hookrun/hookrun/test/seeds"
)

// seedDoc returns the seed manifest of kind and name whose text contains every one of contains.
func seedDoc(t *testing.T, kind, name string, contains ...string) string {
	t.Helper()
	dir := seeds.Dir(env.Root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds (a clone without ../shared); the fixture-based tests cover the essentials", env.Root)
	}
	docs, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
next:
	for _, d := range docs {
		if d.Kind != kind || d.Elided {
			continue
		}
		for _, c := range contains {
			if !strings.Contains(string(d.YAML), c) {
				continue next
			}
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if yaml.Unmarshal(d.YAML, &meta) == nil && meta.Metadata.Name == name {
			return strings.TrimRight(string(d.YAML), "\n") + "\n"
		}
	}
	t.Fatalf("seed %s %q not found in %s", kind, name, dir)
	return ""
}

// The seeds' v1beta1 pipeline with PipelineResources (git-res in, harbor-image out) and a result passed
// from generate-build-id to the docker build, run as written. The tutorial's "test" Task, the git-res
// PipelineResource and the build-sa ServiceAccount are defined elsewhere in it; they are written here.
func TestSeedPipelineWithResources(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	docs := []string{
		seedDoc(t, "Task", "generate-build-id"),
		seedDoc(t, "Task", "build-and-push", "builtImage", "imageTag"),
		seedDoc(t, "Pipeline", "test-pipeline", "get-build-id", "harbor-image"),
		seedDoc(t, "PipelineResource", "harbor-image"),
		seedDoc(t, "PipelineRun", "test-pipelinerun", "image-tag", "harbor-image"),
		`apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: test
spec:
  resources:
    inputs:
      - name: repo
        type: git
  steps:
    - name: run-test
      image: golang:1.14-alpine
      workingDir: /workspace/repo
      script: |
        #!/usr/bin/env sh
        go test ./...
`,
		`apiVersion: tekton.dev/v1alpha1
kind: PipelineResource
metadata:
  name: git-res
spec:
  type: git
  params:
    - name: url
      value: https://github.com/cnych/tekton-demo
    - name: revision
      value: master
`,
		registrySecret,
	}
	apply(t, ns, strings.Join(docs, "---\n"))
	// test and get-build-id start together; build-and-push waits for both.
	testPod := waitPod(t, ns, "test-pipelinerun-test-pod")
	if names := containerNames(podContainers(testPod)); names != "prepare,step-git-source-repo,step-run-test,hookrun-results" {
		t.Errorf("test pod containers = %s", names)
	}
	finishTask(t, ns, "test-pipelinerun-get-build-id", map[string]kubelettest.Outcome{
		"step-get-timestamp": kubelettest.Wrapped(0, map[string]string{"timestamp": "20220719-064312"}, false),
		"step-get-buildid":   kubelettest.Wrapped(0, map[string]string{"build-id": "v0.3.0-20220719-064312"}, false),
	})
	ids := waitTaskRunReason(t, ns, "test-pipelinerun-get-build-id", "Succeeded")
	if got := paramOf(ids, "base-version"); got != "v0.3.0" {
		t.Errorf("get-build-id base-version = %q", got)
	}
	if names := taskRunNames(t, ns); strings.Join(names, ",") != "test-pipelinerun-get-build-id,test-pipelinerun-test" {
		t.Errorf("taskruns = %v: build-and-push must wait for test", names)
	}
	finishTask(t, ns, "test-pipelinerun-test", nil)
	bp := waitTaskRun(t, ns, "test-pipelinerun-build-and-push")
	if got := paramOf(bp, "imageTag"); got != "v0.3.0-20220719-064312" {
		t.Errorf("imageTag = %q", got)
	}
	if bp.Spec.ServiceAccountName != "build-sa" {
		t.Errorf("serviceAccountName = %q", bp.Spec.ServiceAccountName)
	}
	pod := waitPod(t, ns, "test-pipelinerun-build-and-push-pod")
	if names := containerNames(podContainers(pod)); names != "prepare,step-git-source-repo,step-build-and-push,hookrun-results" {
		t.Errorf("build pod containers = %s", names)
	}
	script := envValue(stepAt(t, pod, 1), "HOOKRUN_SCRIPT")
	for _, want := range []string{
		"docker build -t harbor.k8s.local/course/tekton-demo:v0.3.0-20220719-064312 -f /workspace/repo/Dockerfile /workspace/repo",
		"docker push harbor.k8s.local/course/tekton-demo:v0.3.0-20220719-064312",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("build script lacks %q:\n%s", want, script)
		}
	}
	if got := envValue(stepAt(t, pod, 0), "HOOKRUN_GIT_URL"); got != "https://github.com/cnych/tekton-demo" {
		t.Errorf("clone url = %q", got)
	}
	if got := envValue(stepAt(t, pod, 1), "DOCKER_CONFIG"); got != "/tekton/home/.docker" {
		t.Errorf("DOCKER_CONFIG = %q (build-sa has a docker credential)", got)
	}
	finishTask(t, ns, "test-pipelinerun-build-and-push", nil)
	pr := waitPipelineRunReason(t, ns, "test-pipelinerun", "Succeeded")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Errorf("condition = %+v", c)
	}
}

// The seeds' Maven pipeline: an array param given as $(inputs.params.GOALS), an inline git resourceSpec
// and a PVC workspace shared by three tasks, two of them in parallel after the first.
func TestSeedMavenPipeline(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, strings.Join([]string{
		seedDoc(t, "Task", "mvn-task"),
		seedDoc(t, "Pipeline", "mvn-pipeline"),
		seedDoc(t, "PipelineRun", "mvn-pipelinerun"),
	}, "---\n"))
	pod := waitPod(t, ns, "mvn-pipelinerun-build-pod")
	mvn := view(stepAt(t, pod, 1))
	if want := []string{"-Dmaven.repo.local=/workspace/maven-repo", "package"}; strings.Join(mvn.Args, " ") != strings.Join(want, " ") {
		t.Errorf("mvn args = %q, want %q", mvn.Args, want)
	}
	if got := envValue(stepAt(t, pod, 0), "HOOKRUN_GIT_URL"); got != "https://github.91chi.fun/https://github.com/cnych/spring-petclinic" {
		t.Errorf("clone url = %q", got)
	}
	if !strings.Contains(strings.Join(volumeNames(pod), " "), "ws-maven-repo=pvc(mvn-repo-pvc)") {
		t.Errorf("volumes = %v", volumeNames(pod))
	}
	finishTask(t, ns, "mvn-pipelinerun-build", nil)
	finishTask(t, ns, "mvn-pipelinerun-int-test", nil)
	finishTask(t, ns, "mvn-pipelinerun-gen-report", nil)
	waitPipelineRunReason(t, ns, "mvn-pipelinerun", "Succeeded")
}

func containerNames(list []corev1.Container) string {
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

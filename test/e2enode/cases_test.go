package e2enode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/seeds"
)

const runTimeout = 4 * time.Minute

// testGitLabMR: the gitlab-mr example, triggered by GitLab's real merge-request payload with its token:
// a result passed from the first task to the second, and a file shared through the PVC workspace.
func (n *node) testGitLabMR(t *testing.T, root, ns string) {
	body := readCorpus(t, root,
		[]byte(`{"object_kind":"merge_request","object_attributes":{"title":"MS-Viewport","source_branch":"ms-viewport","last_commit":{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}}}`),
		"gitlab", "merge_request.json")
	name, _ := n.send(t, "/hooks/gitlab-listener", listener.Outgoing{Provider: "gitlab", Event: "merge_request", Secret: e2eSecret, Body: body})
	pr := n.waitPR(t, ns, name, runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionTrue || c.Reason != "Succeeded" {
		t.Fatalf("gitlab-mr run %s: %+v\n%s", name, c, n.describeRuns(ns))
	}
	describe := n.taskRun(t, pr, "describe")
	check := n.taskRun(t, pr, "check")
	if got := resultOf(describe, "short"); got != "da156088" {
		t.Errorf("describe result short = %q, want da156088", got)
	}
	if got := paramOf(check, "short"); got != "da156088" {
		t.Errorf("result passed to the next task: check param short = %q, want da156088", got)
	}
	logs := n.podLogs(n.pod(t, ns, check.Status.PodName))
	if !strings.Contains(logs, "checking ms-viewport at da156088: MS-Viewport") {
		t.Errorf("check task did not read the file the first task wrote to the PVC workspace; logs:\n%s", logs)
	}
	var pvc corev1.PersistentVolumeClaim
	claim := ""
	for _, w := range check.Spec.Workspaces {
		if w.PersistentVolumeClaim != nil {
			claim = w.PersistentVolumeClaim.ClaimName
		}
	}
	if err := n.client.Get(context.Background(), clientKey(ns, claim), &pvc); err != nil || pvc.Status.Phase != corev1.ClaimBound {
		t.Errorf("workspace PVC %q: %v phase %s", claim, err, pvc.Status.Phase)
	}
}

// testGitHubPush: the github-push example, triggered by GitHub's push payload pointed at the local git
// server: clone over the pod network, the commit result passed to the test task, the build skipped. Then
// the same Pipeline with build-image "true": the Kaniko step reaches the kubelet as the catalog Task wrote
// it, and fails only at image pull (there is no Kaniko image on this node).
func (n *node) testGitHubPush(t *testing.T, root, ns string) {
	body := readCorpus(t, root, []byte(`{"ref":"refs/heads/main","repository":{"name":"repo"}}`), "github", "push", "payload.json")
	body = setJSON(t, body, map[string]any{
		"ref":                       "refs/heads/main",
		"after":                     n.repoSHA,
		"repository.clone_url":      n.gitURL + "/repo.git",
		"repository.default_branch": "main",
	})
	name, _ := n.send(t, "/hooks", listener.Outgoing{Provider: "github", Event: "push", Secret: e2eSecret, Body: body})
	pr := n.waitPR(t, ns, name, runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionTrue || c.Reason != "Completed" {
		t.Fatalf("github-push run %s: %+v (want Completed: build skipped)\n%s", name, c, n.describeRuns(ns))
	}
	if len(pr.Status.SkippedTasks) != 1 || pr.Status.SkippedTasks[0].Name != "build" {
		t.Errorf("skipped tasks: %+v", pr.Status.SkippedTasks)
	}
	fetch := n.taskRun(t, pr, "fetch")
	if got := resultOf(fetch, "commit"); got != n.repoSHA {
		t.Errorf("fetch result commit = %q, want %s", got, n.repoSHA)
	}
	test := n.taskRun(t, pr, "test")
	if got := paramOf(test, "commit"); got != n.repoSHA {
		t.Errorf("commit passed to the test task = %q, want %s", got, n.repoSHA)
	}
	fetchLogs := n.podLogs(n.pod(t, ns, fetch.Status.PodName))
	if !strings.Contains(fetchLogs, "cloned "+n.gitURL+"/repo.git at "+n.repoSHA[:7]) {
		t.Errorf("clone logs:\n%s", fetchLogs)
	}
	testLogs := n.podLogs(n.pod(t, ns, test.Status.PodName))
	if !strings.Contains(testLogs, "testing commit "+n.repoSHA) || !strings.Contains(testLogs, "all tests passed") {
		t.Errorf("test logs:\n%s", testLogs)
	}
	if got := pr.Status.Results; len(got) != 1 || got[0].Value.StringVal != n.repoSHA {
		t.Errorf("pipeline results = %+v", got)
	}

	// The Kaniko build.
	wb := pr.DeepCopy()
	wb.ObjectMeta = metaFor(ns, "with-build")
	wb.Status = pipelinev1.PipelineRunStatus{}
	for i := range wb.Spec.Params {
		if wb.Spec.Params[i].Name == "build-image" {
			wb.Spec.Params[i].Value = *pipelinev1.NewStringValue("true")
		}
	}
	if err := n.client.Create(context.Background(), wb); err != nil {
		t.Fatal(err)
	}
	var buildTR *pipelinev1.TaskRun
	if err := waitFor(runTimeout, "with-build's build TaskRun", func() (bool, error) {
		cur, err := n.getPR(ns, "with-build")
		if err != nil {
			return false, err
		}
		if c := cur.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status == corev1.ConditionFalse {
			return false, fmt.Errorf("with-build failed before its build: %+v", c)
		}
		buildTR, err = n.findTaskRun(cur, "build")
		return err == nil && buildTR.Status.PodName != "", err
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(ns))
	}
	const kaniko = "step-build-and-push"
	p := n.waitPod(t, ns, buildTR.Status.PodName, runTimeout, "Kaniko step at image pull", func(p *corev1.Pod) bool {
		s, ok := containerStatus(p, kaniko)
		return ok && s.State.Waiting != nil && (s.State.Waiting.Reason == "ErrImagePull" || s.State.Waiting.Reason == "ImagePullBackOff")
	})
	s, _ := containerStatus(p, kaniko)
	t.Logf("Kaniko step on the kubelet: %s", stateString(s.State))
	if !strings.Contains(s.State.Waiting.Message, kanikoImage) {
		t.Errorf("pull failure is not about the Kaniko image %s: %s", kanikoImage, s.State.Waiting.Message)
	}
	if ps, _ := containerStatus(p, "prepare"); ps.State.Terminated == nil || ps.State.Terminated.ExitCode != 0 {
		t.Errorf("prepare did not complete before the Kaniko step: %s", stateString(ps.State))
	}
	c, _ := containerSpec(p, kaniko)
	wantArgs := []string{"--dockerfile=./Dockerfile", "--context=/workspace/source/src", "--destination=registry.example.com/demo/app:latest",
		"--digest-file=/tekton/results/IMAGE_DIGEST"}
	if c.Image != kanikoImage || len(c.Command) != 0 || strings.Join(c.Args, " ") != strings.Join(wantArgs, " ") ||
		c.WorkingDir != "/workspace/source" || c.SecurityContext == nil || c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 0 {
		t.Errorf("Kaniko container as the kubelet got it: image %q command %q args %q workingDir %q securityContext %+v",
			c.Image, c.Command, c.Args, c.WorkingDir, c.SecurityContext)
	}
	if w, _ := containerStatus(p, "step-write-url"); w.State.Terminated != nil || w.State.Running != nil {
		t.Errorf("the step after the Kaniko step ran: %s", stateString(w.State))
	}
	// Once the kubelet backs off, the executor fails the TaskRun like Tekton (TaskRunImagePullFailed) and
	// the run ends Failed; the Pod is stopped but kept.
	done := n.waitPR(t, ns, "with-build", runTimeout)
	if c := condition(done); c.Status != corev1.ConditionFalse || c.Reason != "Failed" {
		t.Errorf("with-build: %+v", c)
	}
	var cur pipelinev1.TaskRun
	if err := n.client.Get(context.Background(), clientKey(ns, buildTR.Name), &cur); err != nil {
		t.Fatal(err)
	}
	if c := trCondition(&cur); c.Reason != "TaskRunImagePullFailed" || !strings.Contains(c.Message, kanikoImage) {
		t.Errorf("build TaskRun: %s/%s: %s (want TaskRunImagePullFailed naming %s)", c.Status, c.Reason, c.Message, kanikoImage)
	}
}

// testFailingStep: the second of three steps exits 3; the third never runs (the kubelet never creates
// its container), the Task fails, and the task after it is never started.
func (n *node) testFailingStep(t *testing.T) {
	ns := n.namespace(t, "failing")
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: failing
spec:
  pipelineSpec:
    tasks:
    - name: work
      taskSpec:
        steps:
        - name: first
          image: alpine:3.20
          script: echo first ran
        - name: fails
          image: alpine:3.20
          script: |
            echo about to fail
            exit 3
        - name: never
          image: alpine:3.20
          script: echo this must not run
    - name: after
      runAfter: [work]
      taskSpec:
        steps:
        - name: s
          image: alpine:3.20
          script: echo neither must this
`)
	pr := n.waitPR(t, ns, "failing", runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionFalse || c.Reason != "Failed" {
		t.Errorf("PipelineRun: %+v", c)
	}
	work := n.taskRun(t, pr, "work")
	if c := trCondition(work); c.Status != corev1.ConditionFalse || c.Reason != "Failed" || !strings.Contains(c.Message, "exited with code 3") {
		t.Errorf("TaskRun work: %+v", c)
	}
	if s, _ := step(work, "first"); s.Terminated == nil || s.Terminated.ExitCode != 0 {
		t.Errorf("step first: %+v", s)
	}
	if s, _ := step(work, "fails"); s.Terminated == nil || s.Terminated.ExitCode != 3 {
		t.Errorf("step fails: %+v", s)
	}
	if s, _ := step(work, "never"); s.Terminated == nil || s.TerminationReason != "Skipped" {
		t.Errorf("step never: %+v", s)
	}
	if _, err := n.findTaskRun(pr, "after"); err == nil {
		t.Errorf("task after ran although work failed")
	}
	p := n.pod(t, ns, work.Status.PodName)
	if p.Status.Phase != corev1.PodFailed {
		t.Errorf("pod phase %s", p.Status.Phase)
	}
	times := n.events.pod(ns, p.Name)
	switch layout := p.Annotations["hookrun.dev/steps"]; layout {
	case "containers":
		// The step's container started with the others; its wrapper read the failure and ran nothing.
		if s, _ := step(work, "never"); s.Terminated == nil || !strings.Contains(s.Terminated.Message, `"fails"`) {
			t.Errorf("step never: %+v, want it skipped naming the failed step", s)
		}
	default:
		if _, created := times["step-never"]; created {
			t.Errorf("the kubelet created the init container of the step after the failing one (layout %q)", layout)
		}
	}
	logs := n.podLogs(p)
	if !strings.Contains(logs, "first ran") || !strings.Contains(logs, "about to fail") || strings.Contains(logs, "must not run") {
		t.Errorf("logs:\n%s", logs)
	}
}

// testRequests: five steps asking for one CPU each run on this 2-core node, as on Tekton: the scheduler
// sums regular containers' requests, so only one step keeps the largest request.
func (n *node) testRequests(t *testing.T) {
	ns := n.namespace(t, "requests")
	var steps strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&steps, "        - name: s%d\n          image: alpine:3.20\n          script: echo %d\n          computeResources: {requests: {cpu: \"1\"}}\n", i, i)
	}
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: cpus
spec:
  pipelineSpec:
    tasks:
    - name: work
      taskSpec:
        steps:
`+steps.String())
	pr := n.waitPR(t, ns, "cpus", runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionTrue {
		t.Fatalf("five 1-CPU steps on a 2-CPU node: %+v\n%s", c, n.describeRuns(ns))
	}
	p := n.pod(t, ns, n.taskRun(t, pr, "work").Status.PodName)
	var total int64
	for _, c := range p.Spec.Containers {
		total += c.Resources.Requests.Cpu().MilliValue()
	}
	if total != 1000 {
		t.Errorf("the Pod's containers request %dm CPU in all, want 1000m", total)
	}
}

// testTimeouts: a PipelineRun timeout stops a sleeping step (the Pod is killed by its
// activeDeadlineSeconds), and a step timeout is enforced by hookrun's wrapper inside the container.
func (n *node) testTimeouts(t *testing.T) {
	ns := n.namespace(t, "timeouts")
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: run-timeout
spec:
  timeouts:
    pipeline: 15s
  pipelineSpec:
    tasks:
    - name: slow
      taskSpec:
        steps:
        - name: sleep
          image: alpine:3.20
          script: |
            echo sleeping
            sleep 300
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: step-timeout
spec:
  pipelineSpec:
    tasks:
    - name: slow
      taskSpec:
        steps:
        - name: sleep
          image: alpine:3.20
          timeout: 2s
          script: |
            echo sleeping
            sleep 300
        - name: after
          image: alpine:3.20
          script: echo this must not run
`)
	start := time.Now()
	pr := n.waitPR(t, ns, "run-timeout", runTimeout)
	took := time.Since(start)
	if c := condition(pr); c.Status != corev1.ConditionFalse || c.Reason != "PipelineRunTimeout" {
		t.Errorf("run-timeout: %+v", c)
	}
	if took > 90*time.Second {
		t.Errorf("run-timeout took %s to end (timeout 15s)", took)
	}
	tr := n.taskRun(t, pr, "slow")
	// Tekton cancels the TaskRuns of a PipelineRun that timed out ("TaskRun cancelled as the PipelineRun it
	// belongs to has timed out"); a TaskRun timing out on its own says TaskRunTimeout. The TaskRun's own
	// reconcile writes that just after the PipelineRun's.
	_ = waitFor(30*time.Second, "run-timeout TaskRun ended", func() (bool, error) {
		tr = n.taskRun(t, pr, "slow")
		return trCondition(tr).Status != corev1.ConditionUnknown, nil
	})
	if c := trCondition(tr); c.Status != corev1.ConditionFalse ||
		!(c.Reason == "TaskRunTimeout" || c.Reason == "TaskRunCancelled" && strings.Contains(c.Message, "timed out")) {
		t.Errorf("run-timeout TaskRun: %+v", c)
	}
	// The Pod itself is stopped on the node (kept for its logs).
	p := n.waitPod(t, ns, tr.Status.PodName, 90*time.Second, "stopped", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed
	})
	if s, _ := containerStatus(p, "step-sleep"); s.State.Terminated == nil {
		t.Errorf("step-sleep not terminated on the node: %s", stateString(s.State))
	}
	t.Logf("run-timeout ended after %s; pod %s reason %s", took.Round(time.Millisecond), p.Status.Phase, p.Status.Reason)

	pr = n.waitPR(t, ns, "step-timeout", runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionFalse {
		t.Errorf("step-timeout: %+v", c)
	}
	tr = n.taskRun(t, pr, "slow")
	if s, _ := step(tr, "sleep"); s.Terminated == nil || s.TerminationReason != "TimeoutExceeded" {
		t.Errorf("step sleep: reason %q %+v", s.TerminationReason, s.Terminated)
	}
	if s, _ := step(tr, "after"); s.Terminated == nil || s.TerminationReason != "Skipped" {
		t.Errorf("step after: %+v", s)
	}
	if times := n.events.pod(ns, tr.Status.PodName); !times["step-sleep"].Exit.IsZero() {
		ct := times["step-sleep"]
		if d := ct.Exit.Sub(ct.Start); d > 20*time.Second {
			t.Errorf("the 2s step ran %s", d)
		} else {
			t.Logf("2s step timeout: container ran %s", d.Round(time.Millisecond))
		}
	}
}

// testCancel: cancelling a PipelineRun stops its running step on the node.
func (n *node) testCancel(t *testing.T) {
	ns := n.namespace(t, "cancel")
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: cancel-me
spec:
  pipelineSpec:
    tasks:
    - name: slow
      taskSpec:
        steps:
        - name: sleep
          image: alpine:3.20
          script: |
            echo started
            sleep 300
`)
	var tr *pipelinev1.TaskRun
	if err := waitFor(runTimeout, "cancel-me step running", func() (bool, error) {
		pr, err := n.getPR(ns, "cancel-me")
		if err != nil {
			return false, err
		}
		if tr, err = n.findTaskRun(pr, "slow"); err != nil {
			return false, err
		}
		s, ok := step(tr, "sleep")
		return ok && s.Running != nil, nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(ns))
	}
	at := n.cancel(t, ns, "cancel-me")
	pr := n.waitPR(t, ns, "cancel-me", runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionFalse || c.Reason != "Cancelled" {
		t.Errorf("PipelineRun: %+v", c)
	}
	// The PipelineRun ends as soon as its TaskRuns are told to cancel (as Tekton's does); each TaskRun's own
	// condition follows from its reconciler.
	tr = n.taskRun(t, pr, "slow")
	if err := waitFor(30*time.Second, "TaskRun "+tr.Name+" TaskRunCancelled", func() (bool, error) {
		var cur pipelinev1.TaskRun
		if err := n.client.Get(context.Background(), clientKey(ns, tr.Name), &cur); err != nil {
			return false, err
		}
		tr = &cur
		c := trCondition(tr)
		return c.Status == corev1.ConditionFalse && c.Reason == "TaskRunCancelled", nil
	}); err != nil {
		t.Errorf("%v: %+v", err, trCondition(tr))
	}
	p := n.waitPod(t, ns, tr.Status.PodName, 90*time.Second, "stopped", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed
	})
	ct := n.events.pod(ns, p.Name)["step-sleep"]
	if ct.Exit.IsZero() {
		t.Errorf("the step's container never exited on the node")
	} else {
		t.Logf("cancel → container exit on the node: %s", ct.Exit.Sub(at).Round(time.Millisecond))
		timings.note("cancel → running step's container exited: %s", ms(ct.Exit.Sub(at)))
	}
}

// testSidecar: a native sidecar serves HTTP on the Pod's network; the step reaches it on 127.0.0.1, and
// the sidecar is stopped when the steps are done.
func (n *node) testSidecar(t *testing.T) {
	ns := n.namespace(t, "sidecar")
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: with-sidecar
spec:
  taskSpec:
    sidecars:
    - name: web
      image: docker.io/library/busybox:e2e
      script: |
        mkdir -p /tmp/www
        echo hello-from-sidecar > /tmp/www/index.html
        exec httpd -f -p 8080 -h /tmp/www
    steps:
    - name: call
      image: alpine:3.20
      script: |
        for i in $(seq 1 100); do
          if wget -q -O - http://127.0.0.1:8080/index.html; then exit 0; fi
          sleep 0.1
        done
        echo sidecar never answered
        exit 1
`)
	start := time.Now()
	var tr pipelinev1.TaskRun
	if err := waitFor(runTimeout, "with-sidecar done", func() (bool, error) {
		if err := n.client.Get(context.Background(), clientKey(ns, "with-sidecar"), &tr); err != nil {
			return false, err
		}
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status != corev1.ConditionUnknown, nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(ns))
	}
	if c := trCondition(&tr); c.Status != corev1.ConditionTrue {
		t.Fatalf("TaskRun: %+v\n%s", c, n.describeRuns(ns))
	}
	p := n.pod(t, ns, tr.Status.PodName)
	if logs := n.podLogs(p); !strings.Contains(logs, "[step-call] hello-from-sidecar") {
		t.Errorf("the step did not reach the sidecar:\n%s", logs)
	}
	if len(tr.Status.Sidecars) != 1 || tr.Status.Sidecars[0].Name != "web" {
		t.Errorf("sidecars in status: %+v", tr.Status.Sidecars)
	}
	p = n.waitPod(t, ns, p.Name, 90*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	ct := n.events.pod(ns, p.Name)
	if ct["sidecar-web"].Exit.IsZero() {
		t.Errorf("the sidecar was not stopped")
	} else {
		t.Logf("sidecar stopped %s after the results container exited (TaskRun done after %s)",
			ct["sidecar-web"].Exit.Sub(ct["hookrun-results"].Exit).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		timings.note("sidecar stop after the last container: %s", ms(ct["sidecar-web"].Exit.Sub(ct["hookrun-results"].Exit)))
	}
}

// testSeeds: the tutorial's v1beta1 pipeline as written (Task generate-build-id, Task build-and-push,
// Pipeline test-pipeline, PipelineResource harbor-image, PipelineRun test-pipelinerun), with the test
// Task and the git-res PipelineResource it defines elsewhere written here, git-res pointing at the local
// repository. test clones git-res in a real container and runs the repository's tests; get-build-id's
// results reach build-and-push, whose docker:stable image does not exist here: it fails at image pull.
func (n *node) testSeeds(t *testing.T, root string) {
	dir := seeds.Dir(root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds (a clone without ../shared)", root)
	}
	docs, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	find := func(kind, name string, contains ...string) string {
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
			if strings.Contains(string(d.YAML), "\n  name: "+name+"\n") {
				return string(d.YAML)
			}
		}
		t.Fatalf("seed %s %s not found", kind, name)
		return ""
	}
	ns := n.namespace(t, "seeds")
	n.apply(t, ns, strings.Join([]string{
		find("Task", "generate-build-id"),
		find("Task", "build-and-push", "builtImage", "imageTag"),
		find("Pipeline", "test-pipeline", "get-build-id", "harbor-image"),
		find("PipelineResource", "harbor-image"),
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
      image: alpine:3.20
      workingDir: /workspace/repo
      script: |
        #!/usr/bin/env sh
        sh ./test.sh
`,
		fmt.Sprintf(`apiVersion: tekton.dev/v1alpha1
kind: PipelineResource
metadata:
  name: git-res
spec:
  type: git
  params:
    - name: url
      value: %s/repo.git
    - name: revision
      value: main
`, n.gitURL),
		`apiVersion: v1
kind: Secret
metadata:
  name: harbor-auth
  annotations:
    tekton.dev/docker-0: harbor.k8s.local
type: kubernetes.io/basic-auth
stringData:
  username: admin
  password: Harbor12345
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: build-sa
secrets:
  - name: harbor-auth
`,
		find("PipelineRun", "test-pipelinerun", "image-tag", "harbor-image"),
	}, "\n---\n"))

	var bp *pipelinev1.TaskRun
	if err := waitFor(runTimeout, "test-pipelinerun's build-and-push", func() (bool, error) {
		pr, err := n.getPR(ns, "test-pipelinerun")
		if err != nil {
			return false, err
		}
		if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status == corev1.ConditionFalse {
			return false, fmt.Errorf("test-pipelinerun failed before build-and-push: %+v", c)
		}
		bp, err = n.findTaskRun(pr, "build-and-push")
		return err == nil && bp.Status.PodName != "", err
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(ns))
	}
	pr, _ := n.getPR(ns, "test-pipelinerun")
	test := n.taskRun(t, pr, "test")
	if c := trCondition(test); c.Status != corev1.ConditionTrue {
		t.Errorf("test: %+v", c)
	}
	testLogs := n.podLogs(n.pod(t, ns, test.Status.PodName))
	if !strings.Contains(testLogs, "cloned "+n.gitURL+"/repo.git @ "+n.repoSHA) || !strings.Contains(testLogs, "all tests passed") {
		t.Errorf("test task (git resource clone + tests) logs:\n%s", testLogs)
	}
	ids := n.taskRun(t, pr, "get-build-id")
	if c := trCondition(ids); c.Status != corev1.ConditionTrue {
		t.Errorf("get-build-id: %+v\n%s", c, n.podLogs(n.pod(t, ns, ids.Status.PodName)))
	}
	buildID := resultOf(ids, "build-id")
	if !strings.HasPrefix(buildID, "v0.3.0-") || resultOf(ids, "timestamp") == "" || !strings.HasSuffix(buildID, resultOf(ids, "timestamp")) {
		t.Errorf("get-build-id results: %+v", ids.Status.Results)
	}
	if got := paramOf(bp, "imageTag"); got != buildID {
		t.Errorf("build-and-push imageTag = %q, want the build-id result %q", got, buildID)
	}
	// Steps are containers started together: the clone step runs while the kubelet fails to pull the next.
	p := n.waitPod(t, ns, bp.Status.PodName, runTimeout, "docker build step at image pull, clone done", func(p *corev1.Pod) bool {
		s, ok := containerStatus(p, "step-build-and-push")
		g, _ := containerStatus(p, "step-git-source-repo")
		return ok && s.State.Waiting != nil && (s.State.Waiting.Reason == "ErrImagePull" || s.State.Waiting.Reason == "ImagePullBackOff") &&
			g.State.Terminated != nil
	})
	if s, _ := containerStatus(p, "step-git-source-repo"); s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
		t.Errorf("build-and-push's git resource clone: %s", stateString(s.State))
	}
	s, _ := containerStatus(p, "step-build-and-push")
	t.Logf("seed build-and-push (docker:stable, absent): %s", stateString(s.State))
	c, _ := containerSpec(p, "step-build-and-push")
	if !strings.Contains(envOf(c, "HOOKRUN_SCRIPT"), "docker build -t harbor.k8s.local/course/tekton-demo:"+buildID) || envOf(c, "DOCKER_CONFIG") != "/tekton/home/.docker" {
		t.Errorf("build step script/env: %q DOCKER_CONFIG=%q", envOf(c, "HOOKRUN_SCRIPT"), envOf(c, "DOCKER_CONFIG"))
	}
	if c := condition(n.waitPR(t, ns, "test-pipelinerun", runTimeout)); c.Status != corev1.ConditionFalse || c.Reason != "Failed" {
		t.Errorf("seed run with an image that cannot be pulled: %+v", c)
	}
	var bpNow pipelinev1.TaskRun
	if err := n.client.Get(context.Background(), clientKey(ns, bp.Name), &bpNow); err != nil {
		t.Fatal(err)
	}
	if c := trCondition(&bpNow); c.Reason != "TaskRunImagePullFailed" {
		t.Errorf("build-and-push TaskRun: %s/%s: %s", c.Status, c.Reason, c.Message)
	}
}

func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// checkTknLogs: Tekton's CLI (bin/tkn, built by make test-tkn and make e2e-node) shows exactly the Task's
// steps for a run on the real kubelet, through its log API.
func (n *node) checkTknLogs(t *testing.T, ns, taskRun string, steps int) {
	tkn := filepath.Join(n.bin, "tkn")
	cmd := exec.Command(tkn, "taskrun", "logs", taskRun, "-n", ns)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.kubeconfig, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("tkn taskrun logs %s: %v\n%s", taskRun, err, out)
		return
	}
	var want []string
	for i := 1; i <= steps; i++ {
		want = append(want, fmt.Sprintf("[s%d] step-%d", i, i))
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "[") {
			got = append(got, strings.TrimSpace(l))
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tkn taskrun logs on the real kubelet: %q, want %q\n%s", got, want, out)
	}
	timings.note("tkn taskrun logs on the real kubelet: the Task's %d steps, nothing else", steps)
}

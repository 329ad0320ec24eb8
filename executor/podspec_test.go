package executor_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/test/seeds"
)

// Mounts every step gets.
var internalMounts = []string{
	"tekton-internal-bin:/tekton/bin:ro",
	"tekton-internal-results:/tekton/results",
	"tekton-internal-steps:/tekton/steps",
	"tekton-internal-scripts:/tekton/scripts",
	"tekton-internal-home:/tekton/home",
	"tekton-internal-workspace:/workspace",
}

var prepareMounts = []string{
	"tekton-internal-bin:/tekton/bin",
	"tekton-internal-results:/tekton/results",
	"tekton-internal-steps:/tekton/steps",
	"tekton-internal-scripts:/tekton/scripts",
	"tekton-internal-home:/tekton/home",
}

var resultsContainer = container{
	Name:     "hookrun-results",
	Image:    hookrunImage,
	Command:  []string{"/tekton/bin/hookrun-step", "results", "--dir", "/tekton/results"},
	Mounts:   []string{"tekton-internal-bin:/tekton/bin:ro", "tekton-internal-results:/tekton/results", "tekton-internal-steps:/tekton/steps"},
	TermPath: "/tekton/termination",
}

var internalVolumes = []string{
	"tekton-internal-bin=emptyDir", "tekton-internal-results=emptyDir", "tekton-internal-steps=emptyDir",
	"tekton-internal-scripts=emptyDir", "tekton-internal-home=emptyDir", "tekton-internal-workspace=emptyDir",
}

func prepare(creds ...string) container {
	c := container{
		Name:    "prepare",
		Image:   hookrunImage,
		Command: []string{"hookrun-step", "init", "--copy-self", "/tekton/bin/hookrun-step"},
		Mounts:  append([]string{}, prepareMounts...),
	}
	for _, cr := range creds {
		c.Command = append(c.Command, "--cred", cr)
		secret := strings.SplitN(strings.SplitN(cr, ":", 2)[1], "=", 2)[0]
		c.Mounts = append(c.Mounts, "tekton-creds-"+secret+":/tekton/creds-secrets/"+secret+":ro")
	}
	return c
}

// withSteps adds prepare's --step flags, the step names in order.
func withSteps(c container, steps ...string) container {
	for _, s := range steps {
		c.Command = append(c.Command, "--step", s)
	}
	return c
}

func mounts(extra ...string) []string { return append(append([]string{}, internalMounts...), extra...) }

// limited is the results container of a Pod whose termination messages get limit bytes each.
func limited(c container, limit string) container {
	c.Command = append(append([]string{}, c.Command...), "--message-limit", limit)
	return c
}

func wrapped(name string, flags ...string) []string {
	return append(append([]string{"/tekton/bin/hookrun-step", "run", "--name", name}, flags...), "--")
}

// kanikoCatalog06 is the tektoncd/catalog kaniko Task, version 0.6 (tekton.dev/v1beta1), as published.
const kanikoCatalog06 = `apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: kaniko
  labels:
    app.kubernetes.io/version: "0.6"
spec:
  params:
    - name: IMAGE
      description: Name (reference) of the image to build.
    - name: DOCKERFILE
      default: ./Dockerfile
    - name: CONTEXT
      default: ./
    - name: EXTRA_ARGS
      type: array
      default: []
    - name: BUILDER_IMAGE
      default: gcr.io/kaniko-project/executor:v1.5.1@sha256:c6166717f7fe0b7da44908c986137ecfeab21f31ec3992f6e128fff8a94be8a5
  workspaces:
    - name: source
    - name: dockerconfig
      optional: true
      mountPath: /kaniko/.docker
  results:
    - name: IMAGE_DIGEST
    - name: IMAGE_URL
  steps:
    - name: build-and-push
      workingDir: $(workspaces.source.path)
      image: $(params.BUILDER_IMAGE)
      args:
        - $(params.EXTRA_ARGS)
        - --dockerfile=$(params.DOCKERFILE)
        - --context=$(workspaces.source.path)/$(params.CONTEXT)
        - --destination=$(params.IMAGE)
        - --digest-file=$(results.IMAGE_DIGEST.path)
      securityContext:
        runAsUser: 0
    - name: write-url
      image: docker.io/library/bash:5.1.4@sha256:c523c636b722339f41b6a431b44588ab2f762c5de5ec3bd7964420ff982fb1d9
      script: |
        set -e
        image="$(params.IMAGE)"
        echo -n "${image}" | tee "$(results.IMAGE_URL.path)"
`

// registrySecret is a basic-auth docker credential on ServiceAccount build-sa.
const registrySecret = `apiVersion: v1
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
`

func TestPodSpecKanikoCatalog(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, kanikoCatalog06+"---\n"+registrySecret+`---
apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: build
spec:
  serviceAccountName: build-sa
  taskRef:
    name: kaniko
  params:
    - name: IMAGE
      value: harbor.k8s.local/course/app:v1
    - name: EXTRA_ARGS
      value: ["--insecure", "--skip-tls-verify"]
  workspaces:
    - name: source
      persistentVolumeClaim:
        claimName: src
      subPath: app
`)
	pod := waitPod(t, ns, "build-pod")
	ws := "ws-source:/workspace/source:sub=app"
	assertContainers(t, "init containers", pod.Spec.InitContainers, []container{
		withSteps(prepare("docker:harbor-auth=harbor.k8s.local"), "build-and-push", "write-url"),
		{
			Name:  "step-build-and-push",
			Image: kanikoImage, // the upstream default is replaced by --kaniko-image
			Args: []string{"--insecure", "--skip-tls-verify", "--dockerfile=./Dockerfile", "--context=/workspace/source/./",
				"--destination=harbor.k8s.local/course/app:v1", "--digest-file=/tekton/results/IMAGE_DIGEST"},
			WorkingDir: "/workspace/source",
			Env:        []string{"HOME=/tekton/home", "DOCKER_CONFIG=/tekton/home/.docker"},
			Mounts:     mounts(ws),
			RunAsUser:  new(int64),
		},
		{
			Name:     "step-write-url",
			Image:    "docker.io/library/bash:5.1.4@sha256:c523c636b722339f41b6a431b44588ab2f762c5de5ec3bd7964420ff982fb1d9",
			Command:  wrapped("write-url", "--on-error", "stopAndFail", "--results", "IMAGE_DIGEST,IMAGE_URL", "--message-limit", "3072"),
			Env:      []string{"HOME=/tekton/home", "DOCKER_CONFIG=/tekton/home/.docker", "HOOKRUN_SCRIPT=<script>"},
			Mounts:   mounts(ws),
			TermPath: "/tekton/termination",
		},
	})
	// Four containers: the kubelet keeps 12 KiB / 4 of each termination message.
	assertContainers(t, "containers", pod.Spec.Containers, []container{limited(resultsContainer, "3072")})
	if got, want := volumeNames(pod), append(append([]string{}, internalVolumes...), "tekton-creds-harbor-auth=secret(harbor-auth)", "ws-source=pvc(src)"); !reflect.DeepEqual(got, want) {
		t.Errorf("volumes = %q, want %q", got, want)
	}
	script := envValue(pod.Spec.InitContainers[2], "HOOKRUN_SCRIPT")
	if want := "set -e\nimage=\"harbor.k8s.local/course/app:v1\"\necho -n \"${image}\" | tee \"/tekton/results/IMAGE_URL\"\n"; script != want {
		t.Errorf("write-url script = %q, want %q", script, want)
	}
	checkPodBasics(t, pod, "build", "kaniko")
}

// envValue is the value the container's process sees: for the script variable, as the kubelet expands
// it ($$ → $).
func envValue(c corev1.Container, name string) string {
	v := rawEnvValue(c, name)
	if name == "HOOKRUN_SCRIPT" {
		v = strings.ReplaceAll(v, "$$", "$")
	}
	return v
}

func rawEnvValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func checkPodBasics(t *testing.T, pod *corev1.Pod, taskRun, task string) {
	t.Helper()
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %s", pod.Spec.RestartPolicy)
	}
	if pod.Labels["tekton.dev/taskRun"] != taskRun || pod.Labels["tekton.dev/task"] != task || pod.Labels["app.kubernetes.io/managed-by"] != "hookrun" {
		t.Errorf("labels = %v", pod.Labels)
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "TaskRun" || pod.OwnerReferences[0].Name != taskRun ||
		pod.OwnerReferences[0].Controller == nil || !*pod.OwnerReferences[0].Controller {
		t.Errorf("ownerReferences = %+v", pod.OwnerReferences)
	}
	if pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds < 3590 || *pod.Spec.ActiveDeadlineSeconds > 3600 {
		t.Errorf("activeDeadlineSeconds = %v, want ~3600 (default 1h timeout)", pod.Spec.ActiveDeadlineSeconds)
	}
	// The Pod is created before the TaskRun's status names it: give the status write a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		tr := getTaskRun(t, pod.Namespace, taskRun)
		if tr.Status.PodName == pod.Name {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("status.podName = %q, want %q", tr.Status.PodName, pod.Name)
			break
		}
	}
}

// The catalog's BUILDER_IMAGE param, when the run gives it, wins over --kaniko-image even if it names the
// upstream image.
func TestPodSpecKanikoBuilderImageParamWins(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, kanikoCatalog06+`---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: build
spec:
  taskRef:
    name: kaniko
  params:
    - name: IMAGE
      value: reg/app
    - name: BUILDER_IMAGE
      value: gcr.io/kaniko-project/executor:v1.23.2-debug
  workspaces:
    - name: source
      emptyDir: {}
    - name: dockerconfig
      secret:
        secretName: docker-config
`)
	pod := waitPod(t, ns, "build-pod")
	build := view(pod.Spec.InitContainers[1])
	if build.Image != "gcr.io/kaniko-project/executor:v1.23.2-debug" {
		t.Errorf("image = %q, want the BUILDER_IMAGE the run gave", build.Image)
	}
	// No ServiceAccount credentials: no DOCKER_CONFIG, Kaniko reads the dockerconfig workspace at its
	// declared mountPath.
	if want := []string{"HOME=/tekton/home"}; !reflect.DeepEqual(build.Env, want) {
		t.Errorf("env = %q, want %q", build.Env, want)
	}
	if want := mounts("ws-source:/workspace/source", "ws-dockerconfig:/kaniko/.docker:ro"); !reflect.DeepEqual(build.Mounts, want) {
		t.Errorf("mounts = %q, want %q", build.Mounts, want)
	}
	if want := []string{"--dockerfile=./Dockerfile", "--context=/workspace/source/./", "--destination=reg/app", "--digest-file=/tekton/results/IMAGE_DIGEST"}; !reflect.DeepEqual(build.Args, want) {
		t.Errorf("args = %q (an empty EXTRA_ARGS array must vanish)", build.Args)
	}
}

// gitCloneCatalog is shaped like tektoncd/catalog git-clone 0.9 (trimmed): optional workspaces, .bound
// and .path, a HOME the step sets itself, a non-root securityContext and results.
const gitCloneCatalog = `apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: git-clone
spec:
  workspaces:
    - name: output
    - name: ssh-directory
      optional: true
    - name: basic-auth
      optional: true
  params:
    - name: url
      type: string
    - name: revision
      type: string
      default: ""
    - name: subdirectory
      default: ""
    - name: gitInitImage
      default: "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2"
    - name: userHome
      default: "/home/git"
  results:
    - name: commit
    - name: url
  steps:
    - name: clone
      image: "$(params.gitInitImage)"
      env:
      - name: HOME
        value: "$(params.userHome)"
      - name: PARAM_URL
        value: $(params.url)
      - name: PARAM_REVISION
        value: $(params.revision)
      - name: WORKSPACE_OUTPUT_PATH
        value: $(workspaces.output.path)
      - name: WORKSPACE_SSH_DIRECTORY_BOUND
        value: $(workspaces.ssh-directory.bound)
      - name: WORKSPACE_SSH_DIRECTORY_PATH
        value: $(workspaces.ssh-directory.path)
      - name: WORKSPACE_BASIC_AUTH_DIRECTORY_BOUND
        value: $(workspaces.basic-auth.bound)
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
      script: |
        #!/usr/bin/env sh
        set -eu
        CHECKOUT_DIR="${WORKSPACE_OUTPUT_PATH}/$(params.subdirectory)"
        git clone "${PARAM_URL}" "${CHECKOUT_DIR}"
        cd "${CHECKOUT_DIR}"
        RESULT_SHA="$(git rev-parse HEAD)"
        printf "%s" "${RESULT_SHA}" > "$(results.commit.path)"
        printf "%s" "${PARAM_URL}" > "$(results.url.path)"
`

func TestPodSpecGitClone(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, gitCloneCatalog+`---
apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: clone
spec:
  taskRef:
    name: git-clone
  params:
    - name: url
      value: git@codeup.aliyun.com:66cf2d9246ea41274957ff8d/train3/tekton-demo.git
    - name: revision
      value: $(params.url)
  workspaces:
    - name: output
      persistentVolumeClaim:
        claimName: git-clone-pvc2
    - name: ssh-directory
      secret:
        secretName: git-ssh-secret
`)
	pod := waitPod(t, ns, "clone-pod")
	assertContainers(t, "init containers", pod.Spec.InitContainers, []container{
		withSteps(prepare(), "clone"),
		{
			Name:    "step-clone",
			Image:   "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2",
			Command: wrapped("clone", "--on-error", "stopAndFail", "--results", "commit,url", "--mask-dir", "/workspace/ssh-directory"),
			Env: []string{
				"HOME=/home/git",
				"PARAM_URL=git@codeup.aliyun.com:66cf2d9246ea41274957ff8d/train3/tekton-demo.git",
				"PARAM_REVISION=$(params.url)", // a value is never expanded again
				"WORKSPACE_OUTPUT_PATH=/workspace/output",
				"WORKSPACE_SSH_DIRECTORY_BOUND=true",
				"WORKSPACE_SSH_DIRECTORY_PATH=/workspace/ssh-directory",
				"WORKSPACE_BASIC_AUTH_DIRECTORY_BOUND=false",
				"HOOKRUN_SCRIPT=<script>",
			},
			Mounts:    mounts("ws-output:/workspace/output", "ws-ssh-directory:/workspace/ssh-directory:ro"),
			TermPath:  "/tekton/termination",
			RunAsUser: ptrInt64(65532),
		},
	})
	script := envValue(pod.Spec.InitContainers[1], "HOOKRUN_SCRIPT")
	for _, want := range []string{
		"#!/usr/bin/env sh\n",
		`CHECKOUT_DIR="${WORKSPACE_OUTPUT_PATH}/"`,
		`RESULT_SHA="$(git rev-parse HEAD)"`, // shell command substitution untouched
		`> "/tekton/results/commit"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if got, want := volumeNames(pod), append(append([]string{}, internalVolumes...), "ws-output=pvc(git-clone-pvc2)", "ws-ssh-directory=secret(git-ssh-secret)"); !reflect.DeepEqual(got, want) {
		t.Errorf("volumes = %q, want %q", got, want)
	}
}

func ptrInt64(i int64) *int64 { return &i }

// A script Task with a step template, a native sidecar, step timeout and onError, array params, volumes
// named by params, and an unnamed step.
func TestPodSpecScriptTask(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: script
spec:
  params:
    - name: flags
      type: array
    - name: cm
      default: settings
    - name: cfg
      type: object
      properties:
        url: {type: string}
        branch: {type: string}
      default:
        url: https://example.com/repo.git
        branch: main
  stepTemplate:
    image: alpine:3.20
    env:
      - name: SHARED
        value: from-template
      - name: MODE
        value: template
    workingDir: /src
  sidecars:
    - name: dind
      image: docker:dind
      args: ["--registry-mirror=$(params.cfg.url)"]
      securityContext:
        privileged: true
  volumes:
    - name: settings
      configMap:
        name: $(params.cm)
  steps:
    - name: test
      timeout: 90s
      onError: continue
      env:
        - name: MODE
          value: step
        - name: BRANCH
          value: $(params.cfg.branch)
      volumeMounts:
        - name: settings
          mountPath: /etc/settings
      script: |
        echo "$(params['flags'][*])" on $(params.cfg.branch)
        exit 3
    - image: busybox
      command: ["echo"]
      args: ["$(params.flags[*])", "done", "$(params.flags[0])"]
`+`---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: script-run
spec:
  taskRef:
    name: script
  params:
    - name: flags
      value: ["-v", "-race"]
    - name: cfg
      value:
        branch: dev
`)
	pod := waitPod(t, ns, "script-run-pod")
	assertContainers(t, "init containers", pod.Spec.InitContainers, []container{
		withSteps(prepare(), "test", "unnamed-1"),
		{
			Name:    "sidecar-dind",
			Image:   "docker:dind",
			Args:    []string{"--registry-mirror=https://example.com/repo.git"},
			Env:     []string{"HOME=/tekton/home"},
			Mounts:  mounts(),
			Sidecar: true,
		},
		{
			Name:       "step-test",
			Image:      "alpine:3.20",
			Command:    wrapped("test", "--timeout", "1m30s", "--on-error", "continue", "--message-limit", "2457"),
			WorkingDir: "/src",
			Env:        []string{"HOME=/tekton/home", "SHARED=from-template", "MODE=step", "BRANCH=dev", "HOOKRUN_SCRIPT=<script>"},
			Mounts:     mounts("settings:/etc/settings"),
			TermPath:   "/tekton/termination",
		},
		{
			Name:       "step-unnamed-1",
			Image:      "busybox",
			Command:    append(wrapped("unnamed-1", "--on-error", "stopAndFail", "--message-limit", "2457"), "echo"),
			Args:       []string{"-v", "-race", "done", "-v"},
			WorkingDir: "/src",
			Env:        []string{"HOME=/tekton/home", "SHARED=from-template", "MODE=template"},
			Mounts:     mounts(),
			TermPath:   "/tekton/termination",
		},
	})
	if got := envValue(pod.Spec.InitContainers[2], "HOOKRUN_SCRIPT"); got != "echo \"-v -race\" on dev\nexit 3\n" {
		t.Errorf("script = %q", got)
	}
	if got, want := volumeNames(pod), append(append([]string{}, internalVolumes...), "settings=configMap(settings)"); !reflect.DeepEqual(got, want) {
		t.Errorf("volumes = %q, want %q", got, want)
	}
}

// seedTask finds a Task in ../shared/seeds by name and a substring of its text.
func seedTask(t *testing.T, name, contains string) string {
	t.Helper()
	dir := seeds.Dir(env.Root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds (a clone without ../shared); the catalog-shaped tests cover the essentials", env.Root)
	}
	docs, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Kind != "Task" || d.Elided || !strings.Contains(string(d.YAML), contains) {
			continue
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if yaml.Unmarshal(d.YAML, &meta) == nil && meta.Metadata.Name == name {
			return string(d.YAML)
		}
	}
	t.Fatalf("seed Task %q (containing %q) not found in %s", name, contains, dir)
	return ""
}

// The seeds' generate-build-id Task: two shebang scripts, results, $(inputs.params…).
func TestPodSpecSeedGenerateBuildID(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, seedTask(t, "generate-build-id", "get-buildid")+`---
apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: ids
spec:
  taskRef:
    name: generate-build-id
  params:
    - name: base-version
      value: v0.3.0
`)
	pod := waitPod(t, ns, "ids-pod")
	flags := []string{"--on-error", "stopAndFail", "--results", "timestamp,build-id", "--message-limit", "3072"}
	assertContainers(t, "init containers", pod.Spec.InitContainers, []container{
		withSteps(prepare(), "get-timestamp", "get-buildid"),
		{Name: "step-get-timestamp", Image: "bash:5.0.18", Command: wrapped("get-timestamp", flags...),
			Env: []string{"HOME=/tekton/home", "HOOKRUN_SCRIPT=<script>"}, Mounts: mounts(), TermPath: "/tekton/termination"},
		{Name: "step-get-buildid", Image: "bash:5.0.18", Command: wrapped("get-buildid", flags...),
			Env: []string{"HOME=/tekton/home", "HOOKRUN_SCRIPT=<script>"}, Mounts: mounts(), TermPath: "/tekton/termination"},
	})
	s1 := envValue(pod.Spec.InitContainers[1], "HOOKRUN_SCRIPT")
	s2 := envValue(pod.Spec.InitContainers[2], "HOOKRUN_SCRIPT")
	if !strings.HasPrefix(s1, "#!/usr/bin/env bash\n") || !strings.Contains(s1, "tee /tekton/results/timestamp") {
		t.Errorf("get-timestamp script:\n%s", s1)
	}
	if !strings.Contains(s2, "cat /tekton/results/timestamp") || !strings.Contains(s2, "buildId=v0.3.0-${ts}") ||
		!strings.Contains(s2, "tee /tekton/results/build-id") {
		t.Errorf("get-buildid script:\n%s", s2)
	}
}

// The seeds' Kaniko build-and-push Task with a v1beta1 git input resource: the clone runs first, into
// /workspace/repo, and the kaniko step (which names its own command) is wrapped.
func TestPodSpecSeedKanikoWithGitResource(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, sequential)
	apply(t, ns, seedTask(t, "build-and-push", "kaniko")+"---\n"+registrySecret+`---
apiVersion: tekton.dev/v1alpha1
kind: PipelineResource
metadata:
  name: git-res
spec:
  type: git
  params:
    - name: url
      value: https://github.com/isno/tekton-example
    - name: revision
      value: main
---
apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: bp
spec:
  serviceAccountName: build-sa
  taskRef:
    name: build-and-push
  resources:
    inputs:
      - name: repo
        resourceRef:
          name: git-res
`)
	pod := waitPod(t, ns, "bp-pod")
	gitEnv := []string{"HOME=/tekton/home", "DOCKER_CONFIG=/tekton/home/.docker",
		"HOOKRUN_GIT_URL=https://github.com/isno/tekton-example", "HOOKRUN_GIT_REVISION=main", "HOOKRUN_GIT_REFSPEC=",
		"HOOKRUN_GIT_SSL_VERIFY=true", "HOOKRUN_GIT_SUBMODULES=true", "HOOKRUN_GIT_DEPTH=1",
		"HOOKRUN_GIT_DEST=/workspace/repo", "HOOKRUN_SCRIPT=<script>"}
	var dest string
	for _, c := range strings.Split(seedTask(t, "build-and-push", "kaniko"), "\n") {
		if strings.Contains(c, "--destination=") {
			dest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c), "- "))
		}
	}
	assertContainers(t, "init containers", pod.Spec.InitContainers, []container{
		withSteps(prepare("docker:harbor-auth=harbor.k8s.local"), "build-and-push"),
		{Name: "step-git-source-repo", Image: gitImage, Command: wrapped("git-source-repo", "--on-error", "stopAndFail"),
			Env: gitEnv, Mounts: mounts(), TermPath: "/tekton/termination"},
		{
			Name:    "step-build-and-push",
			Image:   kanikoImage,
			Command: append(wrapped("build-and-push", "--on-error", "stopAndFail", "--message-limit", "3072"), "/kaniko/executor", "--dockerfile=Dockerfile", "--context=/workspace/repo/src", dest),
			// v1beta1 resources: steps start in /workspace; the seed's own DOCKER_CONFIG is kept.
			WorkingDir: "/workspace",
			Env:        []string{"HOME=/tekton/home", "DOCKER_CONFIG=/tekton/home/.docker"},
			Mounts:     mounts(),
			TermPath:   "/tekton/termination",
		},
	})
}

func TestPodSpecValidationFailures(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	for _, tc := range []struct {
		name, spec, reason, msg string
	}{
		{"missing-param", `taskSpec:
    params: [{name: IMAGE}]
    steps: [{name: s, image: busybox, script: "echo $(params.IMAGE)"}]`, "TaskRunValidationFailed", "missing parameters: IMAGE"},
		{"cluster-task", `taskRef: {name: kaniko, kind: ClusterTask}`, "TaskRunResolutionFailed", `ClusterTask "kaniko" not found (spec.taskRef.name)`},
		{"bundle", `taskRef: {name: kaniko, bundle: "UPPER::bad"}`, "TaskRunResolutionFailed", "spec.taskRef: resolver bundles, param bundle: not an image reference"},
		{"no-task", `taskRef: {name: nope}`, "CouldntGetTask", `Task "nope" not found`},
		{"missing-workspace", `taskSpec:
    workspaces: [{name: source}]
    steps: [{name: s, image: busybox, script: "ls"}]`, "TaskRunValidationFailed", `workspace "source"`},
		{"wrong-type", `params: [{name: a, value: "x"}]
  taskSpec:
    params: [{name: a, type: array}]
    steps: [{name: s, image: busybox, args: ["$(params.a)"]}]`, "TaskRunValidationFailed", `param "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, ns, "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+tc.spec+"\n")
			tr := waitTaskRunReason(t, ns, tc.name, tc.reason)
			c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			if c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("condition = %+v, want message containing %q", c, tc.msg)
			}
			if tr.Status.CompletionTime == nil {
				t.Error("no completionTime")
			}
		})
	}
	_ = context.Background
}

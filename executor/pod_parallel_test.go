package executor_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/executor"
)

// serveImage pushes an image whose config has entrypoint to an in-process registry and returns its name.
func serveImage(t *testing.T, entrypoint ...string) string {
	t.Helper()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.Config.Entrypoint = entrypoint
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/tools/kaniko:v1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func flagValue(cmd []string, flag string) string {
	i := slices.Index(cmd, flag)
	if i < 0 || i+1 >= len(cmd) || slices.Index(cmd, "--") < i {
		return ""
	}
	return cmd[i+1]
}

// TestPodSpecStepsAsContainers: the default layout — steps (an image-entrypoint step too, its entrypoint
// read from a registry) are regular containers sequenced by their records, the results container last;
// requests spread as Tekton does; an image whose registry cannot be reached keeps the Pod sequential.
func TestPodSpecStepsAsContainers(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns, func(o *executor.Options) { o.NoEntrypointLookup = false })
	image := serveImage(t, "/kaniko/executor")
	apply(t, ns, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: par}
spec:
  taskSpec:
    results: [{name: digest}]
    sidecars:
      - {name: db, image: busybox, command: [sleep, infinity]}
    volumes:
      - {name: creds, secret: {secretName: deploy-key}}
    steps:
      - name: clone
        image: busybox
        script: echo clone
        computeResources: {requests: {cpu: "1", memory: 100Mi}}
        env:
          - {name: PLAIN, value: x}
          - {name: TOKEN, valueFrom: {secretKeyRef: {name: api, key: token}}}
        volumeMounts:
          - {name: creds, mountPath: /creds}
      - name: build
        image: %s
        args: [--no-push]
        computeResources: {requests: {cpu: "2"}}
      - name: report
        image: busybox
        command: [echo, done]
        computeResources: {limits: {cpu: 500m}}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: offline}
spec:
  taskSpec:
    steps:
      - {name: first, image: busybox, script: echo 1}
      - {name: build, image: "127.0.0.1:1/nowhere/kaniko:v1", args: [--no-push]}
`, image))
	pod := waitPod(t, ns, "par-pod")
	if got := containerNames(pod.Spec.InitContainers) + " | " + containerNames(pod.Spec.Containers); got != "prepare,sidecar-db | step-clone,step-build,step-report,hookrun-results" {
		t.Fatalf("layout %s", got)
	}
	if pod.Annotations[executor.AnnotationSteps] != executor.StepsContainers {
		t.Errorf("annotation %s = %q", executor.AnnotationSteps, pod.Annotations[executor.AnnotationSteps])
	}
	// prepare links /tekton/steps/NAME, step-NAME and INDEX to each step's run directory.
	if got := strings.Join(pod.Spec.InitContainers[0].Command, " "); !strings.HasSuffix(got, " --step clone --step build --step report --run-dir /tekton/run") {
		t.Errorf("prepare runs %q", got)
	}
	c := pod.Spec.Containers
	for i, want := range []struct{ wait, post string }{
		{"", "/tekton/run/0/out"}, {"/tekton/run/0/out", "/tekton/run/1/out"}, {"/tekton/run/1/out", "/tekton/run/2/out"},
	} {
		if got := flagValue(c[i].Command, "--wait-file"); got != want.wait {
			t.Errorf("%s --wait-file %q, want %q", c[i].Name, got, want.wait)
		}
		if got := flagValue(c[i].Command, "--post-file"); got != want.post {
			t.Errorf("%s --post-file %q, want %q", c[i].Name, got, want.post)
		}
		// Each step's run directory is its own volume: read-write in that step only (Tekton's shape).
		for j := range 3 {
			dir := fmt.Sprintf("/tekton/run/%d", j)
			k := slices.IndexFunc(c[i].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == dir })
			if k < 0 || c[i].VolumeMounts[k].Name != fmt.Sprintf("tekton-internal-run-%d", j) || c[i].VolumeMounts[k].ReadOnly != (i != j) {
				t.Errorf("%s mounts of %s: %+v; want tekton-internal-run-%d, read-only %v", c[i].Name, dir, c[i].VolumeMounts, j, i != j)
			}
		}
	}
	// Secret values the wrapper masks in the step's output.
	if got := flagValue(c[0].Command, "--mask-env") + " " + flagValue(c[0].Command, "--mask-dir"); got != "TOKEN /creds" {
		t.Errorf("clone masks %q, want TOKEN and /creds", got)
	}
	if flagValue(c[2].Command, "--mask-env") != "" {
		t.Errorf("report masks %v: it has no Secret", c[2].Command)
	}
	// The image-entrypoint step is wrapped around the image's entrypoint, its args after it.
	build := c[1].Command
	if tail := build[slices.Index(build, "--")+1:]; !slices.Equal(tail, []string{"/kaniko/executor", "--no-push"}) || len(c[1].Args) != 0 {
		t.Errorf("build runs %v args %v", tail, c[1].Args)
	}
	if got := c[3].Command; got[len(got)-2] != "--wait-file" || got[len(got)-1] != "/tekton/run/2/out" {
		t.Errorf("results container %v: want it to wait for the last step", got)
	}
	// Requests: the largest of each resource on one step, explicit zero elsewhere; limits kept.
	req := func(i int, r corev1.ResourceName) string {
		q, ok := c[i].Resources.Requests[r]
		if !ok {
			return "-"
		}
		return q.String()
	}
	got := fmt.Sprintf("cpu %s %s %s, memory %s %s %s, limit %s", req(0, "cpu"), req(1, "cpu"), req(2, "cpu"),
		req(0, "memory"), req(1, "memory"), req(2, "memory"), c[2].Resources.Limits.Cpu())
	if want := "cpu 0 2 0, memory 100Mi 0 0, limit 500m"; got != want {
		t.Errorf("requests %s, want %s", got, want)
	}
	for j := range 3 {
		if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool {
			return v.Name == fmt.Sprintf("tekton-internal-run-%d", j) && v.EmptyDir != nil
		}) {
			t.Errorf("no tekton-internal-run-%d emptyDir", j)
		}
	}

	off := waitPod(t, ns, "offline-pod")
	if got := containerNames(off.Spec.InitContainers) + " | " + containerNames(off.Spec.Containers); got != "prepare,step-first,step-build | hookrun-results" {
		t.Errorf("unreachable registry: layout %s, want the sequential one", got)
	}
	if off.Annotations[executor.AnnotationSteps] != executor.StepsInitContainers {
		t.Errorf("annotation %s = %q", executor.AnnotationSteps, off.Annotations[executor.AnnotationSteps])
	}
}

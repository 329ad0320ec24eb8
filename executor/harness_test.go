package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

// Test images: recognisable in assertions.
const (
	hookrunImage = "hookrun:test"
	kanikoImage  = "kaniko:test"
	gitImage     = "git:test"
)

// startExecutor runs the executor in-process for one namespace until the test ends (or stop is called).
func startExecutor(t *testing.T, ns string, mutate ...func(*executor.Options)) (stop func()) {
	t.Helper()
	opts := executor.Options{
		Namespace: ns, HookrunImage: hookrunImage, KanikoImage: kanikoImage, GitImage: gitImage,
		SkipNameValidation: true,
		// No registry is reachable from the tests: steps that run their image's entrypoint keep the Pod
		// sequential unless a test serves the image (TestPodSpecStepsAsContainers).
		NoEntrypointLookup: true,
		Logger:             slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, f := range mutate {
		f(&opts)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Cache:   executor.CacheOptions(opts),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// newNamespace makes a namespace with the "default" ServiceAccount (no controller-manager creates it here).
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := env.Client.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return ns
}

// apply creates objects written as YAML (any served version, e.g. tekton.dev/v1beta1) in ns.
func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc+"\n"), &u.Object); err != nil {
			t.Fatalf("yaml: %v\n%s", err, doc)
		}
		u.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), &u); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// eventually polls f until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := f()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

func waitPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	eventually(t, 15*time.Second, "pod "+name, func() (bool, error) {
		err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &pod)
		if err != nil {
			return false, fmt.Errorf("%v; taskruns: %s", err, taskRunConditions(ns))
		}
		return true, nil
	})
	return &pod
}

// taskRunConditions summarises the TaskRuns of ns for failure messages.
func taskRunConditions(ns string) string {
	var list pipelinev1.TaskRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, tr := range list.Items {
		fmt.Fprintf(&b, "%s: %+v; ", tr.Name, tr.Status.Conditions)
	}
	return b.String()
}

func getTaskRun(t *testing.T, ns, name string) *pipelinev1.TaskRun {
	t.Helper()
	var tr pipelinev1.TaskRun
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func getPipelineRun(t *testing.T, ns, name string) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &pr); err != nil {
		t.Fatal(err)
	}
	return &pr
}

// waitTaskRunReason waits until the TaskRun's Succeeded condition has reason.
func waitTaskRunReason(t *testing.T, ns, name, reason string) *pipelinev1.TaskRun {
	t.Helper()
	var tr pipelinev1.TaskRun
	eventually(t, 15*time.Second, "taskrun "+name+" reason "+reason, func() (bool, error) {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &tr); err != nil {
			return false, err
		}
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c == nil {
			return false, fmt.Errorf("no condition")
		}
		return c.Reason == reason, fmt.Errorf("reason %s: %s", c.Reason, c.Message)
	})
	return &tr
}

// waitPipelineRunReason waits until the PipelineRun's Succeeded condition has reason.
func waitPipelineRunReason(t *testing.T, ns, name, reason string) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	eventually(t, 20*time.Second, "pipelinerun "+name+" reason "+reason, func() (bool, error) {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &pr); err != nil {
			return false, err
		}
		c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c == nil {
			return false, fmt.Errorf("no condition")
		}
		return c.Reason == reason, fmt.Errorf("reason %s: %s", c.Reason, c.Message)
	})
	return &pr
}

func kubelet() *kubelettest.Writer { return &kubelettest.Writer{Client: env.Client} }

// container is the part of a container the Pod-spec tests assert, in a readable form.
type container struct {
	Name       string
	Image      string
	Command    []string `json:",omitempty"`
	Args       []string `json:",omitempty"`
	WorkingDir string   `json:",omitempty"`
	Env        []string `json:",omitempty"` // NAME=value, NAME<-secret/name:key
	Mounts     []string `json:",omitempty"` // volume:/path[:ro][:sub=x]
	TermPath   string   `json:",omitempty"` // only when not the default
	Sidecar    bool     `json:",omitempty"`
	RunAsUser  *int64   `json:",omitempty"`
}

func view(c corev1.Container) container {
	v := container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v.Env = append(v.Env, fmt.Sprintf("%s<-secret/%s:%s", e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		case e.Name == "HOOKRUN_SCRIPT":
			v.Env = append(v.Env, "HOOKRUN_SCRIPT=<script>")
		default:
			v.Env = append(v.Env, e.Name+"="+e.Value)
		}
	}
	for _, m := range c.VolumeMounts {
		s := m.Name + ":" + m.MountPath
		if m.ReadOnly {
			s += ":ro"
		}
		if m.SubPath != "" {
			s += ":sub=" + m.SubPath
		}
		v.Mounts = append(v.Mounts, s)
	}
	if c.TerminationMessagePath != corev1.TerminationMessagePathDefault {
		v.TermPath = c.TerminationMessagePath
	}
	v.Sidecar = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	if c.SecurityContext != nil {
		v.RunAsUser = c.SecurityContext.RunAsUser
	}
	return v
}

// sequential lays Pods out with their steps as init containers (the fallback layout), for the exact
// Pod-spec tests written against it.
func sequential(o *executor.Options) { o.SequentialSteps = true }

// podContainers are a Pod's init containers, then its containers.
func podContainers(pod *corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
}

// stepAt is the Pod's i-th step container (step-…), wherever the layout puts it.
func stepAt(t *testing.T, pod *corev1.Pod, i int) corev1.Container {
	t.Helper()
	n := 0
	for _, c := range podContainers(pod) {
		if strings.HasPrefix(c.Name, "step-") {
			if n == i {
				return c
			}
			n++
		}
	}
	t.Fatalf("pod %s has no step %d in %v", pod.Name, i, views(podContainers(pod)))
	return corev1.Container{}
}

func views(list []corev1.Container) []container {
	out := make([]container, len(list))
	for i, c := range list {
		out[i] = view(c)
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// assertContainers compares containers and prints both sides on mismatch.
func assertContainers(t *testing.T, what string, got []corev1.Container, want []container) {
	t.Helper()
	g := jsonText(views(got))
	w := jsonText(want)
	if g != w {
		t.Errorf("%s differ.\n--- got:\n%s\n--- want:\n%s", what, g, w)
	}
}

// volumeNames lists a Pod's volumes as name=kind(source).
func volumeNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		s := v.Name + "="
		switch {
		case v.EmptyDir != nil:
			s += "emptyDir"
		case v.PersistentVolumeClaim != nil:
			s += "pvc(" + v.PersistentVolumeClaim.ClaimName + ")"
		case v.Secret != nil:
			s += "secret(" + v.Secret.SecretName + ")"
		case v.ConfigMap != nil:
			s += "configMap(" + v.ConfigMap.Name + ")"
		default:
			s += "other"
		}
		out = append(out, s)
	}
	return out
}

func sortedStrings(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

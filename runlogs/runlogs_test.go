package runlogs_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/retention"
	"github.com/hookrun/hookrun/runlogs"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

const pipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: two}
spec:
  params: [{name: gate, type: string}]
  tasks:
  - name: first
    taskSpec:
      steps:
      - {name: a, image: alpine, script: "echo a-1"}
      - {name: b, image: alpine, script: "echo b-1; echo b-2 >&2"}
  - name: second
    runAfter: [first]
    params: [{name: gate, value: $(params.gate)}]
    taskSpec:
      params: [{name: gate, type: string}]
      steps:
      - name: wait
        image: alpine
        script: |
          echo waiting
          while [ ! -f "$(params.gate)" ]; do sleep 0.1; done
          echo released
`

const wantAll = "[first:a] a-1\n[first:b] b-1\n[first:b] b-2\n[second:wait] waiting\n[second:wait] released\n"

// buildHookrun builds the hookrun binary: the node agent runs it for the executor's step wrapper, and the
// CLI cases run `hookrun logs`.
func buildHookrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookrun")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hookrun")
	cmd.Dir = env.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hookrun: %v\n%s", err, out)
	}
	return bin
}

// startLoop runs the executor (for ns) and a node agent (with the kubelet API) until the test ends.
func startLoop(t *testing.T, ns, self string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := executor.Options{Namespace: ns, Logger: log, SkipNameValidation: true}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Cache: executor.CacheOptions(opts),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	nodeOpts := node.Options{Config: env.Config, NodeName: "runlogs-" + ns, StateDir: t.TempDir(), SelfPath: self,
		HeartbeatInterval: time.Second, Logger: log}
	env.KubeletOptions(&nodeOpts)
	agent, err := node.New(nodeOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- mgr.Start(ctx) }()
	go func() { errs <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
}

func getRun(t *testing.T, ns, name string) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr); err != nil {
		t.Fatal(err)
	}
	return &pr
}

// TestRunLogs runs a two-task PipelineRun on the executor and the node agent and reads its logs through
// the API server's pods/log: followed live while the second task waits, then whole, by PipelineRun,
// TaskRun and Pod, in process and through the hookrun logs command.
func TestRunLogs(t *testing.T) {
	self := buildHookrun(t)
	ns := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := env.Client.Create(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	startLoop(t, ns, self)
	env.Apply(t, ns, pipeline)
	gate := filepath.Join(t.TempDir(), "gate")
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "run-1", Namespace: ns}}
	pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "two"}
	pr.Spec.Params = pipelinev1.Params{{Name: "gate", Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeString, StringVal: gate}}}
	if err := env.Client.Create(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	reader := &runlogs.Reader{Client: env.Client, Kube: kube, Poll: 200 * time.Millisecond}

	// Follow from the start: lines arrive while the run goes on; Write returns when it has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pr2, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := reader.Write(ctx, pw, ns, "", pr.Name, runlogs.Options{Follow: true})
		pw.CloseWithError(err)
		writeErr <- err
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr2)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("follow ended before %q: %v", want, <-writeErr)
			}
			if got != want {
				t.Fatalf("got line %q, want %q", got, want)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("no line %q within 90s; run status %+v", want, getRun(t, ns, pr.Name).Status.Conditions)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(wantAll, "\n"), "\n") {
		if l == "[second:wait] released" {
			if c := getRun(t, ns, pr.Name).Status.GetCondition(pipelinev1.ConditionSucceeded); c == nil || c.Status != corev1.ConditionUnknown {
				t.Fatalf("the run should still be running while its step waits: %+v", c)
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		next(l)
	}
	select {
	case l, ok := <-lines:
		if ok {
			t.Fatalf("unexpected line %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("following did not end with the run")
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("follow: %v", err)
	}
	done := getRun(t, ns, pr.Name)
	if c := done.Status.GetCondition(pipelinev1.ConditionSucceeded); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("run not succeeded when following ended: %+v", c)
	}

	var secondTR, firstPod string
	for _, c := range done.Status.ChildReferences {
		var tr pipelinev1.TaskRun
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: c.Name}, &tr); err != nil {
			t.Fatal(err)
		}
		switch c.PipelineTaskName {
		case "first":
			firstPod = tr.Status.PodName
		case "second":
			secondTR = tr.Name
		}
	}

	cases := []struct {
		name    string
		kind    runlogs.Kind
		run     string
		want    string
		wantErr error
	}{
		{"PipelineRun by bare name", "", pr.Name, wantAll, nil},
		{"PipelineRun by kind", runlogs.KindPipelineRun, pr.Name, wantAll, nil},
		{"TaskRun", "", secondTR, "[second:wait] waiting\n[second:wait] released\n", nil},
		{"Pod", "", firstPod, "[first:a] a-1\n[first:b] b-1\n[first:b] b-2\n", nil},
		{"missing", "", "nope", "", runlogs.ErrNotFound},
		{"missing TaskRun", runlogs.KindTaskRun, pr.Name, "", runlogs.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			err := reader.Write(context.Background(), &b, ns, tc.kind, tc.run, runlogs.Options{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}

	// The command: flags as kubectl spells them, the dev kubeconfig found without flags, the old --state.
	work := t.TempDir()
	devKubeconfig := filepath.Join(work, ".hookrun", "kubeconfig")
	if err := os.MkdirAll(filepath.Dir(devKubeconfig), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := env.WriteKubeconfig(devKubeconfig); err != nil {
		t.Fatal(err)
	}
	cli := []struct {
		name    string
		args    []string
		code    int
		want    string
		wantErr string
	}{
		{"kubeconfig and namespace", []string{"logs", "--kubeconfig", devKubeconfig, "-n", ns, pr.Name}, 0, wantAll, ""},
		{"follow an ended run, flags after the name", []string{"logs", "--namespace=" + ns, "pipelinerun/" + pr.Name, "-f"}, 0, wantAll, ""},
		{"taskrun", []string{"logs", "-n", ns, "tr/" + secondTR}, 0, "[second:wait] waiting\n[second:wait] released\n", ""},
		{"old --state of the node agent", []string{"logs", "--state", filepath.Join(work, ".hookrun", "node"), "-n", ns, pr.Name}, 0, wantAll, ""},
		{"--state without a kubeconfig", []string{"logs", "--state", t.TempDir(), "-n", ns, pr.Name}, 1, "", "--state is not needed"},
		{"not found", []string{"logs", "-n", ns, "nope"}, 1, "", "no PipelineRun, TaskRun or Pod named \"nope\""},
		{"no name", []string{"logs", "-n", ns}, 2, "", "give the name"},
		{"bad kind", []string{"logs", "-n", ns, "deployment/x"}, 2, "", "the kind must be"},
	}
	for _, tc := range cli {
		t.Run("hookrun "+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, self, tc.args...)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "KUBECONFIG=")
			var out, errOut strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || out.String() != tc.want || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr: %s (want %q)", code, tc.code, out.String(), tc.want, errOut.String(), tc.wantErr)
			}
		})
	}
	checkArchived(t, self, ns, pr.Name, kube)
}

// checkArchived: retention keeping no successful run archives the run's logs and deletes it; with its Pods
// gone too, the logs read the same from the archive, in process and through hookrun logs --log-archive.
func checkArchived(t *testing.T, self, ns, name string, kube kubernetes.Interface) {
	ctx := context.Background()
	zero := 0
	archive := &runlogs.Archive{Dir: t.TempDir()}
	p, err := retention.New(env.Client, env.Client, kube, retention.Options{Archive: archive, Namespace: ns,
		Defaults: retention.Limits{Succeeded: &zero}})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := p.PruneOnce(ctx)
	if err != nil || len(deleted) != 1 || deleted[0] != ns+"/"+name {
		t.Fatalf("pruned %v (%v), want [%s/%s]", deleted, err, ns, name)
	}
	// envtest runs no garbage collector: delete the run's Pods as it would.
	if err := env.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	reader := &runlogs.Reader{Client: env.Client, Kube: kube, Archive: archive}
	if err := reader.Write(ctx, &b, ns, "", name, runlogs.Options{}); err != nil || b.String() != wantAll {
		t.Fatalf("archived logs (%v):\n%s\nwant:\n%s", err, b.String(), wantAll)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(self, "logs", "--kubeconfig", kubeconfig, "--log-archive", archive.Dir, "-n", ns, name).CombinedOutput()
	if err != nil || string(out) != wantAll {
		t.Fatalf("hookrun logs --log-archive: %v\n%s", err, out)
	}
}

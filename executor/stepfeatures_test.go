package executor_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/node"
)

// buildHookrun builds the hookrun binary the node agent runs and, beside it, the small hookrun-step
// binary the Pods' prepare, step wrappers and hookrun-results run (as make build lays them out).
func buildHookrun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"hookrun", "hookrun-step"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = env.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return filepath.Join(dir, "hookrun")
}

// startNodeLoop runs the executor for ns and a node agent that runs its Pods as local processes.
func startNodeLoop(t *testing.T, ns, self string) {
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
	// The other tests of this package drive their Pods by hand (kubelettest): this agent binds nothing
	// itself and runs only the Pods of ns, which bindLoop gives it.
	nodeName := "steps-" + ns
	nodeOpts := node.Options{Config: env.Config, NodeName: nodeName, StateDir: t.TempDir(), SelfPath: self,
		HeartbeatInterval: time.Second, Logger: log, DisableBinding: true}
	env.KubeletOptions(&nodeOpts) // pods/log: results beyond the termination message are read from a log
	agent, err := node.New(nodeOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	go func() { errs <- mgr.Start(ctx) }()
	go func() { errs <- agent.Run(ctx) }()
	go func() { errs <- bindLoop(ctx, ns, nodeName) }()
	t.Cleanup(func() {
		cancel()
		for range 3 {
			if err := <-errs; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
}

// bindLoop binds the unscheduled Pods of ns to node until ctx ends (there is no scheduler here).
func bindLoop(ctx context.Context, ns, nodeName string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			continue // the control plane is busy, or ctx ended: next tick
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
				continue
			}
			b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns},
				Target: corev1.ObjectReference{Kind: "Node", Name: nodeName}}
			_ = env.Client.SubResource("binding").Create(ctx, p, b) // a conflict means it is bound already
		}
	}
}

// The StepAction (served as v1beta1, as Tekton's users write it) declares params with a default and a
// step result; the Task passes one param from its own params, reads the step result in a later step, turns
// it into a task result, guards two steps with when (one false: skipped), and captures a step's stdout
// into a task result with stdoutConfig.
const stepFeatures = `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: greet
spec:
  params:
    - name: who
    - name: greeting
      default: hello
  results:
    - name: message
  image: busybox
  script: |
    printf '%s, %s' "$(params.greeting)" "$(params.who)" > $(step.results.message.path)
---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: features
spec:
  displayName: Step features
  params:
    - name: name
    - name: branch
  results:
    - name: greeting
      value: $(steps.hello.results.message)
    - name: echoed
  steps:
    - name: hello
      displayName: Say hello
      ref:
        name: greet
      params:
        - name: who
          value: $(params.name)
    - name: echo
      image: busybox
      stdoutConfig:
        path: $(results.echoed.path)
      script: |
        printf '%s!' "$(steps.hello.results.message)"
    - name: only-on-main
      image: busybox
      when:
        - input: $(params.branch)
          operator: in
          values: [main]
      script: echo should not run; exit 1
    - name: on-match
      image: busybox
      when:
        - input: $(steps.hello.results.message)
          operator: in
          values: ["hello, world"]
        - cel: "'$(params.branch)' == 'dev'"
      script: echo matched
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: features
spec:
  taskRef:
    name: features
  params:
    - {name: name, value: world}
    - {name: branch, value: dev}
`

func TestStepFeaturesOnNodeAgent(t *testing.T) {
	self := buildHookrun(t)
	ns := newNamespace(t)
	startNodeLoop(t, ns, self)
	apply(t, ns, stepFeatures)

	var tr *pipelinev1.TaskRun
	eventually(t, 3*time.Minute, "TaskRun features done", func() (bool, error) {
		tr = getTaskRun(t, ns, "features")
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status != corev1.ConditionUnknown, nil
	})
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("TaskRun failed: %+v\nsteps: %+v", c, tr.Status.Steps)
	}
	res := map[string]string{}
	for _, r := range tr.Status.Results {
		res[r.Name] = r.Value.StringVal
	}
	if want := map[string]string{"greeting": "hello, world", "echoed": "hello, world!"}; !equalJSON(res, want) {
		t.Errorf("results = %v, want %v", res, want)
	}
	want := []stepSummary{{"hello", "Completed", 0}, {"echo", "Completed", 0}, {"only-on-main", "Skipped", 0}, {"on-match", "Completed", 0}}
	if got := steps(tr); !equalJSON(got, want) {
		t.Errorf("steps = %+v, want %+v", got, want)
	}
	if got := tr.Status.Steps[0].Results; len(got) != 1 || got[0].Name != "message" || got[0].Value.StringVal != "hello, world" {
		t.Errorf("steps[0].results = %+v", got)
	}
	spec := tr.Status.TaskSpec
	if spec == nil || spec.DisplayName != "Step features" || spec.Steps[0].DisplayName != "Say hello" {
		t.Fatalf("status.taskSpec lost displayName: %+v", spec)
	}
	if s := spec.Steps[0]; s.Ref != nil || s.Image != "busybox" || !strings.Contains(s.Script, `"hello" "$(params.name)"`) || len(s.Results) != 1 {
		t.Errorf("status.taskSpec.steps[0] is not the resolved StepAction: %+v", s)
	}
}

// Five results and a step result of 3000 bytes (18 KB, beyond the Pod's 12 KiB of termination messages,
// each container's share 12 KiB / 4) reach the TaskRun whole: what does not fit the steps' and the results
// container's messages is read back from the results container's log.
const largeResults = `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: large
spec:
  taskSpec:
    results:
      - {name: a}
      - {name: b}
      - {name: c}
      - {name: d}
      - {name: e}
      - {name: f, value: $(steps.one.results.big)}
    steps:
      - name: four
        image: busybox
        script: |
          for r in a b c d; do head -c 3000 /dev/zero | tr '\0' "$r" > /tekton/results/$r; done
      - name: one
        image: busybox
        results: [{name: big}]
        script: |
          head -c 3000 /dev/zero | tr '\0' e > $(results.e.path)
          head -c 3000 /dev/zero | tr '\0' f > $(step.results.big.path)
`

func TestLargeResultsOnNodeAgent(t *testing.T) {
	self := buildHookrun(t)
	ns := newNamespace(t)
	startNodeLoop(t, ns, self)
	apply(t, ns, largeResults)
	var tr *pipelinev1.TaskRun
	eventually(t, 3*time.Minute, "TaskRun large done", func() (bool, error) {
		tr = getTaskRun(t, ns, "large")
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status != corev1.ConditionUnknown, nil
	})
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("TaskRun failed: %+v", c)
	}
	got := map[string]string{}
	for _, r := range tr.Status.Results {
		got[r.Name] = r.Value.StringVal
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		if want := strings.Repeat(n, 3000); got[n] != want {
			t.Errorf("result %s: %d bytes %.20q…, want 3000 × %q", n, len(got[n]), got[n], n)
		}
	}
	if sr := tr.Status.Steps[1].Results; len(sr) != 1 || sr[0].Name != "big" || sr[0].Value.StringVal != strings.Repeat("f", 3000) {
		t.Errorf("steps[1].results = %.80v", sr)
	}
}

// Array and object step results passed as a StepAction's array and object params (replaced by the
// wrapper when the step runs), a string one through env, and a param default that uses another param.
const stepResultParams = `apiVersion: tekton.dev/v1alpha1
kind: StepAction
metadata:
  name: check
spec:
  params:
    - name: list
      type: array
    - name: image
      type: object
      properties:
        url: {type: string}
        digest: {type: string}
    - name: word
    - name: who
      default: you
    - name: sentence
      default: "hi $(params.who)"
  image: busybox
  env:
    - name: WORD
      value: $(params.word)
  args: ["$(params.list[*])", "$(params.list[0])", "$(params.image.url)@$(params.image.digest)"]
  script: |
    got="$1|$2|$3|$4|$WORD|$(params.sentence)"
    want="one|two words|one|reg.io@sha256:1|foo|hi me"
    [ "$got" = "$want" ] || { echo "got $got, want $want"; exit 1; }
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: passing
spec:
  taskSpec:
    steps:
      - name: make
        image: busybox
        results:
          - {name: list, type: array}
          - {name: image, type: object, properties: {url: {type: string}, digest: {type: string}}}
          - {name: word}
        script: |
          printf '["one","two words"]' > $(step.results.list.path)
          printf '{"url":"reg.io","digest":"sha256:1"}' > $(step.results.image.path)
          printf foo > $(step.results.word.path)
      - name: use
        ref: {name: check}
        params:
          - {name: list, value: "$(steps.make.results.list[*])"}
          - {name: image, value: "$(steps.make.results.image[*])"}
          - {name: word, value: $(steps.make.results.word)}
          - {name: who, value: me}
`

func TestStepActionStepResultParamsOnNodeAgent(t *testing.T) {
	self := buildHookrun(t)
	ns := newNamespace(t)
	startNodeLoop(t, ns, self)
	apply(t, ns, stepResultParams)
	var tr *pipelinev1.TaskRun
	eventually(t, 3*time.Minute, "TaskRun passing done", func() (bool, error) {
		tr = getTaskRun(t, ns, "passing")
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status != corev1.ConditionUnknown, nil
	})
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
		t.Fatalf("TaskRun failed: %+v", c)
	}
	got := map[string]string{}
	for _, r := range tr.Status.Steps[0].Results {
		b, _ := r.Value.MarshalJSON()
		got[r.Name] = string(b)
	}
	want := map[string]string{"list": `["one","two words"]`, "image": `{"digest":"sha256:1","url":"reg.io"}`, "word": `"foo"`}
	if !equalJSON(got, want) {
		t.Errorf("status.steps[0].results = %v, want %v", got, want)
	}
}

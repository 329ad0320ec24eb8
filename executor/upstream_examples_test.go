package executor_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/node"
)

// Issue #13 ("Tests and figures"): every example of Tekton's examples/v1 (pipelineruns and taskruns, with
// beta/ and alpha/, without no-ci/) that needs no network, applied unchanged into its own namespace with the
// executor and a node agent (Pods as local processes: images ignored, sh and ash scripts run by the host's
// busybox sh or bash, other interpreters the host's), and its outcome compared with Tekton's own e2e
// expectation: test/examples_test.go waits for every run of every example to succeed. Slow (about a hundred runs): only with HOOKRUN_UPSTREAM_EXAMPLES=1
// (make test-upstream-examples).

// upstreamNetwork lists the examples not run, each with why: they need the network, an image's own
// contents or a kubelet feature the node agent lacks. The resolver examples run in
// TestUpstreamResolverExamples (their location params pointed at servers on this machine).
var upstreamNetwork = map[string]string{
	"pipelineruns/beta/git-resolver.yaml":              "resolver example: TestUpstreamResolverExamples",
	"pipelineruns/beta/http-resolver.yaml":             "resolver example: TestUpstreamResolverExamples",
	"pipelineruns/beta/http-resolver-credentials.yaml": "resolver example: TestUpstreamResolverExamples",
	"taskruns/beta/git-resolver.yaml":                  "resolver example: TestUpstreamResolverExamples",
	"taskruns/beta/bundles-resolver.yaml":              "resolver example: TestUpstreamResolverExamples",
	"taskruns/beta/hub-resolver.yaml":                  "resolver example: TestUpstreamResolverExamples",
	"taskruns/beta/stepaction-git-resolver.yaml":       "resolver example: TestUpstreamResolverExamples",
	"pipelineruns/pipelinerun.yaml":                    "clones github.com/GoogleContainerTools/kaniko and pushes an image with Kaniko",
	"pipelineruns/pipelinerun-with-final-tasks.yaml":   "clones github.com/tektoncd/pipeline with the catalog's git-clone",
	"taskruns/alpha/step-stream-results.yaml":          "crane digest asks the mirror.gcr.io registry",
	"taskruns/alpha/step-stream-workspace.yaml":        "crane digest asks the mirror.gcr.io registry",
	"taskruns/entrypoint-resolution.yaml":              "steps with no command: their entrypoints are read from ghcr.io/mirror.gcr.io",
	"taskruns/step-by-digest.yaml":                     "a step with no command: its entrypoint is read from the registry",
	"taskruns/steps-run-in-order.yaml":                 "a step with no command: its entrypoint is read from the registry",
	"taskruns/dind-sidecar.yaml":                       "a privileged Docker daemon sidecar pulling from Docker Hub",
	"taskruns/authenticating-git-commands.yaml":        "an sshd sidecar from the alpine/git image (the node agent runs no images)",
	"taskruns/beta/authenticating-git-commands.yaml":   "an sshd sidecar from the alpine/git image (the node agent runs no images)",
}

// upstreamExpectFail lists the examples expected to end failed. Tekton's e2e expects every example to
// succeed (the examples whose comments say "fail" fail a step under onError: continue or a task under
// onError: continue, and still succeed as a whole), so it is empty.
var upstreamExpectFail = map[string]bool{}

// knownUpstream lists the examples that do not end as Tekton's e2e expects on hookrun today, with the cause
// found: outcome is "failed" (the run ended failed) or "refused" (the API server or the executor refused
// it). A listed example that ends as expected, or an unlisted one that does not, fails the test.
var knownUpstream = map[string]struct{ outcome, reason string }{
	// Refused on purpose (docs/compatibility.md).
	"pipelineruns/alpha/pipelines-in-pipelines.yaml":             {"refused", "Pipelines in Pipelines (alpha) are not supported by hookrun"},
	"pipelineruns/alpha/pipelines-in-pipelines-ref.yaml":         {"refused", "Pipelines in Pipelines (alpha) are not supported by hookrun"},
	"pipelineruns/alpha/pipelines-in-pipelines-ref-complex.yaml": {"refused", "Pipelines in Pipelines (alpha) are not supported by hookrun"},
}

// upstreamTimeout bounds each example: most end in seconds; the slowest sleep or time out on purpose.
const upstreamTimeout = 3 * time.Minute

// flakyUpstream lists the examples whose outcome depends on timing on hookrun, with why: either outcome is
// accepted (and reported).
var flakyUpstream = map[string]string{
	"taskruns/sidecar-ready-script.yaml": "the step may start before the sidecar's script wrote /shared/message: a " +
		"native sidecar without a probe counts as started at once (Tekton's readiness annotation is slower)",
}

type upstreamResult struct {
	file, outcome, detail string
	took                  time.Duration
}

func TestUpstreamExamples(t *testing.T) {
	if os.Getenv("HOOKRUN_UPSTREAM_EXAMPLES") != "1" {
		t.Skip("slow (every example of Tekton's examples/v1): set HOOKRUN_UPSTREAM_EXAMPLES=1 (make test-upstream-examples)")
	}
	dir := upstreamExamples(t)
	var files []string
	for _, sub := range []string{"pipelineruns", "taskruns"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "no-ci" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	for f := range upstreamNetwork {
		if !contains(files, f) {
			t.Errorf("upstreamNetwork names %s, which is not in %s", f, dir)
		}
	}
	for f := range flakyUpstream {
		if !contains(files, f) {
			t.Errorf("flakyUpstream names %s, which is not in %s", f, dir)
		}
	}
	for f := range knownUpstream {
		if !contains(files, f) {
			t.Errorf("knownUpstream names %s, which is not in %s", f, dir)
		}
	}
	self := buildHookrun(t)

	var mu sync.Mutex
	results := map[string]upstreamResult{}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				t.Run(f, func(t *testing.T) {
					r := runUpstreamExample(t, dir, f, self)
					mu.Lock()
					results[f] = r
					mu.Unlock()
					t.Logf("%s: %s (%s) %s", f, r.outcome, r.took.Round(100*time.Millisecond), r.detail)
					want := "succeeded"
					if upstreamExpectFail[f] {
						want = "failed"
					}
					k, isKnown := knownUpstream[f]
					_, flaky := flakyUpstream[f]
					switch {
					case r.outcome == "skipped-network", flaky:
					case isKnown && r.outcome == want:
						t.Errorf("%s is listed in knownUpstream (%s: %s) but ended %s: drop it from the table", f, k.outcome, k.reason, r.outcome)
					case isKnown && r.outcome != k.outcome:
						t.Errorf("%s ended %s, knownUpstream says %s (%s): %s", f, r.outcome, k.outcome, k.reason, r.detail)
					case !isKnown && r.outcome != want:
						t.Errorf("%s ended %s, Tekton's e2e expects %s: %s", f, r.outcome, want, r.detail)
					}
				})
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()

	totals := map[string]int{}
	var b strings.Builder
	for _, f := range files {
		r, ok := results[f]
		if !ok {
			r = upstreamResult{outcome: "not-run"}
		}
		label := r.outcome
		if k, isKnown := knownUpstream[f]; isKnown && r.outcome == k.outcome {
			label += "-known"
			r.detail = k.reason
		}
		if why, flaky := flakyUpstream[f]; flaky && r.outcome != "succeeded" {
			label = "failed-flaky"
			r.detail = why + ": " + r.detail
		}
		totals[label]++
		fmt.Fprintf(&b, "  %-16s %-80s %s\n", label, f, oneLine(r.detail, 200))
	}
	fmt.Fprintf(&b, "upstream examples: %d succeeded, %d failed-known, %d refused-known, %d failed-flaky, %d skipped-network, %d failed (unlisted), %d refused (unlisted), %d other; %d in all\n",
		totals["succeeded"], totals["failed-known"], totals["refused-known"], totals["failed-flaky"], totals["skipped-network"],
		totals["failed"], totals["refused"],
		len(files)-totals["succeeded"]-totals["failed-known"]-totals["refused-known"]-totals["failed-flaky"]-totals["skipped-network"]-totals["failed"]-totals["refused"],
		len(files))
	t.Log("\n" + b.String())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

var yamlDocSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// runUpstreamExample applies one example unchanged (but for its namespace) into a namespace of its own with
// the executor and a node agent, and waits for its runs to end.
func runUpstreamExample(t *testing.T, dir, file, self string) (r upstreamResult) {
	r.file = file
	if why, ok := upstreamNetwork[file]; ok {
		r.outcome, r.detail = "skipped-network", why
		return r
	}
	start := time.Now()
	defer func() { r.took = time.Since(start) }()
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	startUpstreamNodeLoop(t, ns, self)
	ctx := context.Background()
	type run struct{ kind, name string }
	var runs []run
	for _, doc := range yamlDocSep.Split(string(raw), -1) {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("yaml: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		u.SetNamespace(ns)
		var err error
		for range 5 { // a busy control plane: retry what is not a refusal
			if err = env.Client.Create(ctx, &u); err == nil || !retryableCreate(err) {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			r.outcome, r.detail = "refused", fmt.Sprintf("create %s %s%s: %v", u.GetKind(), u.GetName(), u.GetGenerateName(), err)
			return r
		}
		if k := u.GetKind(); k == "PipelineRun" || k == "TaskRun" {
			runs = append(runs, run{k, u.GetName()})
		}
	}
	if len(runs) == 0 {
		t.Fatalf("%s creates no PipelineRun or TaskRun", file)
	}
	// Generous: a few examples sleep or time out on purpose, and the machine is shared.
	deadline := time.Now().Add(upstreamTimeout)
	var failures []string
	outcome := "succeeded"
	for _, rn := range runs {
		for {
			c, err := runCondition(ctx, ns, rn.kind, rn.name)
			if err == nil && c != nil && c.Status != corev1.ConditionUnknown {
				if c.Status == corev1.ConditionFalse {
					if isRefusal(c.Reason, c.Message) && outcome != "failed" {
						outcome = "refused"
					} else {
						outcome = "failed"
					}
					failures = append(failures, fmt.Sprintf("%s %s: %s: %s", rn.kind, rn.name, c.Reason, c.Message))
				}
				break
			}
			if time.Now().After(deadline) {
				outcome = "failed"
				failures = append(failures, fmt.Sprintf("%s %s: not ended after %s (%+v, %v); taskruns: %s; pods: %s", rn.kind, rn.name, upstreamTimeout, c, err, taskRunConditions(ns), podStates(ctx, ns)))
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	r.outcome = outcome
	if outcome != "succeeded" {
		r.detail = strings.Join(append(failures, failedSteps(ctx, ns)...), "; ")
	}
	return r
}

// stepLogTail is the end of a step container's log (pods/log: the node agent's kubelet API).
func stepLogTail(ctx context.Context, ns, pod, container string) string {
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tail := int64(8)
	b, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return oneLine(string(b), 600)
}

var upstreamNodes atomic.Int64

// startUpstreamNodeLoop is startNodeLoop with a short node name: "steps-" and these tests' long namespace
// names pass 63 characters, which a Node's kubernetes.io/hostname label cannot hold, and the agent then
// runs nothing (the Pods stay Pending).
func startUpstreamNodeLoop(t *testing.T, ns, self string) {
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
	nodeName := fmt.Sprintf("upstream-%d", upstreamNodes.Add(1))
	nodeOpts := node.Options{Config: env.Config, NodeName: nodeName, StateDir: t.TempDir(), SelfPath: self,
		HeartbeatInterval: time.Second, Logger: log, DisableBinding: true}
	env.KubeletOptions(&nodeOpts)
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

// podStates describes the Pods of ns (for a run that does not end).
func podStates(ctx context.Context, ns string) string {
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "%s node=%q phase=%s %s", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Message)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				fmt.Fprintf(&b, " %s=%s(%s)", c.Type, c.Reason, c.Message)
			}
		}
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				fmt.Fprintf(&b, " [%s waiting %s: %s]", cs.Name, w.Reason, w.Message)
			}
		}
		b.WriteString("; ")
	}
	if len(pods.Items) == 0 {
		b.WriteString("none")
	}
	return b.String()
}

func retryableCreate(err error) bool {
	s := err.Error()
	return strings.Contains(s, "timeout") || strings.Contains(s, "connection refused") || strings.Contains(s, "TooManyRequests")
}

// isRefusal says whether a run ended because hookrun (or validation) refused it, rather than failed running.
func isRefusal(reason, message string) bool {
	return strings.Contains(reason, "ValidationFailed") || strings.Contains(message, "not supported by hookrun") ||
		strings.Contains(reason, "Invalid")
}

func runCondition(ctx context.Context, ns, kind, name string) (*pipelinev1.Condition, error) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	if kind == "PipelineRun" {
		var pr pipelinev1.PipelineRun
		if err := env.Client.Get(ctx, key, &pr); err != nil {
			return nil, err
		}
		return pr.Status.GetCondition(pipelinev1.ConditionSucceeded), nil
	}
	var tr pipelinev1.TaskRun
	if err := env.Client.Get(ctx, key, &tr); err != nil {
		return nil, err
	}
	return tr.Status.GetCondition(pipelinev1.ConditionSucceeded), nil
}

// failedSteps describes, for the report, the failed TaskRuns of ns and their failed steps.
func failedSteps(ctx context.Context, ns string) []string {
	var trs pipelinev1.TaskRunList
	if err := env.Client.List(ctx, &trs, client.InNamespace(ns)); err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, tr := range trs.Items {
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c == nil || c.Status != corev1.ConditionFalse {
			continue
		}
		s := fmt.Sprintf("TaskRun %s: %s: %s", tr.Name, c.Reason, c.Message)
		for _, st := range tr.Status.Steps {
			if st.Terminated != nil && st.Terminated.ExitCode != 0 {
				s += fmt.Sprintf(" [step %s exit %d %s; log tail: %s]", st.Name, st.Terminated.ExitCode, st.Terminated.Reason,
					stepLogTail(ctx, ns, tr.Status.PodName, st.Container))
			}
		}
		out = append(out, s)
	}
	return out
}

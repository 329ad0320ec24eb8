package e2enode

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hookrun/hookrun/test/controlplane"
)

// TestRealNode brings the node up once and runs the suite against it.
func TestRealNode(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if reason := prerequisites(); reason != "" {
		t.Skip(reason)
	}
	if err := mustHave(root); err != nil {
		t.Fatal(err)
	}
	n, err := startNode(root)
	// Stop everything at the end, on failure, and on SIGINT/SIGTERM (a killed `go test` runs no Cleanup).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if s, ok := <-sigs; ok {
			fmt.Printf(">> e2e-node: %v: stopping the node\n", s)
			n.stop()
			os.Exit(2)
		}
	}()
	t.Cleanup(func() {
		signal.Stop(sigs)
		close(sigs)
		n.stop()
		timings.print()
	})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	baseline := n.baseline(t)
	if err := n.startGitServer(); err != nil {
		t.Fatal(err)
	}
	hooks := n.namespace(t, "hooks")
	n.applyDir(t, hooks, filepath.Join(root, "examples", "github-push"))
	n.applyDir(t, hooks, filepath.Join(root, "examples", "gitlab-mr"))
	if err := n.startHookrun(hooks); err != nil {
		t.Fatal(err)
	}
	n.phase("node-ready+hookrun", start)

	start = time.Now()
	// Alone first, so the figures are not disturbed by the parallel cases.
	t.Run("StepOverhead", func(t *testing.T) { n.testStepOverhead(t, baseline) })
	t.Run("StepHandover", func(t *testing.T) { n.testStepHandover(t) })
	t.Run("Parallel", func(t *testing.T) {
		t.Run("GitLabMR", func(t *testing.T) { t.Parallel(); n.testGitLabMR(t, root, hooks) })
		t.Run("GitHubPushAndKaniko", func(t *testing.T) { t.Parallel(); n.testGitHubPush(t, root, hooks) })
		t.Run("FailingStep", func(t *testing.T) { t.Parallel(); n.testFailingStep(t) })
		t.Run("Timeouts", func(t *testing.T) { t.Parallel(); n.testTimeouts(t) })
		t.Run("Cancel", func(t *testing.T) { t.Parallel(); n.testCancel(t) })
		t.Run("Sidecar", func(t *testing.T) { t.Parallel(); n.testSidecar(t) })
		t.Run("StepRequests", func(t *testing.T) { t.Parallel(); n.testRequests(t) })
		t.Run("SeedsV1beta1GitResource", func(t *testing.T) { t.Parallel(); n.testSeeds(t, root) })
		t.Run("PipelinesAsCode", func(t *testing.T) { t.Parallel(); n.testPAC(t, root, hooks) })
	})
	n.phase("suite", start)

	// Last: it replaces the suite's hookrun processes with deploy/'s Pods.
	start = time.Now()
	t.Run("Deploy", func(t *testing.T) { n.testDeploy(t) })
	n.phase("deploy", start)
}

// baselineFigures are a plain Pod's (no hookrun) container timings on this node, the reference the
// per-step overhead is measured against.
type baselineFigures struct {
	gap       time.Duration // previous init container exit → next start (the kubelet's sequencing)
	toOutput  time.Duration // container start → first output line (sh -c 'echo')
	create2Go time.Duration // container create → start (runc)
	steps     int
	// exitToOut is the previous container's exit → this one's first output line: the whole hand-over
	// between two steps, however they are sequenced (p50 and p99).
	exitToOut, exitToOutP99 time.Duration
	firstOutput             time.Time // the first container's first output line
}

// baseline runs a Pod of five plain init containers (`sh -c echo`), no hookrun involved: it proves the
// node runs containers, creates the CNI bridge the git server listens on, and gives the reference figures.
func (n *node) baseline(t *testing.T) baselineFigures {
	t.Helper()
	ns := n.namespace(t, "baseline")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever},
	}
	const steps = 5
	for i := 1; i <= steps; i++ {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{
			Name: fmt.Sprintf("step-%d", i), Image: busyboxImage, Command: []string{"/bin/sh", "-c", fmt.Sprintf("echo step-%d", i)},
		})
	}
	pod.Spec.Containers = []corev1.Container{{Name: "main", Image: busyboxImage, Command: []string{"/bin/sh", "-c", "echo done"}}}
	created := time.Now()
	if err := n.client.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	p := n.waitPod(t, ns, "plain", 120*time.Second, "Succeeded", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("a plain busybox Pod did not succeed on the node:\n%s", n.describeRuns(ns))
	}
	names := []string{}
	for i := 1; i <= steps; i++ {
		names = append(names, fmt.Sprintf("step-%d", i))
	}
	rows, fig := n.stepTable(p, created, append(names, "main"), "")
	fmt.Printf(">> e2e-node: baseline Pod (plain init containers, no hookrun), times from Pod creation:\n%s", rows)
	timings.note("baseline plain Pod: container create→start %s, start→first output %s, previous exit→next start %s (median of %d)",
		ms(fig.create2Go), ms(fig.toOutput), ms(fig.gap), fig.steps)
	return fig
}

// stepTable prints, for each container, create/start/first output/exit relative to t0, and the means of
// medians of the per-step figures over containers (those after the first for the gap).
func (n *node) stepTable(p *corev1.Pod, t0 time.Time, containers []string, outputMarker string) (string, baselineFigures) {
	times := n.events.pod(p.Namespace, p.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "   %-28s %10s %10s %10s %10s %10s %10s\n", "container", "create", "start", "output", "exit", "exit→start", "start→out")
	if sb, ok := times[""]; ok {
		fmt.Fprintf(&b, "   %-28s %10s %10s\n", "(sandbox)", ms(sb.Create.Sub(t0)), ms(sb.Start.Sub(t0)))
	}
	var fig baselineFigures
	var gaps, outs, c2s, handovers []time.Duration
	var prevExit time.Time
	for _, c := range containers {
		ct, ok := times[c]
		if !ok {
			fmt.Fprintf(&b, "   %-28s (never created)\n", c)
			prevExit = time.Time{}
			continue
		}
		var out time.Time
		if lines, err := n.containerLog(p, c); err == nil {
			for _, l := range lines {
				if outputMarker == "" || strings.Contains(l.Text, outputMarker) {
					out = l.At
					break
				}
			}
		}
		rel := func(x time.Time) string {
			if x.IsZero() {
				return "-"
			}
			return ms(x.Sub(t0))
		}
		gap, s2o := "-", "-"
		if !prevExit.IsZero() && !ct.Start.IsZero() {
			gaps = append(gaps, ct.Start.Sub(prevExit))
			gap = ms(ct.Start.Sub(prevExit))
		}
		if !out.IsZero() && !ct.Start.IsZero() {
			outs = append(outs, out.Sub(ct.Start))
			s2o = ms(out.Sub(ct.Start))
		}
		if !out.IsZero() && !prevExit.IsZero() {
			handovers = append(handovers, out.Sub(prevExit))
		}
		if fig.firstOutput.IsZero() {
			fig.firstOutput = out
		}
		if !ct.Create.IsZero() && !ct.Start.IsZero() {
			c2s = append(c2s, ct.Start.Sub(ct.Create))
		}
		fmt.Fprintf(&b, "   %-28s %10s %10s %10s %10s %10s %10s\n", c, rel(ct.Create), rel(ct.Start), rel(out), rel(ct.Exit), gap, s2o)
		prevExit = ct.Exit
	}
	fig.gap, fig.toOutput, fig.create2Go = median(gaps), median(outs), median(c2s)
	fig.exitToOut, fig.exitToOutP99 = median(handovers), percentile(handovers, 99)
	fig.steps = len(outs)
	return b.String(), fig
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

package e2enode

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// testStepOverhead creates a PipelineRun of one Task with ten one-line steps and prints, from containerd's
// own events, when each step's container was created, started, wrote its first line and exited, measured
// from the PipelineRun's creation; then compares with the plain Pod of the baseline.
func (n *node) testStepOverhead(t *testing.T, base baselineFigures) {
	ns := n.namespace(t, "timing")
	var steps strings.Builder
	const count = 10
	for i := 1; i <= count; i++ {
		fmt.Fprintf(&steps, "        - name: s%d\n          image: alpine:3.20\n          script: echo step-%d\n", i, i)
	}
	created := time.Now()
	tr, p := n.runSteps(t, ns, "timing", steps.String())
	containers := []string{"prepare"}
	for i := 1; i <= count; i++ {
		containers = append(containers, fmt.Sprintf("step-s%d", i))
	}
	containers = append(containers, "hookrun-results")
	rows, _ := n.stepTable(p, created, containers, "")
	// The figures that matter are the steps' (prepare and hookrun-results are hookrun's own containers).
	_, fig := n.stepTable(p, created, containers[1:count+1], "")
	fmt.Printf(">> e2e-node: PipelineRun %s/timing, times from its creation (containerd events, CRI log timestamps):\n%s", ns, rows)
	times := n.events.pod(ns, p.Name)
	var starts []string
	for _, c := range containers[1 : count+1] {
		if ct, ok := times[c]; ok {
			starts = append(starts, fmt.Sprintf("%s +%s", c, strings.TrimSpace(ms(ct.Start.Sub(created)))))
		}
	}
	timings.note("PipelineRun creation → step start: %s", strings.Join(starts, ", "))
	if sb, ok := times[""]; ok {
		timings.note("PipelineRun creation → Pod sandbox created: %s (executor + scheduler + kubelet admission)", ms(sb.Create.Sub(created)))
	}
	timings.note("hookrun steps: container create→start %s, start→first output %s, previous exit→next start %s (median of %d)",
		ms(fig.create2Go), ms(fig.toOutput), ms(fig.gap), fig.steps)
	// Steps are regular containers that all start with the Pod; a step's wrapper runs it when inotify
	// reports the previous step's record, so the hand-over is previous exit → next first output (the
	// plain init containers of the baseline hand over at the kubelet's PLEG relist, about a second).
	timings.note("steps laid out as %s: previous step exit → next step's first output p50 %s, p99 %s over %d hand-overs (targets ≤ 50ms, ≤ 150ms); plain init containers: exit→next start %s",
		p.Annotations["hookrun.dev/steps"], ms(fig.exitToOut), ms(fig.exitToOutP99), count-1, ms(base.gap))
	if !fig.firstOutput.IsZero() {
		timings.note("PipelineRun creation → first step's first output: %s (target ≤ 800ms)", ms(fig.firstOutput.Sub(created)))
	}
	if p.Annotations["hookrun.dev/steps"] != "containers" {
		t.Errorf("the timing Pod's steps are %q, want regular containers", p.Annotations["hookrun.dev/steps"])
	}
	// The wrapper's own cost shows on the first step, which waits for nothing: its start → first output
	// against a plain container's.
	_, first := n.stepTable(p, created, containers[1:2], "")
	wrapper := first.toOutput - base.toOutput
	timings.note("per-step overhead beyond the container start itself (hookrun's wrapper, start→first output vs a plain container): %+.1fms median (target ≤ 20ms); kubelet exit→next start %s vs %s plain (PLEG relist)",
		float64(wrapper.Microseconds())/1000, ms(fig.gap), ms(base.gap))
	if tr.Status.Steps[0].Terminated == nil {
		t.Errorf("step states not reported: %+v", tr.Status.Steps)
	}
	n.checkTknLogs(t, ns, tr.Name, count)

	// The wrapper alone, on the host (no kubelet, no container): `hookrun-step run -- /bin/true` (what the
	// Pods run) and the full binary's `hookrun step run` against /bin/true itself, so the figure above can
	// be told apart from this machine's noise.
	dir := t.TempDir()
	timeIt := func(args ...string) time.Duration {
		start := time.Now()
		if out, err := run(dir, args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return time.Since(start)
	}
	flags := []string{"run", "--name", "bench", "--results-dir", dir, "--steps-dir", dir,
		"--scripts-dir", dir, "--termination-path", filepath.Join(dir, "termination"), "--", "/bin/true"}
	var plain, wrapped, full []time.Duration
	for i := 0; i < 21; i++ {
		plain = append(plain, timeIt("/bin/true"))
		wrapped = append(wrapped, timeIt(append([]string{n.hookrunStep}, flags...)...))
		full = append(full, timeIt(append([]string{n.hookrun, "step"}, flags...)...))
	}
	timings.note("on the host, no container: /bin/true %s, hookrun-step run -- /bin/true %s: the wrapper costs %s per step "+
		"(target ≤ 5ms; the full binary's hookrun step run: %s) (median of 21)",
		ms(median(plain)), ms(median(wrapped)), ms(median(wrapped)-median(plain)), ms(median(full)-median(plain)))
}

// testStepHandover: ten steps that each print, then work for a second. Every step's container is up
// long before its turn (the kubelet starts a Pod's containers one after another, a few hundred
// milliseconds apart here), so the previous step's exit → next step's first output is hookrun's own
// hand-over (the wrapper notified by inotify), which the echo-only run above cannot show: there each
// step's turn comes before the kubelet has started its container.
func (n *node) testStepHandover(t *testing.T) {
	ns := n.namespace(t, "handover")
	var steps strings.Builder
	const count = 10
	for i := 1; i <= count; i++ {
		fmt.Fprintf(&steps, "        - name: s%d\n          image: alpine:3.20\n          script: |\n            echo step-%d\n            sleep 1\n            echo end-%d\n", i, i, i)
	}
	created := time.Now()
	_, p := n.runSteps(t, ns, "handover", steps.String())
	var containers []string
	for i := 1; i <= count; i++ {
		containers = append(containers, fmt.Sprintf("step-s%d", i))
	}
	rows, _ := n.stepTable(p, created, containers, "step-")
	fmt.Printf(">> e2e-node: PipelineRun %s/handover (steps of one second), times from its creation:\n%s", ns, rows)
	// The hand-over is the previous step's last line → the next step's first (CRI log timestamps): a
	// container's exit comes after its wrapper has passed the turn on, so it cannot mark the step's end.
	var handovers []time.Duration
	var prevEnd time.Time
	for i, c := range containers {
		first, last := n.logLineAt(p, c, fmt.Sprintf("step-%d", i+1)), n.logLineAt(p, c, fmt.Sprintf("end-%d", i+1))
		if first.IsZero() || last.IsZero() {
			t.Errorf("%s did not print both its lines", c)
		}
		if !prevEnd.IsZero() && !first.IsZero() {
			handovers = append(handovers, first.Sub(prevEnd))
		}
		prevEnd = last
	}
	fmt.Printf(">> e2e-node: hand-overs (previous step's last line → next step's first line): %v\n", handovers)
	timings.note("steps of one second (every container up before its turn): previous step's last line → next step's first line p50 %s, p99 %s over %d hand-overs (targets ≤ 50ms, ≤ 150ms)",
		ms(median(handovers)), ms(percentile(handovers, 99)), len(handovers))
}

// logLineAt is when container c of p printed its first line containing marker (zero: never).
func (n *node) logLineAt(p *corev1.Pod, c, marker string) time.Time {
	lines, err := n.containerLog(p, c)
	if err != nil {
		return time.Time{}
	}
	for _, l := range lines {
		if strings.Contains(l.Text, marker) {
			return l.At
		}
	}
	return time.Time{}
}

// runSteps creates PipelineRun name in ns — one task whose embedded Task has the given steps (YAML list
// items indented for the Task's steps) —, waits for it to succeed and returns its TaskRun and Pod.
func (n *node) runSteps(t *testing.T, ns, name, steps string) (*pipelinev1.TaskRun, *corev1.Pod) {
	t.Helper()
	n.apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: `+name+`
spec:
  pipelineSpec:
    tasks:
    - name: steps
      taskSpec:
        steps:
`+steps)
	pr := n.waitPR(t, ns, name, runTimeout)
	if c := condition(pr); c.Status != corev1.ConditionTrue {
		t.Fatalf("%s run: %+v\n%s", name, c, n.describeRuns(ns))
	}
	tr := n.taskRun(t, pr, "steps")
	return tr, n.pod(t, ns, tr.Status.PodName)
}

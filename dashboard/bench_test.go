package dashboard_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// TestDashboardFigures (HOOKRUN_BENCH=1, `make bench-dashboard`): the `hookrun dashboard` binary over
// 5,000 PipelineRuns. Prints the runs page's server time to first byte (p50, p95; first page, a
// filtered page, a deep page), next to the references measured in the same run: /healthz on the same
// server (the HTTP floor) and one LIST of the 5,000 runs from the API server (what a page without an
// informer cache would pay per view); and the dashboard's RSS. Targets: p50 ≤ 100 ms, RSS ≤ 100 MB.
func TestDashboardFigures(t *testing.T) {
	if os.Getenv("HOOKRUN_BENCH") == "" {
		t.Skip("set HOOKRUN_BENCH=1 (make bench-dashboard)")
	}
	const runs = 5000
	ns := newNamespace(t)
	start := time.Now()
	createRuns(t, ns, runs)
	t.Logf("created %d PipelineRuns (with status) in %s", runs, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bin := buildHookrun(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "dashboard", "--kubeconfig", kubeconfig, "--namespace", ns, "--addr", addr)
	// gctrace: the Go heap beside the RSS, to tell live data from collector headroom.
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	var gclog lastLines
	cmd.Stderr = &gclog
	stdout, _ := cmd.StdoutPipe()
	ready := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "dashboard: ") {
		t.Fatalf("dashboard did not start: %q", sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	base := "http://" + addr
	// Serving starts once the informers hold all runs: the first page answers then.
	body := get(t, base+"/runs")
	t.Logf("dashboard up and synced in %s", time.Since(ready).Round(time.Millisecond))
	if !strings.Contains(body, fmt.Sprintf("of %d", runs)) {
		t.Fatalf("runs page does not count %d runs", runs)
	}

	pages := []struct{ name, path string }{
		{"runs page 1", "/runs"},
		{"runs filtered (status=failed, label)", "/runs?status=failed&label=triggers.tekton.dev%2Ftrigger%3Dpull-request"},
		{"runs page 80", "/runs?page=80"},
		{"reference: /healthz", "/healthz"},
	}
	const n = 200
	for _, p := range pages {
		p50, p95 := ttfb(t, base+p.path, n)
		t.Logf("%-40s TTFB p50 %6.2f ms  p95 %6.2f ms  (%d requests)", p.name, ms(p50), ms(p95), n)
		if p.path == "/runs" && p50 > 100*time.Millisecond {
			t.Errorf("runs page TTFB p50 %s > 100ms", p50)
		}
	}
	var lists []time.Duration
	for range 10 {
		s := time.Now()
		var l pipelinev1.PipelineRunList
		if err := env.Client.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		lists = append(lists, time.Since(s))
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i] < lists[j] })
	t.Logf("%-40s p50 %6.2f ms  (10 LISTs)", "reference: API LIST of the 5,000 runs", ms(lists[len(lists)/2]))

	rss := rssOf(t, cmd.Process.Pid)
	t.Logf("last GC of the dashboard: %s", gclog.last("gc "))
	t.Logf("dashboard RSS after %d page views: %.1f MB (target ≤ 100 MB)", n*len(pages), float64(rss)/(1<<20))
	if rss > 100<<20 {
		t.Errorf("dashboard RSS %d MB > 100 MB", rss>>20)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// get GETs url until it answers 200 (the dashboard answers 503 until its informers have synced).
func get(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ttfb measures the time from sending a request (connection reused) to its first response byte.
func ttfb(t *testing.T, url string, n int) (p50, p95 time.Duration) {
	t.Helper()
	var ds []time.Duration
	for range n {
		var sent, first time.Time
		trace := &httptrace.ClientTrace{
			WroteRequest:         func(httptrace.WroteRequestInfo) { sent = time.Now() },
			GotFirstResponseByte: func() { first = time.Now() },
		}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		ds = append(ds, first.Sub(sent))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*95/100]
}

func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// createRuns creates n PipelineRuns shaped like a trigger's (labels, params, an embedded three-task
// Pipeline) with a finished or running status, 16 at a time.
func createRuns(t *testing.T, ns string, n int) {
	t.Helper()
	states := []struct {
		status corev1.ConditionStatus
		reason string
	}{{corev1.ConditionTrue, "Succeeded"}, {corev1.ConditionFalse, "Failed"}, {corev1.ConditionUnknown, "Running"}, {corev1.ConditionTrue, "Completed"}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pr := benchRun(ns, i)
				if err := env.Client.Create(context.Background(), pr); err != nil {
					errs <- err
					return
				}
				st := states[i%len(states)]
				start := metav1.NewTime(time.Now().Add(-time.Duration(i) * time.Second))
				pr.Status.StartTime = &start
				if st.status != corev1.ConditionUnknown {
					end := metav1.NewTime(start.Add(time.Duration(30+i%90) * time.Second))
					pr.Status.CompletionTime = &end
				}
				pr.Status.Conditions = []pipelinev1.Condition{{Type: pipelinev1.ConditionSucceeded, Status: st.status, Reason: st.reason,
					Message: "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0", LastTransitionTime: start}}
				pr.Status.ChildReferences = []pipelinev1.ChildStatusReference{
					{APIVersion: "tekton.dev/v1", Kind: "TaskRun", Name: pr.Name + "-clone", PipelineTaskName: "clone"},
					{APIVersion: "tekton.dev/v1", Kind: "TaskRun", Name: pr.Name + "-test", PipelineTaskName: "test"},
				}
				if err := env.Client.Status().Update(context.Background(), pr); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case err := <-errs:
			close(work)
			wg.Wait()
			t.Fatal(err)
		case work <- i:
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

func benchRun(ns string, i int) *pipelinev1.PipelineRun {
	sha := fmt.Sprintf("%040x", i*7919)
	task := func(name string, after ...string) pipelinev1.PipelineTask {
		return pipelinev1.PipelineTask{Name: name, RunAfter: after, TaskSpec: &pipelinev1.EmbeddedTask{TaskSpec: pipelinev1.TaskSpec{
			Steps: []pipelinev1.Step{{Name: "run", Image: "alpine", Script: "echo $(params.revision)\nmake " + name}}}}}
	}
	return &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ci-%05d", i), Labels: map[string]string{
			"triggers.tekton.dev/eventlistener":    "github-listener",
			"triggers.tekton.dev/trigger":          []string{"push", "pull-request"}[i%2],
			"triggers.tekton.dev/triggers-eventid": fmt.Sprintf("ev%010d", i),
		}},
		Spec: pipelinev1.PipelineRunSpec{
			Params: pipelinev1.Params{
				{Name: "repo-url", Value: *pipelinev1.NewStringValue("https://github.com/example/app.git")},
				{Name: "revision", Value: *pipelinev1.NewStringValue(sha)},
				{Name: "branch", Value: *pipelinev1.NewStringValue("refs/heads/main")},
			},
			PipelineSpec: &pipelinev1.PipelineSpec{
				Params: []pipelinev1.ParamSpec{{Name: "repo-url"}, {Name: "revision"}, {Name: "branch"}},
				Tasks:  []pipelinev1.PipelineTask{task("clone"), task("test", "clone"), task("build", "test")},
			},
		},
	}
}

// lastLines keeps the last lines written to it.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.Split(strings.TrimSpace(string(p)), "\n")...)
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-200:]
	}
	return len(p), nil
}

func (l *lastLines) last(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(l.lines[i], prefix) {
			return l.lines[i]
		}
	}
	return ""
}

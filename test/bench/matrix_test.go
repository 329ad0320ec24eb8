package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/test/controlplane"
)

// taskRunWatch records when each TaskRun of a namespace first appears (an uncounted client).
type taskRunWatch struct {
	mu   sync.Mutex
	seen map[string]time.Time
	ch   chan struct{}
}

func watchTaskRuns(ctx context.Context, t *testing.T, c client.WithWatch, ns string) *taskRunWatch {
	t.Helper()
	w, err := c.Watch(ctx, &pipelinev1.TaskRunList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	tw := &taskRunWatch{seen: map[string]time.Time{}, ch: make(chan struct{}, 1)}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			tr, ok := ev.Object.(*pipelinev1.TaskRun)
			if ev.Type != watch.Added || !ok {
				continue
			}
			tw.mu.Lock()
			if _, dup := tw.seen[tr.Name]; !dup {
				tw.seen[tr.Name] = time.Now()
			}
			tw.mu.Unlock()
			select {
			case tw.ch <- struct{}{}:
			default:
			}
		}
	}()
	return tw
}

// waitCount waits until n TaskRuns with names in want were seen and returns when the last one was.
func (tw *taskRunWatch) waitCount(want []string, deadline time.Duration) (time.Time, int) {
	stop := time.After(deadline)
	for {
		tw.mu.Lock()
		var last time.Time
		got := 0
		for _, n := range want {
			if at, ok := tw.seen[n]; ok {
				got++
				if at.After(last) {
					last = at
				}
			}
		}
		tw.mu.Unlock()
		if got == len(want) {
			return last, got
		}
		select {
		case <-tw.ch:
		case <-time.After(100 * time.Millisecond):
		case <-stop:
			return last, got
		}
	}
}

// TestMatrixLoad measures a 256-combination matrix PipelineRun against a real API server: PipelineRun
// created → all 256 TaskRuns created, the process's RSS, and the executor's API requests per TaskRun
// compared with plain one-task PipelineRuns. Run with `make bench-matrix`.
func TestMatrixLoad(t *testing.T) {
	if os.Getenv("HOOKRUN_BENCH") == "" {
		t.Skip("matrix benchmark: set HOOKRUN_BENCH=1 (make bench-matrix) to run it")
	}
	env, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := env.Client
	ns := "bench-matrix"
	task := pipelinev1.TaskSpec{
		Params:  pipelinev1.ParamSpecs{{Name: "a", Default: pipelinev1.NewStringValue("-")}, {Name: "b", Default: pipelinev1.NewStringValue("-")}},
		Results: []pipelinev1.TaskResult{{Name: "out"}},
		Steps:   []pipelinev1.Step{{Name: "echo", Image: "busybox", Script: "printf '%s' '$(params.a)$(params.b)' > $(results.out.path)"}},
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&pipelinev1.Task{ObjectMeta: metav1.ObjectMeta{Name: "noop", Namespace: ns}, Spec: task},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	tw := watchTaskRuns(ctx, t, wc, ns)

	rssBefore := executorRSS()
	counter := &executorCounter{byVerb: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 200, 400 // the `hookrun executor` defaults
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return executorCountingTransport{next: rt, c: counter} }
	opts := executor.Options{Namespace: ns, Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: env.Scheme, Cache: executor.CacheOptions(opts), Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache sync")
	}
	// settle waits until every TaskRun has its Pod (the TaskRun reconciler's part of the cost), then a
	// little longer for the status writes that follow.
	settle := func(pods int) {
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			var list corev1.PodList
			if err := wc.List(ctx, &list, client.InNamespace(ns)); err == nil && len(list.Items) >= pods {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
	}

	// Baseline: plain one-task PipelineRuns, one TaskRun (and Pod) each.
	const plain = 32
	req0, _ := counter.snapshot()
	var plainNames []string
	for i := 0; i < plain; i++ {
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("plain-%d", i), Namespace: ns}, Spec: pipelinev1.PipelineRunSpec{
			PipelineSpec: &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{{Name: "t", TaskRef: &pipelinev1.TaskRef{Name: "noop"}}}},
		}}
		if err := c.Create(ctx, pr); err != nil {
			t.Fatal(err)
		}
		plainNames = append(plainNames, pr.Name+"-t")
	}
	if _, got := tw.waitCount(plainNames, 2*time.Minute); got != plain {
		t.Fatalf("plain runs: %d of %d TaskRuns created", got, plain)
	}
	settle(plain)
	req1, plainVerbs := counter.snapshot()

	// The matrix: 16 × 16 = 256 combinations (Tekton's default maximum).
	values := func(prefix string) []string {
		out := make([]string, 16)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "mx", Namespace: ns}, Spec: pipelinev1.PipelineRunSpec{
		PipelineSpec: &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{{
			Name: "t", TaskRef: &pipelinev1.TaskRef{Name: "noop"},
			Matrix: &pipelinev1.Matrix{Params: pipelinev1.Params{
				{Name: "a", Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: values("a")}},
				{Name: "b", Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: values("b")}},
			}},
		}}},
	}}
	var mxNames []string
	for i := 0; i < 256; i++ {
		mxNames = append(mxNames, fmt.Sprintf("mx-t-%d", i))
	}
	start := time.Now()
	if err := c.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	last, got := tw.waitCount(mxNames, 2*time.Minute)
	allCreated := last.Sub(start)
	settle(plain + 256)
	req2, allVerbs := counter.snapshot()
	runtime.GC()
	rss := executorRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	var done pipelinev1.PipelineRun
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mx"}, &done); err != nil {
		t.Fatal(err)
	}
	mxVerbs := map[string]int{}
	for k, v := range allVerbs {
		if d := v - plainVerbs[k]; d != 0 {
			mxVerbs[k] = d
		}
	}
	host, _ := os.Hostname()
	t.Logf("matrix load on %s (GOMAXPROCS %d, NumCPU %d), executor in-process against kube-apiserver; no node agent (Pods stay Pending)", host, runtime.GOMAXPROCS(0), runtime.NumCPU())
	t.Logf("  256-combination matrix: PipelineRun created → all %d TaskRuns created in %s (target ≤ 5s); childReferences %d",
		got, allCreated.Round(time.Millisecond), len(done.Status.ChildReferences))
	t.Logf("  memory: process VmRSS %.1f MiB (before the executor started: %.1f MiB; the process also holds the bench's own clients); Go heap in use %.1f MiB (target RSS ≤ 150MB)",
		rss, rssBefore, float64(ms.HeapInuse)/(1<<20))
	t.Logf("  API requests per TaskRun (TaskRun, Pod, statuses included): plain runs %.2f (%d runs: %v); matrix %.2f (%v)",
		float64(req1-req0)/plain, plain, plainVerbs, float64(req2-req1)/256, mxVerbs)
	if got != 256 {
		t.Errorf("%d of 256 TaskRuns created", got)
	}
	if len(done.Status.ChildReferences) != 256 {
		t.Errorf("childReferences = %d, want 256", len(done.Status.ChildReferences))
	}
	cancel()
	<-mgrDone
}

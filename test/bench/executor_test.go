package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/test/controlplane"
)

// executorCounter counts the executor's API requests by verb.
type executorCounter struct {
	mu     sync.Mutex
	byVerb map[string]int
	total  atomic.Int64
}

func (c *executorCounter) add(verb string) {
	c.total.Add(1)
	c.mu.Lock()
	c.byVerb[verb]++
	c.mu.Unlock()
}

func (c *executorCounter) snapshot() (int64, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int{}
	for k, v := range c.byVerb {
		m[k] = v
	}
	return c.total.Load(), m
}

type executorCountingTransport struct {
	next http.RoundTripper
	c    *executorCounter
}

func (t executorCountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb := req.Method
	if req.Method == http.MethodGet && req.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	t.c.add(verb)
	return t.next.RoundTrip(req)
}

func executorPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// executorRSS reads VmRSS of this process in MiB.
func executorRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if kb, err := strconv.Atoi(f[1]); err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return -1
}

// TestExecutorLoad measures the executor against a real API server: 1,000 PipelineRuns of two tasks
// (the second runAfter the first), PipelineRun created → first Pod created. Run with `make bench-executor`.
func TestExecutorLoad(t *testing.T) {
	if os.Getenv("HOOKRUN_BENCH") == "" {
		t.Skip("executor load benchmark: set HOOKRUN_BENCH=1 (make bench-executor) to run it")
	}
	runs := 1000
	if n, err := strconv.Atoi(os.Getenv("HOOKRUN_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	env, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := env.Client
	ns := "bench-executor"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&pipelinev1.Task{ObjectMeta: metav1.ObjectMeta{Name: "noop", Namespace: ns}, Spec: pipelinev1.TaskSpec{
			Params:  pipelinev1.ParamSpecs{{Name: "msg", Default: pipelinev1.NewStringValue("hi")}},
			Results: []pipelinev1.TaskResult{{Name: "out"}},
			Steps:   []pipelinev1.Step{{Name: "echo", Image: "busybox", Script: "printf '%s' '$(params.msg)' > $(results.out.path)"}},
		}},
		&pipelinev1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "two", Namespace: ns}, Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "msg", Default: pipelinev1.NewStringValue("x")}},
			Tasks: []pipelinev1.PipelineTask{
				{Name: "first", TaskRef: &pipelinev1.TaskRef{Name: "noop"}, Params: pipelinev1.Params{{Name: "msg", Value: *pipelinev1.NewStringValue("$(params.msg)")}}},
				{Name: "second", TaskRef: &pipelinev1.TaskRef{Name: "noop"}, RunAfter: []string{"first"}},
			},
		}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	// Watch Pods with a separate, uncounted client: the first Pod of run N is "N-first-pod".
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var seenMu sync.Mutex
	seen := map[string]time.Time{}
	podCh := make(chan string, runs*2)
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			seenMu.Lock()
			if _, dup := seen[pod.Name]; !dup {
				seen[pod.Name] = now
			}
			seenMu.Unlock()
			podCh <- pod.Name
		}
	}()

	rssBefore := executorRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse

	counter := &executorCounter{byVerb: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 200, 400 // the `hookrun executor` defaults
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return executorCountingTransport{next: rt, c: counter} }
	opts := executor.Options{
		Namespace: ns, Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: env.Scheme, Cache: executor.CacheOptions(opts), Metrics: metricsserver.Options{BindAddress: "0"},
	})
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

	newRun := func(name string) *pipelinev1.PipelineRun {
		return &pipelinev1.PipelineRun{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: pipelinev1.PipelineRunSpec{
				PipelineRef: &pipelinev1.PipelineRef{Name: "two"},
				Params:      pipelinev1.Params{{Name: "msg", Value: *pipelinev1.NewStringValue("payload $(params.msg)")}},
			},
		}
	}
	waitFirstPod := func(run string, deadline time.Duration) (time.Time, bool) {
		stop := time.After(deadline)
		for {
			seenMu.Lock()
			at, ok := seen[run+"-first-pod"]
			seenMu.Unlock()
			if ok {
				return at, true
			}
			select {
			case <-podCh:
			case <-stop:
				return time.Time{}, false
			}
		}
	}

	// Phase 1, low load: one run at a time.
	const lowLoad = 20
	var low []time.Duration
	for i := 0; i < lowLoad; i++ {
		name := fmt.Sprintf("warm-%d", i)
		start := time.Now()
		if err := c.Create(ctx, newRun(name)); err != nil {
			t.Fatal(err)
		}
		at, ok := waitFirstPod(name, 10*time.Second)
		if !ok {
			t.Fatalf("low load: no first Pod for %s", name)
		}
		low = append(low, at.Sub(start))
	}
	reqLowTotal, _ := counter.snapshot()

	// Phase 2: a burst of runs, created by 20 clients at once.
	created := make([]time.Time, runs)
	burstStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var createErr atomic.Value
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= runs {
					return
				}
				created[i] = time.Now()
				if err := c.Create(ctx, newRun(fmt.Sprintf("run-%d", i))); err != nil {
					createErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := createErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	createdAll := time.Since(burstStart)
	var lat []time.Duration
	var last time.Time
	missing := 0
	for i := 0; i < runs; i++ {
		at, ok := waitFirstPod(fmt.Sprintf("run-%d", i), time.Until(burstStart.Add(5*time.Minute)))
		if !ok {
			missing++
			continue
		}
		lat = append(lat, at.Sub(created[i]))
		if at.After(last) {
			last = at
		}
	}
	allFirstPods := last.Sub(burstStart)
	// Let status writes triggered by the last Pods settle before counting.
	time.Sleep(2 * time.Second)
	reqTotal, byVerb := counter.snapshot()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	rss := executorRSS()
	heap := ms.HeapInuse

	t.Logf("executor load: %d PipelineRuns (2 tasks, second runAfter first), executor in-process against kube-apiserver", runs)
	t.Logf("  low load (%d runs one at a time): created→first Pod p50 %s p99 %s", lowLoad, executorPercentile(low, 0.5).Round(time.Millisecond), executorPercentile(low, 0.99).Round(time.Millisecond))
	t.Logf("  burst: %d created in %s; created→first Pod p50 %s p99 %s; all first Pods after %s; %d missing",
		runs, createdAll.Round(time.Millisecond), executorPercentile(lat, 0.5).Round(time.Millisecond),
		executorPercentile(lat, 0.99).Round(time.Millisecond), allFirstPods.Round(time.Millisecond), missing)
	t.Logf("  memory: process VmRSS %.1f MiB (before the executor started: %.1f MiB; the process also holds the bench's own clients); Go heap in use %.1f MiB (before: %.1f MiB)",
		rss, rssBefore, float64(heap)/(1<<20), float64(heapBefore)/(1<<20))
	burstReq := reqTotal - reqLowTotal
	t.Logf("  API requests by the executor: %d total (%v); per run: %.2f during the burst, %.2f overall",
		reqTotal, byVerb, float64(burstReq)/float64(runs), float64(reqTotal)/float64(runs+lowLoad))
	t.Logf("  targets: p50 ≤50ms at low load, all first Pods ≤60s, RSS ≤150MB")
	if missing > 0 {
		t.Errorf("%d runs got no first Pod", missing)
	}
	cancel()
	<-mgrDone
}

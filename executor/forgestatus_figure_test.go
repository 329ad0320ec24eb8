package executor_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
)

// countingTransport counts the API server requests the reporter makes, by verb.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// TestForgeStatusFigure (HOOKRUN_BENCH=1): 1,000 runs opted in to GitHub statuses start, then finish
// within 10 s; every status must reach the fake forge, at most 2 forge requests per run, none duplicated.
// The runs' status is written by the test (playing the executor, which is not started) so the figure is
// the reporter's: from run end to status on the commit, and the requests it costs.
func TestForgeStatusFigure(t *testing.T) {
	if os.Getenv("HOOKRUN_BENCH") != "1" {
		t.Skip("set HOOKRUN_BENCH=1 for the 1,000-run forge status figure")
	}
	const runs = 1000
	const finishWithin = 10 * time.Second
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	ns := newNamespace(t)
	tokenSecret(t, ns, forgeToken)
	ctx := context.Background()

	// The reporter alone, with the executor's default API rate limits (--kube-api-qps 200, burst 400).
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 200, 400
	counter := &countingTransport{n: map[string]int{}}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	opts := executor.Options{Namespace: ns, SkipNameValidation: true, ForgeStatus: executor.ForgeStatusOptions{Workers: workers()},
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: env.Scheme, Cache: executor.CacheOptions(opts),
		Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.SetupForgeStatus(mgr, opts); err != nil {
		t.Fatal(err)
	}

	name := func(i int) string { return fmt.Sprintf("run-%04d", i) }
	sha := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	parallelN := func(workers, runs int, f func(i int) error) {
		var wg sync.WaitGroup
		var failed atomic.Value
		next := atomic.Int64{}
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < runs; i = int(next.Add(1) - 1) {
					if err := f(i); err != nil {
						failed.Store(err)
					}
				}
			}()
		}
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			t.Fatal(err)
		}
	}
	parallel := func(f func(i int) error) { parallelN(16, runs, f) }
	parallel(func(i int) error {
		return env.Client.Create(ctx, &pipelinev1.PipelineRun{
			ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns, Annotations: map[string]string{
				forge.AnnotationStatus: forge.GitHub, forge.AnnotationSecret: "forge-token", forge.AnnotationRepo: "octo/hello",
				forge.AnnotationSHA: sha(i), forge.AnnotationAPI: srv.GitHubAPI()}},
			Spec: pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: "build"}},
		})
	})
	// Baseline: what this API server takes for the reporter's kind of write alone (an annotation merge patch
	// of a PipelineRun, 8 at a time, at the executor's rate limits), before the reporter starts.
	raw, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	baseStart := time.Now()
	parallelN(8, runs, func(i int) error {
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns}}
		return raw.Patch(ctx, pr, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"bench/baseline":"1"}}}`)))
	})
	baseline := time.Since(baseStart)
	counter.mu.Lock()
	clear(counter.n)
	counter.mu.Unlock()
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() { cancel(); <-done }()
	setStatus := func(i int, status corev1.ConditionStatus, reason string) error {
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns}}
		now := metav1.Now()
		pr.Status.Conditions = []pipelinev1.Condition{{Type: pipelinev1.ConditionSucceeded, Status: status, Reason: reason, LastTransitionTime: now}}
		pr.Status.StartTime = &metav1.Time{Time: now.Add(-time.Minute)}
		if status != corev1.ConditionUnknown {
			pr.Status.CompletionTime = &now
		}
		// A merge patch without resourceVersion, as the status writes do not race with the reporter's
		// annotation patches.
		return env.Client.Status().Patch(ctx, pr, client.Merge)
	}
	start := time.Now()
	parallel(func(i int) error { return setStatus(i, corev1.ConditionUnknown, executor.ReasonRunning) })
	count := func(state string) int {
		n := 0
		for _, st := range srv.AllStatuses() {
			for _, s := range st {
				if s.State == state {
					n++
				}
			}
		}
		return n
	}
	eventually(t, 60*time.Second, "1,000 pending statuses", func() (bool, error) {
		return count("pending") == runs, fmt.Errorf("%d pending", count("pending"))
	})
	pendingAll := time.Since(start)

	// Finish them within 10 s, evenly; every tenth fails.
	ended := make([]time.Time, runs)
	finishStart := time.Now()
	var wg sync.WaitGroup
	var finishErr atomic.Value
	for i := 0; i < runs; i++ {
		at := finishStart.Add(time.Duration(i) * finishWithin / runs)
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, reason := corev1.ConditionTrue, executor.ReasonSucceeded
			if i%10 == 9 {
				status, reason = corev1.ConditionFalse, executor.ReasonFailed
			}
			if err := setStatus(i, status, reason); err != nil {
				finishErr.Store(err)
			}
			ended[i] = time.Now()
		}(i)
	}
	wg.Wait()
	if err, ok := finishErr.Load().(error); ok {
		t.Fatal(err)
	}
	finishedIn := time.Since(finishStart)
	eventually(t, 120*time.Second, "every final status", func() (bool, error) {
		n := count("success") + count("failure")
		return n >= runs, fmt.Errorf("%d final statuses", n)
	})
	lastDelivered := time.Now()
	time.Sleep(2 * time.Second) // anything late or duplicated shows up now

	all := srv.AllStatuses()
	var lags []time.Duration
	dups, missing := 0, 0
	for i := 0; i < runs; i++ {
		st := all["github/octo/hello/"+sha(i)]
		want := "pending,success"
		if i%10 == 9 {
			want = "pending,failure"
		}
		if got := states(st); got != want {
			if len(st) > 2 {
				dups++
			} else {
				missing++
			}
			t.Errorf("%s: statuses %s, want %s", name(i), got, want)
			continue
		}
		lags = append(lags, st[1].At.Sub(ended[i]))
	}
	reqs := srv.Requests()
	perRun := map[string]int{}
	for _, r := range reqs {
		perRun[r.SHA]++
	}
	maxPerRun := 0
	for _, n := range perRun {
		maxPerRun = max(maxPerRun, n)
	}
	slices.Sort(lags)
	pct := func(p float64) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(len(lags)-1, int(p*float64(len(lags))))].Round(time.Millisecond)
	}
	counter.mu.Lock()
	api := fmt.Sprintf("GET %d (Secrets, fresh reads, list/watch), PATCH %d, POST %d", counter.n["GET"], counter.n["PATCH"], counter.n["POST"])
	counter.mu.Unlock()
	load, _ := os.ReadFile("/proc/loadavg")
	fig := fmt.Sprintf(`forge status figure: %d runs (GitHub statuses, fake forge on 127.0.0.1), reporter alone, %d workers, %d CPUs, load average %s
  pending statuses for all runs:      %s after their Running status was written
  runs finished over:                 %s
  final statuses delivered:           %d/%d, last %s after the last run ended
  run end → final status on commit:   p50 %s, p95 %s, max %s
  forge requests:                     %d total, %.2f per run, max %d per run; duplicates %d, missing %d
  reporter's API requests:            %s
  baseline, same API server:          %d PipelineRun annotation patches alone (8 at a time) took %s (%.0f/s)
`, runs, max(workers(), 16), runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "), pendingAll.Round(time.Millisecond), finishedIn.Round(time.Millisecond), len(lags), runs,
		lastDelivered.Sub(slices.MaxFunc(ended, func(a, b time.Time) int { return a.Compare(b) })).Round(time.Millisecond),
		pct(0.5), pct(0.95), pct(1), len(reqs), float64(len(reqs))/runs, maxPerRun, dups, missing, api,
		runs, baseline.Round(time.Millisecond), runs/baseline.Seconds())
	fmt.Print(fig)
	t.Log(fig)
	if maxPerRun > 2 {
		t.Errorf("a run cost %d forge requests, want ≤ 2", maxPerRun)
	}
}

func workers() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("HOOKRUN_FORGE_WORKERS"), &n); err == nil {
		return n
	}
	return 0
}

// Package bench holds the end-to-end load measurements (`make bench-listener`, `make bench-executor`):
// real binaries against a real API server, printing figures rather than asserting timings.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

func benchEnabled(t *testing.T) {
	if os.Getenv("HOOKRUN_BENCH") == "" {
		t.Skip("load benchmark: set HOOKRUN_BENCH=1 (make bench-listener / make bench-executor) to run it")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// buildHookrun builds the hookrun binary into dir.
func buildHookrun(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hookrun")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hookrun")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hookrun: %v\n%s", err, out)
	}
	return bin
}

func rssKiB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return -1
}

const loadConfig = `
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {secret: load-test-secret}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: push}
spec:
  params:
  - {name: revision, value: $(body.after)}
  - {name: url, value: $(body.repository.clone_url)}
  - {name: ref, value: $(body.ref)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: run}
spec:
  params: [{name: revision}, {name: url}, {name: ref}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: build-}
    spec:
      pipelineRef: {name: build}
      params:
      - {name: revision, value: $(tt.params.revision)}
      - {name: url, value: $(tt.params.url)}
      - {name: ref, value: $(tt.params.ref)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: load}
spec:
  triggers:
  - name: push
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: gh, secretKey: secret}}
      - {name: eventTypes, value: [push]}
    - ref: {name: cel}
      params: [{name: filter, value: "body.ref.startsWith('refs/')"}]
    bindings: [{ref: push}]
    template: {ref: run}
---
# The same trigger, its resources created as a ServiceAccount (the listener impersonates it).
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: run-creator}
rules:
- {apiGroups: [tekton.dev], resources: [pipelineruns], verbs: [create, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: run-creator}
subjects: [{kind: ServiceAccount, name: builder, namespace: load}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: load-sa}
spec:
  serviceAccountName: builder
  triggers:
  - name: push
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: gh, secretKey: secret}}
      - {name: eventTypes, value: [push]}
    - ref: {name: cel}
      params: [{name: filter, value: "body.ref.startsWith('refs/')"}]
    bindings: [{ref: push}]
    template: {ref: run}
`

type result struct {
	n              int
	elapsed        time.Duration
	p50, p99       time.Duration
	failed         int
	ratePerSec     float64
	createdMatches bool
	lat            []time.Duration
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p * float64(len(d)-1))
	return d[i]
}

// run fires n jobs at the given concurrency (or paced at rate/s when rate > 0) and measures each.
func run(n, concurrency int, rate float64, job func(i int) error) result {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	if rate > 0 {
		concurrency = n
	}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
				}
				t0 := time.Now()
				if err := job(i); err != nil {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return result{n: n, elapsed: el, p50: percentile(lat, .5), p99: percentile(lat, .99), failed: int(failed.Load()), ratePerSec: float64(n) / el.Seconds(), lat: lat}
}

// TestListenerLoad measures the listener binary end to end: signed octokit push events with unique
// delivery ids over HTTP, each answered only after its PipelineRun exists in a real API server. The
// reference is the raw client-go create rate of the same PipelineRun against the same API server.
func TestListenerLoad(t *testing.T) {
	benchEnabled(t)
	n := envInt("HOOKRUN_BENCH_N", 400)
	env, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx := context.Background()
	tmp := t.TempDir()
	bin := buildHookrun(t, env.Root, tmp)
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	ns := "load"
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if err := env.Client.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	env.Apply(t, ns, loadConfig)
	// The listener's client-side API rate limit is set to the reference client's (env.Config: QPS 500,
	// burst 1000), so that the ratio compares the listener with client-go, not two rate limits.
	limits := []string{"--kube-api-qps", fmt.Sprint(env.Config.QPS), "--kube-api-burst", fmt.Sprint(env.Config.Burst)}
	// CPU and allocation profiles of the listener under the whole load (go tool pprof).
	profileDir := os.Getenv("HOOKRUN_BENCH_PROFILE")
	addr, cmd := startListener(t, bin, profileDir, append([]string{"--kubeconfig", kubeconfig, "--namespace", ns}, limits...)...)
	defer stopListener(t, cmd, profileDir)
	url := "http://" + addr + "/hooks"
	// A second listener with the per-delivery Events off: the cost of delivery history.
	quietAddr, quiet := startListener(t, bin, "", append([]string{"--kubeconfig", kubeconfig, "--namespace", ns, "--delivery-events=false"}, limits...)...)
	defer stopListener(t, quiet, "")
	payload, err := os.ReadFile(filepath.Join(env.Root, "..", "shared", "corpus", "github", "push", "with-new-branch.payload.json"))
	if err != nil {
		t.Logf("octokit payload absent (%v): using a small synthetic push", err)
		payload = []byte(`{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"clone_url":"https://example.com/r.git"}}`)
	}
	sendTo := sender(ctx, payload)
	send, sendSA, sendQuiet := sendTo(url), sendTo(url+"/load-sa"), sendTo("http://"+quietAddr+"/hooks")
	// Warm up the connection pools and caches.
	run(20, 4, 0, send)
	run(20, 4, 0, sendSA)
	run(20, 4, 0, sendQuiet)

	// Reference: the same PipelineRun created straight through client-go.
	create := referenceCreate(ctx, t, env, ns)
	count := func() int {
		var l pipelinev1.PipelineRunList
		if err := env.Client.List(ctx, &l, client.InNamespace(ns), client.MatchingLabels{"triggers.tekton.dev/trigger": "push"}); err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	fmt.Printf("\nlistener load: %d signed push events (%d-byte octokit payload) per row, against as many client-go creates, in 4 alternating rounds; client-side limits QPS %v, burst %d for both; machine: %d CPUs, shared\n",
		n, len(payload), env.Config.QPS, env.Config.Burst, numCPU())
	fmt.Printf("%-6s %12s %10s %10s %8s %14s %8s %12s\n", "conc", "events/s", "p50", "p99", "fail", "client-go/s", "ratio", "listenerRSS")
	var impersonation, history []string
	for _, c := range []int{1, 8, 32} {
		r, ref, created, refCreated := paired(c, n, count, send, create)
		fmt.Printf("%-6d %12.0f %10s %10s %8d %14.0f %7.0f%% %9d KiB   created %d/%d (reference created %d)\n",
			c, r.ratePerSec, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.failed, ref.ratePerSec,
			100*r.ratePerSec/ref.ratePerSec, rssKiB(cmd.Process.Pid), created, n, refCreated)
		if created != n-r.failed {
			t.Errorf("concurrency %d: %d PipelineRuns for %d accepted events", c, created, n-r.failed)
		}
		// The same events to an EventListener whose trigger creates as a ServiceAccount (impersonated),
		// and to a listener with delivery Events off, in alternating rounds with the plain case so drift
		// on a shared machine hits all alike.
		impersonation = append(impersonation, alternate(t, c, n, count, send, sendSA))
		history = append(history, alternate(t, c, n, count, sendQuiet, send))
	}
	perDelivery(ctx, t, env, cmd.Process.Pid, send)
	printRows("impersonation (trigger resources created as a ServiceAccount) against the listener's own identity", "own/s", "as-SA/s", impersonation)
	printRows("delivery history (one Event per delivery) against none", "off/s", "on/s", history)
	paced := run(envInt("HOOKRUN_BENCH_PACED_N", 500), 0, 100, send)
	fmt.Printf("paced 100 events/s: %d events, p50 %s, p99 %s, failed %d, listener RSS %d KiB\n",
		paced.n, paced.p50.Round(10*time.Microsecond), paced.p99.Round(10*time.Microsecond), paced.failed, rssKiB(cmd.Process.Pid))
}

// perDelivery prints what one delivery costs: the listener's CPU time (process pid) and what it asks
// of the API server, counted by the API server (every client of it included: the listeners' watches,
// the test's counting List), over deliveries sent at concurrency 8.
func perDelivery(ctx context.Context, t *testing.T, env *controlplane.Env, pid int, send func(int) error) {
	t.Helper()
	before, cpuBefore := apiRequests(ctx, t, env.Config), cpuTime(pid)
	perN := envInt("HOOKRUN_BENCH_API_N", 200)
	run(perN, 8, 0, send)
	cpu := cpuTime(pid) - cpuBefore
	fmt.Printf("\nper delivery (%d deliveries at concurrency 8): listener CPU %.2f ms; API requests, counted by the API server: %s\n",
		perN, float64(cpu.Microseconds())/1000/float64(perN), perEvent(before, apiRequests(ctx, t, env.Config), perN))
}

// startListener starts `hookrun listener` for the EventListener "load" on a free port with args, and
// waits until it is ready. With profileDir, it writes its profiles there (stop it with stopListener).
func startListener(t *testing.T, bin, profileDir string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	addr := controlplane.FreeAddr(t)
	cmd := exec.Command(bin, append([]string{"listener", "--eventlistener", "load", "--addr", addr, "--watch-namespace", "load",
		"--max-in-flight", "64"}, args...)...)
	cmd.Stderr = io.Discard
	if profileDir != "" {
		cmd.Env = append(os.Environ(), "HOOKRUN_PROFILE_DIR="+profileDir)
		if f, err := os.Create(filepath.Join(profileDir, "listener-"+strings.ReplaceAll(addr, ":", "-")+".log")); err == nil {
			cmd.Stderr = f // its log too: each delivery's duration inside the listener
			t.Cleanup(func() { f.Close() })
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	controlplane.WaitHTTP(t, "http://"+addr+"/readyz", 30*time.Second)
	return addr, cmd
}

// sender returns, for a listener URL, a job that posts one signed push to it: each event a distinct
// push (its own bytes and delivery id), as from a busy forge, answered 202.
func sender(ctx context.Context, payload []byte) func(url string) func(int) error {
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	post := func(o listener.Outgoing, url string) error {
		req, err := o.Request(ctx, url)
		if err != nil {
			return err
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	return func(url string) func(int) error {
		return func(int) error {
			n := seq.Add(1)
			body := append([]byte(fmt.Sprintf(`{"hookrun_load_seq":%d,`, n)), payload[bytes.IndexByte(payload, '{')+1:]...)
			o := listener.Outgoing{Provider: "github", Event: "push", Secret: "load-test-secret", Body: body,
				ID: fmt.Sprintf("load-%d", n)}
			return post(o, url)
		}
	}
}

// referenceCreate returns a job that creates, straight through client-go, the PipelineRun the listener
// creates for an event.
func referenceCreate(ctx context.Context, t *testing.T, env *controlplane.Env, ns string) func(int) error {
	t.Helper()
	refClient, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return func(int) error {
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{GenerateName: "ref-", Namespace: ns,
			Labels: map[string]string{"triggers.tekton.dev/eventlistener": "load", "triggers.tekton.dev/trigger": "push", "triggers.tekton.dev/triggers-eventid": "x"}},
			Spec: pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: "build"}, Params: pipelinev1.Params{
				{Name: "revision", Value: *pipelinev1.NewStringValue("6113728f27ae82c7b1a177c8d03f9e96e0adf246")},
				{Name: "url", Value: *pipelinev1.NewStringValue("https://github.com/Codertocat/Hello-World.git")},
				{Name: "ref", Value: *pipelinev1.NewStringValue("refs/heads/master")}}}}
		return refClient.Create(ctx, pr, client.FieldValidation(metav1.FieldValidationStrict)) // as the listener creates
	}
}

// printRows prints the rows of alternate under a title.
func printRows(title, base, variant string, rows []string) {
	fmt.Printf("\n%s:\n", title)
	fmt.Printf("%-6s %12s %12s %8s %8s\n", "conc", base, variant, "ratio", "fail")
	for _, l := range rows {
		fmt.Println(l)
	}
}

// paired measures the listener (send) against client-go (create) at concurrency c: n of each in
// alternating rounds, so that drift on a shared machine weighs on both alike (one after the other, the
// same code measured 58 % to 103 % of client-go across rows). It returns both results and the
// PipelineRuns each made.
func paired(c, n int, count func() int, send, create func(int) error) (lis, ref result, created, refCreated int) {
	const rounds = 4
	var lat []time.Duration
	for i := 0; i < rounds; i++ {
		m := n / rounds
		if i == rounds-1 {
			m = n - (rounds-1)*(n/rounds)
		}
		before := count()
		l := run(m, c, 0, send)
		mid := count()
		f := run(m, c, 0, create)
		created, refCreated = created+mid-before, refCreated+count()-mid
		lis.n, lis.elapsed, lis.failed = lis.n+l.n, lis.elapsed+l.elapsed, lis.failed+l.failed
		ref.n, ref.elapsed, ref.failed = ref.n+f.n, ref.elapsed+f.elapsed, ref.failed+f.failed
		lat = append(lat, l.lat...)
	}
	lis.p50, lis.p99 = percentile(lat, .5), percentile(lat, .99)
	lis.ratePerSec, ref.ratePerSec = float64(lis.n)/lis.elapsed.Seconds(), float64(ref.n)/ref.elapsed.Seconds()
	return lis, ref, created, refCreated
}

// alternate sends n events at concurrency c through base and variant in alternating rounds and returns
// a row: base rate, variant rate, variant/base, variant failures. Every accepted event must make one run.
func alternate(t *testing.T, c, n int, count func() int, base, variant func(int) error) string {
	t.Helper()
	var tb, tv time.Duration
	var fb, fv int
	before := count()
	const rounds = 6
	for i := 0; i < rounds; i++ {
		b := run(n/rounds, c, 0, base)
		v := run(n/rounds, c, 0, variant)
		tb, tv = tb+b.elapsed, tv+v.elapsed
		fb, fv = fb+b.failed, fv+v.failed
	}
	if got := count() - before; got != 2*rounds*(n/rounds)-fb-fv {
		t.Errorf("concurrency %d, alternating rounds: %d PipelineRuns for %d events", c, got, 2*rounds*(n/rounds))
	}
	per := float64(rounds * (n / rounds))
	return fmt.Sprintf("%-6d %12.0f %12.0f %7.1f%% %8d", c, per/tb.Seconds(), per/tv.Seconds(), 100*tb.Seconds()/tv.Seconds(), fv)
}

// stopListener ends the listener: with SIGTERM when it is writing profiles (they are written on exit), else
// killed.
func stopListener(t *testing.T, cmd *exec.Cmd, profileDir string) {
	if profileDir == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
		t.Logf("listener profiles in %s", profileDir)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// cpuTime is the CPU time (user and system) process pid has used so far, to the kernel's clock tick.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces: utime and stime
	// are the 12th and 13th of them, in ticks of 1/100 s (USER_HZ on Linux).
	_, rest, _ := bytes.Cut(data, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func metav1ObjectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

// metaItems returns the items of a list as client.Objects.
func metaItems(l client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	switch v := l.(type) {
	case *pipelinev1.PipelineRunList:
		for i := range v.Items {
			out = append(out, &v.Items[i])
		}
	case *pipelinev1.TaskRunList:
		for i := range v.Items {
			out = append(out, &v.Items[i])
		}
	case *corev1.PodList:
		for i := range v.Items {
			out = append(out, &v.Items[i])
		}
	default:
		return nil, fmt.Errorf("list type %T", l)
	}
	return out, nil
}

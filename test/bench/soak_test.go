package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

const soakPipeline = `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: build}
spec:
  params: [{name: revision}, {name: url}, {name: ref}]
  tasks:
  - name: test
    taskSpec:
      steps: [{name: s, image: alpine, script: "echo $(params.revision)"}]
    params: [{name: revision, value: $(params.revision)}]
`

// TestSoak (make soak): signed events at a steady rate against the listener and executor binaries for
// HOOKRUN_SOAK_DURATION (default 10m); RSS of both sampled every 10 s must stay flat after warm-up (growth
// under 10%), with zero 5xx and one PipelineRun per accepted event. Old runs are pruned as a cluster's
// pruner would (there is no garbage collector here), so the population is steady.
func TestSoak(t *testing.T) {
	if os.Getenv("HOOKRUN_SOAK") == "" {
		t.Skip("soak test: set HOOKRUN_SOAK=1 (make soak) to run it")
	}
	duration := 10 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("HOOKRUN_SOAK_DURATION")); err == nil {
		duration = d
	}
	rate := float64(envInt("HOOKRUN_SOAK_RATE", 50))
	env, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx := context.Background()
	tmp := t.TempDir()
	bin := buildHookrun(t, env.Root, tmp)
	kc := filepath.Join(tmp, "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	ns := "soak"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1ObjectMeta(ns)}); err != nil {
		t.Fatal(err)
	}
	env.Apply(t, ns, loadConfig+"\n---\n"+soakPipeline)
	addr := controlplane.FreeAddr(t)
	lis := exec.Command(bin, "listener", "--kubeconfig", kc, "--namespace", ns, "--eventlistener", "load", "--addr", addr, "--watch-namespace", ns)
	exe := exec.Command(bin, "executor", "--kubeconfig", kc, "--namespace", ns, "--leader-elect=false", "--metrics-addr", "0", "--health-addr", "")
	for _, c := range []*exec.Cmd{lis, exe} {
		c.Stdout, c.Stderr = io.Discard, io.Discard
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func(c *exec.Cmd) { _ = c.Process.Kill(); _ = c.Wait() }(c)
	}
	controlplane.WaitHTTP(t, "http://"+addr+"/readyz", 30*time.Second)
	payload, err := os.ReadFile(filepath.Join(env.Root, "..", "shared", "corpus", "github", "push", "with-new-branch.payload.json"))
	if err != nil {
		payload = []byte(`{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"clone_url":"https://example.com/r.git"}}`)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Pruner: delete runs, TaskRuns and Pods older than a minute, 16 deletes at a time so it keeps up with
	// the arrival rate; population reports how many of each exist (a steady population is the point).
	var population atomic.Value
	population.Store("")
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			cutoff := time.Now().Add(-time.Minute)
			var counts []string
			for _, l := range []client.ObjectList{&pipelinev1.PipelineRunList{}, &pipelinev1.TaskRunList{}, &corev1.PodList{}} {
				if err := env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
					continue
				}
				items, _ := metaItems(l)
				counts = append(counts, fmt.Sprint(len(items)))
				work := make(chan client.Object)
				var dw sync.WaitGroup
				for range 16 {
					dw.Add(1)
					go func() {
						defer dw.Done()
						for o := range work {
							_ = env.Client.Delete(ctx, o)
						}
					}()
				}
				for _, o := range items {
					if o.GetCreationTimestamp().Time.Before(cutoff) {
						work <- o
					}
				}
				close(work)
				dw.Wait()
			}
			population.Store(strings.Join(counts, "/"))
		}
	}()

	var sent, accepted, fivexx atomic.Int64
	names := sync.Map{}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 20 * time.Second}
	start := time.Now()
	type sample struct {
		at                 time.Duration
		listener, executor int
	}
	var samples []sample
	sampler := time.NewTicker(10 * time.Second)
	defer sampler.Stop()
	sem := make(chan struct{}, 64)
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	fmt.Printf("\nsoak: %.0f signed events/s for %s; RSS sampled every 10 s (machine: %d CPUs, shared)\n", rate, duration, numCPU())
	for time.Since(start) < duration {
		select {
		case <-sampler.C:
			s := sample{time.Since(start).Round(time.Second), rssKiB(lis.Process.Pid), rssKiB(exe.Process.Pid)}
			samples = append(samples, s)
			fmt.Printf("  t=%-6s listener %7d KiB  executor %7d KiB  sent %d accepted %d 5xx %d  runs/taskruns/pods %s\n",
				s.at, s.listener, s.executor, sent.Load(), accepted.Load(), fivexx.Load(), population.Load())
		default:
		}
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		n := sent.Add(1)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Each event is a distinct push (its own bytes and delivery id): the same signed bytes again
			// would be a replay, answered duplicate.
			body := append([]byte(fmt.Sprintf(`{"hookrun_soak_seq":%d,`, n)), payload[strings.IndexByte(string(payload), '{')+1:]...)
			o := listener.Outgoing{Provider: "github", Event: "push", Secret: "load-test-secret", Body: body, ID: fmt.Sprintf("soak-%d", n)}
			req, _ := o.Request(ctx, "http://"+addr+"/hooks")
			resp, err := httpc.Do(req)
			if err != nil {
				fivexx.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode >= 500 {
				fivexx.Add(1)
				return
			}
			var r listener.Response
			if json.NewDecoder(resp.Body).Decode(&r) == nil && resp.StatusCode == 202 && len(r.Triggers) > 0 && len(r.Triggers[0].Resources) == 1 {
				accepted.Add(1)
				names.Store(r.Triggers[0].Resources[0].Name, true)
			}
		}()
	}
	close(stop)
	wg.Wait()
	distinct := 0
	names.Range(func(any, any) bool { distinct++; return true })
	fmt.Printf("soak done: sent %d, accepted %d, distinct PipelineRuns %d, 5xx/errors %d\n", sent.Load(), accepted.Load(), distinct, fivexx.Load())
	if fivexx.Load() != 0 {
		t.Errorf("%d 5xx or failed requests", fivexx.Load())
	}
	if int64(distinct) != sent.Load() {
		t.Errorf("created %d PipelineRuns for %d events", distinct, sent.Load())
	}
	// Flatness: compare the last sample with the one after warm-up (a fifth of the run, at least 2 minutes:
	// the pruner starts deleting at 1 minute, so the population is steady from then on).
	warm := -1
	for i, s := range samples {
		if s.at >= max(duration/5, 2*time.Minute) {
			warm = i
			break
		}
	}
	if warm >= 0 && len(samples) > warm+1 {
		first, last := samples[warm], samples[len(samples)-1]
		gl := 100 * float64(last.listener-first.listener) / float64(first.listener)
		ge := 100 * float64(last.executor-first.executor) / float64(first.executor)
		fmt.Printf("RSS growth after warm-up (t=%s → t=%s): listener %+.1f%%, executor %+.1f%%\n", first.at, last.at, gl, ge)
		if gl > 10 || ge > 10 {
			t.Errorf("RSS grew more than 10%% after warm-up: listener %+.1f%%, executor %+.1f%%", gl, ge)
		}
	}
}

package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

// slowInterceptor answers after delay: deliveries stay in flight long enough to be caught by a signal.
func slowInterceptor(t *testing.T, delay time.Duration) string {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		_, _ = io.Copy(w, r.Body) // a legacy webhook interceptor answers the event to go on with
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func setupListenerConfig(t *testing.T, ns, interceptorURL string) {
	t.Helper()
	cfg := fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {secret: shutdown-secret}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: run}
spec:
  params: [{name: num}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: run-}
    spec:
      pipelineRef: {name: p}
      params: [{name: num, value: $(tt.params.num)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: hooks}
spec:
  triggers:
  - name: push
    interceptors:
    - ref: {name: github}
      params: [{name: secretRef, value: {secretName: gh, secretKey: secret}}]
    - webhook: {url: %q}
    bindings: [{name: num, value: $(body.n)}]
    template: {ref: run}
`, interceptorURL)
	env.Apply(t, ns, cfg)
}

type listenerProc struct {
	cmd  *exec.Cmd
	addr string
}

func startListenerProc(t *testing.T, bin, kubeconfig, ns string) *listenerProc {
	t.Helper()
	addr := controlplane.FreeAddr(t)
	cmd := exec.Command(bin, "listener", "--kubeconfig", kubeconfig, "--namespace", ns, "--eventlistener", "hooks",
		"--addr", addr, "--watch-namespace", ns, "--shutdown-timeout", "10s")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	controlplane.WaitHTTP(t, "http://"+addr+"/readyz", 30*time.Second)
	return &listenerProc{cmd: cmd, addr: addr}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func hookrunBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookrun-faults-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "hookrun")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/hookrun")
		cmd.Dir = env.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build hookrun: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type outcome struct {
	id   string
	code int // 0 = no answer
}

func deliver(ctx context.Context, addr, id string, n int) outcome {
	o := listener.Outgoing{Provider: "github", Event: "push", Secret: "shutdown-secret", ID: id, Body: []byte(fmt.Sprintf(`{"n":"%d"}`, n))}
	req, err := o.Request(ctx, "http://"+addr+"/hooks")
	if err != nil {
		return outcome{id: id}
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return outcome{id: id}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{id: id, code: resp.StatusCode}
}

// runsFor maps each delivery's number (the num param its PipelineRun is bound from $(body.n)) to how many
// PipelineRuns carry it.
func runsFor(t *testing.T, ns string) map[string]int {
	t.Helper()
	var list pipelinev1.PipelineRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, pr := range list.Items {
		for _, p := range pr.Spec.Params {
			if p.Name == "num" {
				out[p.Value.StringVal]++
			}
		}
	}
	return out
}

// checkOutcomes counts deliveries answered 2xx (each must have exactly one PipelineRun, found by the
// number its body carries) and deliveries not answered at all.
func checkOutcomes(t *testing.T, ns string, outs []outcome, ids map[string]string) (answered2xx, unanswered int) {
	t.Helper()
	runs := runsFor(t, ns)
	for _, o := range outs {
		switch {
		case o.code >= 200 && o.code < 300:
			answered2xx++
			if runs[ids[o.id]] != 1 {
				t.Errorf("delivery %s answered %d but has %d PipelineRuns", o.id, o.code, runs[ids[o.id]])
			}
		case o.code == 0:
			unanswered++
		default:
			t.Logf("delivery %s answered %d", o.id, o.code)
		}
	}
	return
}

// TestListenerSIGTERM sends SIGTERM while 20 deliveries are in flight: every delivery is either answered 2xx
// with its PipelineRun existing, or not answered at all (the sender retries) — none is answered 2xx
// without its resources.
func TestListenerSIGTERM(t *testing.T) {
	ns := env.Namespace(t)
	setupListenerConfig(t, ns, slowInterceptor(t, 400*time.Millisecond))
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	p := startListenerProc(t, hookrunBinary(t), kc, ns)
	ids := deliveryNums(20)
	var wg sync.WaitGroup
	outs := make([]outcome, 20)
	for i := range outs {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i] = deliver(context.Background(), p.addr, fmt.Sprintf("term-%d", i), i) }()
	}
	time.Sleep(150 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	state, _ := p.cmd.Process.Wait()
	ok, none := checkOutcomes(t, ns, outs, ids)
	t.Logf("SIGTERM with 20 in flight: %d answered 2xx with their run, %d not answered; exit %v", ok, none, state)
	if ok == 0 {
		t.Errorf("no in-flight delivery finished after SIGTERM: shutdown does not drain")
	}
	// After the signal, new connections are refused.
	if o := deliver(context.Background(), p.addr, "late", 99); o.code != 0 {
		t.Errorf("a delivery after shutdown was answered %d", o.code)
	}
}

// TestTwoListenersOneDies runs two listener processes; the client spreads deliveries over both and retries
// on the other when one does not answer. One is SIGKILLed mid-stream: every delivery ends with exactly one
// PipelineRun, none lost, none duplicated.
func TestTwoListenersOneDies(t *testing.T) {
	ns := env.Namespace(t)
	setupListenerConfig(t, ns, slowInterceptor(t, 50*time.Millisecond))
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	bin := hookrunBinary(t)
	a := startListenerProc(t, bin, kc, ns)
	b := startListenerProc(t, bin, kc, ns)
	const n = 60
	ids := deliveryNums(n)
	var wg sync.WaitGroup
	outs := make([]outcome, n)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			addrs := []string{a.addr, b.addr}
			id := fmt.Sprintf("pair-%d", i)
			for attempt := 0; attempt < 4; attempt++ {
				o := deliver(context.Background(), addrs[(i+attempt)%2], id, i)
				if o.code >= 200 && o.code < 300 {
					outs[i] = o
					return
				}
			}
			outs[i] = outcome{id: id}
		}()
	}
	time.Sleep(250 * time.Millisecond)
	_ = a.cmd.Process.Kill()
	wg.Wait()
	ok, none := checkOutcomes(t, ns, outs, ids)
	if ok != n || none != 0 {
		t.Errorf("%d of %d deliveries accepted (%d unanswered) with one of two listeners killed", ok, n, none)
	}
	total := 0
	for _, c := range runsFor(t, ns) {
		total += c
	}
	if total != n {
		t.Errorf("%d PipelineRuns for %d deliveries", total, n)
	}
}

// deliveryNums maps each delivery id the tests send ("term-N", "pair-N") to the number its body carries, which
// its PipelineRun's num param holds. (The event id label is no key for this: for a signed delivery it is
// derived from the body's hash, not from the delivery id.)
func deliveryNums(n int) map[string]string {
	out := map[string]string{}
	for _, prefix := range []string{"term", "pair"} {
		for i := 0; i < n; i++ {
			out[fmt.Sprintf("%s-%d", prefix, i)] = strconv.Itoa(i)
		}
	}
	return out
}

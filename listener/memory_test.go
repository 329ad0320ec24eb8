package listener_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

// shippedListener is what deploy/base/listener.yaml runs: the container's args and literal env, and its
// memory limit.
type shippedListener struct {
	args  []string
	env   []string
	limit int64 // bytes
}

func readShippedListener(t *testing.T, root string) shippedListener {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "deploy", "base", "listener.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := yaml.Unmarshal([]byte(strings.Split(string(data), "\n---\n")[0]), &dep); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	out := shippedListener{args: c.Args}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out.env = append(out.env, e.Name+"="+e.Value)
		}
	}
	lim, ok := c.Resources.Limits["memory"]
	if !ok {
		t.Fatal("deploy/base/listener.yaml sets no memory limit")
	}
	out.limit = lim.Value()
	return out
}

func procStatusKiB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

// TestHostileBodiesRSS runs the hookrun binary as the shipped manifest does (its args, its GOMEMLIMIT) in
// a process of its own, and sends 4 concurrent 24 MiB `[{},{},…]` bodies: first with a forged signature
// (refused before any decode), then correctly signed (refused before decode: far more JSON values than
// --max-json-values); every answer is 401/413/429. Then 4 concurrent signed pushes that are decoded
// (202, or 429 when the budget is spent). The process's peak RSS (VmHWM) stays under the manifest's
// memory limit. Before issue 18, one such 24 MiB body decoded to ~550 MiB of heap.
func TestHostileBodiesRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hookrun binary")
	}
	shipped := readShippedListener(t, env.Root)
	var elName string
	for _, a := range shipped.args {
		if v, ok := strings.CutPrefix(a, "--eventlistener="); ok {
			elName = v
		}
	}
	if elName == "" {
		t.Fatal("the shipped listener args name no --eventlistener")
	}
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns)+`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: `+elName+`}
spec:
  triggers:
  - name: push
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}, eventTypes: [push]}
    bindings: [{ref: github-push}]
    template: {ref: run}
`)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hookrun")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hookrun")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hookrun: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"listener", "--kubeconfig", kubeconfig}
	for _, a := range shipped.args[1:] { // [0] is the subcommand
		a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", ns)
		if strings.HasPrefix(a, "--addr=") {
			a = "--addr=" + addr
		}
		args = append(args, a)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), shipped.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("listener stderr (tail):\n%s", tail(stderr.String(), 4000))
		}
	}()
	controlplane.WaitHTTP(t, "http://"+addr+"/readyz", 60*time.Second)
	pid := cmd.Process.Pid
	idle := procStatusKiB(pid, "VmRSS")

	// 24 MiB of [{},{},…]: 8 million empty objects.
	const size = 24 << 20
	body := make([]byte, 0, size)
	body = append(body, '[')
	for len(body) < size-4 {
		body = append(body, "{},"...)
	}
	body = append(body, "{}]"...)
	forged := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/hooks", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		return req, nil
	}
	signed := func(ctx context.Context) (*http.Request, error) {
		return listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: body}.Request(ctx, "http://"+addr+"/hooks")
	}
	// A signed push that passes and is decoded: 7.5 MiB, 150,000 JSON values (50,000 objects with one
	// 140-byte string each).
	var dense bytes.Buffer
	dense.WriteString(`{"ref":"refs/heads/main","head_commit":{"id":"dense"},"repository":{"clone_url":"u"},"pad":[`)
	for i := range 50_000 {
		if i > 0 {
			dense.WriteByte(',')
		}
		dense.WriteString(`{"a":"` + strings.Repeat("z", 140) + `"}`)
	}
	dense.WriteString(`]}`)
	decodable := func(ctx context.Context) (*http.Request, error) {
		return listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: dense.Bytes()}.Request(ctx, "http://"+addr+"/hooks")
	}
	rounds := []struct {
		name string
		req  func(context.Context) (*http.Request, error)
		ok   []int
	}{
		{"4 × 24 MiB [{},…], forged signature", forged, []int{401, 413, 429}},
		{"4 × 24 MiB [{},…], signed (8M JSON values)", signed, []int{401, 413, 429}},
		{"4 × 7.5 MiB signed pushes of 150,000 values, decoded", decodable, []int{202, 429}},
	}
	report := []string{fmt.Sprintf("idle VmRSS %d KiB", idle)}
	for _, round := range rounds {
		codes := make([]int, 4)
		var wg sync.WaitGroup
		began := time.Now()
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				req, err := round.req(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("%s: %v", round.name, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		hwm := procStatusKiB(pid, "VmHWM")
		report = append(report, fmt.Sprintf("%s: answers %v in %s, VmHWM %d KiB", round.name, codes, time.Since(began).Round(time.Millisecond), hwm))
		for _, c := range codes {
			if !slices.Contains(round.ok, c) {
				t.Errorf("%s: answered %d, want one of %v", round.name, c, round.ok)
			}
		}
	}
	// Still serving: a real push goes through.
	code, r, _ := do(t, mustRequest(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}, "http://"+addr+"/hooks"))
	if code != http.StatusAccepted {
		t.Errorf("a signed push after the hostile bodies: %d %+v", code, r)
	}
	hwm := procStatusKiB(pid, "VmHWM")
	report = append(report, fmt.Sprintf("peak RSS (VmHWM) %d KiB = %.0f MiB; shipped memory limit %.0f MiB; env %v", hwm, float64(hwm)/1024, float64(shipped.limit)/(1<<20), shipped.env))
	for _, l := range report {
		t.Log(l)
	}
	if hwm*1024 >= shipped.limit {
		t.Errorf("listener peak RSS %d KiB is over the shipped memory limit %d bytes", hwm, shipped.limit)
	}
}

func mustRequest(t *testing.T, o listener.Outgoing, url string) *http.Request {
	t.Helper()
	req, err := o.Request(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

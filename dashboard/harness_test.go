package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookrun/hookrun/dashboard"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

var seq atomic.Int64

func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newNamespace makes a namespace with the "default" ServiceAccount (no controller-manager creates it here).
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := env.Client.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return ns
}

// startDashboard serves the dashboard for namespace ns from its own informer cache, as `hookrun
// dashboard` does, and returns its base URL.
func startDashboard(t testing.TB, ns string, allowActions bool) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var namespaces []string
	if ns != "" {
		namespaces = []string{ns}
	}
	co := dashboard.CacheOptions(namespaces)
	co.Scheme = env.Scheme
	c, err := cache.New(env.Config, co)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dashboard.New(dashboard.Options{Cache: c, Client: env.Client, Kube: kube, Namespaces: namespaces,
		AllowActions: allowActions, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()
	controlplane.WaitHTTP(t, url+"/runs", 30*time.Second)
	return url
}

// startListener serves /hooks for EventListener "hooks" of ns and returns its base URL.
func startListener(t *testing.T, ns string) string {
	t.Helper()
	url, _ := env.ServeListener(t, ns, listener.Options{EventListener: "hooks", Logger: quietLogger(t)})
	return url
}

// send signs and posts a GitHub webhook to the listener and returns the HTTP status.
func send(t *testing.T, url, event, body string) int {
	t.Helper()
	req, err := listener.Outgoing{Provider: "github", Event: event, Secret: webhookSecret, Body: []byte(body)}.Request(context.Background(), url+"/hooks")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	t.Logf("webhook %s: %d %s", event, resp.StatusCode, b)
	return resp.StatusCode
}

// buildHookrun builds the hookrun binary: the node agent runs the executor's step wrapper with it.
func buildHookrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookrun")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hookrun")
	cmd.Dir = env.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hookrun: %v\n%s", err, out)
	}
	return bin
}

// startExecutorAndNode runs the executor for ns and a node agent (Pods as local processes, logs served
// to the API server's pods/log) until the test ends.
func startExecutorAndNode(t *testing.T, ns string) {
	t.Helper()
	self := buildHookrun(t)
	opts := executor.Options{Namespace: ns, SkipNameValidation: true, Logger: quietLogger(t)}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Cache: executor.CacheOptions(opts),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	nopts := node.Options{Config: env.Config, NodeName: fmt.Sprintf("dashboard-test-%d", seq.Add(1)), StateDir: t.TempDir(),
		SelfPath: self, HeartbeatInterval: time.Second, StopGracePeriod: 2 * time.Second, Logger: quietLogger(t)}
	env.KubeletOptions(&nopts)
	agent, err := node.New(nopts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mdone, adone := make(chan error, 1), make(chan error, 1)
	go func() { mdone <- mgr.Start(ctx) }()
	go func() { adone <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range []chan error{mdone, adone} {
			select {
			case err := <-c:
				if err != nil {
					t.Errorf("stop: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("executor or node agent did not stop within 30s")
			}
		}
	})
}

// browser starts headless Debian chromium (flags that keep it from reaching for the network this
// machine does not have) and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := "/usr/bin/chromium"
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("%s is missing: `make test` installs it (hack/install-chromium.sh)", exe)
	}
	// Chromium's helper processes may still write its profile for a moment after the browser is gone,
	// which t.TempDir's cleanup reports as a failure: the profile is removed here, with retries.
	profile, err := os.MkdirTemp("", "hookrun-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelC()
		cancelB()
		cancelA()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshotDir is $HOOKRUN_SCREENSHOTS when set (kept for review), else a directory of the test.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("HOOKRUN_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.Sleep(300*time.Millisecond), chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	// Quality 100 makes a PNG.
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// waitJS evaluates expr (a string) in the page until ok accepts its value.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for {
		got = ""
		err := chromedp.Run(ctx, chromedp.Evaluate(expr, &got))
		if err == nil && ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last: %q, err %v)", what, got, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func contains(s string) func(string) bool {
	return func(g string) bool { return strings.Contains(g, s) }
}

// Package controlplane starts a real kube-apiserver + etcd (controller-runtime envtest, binaries built into
// bin/ by `make tools`) with hookrun's CRDs installed, for integration tests.
package controlplane

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/node/kubeletpki"
)

// ErrNoBinaries means bin/kube-apiserver or bin/etcd is missing.
var ErrNoBinaries = errors.New("control-plane binaries missing: run `make tools`")

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	Root   string // repository root
	// Kubelet is the PKI that lets kube-apiserver read node agents' logs (kubectl logs): start an agent
	// with Kubelet.ServingCert, Kubelet.ServingKey and Kubelet.CACert (see KubeletOptions).
	Kubelet *kubeletpki.Files

	env    *envtest.Environment
	pkiDir string
	seq    atomic.Int64
}

// RepoRoot finds the repository root (the directory holding go.mod of github.com/hookrun/hookrun).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/hookrun/hookrun\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/hookrun/hookrun) not found above the working directory")
		}
		dir = parent
	}
}

// Start starts etcd + kube-apiserver and installs deploy/crds. Call Stop when done.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%w (%s)", ErrNoBinaries, filepath.Join(assets, b))
		}
	}
	// controller-runtime complains loudly when no logger is set; tests have nothing to say through it.
	ctrllog.SetLogger(logr.Discard())
	scheme, err := api.NewScheme()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "deploy", "crds")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
		// go test runs packages in parallel, each with its own control plane, on 2 shared cores: give
		// the API server and the CRDs room to come up under load.
		ControlPlaneStartTimeout: 3 * time.Minute,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: 3 * time.Minute},
	}
	pkiDir, err := os.MkdirTemp("", "hookrun-kubelet-pki-")
	if err != nil {
		return nil, err
	}
	kubelet, err := kubeletpki.Generate(pkiDir, []string{"127.0.0.1", "localhost"})
	if err != nil {
		_ = os.RemoveAll(pkiDir)
		return nil, err
	}
	apiserver := env.ControlPlane.GetAPIServer().Configure()
	for _, f := range kubelet.APIServerFlags() {
		apiserver.Set(f[0], f[1])
	}
	cfg, err := env.Start()
	if err != nil {
		_ = os.RemoveAll(pkiDir)
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(pkiDir)
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Root: root, Kubelet: kubelet, env: env, pkiDir: pkiDir}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	err := e.env.Stop()
	_ = os.RemoveAll(e.pkiDir)
	return err
}

// KubeletOptions sets the node agent options that make its logs readable through this API server.
func (e *Env) KubeletOptions(o *node.Options) {
	o.KubeletCertFile, o.KubeletKeyFile, o.KubeletClientCAFile = e.Kubelet.ServingCert, e.Kubelet.ServingKey, e.Kubelet.CACert
}

// Environment exposes the envtest environment (e.g. to stop and restart the apiserver in fault tests).
func (e *Env) Environment() *envtest.Environment { return e.env }

// Namespace creates a fresh namespace for one test and deletes it at cleanup.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", e.seq.Add(1), strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.TrimRight(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return name
}

// Main is a TestMain helper: it starts the control plane, runs the tests, stops it, and exits.
// Binaries missing is a hard failure: `make test` builds them, and a test that cannot run must not pass.
func Main(m *testing.M, env **Env) {
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane stop:", err)
	}
	os.Exit(code)
}

// WriteKubeconfig writes a kubeconfig file for the control plane (for subprocesses such as a hookrun
// binary under test, or kubectl).
func (e *Env) WriteKubeconfig(path string) error {
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthorityData: e.Config.CAData}
	c.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: e.Config.CertData, ClientKeyData: e.Config.KeyData, Token: e.Config.BearerToken}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	c.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*c, path)
}

// Apply creates every object of a multi-document YAML text ("---" separated) in namespace ns
// (cluster-scoped kinds ignore it).
func (e *Env) Apply(t testing.TB, ns, docs string) {
	t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if ns != "" {
			u.SetNamespace(ns)
		}
		if err := e.Client.Create(context.Background(), u); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// FreeAddr is a loopback address (host:port) nothing listens on: free a moment ago, for a process the
// test starts, or standing for one that is down.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitHTTP polls url until it answers 200, or fails the test after timeout.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s", url, timeout)
		}
	}
}

// ServeListener runs a listener for the EventListeners of ns against the control plane, as
// `hookrun listener` does (informer cache, impersonation of triggers' ServiceAccounts), on a loopback
// socket until the test ends, and returns its base URL and the Server. opts.Namespace is set to ns; a
// nil Logger discards.
func (e *Env) ServeListener(t testing.TB, ns string, opts listener.Options) (string, *listener.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := listener.NewCache(e.Config, e.Scheme, []string{ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Warm(ctx, cache); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cache.Start(ctx) }()
	if !cache.WaitForCacheSync(ctx) {
		t.Fatal("listener cache did not sync")
	}
	opts.Namespace = ns
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Impersonate == nil {
		opts.Impersonate = listener.NewImpersonator(e.Config, client.Options{Scheme: e.Scheme, Mapper: e.Client.RESTMapper()})
	}
	srv := listener.New(cache, e.Client, cache, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), srv
}

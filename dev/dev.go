// Package dev runs hookrun's whole loop on one machine (`hookrun dev`, `make run`): a local control plane
// (etcd + kube-apiserver child processes whose state survives restarts), the CRDs, the example manifests,
// and in one process the listener, the executor and the node agent.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/dashboard"
	"github.com/hookrun/hookrun/deploy"
	"github.com/hookrun/hookrun/elstatus"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/node/kubeletpki"
	"github.com/hookrun/hookrun/retention"
	"github.com/hookrun/hookrun/runlogs"
)

// Options configure Run.
type Options struct {
	StateDir      string   // .hookrun
	Configs       []string // manifests to apply
	Addr          string   // listener address
	Namespace     string   // default namespace
	EventListener string   // EventListener at POST /hooks
	BinDir        string   // kube-apiserver, etcd
	Logger        *slog.Logger
	Out           io.Writer // where the human instructions go
	// DashboardAddr is where the web dashboard listens (default dashboard.DefaultAddr); on a loopback
	// address its Cancel and Re-run actions are on.
	DashboardAddr string
}

// ErrLocked means another hookrun dev uses the state directory.
var ErrLocked = errors.New("state directory in use")

// OpenLog opens (appending) the log file every component of `hookrun dev` writes to.
func OpenLog(state string) (*os.File, error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(state, "hookrun.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return f, f.Chmod(0o600)
}

// lock takes an exclusive, non-blocking lock on state/dev.lock (released when the process ends).
func lock(state string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(state, "dev.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(f.Name())
		f.Close()
		return nil, fmt.Errorf("%w: another `hookrun dev` (pid %s) is running on %s; stop it first, or use --state for a second one",
			ErrLocked, strings.TrimSpace(string(pid)), state)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprint(os.Getpid())), 0)
	return f, nil
}

// Run starts everything and blocks until ctx is done, then stops everything (children included).
func Run(ctx context.Context, o Options) error {
	state, lk, err := openState(o)
	if err != nil {
		return err
	}
	defer lk.Close()
	ctrllog.SetLogger(logr.FromSlogHandler(o.Logger.Handler()))
	// Check the configuration before starting anything.
	objs, generated, err := preflight(o, state)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "hookrun dev: starting the control plane (state in %s, logs in %s)…\n", state, filepath.Join(state, "hookrun.log"))
	cp, err := startControlPlane(o, state)
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.env.Stop(); err != nil {
			o.Logger.Error("stop control plane", "error", err)
		}
	}()
	payload, err := prepareRepo(state)
	if err != nil {
		fmt.Fprintf(o.Out, "warning: no local git repository for the github-push example: %v\n", err)
	}
	if err := seed(ctx, cp.client, objs, o.Namespace); err != nil {
		return err
	}
	parts, err := assemble(ctx, &o, state, cp)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return parts.mgr.Start(gctx) })
	g.Go(func() error { return parts.agent.Run(gctx) })
	g.Go(func() error {
		tctx, cancel := context.WithTimeout(gctx, 60*time.Second)
		defer cancel()
		if !parts.lcache.WaitForCacheSync(tctx) {
			return nil
		}
		printWelcome(o, state, cp.kubeconfig, generated, sendHints(objs, o.Namespace, o.EventListener, generated, rel(payload)))
		return nil
	})
	err = g.Wait()
	fmt.Fprintln(o.Out, "\nhookrun dev: stopping (listener, executor, node agent, kube-apiserver, etcd)…")
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// openState makes the state directory private, takes its lock and stops what a killed run left behind.
func openState(o Options) (string, *os.File, error) {
	state, err := filepath.Abs(o.StateDir)
	if err != nil {
		return "", nil, err
	}
	// The state holds the cluster's admin credentials, the webhook secrets and the node agent's Pods.
	if err := privateDir(state); err != nil {
		return "", nil, err
	}
	lk, err := lock(state)
	if err != nil {
		return "", nil, err
	}
	if n := reapOrphans(state); n > 0 {
		fmt.Fprintf(o.Out, "hookrun dev: stopped %d etcd/kube-apiserver process(es) left running on %s by an earlier hookrun dev that did not exit cleanly\n", n, state)
	}
	return state, lk, nil
}

// privateDir makes dir (0700, also when it existed with wider rights).
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// preflight loads and validates the manifests, fills their placeholder secrets, warns about an exposed
// address, and checks the binaries and the listener address: all before anything starts.
func preflight(o Options, state string) ([]load.Object, []Generated, error) {
	objs, err := loadConfigs(o.Configs)
	if err != nil {
		return nil, nil, err
	}
	store, err := openSecrets(state)
	if err != nil {
		return nil, nil, err
	}
	generated, err := fillSecrets(objs, o.Namespace, store)
	if err != nil {
		return nil, nil, err
	}
	if !Loopback(o.Addr) {
		warnExposed(o.Out, o.Addr)
		o.Logger.Warn("listener reachable from other machines", "addr", o.Addr)
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, nil, fmt.Errorf("%s not found in %s: build it with `make tools` (or pass --bin-dir)", b, o.BinDir)
		}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listener address %s: %w", o.Addr, err)
	}
	ln.Close()
	return objs, generated, nil
}

// controlPlane is the running etcd + kube-apiserver and what talks to it.
type controlPlane struct {
	env        *envtest.Environment
	cfg        *rest.Config
	scheme     *runtime.Scheme
	client     client.Client
	kubeconfig string
	kubelet    *kubeletpki.Files
}

// startControlPlane starts etcd (data kept under the state) and kube-apiserver (fresh certificates,
// the kubelet client certificate for `kubectl logs`) and writes the kubeconfig.
func startControlPlane(o Options, state string) (*controlPlane, error) {
	crds, err := deploy.CRDs()
	if err != nil {
		return nil, err
	}
	scheme, err := api.NewScheme()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: o.BinDir,
		CRDInstallOptions:     envtest.CRDInstallOptions{CRDs: crds},
		Scheme:                scheme,
	}
	// etcd's data persists under the state dir (yesterday's runs are still there); the API server's
	// certificates are made afresh each start and the kubeconfig rewritten with them.
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(state, "etcd")}
	if err := os.MkdirAll(env.ControlPlane.Etcd.DataDir, 0o700); err != nil {
		return nil, err
	}
	// kubectl logs: kube-apiserver reads the node agent's logs with a client certificate from a CA made
	// here (afresh each start), and checks the agent's serving certificate with it.
	kubelet, err := kubeletpki.Generate(filepath.Join(state, "kubelet-pki"), []string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	for _, f := range kubelet.APIServerFlags() {
		env.ControlPlane.GetAPIServer().Configure().Set(f[0], f[1])
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cp := &controlPlane{env: env, cfg: cfg, scheme: scheme, kubelet: kubelet, kubeconfig: filepath.Join(state, "kubeconfig")}
	cfg.QPS, cfg.Burst = 200, 400
	if err = writeKubeconfig(cfg, cp.kubeconfig); err == nil {
		err = os.Chmod(cp.kubeconfig, 0o600)
	}
	if err == nil {
		cp.client, err = client.New(cfg, client.Options{Scheme: scheme})
	}
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

// seed applies the Tekton-named ClusterRoles, the version ConfigMaps tkn reads and the manifests.
func seed(ctx context.Context, c client.Client, objs []load.Object, ns string) error {
	if err := applyManifest(ctx, c, deploy.CompatRBAC()); err != nil {
		return fmt.Errorf("Tekton-compatible ClusterRoles: %w", err)
	}
	if err := applyManifest(ctx, c, deploy.TektonInfo()); err != nil {
		return fmt.Errorf("version ConfigMaps for tkn: %w", err)
	}
	return applyAll(ctx, c, objs, ns)
}

// components are what runs in this process.
type components struct {
	mgr    manager.Manager // executor, listener, dashboard, EventListener status
	lcache cache.Cache     // the listener's configuration cache
	agent  *node.Agent
}

// assemble builds the manager with the executor, the listener, the dashboard and the EventListener
// status writer, and the node agent. It sets o.DashboardAddr to the address the dashboard got.
func assemble(ctx context.Context, o *Options, state string, cp *controlPlane) (*components, error) {
	log := o.Logger
	mgr, err := ctrl.NewManager(cp.cfg, ctrl.Options{
		Scheme:                 cp.scheme,
		Cache:                  executor.CacheOptions(executor.Options{}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 logr.FromSlogHandler(log.Handler()),
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	// The dashboard's address is taken first: forge statuses link to its run pages. The default port
	// taken (another hookrun dev), it takes any free loopback port; the start-up text prints which.
	dln, err := net.Listen("tcp", o.dashboardAddr())
	if err != nil && o.DashboardAddr == "" {
		dln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("dashboard address %s: %w", o.dashboardAddr(), err)
	}
	o.DashboardAddr = dln.Addr().String()
	parts, err := addComponents(ctx, mgr, *o, cp, dln)
	if err != nil {
		dln.Close()
		return nil, err
	}
	nodeDir := filepath.Join(state, "node")
	if err := privateDir(nodeDir); err != nil {
		return nil, err
	}
	parts.agent, err = node.New(node.Options{Config: cp.cfg, StateDir: nodeDir, Logger: log.With("component", "node"),
		KubeletCertFile: cp.kubelet.ServingCert, KubeletKeyFile: cp.kubelet.ServingKey, KubeletClientCAFile: cp.kubelet.CACert})
	if err != nil {
		return nil, err
	}
	return parts, nil
}

// addComponents registers the executor, the listener (and its cache), the dashboard on dln and the
// EventListener status writer with mgr.
func addComponents(ctx context.Context, mgr manager.Manager, o Options, cp *controlPlane, dln net.Listener) (*components, error) {
	log := o.Logger
	// The node agent runs no image entrypoints (it has no images): no registry lookups for them.
	if err := executor.Setup(mgr, executor.Options{Logger: log.With("component", "executor"), NoEntrypointLookup: true,
		ForgeStatus: executor.ForgeStatusOptions{DashboardURL: "http://" + o.DashboardAddr}}); err != nil {
		return nil, err
	}
	lcache, err := listener.NewCache(cp.cfg, cp.scheme, nil)
	if err != nil {
		return nil, err
	}
	if err := listener.Warm(ctx, lcache); err != nil {
		return nil, err
	}
	// Dead letters (deliveries answered 503 while the API server was down) under the state; hookrun
	// deliveries and hookrun redeliver find them there by default.
	dead, err := listener.OpenDeadLetter(filepath.Join(o.StateDir, "dead-letter"), 0, 0, log.With("component", "dead-letter"))
	if err != nil {
		return nil, err
	}
	srv := listener.New(lcache, cp.client, lcache, listener.Options{Addr: o.Addr, Namespace: o.Namespace,
		EventListener: o.EventListener, Logger: log.With("component", "listener"), DeadLetter: dead,
		Impersonate: listener.NewImpersonator(cp.cfg, client.Options{Scheme: cp.scheme, Mapper: cp.client.RESTMapper()})})
	// Missed GitHub and GitLab deliveries of annotated EventListeners (hookrun.dev/github-hook,
	// hookrun.dev/gitlab-hook): this process is the only listener, no Lease needed.
	recoverer := listener.NewRecoverer(lcache, cp.client, listener.RecoveryOptions{Namespace: o.Namespace,
		Logger: log.With("component", "delivery-recovery")})
	kube, err := kubernetes.NewForConfig(cp.cfg)
	if err != nil {
		return nil, err
	}
	// Retention: runs are archived under the state before deletion, which only annotations on a
	// Namespace or EventListener ask for here (hookrun.dev/retain-…); hookrun logs finds the archive.
	archive := &runlogs.Archive{Dir: filepath.Join(o.StateDir, "archive")}
	if err := os.MkdirAll(archive.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := retention.Setup(mgr, kube, retention.Options{Archive: archive, Logger: log.With("component", "retention")}); err != nil {
		return nil, err
	}
	dash, err := dashboard.New(dashboard.Options{Listener: dln, Cache: mgr.GetCache(), Client: mgr.GetClient(), Kube: kube,
		AllowActions: Loopback(o.DashboardAddr), Logger: log.With("component", "dashboard"), Archive: archive})
	if err != nil {
		return nil, err
	}
	// EventListener status (address.url, Available/Ready): this process is the only listener.
	kick, err := elstatus.Changes(ctx, lcache)
	if err != nil {
		return nil, err
	}
	statusURL := "http://" + o.Addr
	if strings.HasPrefix(o.Addr, ":") {
		statusURL = "http://localhost" + o.Addr
	}
	status := elstatus.New(lcache, cp.client, elstatus.Options{URL: statusURL, Namespace: o.Namespace, Default: o.EventListener,
		Health: srv.Health, Logger: log.With("component", "eventlistener-status")})
	for _, r := range []manager.Runnable{lcache, srv, dash, manager.RunnableFunc(func(ctx context.Context) error { return status.Run(ctx, kick) }),
		manager.RunnableFunc(func(ctx context.Context) error { return srv.RunDeadLetter(ctx, 0) }),
		manager.RunnableFunc(recoverer.Run)} {
		if err := mgr.Add(r); err != nil {
			return nil, err
		}
	}
	return &components{mgr: mgr, lcache: lcache}, nil
}

func writeKubeconfig(cfg *rest.Config, path string) error {
	c := clientcmdapi.NewConfig()
	c.Clusters["hookrun-dev"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["hookrun-dev"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["hookrun-dev"] = &clientcmdapi.Context{Cluster: "hookrun-dev", AuthInfo: "hookrun-dev", Namespace: "default"}
	c.CurrentContext = "hookrun-dev"
	return clientcmd.WriteToFile(*c, path)
}

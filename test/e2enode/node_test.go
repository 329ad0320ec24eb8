package e2enode

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/node/kubeletpki"
)

// Names the node uses. The images are imported under these names (see hack/e2e-node/images.sh).
const (
	nodeName     = "hookrun-e2e-node"
	bridgeName   = "hookrun0"
	podSubnet    = "10.88.0.0/16"
	gatewayIP    = "10.88.0.1"
	pauseImage   = "registry.k8s.io/pause:3.6"
	hookrunImage = "ghcr.io/hookrun/hookrun:e2e"
	gitImage     = "alpine/git:2.45.2"
	busyboxImage = "docker.io/library/busybox:e2e"
	// kanikoImage is deliberately absent from the node: the Kaniko step must fail at image pull.
	kanikoImage = "ghcr.io/hookrun/kaniko:e2e-absent"
	// pvPool is the number of hostPath PersistentVolumes offered to volumeClaimTemplate workspaces.
	pvPool = 24
)

// node is the running real node: containerd, control plane, controllers, kubelet, hookrun.
type node struct {
	root, e2e, run, bin string
	hookrun             string // static hookrun binary (also packed in hookrunImage)
	hookrunStep         string // static hookrun-step binary beside it (also packed in hookrunImage)
	ctrSock             string
	kubeconfig          string
	kubeletPKI          *kubeletpki.Files // the kubelet's serving certificate and the API server's client one

	env     *envtest.Environment
	cfg     *rest.Config
	client  client.Client
	procs   []*proc
	events  *eventLog
	hookURL string
	gitURL  string // git:// base URL the Pods reach over the pod network
	repoSHA string

	mu      sync.Mutex
	stopped bool
}

// proc is one process the suite started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// phase measures one phase and records it for the summary.
func (n *node) phase(name string, start time.Time) {
	d := time.Since(start)
	timings.add(name, d)
	fmt.Printf(">> e2e-node phase %s: %.1fs\n", name, d.Seconds())
}

func (n *node) logf(format string, args ...any) {
	fmt.Printf(">> e2e-node: "+format+"\n", args...)
}

// startProc starts a long-running process with its output in run/logs/NAME.log.
func (n *node) startProc(name string, args ...string) (*proc, error) {
	return n.startProcEnv(name, nil, args...)
}

// startProcEnv is startProc with env added to the suite's own environment.
func (n *node) startProcEnv(name string, env []string, args ...string) (*proc, error) {
	logPath := filepath.Join(n.run, "logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = n.root
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return p, nil
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last lines of a process log (for failure messages).
func (p *proc) tail(lines int) string {
	data, _ := os.ReadFile(p.log)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func run(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitFor(timeout time.Duration, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prerequisites reports why the real-node suite cannot run here, or "".
func prerequisites() string {
	if os.Getenv("HOOKRUN_E2E_NODE") != "1" {
		return "real-node e2e runs only with HOOKRUN_E2E_NODE=1 (use `make e2e-node`: it needs root, installs containerd and builds a kubelet)"
	}
	return ""
}

// mustHave fails with a clear message when something the node needs is missing.
func mustHave(root string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("real-node e2e must run as root (it starts containerd, runc and a kubelet); try: sudo make e2e-node")
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubelet", "kube-scheduler", "kube-controller-manager", "kube-proxy", "kubectl", "traefik"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			return fmt.Errorf("bin/%s missing: run `make e2e-node` (it builds it)", b)
		}
	}
	for _, c := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "umoci", "debootstrap", "git", "ip", "nft"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s not found: run hack/e2e-node/install.sh (make e2e-node does)", c)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return fmt.Errorf("CNI plugins missing in /usr/lib/cni (Debian package containernetworking-plugins): %v", err)
	}
	return nil
}

// startNode brings the node up; stop (registered by the caller) tears down whatever was started.
func startNode(root string) (*node, error) {
	n := &node{root: root, e2e: filepath.Join(root, ".e2e"), bin: filepath.Join(root, "bin")}
	n.run = filepath.Join(n.e2e, "run")
	n.ctrSock = filepath.Join(n.run, "containerd.sock")
	n.kubeconfig = filepath.Join(n.run, "kubeconfig")

	// Images (cached under .e2e/images).
	start := time.Now()
	n.hookrun, n.hookrunStep = filepath.Join(n.e2e, "hookrun"), filepath.Join(n.e2e, "hookrun-step")
	for out, pkg := range map[string]string{n.hookrun: "./cmd/hookrun", n.hookrunStep: "./cmd/hookrun-step"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := build.CombinedOutput(); err != nil {
			return n, fmt.Errorf("build static %s: %v\n%s", pkg, err, b)
		}
	}
	if out, err := run(root, filepath.Join(root, "hack", "e2e-node", "images.sh"), filepath.Join(n.e2e, "images"), n.hookrun, n.hookrunStep); err != nil {
		return n, err
	} else if s := strings.TrimSpace(out); s != "" {
		fmt.Println(s)
	}
	n.phase("images", start)

	start = time.Now()
	// A previous run killed hard may have left processes and mounts: clear them, then start clean.
	if out, err := run(root, filepath.Join(root, "hack", "e2e-node", "cleanup.sh"), n.run); err != nil {
		return n, err
	} else if s := strings.TrimSpace(out); s != "" {
		fmt.Println(s)
	}
	if err := os.RemoveAll(n.run); err != nil {
		return n, fmt.Errorf("clear %s: %w", n.run, err)
	}
	for _, d := range []string{"logs", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "pv", "git", "containerd/root", "containerd/state", "runc"} {
		if err := os.MkdirAll(filepath.Join(n.run, d), 0o755); err != nil {
			return n, err
		}
	}
	if err := n.startContainerd(); err != nil {
		return n, err
	}
	if err := n.importImages(); err != nil {
		return n, err
	}
	if err := n.startControlPlane(); err != nil {
		return n, err
	}
	if err := n.startKubernetesComponents(); err != nil {
		return n, err
	}
	n.phase("cluster-start", start)
	return n, nil
}

func (n *node) startContainerd() error {
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "hookrun-e2e",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q, "gateway": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": %q
    }
  }]
}
`, bridgeName, podSubnet, gatewayIP, filepath.Join(n.run, "cni", "ipam"))
	if err := os.WriteFile(filepath.Join(n.run, "cni", "net.d", "10-hookrun-e2e.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	// The bridge plugin enables IPv4 forwarding; cleanup.sh restores this value.
	if fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		if err := os.WriteFile(filepath.Join(n.run, "ip_forward.orig"), fwd, 0o644); err != nil {
			return err
		}
	}
	// containerd 1.6's CRI, everything under run/: root, state, sockets, runc state, network namespaces.
	// restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, runc could not lower oom_score_adj.
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(n.run, "containerd", "root"), filepath.Join(n.run, "containerd", "state"), n.ctrSock, n.ctrSock+".ttrpc",
		pauseImage, filepath.Join(n.run, "runc"), filepath.Join(n.run, "cni", "net.d"), filepath.Join(n.run, "certs.d"))
	cfgPath := filepath.Join(n.run, "containerd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := n.startProc("containerd", "containerd", "--config", cfgPath)
	if err != nil {
		return err
	}
	err = waitFor(30*time.Second, "containerd", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("containerd exited:\n%s", p.tail(30))
		}
		_, err := n.ctr("version")
		return err == nil, err
	})
	if err != nil {
		return err
	}
	n.events, err = n.watchEvents()
	return err
}

// ctr runs ctr against our containerd, in the CRI's namespace.
func (n *node) ctr(args ...string) (string, error) {
	return run(n.root, "ctr", append([]string{"--address", n.ctrSock, "--namespace", "k8s.io"}, args...)...)
}

// importImages imports each archive once under a name of its own (localhost/hookrun-e2e/NAME:NAME, the
// archive's tag being NAME), then tags it with the names the Pods use. No name is ever deleted: ctr's
// default import-DATE:TAG names, once removed, leave the CRI resolving the image by a name that is gone.
func (n *node) importImages() error {
	start := time.Now()
	data, err := os.ReadFile(filepath.Join(n.e2e, "images", "images.tsv"))
	if err != nil {
		return err
	}
	imported := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, archive, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("images.tsv: bad line %q", line)
		}
		src, done := imported[archive]
		if !done {
			tag := strings.TrimSuffix(filepath.Base(archive), ".tar")
			base := "localhost/hookrun-e2e/" + tag
			if _, err := n.ctr("images", "import", "--base-name", base, archive); err != nil {
				return err
			}
			src = base + ":" + tag
			imported[archive] = src
		}
		if _, err := n.ctr("images", "tag", "--force", src, name); err != nil {
			return err
		}
	}
	n.logf("images imported into containerd in %.1fs", time.Since(start).Seconds())
	return nil
}

// startControlPlane starts etcd + kube-apiserver (envtest) with hookrun's CRDs, their data and certs under
// run/ so that cleanup.sh recognises them if this process is killed.
func (n *node) startControlPlane() error {
	ctrllog.SetLogger(logr.Discard())
	scheme, err := api.NewScheme()
	if err != nil {
		return err
	}
	n.env = &envtest.Environment{
		BinaryAssetsDirectory: n.bin,
		CRDDirectoryPaths:     []string{filepath.Join(n.root, "deploy", "crds")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	for _, d := range []string{"etcd", "apiserver"} {
		if err := os.MkdirAll(filepath.Join(n.run, d), 0o700); err != nil {
			return err
		}
	}
	n.env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(n.run, "etcd")}
	// Pods reach the API server as in a cluster (in-cluster config, ServiceAccount tokens): see
	// writeAPIServerCerts. The ServiceAccount admission plugin (envtest turns it off) mounts their tokens.
	ca, err := writeAPIServerCerts(filepath.Join(n.run, "apiserver"))
	if err != nil {
		return err
	}
	apiserver := &envtest.APIServer{CertDir: filepath.Join(n.run, "apiserver")}
	apiserver.SecureServing.CA = ca
	args := apiserver.Configure().
		Disable("disable-admission-plugins").
		Set("bind-address", "0.0.0.0").
		Set("advertise-address", gatewayIP).
		Set("service-cluster-ip-range", serviceCIDR)
	// kubectl logs and tkn read step logs from the kubelet through the API server: the kubelet accepts
	// only the API server's client certificate, and serves one the API server checks.
	if n.kubeletPKI, err = kubeletpki.Generate(filepath.Join(n.run, "kubelet-pki"), hostAddresses()); err != nil {
		return err
	}
	for _, f := range n.kubeletPKI.APIServerFlags() {
		args.Set(f[0], f[1])
	}
	n.env.ControlPlane.APIServer = apiserver
	cfg, err := n.env.Start()
	if err != nil {
		n.env = nil
		return fmt.Errorf("control plane: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	n.cfg = cfg
	if n.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	c := clientcmdapi.NewConfig()
	c.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["e2e"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e", Namespace: "default"}
	c.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*c, n.kubeconfig)
}

// startKubernetesComponents starts kube-controller-manager (PV binder, garbage collector, namespaces),
// kube-scheduler and the kubelet, and waits for the node to be Ready.
func (n *node) startKubernetesComponents() error {
	kcm, err := n.startProc("kube-controller-manager", filepath.Join(n.bin, "kube-controller-manager"),
		"--kubeconfig="+n.kubeconfig,
		"--authentication-skip-lookup=true",
		// The deploy test's Deployments, Services and ServiceAccount tokens need the workload, endpoint
		// slice, ServiceAccount and root CA controllers; the others serve the run Pods' volumes and cleanup.
		"--controllers=node-lifecycle-controller,persistentvolume-binder-controller,garbage-collector-controller,namespace-controller,persistentvolume-protection-controller,persistentvolumeclaim-protection-controller,"+
			"deployment-controller,replicaset-controller,disruption-controller,endpoints-controller,endpointslice-controller,"+
			"serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller",
		"--root-ca-file="+filepath.Join(n.run, "apiserver", apiserverCAFile),
		"--service-account-private-key-file="+filepath.Join(n.run, "apiserver", saSigningKeyFile),
		"--leader-elect=false",
		"--secure-port=0",
		"--cert-dir="+filepath.Join(n.run, "kcm-certs"),
		"--v=1")
	if err != nil {
		return err
	}
	proxy, err := n.startKubeProxy()
	if err != nil {
		return err
	}
	schedCfg := filepath.Join(n.run, "kube-scheduler.yaml")
	if err := os.WriteFile(schedCfg, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %s
leaderElection:
  leaderElect: false
`, n.kubeconfig)), 0o644); err != nil {
		return err
	}
	sched, err := n.startProc("kube-scheduler", filepath.Join(n.bin, "kube-scheduler"), "--config="+schedCfg, "--secure-port=0",
		"--cert-dir="+filepath.Join(n.run, "scheduler-certs"), "--v=1")
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	kubeletCfg := filepath.Join(n.run, "kubelet.yaml")
	// cgroup v1 host: failCgroupV1 false, cgroupfs, no QoS cgroups, no node allocatable enforcement.
	// Anonymous and webhook authentication off: only the API server's client certificate is accepted (for
	// kubectl logs and tkn); the suite itself reads container logs from podLogsDir.
	if err := os.WriteFile(kubeletCfg, []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://%[1]s
imageServiceEndpoint: unix://%[1]s
address: 0.0.0.0
port: %[2]d
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %[4]s
tlsPrivateKeyFile: %[5]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[6]s}
authorization:
  mode: AlwaysAllow
podLogsDir: %[3]s
enableControllerAttachDetach: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
resolvConf: /etc/resolv.conf
`, n.ctrSock, port, filepath.Join(n.run, "pod-logs"), n.kubeletPKI.ServingCert, n.kubeletPKI.ServingKey, n.kubeletPKI.CACert)), 0o644); err != nil {
		return err
	}
	kubelet, err := n.startProc("kubelet", filepath.Join(n.bin, "kubelet"),
		"--config="+kubeletCfg,
		"--kubeconfig="+n.kubeconfig,
		"--root-dir="+filepath.Join(n.run, "kubelet"),
		"--hostname-override="+nodeName,
		"--v=1")
	if err != nil {
		return err
	}
	ctx := context.Background()
	err = waitFor(120*time.Second, "node "+nodeName+" Ready", func() (bool, error) {
		for _, p := range []*proc{kcm, sched, kubelet, proxy} {
			if p.exited() {
				return false, fmt.Errorf("%s exited:\n%s", p.name, p.tail(40))
			}
		}
		var no corev1.Node
		if err := n.client.Get(ctx, client.ObjectKey{Name: nodeName}, &no); err != nil {
			return false, err
		}
		for _, c := range no.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return true, nil
				}
				return false, fmt.Errorf("Ready=%s: %s", c.Status, c.Message)
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("%w\nkubelet log:\n%s", err, kubelet.tail(40))
	}
	// hostPath PersistentVolumes for the examples' volumeClaimTemplate workspaces; the real PV binder binds them.
	for i := 0; i < pvPool; i++ {
		dir := filepath.Join(n.run, "pv", strconv.Itoa(i))
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e2e-pv-%02d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: dir, Type: ptrTo(corev1.HostPathDirectoryOrCreate)}},
			},
		}
		if err := n.client.Create(ctx, pv); err != nil {
			return fmt.Errorf("create PV: %w", err)
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

// startHookrun starts `hookrun executor` and `hookrun listener` (the static binary of the hookrun image) as
// subprocesses, as they run in a cluster.
func (n *node) startHookrun(listenerNS string) error {
	exe, err := n.startProc("hookrun-executor", n.hookrun, "executor",
		"--kubeconfig="+n.kubeconfig,
		"--leader-elect=false",
		"--metrics-addr=0",
		"--health-addr=",
		"--hookrun-image="+hookrunImage,
		// No el-NAME Deployments for the suite's EventListeners: the deploy test checks those, with the
		// executor of deploy/.
		"--eventlisteners=false",
		"--git-image="+gitImage,
		"--kaniko-image="+kanikoImage)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	lis, err := n.startProc("hookrun-listener", n.hookrun, "listener",
		"--kubeconfig="+n.kubeconfig,
		"--namespace="+listenerNS,
		"--eventlistener=github-listener",
		"--addr="+addr)
	if err != nil {
		return err
	}
	n.hookURL = "http://" + addr
	return waitFor(60*time.Second, "hookrun listener /readyz", func() (bool, error) {
		for _, p := range []*proc{exe, lis} {
			if p.exited() {
				return false, fmt.Errorf("%s exited:\n%s", p.name, p.tail(30))
			}
		}
		return httpOK(n.hookURL + "/readyz"), nil
	})
}

// startGitServer makes a repository with a passing test.sh and serves it with `git daemon` on the pod
// network's gateway address, where the Pods clone it from.
func (n *node) startGitServer() error {
	base := filepath.Join(n.run, "git")
	work := filepath.Join(n.run, "git-work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"README.md":  "# demo\n\nThe repository the real-node e2e clones over the pod network.\n",
		"test.sh":    "#!/bin/sh\nset -e\necho \"running tests in $(pwd)\"\ntest -f README.md\necho \"all tests passed\"\n",
		"Dockerfile": "FROM alpine:3.20\nCOPY README.md /\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "."},
		{"-c", "user.name=hookrun", "-c", "user.email=e2e@hookrun.invalid", "commit", "--quiet", "-m", "first commit"},
		{"clone", "--quiet", "--bare", work, filepath.Join(base, "repo.git")},
	} {
		if _, err := run(work, "git", args...); err != nil {
			return err
		}
	}
	out, err := run(work, "git", "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	n.repoSHA = strings.TrimSpace(out)
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := n.startProc("git-daemon", "git", "daemon", "--reuseaddr", "--export-all", "--base-path="+base,
		"--listen="+gatewayIP, fmt.Sprintf("--port=%d", port), base)
	if err != nil {
		return err
	}
	n.gitURL = fmt.Sprintf("git://%s:%d", gatewayIP, port)
	return waitFor(20*time.Second, "git daemon", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("git daemon exited:\n%s", p.tail(20))
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", gatewayIP, port), time.Second)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
}

// stop tears everything down: Pods first (the kubelet stops their sandboxes, so CNI releases addresses and
// network namespaces), then the kubelet and the other components, the containers left, containerd, the
// control plane, and finally cleanup.sh for anything that escaped.
func (n *node) stop() {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.stopped = true
	procs := append([]*proc(nil), n.procs...)
	n.mu.Unlock()
	start := time.Now()
	byName := map[string]*proc{}
	for _, p := range procs {
		byName[p.name] = p
	}
	for _, name := range []string{"traefik", "hookrun-listener", "hookrun-executor", "git-daemon"} {
		if p := byName[name]; p != nil {
			p.stop(10 * time.Second)
		}
	}
	// The controller-manager first: its ReplicaSets would replace the Pods deleted below.
	if p := byName["kube-controller-manager"]; p != nil {
		p.stop(15 * time.Second)
	}
	if n.client != nil && byName["kubelet"] != nil && !byName["kubelet"].exited() {
		ctx := context.Background()
		var pods corev1.PodList
		if err := n.client.List(ctx, &pods); err == nil {
			for i := range pods.Items {
				_ = n.client.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(0))
			}
		}
		_ = waitFor(60*time.Second, "sandboxes stopped", func() (bool, error) {
			out, err := n.ctr("tasks", "ls", "-q")
			return err == nil && strings.TrimSpace(out) == "", err
		})
	}
	for _, name := range []string{"kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager"} {
		if p := byName[name]; p != nil {
			p.stop(15 * time.Second)
		}
	}
	if p := byName["containerd"]; p != nil && !p.exited() {
		if out, err := n.ctr("tasks", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = n.ctr("tasks", "kill", "-s", "SIGKILL", id)
				_, _ = n.ctr("tasks", "delete", "-f", id)
			}
		}
		if n.events != nil {
			n.events.stop()
		}
		p.stop(15 * time.Second)
	}
	if n.env != nil {
		if err := n.env.Stop(); err != nil {
			n.logf("control plane stop: %v", err)
		}
	}
	if out, err := run(n.root, filepath.Join(n.root, "hack", "e2e-node", "cleanup.sh"), n.run); err != nil {
		n.logf("cleanup: %v", err)
	} else if s := strings.TrimSpace(out); s != "" {
		fmt.Println(s)
	}
	// containerd's content and snapshots (~500 MB) go; logs stay for a post-mortem until the next run.
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && !strings.Contains(string(mi), " "+n.run+"/") {
		_ = os.RemoveAll(filepath.Join(n.run, "containerd"))
	}
	n.logf("stopped everything in %.1fs (logs of each component in %s)", time.Since(start).Seconds(), filepath.Join(n.run, "logs"))
}

// readLogLines reads a CRI container log file: "TIMESTAMP STREAM TAG TEXT" lines.
func readLogLines(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) < 4 {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, parts[0])
		if err != nil {
			continue
		}
		out = append(out, logLine{At: ts, Stream: parts[1], Text: parts[3]})
	}
	return out, sc.Err()
}

type logLine struct {
	At     time.Time
	Stream string
	Text   string
}

// containerLog returns the log lines of one container of a Pod (its first attempt), from podLogsDir.
func (n *node) containerLog(pod *corev1.Pod, container string) ([]logLine, error) {
	dir := filepath.Join(n.run, "pod-logs", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), container)
	return readLogLines(filepath.Join(dir, "0.log"))
}

// podLogs returns all the text a Pod's containers wrote, container by container in spec order.
func (n *node) podLogs(pod *corev1.Pod) string {
	var b strings.Builder
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		lines, err := n.containerLog(pod, c.Name)
		if err != nil {
			continue
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "[%s] %s\n", c.Name, l.Text)
		}
	}
	return b.String()
}

// hostAddresses are the names and addresses the kubelet's serving certificate covers: the API server
// dials the node's InternalIP, which the kubelet picks among this host's addresses.
func hostAddresses() []string {
	out := []string{"127.0.0.1", "localhost", nodeName}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

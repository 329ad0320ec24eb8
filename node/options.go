package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
)

// Defaults used when the corresponding Options field is empty.
const (
	DefaultNodeName  = "hookrun-local"
	DefaultStateDir  = ".hookrun/node"
	DefaultSelfImage = "ghcr.io/hookrun/hookrun:*"
	// DefaultKubeletAddr is where the kubelet API listens: any free port on the loopback interface, the
	// Node's published InternalIP.
	DefaultKubeletAddr = localIP + ":0"
)

// MountMode selects how volume mountPaths are made visible to the processes of a Pod.
type MountMode string

// Mount modes; see the package documentation.
const (
	// MountAuto uses MountNamespace when it works on this machine (root on Linux), else MountRewrite.
	MountAuto MountMode = ""
	// MountNamespace runs every process in its own mount namespace with volumes bind-mounted at their
	// literal mountPaths.
	MountNamespace MountMode = "namespace"
	// MountRewrite rewrites mountPath prefixes in command, args, env and workingDir to host directories.
	MountRewrite MountMode = "rewrite"
)

// Options configure an Agent. Only Config is required.
type Options struct {
	// Config reaches the Kubernetes API server.
	Config *rest.Config
	// NodeName is the name of the Node the agent registers (default "hookrun-local").
	NodeName string
	// StateDir holds pod directories, volumes, PVC directories and logs (default ".hookrun/node").
	StateDir string
	// SelfImages are image patterns treated as hookrun's own image: a container with such an image whose
	// command is "hookrun" runs SelfPath. A pattern is matched with path.Match against the full image
	// reference; a pattern ending in ":*" also matches the same repository with no tag or with a digest.
	// Default: "ghcr.io/hookrun/hookrun:*".
	SelfImages []string
	// SelfPath is the hookrun binary (default os.Executable). It must implement the hidden
	// `node exec-in-mounts` command used by MountNamespace.
	SelfPath string
	// StepPath is the small step binary (cmd/hookrun-step) a self-image container whose command is
	// "hookrun-step" runs (the executor's prepare). Default: hookrun-step beside SelfPath when it exists;
	// otherwise such a container runs `SelfPath step …`, which serves the same commands.
	StepPath string
	// Capacity overrides entries of the Node's capacity (and allocatable). Defaults: cpu = number of CPUs,
	// memory = MemTotal, pods = 110.
	Capacity corev1.ResourceList
	// Labels are extra Node labels (kubernetes.io/hostname, os and arch are always set).
	Labels map[string]string
	// Shell is the host program run for a step image's sh and ash (scripts with #!/bin/sh, #!/bin/ash,
	// #!/usr/bin/env sh|ash or no shebang, and sh/ash commands), as an argv. nil: busybox's sh when a
	// busybox is on PATH, else bash, else the host's /bin/sh; an empty non-nil slice: the host's /bin/sh.
	Shell []string
	// Mounts selects the mount mechanism (default MountAuto).
	Mounts MountMode
	// DisableBinding stops the agent from binding unscheduled Pods; it then only runs Pods whose
	// spec.nodeName already names its Node.
	DisableBinding bool
	// HeartbeatInterval is how often the Lease and the Node's Ready condition are renewed (default 10s).
	HeartbeatInterval time.Duration
	// StopGracePeriod caps the SIGTERM→SIGKILL delay when the agent stops (default 5s). Pod deletion uses
	// the Pod's own grace period, capped at 30s.
	StopGracePeriod time.Duration
	// Version is reported as the Node's kubeletVersion suffix (default "dev").
	Version string
	// Logger receives the agent's structured logs (default slog.Default()).
	Logger *slog.Logger

	// The kubelet API (GET /containerLogs/..., what kube-apiserver calls for pods/log and so kubectl logs)
	// is served over TLS when the three files are given, else not at all. Only clients with a certificate
	// signed by KubeletClientCAFile are answered: give kube-apiserver a client certificate from that CA
	// (--kubelet-client-certificate/--kubelet-client-key) and the CA of KubeletCertFile
	// (--kubelet-certificate-authority); package kubeletpki makes such a set.
	//
	// KubeletCertFile and KubeletKeyFile are the serving certificate; it must be valid for the address
	// kube-apiserver dials: the Node's InternalIP, 127.0.0.1 (see kubeletpki.Files.APIServerFlags).
	KubeletCertFile, KubeletKeyFile string
	// KubeletClientCAFile holds the CA certificate(s) that client certificates must chain to.
	KubeletClientCAFile string
	// KubeletAddr is where the kubelet API listens (default "127.0.0.1:0": a free port on the loopback
	// interface). The port in use is published in the Node's status.daemonEndpoints.kubeletEndpoint.
	KubeletAddr string
}

func (o *Options) setDefaults() error {
	if o.Config == nil {
		return errors.New("node: Options.Config is required")
	}
	if o.NodeName == "" {
		o.NodeName = DefaultNodeName
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return fmt.Errorf("node: state dir: %w", err)
	}
	o.StateDir = abs
	if len(o.SelfImages) == 0 {
		o.SelfImages = []string{DefaultSelfImage}
	}
	for _, p := range o.SelfImages {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("node: self image pattern %q: %w", p, err)
		}
	}
	if o.SelfPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("node: find own executable: %w", err)
		}
		o.SelfPath = exe
	}
	if o.SelfPath, err = filepath.Abs(o.SelfPath); err != nil {
		return fmt.Errorf("node: self path: %w", err)
	}
	if o.Shell == nil {
		o.Shell = defaultShell(exec.LookPath)
	}
	if o.StepPath == "" {
		if p := filepath.Join(filepath.Dir(o.SelfPath), StepBinary); isExecutable(p) {
			o.StepPath = p
		}
	} else if o.StepPath, err = filepath.Abs(o.StepPath); err != nil {
		return fmt.Errorf("node: step path: %w", err)
	}
	switch o.Mounts {
	case MountAuto, MountNamespace, MountRewrite:
	default:
		return fmt.Errorf("node: unknown mount mode %q", o.Mounts)
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 10 * time.Second
	}
	if o.StopGracePeriod <= 0 {
		o.StopGracePeriod = 5 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.KubeletAddr == "" {
		o.KubeletAddr = DefaultKubeletAddr
	}
	return nil
}

// capacity returns the Node's capacity: detected defaults overridden by Options.Capacity.
func (o *Options) capacity() corev1.ResourceList {
	c := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
	}
	for k, v := range o.Capacity {
		c[k] = v.DeepCopy()
	}
	return c
}

// memTotal reads MemTotal from /proc/meminfo (4Gi when unknown).
func memTotal() int64 {
	const fallback = 4 << 30
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallback
	}
	defer f.Close()
	return parseMemTotal(f, fallback)
}

func parseMemTotal(r io.Reader, fallback int64) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return fallback
}

// isSelfImage reports whether image matches one of the patterns.
func isSelfImage(patterns []string, image string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, image); ok {
			return true
		}
		if repo, found := strings.CutSuffix(p, ":*"); found {
			if image == repo || strings.HasPrefix(image, repo+"@") {
				return true
			}
			// "repo:tag@sha256:…"
			if strings.HasPrefix(image, repo+":") {
				return true
			}
		}
	}
	return false
}

// StepBinary is the name of the small step binary (cmd/hookrun-step) the executor's prepare runs.
const StepBinary = "hookrun-step"

// selfCommand is the argv of a container with a command: for a self-image container, "hookrun" (or a
// path ending in /hookrun) is SelfPath, and "hookrun-step" (or …/hookrun-step) is StepPath, or
// `SelfPath step` when there is no small binary.
func (a *Agent) selfCommand(self bool, command []string) []string {
	argv := append([]string(nil), command...)
	if !self {
		return argv
	}
	switch is := func(name string) bool { return argv[0] == name || strings.HasSuffix(argv[0], "/"+name) }; {
	case is("hookrun"):
		argv[0] = a.opts.SelfPath
	case is(StepBinary) && a.opts.StepPath != "":
		argv[0] = a.opts.StepPath
	case is(StepBinary):
		argv = append([]string{a.opts.SelfPath, "step"}, argv[1:]...)
	}
	return argv
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

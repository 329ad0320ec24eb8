package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hookrun/hookrun/node"
)

const nodeHelp = `
Runs Pods bound to a Node as local processes, for machines without a kubelet or a container runtime
(make run, hookrun dev and e2e tests). It registers the Node (Ready, with capacity) and keeps its Lease in
kube-node-lease renewed.

Binding: there is no kube-scheduler, so the agent binds (pods/binding, like a scheduler) every Pod with an
empty spec.nodeName whose schedulerName is empty or default-scheduler, that has no schedulingGates, and whose
nodeSelector and required node affinity match this Node (while the Node is not cordoned and runs fewer
Pods than its pods capacity). Resource requests, taints and pod affinity are not considered. --bind=false
turns this off. Pods bound to other nodes are never touched.

Running: init containers in order (native sidecars kept running in the background), then containers in
parallel, with restartPolicy Never semantics. Images are ignored: command/args, env/envFrom, workingDir and
volumes are honoured; a container with command "hookrun" and a --self-image image runs this binary (command
"hookrun-step": --step-path, the executor's prepare). A
container with no command (only an image entrypoint, e.g. Kaniko) fails with reason ContainerRuntimeRequired:
it needs a real node. Logs: <state>/pods/<namespace>/<pod>/<container>.log; with --tls-cert-file,
--tls-private-key-file and --client-ca-file the agent serves them like a kubelet (GET /containerLogs on
--kubelet-address, published in the Node's daemonEndpoints) to clients with a certificate from that CA, i.e.
kube-apiserver's --kubelet-client-certificate, so kubectl logs and 'hookrun logs' work.

Mounts: volumes are directories under --state (emptyDir, secret, configMap, downwardAPI per Pod; a
PersistentVolumeClaim is <state>/pvc/<namespace>/<claim>, shared by every Pod using the claim; hostPath is the
real path). With --mounts=namespace (auto's choice on Linux when it works) each process runs in its own
mount namespace (inside a user namespace when not root) whose root mirrors the host with the volumes
bind-mounted at their literal mountPaths, so /workspace/source and /tekton/results exist as the Pod says
(nothing is created on the host). With --mounts=rewrite (the fallback) mountPath prefixes in command, args,
env values and workingDir are rewritten to the host directories and HOOKRUN_MOUNTS lists the mapping; paths
inside scripts or compiled into programs are not rewritten.
`

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == node.ExecInMountsCommand {
		// Hidden helper: runs in a fresh mount namespace and execs the container's command.
		os.Exit(node.ExecInMounts(args[1:]))
	}
	fs := newFlags("node", "node [flags]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(stderr, nodeHelp)
	}
	var selfImages stringList
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, in-cluster, ~/.kube/config)")
	nodeName := fs.String("node-name", node.DefaultNodeName, "name of the Node to register")
	state := fs.String("state", node.DefaultStateDir, "state directory: logs, volumes, PVC directories")
	fs.Var(&selfImages, "self-image", "image pattern treated as hookrun's own image; repeatable (default "+node.DefaultSelfImage+")")
	selfPath := fs.String("self-path", "", "hookrun binary run for self-image containers (default: this executable)")
	stepPath := fs.String("step-path", "", "hookrun-step binary run for self-image containers whose command is hookrun-step (default: hookrun-step beside --self-path, else `SELF step`)")
	mounts := fs.String("mounts", "auto", "mount mechanism: auto, namespace or rewrite")
	bind := fs.Bool("bind", true, "bind unscheduled Pods to this node (see the binding rule below)")
	heartbeat := fs.Duration("heartbeat", 10*time.Second, "Lease and Ready heartbeat interval")
	tlsCert := fs.String("tls-cert-file", "", "kubelet API serving certificate (valid for 127.0.0.1, the Node's InternalIP)")
	tlsKey := fs.String("tls-private-key-file", "", "kubelet API serving key")
	clientCA := fs.String("client-ca-file", "", "CA that kube-apiserver's kubelet client certificate is signed by")
	kubeletAddr := fs.String("kubelet-address", node.DefaultKubeletAddr, "kubelet API listen address (port 0: any free port)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookrun node: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	mode := node.MountMode(*mounts)
	switch mode {
	case "auto":
		mode = node.MountAuto
	case node.MountNamespace, node.MountRewrite:
	default:
		fmt.Fprintf(stderr, "hookrun node: --mounts must be auto, namespace or rewrite, not %q\n", *mounts)
		return errUsage
	}
	cfg, err := loadKubeConfig(*kubeconfig)
	if err != nil {
		return err
	}
	agent, err := node.New(node.Options{
		Config:              cfg,
		NodeName:            *nodeName,
		StateDir:            *state,
		SelfImages:          selfImages,
		SelfPath:            *selfPath,
		StepPath:            *stepPath,
		Mounts:              mode,
		DisableBinding:      !*bind,
		HeartbeatInterval:   *heartbeat,
		Version:             version,
		Logger:              newLogger(stderr, slog.LevelInfo),
		KubeletCertFile:     *tlsCert,
		KubeletKeyFile:      *tlsKey,
		KubeletClientCAFile: *clientCA,
		KubeletAddr:         *kubeletAddr,
	})
	if err != nil {
		return err
	}
	return agent.Run(ctx)
}

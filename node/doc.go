// Package node is hookrun's node agent: a small kubelet stand-in that runs Pods as local processes, for
// `make run`, `hookrun dev` and end-to-end tests on machines without a kubelet, a container runtime or a
// kube-scheduler.
//
// # Node
//
// The agent registers a Node (default name "hookrun-local") with a Ready condition, capacity and allocatable
// (cpu, memory, pods), nodeInfo and addresses (127.0.0.1), keeps its Lease in kube-node-lease renewed and
// refreshes the Ready heartbeat on the same interval.
//
// Like a kubelet, the agent only watches its own Pods (spec.nodeName=<node>), plus unscheduled ones when
// binding is on.
//
// # Binding rule
//
// There is no kube-scheduler, so the agent binds Pods itself, through the pods/binding subresource exactly
// like a scheduler would. A Pod is bound to this node when all of these hold:
//   - spec.nodeName is empty, the Pod is not terminal and not being deleted, and it has no schedulingGates;
//   - spec.schedulerName is empty or "default-scheduler";
//   - spec.nodeSelector matches the Node's labels and the required node affinity (if any) matches the Node
//     (labels and the metadata.name field);
//   - the Node is not cordoned (spec.unschedulable) and runs fewer non-terminal Pods than its "pods" capacity.
//
// Resource requests, taints/tolerations and inter-pod affinity are not considered. Binding can be switched
// off (Options.DisableBinding). The agent runs every Pod whose spec.nodeName is this node and never touches
// Pods bound to other nodes.
//
// # Running a Pod
//
// Init containers run in order; native sidecars (init containers with restartPolicy Always) are started in
// the background, restarted with back-off if they exit, and killed when the Pod ends. Then all containers run
// in parallel. The Pod has restartPolicy Never semantics whatever it asks for: a failed init container fails
// the Pod (later ones stay waiting with reason PodInitializing), and the Pod ends Succeeded only if every
// container exits 0. Images are ignored: command and args are run (with Kubernetes $(VAR) expansion), env and
// envFrom are resolved from Secrets, ConfigMaps and the downward API, workingDir is created when missing.
// A container whose command[0] is "hookrun" (or ends in "/hookrun") and whose image is one of hookrun's own
// images (Options.SelfImages) runs Options.SelfPath; command[0] "hookrun-step" (or ".../hookrun-step", the
// executor's prepare and hookrun-results) runs Options.StepPath, hookrun-step beside SelfPath by default,
// or `SelfPath step …` when there is none. A container without a command whose image is one of
// the official shell images without an entrypoint (busybox, alpine, ubuntu, debian, fedora, centos; bash,
// whose entrypoint runs its args) runs its args as the command, as a container runtime would. Any other
// container without a command cannot run here (its entrypoint is only known to a container runtime): it
// fails with reason ContainerRuntimeRequired and exit code 127, never faked as success.
//
// A native sidecar's exec startupProbe runs in the sidecar's environment and mounts; the next init
// container starts only once it succeeded (failureThreshold failures restart the sidecar). Other probes are
// not run.
//
// Each process runs in its own process group; when a container ends, what it left behind in its group is
// killed, as when a container's PID 1 exits. Process groups are recorded in the Pod directory, so an agent
// started after a crash kills what the crashed one left behind. activeDeadlineSeconds kills the Pod (reason DeadlineExceeded);
// deleting the Pod kills it (SIGTERM, then SIGKILL after the grace period) and confirms the deletion with
// grace period 0. Pods left non-terminal by an earlier agent process (crash or restart) are marked Failed with
// reason NodeAgentRestarted; on a clean stop the agent marks the Pods it was running Failed with reason
// NodeAgentStopped.
//
// # Volumes and the mount mechanism
//
// Volumes are directories under the state directory: emptyDir, secret, configMap, downwardAPI and projected
// volumes live in <state>/pods/<ns>/<pod>/volumes/<volume>, a PersistentVolumeClaim is <state>/pvc/<ns>/<claim>
// (so a workspace persists across the TaskRuns that use the claim), hostPath is the real path.
//
// Processes are not in containers, so a mountPath such as /tekton/bin or /workspace/source has to be made
// real. Two mechanisms exist (Options.Mounts):
//
//   - MountNamespace (the default on Linux whenever the probe at start-up succeeds): the agent starts
//     `SelfPath node exec-in-mounts SPEC` in a new mount namespace (CLONE_NEWNS, private propagation); when
//     the agent is not root, inside a new user namespace mapping its user to root (like `unshare -r -m`,
//     needs unprivileged user namespaces). That helper builds a root on a tmpfs mirroring the host's
//     top-level directories with recursive bind mounts, bind-mounts every volume (and the per-container
//     termination-message file) at its literal mountPath (read-only when asked; subPath honoured), chroots
//     into it and execs the container's command. Paths are therefore exactly what the Pod says, including
//     inside scripts and in defaults compiled into programs; a missing mount point is created in a tmpfs
//     overlay of its parent, never on the host. The process still sees the host's filesystem, network and
//     PIDs: this is not isolation.
//   - MountRewrite (fallback when no namespace can be made): every occurrence of a mountPath prefix (longest
//     first) in command, args, env values and workingDir is rewritten to its host directory, the
//     terminationMessagePath likewise. HOOKRUN_MOUNTS (containerPath=hostPath pairs joined by ":") is
//     exported so wrappers can translate paths they compute themselves. Paths hidden inside files (a script
//     that cd's to /workspace/source) or compiled-in defaults are not rewritten.
//
// # Logs
//
// Each container's stdout and stderr go, interleaved, through a pipe the agent reads to LogPath(state, ns,
// pod, container), with an index of when each line was written beside it (a restarted container's earlier
// log is kept as its previous log). The agent serves them like a kubelet: GET
// /containerLogs/{namespace}/{pod}/{container} (follow, tailLines, sinceSeconds, sinceTime, timestamps,
// previous, limitBytes) over TLS on the port it publishes in the Node's daemonEndpoints, answering only
// clients whose certificate chains to Options.KubeletClientCAFile, i.e. kube-apiserver's kubelet client
// certificate: `kubectl logs` and every pods/log reader work as on a real node (see package kubeletpki for
// the certificates and the kube-apiserver flags). WriteLogs reads the files directly.
package node

package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Pod and container status reasons set by the agent.
const (
	// ReasonContainerRuntimeRequired: the container names no command, so only a container runtime knows what
	// to run (the image's entrypoint).
	ReasonContainerRuntimeRequired = "ContainerRuntimeRequired"
	// ReasonDeadlineExceeded: activeDeadlineSeconds passed.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonNodeAgentRestarted: the Pod was running under an earlier agent process; its processes were lost.
	ReasonNodeAgentRestarted = "NodeAgentRestarted"
	// ReasonNodeAgentStopped: the agent stopped (and killed the Pod's processes) before the Pod ended.
	ReasonNodeAgentStopped = "NodeAgentStopped"
	// ReasonUnsupported: the Pod asks for something the agent cannot provide (e.g. a CSI volume).
	ReasonUnsupported = "UnsupportedByNodeAgent"
)

const localIP = "127.0.0.1"

// Agent registers a Node and runs the Pods bound to it as local processes. Create it with New.
type Agent struct {
	opts     Options
	log      *slog.Logger
	cs       kubernetes.Interface
	capacity corev1.ResourceList
	mounts   MountMode // resolved in Run

	kubeletTLS  *tls.Config // nil: the kubelet API is not served
	kubeletPort int32       // published in the Node status; set in Run before the Node is registered

	ownPods     cache.Indexer // Pods bound to this node
	unboundPods cache.Indexer // Pods bound to no node (binding candidates)
	queue       workqueue.TypedRateLimitingInterface[string]

	mu       sync.Mutex
	runners  map[string]*podRunner // by namespace/name
	finished map[string]types.UID  // pods this agent ran to the end, by namespace/name
	wg       sync.WaitGroup        // runners and deletion confirmations
	stopping atomic.Bool           // Run's context is done: status writes are final-only and short
	baseCtx  context.Context       // outlives Run's context, for final status writes
}

// New validates the options and prepares an Agent; nothing is started until Run.
func New(opts Options) (*Agent, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("node: kubernetes client: %w", err)
	}
	tlsConfig, err := opts.kubeletTLS()
	if err != nil {
		return nil, err
	}
	return &Agent{
		opts:       opts,
		log:        opts.Logger.With("node", opts.NodeName),
		cs:         cs,
		capacity:   opts.capacity(),
		kubeletTLS: tlsConfig,
		runners:    map[string]*podRunner{},
		finished:   map[string]types.UID{},
	}, nil
}

// KubeletPort is the port of the kubelet API (container logs), 0 when it is not served. It is known once
// Run has registered the Node.
func (a *Agent) KubeletPort() int { return int(a.kubeletPort) }

// NodeName is the name of the Node the agent registers.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// StateDir is the absolute state directory (logs are under it, see LogPath).
func (a *Agent) StateDir() string { return a.opts.StateDir }

// MountMode is the mount mechanism in use; it is resolved when Run starts.
func (a *Agent) MountMode() MountMode { return a.mounts }

// Run registers the Node and runs Pods until ctx is done. On return every process the agent started has
// been killed (process groups included) and the Pods it was running are marked Failed (NodeAgentStopped).
func (a *Agent) Run(ctx context.Context) error {
	lock, err := a.prepareStateDir()
	if err != nil {
		return err
	}
	defer lock.Close()

	kubeletLn, err := a.setUp(ctx)
	if err != nil {
		return err
	}
	if kubeletLn != nil {
		defer kubeletLn.Close() // when Run fails before serving
	}
	if err := a.register(ctx); err != nil {
		return stoppedOr(ctx, err)
	}

	pods, err := a.wirePods()
	if err != nil {
		return err
	}
	informerCtx, stopInformers := context.WithCancel(ctx)
	defer stopInformers()
	pods.start(informerCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.own.HasSynced, pods.unbound.HasSynced) {
		// Only a cancelled ctx stops the wait: a stop before the first sync is a clean stop.
		a.queue.ShutDown()
		stopInformers()
		pods.shutdown()
		a.markNodeStopped()
		return nil
	}

	if kubeletLn != nil {
		srv := a.serveKubelet(kubeletLn)
		defer srv.Close()
	}
	a.serveUntilStopped(ctx, stopInformers, pods)
	return nil
}

// prepareStateDir creates the state dir (this user only) and locks it.
func (a *Agent) prepareStateDir() (*os.File, error) {
	// The state holds Pods' secret volumes, service account tokens and logs: this user only.
	if err := os.MkdirAll(a.opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: state dir: %w", err)
	}
	if err := os.Chmod(a.opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: state dir: %w", err)
	}
	return lockStateDir(a.opts.StateDir)
}

// setUp resolves the mounts and opens the kubelet API listener (nil when it is not served).
func (a *Agent) setUp(ctx context.Context) (net.Listener, error) {
	a.baseCtx = context.WithoutCancel(ctx)
	if err := a.resolveMounts(ctx); err != nil {
		return nil, err
	}
	kubeletLn, err := a.listenKubelet()
	if err != nil {
		return nil, err
	}
	if kubeletLn == nil {
		a.log.Info("kubelet API not served (no serving certificate and client CA): kubectl logs cannot reach this node")
	}
	return kubeletLn, nil
}

// register registers the Node and takes its first lease.
func (a *Agent) register(ctx context.Context) error {
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	if err := a.renewLease(ctx); err != nil {
		return err
	}
	a.log.Info("node agent started", "stateDir", a.opts.StateDir, "mounts", string(a.mounts),
		"binding", !a.opts.DisableBinding, "selfPath", a.opts.SelfPath,
		"shell", shellName(a.opts.Shell))
	return nil
}

// podInformers are the informers of this node's Pods and of the unscheduled ones.
type podInformers struct {
	ownFactory, unboundFactory informers.SharedInformerFactory
	own, unbound               cache.SharedIndexInformer
}

func (p *podInformers) start(stop <-chan struct{}) {
	p.ownFactory.Start(stop)
	p.unboundFactory.Start(stop)
}

func (p *podInformers) shutdown() {
	p.ownFactory.Shutdown()
	p.unboundFactory.Shutdown()
}

// wirePods builds the Pod informers and the work queue they feed.
func (a *Agent) wirePods() (*podInformers, error) {
	// Like a kubelet, watch only this node's Pods, plus the unscheduled ones for binding.
	selected := func(nodeName string) informers.SharedInformerFactory {
		return informers.NewSharedInformerFactoryWithOptions(a.cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
	}
	p := &podInformers{ownFactory: selected(a.opts.NodeName), unboundFactory: selected("")}
	p.own = p.ownFactory.Core().V1().Pods().Informer()
	p.unbound = p.unboundFactory.Core().V1().Pods().Informer()
	a.ownPods, a.unboundPods = p.own.GetIndexer(), p.unbound.GetIndexer()
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hookrun-node"})
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			a.queue.Add(key)
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}
	for _, inf := range []cache.SharedIndexInformer{p.own, p.unbound} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("node: pod informer: %w", err)
		}
	}
	return p, nil
}

// serveUntilStopped runs the workers and the heartbeat until ctx is cancelled, then stops them, the
// informers and every Pod's runner.
func (a *Agent) serveUntilStopped(ctx context.Context, stopInformers func(), pods *podInformers) {
	var workers sync.WaitGroup
	for range 2 {
		workers.Go(func() {
			for a.processNext(ctx) {
			}
		})
	}
	workers.Go(func() { a.heartbeat(ctx) })

	<-ctx.Done()
	a.stopping.Store(true)
	a.queue.ShutDown()
	workers.Wait()
	stopInformers()
	pods.shutdown()

	a.mu.Lock()
	for _, r := range a.runners {
		r.stop(errAgentStopping, a.opts.StopGracePeriod)
	}
	a.mu.Unlock()
	a.wg.Wait()
	a.markNodeStopped()
	a.log.Info("node agent stopped")
}

// lockStateDir takes an exclusive lock so that two agents never share a state directory.
func lockStateDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("node: lock state dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("node: state dir %s is in use by another node agent: %w", dir, err)
	}
	return f, nil
}

// resolveMounts picks the mount mechanism, probing the exec-in-mounts helper for MountAuto.
func (a *Agent) resolveMounts(ctx context.Context) error {
	a.mounts = a.opts.Mounts
	if a.mounts == MountRewrite {
		return nil
	}
	err := a.probeNamespace(ctx)
	switch {
	case err == nil:
		a.mounts = MountNamespace
	case a.opts.Mounts == MountNamespace:
		return fmt.Errorf("node: mount namespaces unavailable: %w", err)
	default:
		a.log.Warn("mount namespaces unavailable; rewriting mount paths instead", "err", err)
		a.mounts = MountRewrite
	}
	return nil
}

func (a *Agent) probeNamespace(ctx context.Context) error {
	if !namespaceSupported {
		return errors.New("mount namespaces need Linux")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.opts.SelfPath, "node", ExecInMountsCommand, "--probe", a.rootfsDir())
	cmd.Env = []string{}
	cmd.SysProcAttr = sysProcAttr(true)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s node %s --probe: %w: %s", a.opts.SelfPath, ExecInMountsCommand, err, out)
	}
	return nil
}

// rootfsDir is the (always empty on the host) directory on which each mount namespace builds its root.
func (a *Agent) rootfsDir() string { return filepath.Join(a.opts.StateDir, ".rootfs") }

func (a *Agent) processNext(ctx context.Context) bool {
	key, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(key)
	if err := a.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("sync pod", "pod", key, "err", err)
		}
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	return true
}

// sync brings one Pod (by namespace/name) in line: bind it, run it, kill it or confirm its deletion.
func (a *Agent) sync(ctx context.Context, key string) error {
	obj, exists, err := a.ownPods.GetByKey(key)
	if err == nil && !exists {
		obj, exists, err = a.unboundPods.GetByKey(key)
	}
	if err != nil {
		return err
	}
	if !exists {
		a.podGone(key, "")
		return nil
	}
	pod := obj.(*corev1.Pod)
	switch {
	case pod.Spec.NodeName == "":
		if a.opts.DisableBinding || !a.shouldBind(ctx, pod) {
			return nil
		}
		return a.bind(ctx, pod)
	case pod.Spec.NodeName != a.opts.NodeName:
		return nil
	case pod.DeletionTimestamp != nil:
		a.handleDeletion(pod)
		return nil
	}
	return a.ensureRunning(ctx, key, pod)
}

// podGone stops the runner of a Pod that no longer exists (or was replaced by another Pod of the same name).
func (a *Agent) podGone(key string, keep types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.runners[key]; r != nil && r.uid != keep {
		r.stop(errPodDeleted, 0)
	}
	if uid, ok := a.finished[key]; ok && uid != keep {
		delete(a.finished, key)
	}
}

func (a *Agent) ensureRunning(ctx context.Context, key string, pod *corev1.Pod) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.runners[key]; r != nil {
		if r.uid != pod.UID {
			// The old Pod of this name is gone; start the new one once the old runner has finished.
			r.stop(errPodDeleted, 0)
			go func() {
				<-r.done
				a.queue.Add(key)
			}()
		}
		return nil
	}
	if uid, ok := a.finished[key]; ok {
		if uid == pod.UID {
			return nil
		}
		delete(a.finished, key)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	if startedEarlier(pod) {
		// Our processes for this Pod died with an earlier agent: never leave it Running forever.
		a.finished[key] = pod.UID
		a.wg.Go(func() { a.markLost(pod) })
		return nil
	}
	r := newPodRunner(a, pod)
	a.runners[key] = r
	a.wg.Go(func() {
		r.run()
		a.mu.Lock()
		if a.runners[key] == r {
			delete(a.runners, key)
			if !r.deleting {
				a.finished[key] = r.uid
			}
		}
		a.mu.Unlock()
	})
	return nil
}

// startedEarlier reports whether the Pod's status shows containers started by an earlier agent.
func startedEarlier(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodRunning {
		return true
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range list {
			if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// markLost fails a Pod whose processes were lost with an earlier agent process.
func (a *Agent) markLost(pod *corev1.Pod) {
	msg := "the hookrun node agent was restarted while this Pod was running; its processes were lost"
	dir := PodDir(a.opts.StateDir, pod.Namespace, pod.Name)
	if m, err := readPodMeta(dir); err == nil && m.UID == string(pod.UID) {
		if n := killLeftovers(dir); n > 0 {
			a.log.Warn("killed processes left by an earlier agent", "pod", pod.Namespace+"/"+pod.Name, "processes", n)
		}
	}
	now := metav1.Now()
	lost := func(list []corev1.ContainerStatus) {
		for i := range list {
			s := &list[i]
			if s.State.Running == nil {
				continue
			}
			s.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: ReasonNodeAgentRestarted, Message: msg,
				StartedAt: s.State.Running.StartedAt, FinishedAt: now,
			}}
			s.Ready = false
			s.Started = new(false)
		}
	}
	err := a.updatePodStatus(a.baseCtx, pod.Namespace, pod.Name, pod.UID, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodFailed
		st.Reason = ReasonNodeAgentRestarted
		st.Message = msg
		lost(st.InitContainerStatuses)
		lost(st.ContainerStatuses)
		setCondition(st, corev1.PodReady, corev1.ConditionFalse, "PodFailed", "")
		setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, "PodFailed", "")
	})
	if err != nil {
		a.log.Error("mark pod failed after restart", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	a.log.Warn("pod lost by an earlier agent marked Failed", "pod", pod.Namespace+"/"+pod.Name)
}

// handleDeletion kills a Pod being deleted and confirms the deletion (grace period 0) once it is down.
func (a *Agent) handleDeletion(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.runners[key]
	if r != nil && r.uid == pod.UID {
		if r.deleting {
			return
		}
		r.deleting = true
		grace := 30 * time.Second
		if g := pod.DeletionGracePeriodSeconds; g != nil && time.Duration(*g)*time.Second < grace {
			grace = time.Duration(*g) * time.Second
		}
		r.stop(errPodDeleted, grace)
		a.wg.Go(func() {
			<-r.done
			a.confirmDeletion(pod)
		})
		return
	}
	if r != nil {
		return // an older Pod of the same name is still stopping; it confirms itself
	}
	a.wg.Go(func() { a.confirmDeletion(pod) })
}

func (a *Agent) confirmDeletion(pod *corev1.Pod) {
	ctx, cancel := context.WithTimeout(a.baseCtx, 30*time.Second)
	defer cancel()
	err := a.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		a.log.Error("confirm pod deletion", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	removeVolumes(PodDir(a.opts.StateDir, pod.Namespace, pod.Name), pod.UID)
	a.log.Info("pod deleted", "pod", pod.Namespace+"/"+pod.Name)
}

// removeVolumes deletes a deleted Pod's emptyDirs and bookkeeping; its logs stay.
func removeVolumes(dir string, uid types.UID) {
	if m, err := readPodMeta(dir); err != nil || m.UID != string(uid) {
		return
	}
	for _, sub := range []string{"volumes", "termination", "run"} {
		_ = os.RemoveAll(filepath.Join(dir, sub))
	}
}

// updatePodStatus applies mutate to the latest status of the Pod and writes it, retrying conflicts.
func (a *Agent) updatePodStatus(ctx context.Context, ns, name string, uid types.UID, mutate func(*corev1.PodStatus)) error {
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 8, Cap: 5 * time.Second}
	var lastErr error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		pod, err := a.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			lastErr = err
			return false, nil
		}
		if pod.UID != uid {
			return true, nil
		}
		mutate(&pod.Status)
		_, err = a.cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return true, nil
		case apierrors.IsInvalid(err):
			return false, err
		}
		lastErr = err
		return false, nil
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("update status of pod %s/%s: %w (last error: %w)", ns, name, err, lastErr)
	}
	if err != nil {
		return fmt.Errorf("update status of pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// setCondition sets a Pod condition, keeping lastTransitionTime when the status does not change.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, s corev1.ConditionStatus, reason, msg string) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message = s, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{
		Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.Now(),
	})
}

// stoppedOr is nil when ctx was cancelled (a stop during start-up is a clean stop, as one before the first
// sync is), else err.
func stoppedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

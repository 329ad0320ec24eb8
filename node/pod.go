package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Why a Pod's processes are stopped before they end by themselves.
var (
	errPodDeleted    = errors.New("pod deleted")
	errAgentStopping = errors.New("node agent stopping")
	errDeadline      = errors.New("pod active deadline exceeded")
)

// podRunner runs one Pod from start to end and owns its status.
type podRunner struct {
	a   *Agent
	log *slog.Logger
	pod *corev1.Pod // as first seen; the spec of a Pod is immutable where it matters here
	uid types.UID
	dir string

	done     chan struct{} // closed when run returns
	deleting bool          // guarded by a.mu: a deletion confirmation is pending

	stopOnce  sync.Once
	stopCh    chan struct{}
	stopCause error         // set before stopCh is closed
	stopGrace time.Duration // SIGTERM → SIGKILL delay

	mu          sync.Mutex // guards the status fields below
	phase       corev1.PodPhase
	reason      string
	message     string
	initialized bool
	startTime   metav1.Time
	initStatus  []corev1.ContainerStatus
	ctrStatus   []corev1.ContainerStatus

	flushMu sync.Mutex // serialises status writes so a newer status is never overwritten by an older one

	vols map[string]volume
	objs *objects
}

func newPodRunner(a *Agent, pod *corev1.Pod) *podRunner {
	return &podRunner{
		a:      a,
		log:    a.log.With("pod", pod.Namespace+"/"+pod.Name),
		pod:    pod.DeepCopy(),
		uid:    pod.UID,
		dir:    PodDir(a.opts.StateDir, pod.Namespace, pod.Name),
		done:   make(chan struct{}),
		stopCh: make(chan struct{}),
	}
}

// stop asks the runner to kill the Pod's processes (first cause wins). It never blocks.
func (r *podRunner) stop(cause error, grace time.Duration) {
	r.stopOnce.Do(func() {
		r.stopCause = cause
		r.stopGrace = grace
		close(r.stopCh)
	})
}

func (r *podRunner) stopped() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// podGrace is the Pod's termination grace period, capped at 30s.
func (r *podRunner) podGrace() time.Duration {
	g := 30 * time.Second
	if s := r.pod.Spec.TerminationGracePeriodSeconds; s != nil && time.Duration(*s)*time.Second < g {
		g = time.Duration(*s) * time.Second
	}
	return g
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

// run is the Pod's life: volumes, init containers, sidecars, containers, final status.
func (r *podRunner) run() {
	defer close(r.done)
	r.log.Info("pod starting")
	if err := r.setupDir(); err != nil {
		r.log.Error("pod directory", "err", err)
	}
	defer func() {
		_ = os.WriteFile(filepath.Join(r.dir, podDoneFile), nil, 0o600)
	}()

	r.mu.Lock()
	r.phase = corev1.PodPending
	r.startTime = metav1.Now()
	if st := r.pod.Status.StartTime; st != nil {
		r.startTime = *st
	}
	initReason := "PodInitializing"
	if len(r.pod.Spec.InitContainers) == 0 {
		initReason = "ContainerCreating"
		r.initialized = true
	}
	for _, c := range r.pod.Spec.InitContainers {
		r.initStatus = append(r.initStatus, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: waiting(initReason), Started: new(false)})
	}
	for _, c := range r.pod.Spec.Containers {
		r.ctrStatus = append(r.ctrStatus, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: waiting(initReason), Started: new(false)})
	}
	r.mu.Unlock()
	r.flush()

	if d := r.pod.Spec.ActiveDeadlineSeconds; d != nil {
		left := time.Until(r.startTime.Add(time.Duration(*d) * time.Second))
		timer := time.AfterFunc(max(left, 0), func() { r.stop(errDeadline, r.podGrace()) })
		defer timer.Stop()
	}

	r.objs = newObjects(r.a, r.pod.Namespace)
	if !r.prepare() {
		r.finish()
		return
	}

	sidecarStop := make(chan struct{})
	var sidecars sync.WaitGroup
	ok := true
	for i := range r.pod.Spec.InitContainers {
		c := &r.pod.Spec.InitContainers[i]
		if r.stopped() {
			ok = false
			break
		}
		if isSidecar(c) {
			if !r.startSidecar(i, c, sidecarStop, &sidecars) {
				ok = false
				break
			}
			continue
		}
		term := r.runContainer(c, true, i, r.stopCh)
		if term == nil || term.ExitCode != 0 {
			ok = false
			break
		}
	}
	if ok && !r.stopped() {
		r.runRegular()
	}
	close(sidecarStop)
	sidecars.Wait()
	r.finish()
}

// runRegular starts the regular containers in order, as the kubelet does: a container's postStart exec
// hook runs to its end before the next container starts (a hook that fails kills its container), then
// waits for all of them to end.
func (r *podRunner) runRegular() {
	r.mu.Lock()
	r.initialized = true
	for i := range r.ctrStatus {
		r.ctrStatus[i].State = waiting("ContainerCreating")
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for i := range r.pod.Spec.Containers {
		c := &r.pod.Spec.Containers[i]
		hooked := make(chan struct{})
		wg.Go(func() { r.runHooked(c, i, hooked) })
		select {
		case <-hooked:
		case <-r.stopCh:
		}
	}
	wg.Wait()
}

// postStartTimeout bounds a postStart exec hook.
const postStartTimeout = 5 * time.Minute

// runHooked runs regular container idx to its end. hooked is closed once the next container may start:
// when its postStart hook has ended, at once when it has none, or when it could not start.
func (r *podRunner) runHooked(c *corev1.Container, idx int, hooked chan<- struct{}) {
	stopCh, ended := make(chan struct{}), make(chan struct{})
	var once sync.Once
	kill := func() { once.Do(func() { close(stopCh) }) }
	go func() {
		select {
		case <-r.stopCh:
			kill()
		case <-ended:
		}
	}()
	defer close(ended)
	p, term := r.launch(c, false, idx, stopCh)
	var hookErr error
	if p != nil && term == nil && c.Lifecycle != nil && c.Lifecycle.PostStart != nil && c.Lifecycle.PostStart.Exec != nil {
		if hookErr = r.execProbe(c, r.hookArgv(c, c.Lifecycle.PostStart.Exec.Command), postStartTimeout, stopCh); hookErr != nil {
			r.log.Warn("postStart hook failed: killing the container", "container", c.Name, "err", hookErr)
			kill()
		}
	}
	close(hooked)
	if p == nil || term != nil {
		return
	}
	r.wait(c, false, idx, p, stopCh)
	if hookErr != nil {
		r.setState(false, idx, func(s *corev1.ContainerStatus) {
			if t := s.State.Terminated; t != nil {
				t.Message = strings.TrimSpace(t.Message + "\nFailedPostStartHook: " + hookErr.Error())
			}
		})
	}
}

// hookArgv is what a hook's command runs as here, as containerArgv maps a container's command: the
// hookrun image's own commands run this binary, shells run the agent's shell.
func (r *podRunner) hookArgv(c *corev1.Container, command []string) []string {
	self := isSelfImage(r.a.opts.SelfImages, c.Image)
	argv := r.a.selfCommand(self, command)
	if !self {
		argv = shellArgv(argv, r.a.opts.Shell)
	}
	return argv
}

// setupDir prepares the Pod directory, replacing one left by an earlier Pod of the same name.
func (r *podRunner) setupDir() error {
	if m, err := readPodMeta(r.dir); err == nil && m.UID != string(r.uid) {
		if err := os.RemoveAll(r.dir); err != nil {
			return err
		}
	}
	for _, sub := range []string{"volumes", "termination", "run"} {
		if err := os.MkdirAll(filepath.Join(r.dir, sub), 0o700); err != nil {
			return err
		}
	}
	_ = os.Remove(filepath.Join(r.dir, podDoneFile))
	meta := podMeta{UID: string(r.uid)}
	for _, list := range [][]corev1.Container{r.pod.Spec.InitContainers, r.pod.Spec.Containers} {
		for _, c := range list {
			meta.Containers = append(meta.Containers, c.Name)
		}
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.dir, podMetaFile), data, 0o600)
}

// prepare sets up the volumes, retrying while their sources are missing (like the kubelet, which keeps the
// Pod in ContainerCreating). It returns false when the Pod must end.
func (r *podRunner) prepare() bool {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.a.baseCtx, 30*time.Second)
		vols, err := r.prepareVolumes(ctx, r.objs)
		cancel()
		if err == nil {
			r.vols = vols
			return true
		}
		if isPermanent(err) {
			r.log.Error("pod cannot run on this node", "err", err)
			r.mu.Lock()
			r.reason = ReasonUnsupported
			r.message = err.Error()
			r.mu.Unlock()
			return false
		}
		if attempt == 0 {
			r.log.Warn("volumes not ready; retrying", "err", err)
		}
		r.mu.Lock()
		r.message = "MountVolume: " + err.Error()
		r.mu.Unlock()
		if attempt == 0 {
			r.flush()
		}
		select {
		case <-r.stopCh:
			return false
		case <-time.After(2 * time.Second):
		}
	}
}

// startSidecar starts a native sidecar and keeps it running (restarting it with back-off) until
// sidecarStop or the Pod stops. It returns false if the sidecar cannot run at all.
func (r *podRunner) startSidecar(idx int, c *corev1.Container, sidecarStop chan struct{}, wg *sync.WaitGroup) bool {
	stopCh := make(chan struct{})
	go func() {
		select {
		case <-sidecarStop:
		case <-r.stopCh:
		}
		close(stopCh)
	}()
	first := make(chan bool, 1)
	wg.Go(func() {
		// first is answered once: true when the sidecar is started (its startup probe, if any, succeeded),
		// false when it cannot run or the Pod stopped before.
		answered := false
		answer := func(ok bool) {
			if !answered {
				answered = true
				first <- ok
			}
		}
		defer answer(false)
		backoff := time.Second
		for restarts := int32(0); ; restarts++ {
			p, term := r.launch(c, true, idx, stopCh)
			if restarts == 0 && term != nil {
				answer(false)
			}
			if p == nil && term == nil {
				return // stopped before it could start
			}
			if term == nil {
				if answered || c.StartupProbe == nil {
					answer(true)
					term = r.wait(c, true, idx, p, stopCh)
				} else {
					term = r.waitStartup(c, idx, p, stopCh, func() { answer(true) })
				}
			}
			if restarts == 0 && term.Reason == ReasonContainerRuntimeRequired {
				return
			}
			select {
			case <-stopCh:
				return
			default:
			}
			r.mu.Lock()
			s := &r.initStatus[idx]
			s.LastTerminationState = s.State
			s.RestartCount = restarts + 1
			s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.Name, r.pod.Name)}}
			s.Ready = false
			r.mu.Unlock()
			r.flush()
			select {
			case <-stopCh:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	})
	return <-first
}

// waitStartup runs a started sidecar's startup probe while waiting for the sidecar to end: the container
// counts as started only once the probe succeeded (started is then called, and the caller lets the next
// init container start); a probe that fails failureThreshold times kills the container, to be restarted.
func (r *podRunner) waitStartup(c *corev1.Container, idx int, p *process, stopCh <-chan struct{}, started func()) *corev1.ContainerStateTerminated {
	r.setState(true, idx, func(s *corev1.ContainerStatus) {
		s.Started = new(false)
		s.Ready = false
	})
	exited := make(chan struct{})
	kill := make(chan struct{})
	waitStop := make(chan struct{})
	go func() {
		select {
		case <-stopCh:
		case <-kill:
		case <-exited:
		}
		close(waitStop)
	}()
	termCh := make(chan *corev1.ContainerStateTerminated, 1)
	go func() {
		termCh <- r.wait(c, true, idx, p, waitStop)
		close(exited)
	}()
	switch r.startupProbe(c, exited, stopCh) {
	case probeSucceeded:
		r.setState(true, idx, func(s *corev1.ContainerStatus) {
			if s.State.Running != nil {
				s.Started = new(true)
				s.Ready = true
			}
		})
		started()
	case probeFailed:
		close(kill)
	case probeStopped:
	}
	return <-termCh
}

// runContainer runs a container to its end and records its terminated state (nil: never started).
func (r *podRunner) runContainer(c *corev1.Container, isInit bool, idx int, stopCh <-chan struct{}) *corev1.ContainerStateTerminated {
	p, term := r.launch(c, isInit, idx, stopCh)
	if p == nil && term == nil {
		return nil
	}
	if term == nil {
		term = r.wait(c, isInit, idx, p, stopCh)
	}
	return term
}

// status returns the status entry of a container; r.mu must be held.
func (r *podRunner) status(isInit bool, idx int) *corev1.ContainerStatus {
	if isInit {
		return &r.initStatus[idx]
	}
	return &r.ctrStatus[idx]
}

// finish computes the terminal phase and writes the final status.
func (r *podRunner) finish() {
	r.mu.Lock()
	cause := error(nil)
	if r.stopped() {
		cause = r.stopCause
	}
	failed := r.reason != ""
	for _, s := range r.initStatus {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 && s.RestartCount == 0 && !isSidecar(r.container(true, s.Name)) {
			failed = true
		}
	}
	allDone := len(r.ctrStatus) > 0
	for _, s := range r.ctrStatus {
		t := s.State.Terminated
		if t == nil {
			allDone = false
			continue
		}
		if t.ExitCode != 0 {
			failed = true
		}
	}
	switch {
	case errors.Is(cause, errDeadline):
		r.phase = corev1.PodFailed
		r.reason = ReasonDeadlineExceeded
		r.message = "Pod was active on the node longer than the specified deadline"
	case errors.Is(cause, errAgentStopping):
		r.phase = corev1.PodFailed
		r.reason = ReasonNodeAgentStopped
		r.message = "the hookrun node agent stopped while this Pod was running; its processes were killed"
	case failed || !allDone:
		r.phase = corev1.PodFailed
	default:
		r.phase = corev1.PodSucceeded
	}
	phase := r.phase
	r.mu.Unlock()
	r.flush()
	r.log.Info("pod finished", "phase", phase, "cause", cause)
}

func (r *podRunner) container(isInit bool, name string) *corev1.Container {
	list := r.pod.Spec.Containers
	if isInit {
		list = r.pod.Spec.InitContainers
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return &corev1.Container{}
}

// flush writes the runner's current view of the Pod status.
func (r *podRunner) flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	timeout := 20 * time.Second
	if r.a.stopping.Load() {
		timeout = 3 * time.Second // the API server may be stopping too; do not hold up shutdown
	}
	ctx, cancel := context.WithTimeout(r.a.baseCtx, timeout)
	defer cancel()
	err := r.a.updatePodStatus(ctx, r.pod.Namespace, r.pod.Name, r.uid, r.apply)
	if err != nil {
		r.log.Warn("write pod status", "err", err)
	}
}

// apply copies the runner's view into st, keeping conditions owned by others.
func (r *podRunner) apply(st *corev1.PodStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Phase = r.phase
	st.Reason = r.reason
	st.Message = r.message
	st.HostIP = localIP
	st.HostIPs = []corev1.HostIP{{IP: localIP}}
	st.PodIP = localIP
	st.PodIPs = []corev1.PodIP{{IP: localIP}}
	st.StartTime = new(r.startTime)
	st.InitContainerStatuses = slices.Clone(r.initStatus)
	for i := range st.InitContainerStatuses {
		st.InitContainerStatuses[i] = *r.initStatus[i].DeepCopy()
	}
	st.ContainerStatuses = make([]corev1.ContainerStatus, len(r.ctrStatus))
	for i := range r.ctrStatus {
		st.ContainerStatuses[i] = *r.ctrStatus[i].DeepCopy()
	}
	if st.QOSClass == "" {
		st.QOSClass = corev1.PodQOSBestEffort
	}

	terminal := r.phase == corev1.PodSucceeded || r.phase == corev1.PodFailed
	setCondition(st, corev1.PodScheduled, corev1.ConditionTrue, "", "")
	setCondition(st, corev1.PodReadyToStartContainers, condStatus(!terminal), "", "")
	if r.initialized {
		setCondition(st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
	} else {
		var pending []string
		for i, s := range r.initStatus {
			if t := s.State.Terminated; (t == nil || t.ExitCode != 0) && !(isSidecar(&r.pod.Spec.InitContainers[i]) && s.State.Running != nil) {
				pending = append(pending, s.Name)
			}
		}
		setCondition(st, corev1.PodInitialized, corev1.ConditionFalse, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pending, " ")))
	}
	ready := !terminal && len(r.ctrStatus) > 0
	var notReady []string
	for _, s := range r.ctrStatus {
		if !s.Ready {
			ready = false
			notReady = append(notReady, s.Name)
		}
	}
	reason, msg := "", ""
	switch {
	case terminal:
		reason = "PodCompleted"
		if r.phase == corev1.PodFailed {
			reason = "PodFailed"
		}
	case !ready:
		reason = "ContainersNotReady"
		msg = fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	}
	setCondition(st, corev1.ContainersReady, condStatus(ready), reason, msg)
	setCondition(st, corev1.PodReady, condStatus(ready), reason, msg)
}

func condStatus(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

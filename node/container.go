package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxTerminationMessage is the kubelet's per-container limit for termination messages.
const maxTerminationMessage = 4096

// process is a started container process.
type process struct {
	cmd      *exec.Cmd
	out      *logCopier // copies stdout and stderr into the container's log
	logPath  string
	errFile  string // written by the exec-in-mounts helper when it cannot start the command
	termFile string // host file behind terminationMessagePath
	started  metav1.Time
	waitErr  chan error
}

// passEnv are host variables a container inherits (an image would normally provide PATH and friends).
// Not the host's HOME, nor its proxy variables: a step is not the agent's user (that HOME holds its
// credentials: ~/.docker, ~/.git-credentials, ~/.kube, ~/.ssh), and a proxy is the Pod's own business
// (env in its spec), as on a kubelet.
var passEnv = []string{"LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// containerEnv resolves the environment of c: a small host base, then envFrom, then env (with $(VAR)
// expansion of values against the variables defined before them).
func (r *podRunner) containerEnv(ctx context.Context, c *corev1.Container) (*envList, error) {
	e := newEnvList()
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	e.set("PATH", path)
	// HOME, unless the Pod sets it (executor steps use /tekton/home): an empty directory of the Pod's own,
	// as an image's user would have, never the agent's.
	home, err := filepath.Abs(filepath.Join(r.dir, "home"))
	if err != nil {
		return nil, fmt.Errorf("pod HOME: %w", err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("pod HOME: %w", err)
	}
	e.set("HOME", home)
	hostname := r.pod.Name
	if r.pod.Spec.Hostname != "" {
		hostname = r.pod.Spec.Hostname
	}
	e.set("HOSTNAME", hostname)
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			e.set(k, v)
		}
	}
	for _, from := range c.EnvFrom {
		data := map[string]string{}
		switch {
		case from.ConfigMapRef != nil:
			cm, err := r.objs.configMap(ctx, from.ConfigMapRef.Name)
			if err != nil {
				return nil, err
			}
			if cm == nil {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
			}
			for k, v := range cm.Data {
				data[k] = v
			}
		case from.SecretRef != nil:
			s, err := r.objs.secret(ctx, from.SecretRef.Name)
			if err != nil {
				return nil, err
			}
			if s == nil {
				if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
			}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for _, k := range sortedKeys(data) {
			if k == "" || strings.Contains(k, "=") {
				continue // not a valid variable name; the kubelet skips it too
			}
			e.set(from.Prefix+k, data[k])
		}
	}
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			e.set(ev.Name, expand(ev.Value, e.get))
			continue
		}
		v, ok, err := r.envSource(ctx, c, ev.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", ev.Name, err)
		}
		if ok {
			e.set(ev.Name, v)
		}
	}
	return e, nil
}

// envSource resolves env[].valueFrom; ok is false for a missing optional source.
func (r *podRunner) envSource(ctx context.Context, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := r.fieldValue(src.FieldRef.FieldPath, false)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := r.resourceValue(src.ResourceFieldRef, c.Name)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		opt := ref.Optional != nil && *ref.Optional
		cm, err := r.objs.configMap(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			if opt {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !opt {
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return v, ok, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		opt := ref.Optional != nil && *ref.Optional
		s, err := r.objs.secret(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			if opt {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok && !opt {
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return string(v), ok, nil
	}
	return "", false, permanent("unsupported env valueFrom")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// setState records a container state and writes the Pod status.
func (r *podRunner) setState(isInit bool, idx int, f func(s *corev1.ContainerStatus)) {
	r.mu.Lock()
	f(r.status(isInit, idx))
	r.mu.Unlock()
	if !r.a.stopping.Load() { // when the agent stops, the Pod's final status carries this
		r.flush()
	}
}

// terminatedNow builds a terminated state for a container that could not start.
func terminatedNow(code int32, reason, msg string) *corev1.ContainerStateTerminated {
	now := metav1.Now()
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg, StartedAt: now, FinishedAt: now}
}

// launch starts a container's process. It returns (nil, nil) when the Pod stopped first, (nil, state) when
// the container cannot start (its terminated state is recorded), or the running process.
func (r *podRunner) launch(c *corev1.Container, isInit bool, idx int, stopCh <-chan struct{}) (*process, *corev1.ContainerStateTerminated) {
	fail := func(t *corev1.ContainerStateTerminated) (*process, *corev1.ContainerStateTerminated) {
		r.log.Warn("container cannot start", "container", c.Name, "reason", t.Reason, "message", t.Message)
		r.setState(isInit, idx, func(s *corev1.ContainerStatus) {
			s.State = corev1.ContainerState{Terminated: t}
			s.Ready = false
			s.Started = new(false)
		})
		return nil, t
	}
	env, t, stopped := r.waitEnv(c, isInit, idx, stopCh)
	if stopped {
		return nil, nil
	}
	if t != nil {
		return fail(t)
	}
	argv, t := r.containerArgv(c, env)
	if t != nil {
		return fail(t)
	}
	p, t, stopped := r.startProcess(c, argv, env, stopCh)
	if stopped {
		return nil, nil
	}
	if t != nil {
		return fail(t)
	}
	r.mu.Lock()
	if !isInit && r.phase == corev1.PodPending {
		r.phase = corev1.PodRunning
	}
	r.mu.Unlock()
	r.setState(isInit, idx, func(s *corev1.ContainerStatus) {
		s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: p.started}}
		s.ContainerID = fmt.Sprintf("hookrun://%s/%d", r.uid, p.cmd.Process.Pid)
		s.Ready = true
		s.Started = new(true)
	})
	return p, nil
}

// waitEnv resolves a container's environment, retried while Secrets/ConfigMaps are missing (like the
// kubelet's CreateContainerConfigError). It returns the terminated state of a permanent failure, or
// stopped when the Pod stopped first.
func (r *podRunner) waitEnv(c *corev1.Container, isInit bool, idx int, stopCh <-chan struct{}) (*envList, *corev1.ContainerStateTerminated, bool) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.a.baseCtx, 30*time.Second)
		e, err := r.containerEnv(ctx, c)
		cancel()
		if err == nil {
			return e, nil, false
		}
		if isPermanent(err) {
			return nil, terminatedNow(startErrorExitCode, ReasonUnsupported, err.Error()), false
		}
		if attempt == 0 {
			r.setState(isInit, idx, func(s *corev1.ContainerStatus) {
				s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason: "CreateContainerConfigError", Message: err.Error()}}
			})
		}
		select {
		case <-stopCh:
			return nil, nil, true
		case <-time.After(2 * time.Second):
		}
	}
}

// containerArgv is what the container's process runs: its command and args with $(VAR) expanded, an
// image's sh or ash run by the host shell (shell.go); a terminated state when it has nothing to run here.
func (r *podRunner) containerArgv(c *corev1.Container, env *envList) ([]string, *corev1.ContainerStateTerminated) {
	self := isSelfImage(r.a.opts.SelfImages, c.Image)
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = r.a.selfCommand(self, c.Command)
	case self:
		argv = []string{r.a.opts.SelfPath}
	default:
		// Official shell images have no entrypoint: their args are the command.
		cmd, ok := argsCommand(c.Image, c.Args)
		if !ok {
			return nil, terminatedNow(127, ReasonContainerRuntimeRequired, fmt.Sprintf(
				"container %q has no command: what it runs is its image's entrypoint (%s), which only a container "+
					"runtime knows. The hookrun node agent runs commands as local processes without images; run this "+
					"Pod on a real node (kubelet + container runtime)", c.Name, c.Image))
		}
		argv = cmd
	}
	if len(c.Command) > 0 || self {
		argv = append(argv, c.Args...)
	}
	for i := range argv {
		argv[i] = expand(argv[i], env.get)
	}
	if !self {
		argv = shellArgv(argv, r.a.opts.Shell)
	}
	if len(r.a.opts.Shell) > 0 {
		env.set(HostShellEnv, strings.Join(r.a.opts.Shell, " ")) // for the step wrapper's scripts
	}
	return argv, nil
}

// startProcess mounts the container's volumes, opens its log and starts argv. It returns the terminated
// state when it cannot, or stopped when the Pod stopped first.
func (r *podRunner) startProcess(c *corev1.Container, argv []string, env *envList, stopCh <-chan struct{}) (*process, *corev1.ContainerStateTerminated, bool) {
	startErr := func(msg string) (*process, *corev1.ContainerStateTerminated, bool) {
		return nil, terminatedNow(startErrorExitCode, "StartError", msg), false
	}
	mounts, termFile, err := r.containerMounts(c, env)
	if err != nil {
		return startErr(err.Error())
	}
	_ = os.Remove(exitPath(r.dir, c.Name))
	out, err := openContainerLog(r.a.opts.StateDir, r.pod.Namespace, r.pod.Name, c.Name)
	if err != nil {
		return startErr(fmt.Sprintf("open log: %v", err))
	}
	p := &process{out: out, logPath: LogPath(r.a.opts.StateDir, r.pod.Namespace, r.pod.Name, c.Name),
		termFile: termFile, waitErr: make(chan error, 1)}
	cmd, errFile, err := r.command(c.Name, c.WorkingDir, argv, env, mounts)
	if err != nil {
		out.abort()
		return startErr(err.Error())
	}
	p.errFile = errFile
	cmd.Stdin = nil
	cmd.Stdout = out.w
	cmd.Stderr = out.w
	cmd.SysProcAttr = sysProcAttr(r.a.mounts == MountNamespace)
	p.cmd = cmd
	select {
	case <-stopCh:
		out.abort()
		return nil, nil, true
	default:
	}
	if err := cmd.Start(); err != nil {
		out.abort()
		return startErr(err.Error())
	}
	out.start()
	p.started = metav1.Now()
	recordGroup(pidFile(r.dir, c.Name), cmd.Process.Pid)
	go func() { p.waitErr <- cmd.Wait() }()
	r.log.Info("container started", "container", c.Name, "pid", cmd.Process.Pid, "argv", argv)
	return p, nil, false
}

// command builds the process of a container (or of a probe run in it, runName naming its files): in the
// container's mount namespace when the agent has one, else with paths rewritten to the host. errFile, if
// set, is where the exec-in-mounts helper writes why it could not start the command.
func (r *podRunner) command(runName, workingDir string, argv []string, env *envList, mounts []bindMount) (*exec.Cmd, string, error) {
	if r.a.mounts == MountNamespace {
		errFile := filepath.Join(r.dir, "run", runName+".err")
		_ = os.Remove(errFile)
		specFile := filepath.Join(r.dir, "run", runName+".json")
		spec := &execSpec{Root: r.a.rootfsDir(), Mounts: mounts, Argv: argv, Env: env.environ(), Dir: workingDir, ErrFile: errFile}
		if err := writeSpec(specFile, spec); err != nil {
			return nil, "", err
		}
		cmd := exec.Command(r.a.opts.SelfPath, "node", ExecInMountsCommand, specFile)
		cmd.Env = []string{}
		return cmd, errFile, nil
	}
	argv = slices.Clone(argv)
	rw := newPathRewriter(mounts)
	for i := range argv {
		argv[i] = rw.rewrite(argv[i])
	}
	environ := env.environ()
	for i, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		environ[i] = k + "=" + rw.rewrite(v)
	}
	environ = append(environ, "HOOKRUN_MOUNTS="+rw.environ())
	dir := rw.hostPath(workingDir)
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("working directory: %w", err)
	}
	bin, err := lookPath(argv[0], envValue(environ, "PATH"))
	if err != nil {
		return nil, "", err
	}
	return &exec.Cmd{Path: bin, Args: argv, Env: environ, Dir: dir}, "", nil
}

// containerMounts lists the container's bind mounts (volumes, then its termination-message file).
func (r *podRunner) containerMounts(c *corev1.Container, env *envList) ([]bindMount, string, error) {
	mounts, err := r.volumeMounts(c, env)
	if err != nil {
		return nil, "", err
	}
	termFile := filepath.Join(r.dir, "termination", c.Name)
	if err := os.WriteFile(termFile, nil, 0o666); err != nil {
		return nil, "", fmt.Errorf("termination message file: %w", err)
	}
	termPath := c.TerminationMessagePath
	if termPath == "" {
		termPath = corev1.TerminationMessagePathDefault
	}
	mounts = append(mounts, bindMount{Source: termFile, Target: filepath.Clean(termPath)})
	return mounts, termFile, nil
}

// volumeMounts lists the container's volume bind mounts, sorted.
func (r *podRunner) volumeMounts(c *corev1.Container, env *envList) ([]bindMount, error) {
	var mounts []bindMount
	for _, vm := range c.VolumeMounts {
		vol, ok := r.vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no such volume", vm.Name)
		}
		src := vol.path
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expand(vm.SubPathExpr, env.get)
		}
		if sub != "" {
			clean := filepath.Clean(sub)
			if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return nil, fmt.Errorf("volumeMount %q: subPath %q escapes the volume", vm.Name, sub)
			}
			src = filepath.Join(src, clean)
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, fmt.Errorf("volumeMount %q: %w", vm.Name, err)
				}
			}
		}
		if !filepath.IsAbs(vm.MountPath) {
			return nil, fmt.Errorf("volumeMount %q: mountPath %q is not absolute", vm.Name, vm.MountPath)
		}
		mounts = append(mounts, bindMount{Source: src, Target: filepath.Clean(vm.MountPath), ReadOnly: vm.ReadOnly || vol.readOnly})
	}
	sortMounts(mounts)
	return mounts, nil
}

// wait waits for the process (killing its group when stopCh closes) and records the terminated state.
func (r *podRunner) wait(c *corev1.Container, isInit bool, idx int, p *process, stopCh <-chan struct{}) *corev1.ContainerStateTerminated {
	pgid := p.cmd.Process.Pid
	var killed bool
	var waitErr error
	select {
	case waitErr = <-p.waitErr:
	case <-stopCh:
		killed = true
		grace := r.stopGrace
		if !r.stopped() {
			grace = r.podGrace() // a sidecar stopped at the end of the Pod
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case waitErr = <-p.waitErr:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-p.waitErr
		}
	}
	// What the container left behind dies with it, as when a container's PID 1 exits.
	killGroup(pgid, 5*time.Second)
	_ = os.Remove(pidFile(r.dir, c.Name))
	// The log is complete before the container is recorded as ended (followers stop at that mark).
	if err := p.out.finish(2 * time.Second); err != nil {
		r.log.Warn("container log", "container", c.Name, "err", err)
	}

	code := int32(0)
	if ps := p.cmd.ProcessState; ps != nil {
		code = int32(ps.ExitCode())
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int32(ws.Signal())
		}
	} else if waitErr != nil {
		code = startErrorExitCode
	}
	t := &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: p.started, FinishedAt: metav1.Now(),
		ContainerID: fmt.Sprintf("hookrun://%s/%d", r.uid, pgid)}
	startErr := ""
	if p.errFile != "" && code == startErrorExitCode {
		if b, err := os.ReadFile(p.errFile); err == nil && len(b) > 0 {
			startErr = string(b)
		}
	}
	switch {
	case startErr != "":
		t.Reason = "StartError"
		t.Message = truncate(startErr)
	case code == 0:
		t.Reason = "Completed"
	case killed && r.stopped() && errors.Is(r.stopCause, errDeadline):
		t.Reason = ReasonDeadlineExceeded
	case killed && r.stopped() && errors.Is(r.stopCause, errAgentStopping):
		t.Reason = ReasonNodeAgentStopped
	default:
		t.Reason = "Error"
	}
	if t.Message == "" {
		t.Message = r.terminationMessage(c, p, code)
	}
	writeExit(exitPath(r.dir, c.Name), t)
	r.log.Info("container ended", "container", c.Name, "exitCode", code, "reason", t.Reason)
	r.setState(isInit, idx, func(s *corev1.ContainerStatus) {
		s.State = corev1.ContainerState{Terminated: t}
		s.Ready = false
		s.Started = new(false)
	})
	return t
}

// terminationMessage reads the terminationMessagePath file (falling back to the log's tail on error when
// the policy says so), at most 4096 bytes like the kubelet.
func (r *podRunner) terminationMessage(c *corev1.Container, p *process, code int32) string {
	b, _ := readAtMost(p.termFile, maxTerminationMessage)
	if len(b) == 0 && code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		b = logTail(p.logPath, 80, 2048)
	}
	return string(b)
}

func readAtMost(file string, n int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// logTail returns the last lines of a log, at most maxBytes.
func logTail(file string, lines, maxBytes int) []byte {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(fi.Size()-int64(maxBytes), 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	b = bytes.TrimRight(b, "\n")
	parts := bytes.Split(b, []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return bytes.Join(parts, []byte("\n"))
}

func truncate(s string) string {
	if len(s) > maxTerminationMessage {
		return s[:maxTerminationMessage]
	}
	return s
}

// writeExit records a container's end next to its log (used by WriteLogs to stop following).
func writeExit(file string, t *corev1.ContainerStateTerminated) {
	data := fmt.Sprintf("{\"exitCode\":%d,\"reason\":%q,\"finishedAt\":%q}\n", t.ExitCode, t.Reason,
		t.FinishedAt.UTC().Format(time.RFC3339))
	_ = os.WriteFile(file, []byte(data), 0o644)
}

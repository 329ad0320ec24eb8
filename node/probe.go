package node

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// probeResult is how a startup probe ended.
type probeResult int

const (
	probeSucceeded probeResult = iota
	probeFailed                // failureThreshold reached: the container is to be restarted
	probeStopped               // the container exited or the Pod stopped first
)

// probeDefaults fills in the kubelet's defaults for a probe's timing.
func probeDefaults(pr *corev1.Probe) (initial, period, timeout time.Duration, failures int32) {
	initial = time.Duration(pr.InitialDelaySeconds) * time.Second
	period = 10 * time.Second
	if pr.PeriodSeconds > 0 {
		period = time.Duration(pr.PeriodSeconds) * time.Second
	}
	timeout = time.Second
	if pr.TimeoutSeconds > 0 {
		timeout = time.Duration(pr.TimeoutSeconds) * time.Second
	}
	failures = 3
	if pr.FailureThreshold > 0 {
		failures = pr.FailureThreshold
	}
	return initial, period, timeout, failures
}

// startupProbe runs c's exec startup probe until it succeeds, fails failureThreshold times, the container
// exits (exited closes) or stopCh closes. Like the kubelet, the next init container of the Pod starts only
// after a native sidecar's startup probe succeeded. Only exec probes run here (no container network); a
// probe of another kind counts as succeeded.
func (r *podRunner) startupProbe(c *corev1.Container, exited, stopCh <-chan struct{}) probeResult {
	pr := c.StartupProbe
	if pr == nil || pr.Exec == nil || len(pr.Exec.Command) == 0 {
		return probeSucceeded
	}
	initial, period, timeout, threshold := probeDefaults(pr)
	wait := func(d time.Duration) bool {
		select {
		case <-stopCh:
			return false
		case <-exited:
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(initial) {
		return probeStopped
	}
	for failures := int32(0); ; {
		err := r.execProbe(c, pr.Exec.Command, timeout, stopCh)
		if err == nil {
			return probeSucceeded
		}
		failures++
		r.log.Info("startup probe failed", "container", c.Name, "failures", failures, "err", err)
		if failures >= threshold {
			return probeFailed
		}
		if !wait(period) {
			return probeStopped
		}
	}
}

// execProbe runs a probe command in c's environment and mounts; nil means it exited 0 within timeout.
func (r *podRunner) execProbe(c *corev1.Container, command []string, timeout time.Duration, stopCh <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(r.a.baseCtx, 30*time.Second)
	env, err := r.containerEnv(ctx, c)
	cancel()
	if err != nil {
		return fmt.Errorf("probe environment: %w", err)
	}
	mounts, err := r.volumeMounts(c, env)
	if err != nil {
		return fmt.Errorf("probe mounts: %w", err)
	}
	argv := make([]string, len(command))
	for i, a := range command {
		argv[i] = expand(a, env.get)
	}
	cmd, _, err := r.command(c.Name+"-probe", c.WorkingDir, argv, env, mounts)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer devNull.Close()
	cmd.Stdout, cmd.Stderr = devNull, devNull
	cmd.SysProcAttr = sysProcAttr(r.a.mounts == MountNamespace)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pgid := cmd.Process.Pid
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("probe timed out after %s", timeout)
	case <-stopCh:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("stopped")
	}
	killGroup(pgid, 5*time.Second)
	if err != nil {
		return fmt.Errorf("probe %v: %w", command, err)
	}
	return nil
}

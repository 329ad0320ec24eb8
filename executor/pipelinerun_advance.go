package executor

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// Messages a cancelled TaskRun carries.
const (
	msgTaskRunCancelled = "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
	msgTaskRunTimedOut  = "TaskRun cancelled as the PipelineRun it belongs to has timed out."
	msgTaskRunRunFailed = "TaskRun cancelled as the PipelineRun it belongs to has failed."
)

// timeouts of a PipelineRun (0 = none).
func runTimeouts(pr *pipelinev1.PipelineRun) (pipeline, tasks, finally time.Duration) {
	pipeline = DefaultTimeout
	if t := pr.Spec.Timeouts; t != nil {
		if t.Pipeline != nil {
			pipeline = t.Pipeline.Duration
		}
		if t.Tasks != nil {
			tasks = t.Tasks.Duration
		}
		if t.Finally != nil {
			finally = t.Finally.Duration
		}
	}
	return pipeline, tasks, finally
}

// runClock is one reconcile's "now" and the deadlines at which the run must be looked at again.
type runClock struct {
	now  time.Time
	wake []time.Time
}

// passed records the deadline from+d (none when d <= 0) and reports whether it has passed.
func (c *runClock) passed(from time.Time, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	t := from.Add(d)
	c.wake = append(c.wake, t)
	return !c.now.Before(t)
}

// runMode is what the PipelineRun's spec.status and deadlines ask of this reconcile.
type runMode struct {
	hardCancel, gracefulCancel, gracefulStop         bool
	pipelineTimedOut, tasksTimedOut, finallyTimedOut bool
	pipelineTimeout, finallyTimeout                  time.Duration
	stopping                                         bool // a DAG task failed
}

func readRunMode(pr *pipelinev1.PipelineRun, clk *runClock) runMode {
	start := pr.Status.StartTime.Time
	pTimeout, tTimeout, fTimeout := runTimeouts(pr)
	m := runMode{
		hardCancel:      pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled,
		gracefulCancel:  pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelledRunFinally,
		gracefulStop:    pr.Spec.Status == pipelinev1.PipelineRunSpecStatusStoppedRunFinally,
		pipelineTimeout: pTimeout,
		finallyTimeout:  fTimeout,
	}
	m.pipelineTimedOut = clk.passed(start, pTimeout)
	m.tasksTimedOut = clk.passed(start, tTimeout)
	if pr.Status.FinallyStartTime != nil {
		m.finallyTimedOut = clk.passed(pr.Status.FinallyStartTime.Time, fTimeout)
	}
	return m
}

// dagSkipReason is why DAG tasks not started yet are skipped, or "" when they may still run.
func (m runMode) dagSkipReason() string {
	switch {
	case m.gracefulCancel:
		return SkipGracefullyCancel
	case m.gracefulStop:
		return SkipGracefullyStopped
	case m.tasksTimedOut:
		return SkipTasksTimeout
	case m.stopping:
		return SkipStopping
	}
	return ""
}

// advance schedules, skips, stops and finishes, and returns when to look again.
func (r *PipelineRunReconciler) advance(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState) (ctrl.Result, error) {
	clk := &runClock{now: r.opts.Now()}
	if ve := r.fillMatrices(pr, st); ve != nil {
		return ctrl.Result{}, r.failRun(ctx, pr, st, ve)
	}
	m := readRunMode(pr, clk)
	if m.hardCancel || m.pipelineTimedOut {
		return ctrl.Result{}, r.hardStop(ctx, pr, st, m)
	}
	for _, s := range st.dag {
		if s.failureCounts() {
			m.stopping = true
		}
	}
	if m.gracefulCancel || m.tasksTimedOut {
		msg := msgTaskRunCancelled
		if m.tasksTimedOut && !m.gracefulCancel {
			msg = msgTaskRunTimedOut
		}
		if err := r.cancelRunning(ctx, pr, st.dag, msg); err != nil {
			return ctrl.Result{}, err
		}
	}
	invalidRef, err := r.scheduleDAG(ctx, pr, st, m.dagSkipReason(), clk.now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if invalidRef != nil {
		return ctrl.Result{}, r.failRun(ctx, pr, st, invalidRef)
	}
	dagDone := st.dagDone()
	if dagDone && len(st.final) > 0 {
		ve, err := r.scheduleFinally(ctx, pr, st, &m, clk)
		if err != nil {
			return ctrl.Result{}, err
		}
		if ve != nil {
			return ctrl.Result{}, r.failRun(ctx, pr, st, ve)
		}
	}
	r.writeStatus(pr, st)
	return r.conclude(pr, st, m, dagDone, clk), nil
}

// hardStop cancels everything running, skips everything else and finishes the run now (cancel or
// pipeline timeout).
func (r *PipelineRunReconciler) hardStop(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, m runMode) error {
	reason, skipReason, trMsg := ReasonCancelled, SkipStopping, msgTaskRunCancelled
	msg := fmt.Sprintf("PipelineRun %q was cancelled", pr.Name)
	if !m.hardCancel {
		reason, skipReason, trMsg = ReasonPipelineRunTimeout, SkipPipelineTimeout, msgTaskRunTimedOut
		msg = fmt.Sprintf("PipelineRun %q failed to finish within %q", pr.Name, m.pipelineTimeout.String())
	}
	all := st.all()
	if err := r.cancelRunning(ctx, pr, all, trMsg); err != nil {
		return err
	}
	for _, s := range all {
		if !s.started() && s.skip == nil {
			s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: skipReason, WhenExpressions: s.pt.When}
		}
	}
	r.writeStatus(pr, st)
	r.finish(pr, corev1.ConditionFalse, reason, msg)
	return nil
}

// cancelRunning cancels the running TaskRuns (and CustomRuns) of list.
func (r *PipelineRunReconciler) cancelRunning(ctx context.Context, pr *pipelinev1.PipelineRun, list []*ptState, msg string) error {
	for _, s := range list {
		if s.custom {
			if s.running() {
				if err := r.cancelCustomRun(ctx, pr, s, msg); err != nil {
					return err
				}
			}
			continue
		}
		for _, ref := range s.liveRuns(pr.Name) {
			if err := r.cancelTaskRun(ctx, pr, ref, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// failRun ends the run with a validation error found while scheduling (an invalid result reference).
func (r *PipelineRunReconciler) failRun(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, ve *validationError) error {
	if err := r.cancelRunning(ctx, pr, st.all(), msgTaskRunRunFailed); err != nil {
		return err
	}
	r.writeStatus(pr, st)
	r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
	return nil
}

// scheduleDAG decides DAG tasks in declaration order until nothing changes: a task is decided once all
// its parents are done. It returns the validation problem when a task's result reference cannot be met.
func (r *PipelineRunReconciler) scheduleDAG(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, skipReason string, now time.Time) (*validationError, error) {
	for progress := true; progress; {
		progress = false
		for _, s := range st.dag {
			if s.mx != nil && s.mx.combos != nil && !s.mx.complete() {
				// A fan-out begun before: finished even when stopping, so the task can be done.
				if err := r.createMatrixRuns(ctx, pr, st, s, r.vars(pr, st), now); err != nil {
					return nil, err
				}
			}
			if s.started() || s.skip != nil {
				continue
			}
			if skipReason != "" {
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: skipReason, WhenExpressions: s.pt.When}
				progress = true
				continue
			}
			ready, parentSkipped := st.parentsDone(s)
			if !ready {
				continue
			}
			bad, err := r.decideDAGTask(ctx, pr, st, s, parentSkipped, now)
			if bad != nil || err != nil {
				// The run fails: nothing more is started (deciding s again would find the same problem).
				return bad, err
			}
			progress = true
		}
	}
	return nil, nil
}

// decideDAGTask skips or starts a DAG task whose parents are done.
func (r *PipelineRunReconciler) decideDAGTask(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, parentSkipped bool, now time.Time) (*validationError, error) {
	vars := r.vars(pr, st)
	if parentSkipped {
		s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipParentSkipped, WhenExpressions: s.pt.When}
		return nil, nil
	}
	if miss := missingResults(s.pt, vars); len(miss) > 0 {
		if ps := st.tasks[miss[0].Task]; ps.skip != nil {
			s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipMissingResults, WhenExpressions: s.pt.When}
			return nil, nil
		}
		return &validationError{reason: ReasonInvalidTaskResultReference, msg: fmt.Sprintf("Invalid task result reference: could not find result with name %s for task %s (used by pipeline task %q)", miss[0].Result, miss[0].Task, s.pt.Name)}, nil
	}
	when := substituteWhen(s.pt.When, vars)
	ok, err := whenAllows(when)
	if err != nil {
		return celProblem(pr, s, err), nil
	}
	if !ok {
		s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipWhen, WhenExpressions: when}
		return nil, nil
	}
	return r.startTask(ctx, pr, st, s, vars, now)
}

// startTask creates the TaskRun of a plain task (the CustomRun of a custom one), or fans a matrixed one out.
func (r *PipelineRunReconciler) startTask(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, vars subst.Vars, now time.Time) (*validationError, error) {
	switch {
	case s.custom:
		return nil, r.createCustomRun(ctx, pr, s, vars, now)
	case s.mx != nil:
		return r.startMatrix(ctx, pr, st, s, vars, now)
	}
	return nil, r.createTaskRun(ctx, pr, st, s, vars, now)
}

// scheduleFinally starts (or skips) the finally tasks once the DAG is done.
func (r *PipelineRunReconciler) scheduleFinally(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, m *runMode, clk *runClock) (*validationError, error) {
	if pr.Status.FinallyStartTime == nil {
		t := metav1.NewTime(clk.now)
		pr.Status.FinallyStartTime = &t
		if clk.passed(clk.now, m.finallyTimeout) {
			m.finallyTimedOut = true
		}
	}
	if m.finallyTimedOut {
		if err := r.cancelRunning(ctx, pr, st.final, msgTaskRunTimedOut); err != nil {
			return nil, err
		}
	}
	for _, s := range st.final {
		if s.mx != nil && s.mx.combos != nil && !s.mx.complete() {
			if err := r.createMatrixRuns(ctx, pr, st, s, r.vars(pr, st), clk.now); err != nil {
				return nil, err
			}
		}
	}
	vars := r.vars(pr, st)
	for _, s := range st.final {
		if s.started() || s.skip != nil {
			continue
		}
		when := substituteWhen(s.pt.When, vars)
		ok, err := whenAllows(when)
		switch {
		case m.finallyTimedOut:
			s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipFinallyTimeout, WhenExpressions: s.pt.When}
		case len(missingResults(s.pt, vars)) > 0:
			s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipMissingResults, WhenExpressions: s.pt.When}
		case err != nil:
			return celProblem(pr, s, err), nil
		case !ok:
			s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipWhen, WhenExpressions: when}
		default:
			if ve, err := r.startTask(ctx, pr, st, s, vars, clk.now); ve != nil || err != nil {
				return ve, err
			}
		}
	}
	return nil, nil
}

// taskCounts are the figures of the PipelineRun's condition message.
type taskCounts struct {
	succeeded, failed, cancelled, skipped, incomplete, skippedByTimeout, countedFailures int
}

func (c taskCounts) completed() int { return c.succeeded + c.failed + c.cancelled }

func (st *runState) counts() taskCounts {
	var c taskCounts
	for _, s := range st.all() {
		if s.failureCounts() {
			c.countedFailures++
		}
		switch {
		case s.skip != nil:
			c.skipped++
			if s.skip.Reason == SkipTasksTimeout || s.skip.Reason == SkipFinallyTimeout {
				c.skippedByTimeout++
			}
		case s.cancelled():
			c.cancelled++
		case s.failed():
			c.failed++
		case s.succeeded():
			c.succeeded++
		default:
			c.incomplete++
		}
	}
	return c
}

// conclude writes the run's condition: still running (with when to look again), or finished.
func (r *PipelineRunReconciler) conclude(pr *pipelinev1.PipelineRun, st *runState, m runMode, dagDone bool, clk *runClock) ctrl.Result {
	c := st.counts()
	if c.incomplete > 0 {
		reason := ReasonRunning
		switch {
		case m.gracefulCancel && dagDone:
			reason = ReasonCancelledRunningFinally
		case m.gracefulStop && dagDone:
			reason = ReasonStoppedRunningFinally
		case m.stopping && !dagDone:
			reason = ReasonStopping
		}
		setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, reason,
			fmt.Sprintf("Tasks Completed: %d (Failed: %d, Cancelled %d), Skipped: %d, Incomplete: %d", c.completed(), c.failed, c.cancelled, c.skipped, c.incomplete),
			metav1.NewTime(clk.now))
		return requeueAt(clk.now, clk.wake)
	}
	msg := fmt.Sprintf("Tasks Completed: %d (Failed: %d, Cancelled %d), Skipped: %d", c.completed(), c.failed, c.cancelled, c.skipped)
	r.writeResults(pr, st)
	switch {
	case c.countedFailures > 0 || c.skippedByTimeout > 0 || m.tasksTimedOut:
		r.finish(pr, corev1.ConditionFalse, ReasonFailed, msg)
	case m.gracefulCancel || m.gracefulStop:
		r.finish(pr, corev1.ConditionFalse, ReasonCancelled, fmt.Sprintf("PipelineRun %q was cancelled", pr.Name))
	case c.cancelled > 0:
		r.finish(pr, corev1.ConditionFalse, ReasonCancelled, msg)
	case c.skipped > 0:
		r.finish(pr, corev1.ConditionTrue, ReasonCompleted, msg)
	default:
		r.finish(pr, corev1.ConditionTrue, ReasonSucceeded, msg)
	}
	return ctrl.Result{}
}

func requeueAt(now time.Time, wake []time.Time) ctrl.Result {
	var next time.Time
	for _, t := range wake {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: next.Sub(now) + 50*time.Millisecond}
}

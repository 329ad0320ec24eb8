package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// PipelineRun condition reasons (Tekton's), plus Queued.
const (
	ReasonPipelineRunPending         = "PipelineRunPending"
	ReasonQueued                     = "Queued"
	ReasonCompleted                  = "Completed"
	ReasonCancelled                  = "Cancelled"
	ReasonPipelineRunTimeout         = "PipelineRunTimeout"
	ReasonPipelineValidationFailed   = "PipelineValidationFailed"
	ReasonCouldntGetPipeline         = "CouldntGetPipeline"
	ReasonInvalidTaskResultReference = "InvalidTaskResultReference"
	ReasonStopping                   = "PipelineRunStopping"
	ReasonCancelledRunningFinally    = "CancelledRunningFinally"
	ReasonStoppedRunningFinally      = "StoppedRunningFinally"
)

// Reasons a pipeline task is skipped (Tekton's texts, read by tkn and the Dashboard).
const (
	SkipWhen              = "When Expressions evaluated to false"
	SkipParentSkipped     = "Parent Tasks were skipped"
	SkipStopping          = "PipelineRun was stopping"
	SkipGracefullyCancel  = "PipelineRun was gracefully cancelled"
	SkipGracefullyStopped = "PipelineRun was gracefully stopped"
	SkipMissingResults    = "Results were missing"
	SkipPipelineTimeout   = "PipelineRun timeout has been reached"
	SkipTasksTimeout      = "PipelineRun Tasks timeout has been reached"
	SkipFinallyTimeout    = "PipelineRun Finally timeout has been reached"
)

// ownerIndex indexes TaskRuns by the name of the PipelineRun that controls them.
const ownerIndex = "hookrun.owner.pipelinerun"

// PipelineRunReconciler turns PipelineRuns into TaskRuns, following the Pipeline's graph.
type PipelineRunReconciler struct {
	client    client.Client
	apiReader client.Reader
	opts      Options
	log       *slog.Logger
	queue     *runQueue
}

func (r *PipelineRunReconciler) setup(mgr manager.Manager, copts controller.Options) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &pipelinev1.TaskRun{}, ownerIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "PipelineRun" {
			return []string{ref.Name}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index taskruns: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("pipelinerun").
		For(&pipelinev1.PipelineRun{}).
		Owns(&pipelinev1.TaskRun{}).
		WithOptions(copts)
	if r.queue.limit > 0 {
		// When a run ends (or any run changes), wake the oldest queued runs that now fit.
		b = b.Watches(&pipelinev1.PipelineRun{}, handler.EnqueueRequestsFromMapFunc(r.queuedToWake))
	}
	return b.Complete(r)
}

// Reconcile moves one PipelineRun forward.
func (r *PipelineRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pr pipelinev1.PipelineRun
	if err := r.client.Get(ctx, req.NamespacedName, &pr); err != nil {
		if apierrors.IsNotFound(err) {
			r.queue.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.opts.Namespace != "" && pr.Namespace != r.opts.Namespace {
		return ctrl.Result{}, nil
	}
	if err := ensureRunLabels(ctx, r.client, &pr); err != nil {
		return ctrl.Result{}, err
	}
	pr.Normalize()
	if runDone(&pr) {
		r.queue.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	before := pr.Status.DeepCopy()
	res, err := r.reconcile(ctx, &pr)
	if !equality.Semantic.DeepEqual(before, &pr.Status) {
		if uerr := r.client.Status().Update(ctx, &pr); uerr != nil {
			if apierrors.IsConflict(uerr) || apierrors.IsNotFound(uerr) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("update pipelinerun status: %w", uerr)
		}
		if runDone(&pr) {
			c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			r.log.Info("pipelinerun finished", "namespace", pr.Namespace, "pipelinerun", pr.Name, "reason", c.Reason, "message", c.Message)
		}
	}
	return res, err
}

func runDone(pr *pipelinev1.PipelineRun) bool {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

func (r *PipelineRunReconciler) now() metav1.Time { return metav1.NewTime(r.opts.Now()) }

func (r *PipelineRunReconciler) finish(pr *pipelinev1.PipelineRun, status corev1.ConditionStatus, reason, msg string) {
	now := r.now()
	setSucceeded(&pr.Status.Status, status, reason, msg, now)
	if pr.Status.StartTime == nil {
		pr.Status.StartTime = &now
	}
	pr.Status.CompletionTime = &now
}

func isCancelSpec(s string) bool {
	return s == pipelinev1.PipelineRunSpecStatusCancelled || s == pipelinev1.PipelineRunSpecStatusCancelledRunFinally ||
		s == pipelinev1.PipelineRunSpecStatusStoppedRunFinally
}

func (r *PipelineRunReconciler) reconcile(ctx context.Context, pr *pipelinev1.PipelineRun) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: pr.Namespace, Name: pr.Name}
	if pr.Status.StartTime == nil {
		switch {
		case pr.Spec.Status == pipelinev1.PipelineRunSpecStatusPending:
			setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonPipelineRunPending, fmt.Sprintf("PipelineRun %q is pending", pr.Name), r.now())
			return ctrl.Result{}, nil
		case isCancelSpec(pr.Spec.Status):
			r.finish(pr, corev1.ConditionFalse, ReasonCancelled, fmt.Sprintf("PipelineRun %q was cancelled", pr.Name))
			return ctrl.Result{}, nil
		}
		if ok, running, err := r.admit(ctx, pr); err != nil {
			return ctrl.Result{}, err
		} else if !ok {
			setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonQueued,
				fmt.Sprintf("Waiting to start: %d PipelineRuns running (--max-concurrent-runs=%d)", running, r.queue.limit), r.now())
			return ctrl.Result{}, nil
		}
	}
	if pr.Status.PipelineSpec == nil {
		spec, err := r.resolvePipeline(ctx, pr)
		if err == nil {
			err = r.validateRun(ctx, pr, spec)
		}
		if err != nil {
			var ve *validationError
			if errors.As(err, &ve) {
				r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
				r.queue.forget(key)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		pr.Status.PipelineSpec = spec
	}
	if pr.Status.StartTime == nil {
		now := r.now()
		pr.Status.StartTime = &now
		setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, ReasonRunning, "Tasks Completed: 0 (Failed: 0, Cancelled 0), Skipped: 0", now)
		if err := r.ensureClaims(ctx, pr); err != nil {
			var ve *validationError
			if errors.As(err, &ve) {
				r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
	}
	st, err := r.loadState(ctx, pr)
	if err != nil {
		return ctrl.Result{}, err
	}
	return r.advance(ctx, pr, st)
}

// resolvePipeline returns the PipelineRun's Pipeline spec, normalised.
func (r *PipelineRunReconciler) resolvePipeline(ctx context.Context, pr *pipelinev1.PipelineRun) (*pipelinev1.PipelineSpec, error) {
	if pr.Spec.PipelineSpec != nil {
		s := pr.Spec.PipelineSpec.DeepCopy()
		s.Normalize()
		return s, nil
	}
	ref := pr.Spec.PipelineRef
	switch {
	case ref == nil || (ref.Name == "" && ref.Resolver == "" && ref.Bundle == ""):
		return nil, invalid(ReasonPipelineValidationFailed, "PipelineRun needs spec.pipelineRef.name or spec.pipelineSpec")
	case ref.Bundle != "":
		return nil, invalid(ReasonCouldntGetPipeline, "spec.pipelineRef.bundle: OCI bundles are not supported by hookrun: apply the Pipeline to the namespace")
	case ref.Resolver != "":
		return nil, invalid(ReasonCouldntGetPipeline, "spec.pipelineRef.resolver: remote resolution (%s) is not supported by hookrun: apply the Pipeline to the namespace", ref.Resolver)
	}
	var p pipelinev1.Pipeline
	err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: pr.Namespace, Name: ref.Name}, &p)
	if apierrors.IsNotFound(err) {
		return nil, invalid(ReasonCouldntGetPipeline, "Pipeline %q not found in namespace %q (spec.pipelineRef.name)", ref.Name, pr.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("get pipeline %s: %w", ref.Name, err)
	}
	p.Normalize()
	return &p.Spec, nil
}

// getTask reads a Task through the cache, asking the API server once on a miss.
func (r *PipelineRunReconciler) getTask(ctx context.Context, ns, name string) (*pipelinev1.Task, error) {
	var t pipelinev1.Task
	if err := getFresh(ctx, r.client, r.apiReader, types.NamespacedName{Namespace: ns, Name: name}, &t); err != nil {
		return nil, err
	}
	t.Normalize()
	return &t, nil
}

// getFresh reads obj through the informer cache and, when the cache does not have it (it may lag an
// object created just before the run), once more from the API server.
func getFresh(ctx context.Context, cached, direct client.Reader, key types.NamespacedName, obj client.Object) error {
	err := cached.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = direct.Get(ctx, key, obj)
	}
	return err
}

// validateRun checks the graph, params, workspaces, resources and referenced Tasks before anything runs.
func (r *PipelineRunReconciler) validateRun(ctx context.Context, pr *pipelinev1.PipelineRun, spec *pipelinev1.PipelineSpec) error {
	if _, err := buildGraph(spec); err != nil {
		return err
	}
	if _, err := pipelineParams(pr, spec); err != nil {
		return err
	}
	bound := map[string]bool{}
	for _, w := range pr.Spec.Workspaces {
		bound[w.Name] = true
	}
	for i, w := range spec.Workspaces {
		if !w.Optional && !bound[w.Name] {
			return invalid(ReasonPipelineValidationFailed, "spec.workspaces: the Pipeline's workspace %q (spec.workspaces[%d] of the Pipeline) is not bound by the PipelineRun", w.Name, i)
		}
	}
	resources := map[string]bool{}
	for _, b := range pr.Spec.Resources {
		resources[b.Name] = true
	}
	for _, d := range spec.Resources {
		if !d.Optional && !resources[d.Name] {
			return invalid(ReasonPipelineValidationFailed, "spec.resources: the Pipeline's resource %q is not bound by the PipelineRun", d.Name)
		}
	}
	// Referenced Tasks must exist and declare the results others use.
	declared := map[string]map[string]bool{}
	for _, set := range []struct {
		field string
		list  []pipelinev1.PipelineTask
	}{{"spec.tasks", spec.Tasks}, {"spec.finally", spec.Finally}} {
		for i, pt := range set.list {
			var ts *pipelinev1.TaskSpec
			switch {
			case pt.TaskSpec != nil:
				ts = &pt.TaskSpec.TaskSpec
			case pt.TaskRef != nil:
				t, err := r.getTask(ctx, pr.Namespace, pt.TaskRef.Name)
				if apierrors.IsNotFound(err) {
					return invalid(ReasonCouldntGetTask, "Task %q not found in namespace %q (%s[%d].taskRef.name of the Pipeline)", pt.TaskRef.Name, pr.Namespace, set.field, i)
				}
				if err != nil {
					return fmt.Errorf("get task %s: %w", pt.TaskRef.Name, err)
				}
				ts = &t.Spec
			}
			if ts != nil {
				m := map[string]bool{}
				for _, res := range ts.Results {
					m[res.Name] = true
				}
				declared[pt.Name] = m
			}
		}
	}
	for _, set := range []struct {
		field string
		list  []pipelinev1.PipelineTask
	}{{"spec.tasks", spec.Tasks}, {"spec.finally", spec.Finally}} {
		for i := range set.list {
			refs, _ := pipelineTaskRefs(&set.list[i])
			for _, ref := range refs {
				if m, ok := declared[ref.Task]; ok && !m[ref.Result] {
					return invalid(ReasonPipelineValidationFailed, "%s[%d]: $(tasks.%s.results.%s): task %q declares no result %q", set.field, i, ref.Task, ref.Result, ref.Task, ref.Result)
				}
			}
		}
	}
	return nil
}

// pipelineParams resolves the PipelineRun's params against the Pipeline's declarations.
func pipelineParams(pr *pipelinev1.PipelineRun, spec *pipelinev1.PipelineSpec) (map[string]pipelinev1.ParamValue, error) {
	given := map[string]pipelinev1.ParamValue{}
	for _, p := range pr.Spec.Params {
		v := p.Value
		if v.Type == "" {
			v.Type = pipelinev1.ParamTypeString
		}
		given[p.Name] = v
	}
	out := map[string]pipelinev1.ParamValue{}
	var missing []string
	for _, ps := range spec.Params {
		v, ok := given[ps.Name]
		want := ps.EffectiveType()
		if !ok {
			if ps.Default == nil {
				missing = append(missing, ps.Name)
				continue
			}
			v = *ps.Default.DeepCopy()
			if v.Type == "" {
				v.Type = want
			}
		} else if want == pipelinev1.ParamTypeObject && ps.Default != nil && v.Type == pipelinev1.ParamTypeObject {
			merged := map[string]string{}
			for k, x := range ps.Default.ObjectVal {
				merged[k] = x
			}
			for k, x := range v.ObjectVal {
				merged[k] = x
			}
			v.ObjectVal = merged
		}
		if v.Type != want {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.params: param %q is declared %s by the Pipeline but the PipelineRun gives %s", ps.Name, want, v.Type)
		}
		if len(ps.Enum) > 0 && v.Type == pipelinev1.ParamTypeString && !contains(ps.Enum, v.StringVal) {
			return nil, invalid(ReasonPipelineValidationFailed, "spec.params: param %q value %q is not one of %q", ps.Name, v.StringVal, ps.Enum)
		}
		out[ps.Name] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, invalid(ReasonPipelineValidationFailed, "spec.params: PipelineRun missing parameters: %s", strings.Join(missing, ", "))
	}
	for name, v := range given {
		if _, ok := out[name]; !ok {
			out[name] = v
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// claimName is the PVC made for a volumeClaimTemplate workspace of a PipelineRun.
func claimName(pr *pipelinev1.PipelineRun, ws string) string { return childName(pr.Name, ws) }

// ensureClaims creates one PVC per volumeClaimTemplate workspace, owned by the PipelineRun.
func (r *PipelineRunReconciler) ensureClaims(ctx context.Context, pr *pipelinev1.PipelineRun) error {
	for _, b := range pr.Spec.Workspaces {
		if b.VolumeClaimTemplate == nil {
			continue
		}
		owner := metav1.OwnerReference{
			APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun", Name: pr.Name, UID: pr.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}
		if err := createClaim(ctx, r.client, b.VolumeClaimTemplate, pr.Namespace, claimName(pr, b.Name), owner); err != nil {
			return err
		}
	}
	return nil
}

// ptState is one pipeline task's state in a PipelineRun.
type ptState struct {
	pt      *pipelinev1.PipelineTask
	finally bool
	// tr is the TaskRun, if made and cached; known is true when it was made (even if not cached yet).
	tr    *pipelinev1.TaskRun
	known bool
	skip  *pipelinev1.SkippedTask
}

func (s *ptState) started() bool { return s.known || s.tr != nil }

func (s *ptState) cond() *pipelinev1.Condition {
	if s.tr == nil {
		return nil
	}
	return s.tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
}

func (s *ptState) done() bool {
	if s.skip != nil {
		return true
	}
	c := s.cond()
	return c != nil && c.Status != corev1.ConditionUnknown
}

func (s *ptState) succeeded() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionTrue
}

func (s *ptState) failed() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionFalse
}

func (s *ptState) cancelled() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionFalse && c.Reason == ReasonTaskRunCancelled
}

// failureCounts is a failure the PipelineRun must react to (not onError: continue).
func (s *ptState) failureCounts() bool {
	return s.failed() && !s.cancelled() && s.pt.OnError != "continue"
}

func (s *ptState) running() bool { return s.started() && !s.done() }

// runState is a PipelineRun's tasks.
type runState struct {
	spec   *pipelinev1.PipelineSpec
	graph  *pipelineGraph
	tasks  map[string]*ptState
	dag    []*ptState
	final  []*ptState
	params map[string]pipelinev1.ParamValue
}

func (r *PipelineRunReconciler) loadState(ctx context.Context, pr *pipelinev1.PipelineRun) (*runState, error) {
	spec := pr.Status.PipelineSpec
	g, err := buildGraph(spec)
	if err != nil {
		return nil, err
	}
	params, err := pipelineParams(pr, spec)
	if err != nil {
		return nil, err
	}
	st := &runState{spec: spec, graph: g, tasks: map[string]*ptState{}, params: params}
	for i := range spec.Tasks {
		s := &ptState{pt: &spec.Tasks[i]}
		st.tasks[s.pt.Name] = s
		st.dag = append(st.dag, s)
	}
	for i := range spec.Finally {
		s := &ptState{pt: &spec.Finally[i], finally: true}
		st.tasks[s.pt.Name] = s
		st.final = append(st.final, s)
	}
	var list pipelinev1.TaskRunList
	if err := r.client.List(ctx, &list, client.InNamespace(pr.Namespace), client.MatchingFields{ownerIndex: pr.Name}); err != nil {
		return nil, fmt.Errorf("list taskruns: %w", err)
	}
	for i := range list.Items {
		tr := &list.Items[i]
		if ref := metav1.GetControllerOf(tr); ref == nil || ref.UID != pr.UID {
			continue
		}
		if s := st.tasks[tr.Labels[LabelPipelineTask]]; s != nil {
			tr.Normalize()
			s.tr = tr
			s.known = true
		}
	}
	for _, c := range pr.Status.ChildReferences {
		if s := st.tasks[c.PipelineTaskName]; s != nil {
			s.known = true
		}
	}
	for _, sk := range pr.Status.SkippedTasks {
		if s := st.tasks[sk.Name]; s != nil && !s.started() {
			sk := sk
			s.skip = &sk
		}
	}
	return st, nil
}

// vars are the variables pipeline tasks may use: params, context, finished tasks' results and statuses.
func (r *PipelineRunReconciler) vars(pr *pipelinev1.PipelineRun, st *runState) subst.Vars {
	v := subst.Vars{}
	for name, p := range st.params {
		setParam(v, name, p)
	}
	v.SetString("context.pipelineRun.name", pr.Name)
	v.SetString("context.pipelineRun.namespace", pr.Namespace)
	v.SetString("context.pipelineRun.uid", string(pr.UID))
	pipelineName := pr.Name
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		pipelineName = pr.Spec.PipelineRef.Name
	}
	v.SetString("context.pipeline.name", pipelineName)
	bound := map[string]bool{}
	for _, w := range pr.Spec.Workspaces {
		bound[w.Name] = true
	}
	for _, w := range st.spec.Workspaces {
		v.SetString("workspaces."+w.Name+".bound", fmt.Sprint(bound[w.Name]))
	}
	agg := "Succeeded"
	for _, s := range st.dag {
		pre := "tasks." + s.pt.Name + "."
		switch {
		case s.skip != nil:
			v.SetString(pre+"status", "None")
			if agg == "Succeeded" {
				agg = "Completed"
			}
		case s.succeeded():
			v.SetString(pre+"status", "Succeeded")
		case s.failed():
			v.SetString(pre+"status", "Failed")
			agg = "Failed"
		default:
			v.SetString(pre+"status", "None")
		}
		if c := s.cond(); c != nil {
			v.SetString(pre+"reason", c.Reason)
		}
		setResults(v, pre, s.tr)
	}
	v.SetString("tasks.status", agg)
	// Finally tasks' results are only for the Pipeline's own results ($(finally.T.results.R)).
	for _, s := range st.final {
		setResults(v, "finally."+s.pt.Name+".", s.tr)
	}
	return v
}

// setResults records a TaskRun's results as PREFIXresults.NAME (nothing when tr is nil).
func setResults(v subst.Vars, prefix string, tr *pipelinev1.TaskRun) {
	if tr == nil {
		return
	}
	for _, res := range tr.Status.Results {
		key := prefix + "results." + res.Name
		switch res.Value.Type {
		case pipelinev1.ParamTypeArray:
			v.Set(key, subst.Arr(res.Value.ArrayVal))
		case pipelinev1.ParamTypeObject:
			v.Set(key, subst.Obj(res.Value.ObjectVal))
		default:
			v.SetString(key, res.Value.StringVal)
		}
	}
}

// missingResults returns the result references of pt that cannot be resolved yet.
func missingResults(pt *pipelinev1.PipelineTask, v subst.Vars) []resultRef {
	refs, _ := pipelineTaskRefs(pt)
	var out []resultRef
	for _, ref := range refs {
		if _, ok := v.Lookup("tasks." + ref.Task + ".results." + ref.Result); !ok {
			out = append(out, ref)
		}
	}
	return out
}

func substituteParamValue(p pipelinev1.ParamValue, v subst.Resolver) pipelinev1.ParamValue {
	switch p.Type {
	case pipelinev1.ParamTypeArray:
		return pipelinev1.ParamValue{Type: p.Type, ArrayVal: subst.Strings(p.ArrayVal, v)}
	case pipelinev1.ParamTypeObject:
		o := map[string]string{}
		for k, x := range p.ObjectVal {
			o[k] = subst.String(x, v)
		}
		return pipelinev1.ParamValue{Type: p.Type, ObjectVal: o}
	}
	// A string that is exactly one array/object reference becomes that array/object.
	s := p.StringVal
	if strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1 {
		if val, ok := v.Lookup(s[2 : len(s)-1]); ok {
			switch val.Kind {
			case subst.KindArray:
				return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: val.Arr}
			case subst.KindObject:
				return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeObject, ObjectVal: val.Obj}
			}
		}
	}
	return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeString, StringVal: subst.String(s, v)}
}

func substituteWhen(list pipelinev1.WhenExpressions, v subst.Resolver) pipelinev1.WhenExpressions {
	if list == nil {
		return nil
	}
	out := make(pipelinev1.WhenExpressions, len(list))
	for i, w := range list {
		out[i] = pipelinev1.WhenExpression{Input: subst.String(w.Input, v), Operator: w.Operator, Values: subst.Strings(w.Values, v)}
	}
	return out
}

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

// advance schedules, skips, stops and finishes, and returns when to look again.
func (r *PipelineRunReconciler) advance(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState) (ctrl.Result, error) {
	now := r.opts.Now()
	start := pr.Status.StartTime.Time
	pTimeout, tTimeout, fTimeout := runTimeouts(pr)
	var wake []time.Time
	deadline := func(from time.Time, d time.Duration) (time.Time, bool) {
		if d <= 0 {
			return time.Time{}, false
		}
		t := from.Add(d)
		wake = append(wake, t)
		return t, !now.Before(t)
	}
	_, pipelineTimedOut := deadline(start, pTimeout)
	_, tasksTimedOut := deadline(start, tTimeout)
	finallyTimedOut := false
	if pr.Status.FinallyStartTime != nil {
		_, finallyTimedOut = deadline(pr.Status.FinallyStartTime.Time, fTimeout)
	}

	hardCancel := pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled
	gracefulCancel := pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelledRunFinally
	gracefulStop := pr.Spec.Status == pipelinev1.PipelineRunSpecStatusStoppedRunFinally

	// Hard stops: cancel everything running, skip everything else, finish now.
	if hardCancel || pipelineTimedOut {
		reason, skipReason, trMsg := ReasonCancelled, SkipStopping, "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
		msg := fmt.Sprintf("PipelineRun %q was cancelled", pr.Name)
		if !hardCancel {
			reason, skipReason, trMsg = ReasonPipelineRunTimeout, SkipPipelineTimeout, "TaskRun cancelled as the PipelineRun it belongs to has timed out."
			msg = fmt.Sprintf("PipelineRun %q failed to finish within %q", pr.Name, pTimeout.String())
		}
		for _, s := range append(append([]*ptState{}, st.dag...), st.final...) {
			if s.running() {
				if err := r.cancelTaskRun(ctx, pr, s, trMsg); err != nil {
					return ctrl.Result{}, err
				}
			} else if !s.started() && s.skip == nil {
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: skipReason, WhenExpressions: s.pt.When}
			}
		}
		r.writeStatus(pr, st)
		r.finish(pr, corev1.ConditionFalse, reason, msg)
		return ctrl.Result{}, nil
	}

	stopping := false
	for _, s := range st.dag {
		if s.failureCounts() {
			stopping = true
		}
	}
	dagSkipReason := ""
	switch {
	case gracefulCancel:
		dagSkipReason = SkipGracefullyCancel
	case gracefulStop:
		dagSkipReason = SkipGracefullyStopped
	case tasksTimedOut:
		dagSkipReason = SkipTasksTimeout
	case stopping:
		dagSkipReason = SkipStopping
	}
	if gracefulCancel || tasksTimedOut {
		msg := "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
		if tasksTimedOut && !gracefulCancel {
			msg = "TaskRun cancelled as the PipelineRun it belongs to has timed out."
		}
		for _, s := range st.dag {
			if s.running() {
				if err := r.cancelTaskRun(ctx, pr, s, msg); err != nil {
					return ctrl.Result{}, err
				}
			}
		}
	}

	vars := r.vars(pr, st)
	var invalidRef error
	// DAG tasks, in declaration order; a task is decided once all its parents are done.
	for progress := true; progress; {
		progress = false
		for _, s := range st.dag {
			if s.started() || s.skip != nil {
				continue
			}
			if dagSkipReason != "" {
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: dagSkipReason, WhenExpressions: s.pt.When}
				progress = true
				continue
			}
			ready, parentSkipped := true, false
			for _, p := range st.graph.parents[s.pt.Name] {
				ps := st.tasks[p]
				if !ps.done() {
					ready = false
					break
				}
				if ps.skip != nil && ps.skip.Reason != SkipWhen {
					parentSkipped = true
				}
			}
			if !ready {
				continue
			}
			vars = r.vars(pr, st)
			switch {
			case parentSkipped:
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipParentSkipped, WhenExpressions: s.pt.When}
			case len(missingResults(s.pt, vars)) > 0:
				miss := missingResults(s.pt, vars)[0]
				if ps := st.tasks[miss.Task]; ps.skip != nil {
					s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipMissingResults, WhenExpressions: s.pt.When}
				} else {
					invalidRef = invalid(ReasonInvalidTaskResultReference, "Invalid task result reference: could not find result with name %s for task %s (used by pipeline task %q)", miss.Result, miss.Task, s.pt.Name)
				}
			case !evalWhen(substituteWhen(s.pt.When, vars)):
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipWhen, WhenExpressions: substituteWhen(s.pt.When, vars)}
			default:
				if err := r.createTaskRun(ctx, pr, st, s, vars, now); err != nil {
					return ctrl.Result{}, err
				}
			}
			progress = true
		}
	}
	if invalidRef != nil {
		var ve *validationError
		errors.As(invalidRef, &ve)
		for _, s := range st.dag {
			if s.running() {
				if err := r.cancelTaskRun(ctx, pr, s, "TaskRun cancelled as the PipelineRun it belongs to has failed."); err != nil {
					return ctrl.Result{}, err
				}
			}
		}
		r.writeStatus(pr, st)
		r.finish(pr, corev1.ConditionFalse, ve.reason, ve.msg)
		return ctrl.Result{}, nil
	}

	dagDone := true
	for _, s := range st.dag {
		if !s.done() {
			dagDone = false
		}
	}
	if dagDone && len(st.final) > 0 {
		if pr.Status.FinallyStartTime == nil {
			t := metav1.NewTime(now)
			pr.Status.FinallyStartTime = &t
			if _, to := deadline(now, fTimeout); to {
				finallyTimedOut = true
			}
		}
		if finallyTimedOut {
			for _, s := range st.final {
				if s.running() {
					if err := r.cancelTaskRun(ctx, pr, s, "TaskRun cancelled as the PipelineRun it belongs to has timed out."); err != nil {
						return ctrl.Result{}, err
					}
				}
			}
		}
		vars = r.vars(pr, st)
		for _, s := range st.final {
			if s.started() || s.skip != nil {
				continue
			}
			switch {
			case finallyTimedOut:
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipFinallyTimeout, WhenExpressions: s.pt.When}
			case len(missingResults(s.pt, vars)) > 0:
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipMissingResults, WhenExpressions: s.pt.When}
			case !evalWhen(substituteWhen(s.pt.When, vars)):
				s.skip = &pipelinev1.SkippedTask{Name: s.pt.Name, Reason: SkipWhen, WhenExpressions: substituteWhen(s.pt.When, vars)}
			default:
				if err := r.createTaskRun(ctx, pr, st, s, vars, now); err != nil {
					return ctrl.Result{}, err
				}
			}
		}
	}

	r.writeStatus(pr, st)

	// Counts for the condition message.
	var succeeded, failed, cancelled, skipped, incomplete, skippedByTimeout int
	all := append(append([]*ptState{}, st.dag...), st.final...)
	for _, s := range all {
		switch {
		case s.skip != nil:
			skipped++
			if s.skip.Reason == SkipTasksTimeout || s.skip.Reason == SkipFinallyTimeout {
				skippedByTimeout++
			}
		case s.cancelled():
			cancelled++
		case s.failed():
			failed++
		case s.succeeded():
			succeeded++
		default:
			incomplete++
		}
	}
	completed := succeeded + failed + cancelled
	if incomplete > 0 {
		reason := ReasonRunning
		switch {
		case gracefulCancel && dagDone:
			reason = ReasonCancelledRunningFinally
		case gracefulStop && dagDone:
			reason = ReasonStoppedRunningFinally
		case stopping && !dagDone:
			reason = ReasonStopping
		}
		setSucceeded(&pr.Status.Status, corev1.ConditionUnknown, reason,
			fmt.Sprintf("Tasks Completed: %d (Failed: %d, Cancelled %d), Skipped: %d, Incomplete: %d", completed, failed, cancelled, skipped, incomplete),
			metav1.NewTime(now))
		return requeueAt(now, wake), nil
	}

	countedFailures := 0
	for _, s := range all {
		if s.failureCounts() {
			countedFailures++
		}
	}
	msg := fmt.Sprintf("Tasks Completed: %d (Failed: %d, Cancelled %d), Skipped: %d", completed, failed, cancelled, skipped)
	r.writeResults(pr, st)
	switch {
	case countedFailures > 0 || skippedByTimeout > 0 || tasksTimedOut:
		r.finish(pr, corev1.ConditionFalse, ReasonFailed, msg)
	case gracefulCancel || gracefulStop:
		r.finish(pr, corev1.ConditionFalse, ReasonCancelled, fmt.Sprintf("PipelineRun %q was cancelled", pr.Name))
	case cancelled > 0:
		r.finish(pr, corev1.ConditionFalse, ReasonCancelled, msg)
	case skipped > 0:
		r.finish(pr, corev1.ConditionTrue, ReasonCompleted, msg)
	default:
		r.finish(pr, corev1.ConditionTrue, ReasonSucceeded, msg)
	}
	return ctrl.Result{}, nil
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

// writeStatus records child references and skipped tasks, in pipeline order.
func (r *PipelineRunReconciler) writeStatus(pr *pipelinev1.PipelineRun, st *runState) {
	var refs []pipelinev1.ChildStatusReference
	var skipped []pipelinev1.SkippedTask
	for _, s := range append(append([]*ptState{}, st.dag...), st.final...) {
		switch {
		case s.started():
			refs = append(refs, pipelinev1.ChildStatusReference{
				APIVersion: pipelinev1.GroupVersion.String(), Kind: "TaskRun",
				Name: childName(pr.Name, s.pt.Name), DisplayName: s.pt.DisplayName, PipelineTaskName: s.pt.Name, WhenExpressions: s.pt.When,
			})
		case s.skip != nil:
			skipped = append(skipped, *s.skip)
		}
	}
	pr.Status.ChildReferences = refs
	pr.Status.SkippedTasks = skipped
}

// writeResults computes the Pipeline's results from its tasks' results; results that reference missing
// values are left out.
func (r *PipelineRunReconciler) writeResults(pr *pipelinev1.PipelineRun, st *runState) {
	if len(st.spec.Results) == 0 {
		return
	}
	v := r.vars(pr, st)
	var out []pipelinev1.PipelineRunResult
	for _, res := range st.spec.Results {
		missing := false
		for _, t := range paramTexts(res.Value) {
			for _, ref := range subst.Refs(t, "tasks", "finally") {
				if _, ok := v.Lookup(ref); !ok {
					missing = true
				}
			}
		}
		if missing {
			continue
		}
		out = append(out, pipelinev1.PipelineRunResult{Name: res.Name, Value: substituteParamValue(res.Value, v)})
	}
	pr.Status.Results = out
}

// cancelTaskRun asks a running TaskRun to stop (its reconciler stops the Pod and keeps it).
func (r *PipelineRunReconciler) cancelTaskRun(ctx context.Context, pr *pipelinev1.PipelineRun, s *ptState, msg string) error {
	tr := s.tr
	if tr == nil {
		tr = &pipelinev1.TaskRun{ObjectMeta: metav1.ObjectMeta{Namespace: pr.Namespace, Name: childName(pr.Name, s.pt.Name)}}
	}
	if tr.Spec.Status == pipelinev1.TaskRunSpecStatusCancelled {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"status":%q,"statusMessage":%q}}`, pipelinev1.TaskRunSpecStatusCancelled, msg))
	if err := r.client.Patch(ctx, tr.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cancel taskrun %s: %w", tr.Name, err)
	}
	return nil
}

// createTaskRun makes the TaskRun of a pipeline task (AlreadyExists means it was made before: adopted).
func (r *PipelineRunReconciler) createTaskRun(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState, s *ptState, vars subst.Vars, now time.Time) error {
	pt := s.pt
	name := childName(pr.Name, pt.Name)
	labels := map[string]string{}
	for k, v := range pr.Labels {
		labels[k] = v
	}
	pipelineName := pr.Name
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		pipelineName = pr.Spec.PipelineRef.Name
	}
	labels[LabelPipelineRun] = pr.Name
	labels[LabelPipeline] = pipelineName
	labels[LabelPipelineTask] = pt.Name
	labels[LabelMemberOf] = MemberOfTasks
	if s.finally {
		labels[LabelMemberOf] = MemberOfFinally
	}
	labels[LabelManagedBy] = ManagedByValue
	annotations := propagatedAnnotations(pr.Annotations)
	spec := pipelinev1.TaskRunSpec{Retries: pt.Retries}
	// $(context.pipelineTask.retries) is this pipeline task's own.
	ptVars := subst.Vars{}
	ptVars.Merge(vars)
	ptVars.SetString("context.pipelineTask.retries", fmt.Sprint(pt.Retries))
	vars = ptVars
	for _, p := range pt.Params {
		spec.Params = append(spec.Params, pipelinev1.Param{Name: p.Name, Value: substituteParamValue(p.Value, vars)})
	}
	switch {
	case pt.TaskRef != nil:
		ref := *pt.TaskRef
		spec.TaskRef = &ref
		labels[LabelTask] = ref.Name
	case pt.TaskSpec != nil:
		ts := pt.TaskSpec.TaskSpec.DeepCopy()
		spec.TaskSpec = ts
		for k, v := range pt.TaskSpec.Metadata.Labels {
			labels[k] = v
		}
		if len(pt.TaskSpec.Metadata.Annotations) > 0 {
			if annotations == nil {
				annotations = map[string]string{}
			}
			for k, v := range pt.TaskSpec.Metadata.Annotations {
				annotations[k] = v
			}
		}
		// Pipeline params an embedded spec uses without declaring them are passed along (Tekton's
		// propagated params); values reach the Task once, verbatim.
		given := map[string]bool{}
		for _, p := range spec.Params {
			given[p.Name] = true
		}
		for _, ps := range ts.Params {
			given[ps.Name] = true
		}
		for _, n := range sortedKeys(st.params) {
			if !given[n] {
				spec.Params = append(spec.Params, pipelinev1.Param{Name: n, Value: st.params[n]})
			}
		}
	}
	spec.ServiceAccountName = pr.Spec.TaskRunTemplate.ServiceAccountName
	spec.PodTemplate = pr.Spec.TaskRunTemplate.PodTemplate
	for _, trs := range pr.Spec.TaskRunSpecs {
		if trs.PipelineTaskName != pt.Name {
			continue
		}
		if trs.ServiceAccountName != "" {
			spec.ServiceAccountName = trs.ServiceAccountName
		}
		if trs.PodTemplate != nil {
			spec.PodTemplate = trs.PodTemplate
		}
		spec.ComputeResources = trs.ComputeResources
		if trs.Timeout != nil && pt.Timeout == nil {
			pt = pt.DeepCopy()
			pt.Timeout = trs.Timeout
		}
	}
	spec.Timeout = &metav1.Duration{Duration: r.taskRunTimeout(pr, pt, s.finally, now)}

	// Workspaces: the PipelineRun's bindings, under the Task's names, sub-paths joined.
	byName := map[string]pipelinev1.WorkspaceBinding{}
	for _, b := range pr.Spec.Workspaces {
		byName[b.Name] = b
	}
	ptWorkspaces := pt.Workspaces
	if pt.TaskSpec != nil {
		ptWorkspaces = propagatedWorkspaces(pt, pr.Spec.Workspaces)
	}
	for _, wb := range ptWorkspaces {
		pw := wb.Workspace
		if pw == "" {
			pw = wb.Name
		}
		b, ok := byName[pw]
		if !ok {
			continue // an optional Pipeline workspace left unbound
		}
		b = *b.DeepCopy()
		b.Name = wb.Name
		if b.VolumeClaimTemplate != nil {
			b.VolumeClaimTemplate = nil
			b.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(pr, pw)}
		}
		sub := subst.String(wb.SubPath, vars)
		if b.SubPath != "" && sub != "" {
			b.SubPath = path.Join(b.SubPath, sub)
		} else if sub != "" {
			b.SubPath = sub
		}
		spec.Workspaces = append(spec.Workspaces, b)
	}

	// v1beta1 PipelineResources.
	if pt.Resources != nil {
		res := map[string]pipelinev1.PipelineResourceBinding{}
		for _, b := range pr.Spec.Resources {
			res[b.Name] = b
		}
		trr := &pipelinev1.TaskRunResources{}
		for _, in := range pt.Resources.Inputs {
			if b, ok := res[in.Resource]; ok {
				b = *b.DeepCopy()
				b.Name = in.Name
				trr.Inputs = append(trr.Inputs, pipelinev1.TaskResourceBinding{PipelineResourceBinding: b})
			}
		}
		for _, out := range pt.Resources.Outputs {
			if b, ok := res[out.Resource]; ok {
				b = *b.DeepCopy()
				b.Name = out.Name
				trr.Outputs = append(trr.Outputs, pipelinev1.TaskResourceBinding{PipelineResourceBinding: b})
			}
		}
		spec.Resources = trr
	}

	tr := &pipelinev1.TaskRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pr.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun", Name: pr.Name, UID: pr.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: spec,
	}
	switch err := r.client.Create(ctx, tr); {
	case err == nil:
		s.tr = tr
	case apierrors.IsAlreadyExists(err):
		// Made by an earlier reconcile (or executor) whose cache copy is not here yet: adopt it.
	default:
		return fmt.Errorf("create taskrun %s: %w", name, err)
	}
	s.known = true
	return nil
}

// propagatedWorkspaces are an embedded-spec pipeline task's workspace bindings plus, under their own
// names, the PipelineRun's workspaces its spec uses ($(workspaces.NAME.…)) without binding or declaring them
// (Tekton's propagated workspaces).
func propagatedWorkspaces(pt *pipelinev1.PipelineTask, run []pipelinev1.WorkspaceBinding) []pipelinev1.WorkspacePipelineTaskBinding {
	out := append([]pipelinev1.WorkspacePipelineTaskBinding(nil), pt.Workspaces...)
	have := map[string]bool{}
	for _, wb := range pt.Workspaces {
		have[wb.Name] = true
	}
	for _, d := range pt.TaskSpec.Workspaces {
		have[d.Name] = true
	}
	raw, err := json.Marshal(pt.TaskSpec.TaskSpec)
	if err != nil {
		return out
	}
	for _, b := range run {
		if !have[b.Name] && bytes.Contains(raw, []byte("$(workspaces."+b.Name+".")) {
			have[b.Name] = true
			out = append(out, pipelinev1.WorkspacePipelineTaskBinding{Name: b.Name, Workspace: b.Name})
		}
	}
	return out
}

// taskRunTimeout is the timeout a new TaskRun gets: its own timeout, bounded by what is left of the
// pipeline's (and tasks'/finally's) timeout; 0 = none. A bound that comes from the PipelineRun's deadlines
// is rounded up to whole seconds plus one: the PipelineRun enforces its own deadline (cancelling with a
// clear reason) and the TaskRun's timeout is only the backstop.
func (r *PipelineRunReconciler) taskRunTimeout(pr *pipelinev1.PipelineRun, pt *pipelinev1.PipelineTask, finally bool, now time.Time) time.Duration {
	pTimeout, tTimeout, fTimeout := runTimeouts(pr)
	start := pr.Status.StartTime.Time
	var limits []time.Duration
	if pt.Timeout != nil && pt.Timeout.Duration > 0 {
		limits = append(limits, pt.Timeout.Duration)
	}
	backstop := func(left time.Duration) time.Duration {
		if left < 0 {
			left = 0
		}
		return (left + time.Second - 1).Truncate(time.Second) + time.Second
	}
	if pTimeout > 0 {
		limits = append(limits, backstop(start.Add(pTimeout).Sub(now)))
	}
	if !finally && tTimeout > 0 {
		limits = append(limits, backstop(start.Add(tTimeout).Sub(now)))
	}
	if finally && fTimeout > 0 && pr.Status.FinallyStartTime != nil {
		limits = append(limits, backstop(pr.Status.FinallyStartTime.Add(fTimeout).Sub(now)))
	}
	var t time.Duration
	for i, l := range limits {
		if i == 0 || l < t {
			t = l
		}
	}
	return t
}

// admit decides whether a not-yet-started run may start under --max-concurrent-runs.
func (r *PipelineRunReconciler) admit(ctx context.Context, pr *pipelinev1.PipelineRun) (bool, int, error) {
	if r.queue.limit <= 0 {
		return true, 0, nil
	}
	var list pipelinev1.PipelineRunList
	opts := []client.ListOption{}
	if r.opts.Namespace != "" {
		opts = append(opts, client.InNamespace(r.opts.Namespace))
	}
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return false, 0, fmt.Errorf("list pipelineruns: %w", err)
	}
	ok, running := r.queue.admit(pr, list.Items)
	return ok, running, nil
}

// queuedToWake maps any PipelineRun event to the queued runs that may start now.
func (r *PipelineRunReconciler) queuedToWake(ctx context.Context, _ client.Object) []reconcile.Request {
	var list pipelinev1.PipelineRunList
	opts := []client.ListOption{}
	if r.opts.Namespace != "" {
		opts = append(opts, client.InNamespace(r.opts.Namespace))
	}
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	return r.queue.wake(list.Items)
}

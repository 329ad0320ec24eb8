package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api/load"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/executor/subst"
	"github.com/hookrun/hookrun/resolve"
)

// Reasons of remote resolution (Tekton's).
const (
	ReasonPipelineRunResolutionFailed = "PipelineRunResolutionFailed"
	ReasonResolvingTaskRef            = "ResolvingTaskRef"
	ReasonResolvingPipelineRef        = "ResolvingPipelineRef"
)

// Backoff between attempts to reach an unreachable source: doubling from resolveBackoffMin to
// resolveBackoffMax, and never past the run's timeout.
const (
	resolveBackoffMin = time.Second
	resolveBackoffMax = time.Minute
)

// remoteResolver resolves taskRef/pipelineRef/step refs with a resolver (and ClusterTasks, and the legacy
// bundle field) for both reconcilers. A run's spec is resolved once: the reconcilers keep the result in
// status.taskSpec / status.pipelineSpec, so a restarted executor does not fetch it again.
type remoteResolver struct {
	res       *resolve.Resolvers
	apiReader client.Reader
	now       func() time.Time

	mu      sync.Mutex
	waiting map[string]retryState // by run UID (+ field): when the next attempt may go
}

type retryState struct {
	next  time.Time
	delay time.Duration
	msg   string // the pending message (kept while waiting, so the run's status does not change)
}

func newRemoteResolver(apiReader client.Reader, opts Options) *remoteResolver {
	return &remoteResolver{
		res: resolve.New(resolve.Options{
			Reader:         apiReader,
			TektonHubURL:   opts.HubURL,
			ArtifactHubURL: opts.ArtifactHubURL,
		}),
		apiReader: apiReader, now: opts.Now,
		waiting: map[string]retryState{},
	}
}

// retryLater is a transient resolution failure: the run stays pending (reason, msg) and is looked at again
// after the backoff.
type retryLater struct {
	reason, msg string
	after       time.Duration
}

func (e *retryLater) Error() string { return e.msg }

// wait records the pending condition and returns when to come back.
func (e *retryLater) wait(s *pipelinev1.Status, now metav1.Time) ctrl.Result {
	setSucceeded(s, corev1.ConditionUnknown, e.reason, e.msg, now)
	return ctrl.Result{RequeueAfter: e.after}
}

// checkRef checks a reference's resolver and params without fetching (the graph check of a Pipeline, before
// anything runs); params may still hold $(params…) references.
func checkRef(resolver string, ps pipelinev1.Params, field, reason string) error {
	if resolver == "" {
		return nil
	}
	params := make(map[string]string, len(ps))
	for _, p := range ps {
		params[p.Name] = p.Value.StringVal
	}
	if err := resolve.CheckParams(resolver, params); err != nil {
		return invalid(reason, "%s: %v", field, err)
	}
	return nil
}

// isRemoteTaskRef reports whether a taskRef is resolved here rather than read from the run's namespace.
func isRemoteTaskRef(ref *pipelinev1.TaskRef) bool {
	return ref != nil && (ref.Resolver != "" || ref.Bundle != "" || ref.Kind == "ClusterTask")
}

// run identifies the run a resolution is for: its backoff key, deadline and the reasons it reports.
type run struct {
	key        string
	namespace  string
	deadline   time.Time // zero: none
	failed     string    // reason of a permanent failure
	resolving  string    // reason while retrying
	kindOfThis string    // "TaskRun" / "PipelineRun", for messages
}

func taskRunOf(tr *pipelinev1.TaskRun) run {
	r := run{key: string(tr.UID), namespace: tr.Namespace, failed: ReasonResolutionFailed, resolving: ReasonResolvingTaskRef, kindOfThis: "TaskRun"}
	if t := taskRunTimeout(tr); t > 0 {
		r.deadline = tr.CreationTimestamp.Add(t)
	}
	return r
}

func pipelineRunOf(pr *pipelinev1.PipelineRun) run {
	r := run{key: string(pr.UID), namespace: pr.Namespace, failed: ReasonPipelineRunResolutionFailed, resolving: ReasonResolvingPipelineRef, kindOfThis: "PipelineRun"}
	if t, _, _ := runTimeouts(pr); t > 0 {
		r.deadline = pr.CreationTimestamp.Add(t)
	}
	return r
}

// task resolves a remote taskRef (resolver, bundle or ClusterTask) into a Task (name and normalised spec)
// and where it came from (nil for a ClusterTask, which is no remote source).
func (rr *remoteResolver) task(ctx context.Context, rn run, ref *pipelinev1.TaskRef, field string) (*pipelinev1.Task, *pipelinev1.RefSource, error) {
	if ref.Kind == "ClusterTask" && ref.Resolver == "" && ref.Bundle == "" {
		spec, err := rr.clusterTask(ctx, rn, ref.Name, field)
		if err != nil {
			return nil, nil, err
		}
		return &pipelinev1.Task{ObjectMeta: metav1.ObjectMeta{Name: ref.Name}, Spec: *spec}, nil, nil
	}
	req, err := taskRequest(ref, field, rn)
	if err != nil {
		return nil, nil, err
	}
	res, err := rr.fetch(ctx, rn, req, field)
	if err != nil {
		return nil, nil, err
	}
	obj, err := decodeResolved(res.Data, "Task", field, rn, req.Resolver)
	if err != nil {
		return nil, nil, err
	}
	t := obj.(*pipelinev1.Task)
	t.Normalize()
	if len(t.Spec.Steps) == 0 {
		return nil, nil, invalid(rn.failed, "%s: resolver %s: Task %q has no steps", field, req.Resolver, t.Name)
	}
	src := res.Source
	return t, &src, nil
}

// pipeline resolves a remote pipelineRef into a Pipeline (name and normalised spec) and its source.
func (rr *remoteResolver) pipeline(ctx context.Context, rn run, ref *pipelinev1.PipelineRef, field string) (*pipelinev1.Pipeline, *pipelinev1.RefSource, error) {
	req := resolve.Request{Resolver: ref.Resolver, Namespace: rn.namespace, Kind: resolve.KindPipeline}
	if ref.Bundle != "" {
		req.Resolver = resolve.Bundles
		req.Params = map[string]string{"bundle": ref.Bundle, "name": ref.Name, "kind": resolve.KindPipeline}
	} else {
		p, err := stringParams(ref.Params, field, rn)
		if err != nil {
			return nil, nil, err
		}
		req.Params = p
	}
	res, err := rr.fetch(ctx, rn, req, field)
	if err != nil {
		return nil, nil, err
	}
	obj, err := decodeResolved(res.Data, "Pipeline", field, rn, req.Resolver)
	if err != nil {
		return nil, nil, err
	}
	p := obj.(*pipelinev1.Pipeline)
	p.Spec.Normalize()
	src := res.Source
	return p, &src, nil
}

// stepAction resolves a step's ref with a resolver into a StepAction spec and its source.
func (rr *remoteResolver) stepAction(ctx context.Context, rn run, ref *pipelinev1.StepRef, field string) (*pipelinev1.StepActionSpec, *pipelinev1.RefSource, error) {
	p, err := stringParams(ref.Params, field, rn)
	if err != nil {
		return nil, nil, err
	}
	req := resolve.Request{Resolver: ref.Resolver, Params: p, Namespace: rn.namespace, Kind: resolve.KindStepAction}
	res, err := rr.fetch(ctx, rn, req, field)
	if err != nil {
		return nil, nil, err
	}
	obj, err := decodeResolved(res.Data, "StepAction", field, rn, req.Resolver)
	if err != nil {
		return nil, nil, err
	}
	src := res.Source
	return &obj.(*pipelinev1.StepAction).Spec, &src, nil
}

func taskRequest(ref *pipelinev1.TaskRef, field string, rn run) (resolve.Request, error) {
	req := resolve.Request{Resolver: ref.Resolver, Namespace: rn.namespace, Kind: resolve.KindTask}
	if ref.Bundle != "" {
		// The v1beta1 bundle field: the bundles resolver with the ref's name.
		req.Resolver = resolve.Bundles
		req.Params = map[string]string{"bundle": ref.Bundle, "name": ref.Name, "kind": resolve.KindTask}
		return req, nil
	}
	p, err := stringParams(ref.Params, field, rn)
	req.Params = p
	return req, err
}

// stringParams turns a ref's params into the resolver's string params.
func stringParams(ps pipelinev1.Params, field string, rn run) (map[string]string, error) {
	out := make(map[string]string, len(ps))
	for i, p := range ps {
		if p.Value.Type != "" && p.Value.Type != pipelinev1.ParamTypeString {
			return nil, invalid(rn.failed, "%s.params[%d]: resolver param %q must be a string", field, i, p.Name)
		}
		out[p.Name] = p.Value.StringVal
	}
	return out, nil
}

// clusterTask reads a ClusterTask (cluster-scoped) from the API server: once per run, and no informer on a
// kind few clusters still have.
func (rr *remoteResolver) clusterTask(ctx context.Context, rn run, name, field string) (*pipelinev1.TaskSpec, error) {
	var ct pipelinev1beta1.ClusterTask
	err := rr.apiReader.Get(ctx, types.NamespacedName{Name: name}, &ct)
	if apierrors.IsNotFound(err) {
		return nil, invalid(rn.failed, "ClusterTask %q not found (%s.name)", name, field)
	}
	if err != nil {
		return nil, fmt.Errorf("get clustertask %s: %w", name, err)
	}
	spec := ct.Spec.DeepCopy()
	spec.Normalize()
	return spec, nil
}

// fetch resolves req, turning a permanent failure into a validationError (the run fails) and a transient
// one into retryLater with backoff, until the run's deadline passes.
func (rr *remoteResolver) fetch(ctx context.Context, rn run, req resolve.Request, field string) (resolve.Result, error) {
	now := rr.now()
	key := rn.key + "\x00" + field
	pendingMsg := fmt.Sprintf("resolving %s with resolver %s", field, req.Resolver)
	rr.mu.Lock()
	st, waiting := rr.waiting[key]
	rr.mu.Unlock()
	if waiting && now.Before(st.next) {
		return resolve.Result{}, &retryLater{reason: rn.resolving, msg: st.msg, after: st.next.Sub(now)}
	}
	res, err := rr.res.Resolve(ctx, req)
	if err == nil {
		rr.forget(key)
		return res, nil
	}
	if !errors.Is(err, resolve.ErrTransient) {
		rr.forget(key)
		return resolve.Result{}, invalid(rn.failed, "%s: %v", field, err)
	}
	if !rn.deadline.IsZero() && !now.Before(rn.deadline) {
		rr.forget(key)
		return resolve.Result{}, invalid(rn.failed, "%s: %v (no more attempts: the %s's timeout has passed)", field, err, rn.kindOfThis)
	}
	st.delay = min(max(2*st.delay, resolveBackoffMin), resolveBackoffMax)
	st.next = now.Add(st.delay)
	if !rn.deadline.IsZero() && st.next.After(rn.deadline) {
		st.next = rn.deadline
	}
	st.msg = pendingMsg + ": " + err.Error() + "; retrying"
	rr.mu.Lock()
	rr.waiting[key] = st
	rr.gc(now)
	rr.mu.Unlock()
	return resolve.Result{}, &retryLater{reason: rn.resolving, msg: st.msg, after: st.next.Sub(now)}
}

func (rr *remoteResolver) forget(key string) {
	rr.mu.Lock()
	delete(rr.waiting, key)
	rr.mu.Unlock()
}

// gc drops retry records of runs that have not come back for long (deleted runs); rr.mu is held.
func (rr *remoteResolver) gc(now time.Time) {
	for k, st := range rr.waiting {
		if now.Sub(st.next) > time.Hour {
			delete(rr.waiting, k)
		}
	}
}

// decodeResolved decodes resolved bytes strictly as a tekton.dev v1 or v1beta1 object of kind want.
func decodeResolved(data []byte, want, field string, rn run, resolver string) (any, error) {
	obj, problems := load.Document(field, 1, data)
	if obj == nil {
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			msgs = append(msgs, p.Reason)
		}
		return nil, invalid(rn.failed, "%s: resolver %s: the resolved content is not a Kubernetes object: %s", field, resolver, strings.Join(msgs, "; "))
	}
	if obj.GVK.Group != pipelinev1.GroupVersion.Group || obj.GVK.Kind != want {
		return nil, invalid(rn.failed, "%s: resolver %s: resolved a %s %s, want a tekton.dev %s", field, resolver, obj.GVK.GroupVersion(), obj.GVK.Kind, want)
	}
	if len(problems) > 0 {
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			m := p.Reason
			if p.Field != "" && !strings.Contains(m, p.Field) {
				m = p.Field + ": " + m
			}
			msgs = append(msgs, m)
		}
		return nil, invalid(rn.failed, "%s: resolver %s: %s %q is not valid: %s", field, resolver, want, obj.Name, strings.Join(msgs, "; "))
	}
	return obj.Obj, nil
}

// resolveRemoteTask is resolveTask for a remote reference: it records the source in status.provenance and,
// as Tekton does, labels the run tekton.dev/task with the resolved Task's name.
func (r *TaskRunReconciler) resolveRemoteTask(ctx context.Context, tr *pipelinev1.TaskRun) (*pipelinev1.TaskSpec, error) {
	t, src, err := r.remote.task(ctx, taskRunOf(tr), tr.Spec.TaskRef, "spec.taskRef")
	if err != nil {
		return nil, err
	}
	if src != nil {
		tr.Status.Provenance = &pipelinev1.Provenance{RefSource: src}
		if err := labelRun(ctx, r.client, tr, LabelTask, t.Name); err != nil {
			return nil, err
		}
	}
	return &t.Spec, nil
}

// labelRun sets label key=value on a run being reconciled (a merge patch of that label alone) and keeps the
// in-memory object's status: only its labels and resourceVersion are taken from the answer, so the status
// update that follows is not a conflict.
func labelRun(ctx context.Context, c client.Client, run client.Object, key, value string) error {
	if value == "" || run.GetLabels()[key] == value {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	cp := run.DeepCopyObject().(client.Object)
	if err := c.Patch(ctx, cp, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("label %s %s=%s: %w", run.GetName(), key, value, err)
	}
	run.SetLabels(cp.GetLabels())
	run.SetResourceVersion(cp.GetResourceVersion())
	return nil
}

// resolveRemoteStepAction resolves a step's ref with a resolver (for resolveStepRef). The resolver's params
// may use the TaskRun's params (and an embedded spec's defaults), as in Tekton's examples.
func (r *TaskRunReconciler) resolveRemoteStepAction(ctx context.Context, tr *pipelinev1.TaskRun, ref *pipelinev1.StepRef, field string) (*pipelinev1.StepActionSpec, error) {
	v := subst.Vars{}
	if ts := tr.Spec.TaskSpec; ts != nil {
		for _, ps := range ts.Params {
			if ps.Default != nil {
				setParamVar(v, ps.Name, *ps.Default)
			}
		}
	}
	for _, p := range tr.Spec.Params {
		setParamVar(v, p.Name, p.Value)
	}
	c := *ref
	c.Params = substituteRefParams(ref.Params, v)
	spec, _, err := r.remote.stepAction(ctx, taskRunOf(tr), &c, field)
	return spec, err
}

// setParamVar makes $(params.name) resolve to pv.
func setParamVar(v subst.Vars, name string, pv pipelinev1.ParamValue) {
	switch pv.Type {
	case pipelinev1.ParamTypeArray:
		v.Set("params."+name, subst.Arr(pv.ArrayVal))
	case pipelinev1.ParamTypeObject:
		v.Set("params."+name, subst.Obj(pv.ObjectVal))
	default:
		v.SetString("params."+name, pv.StringVal)
	}
}

// resolveRemotePipeline is resolvePipeline for a remote reference: it records the source in
// status.provenance and labels the run tekton.dev/pipeline with the resolved Pipeline's name.
func (r *PipelineRunReconciler) resolveRemotePipeline(ctx context.Context, pr *pipelinev1.PipelineRun) (*pipelinev1.PipelineSpec, error) {
	p, src, err := r.remote.pipeline(ctx, pipelineRunOf(pr), pr.Spec.PipelineRef, "spec.pipelineRef")
	if err != nil {
		return nil, err
	}
	pr.Status.Provenance = &pipelinev1.Provenance{RefSource: src}
	if err := labelRun(ctx, r.client, pr, LabelPipeline, p.Name); err != nil {
		return nil, err
	}
	return &p.Spec, nil
}

// getTaskRef returns the Task a pipeline task's taskRef names: from the run's namespace, or resolved. A
// resolver's params may use the Pipeline's params and the run's context (substituted first, as they are
// in the TaskRun made for the task); a param using a task result can only be known later and is refused.
func (r *PipelineRunReconciler) getTaskRef(ctx context.Context, pr *pipelinev1.PipelineRun, spec *pipelinev1.PipelineSpec, ref *pipelinev1.TaskRef, field string) (*pipelinev1.Task, error) {
	if !isRemoteTaskRef(ref) {
		return r.getTask(ctx, pr.Namespace, ref.Name)
	}
	rn := pipelineRunOf(pr)
	if len(ref.Params) > 0 {
		params, err := pipelineParams(pr, spec)
		if err != nil {
			return nil, err
		}
		v := subst.Vars{}
		for n, pv := range params {
			setParamVar(v, n, pv)
		}
		v.SetString("context.pipelineRun.name", pr.Name)
		v.SetString("context.pipelineRun.namespace", pr.Namespace)
		v.SetString("context.pipelineRun.uid", string(pr.UID))
		c := *ref
		c.Params = substituteRefParams(ref.Params, v)
		for i, p := range c.Params {
			if strings.Contains(p.Value.StringVal, "$(tasks.") {
				return nil, invalid(rn.failed, "%s.params[%d]: resolver param %q uses a task result, which hookrun does not support in a reference", field, i, p.Name)
			}
		}
		ref = &c
	}
	t, _, err := r.remote.task(ctx, rn, ref, field)
	return t, err
}

// substituteRefParams replaces variables in a reference's resolver params.
func substituteRefParams(ps pipelinev1.Params, v subst.Resolver) pipelinev1.Params {
	if len(ps) == 0 {
		return ps
	}
	out := make(pipelinev1.Params, len(ps))
	for i, p := range ps {
		out[i] = pipelinev1.Param{Name: p.Name, Value: substituteParamValue(p.Value, v)}
	}
	return out
}

package executor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/executor/subst"
)

// ptState is one pipeline task's state in a PipelineRun.
type ptState struct {
	pt      *pipelinev1.PipelineTask
	field   string // spec.tasks[i] or spec.finally[i], for messages
	finally bool
	// tr is the TaskRun, if made and cached; known is true when it was made (even if not cached yet).
	tr    *pipelinev1.TaskRun
	known bool
	skip  *pipelinev1.SkippedTask
	// mx is the fan-out of a matrixed task (nil for a plain task, whose one TaskRun is tr).
	mx *matrixState
	// custom: the task runs a custom task, as the CustomRun cr (customrun.go) instead of a TaskRun.
	custom bool
	cr     *pipelinev1beta1.CustomRun
}

func (s *ptState) started() bool { return s.known || s.tr != nil || s.cr != nil }

// cond is a plain task's TaskRun (or CustomRun) condition (nil when not cached, and for matrixed tasks).
func (s *ptState) cond() *pipelinev1.Condition {
	if s.custom {
		return s.customCond()
	}
	if s.tr == nil {
		return nil
	}
	return s.tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
}

// conds are the conditions of the task's TaskRuns (nil entries for those not cached); all is false while a
// matrixed task's combinations are not known.
func (s *ptState) conds() (list []*pipelinev1.Condition, all bool) {
	if s.mx == nil {
		return []*pipelinev1.Condition{s.cond()}, true
	}
	if s.mx.combos == nil {
		return nil, false
	}
	list = make([]*pipelinev1.Condition, len(s.mx.runs))
	for i, tr := range s.mx.runs {
		if tr != nil {
			list[i] = tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		}
	}
	return list, true
}

// reason is $(tasks.T.reason), Tekton's rule: the reason of the first of the task's TaskRuns that has not
// succeeded, else the first's (a matrixed task with one failed combination under onError: continue is
// FailureIgnored). false when no TaskRun has a condition yet.
func (s *ptState) reason() (string, bool) {
	list, _ := s.conds()
	for _, c := range list {
		if c != nil && c.Status != corev1.ConditionTrue {
			return c.Reason, true
		}
	}
	if len(list) > 0 && list[0] != nil {
		return list[0].Reason, true
	}
	return "", false
}

func (s *ptState) done() bool {
	if s.skip != nil {
		return true
	}
	list, all := s.conds()
	if !all {
		return false
	}
	for _, c := range list {
		if c == nil || c.Status == corev1.ConditionUnknown {
			return false
		}
	}
	return true
}

// anyCond reports whether the task is done (not skipped) and one of its TaskRuns' conditions satisfies f.
func (s *ptState) anyCond(f func(*pipelinev1.Condition) bool) bool {
	if s.skip != nil || !s.done() {
		return false
	}
	list, _ := s.conds()
	for _, c := range list {
		if f(c) {
			return true
		}
	}
	return false
}

// succeeded: every TaskRun succeeded.
func (s *ptState) succeeded() bool {
	return s.skip == nil && s.done() && !s.anyCond(func(c *pipelinev1.Condition) bool { return c.Status != corev1.ConditionTrue })
}

// failed: done, and a TaskRun failed.
func (s *ptState) failed() bool {
	return s.anyCond(func(c *pipelinev1.Condition) bool { return c.Status == corev1.ConditionFalse })
}

func (s *ptState) cancelled() bool {
	return s.anyCond(isCancelledReason)
}

// failureCounts is a failure the PipelineRun must react to (not onError: continue).
func (s *ptState) failureCounts() bool {
	return s.failed() && !s.cancelled() && s.pt.OnError != "continue"
}

func (s *ptState) running() bool { return s.started() && !s.done() }

// runRef names one TaskRun of a task (tr is nil when it is not cached).
type runRef struct {
	name string
	tr   *pipelinev1.TaskRun
}

func finalCond(tr *pipelinev1.TaskRun) bool {
	if tr == nil {
		return false
	}
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

// liveRuns are the task's TaskRuns that were made and have not finished.
func (s *ptState) liveRuns(prName string) []runRef {
	if s.mx == nil {
		if s.running() {
			return []runRef{{name: childName(prName, s.pt.Name), tr: s.tr}}
		}
		return nil
	}
	var out []runRef
	if s.mx.combos == nil {
		names := map[string]bool{}
		for n := range s.mx.found {
			names[n] = true
		}
		for n := range s.mx.refs {
			names[n] = true
		}
		for _, n := range sortedKeys(names) {
			if tr := s.mx.found[n]; !finalCond(tr) {
				out = append(out, runRef{name: n, tr: tr})
			}
		}
		return out
	}
	for i, tr := range s.mx.runs {
		if s.mx.made[i] && !finalCond(tr) {
			out = append(out, runRef{name: matrixRunName(prName, s.pt.Name, i), tr: tr})
		}
	}
	return out
}

// runState is a PipelineRun's tasks.
type runState struct {
	spec   *pipelinev1.PipelineSpec
	graph  *pipelineGraph
	tasks  map[string]*ptState
	dag    []*ptState
	final  []*ptState
	params map[string]pipelinev1.ParamValue
}

func newPTState(pt *pipelinev1.PipelineTask, field string, finally bool) *ptState {
	s := &ptState{pt: pt, field: field, finally: finally, custom: pt.IsCustomTask()}
	if isMatrixed(pt) {
		s.mx = newMatrixState()
	}
	return s
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
		s := newPTState(&spec.Tasks[i], fmt.Sprintf("spec.tasks[%d]", i), false)
		st.tasks[s.pt.Name] = s
		st.dag = append(st.dag, s)
	}
	for i := range spec.Finally {
		s := newPTState(&spec.Finally[i], fmt.Sprintf("spec.finally[%d]", i), true)
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
			if s.mx != nil {
				s.mx.found[tr.Name] = tr
			} else {
				s.tr = tr
			}
			s.known = true
		}
	}
	if err := r.loadCustomRuns(ctx, pr, st); err != nil {
		return nil, err
	}
	for _, c := range pr.Status.ChildReferences {
		if s := st.tasks[c.PipelineTaskName]; s != nil {
			s.known = true
			if s.mx != nil {
				s.mx.refs[c.Name] = true
				s.mx.prev = append(s.mx.prev, c)
			}
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
		if r, ok := s.reason(); ok {
			v.SetString(pre+"reason", r)
		}
		setTaskResults(v, pre, s)
	}
	v.SetString("tasks.status", agg)
	// Finally tasks' results are only for the Pipeline's own results ($(finally.T.results.R)).
	for _, s := range st.final {
		setTaskResults(v, "finally."+s.pt.Name+".", s)
	}
	return v
}

// setTaskResults records a task's results (aggregated for a finished matrixed task) and, for a matrixed
// task, $(…matrix.length).
func setTaskResults(v subst.Vars, prefix string, s *ptState) {
	if s.custom {
		setCustomResults(v, prefix, s.cr)
		return
	}
	if s.mx == nil {
		setResults(v, prefix, s.tr)
		setArtifactVars(v, prefix, s.tr)
		return
	}
	if n, ok := s.matrixLength(); ok {
		v.SetString(prefix+"matrix.length", fmt.Sprint(n))
	}
	if s.skip == nil && s.done() {
		aggregateResults(v, prefix, s.mx.runs)
	}
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
		out[i] = pipelinev1.WhenExpression{Input: subst.String(w.Input, v), Operator: w.Operator, Values: subst.Strings(w.Values, v), CEL: subst.String(w.CEL, v)}
	}
	return out
}

// all is the run's DAG tasks then its finally tasks.
func (st *runState) all() []*ptState {
	return append(append([]*ptState{}, st.dag...), st.final...)
}

// dagDone reports whether every DAG task is done (finished or skipped).
func (st *runState) dagDone() bool {
	for _, s := range st.dag {
		if !s.done() {
			return false
		}
	}
	return true
}

// parentsDone reports whether all of s's parents are done, and whether one was skipped for a reason other
// than its when expressions (which skips s too).
func (st *runState) parentsDone(s *ptState) (ready, parentSkipped bool) {
	for _, p := range st.graph.parents[s.pt.Name] {
		ps := st.tasks[p]
		if !ps.done() {
			return false, false
		}
		if ps.skip != nil && ps.skip.Reason != SkipWhen {
			parentSkipped = true
		}
	}
	return true, parentSkipped
}
